//! `lbq shuttle`, `lbq stress` and `lbq replay --shuttle`: the threaded composition
//! under shuttle's schedulers and on OS threads.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lbqueue::threaded::randomized::{self, Options, Report, ScheduleFile, SchedulerKind};
use lbqueue::threaded::stress;
use lbqueue::{presets, Scenario, Variant};

use crate::cli::load_scenario;
use crate::output::write_whole;

/// What both `lbq shuttle` and `lbq stress` run.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The queue logic version (default: the scenario file's `variant`, else fixed).
    #[arg(long)]
    variant: Option<String>,
    /// A preset name (see `lbq list`) or a scenario file (TOML).
    #[arg(long, default_value = presets::REPRO)]
    scenario: String,
    /// How HAProxy's counter updates outside the queue locks run: split (in steps of
    /// their own, as on real threads) or in-section (with the section before).
    #[arg(long, default_value = "split", value_parser = ["split", "in-section"])]
    atomics: String,
}

impl RunArgs {
    /// The scenario named by `--scenario`, with `--variant` and `--atomics` applied.
    fn scenario(&self) -> Result<Scenario, String> {
        let mut sc = load_scenario(&self.scenario)?;
        if let Some(v) = &self.variant {
            sc = sc.with_variant(
                v.parse::<Variant>()
                    .map_err(|e| format!("--variant: {e}"))?,
            );
        }
        if sc.connect_errors > 0 {
            // The threaded composition has workers for threads, the CLI, the clients and
            // the queue timers; a failing connection is a network event it does not run.
            return Err(format!(
                "--scenario {}: connect_errors needs the step model (lbq check)",
                self.scenario
            ));
        }
        Ok(sc.with_split_atomics(self.atomics == "split"))
    }
}

/// Arguments of `lbq shuttle`.
#[derive(clap::Args, Debug)]
pub struct ShuttleArgs {
    #[command(flatten)]
    run: RunArgs,
    /// random (uniform at every scheduling point) or pct (priorities with --depth
    /// change points).
    #[arg(long, default_value = "random", value_parser = ["random", "pct"])]
    scheduler: String,
    /// PCT's number of priority change points.
    #[arg(long, default_value_t = 3)]
    depth: usize,
    /// Iterations (whole runs of the scenario).
    #[arg(long, default_value_t = 1000)]
    iterations: usize,
    /// The scheduler's seed (decimal or 0x-hex).
    #[arg(long, default_value = "1", value_parser = crate::random_cmd::parse_seed)]
    seed: u64,
    /// Fail a call of assign_server_and_queue at this many `goto balance_again`.
    #[arg(long, default_value_t = lbqueue::threaded::DEFAULT_ROUND_BOUND)]
    round_bound: u32,
    /// Stop at the first failing run.
    #[arg(long)]
    stop_at_first: bool,
    /// Stop after this many seconds (the campaign is then incomplete: exit 3 if
    /// nothing was found).
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
    /// Where to write the first failing run's schedule (for `lbq replay --shuttle`).
    /// Default: target/lbq-shuttle/SCENARIO-VARIANT-SEED.json. Nothing is written when
    /// no run fails.
    #[arg(long, value_name = "FILE")]
    schedule_out: Option<PathBuf>,
    /// Print one JSON report instead of text.
    #[arg(long)]
    json: bool,
}

/// Arguments of `lbq stress`.
#[derive(clap::Args, Debug)]
pub struct StressArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Wall-clock budget in seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// The watchdog period in milliseconds: a call of assign_server_and_queue still
    /// looping after it is reported (HAProxy's watchdog: 1000).
    #[arg(long, default_value_t = 1000)]
    watchdog_ms: u64,
    /// Print one JSON report instead of text.
    #[arg(long)]
    json: bool,
}

/// A positive, finite number of seconds.
fn seconds(flag: &str, value: f64) -> Result<Duration, String> {
    if value.is_finite() && value > 0.0 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(format!(
            "{flag}: expected a positive number of seconds, found {value}"
        ))
    }
}

/// One line naming the scenario's size.
fn describe(sc: &Scenario) -> String {
    format!(
        "variant {}, scenario {} ({} server(s), {} threads, {} streams, {} CLI commands), \
         {} atomics",
        sc.variant.name(),
        sc.name,
        sc.servers.len(),
        sc.threads,
        sc.streams.len(),
        sc.cli.len(),
        if sc.split_atomics {
            "split"
        } else {
            "in-section"
        }
    )
}

/// `lbq shuttle`: exit 1 if a run failed, 3 if the clock stopped the campaign first,
/// else 0.
pub fn shuttle(args: ShuttleArgs) -> Result<u8, String> {
    let sc = args.run.scenario()?;
    if args.iterations == 0 {
        return Err("--iterations: expected a positive number, found 0".into());
    }
    if args.round_bound == 0 {
        return Err("--round-bound: expected a positive number, found 0".into());
    }
    let scheduler = match args.scheduler.as_str() {
        "pct" if args.depth == 0 => {
            return Err("--depth: expected a positive number of change points, found 0".into())
        }
        "pct" => SchedulerKind::Pct { depth: args.depth },
        _ => SchedulerKind::Random,
    };
    let mut options = Options::new(&sc, scheduler, args.iterations, args.seed);
    options.stop_at_first = args.stop_at_first;
    options.max_time = args.timeout.map(|t| seconds("--timeout", t)).transpose()?;
    options.config.round_bound = Some(args.round_bound);
    let report = randomized::run(&sc, &options);
    let written = match report.found.first() {
        Some(found) => {
            let path = args.schedule_out.clone().unwrap_or_else(|| {
                PathBuf::from(format!(
                    "target/lbq-shuttle/{}-{}-{}.json",
                    sc.name,
                    sc.variant.name(),
                    report.seed
                ))
            });
            write_schedule(&path, &ScheduleFile::new(&sc, &report, found))?;
            Some(path)
        }
        None => None,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("reports serialize")
        );
    } else {
        println!("lbq shuttle: {}", describe(&sc));
        print_campaign(&report, written.as_deref());
    }
    Ok(if report.failed() {
        1
    } else if !report.complete {
        3
    } else {
        0
    })
}

/// Writes a schedule file whole, creating its directory.
fn write_schedule(path: &Path, file: &ScheduleFile) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(file).expect("schedule files serialize");
    write_whole(path, &text)
}

/// The text report of a campaign.
fn print_campaign(report: &Report, written: Option<&Path>) {
    println!(
        "  scheduler {}, seed {}: {} of {} iterations{} in {:.2} s, {} sections",
        report.scheduler,
        report.seed,
        report.iterations_run,
        report.iterations,
        if report.complete {
            ""
        } else {
            " (stopped early)"
        },
        report.seconds,
        report.sections
    );
    println!(
        "  bounds: {} goto balance_again per call, {} shuttle steps per run",
        report
            .round_bound
            .map_or("no".to_string(), |b| b.to_string()),
        report.max_steps
    );
    for f in &report.found {
        println!(
            "  {}: first in iteration {} after {:.3} s ({} failing runs): {}",
            f.property, f.iteration, f.seconds, f.count, f.detail
        );
    }
    if let Some(path) = written {
        println!(
            "  first failing schedule written to {} (lbq replay --shuttle {})",
            path.display(),
            path.display()
        );
    }
    let verdict = if report.failed() {
        format!("FAILED ({})", report.properties().join(", "))
    } else if report.complete {
        "no failure in this budget (randomized: not a proof)".to_string()
    } else {
        "no failure before the clock stopped it: INCOMPLETE".to_string()
    };
    println!("verdict: {verdict}");
}

/// `lbq replay --shuttle FILE`: exit 1 if the saved failure happens again, 0 if not.
pub fn replay_shuttle(path: &Path, json: bool) -> Result<u8, String> {
    let at = path.display().to_string();
    let text = std::fs::read(path).map_err(|e| format!("{at}: cannot read: {e}"))?;
    let text = String::from_utf8(text)
        .map_err(|_| format!("{at}: expected a UTF-8 JSON schedule file"))?;
    let file: ScheduleFile = serde_json::from_str(&text)
        .map_err(|e| format!("{at}: not an lbq shuttle schedule file: {e}"))?;
    file.validate().map_err(|e| format!("{at}: {e}"))?;
    let sc = file.scenario().map_err(|e| format!("{at}: {e}"))?;
    let options = file.options(&sc);
    let report = randomized::replay(&sc, &options, &file.found.schedule)
        .map_err(|e| format!("{at}: field `found.schedule`: {e}"))?;
    let again = report
        .found
        .iter()
        .any(|f| f.property == file.found.property);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("reports serialize")
        );
    } else {
        println!(
            "lbq replay --shuttle {at}: {} of {}, found in iteration {} of a {} campaign \
             (seed {})",
            file.found.property, file.variant, file.found.iteration, file.scheduler, file.seed
        );
        println!("  saved: {}", file.found.detail);
        match report
            .found
            .iter()
            .find(|f| f.property == file.found.property)
        {
            Some(f) => println!("  replayed: {}", f.detail),
            None => println!("  replayed: the run ends without it"),
        }
        println!(
            "{}: {}",
            file.found.property,
            if again {
                "REPRODUCED"
            } else {
                "not reproduced"
            }
        );
    }
    Ok(u8::from(again))
}

/// `lbq stress`: exit 1 on a livelock or a stuck run, else 0.
pub fn stress(args: StressArgs) -> Result<u8, String> {
    let sc = args.run.scenario()?;
    let duration = seconds("--seconds", args.seconds)?;
    if args.watchdog_ms == 0 {
        return Err("--watchdog-ms: expected a positive number of milliseconds, found 0".into());
    }
    let options = stress::Options {
        duration,
        watchdog: Duration::from_millis(args.watchdog_ms),
    };
    let report = stress::run(&sc, options);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("reports serialize")
        );
    } else {
        println!("lbq stress: {}", describe(&sc));
        println!(
            "  {} runs on OS threads in {:.1} s, {} sections, watchdog {} ms",
            report.runs, report.seconds, report.sections, report.watchdog_ms
        );
        for (property, runs) in &report.violations {
            println!("  {property} violated in {runs} runs");
        }
        if let Some(stuck) = &report.first_stuck {
            println!(
                "  {} stuck runs, the first (run {}, after {:.2} s): {}",
                report.stuck_runs, stuck.run, stuck.seconds, stuck.failure
            );
        }
        match &report.hit {
            Some(hit) => println!(
                "  first hit in run {} after {:.2} s: {}",
                hit.run, hit.seconds, hit.failure
            ),
            None => println!(
                "  no livelock within {:.1} s (OS schedules: not a proof)",
                report.seconds
            ),
        }
    }
    Ok(u8::from(report.hit.is_some() || report.stuck_runs > 0))
}
