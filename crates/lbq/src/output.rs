//! Text rendering of reports and listings, and whole-file writes.

use std::io::Write;
use std::path::Path;

use lbqueue::{presets, scenario::algo_name, Scenario, Variant};
use lbqueue_models::{Report, Status};
use serde_json::json;

/// `lbq list`.
pub fn list() {
    println!("Preset scenarios (lbq check --scenario NAME):");
    for s in presets::all() {
        let default = if s.name == presets::DEFAULT {
            " (default)"
        } else {
            ""
        };
        println!("  {:<12} {}{default}", s.name, s.description);
    }
    println!("\nVariants (lbq check --variant NAME):");
    for v in Variant::ALL {
        println!("  {:<12} {}", v.name(), v.summary());
    }
}

/// One line naming what was checked and how far the search went.
pub fn header(report: &Report) -> String {
    let completeness = if report.complete {
        "complete".to_string()
    } else {
        "INCOMPLETE: a bound stopped the search; nothing below is verified".to_string()
    };
    format!(
        "variant {}, scenario {} ({}): {} states, {} unique, depth {}, {:.2} s, {completeness}",
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

/// `--trace-out`: the first violated property's counterexample, with what is needed to
/// read and replay it.
pub fn write_trace_file(path: &Path, scenario: &Scenario, report: &Report) -> Result<(), String> {
    let Some(p) = report
        .properties
        .iter()
        .find(|p| p.status == Status::Violated && p.trace.is_some())
    else {
        return Ok(());
    };
    let doc = json!({
        "format": "lbq-trace",
        "version": 1,
        "model": report.engine,
        "variant": report.variant,
        "scenario": {
            "name": scenario.name,
            "algo": algo_name(scenario.algo),
            "toml": scenario.to_toml(),
        },
        "property": p.name,
        "trace": p.trace,
    });
    write_whole(
        path,
        &serde_json::to_string_pretty(&doc).expect("serializes"),
    )
}
