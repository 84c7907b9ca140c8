//! `lbq check --random N --seed S`: N random small scenarios ([`lbqueue::random`]),
//! each checked exhaustively within a per-scenario bound, one line each. A scenario that
//! violates a property is written to `lbq-failures/` (temporary file, then rename) with
//! the command that reproduces it.
//!
//! Exit code: 1 if any scenario violates a property, else 3 if any search was stopped by
//! a bound (nothing is claimed about it), else 0.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use lbqueue::random::{derive_seed, random_scenario, Limits, SplitMix64};
use lbqueue::scenario::algo_name;
use lbqueue::{Scenario, Variant};
use lbqueue_models::{check, Bounds, Kind, Report, Status};

/// Unique states explored per scenario when `--max-states` is not given: a few seconds
/// at most on one core; the small limits keep most scenarios well under it.
pub const DEFAULT_MAX_STATES: usize = 200_000;

/// Where violating scenarios are written, relative to the working directory.
pub const FAILURE_DIR: &str = "lbq-failures";

/// `--seed`: a decimal or `0x`-hexadecimal u64.
pub fn parse_seed(s: &str) -> Result<u64, String> {
    let t = s.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse(),
    }
    .map_err(|_| format!("expected a decimal or 0x-hexadecimal 64-bit seed, found {s:?}"))
}

/// `lbq check --random N [--seed S] [--atomics A]`: checks `n` random scenarios in
/// `variant` within `bounds` per scenario (`max_states` defaults to
/// [`DEFAULT_MAX_STATES`]), their atomics in-section, split, or either on a coin
/// (`both`), writing violating ones under [`FAILURE_DIR`]. `seed` defaults to one drawn
/// from the clock (printed). Returns the exit code; `Err` is bad input (exit 2).
pub fn run_random(
    n: usize,
    seed: Option<u64>,
    limits: Limits,
    bounds: Bounds,
) -> Result<u8, String> {
    let seed = seed.unwrap_or_else(clock_seed);
    let stdout = std::io::stdout();
    run_random_in(
        n,
        seed,
        limits,
        bounds,
        Path::new(FAILURE_DIR),
        &mut stdout.lock(),
    )
}

/// [`run_random`] with the failure directory and the output given.
pub fn run_random_in(
    n: usize,
    seed: u64,
    limits: Limits,
    bounds: Bounds,
    failure_dir: &Path,
    out: &mut dyn Write,
) -> Result<u8, String> {
    if n == 0 {
        return Err("--random: expected a positive number of scenarios, found 0".into());
    }
    let bounds = Bounds {
        max_states: Some(bounds.max_states.unwrap_or(DEFAULT_MAX_STATES)),
        ..bounds
    };
    let started = Instant::now();
    let (variant, atomics) = (limits.variant, limits.atomics);
    let abortonclose = match limits.abortonclose {
        Some(true) => "on",
        Some(false) => "off",
        None => "both",
    };
    say(
        out,
        format_args!(
            "lbq check --random {n} --seed {seed:#x} --variant {variant} --atomics {atomics} \
             --abortonclose {abortonclose}: at most {} unique states per scenario{}",
            bounds.max_states.expect("set"),
            bounds
                .timeout
                .map(|t| format!(", {:.0} s", t.as_secs_f64()))
                .unwrap_or_default()
        ),
    )?;
    let (mut holds, mut violated, mut incomplete) = (0usize, 0usize, 0usize);
    for i in 0..n {
        let scenario_seed = derive_seed(seed, i as u64);
        let mut scenario = random_scenario(&mut SplitMix64::new(scenario_seed), &limits);
        scenario.name = format!("random-{scenario_seed:016x}");
        let report = check(&scenario, bounds);
        let bad = violations(&report);
        let line = format!(
            "{:>4}  {}  {:>9} states  {:>6.2} s  ",
            i + 1,
            summary(&scenario),
            report.unique_states,
            report.seconds
        );
        if !bad.is_empty() {
            violated += 1;
            let path = failure_path(failure_dir, seed, i as u64, variant);
            write_scenario(&path, &scenario, &report, &bad)?;
            say(
                out,
                format_args!(
                    "{line}VIOLATED {}\n        reproduce: lbq check --scenario {} --variant {variant}",
                    bad.join(", "),
                    path.display()
                ),
            )?;
        } else if !report.complete {
            incomplete += 1;
            say(
                out,
                format_args!(
                    "{line}INCOMPLETE (stopped by {}): nothing verified",
                    report.stopped_by.unwrap_or("a bound")
                ),
            )?;
        } else {
            holds += 1;
            let unreached = unreached_guards(&report);
            let note = if unreached.is_empty() {
                String::new()
            } else {
                format!(" (vacuity guards not reached: {})", unreached.join(", "))
            };
            say(out, format_args!("{line}ok{note}"))?;
        }
        if report.stopped_by == Some("interrupted") {
            say(out, format_args!("interrupted after {} scenarios", i + 1))?;
            break;
        }
    }
    say(
        out,
        format_args!(
            "{} scenarios: {holds} hold, {violated} violated, {incomplete} incomplete ({:.2} s)",
            holds + violated + incomplete,
            started.elapsed().as_secs_f64()
        ),
    )?;
    Ok(if violated > 0 {
        1
    } else if incomplete > 0 {
        3
    } else {
        0
    })
}

fn say(out: &mut dyn Write, args: std::fmt::Arguments<'_>) -> Result<(), String> {
    writeln!(out, "{args}").map_err(|e| format!("cannot write the report: {e}"))
}

/// A seed for a run without `--seed` (printed, so the run can be repeated).
fn clock_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    derive_seed(nanos, u64::from(std::process::id()))
}

/// The properties a report violates: `always` and termination properties. A
/// sometimes-property (vacuity guard) not reached is not counted: the guards a scenario
/// gets are chosen from its CLI script alone, and a random script often cannot reach
/// them (an `enable` before any `disable`); they are listed on the line instead.
pub fn violations(report: &Report) -> Vec<&'static str> {
    report
        .properties
        .iter()
        .filter(|p| p.status == Status::Violated)
        .map(|p| p.name)
        .collect()
}

fn unreached_guards(report: &Report) -> Vec<&'static str> {
    report
        .properties
        .iter()
        .filter(|p| p.kind == Kind::Sometimes && p.status == Status::Unreached)
        .map(|p| p.name)
        .collect()
}

/// The scenario in one short field: servers and maxconn, algorithm, threads, streams,
/// CLI commands, `timeout queue`, split atomics.
fn summary(s: &Scenario) -> String {
    let maxconn: Vec<String> = s
        .servers
        .iter()
        .map(|v| {
            if v.maxconn == 0 {
                "∞".to_string()
            } else {
                v.maxconn.to_string()
            }
        })
        .collect();
    format!(
        "{}  {}srv maxconn {:<4} {:<10} {}thr {}str {}cli{}{}{}",
        s.name,
        s.servers.len(),
        maxconn.join(","),
        algo_name(s.algo),
        s.threads,
        s.streams.len(),
        s.cli.len(),
        if s.queue_timeout { " tq" } else { "   " },
        if s.split_atomics { " split" } else { "      " },
        if s.abortonclose {
            ""
        } else {
            " no-abortonclose"
        }
    )
}

/// Writes the scenario file of a violation (comments say what and how to reproduce).
fn write_scenario(
    path: &Path,
    scenario: &Scenario,
    report: &Report,
    bad: &[&str],
) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
    }
    let mut text = format!(
        "# lbq check --random: variant {} violates {}\n# reproduce: lbq check --scenario {} --variant {}\n",
        scenario.variant,
        bad.join(", "),
        path.display(),
        scenario.variant
    );
    for p in &report.properties {
        if let (Status::Violated, Some(t)) = (p.status, &p.trace) {
            text.push_str(&format!("# {}: {} steps\n", p.name, t.steps.len()));
        }
    }
    text.push_str(&scenario.to_toml());
    crate::output::write_whole(path, &text)
}

/// The path a violating scenario of `seed`'s `index`-th draw is written to.
pub fn failure_path(dir: &Path, seed: u64, index: u64, variant: Variant) -> PathBuf {
    dir.join(format!(
        "random-{:016x}-{variant}.toml",
        derive_seed(seed, index)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lbqueue::random::Atomics;

    fn run(n: usize, seed: u64, variant: Variant, bounds: Bounds, dir: &Path) -> (u8, String) {
        run_with(n, seed, variant, Atomics::Both, bounds, dir)
    }

    fn run_with(
        n: usize,
        seed: u64,
        variant: Variant,
        atomics: Atomics,
        bounds: Bounds,
        dir: &Path,
    ) -> (u8, String) {
        let mut out = Vec::new();
        let limits = Limits {
            atomics,
            ..Limits::small(variant)
        };
        let code = run_random_in(n, seed, limits, bounds, dir, &mut out).expect("runs");
        (code, String::from_utf8(out).expect("UTF-8"))
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lbq-random-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn seeds_parse_in_decimal_and_hex() {
        assert_eq!(parse_seed("42"), Ok(42));
        assert_eq!(parse_seed("0x2a"), Ok(42));
        assert_eq!(parse_seed(" 0X2A "), Ok(42));
        assert!(parse_seed("-1").is_err());
        assert!(parse_seed("0xg").is_err());
    }

    #[test]
    fn the_same_seed_gives_the_same_lines() {
        let dir = scratch("same");
        let bounds = Bounds {
            max_states: Some(5_000),
            ..Bounds::unbounded()
        };
        // The lines without their timings (`0.02 s`, `(0.06 s)`).
        let strip = |s: &str| -> Vec<Vec<String>> {
            s.lines()
                .map(|l| {
                    let w: Vec<&str> = l.split_whitespace().collect();
                    let unit = |x: Option<&&str>| matches!(x, Some(&"s") | Some(&"s)"));
                    (0..w.len())
                        .filter(|&i| !unit(w.get(i)) && !unit(w.get(i + 1)))
                        .map(|i| w[i].to_string())
                        .collect()
                })
                .collect()
        };
        let (a_code, a) = run(8, 7, Variant::Fixed, bounds, &dir);
        let (b_code, b) = run(8, 7, Variant::Fixed, bounds, &dir);
        assert_eq!(a_code, b_code);
        assert_eq!(strip(&a), strip(&b));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn violations_are_written_and_reproduce() {
        let dir = scratch("toctou");
        let bounds = Bounds {
            max_states: Some(50_000),
            ..Bounds::unbounded()
        };
        let (code, out) = run(40, 3, Variant::Toctou, bounds, &dir);
        assert_eq!(code, 1, "{out}");
        let line = out
            .lines()
            .find(|l| l.contains("reproduce: lbq check --scenario"))
            .expect("a reproduce line");
        let path = line
            .split("--scenario ")
            .nth(1)
            .and_then(|r| r.split(" --variant").next())
            .expect("a path");
        let text = std::fs::read_to_string(path).expect("the file was written");
        let s = Scenario::from_toml(&text, "x").expect("a valid scenario file");
        assert_eq!(s.variant, Variant::Toctou);
        let again = check(&s, bounds);
        assert!(!violations(&again).is_empty(), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The scenario lines of a run, without the header and the total.
    fn scenario_lines(out: &str) -> Vec<&str> {
        out.lines()
            .filter(|l| l.contains(" random-") && l.contains("srv maxconn"))
            .collect()
    }

    #[test]
    fn atomics_are_drawn_forced_and_printed_so_that_the_run_repeats() {
        let dir = scratch("atomics");
        let bounds = Bounds {
            max_states: Some(2_000),
            ..Bounds::unbounded()
        };
        let n = 24;
        for atomics in Atomics::ALL {
            let (_, out) = run_with(n, 11, Variant::Fixed, atomics, bounds, &dir);
            let header = out.lines().next().expect("a header");
            assert!(
                header.starts_with(&format!(
                    "lbq check --random {n} --seed 0xb --variant fixed --atomics {atomics} \
                     --abortonclose on:"
                )),
                "{header}"
            );
            let lines = scenario_lines(&out);
            assert_eq!(lines.len(), n, "{out}");
            // Each line is the scenario its seed and the printed options draw.
            let limits = Limits {
                atomics,
                ..Limits::small(Variant::Fixed)
            };
            let mut split = 0;
            for (i, line) in lines.iter().enumerate() {
                let s = random_scenario(&mut SplitMix64::new(derive_seed(11, i as u64)), &limits);
                assert_eq!(line.contains(" split"), s.split_atomics, "{line}");
                split += usize::from(s.split_atomics);
            }
            match atomics {
                Atomics::InSection => assert_eq!(split, 0),
                Atomics::Split => assert_eq!(split, n),
                Atomics::Both => assert!(split > 0 && split < n, "{split} of {n} split"),
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_split_violation_is_written_split_and_reproduces() {
        let dir = scratch("split");
        let bounds = Bounds {
            max_states: Some(50_000),
            ..Bounds::unbounded()
        };
        let (code, out) = run_with(40, 3, Variant::Toctou, Atomics::Split, bounds, &dir);
        assert_eq!(code, 1, "{out}");
        let path = out
            .lines()
            .find_map(|l| l.split("reproduce: lbq check --scenario ").nth(1))
            .and_then(|r| r.split(" --variant").next())
            .expect("a reproduce line");
        let text = std::fs::read_to_string(path).expect("the file was written");
        assert!(text.contains("atomics = \"split\""), "{text}");
        let s = Scenario::from_toml(&text, "x").expect("a valid scenario file");
        assert!(s.split_atomics);
        assert!(!violations(&check(&s, bounds)).is_empty(), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_bound_makes_it_incomplete_never_verified() {
        let dir = scratch("bound");
        let bounds = Bounds {
            max_states: Some(3),
            ..Bounds::unbounded()
        };
        let (code, out) = run(5, 1, Variant::Fixed, bounds, &dir);
        assert_eq!(code, 3, "{out}");
        assert!(out.contains("INCOMPLETE"));
        assert!(!out.contains(" ok"));
    }

    #[test]
    fn zero_scenarios_is_bad_input() {
        let mut out = Vec::new();
        let dir = scratch("zero");
        assert!(run_random_in(
            0,
            1,
            Limits::small(Variant::Fixed),
            Bounds::unbounded(),
            &dir,
            &mut out
        )
        .is_err());
    }

    #[test]
    fn failure_paths_name_the_scenario_seed() {
        let p = failure_path(Path::new("d"), 5, 2, Variant::Purge);
        assert_eq!(
            p,
            Path::new("d").join(format!("random-{:016x}-purge.toml", derive_seed(5, 2)))
        );
    }
}
