//! Text rendering of reports and listings, and whole-file writes.

use std::io::Write;
use std::path::Path;

use lbqueue::{presets, Scenario, Variant};
use lbqueue_models::graph::Progress;
use lbqueue_models::reduction::Reduction;
use lbqueue_models::replay::TraceFile;
use lbqueue_models::step_model::{ASSIGN_CAN_RETURN, ASSIGN_SOLO_TERMINATES, ASSIGN_TERMINATES};
use lbqueue_models::trace::Trace;
use lbqueue_models::{PropertyReport, Report, Status};

/// `lbq list`.
pub fn list() {
    println!("Preset scenarios (lbq check --scenario NAME):");
    for s in presets::all() {
        let default = if s.name == presets::DEFAULT {
            " (default)"
        } else {
            ""
        };
        println!(
            "  {:<15} {}{default}; {}",
            s.name,
            s.description,
            haproxy_threads(&s)
        );
    }
    println!("\nAt reproduction scale (lbq shuttle / lbq stress; too large for lbq check):");
    for s in presets::reproduction() {
        println!(
            "  {:<15} {}; {}",
            s.name,
            s.description,
            haproxy_threads(&s)
        );
    }
    println!("\nVariants (lbq check --variant NAME):");
    for v in Variant::ALL {
        println!("  {:<15} {}", v.name(), v.summary());
    }
}

/// How many HAProxy threads a scenario stands for, and why: the free CLI actor is a
/// thread of its own (`--cli-thread N` makes it a task of thread N instead).
fn haproxy_threads(s: &lbqueue::Scenario) -> String {
    let n = s.haproxy_threads();
    match (s.cli.is_empty(), s.cli_thread) {
        (false, None) => format!("{n} HAProxy threads ({} + the CLI's)", s.threads),
        (false, Some(t)) => format!("{n} HAProxy thread(s), the CLI on T{}", t + 1),
        (true, _) => format!("{n} HAProxy thread(s)"),
    }
}

/// `lbq list --switches`: every switch, where it comes from, and the variants that set it.
pub fn list_switches() {
    println!("Behaviour switches (lbq check --with +NAME,-NAME; scenario files: behaviour = [\"+NAME\"]):");
    for sw in lbqueue::Switch::ALL {
        let set_by: Vec<&str> = Variant::ALL
            .iter()
            .filter(|v| sw.get(&v.behaviour()))
            .map(|v| v.name())
            .collect();
        let set_by = if set_by.is_empty() {
            "none".to_string()
        } else {
            set_by.join(", ")
        };
        println!("  {:<34} {}", sw.name(), sw.origin());
        println!("  {:<34} set in: {set_by}", "");
    }
}

/// One line naming what was checked and how far the search went.
pub fn header(report: &Report) -> String {
    let completeness = if report.complete {
        "complete".to_string()
    } else {
        "INCOMPLETE: a bound stopped the search; nothing below is verified".to_string()
    };
    let unique = match (report.reduction, report.reduction_note) {
        (Reduction::Streams, _) => "unique up to finished streams and renaming",
        (Reduction::Dead, None) => "unique up to finished streams",
        (Reduction::Dead, Some(_)) => {
            "unique up to finished streams (not renamed: queue timers name streams)"
        }
        (Reduction::Off, _) => "unique",
    };
    format!(
        "variant {}, scenario {} ({}): {} states, {} {unique}, depth {}, {:.2} s, {completeness}",
        report.variant,
        report.scenario,
        report.engine,
        report.states,
        report.unique_states,
        report.max_depth,
        report.seconds
    )
}

fn mark(status: Status) -> &'static str {
    match status {
        Status::Holds | Status::Reached => "ok",
        Status::Violated | Status::Unreached => "FAIL",
        Status::Incomplete => "??",
    }
}

/// The text report of `lbq check`: one line per property, then each counterexample.
pub fn print_report(report: &Report) {
    println!("lbq check: {}", header(report));
    for p in &report.properties {
        let status = serde_json::to_value(p.status).expect("serializes");
        let kind = serde_json::to_value(p.kind).expect("serializes");
        println!(
            "  {:<4} {:<38} {:<11} {}",
            mark(p.status),
            p.name,
            kind.as_str().unwrap_or_default(),
            status.as_str().unwrap_or_default()
        );
        if let Some(note) = &p.note {
            println!("       note: {note}");
        }
    }
    for p in &report.properties {
        if let (Status::Violated, Some(trace)) = (p.status, &p.trace) {
            println!("\n{} violated ({} steps):", p.name, trace.steps.len());
            print!("{trace}");
        }
    }
}

/// Writes `text` to `path` whole: a temporary file beside it, then a rename.
pub fn write_whole(path: &Path, text: &str) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| format!("{}: not a file name", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|_| f.sync_all()))
        .and_then(|_| std::fs::rename(&tmp, path));
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{}: cannot write: {e}", path.display())
    })
}

/// `--trace-out`: a violated property's counterexample, with what is needed to read and
/// replay it (`lbq replay`): `property` if given, else the first violated termination
/// property, else the first violated one.
pub fn write_trace_file(
    path: &Path,
    scenario: &Scenario,
    report: &Report,
    property: Option<&str>,
) -> Result<(), String> {
    if let Some(name) = property {
        if report.property(name).is_none() {
            let names: Vec<&str> = report.properties.iter().map(|p| p.name).collect();
            return Err(format!(
                "--property: expected one of {}, found {name:?}",
                names.join(", ")
            ));
        }
    }
    let violated = |p: &&PropertyReport| p.status == Status::Violated && p.trace.is_some();
    let termination = [ASSIGN_TERMINATES, ASSIGN_CAN_RETURN, ASSIGN_SOLO_TERMINATES];
    let chosen = match property {
        Some(name) => report
            .properties
            .iter()
            .filter(violated)
            .find(|p| p.name == name),
        None => termination
            .iter()
            .find_map(|t| {
                report
                    .properties
                    .iter()
                    .filter(violated)
                    .find(|p| p.name == *t)
            })
            .or_else(|| report.properties.iter().find(violated)),
    };
    let Some(p) = chosen else {
        return Ok(());
    };
    let trace = p.trace.clone().expect("filtered on a trace");
    let file = TraceFile::new(scenario, p.name, p.kind, trace);
    write_whole(
        path,
        &serde_json::to_string_pretty(&file).expect("serializes"),
    )
}

/// `--format mermaid|dot`: one diagram per violated property, each introduced by a
/// comment line in the diagram language.
pub fn print_diagrams(report: &Report, render: impl Fn(&Trace) -> String, comment: &str) {
    let mut any = false;
    for p in &report.properties {
        if let (Status::Violated, Some(trace)) = (p.status, &p.trace) {
            any = true;
            println!(
                "{comment} {} violated: variant {}, scenario {}",
                p.name, report.variant, report.scenario
            );
            print!("{}", render(trace));
        }
    }
    if !any {
        println!("{comment} no property violated: {}", header(report));
    }
}

/// The live progress line of a long check (stderr, terminals only).
pub fn progress_line(p: &Progress) {
    let secs = p.elapsed.as_secs_f64().max(1e-9);
    eprint!(
        "\r\x1b[2K  exploring: {} states, {} unique, {:.0} states/s, depth {}, {:.1} s",
        p.states,
        p.unique_states,
        p.states as f64 / secs,
        p.depth,
        secs
    );
}

/// The disk store's figures (stderr, after a `check --store disk`).
/// The figures of a check across timely-dataflow workers (process 0 only).
pub fn print_cluster_stats(
    c: &lbqueue_models::disk_check::Cluster,
    s: &lbqueue_models::disk_check::DiskStats,
) {
    let secs = s.explore_time.as_secs_f64().max(1e-9);
    eprintln!(
        "timely: {} process(es) x {} worker(s): {} states explored in {:.1} s ({:.0} states/s); {} non-progress edges, {} elimination rounds, {} residual states",
        c.processes,
        c.workers,
        s.states,
        secs,
        s.states as f64 / secs,
        s.non_progress_edges,
        s.elimination_passes,
        s.residual,
    );
    if s.disk_bytes > 0 {
        let mib = |b: f64| b / f64::from(1 << 20);
        eprintln!(
            "timely disk store: fingerprint tables {:.1} MiB; {:.1} MiB on disk (every worker of every process)",
            mib(s.table_bytes as f64),
            mib(s.disk_bytes as f64),
        );
    }
}

pub fn print_disk_stats(s: &lbqueue_models::disk_check::DiskStats) {
    let secs = s.explore_time.as_secs_f64().max(1e-9);
    let mib = |b: f64| b / f64::from(1 << 20);
    eprintln!(
        "disk store: {} states explored in {:.1} s ({:.0} states/s); fingerprint table {:.1} MiB ({:.1} bytes/state); {:.1} MiB on disk; {} non-progress edges, {} elimination passes, {} residual states{}",
        s.states,
        secs,
        s.states as f64 / secs,
        mib(s.table_bytes as f64),
        s.table_bytes as f64 / s.states.max(1) as f64,
        mib(s.disk_bytes as f64),
        s.non_progress_edges,
        s.elimination_passes,
        s.residual,
        if s.dir.exists() {
            format!("; kept in {}", s.dir.display())
        } else {
            String::new()
        }
    );
}
