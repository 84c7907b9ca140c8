//! Command-line interface: argument parsing and the `check` and `list` commands.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, Subcommand};
use lbqueue::{presets, Scenario, Switch, Variant};
use lbqueue_models::check::check_with_progress;
use lbqueue_models::reduction::Reduction;
use lbqueue_models::Bounds;

use crate::output;

/// Model-check HAProxy's queue and load-balancing logic.
///
/// With no command: print the shortest loop of `livelock` (8d68717a4) and of `purge`
/// (53f52e67a, the seed commit's fix), then verify `fixed` exhaustively on every preset.
#[derive(Parser, Debug)]
#[command(name = "lbq", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check one scenario against one variant and report every property.
    Check(CheckArgs),
    /// List the preset scenarios and the variants (and with --switches the switches
    /// that `check --with` and a scenario's `behaviour` take).
    List(ListArgs),
    /// Measure the checker: time to the first counterexample, check time, states/s
    /// (also as a ratio to a two-phase-commit yardstick), unique states, peak memory.
    Bench(crate::bench::BenchArgs),
    /// Serve stateright's Explorer on 127.0.0.1 to step through the model in a browser,
    /// with the livelock verdicts (assign_can_return, assign_terminates) as properties.
    Explore(crate::explore::ExploreArgs),
    /// Re-run a saved counterexample (`check --trace-out`) against the current code,
    /// or with --shuttle a failing shuttle schedule (`lbq shuttle`).
    Replay(crate::replay_cmd::ReplayArgs),
    /// Run the threaded composition under shuttle's random or PCT scheduler, many
    /// iterations at reproduction scale, seed pinned; report each kind of failure with
    /// the iteration and time of its first occurrence.
    Shuttle(crate::threads_cmd::ShuttleArgs),
    /// Run the threaded composition on OS threads for a wall-clock budget, with a
    /// watchdog that reports a thread stuck in assign_server_and_queue.
    Stress(crate::threads_cmd::StressArgs),
    /// Run the seed commit's reproducer on a real HAProxy (Debian's, a tarball, your
    /// tree) and print each run's outcome beside the model's verdict.
    Reality(crate::reality_cmd::RealityArgs),
}

/// Output formats of `lbq check`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Text,
    Json,
    Mermaid,
    Dot,
}

#[derive(clap::Args, Debug)]
struct ListArgs {
    /// List every Behaviour switch with the HAProxy commit (or lbqueue idea) it stands
    /// for, and which variants set it.
    #[arg(long)]
    switches: bool,
}

#[derive(clap::Args, Debug)]
struct CheckArgs {
    /// The queue logic version: toctou, livelock, purge, ca275, upstream, fixed,
    /// bounded-retry, change-counter, ready-srv, master or master-fixed (`lbq list` says what each is;
    /// default: the scenario file's `variant`, else fixed).
    #[arg(long)]
    variant: Option<String>,
    /// Switches to turn on (+NAME) or off (-NAME) on top of the variant, comma
    /// separated, after the scenario file's own `behaviour` list: a candidate patch
    /// checked without recompiling (`lbq list --switches` names them).
    #[arg(long = "with", value_name = "SWITCHES", allow_hyphen_values = true)]
    with: Option<String>,
    /// The engine: `step` (default: one action per section, reduced, every property)
    /// or `actor` (stateright's actor system: threads, the CLI and the clients as
    /// actors, wake-ups as messages; 40–75 times the states, in-section atomics only,
    /// no reduction). Both give the same verdicts (tests/engines_agree.rs).
    #[arg(long, value_enum, default_value = "step")]
    model: crate::explore::ModelKind,
    /// A preset name (see `lbq list`) or a scenario file (TOML).
    #[arg(long, default_value = presets::DEFAULT)]
    scenario: String,
    /// Override the scenario's `atomics`: in-section (HAProxy's counter updates outside
    /// the queue locks run with the section before) or split (in steps of their own).
    /// With --random: the random scenarios' atomics, `both` (the default there) drawing
    /// in-section or split on a coin per scenario.
    #[arg(long, value_parser = ["split", "in-section", "both"])]
    atomics: Option<String>,
    /// Override the scenario's `cli_thread`: the CLI applet runs as a task of HAProxy
    /// thread N (1-based; its commands run between that thread's stream tasks), or
    /// `free` for a CLI actor of its own (another HAProxy thread).
    #[arg(long, value_name = "N|free")]
    cli_thread: Option<String>,
    /// Override the scenario's `abortonclose`: `on` (the default) lets a `shutdown
    /// sessions` kill take a stream out before it connects, as HAProxy before 51611a5b7
    /// does with `option abortonclose`; `off` is an HTTP backend without it, where such
    /// a stream connects first (the real reproducer's configuration).
    /// With --random: the random scenarios' `abortonclose`, `both` drawing it on a coin
    /// per scenario (default: on, no draw).
    #[arg(long, value_parser = ["on", "off", "both"])]
    abortonclose: Option<String>,
    /// State-space reduction: `streams` (default) forgets streams that ended and that
    /// nothing refers to, and stores one state per renaming of interchangeable streams
    /// (same thread, both arrived); `dead` only forgets; `off` stores every state.
    /// With `queue_timeout` streams are not renamed (the report says why). Verdicts and
    /// counterexample lengths are the same whichever is used.
    #[arg(long, default_value = "streams", value_parser = ["streams", "dead", "off"])]
    reduction: String,
    /// Print one JSON report on stdout instead of text (same as `--format json`).
    #[arg(long)]
    json: bool,
    /// Output: text (default), json, mermaid (sequence diagram of each counterexample)
    /// or dot (each lasso as a graph).
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Write a violated property's counterexample as JSON to this file (for `lbq
    /// replay`): the one named by --property, else the first violated termination
    /// property, else the first violated one. Nothing is written when none is violated.
    #[arg(long, value_name = "FILE")]
    trace_out: Option<PathBuf>,
    /// The property whose counterexample --trace-out writes.
    #[arg(long, value_name = "NAME", requires = "trace_out")]
    property: Option<String>,
    /// Stop after this many unique states (the report is then incomplete).
    #[arg(long, value_name = "N")]
    max_states: Option<usize>,
    /// Stop after this many seconds (the report is then incomplete).
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
    /// Stop when lbq's resident memory passes this many MiB (the report is then
    /// incomplete). Default: half of the machine's memory, so that a state explosion
    /// never takes the machine down.
    #[arg(long, value_name = "MIB")]
    max_memory: Option<usize>,
    /// Check N random small scenarios (lbqueue::random: 1-2 servers, maxconn 0-2, any
    /// algorithm, 1-3 threads, 1-5 streams, 0-6 CLI commands, atomics in-section or split
    /// as --atomics says, default both) instead of --scenario,
    /// each exhaustively within --max-states (default 200000) and --timeout; a violating
    /// one is written to lbq-failures/ with the command that reproduces it. Exit 1 if
    /// any violates a property, else 3 if any search was incomplete, else 0.
    #[arg(long, value_name = "N", conflicts_with_all = ["scenario", "trace_out", "json", "format"])]
    random: Option<usize>,
    /// The seed of --random (decimal or 0x-hex; default: drawn from the clock, printed).
    #[arg(long, value_name = "S", requires = "random", value_parser = crate::random_cmd::parse_seed)]
    seed: Option<u64>,
    /// Where the explored states live: `memory` (default) or `disk` (only 16-byte
    /// fingerprints in RAM; states, parents and the non-progress edges in files under
    /// --store-dir; same verdicts, counts and traces, for scenarios beyond RAM). With
    /// --processes/--workers, each worker keeps its states in files of its own.
    #[arg(long, default_value = "memory", value_parser = ["memory", "disk"], conflicts_with = "random")]
    store: String,
    /// The directory of the disk store's files (a run directory is made inside and
    /// removed at the end unless --keep-store).
    #[arg(long, value_name = "DIR", default_value = "target/lbq-store")]
    store_dir: PathBuf,
    /// Keep the disk store's run directory.
    #[arg(long)]
    keep_store: bool,
    /// Check across N processes (timely-dataflow; start `lbq check` once per process
    /// with the same arguments and its own --process). States are owned by
    /// fingerprint; process 0 prints the report, the others only errors.
    #[arg(long, value_name = "N", conflicts_with = "random")]
    processes: Option<usize>,
    /// This process's index among --processes, from 0.
    #[arg(long, value_name = "I", requires = "processes")]
    process: Option<usize>,
    /// Worker threads per process (timely-dataflow; also without --processes, to
    /// check with several threads in one process).
    #[arg(long, value_name = "W", conflicts_with = "random")]
    workers: Option<usize>,
    /// One `host:port` line per process, in process order (timely's hostfile); without
    /// it every process is on 127.0.0.1, process i at port --port-base + i.
    #[arg(long, value_name = "FILE", requires = "processes")]
    hostfile: Option<PathBuf>,
    /// First port on 127.0.0.1 when there is no --hostfile.
    #[arg(
        long,
        value_name = "PORT",
        requires = "processes",
        conflicts_with = "hostfile"
    )]
    port_base: Option<u16>,
    /// Seconds to wait for every process to connect before giving up (exit 2).
    #[arg(
        long,
        value_name = "SECS",
        requires = "processes",
        default_value_t = 60.0
    )]
    connect_timeout: f64,
}

impl Cli {
    /// Runs the command; `Err` is bad input (exit 2).
    pub fn run(self) -> Result<u8, String> {
        match self.command {
            None => Ok(crate::tour::run()),
            Some(Command::List(args)) => {
                if args.switches {
                    output::list_switches();
                } else {
                    output::list();
                }
                Ok(0)
            }
            Some(Command::Check(args)) => args.run(),
            Some(Command::Bench(args)) => crate::bench::run(args),
            Some(Command::Explore(args)) => crate::explore::run(args),
            Some(Command::Replay(args)) => crate::replay_cmd::run(args),
            Some(Command::Shuttle(args)) => crate::threads_cmd::shuttle(args),
            Some(Command::Stress(args)) => crate::threads_cmd::stress(args),
            Some(Command::Reality(args)) => crate::reality_cmd::run(args),
        }
    }
}

impl CheckArgs {
    fn run(self) -> Result<u8, String> {
        let mut scenario = load_scenario(&self.scenario)?;
        match self.atomics.as_deref() {
            Some("both") if self.random.is_none() => {
                return Err(
                    "--atomics both: only with --random (a scenario's atomics are \
                     in-section or split)"
                        .into(),
                )
            }
            Some(a) => scenario = scenario.with_split_atomics(a == "split"),
            None => {}
        }
        if let Some(t) = &self.cli_thread {
            scenario.cli_thread = parse_cli_thread(t, scenario.threads)?;
        }
        match self.abortonclose.as_deref() {
            Some("both") if self.random.is_none() => {
                return Err("--abortonclose both: only with --random (a scenario's \
                            abortonclose is on or off)"
                    .into())
            }
            Some(a) => scenario.abortonclose = a == "on",
            None => {}
        }
        if let Some(v) = &self.variant {
            scenario = scenario.with_variant(
                v.parse::<Variant>()
                    .map_err(|e| format!("--variant: {e}"))?,
            );
        }
        if let Some(with) = &self.with {
            scenario.changes.extend(parse_switches(with)?);
        }
        let timeout = match self.timeout {
            Some(t) if !(t.is_finite() && t > 0.0) => {
                return Err(format!(
                    "--timeout: expected a positive number of seconds, found {t}"
                ))
            }
            t => t.map(Duration::from_secs_f64),
        };
        if self.max_states == Some(0) {
            return Err("--max-states: expected a positive number of states, found 0".into());
        }
        if self.max_memory == Some(0) {
            return Err("--max-memory: expected a positive number of MiB, found 0".into());
        }
        let bounds = Bounds {
            max_states: self.max_states,
            timeout,
            max_memory: self.max_memory.map(|m| m << 20).or_else(half_of_memory),
            stop: Some(crate::interrupt::flag()),
        };
        if let Some(n) = self.random {
            if !scenario.changes.is_empty() {
                return Err(
                    "--with: not taken with --random (random scenarios run a variant as it is)"
                        .into(),
                );
            }
            let atomics = match self.atomics.as_deref() {
                Some(a) => a.parse().map_err(|e| format!("--atomics: {e}"))?,
                None => lbqueue::random::Atomics::Both,
            };
            let limits = lbqueue::random::Limits {
                atomics,
                abortonclose: match self.abortonclose.as_deref() {
                    Some("both") => None,
                    Some(a) => Some(a == "on"),
                    None => Some(true),
                },
                ..lbqueue::random::Limits::small(scenario.variant)
            };
            return crate::random_cmd::run_random(n, self.seed, limits, bounds);
        }
        let format = if self.json { Format::Json } else { self.format };
        let cluster = self.cluster()?;
        if self.model == crate::explore::ModelKind::Actor {
            if let Some(why) = lbqueue_models::actor_model::unsupported(&scenario) {
                return Err(format!("--model actor: {why}"));
            }
            if self.reduction != "streams" {
                return Err("--reduction: the actor model stores every state (leave --reduction out with --model actor)".into());
            }
            let report = lbqueue_models::actor_model::check_actor(&scenario, bounds);
            return print_check_report(
                format,
                &scenario,
                &report,
                self.trace_out.as_deref(),
                self.property.as_deref(),
            );
        }
        // A live line on stderr, only for people watching a terminal.
        let live = format == Format::Text && std::io::stderr().is_terminal();
        let reduction: Reduction = self
            .reduction
            .parse()
            .map_err(|e| format!("--reduction: {e}"))?;
        if let Some(cluster) = cluster {
            let disk = (self.store == "disk").then(|| lbqueue_models::disk_check::DiskOptions {
                dir: self.store_dir.clone(),
                keep: self.keep_store,
            });
            let Some((report, stats)) = lbqueue_models::disk_check::check_distributed(
                &scenario,
                bounds,
                reduction,
                &cluster,
                disk.as_ref(),
            )?
            else {
                // Not process 0: the report is process 0's to print.
                return Ok(0);
            };
            output::print_cluster_stats(&cluster, &stats);
            return print_check_report(
                format,
                &scenario,
                &report,
                self.trace_out.as_deref(),
                self.property.as_deref(),
            );
        }
        let report = if self.store == "disk" {
            let opts = lbqueue_models::disk_check::DiskOptions {
                dir: self.store_dir.clone(),
                keep: self.keep_store,
            };
            let mut quiet = |_: &lbqueue_models::graph::Progress| {};
            let progress: &mut dyn FnMut(&_) = if live {
                &mut output::progress_line
            } else {
                &mut quiet
            };
            let (report, stats) = lbqueue_models::disk_check::check_on_disk(
                &scenario, bounds, reduction, &opts, progress,
            )?;
            if live {
                eprint!("\r\x1b[2K");
            }
            output::print_disk_stats(&stats);
            report
        } else if live {
            let report =
                check_with_progress(&scenario, bounds, reduction, &mut output::progress_line);
            eprint!("\r\x1b[2K");
            report
        } else {
            check_with_progress(&scenario, bounds, reduction, &mut |_| {})
        };
        print_check_report(
            format,
            &scenario,
            &report,
            self.trace_out.as_deref(),
            self.property.as_deref(),
        )
    }
}

impl CheckArgs {
    /// The processes and workers of a multi-process check, from the flags; `None`
    /// when neither --processes nor --workers is given. Bad input names its flag.
    fn cluster(&self) -> Result<Option<lbqueue_models::disk_check::Cluster>, String> {
        if self.processes.is_none() && self.workers.is_none() {
            return Ok(None);
        }
        let flag = if self.processes.is_some() {
            "--processes"
        } else {
            "--workers"
        };
        if self.model != crate::explore::ModelKind::Step {
            return Err(format!(
                "{flag}: only the step model runs across workers (leave --model out)"
            ));
        }
        if !(self.connect_timeout.is_finite() && self.connect_timeout > 0.0) {
            return Err(format!(
                "--connect-timeout: expected a positive number of seconds, found {}",
                self.connect_timeout
            ));
        }
        let processes = self.processes.unwrap_or(1);
        let process = self.process.unwrap_or(0);
        let workers = self.workers.unwrap_or(1);
        let mut cluster = match &self.hostfile {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("--hostfile {}: cannot read it: {e}", path.display()))?;
                lbqueue_models::disk_check::Cluster::from_hostfile(
                    &text, processes, process, workers,
                )?
            }
            None => lbqueue_models::disk_check::Cluster::local(
                processes,
                process,
                workers,
                self.port_base
                    .unwrap_or(lbqueue_models::disk_check::DEFAULT_PORT_BASE),
            )?,
        };
        cluster.connect_timeout = Duration::from_secs_f64(self.connect_timeout);
        if processes > 1 {
            peer_loss_is_an_error();
        }
        Ok(Some(cluster))
    }
}

/// timely's network threads panic when a peer process goes away; say so in one line
/// and exit 2 rather than leave the other workers waiting for it.
fn peer_loss_is_an_error() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if text.starts_with("timely communication error") {
            eprintln!(
                "lbq: lost the connection to another process of the check ({text}); giving up"
            );
            std::process::exit(2);
        }
        default(info);
    }));
}

/// Writes the trace file if asked, prints the report in `format`; the exit code.
fn print_check_report(
    format: Format,
    scenario: &Scenario,
    report: &lbqueue_models::Report,
    trace_out: Option<&Path>,
    property: Option<&str>,
) -> Result<u8, String> {
    if let Some(path) = trace_out {
        output::write_trace_file(path, scenario, report, property)?;
    }
    match format {
        Format::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(report).expect("reports serialize")
            )
        }
        Format::Text => output::print_report(report),
        Format::Mermaid => output::print_diagrams(report, |t| t.to_mermaid(scenario), "%%"),
        Format::Dot => output::print_diagrams(report, |t| t.to_dot(), "//"),
    }
    Ok(report.exit_code() as u8)
}

/// `+ready-srv,-try-again`: the changes `--with` names, in order.
pub fn parse_switches(text: &str) -> Result<Vec<(Switch, bool)>, String> {
    text.split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|t| Switch::parse_change(t).map_err(|e| format!("--with: {e}")))
        .collect()
}

/// A preset by name, else a scenario file.
pub fn load_scenario(arg: &str) -> Result<Scenario, String> {
    if let Some(s) = presets::get(arg) {
        return Ok(s);
    }
    let path = Path::new(arg);
    let text = std::fs::read(path).map_err(|e| {
        let names: Vec<_> = presets::names().collect();
        format!(
            "--scenario `{arg}`: not a preset ({}) and not a readable file: {e}",
            names.join(", ")
        )
    })?;
    let text = String::from_utf8(text).map_err(|_| {
        format!("scenario file {arg}: expected UTF-8 TOML text, found invalid UTF-8")
    })?;
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("scenario");
    Scenario::from_toml(&text, stem).map_err(|e| format!("{arg}: {e}"))
}

/// Half of the machine's memory (Linux `/proc/meminfo`), in bytes.
fn half_of_memory() -> Option<usize> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024 / 2)
}

/// `--cli-thread N|free`: a thread of the scenario (1-based) or `free`.
fn parse_cli_thread(text: &str, threads: u8) -> Result<Option<lbqueue::ThreadId>, String> {
    if text == "free" {
        return Ok(None);
    }
    match text.parse::<u8>() {
        Ok(n) if (1..=threads).contains(&n) => Ok(Some(n - 1)),
        _ => Err(format!(
            "--cli-thread: expected a thread from 1 to {threads} or `free`, found {text:?}"
        )),
    }
}
