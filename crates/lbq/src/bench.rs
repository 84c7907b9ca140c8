//! `lbq bench`: how fast the checker is, per preset and variant, with a yardstick.
//!
//! Every measurement runs in a child process (`lbq` re-running its own executable with
//! the hidden `--child` option) so that the peak memory it reports (`VmHWM`, a
//! process-wide high-water mark) belongs to that one check, and so that no measurement
//! inherits another's heap. `--repeat N` runs each measurement N times, each in a fresh
//! child, and reports the medians.
//!
//! Per row:
//! - `check_s`: the whole `lbq check` (exploration, liveness searches, traces).
//! - `explore_s`, `states_per_s`: [`Graph::explore`] alone, timed on its own;
//!   states/s counts transitions (successors generated, duplicates included), as
//!   stateright does.
//! - `first_violation_ms`: time to the first violated `always` property, with its trace.
//! - `first_loop_ms`: time to the first liveness counterexample (a loop), with its trace.
//! - `peak_mib`: VmHWM right after the check, in a process that did nothing else before.
//!
//! Time to a first counterexample is measured without touching the checker's hot path:
//! a full exploration (untimed) says which state is the first violation (state ids are
//! BFS order, which does not depend on the hasher's seed) and how many states the BFS
//! holds when it reaches it; a second exploration, timed, runs [`Graph::explore`] with
//! exactly that `max_states` bound, so it stops right after evaluating that state, and
//! the trace is rendered. That is the time the real explorer takes to get there. (For a
//! loop, the bound is the one under which every state of the first lasso is expanded,
//! doubled until the liveness searches on the partial graph find a loop — a loop found
//! on a partial graph is a real loop: its states are expanded, their edges complete.)
//! stateright's own `spawn_bfs` with `finish_when(HasDiscoveries::AnyFailures)` would
//! time a different engine (worker threads, a concurrent fingerprint set, a visit order
//! of its own) and could not see loops at all, so it would not say how long *our*
//! checker makes a user wait.
//!
//! The yardstick is two-phase commit ([`crate::yardstick`]) explored with the same
//! [`Graph::explore`], measured in its own children interleaved with the rows; each
//! row's states/s is also given as a ratio to the yardstick's median states/s. That
//! ratio cancels the machine's speed and load, but also any change to `Graph::explore`
//! itself (the yardstick runs through it too): it moves with the step model's own cost.
//! So the yardstick is also run under stateright's own BFS checker (one thread), and
//! `ratio_to_stateright_bfs` moves when the explorer gets faster as well.

use std::io::IsTerminal;
use std::process::Command;
use std::time::Instant;

use lbqueue::{presets, Actor, Scenario, Variant};
use lbqueue_models::check::{check_with_progress, default_bounds};
use lbqueue_models::graph::{Bounds, Graph, Storage};
use lbqueue_models::liveness::{fair_cycle, solo_cycle, stuck_cycle, Lasso};
use lbqueue_models::reduction::Reduction;
use lbqueue_models::step_model::{
    StepModel, ASSIGN_CAN_RETURN, ASSIGN_SOLO_TERMINATES, ASSIGN_TERMINATES,
};
use lbqueue_models::trace::Trace;
use lbqueue_models::Status;
use serde_json::{json, Value};
use stateright::{Checker, Expectation, Model};

use crate::cli::load_scenario;
use crate::yardstick::TwoPhaseCommit;

/// Resource managers in the default yardstick: 6 gives 50,816 unique states (402,306
/// transitions), the size of the `seed` preset's state spaces.
const DEFAULT_RMS: u8 = 6;

/// The targets of the issue "Speed, scale and gate strength".
const TARGET_FIRST_LOOP_MS: f64 = 50.0;
const TARGET_FIXED_SEED_S: f64 = 5.0;
const TARGET_SEED_STATES_PER_S: f64 = 1e6;

/// What a child process measures.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Child {
    /// One scenario × variant (`--scenario`, `--variant`, one each).
    Row,
    /// The 2PC yardstick.
    Yardstick,
}

/// Arguments of `lbq bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Only this preset or scenario file (repeatable; default: every preset).
    #[arg(long, value_name = "NAME|FILE")]
    scenario: Vec<String>,
    /// Only this variant (repeatable; default: every variant).
    #[arg(long, value_name = "NAME")]
    variant: Vec<String>,
    /// Measure everything N times, each in a fresh process, and report the medians.
    #[arg(long, value_name = "N", default_value_t = 1)]
    repeat: u32,
    /// Print one JSON document on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// The state-space reduction of every row, as `lbq check --reduction`: streams
    /// (default), dead or off. Run the bench once with each to measure what it buys.
    #[arg(long, default_value = "streams", value_parser = ["streams", "dead", "off"])]
    reduction: String,
    /// Resource managers of the two-phase-commit yardstick.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_RMS)]
    yardstick_rms: u8,
    /// Internal: measure one thing in this process and print it as JSON.
    #[arg(long, hide = true, value_enum)]
    child: Option<Child>,
}

/// Runs `lbq bench`. `Err` is bad input (exit 2) or a measurement that failed.
pub fn run(args: BenchArgs) -> Result<u8, String> {
    if args.repeat == 0 {
        return Err("--repeat: expected a positive number of runs, found 0".into());
    }
    if !(1..=12).contains(&args.yardstick_rms) {
        return Err(format!(
            "--yardstick-rms: expected 1 to 12 resource managers, found {}",
            args.yardstick_rms
        ));
    }
    let variants = parse_variants(&args.variant)?;
    let reduction: Reduction = args
        .reduction
        .parse()
        .map_err(|e| format!("--reduction: {e}"))?;
    match args.child {
        Some(Child::Row) => {
            let [scenario] = args.scenario.as_slice() else {
                return Err("--child row: expected exactly one --scenario".into());
            };
            let [variant] = variants.as_slice() else {
                return Err("--child row: expected exactly one --variant".into());
            };
            let scenario = load_scenario(scenario)?.with_variant(*variant);
            println!("{}", measure_row(&scenario, reduction));
            Ok(0)
        }
        Some(Child::Yardstick) => {
            println!("{}", measure_yardstick(args.yardstick_rms));
            Ok(0)
        }
        None => parent(&args, &variants, reduction),
    }
}

fn parse_variants(names: &[String]) -> Result<Vec<Variant>, String> {
    if names.is_empty() {
        return Ok(Variant::ALL.to_vec());
    }
    names
        .iter()
        .map(|v| v.parse::<Variant>().map_err(|e| format!("--variant: {e}")))
        .collect()
}

/// The whole bench: children for every row and for the yardstick, then the report.
fn parent(args: &BenchArgs, variants: &[Variant], reduction: Reduction) -> Result<u8, String> {
    let scenarios: Vec<String> = if args.scenario.is_empty() {
        presets::names().map(str::to_string).collect()
    } else {
        args.scenario.clone()
    };
    // Bad input is reported before anything runs.
    for s in &scenarios {
        load_scenario(s)?;
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find lbq itself: {e}"))?;
    let live = std::io::stderr().is_terminal();
    let rms = args.yardstick_rms.to_string();
    let child = |what: &[&str]| -> Result<Value, String> {
        let out = Command::new(&exe)
            .arg("bench")
            .args(what)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
        if !out.status.success() {
            return Err(format!(
                "measurement {} failed ({}): {}",
                what.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        serde_json::from_slice(&out.stdout).map_err(|e| {
            format!(
                "measurement {}: not JSON ({e}): {}",
                what.join(" "),
                String::from_utf8_lossy(&out.stdout)
            )
        })
    };
    let yardstick_args = ["--child", "yardstick", "--yardstick-rms", rms.as_str()];
    let mut yardstick = Vec::new();
    let mut rows = Vec::new();
    for s in &scenarios {
        // The yardstick is measured between scenarios, so that it sees the same noise.
        for _ in 0..args.repeat {
            yardstick.push(child(&yardstick_args)?);
        }
        for v in variants {
            let mut runs = Vec::new();
            for i in 0..args.repeat {
                if live {
                    eprint!("\r\x1b[2K  bench: {s} {v} run {}/{}", i + 1, args.repeat);
                }
                runs.push(child(&[
                    "--child",
                    "row",
                    "--scenario",
                    s,
                    "--variant",
                    v.name(),
                    "--reduction",
                    reduction.name(),
                ])?);
            }
            rows.push(median_of(&runs, ROW_TIMES));
        }
    }
    for _ in 0..args.repeat {
        yardstick.push(child(&yardstick_args)?);
    }
    if live {
        eprint!("\r\x1b[2K");
    }
    let yardstick = median_of(&yardstick, YARDSTICK_TIMES);
    let ys_rate = yardstick["states_per_s"].as_f64().unwrap_or(f64::NAN);
    let sr_rate = get(&yardstick, "stateright_bfs.states_per_s")
        .and_then(Value::as_f64)
        .unwrap_or(f64::NAN);
    for row in &mut rows {
        let rate = row["states_per_s"].as_f64().unwrap_or(f64::NAN);
        row["ratio_to_yardstick"] = json!(rate / ys_rate);
        row["ratio_to_stateright_bfs"] = json!(rate / sr_rate);
    }
    let targets = targets(&rows);
    let report = json!({
        "repeat": args.repeat,
        "reduction": reduction.name(),
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "yardstick": yardstick,
        "rows": rows,
        "targets": targets,
    });
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("serializes")
        );
    } else {
        print_table(&report);
    }
    Ok(0)
}

/// The fields of a row that are timings (medians are taken); the others are exact.
const ROW_TIMES: &[&str] = &[
    "check_s",
    "explore_s",
    "states_per_s",
    "peak_mib",
    "first_violation.ms",
    "first_loop.ms",
    "first_cex_ms",
    "loops.assign_can_return.ms",
    "loops.assign_terminates.ms",
    "loops.assign_solo_terminates.ms",
];
const YARDSTICK_TIMES: &[&str] = &[
    "explore_s",
    "states_per_s",
    "peak_mib",
    "stateright_bfs.explore_s",
    "stateright_bfs.states_per_s",
];

/// The first run, with each timing replaced by the median over all runs.
fn median_of(runs: &[Value], times: &[&str]) -> Value {
    let mut out = runs[0].clone();
    for path in times {
        let mut xs: Vec<f64> = runs.iter().filter_map(|r| get(r, path)?.as_f64()).collect();
        if xs.is_empty() {
            continue;
        }
        xs.sort_by(f64::total_cmp);
        let mid = xs.len() / 2;
        let median = if xs.len() % 2 == 1 {
            xs[mid]
        } else {
            (xs[mid - 1] + xs[mid]) / 2.0
        };
        if let Some(slot) = get_mut(&mut out, path) {
            *slot = json!(median);
        }
    }
    out["runs"] = json!(runs.len());
    out
}

fn get<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(v, |v, k| v.get(k))
        .filter(|v| !v.is_null())
}

fn get_mut<'a>(v: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    path.split('.').try_fold(v, |v, k| v.get_mut(k))
}

/// The targets, on the rows measured (null when the rows needed are absent).
fn targets(rows: &[Value]) -> Value {
    let row = |s: &str, v: &str| {
        rows.iter()
            .find(|r| r["scenario"] == s && r["variant"] == v)
    };
    let shortest_livelock = rows
        .iter()
        .filter(|r| r["variant"] == "livelock")
        .filter_map(|r| Some((get(r, "first_loop.ms")?.as_f64()?, r)))
        .min_by(|a, b| a.0.total_cmp(&b.0));
    let first_loop = shortest_livelock.map(|(ms, r)| {
        json!({
            "target": format!("first livelock loop under {TARGET_FIRST_LOOP_MS} ms"),
            "scenario": r["scenario"],
            "property": r["first_loop"]["property"],
            "ms": ms,
            "met": ms < TARGET_FIRST_LOOP_MS,
        })
    });
    let fixed_seed = row("seed", "fixed").map(|r| {
        let s = r["check_s"].as_f64().unwrap_or(f64::NAN);
        json!({
            "target": format!("fixed on seed under {TARGET_FIXED_SEED_S} s"),
            "check_s": s,
            "met": s < TARGET_FIXED_SEED_S && r["complete"] == true,
        })
    });
    let seed_rates: Vec<f64> = rows
        .iter()
        .filter(|r| r["scenario"] == "seed")
        .filter_map(|r| r["states_per_s"].as_f64())
        .collect();
    let seed_rate = (!seed_rates.is_empty()).then(|| {
        let min = seed_rates.iter().copied().fold(f64::INFINITY, f64::min);
        json!({
            "target": "at least 1,000,000 states/s on seed (every variant)",
            "min_states_per_s": min,
            "met": min >= TARGET_SEED_STATES_PER_S,
        })
    });
    // The story's loop: livelock on seed, the stuck loop the watchdog kills.
    let watchdog_loop = row("seed", "livelock")
        .and_then(|r| get(r, "loops.assign_can_return"))
        .map(|l| {
            let ms = l["ms"].as_f64().unwrap_or(f64::NAN);
            json!({
                "target": format!("livelock's stuck loop on seed under {TARGET_FIRST_LOOP_MS} ms"),
                "scenario": "seed",
                "property": ASSIGN_CAN_RETURN,
                "steps": l["steps"],
                "ms": ms,
                "met": ms < TARGET_FIRST_LOOP_MS,
            })
        });
    json!({
        "first_livelock_loop": first_loop,
        "livelock_seed_stuck_loop": watchdog_loop,
        "fixed_seed": fixed_seed,
        "seed_states_per_s": seed_rate,
    })
}

fn print_table(report: &Value) {
    println!(
        "{:<12} {:<9} {:>9} {:>10} {:>8} {:>10} {:>6} {:>6} {:>8} {:>9} {:>9} {:>8} {:>8}",
        "scenario",
        "variant",
        "unique",
        "transit.",
        "explore",
        "states/s",
        "ratio",
        "r(SR)",
        "check",
        "1st viol",
        "1st loop",
        "peak",
        "complete"
    );
    let ms = |v: Option<&Value>| match v.and_then(Value::as_f64) {
        Some(x) => format!("{x:.1}ms"),
        None => "-".to_string(),
    };
    for r in report["rows"].as_array().into_iter().flatten() {
        println!(
            "{:<12} {:<9} {:>9} {:>10} {:>7.3}s {:>10.0} {:>6.2} {:>6.2} {:>7.3}s {:>9} {:>9} {:>5.0}MiB {:>8}",
            r["scenario"].as_str().unwrap_or_default(),
            r["variant"].as_str().unwrap_or_default(),
            r["unique_states"].as_u64().unwrap_or_default(),
            r["transitions"].as_u64().unwrap_or_default(),
            r["explore_s"].as_f64().unwrap_or(f64::NAN),
            r["states_per_s"].as_f64().unwrap_or(f64::NAN),
            r["ratio_to_yardstick"].as_f64().unwrap_or(f64::NAN),
            r["ratio_to_stateright_bfs"].as_f64().unwrap_or(f64::NAN),
            r["check_s"].as_f64().unwrap_or(f64::NAN),
            ms(get(r, "first_violation.ms")),
            ms(get(r, "first_loop.ms")),
            r["peak_mib"].as_f64().unwrap_or(f64::NAN),
            if r["complete"] == true { "yes" } else { "NO" },
        );
    }
    let y = &report["yardstick"];
    println!(
        "\nyardstick: two-phase commit, {} resource managers: {} unique, {} transitions; \
         Graph::explore {:.3} s, {:.0} states/s, peak {:.0} MiB; stateright's BFS checker \
         (1 thread) {:.3} s, {:.0} states/s (medians of {} runs)",
        y["rms"],
        y["unique_states"],
        y["transitions"],
        y["explore_s"].as_f64().unwrap_or(f64::NAN),
        y["states_per_s"].as_f64().unwrap_or(f64::NAN),
        y["peak_mib"].as_f64().unwrap_or(f64::NAN),
        get(y, "stateright_bfs.explore_s")
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN),
        get(y, "stateright_bfs.states_per_s")
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN),
        y["runs"],
    );
    println!(
        "ratio = row states/s ÷ the yardstick's under Graph::explore (moves with the model's \
         cost only); r(SR) = ÷ the yardstick's under stateright's checker (also moves when \
         Graph::explore gets faster). Reduction: {}. Times are medians of {} run(s), each \
         in its own process, on {} CPU(s)",
        report["reduction"].as_str().unwrap_or_default(),
        report["repeat"],
        report["cpus"]
    );
    let t = &report["targets"];
    let met = |v: &Value| if v["met"] == true { "met" } else { "MISSED" };
    if !t["first_livelock_loop"].is_null() {
        let x = &t["first_livelock_loop"];
        println!(
            "target: {}: {:.1} ms ({} on {}): {}",
            x["target"].as_str().unwrap_or_default(),
            x["ms"].as_f64().unwrap_or(f64::NAN),
            x["property"].as_str().unwrap_or_default(),
            x["scenario"].as_str().unwrap_or_default(),
            met(x)
        );
    }
    if !t["livelock_seed_stuck_loop"].is_null() {
        let x = &t["livelock_seed_stuck_loop"];
        println!(
            "target: {}: {:.1} ms ({} steps): {}",
            x["target"].as_str().unwrap_or_default(),
            x["ms"].as_f64().unwrap_or(f64::NAN),
            x["steps"],
            met(x)
        );
    }
    if !t["fixed_seed"].is_null() {
        let x = &t["fixed_seed"];
        println!(
            "target: {}: {:.3} s: {}",
            x["target"].as_str().unwrap_or_default(),
            x["check_s"].as_f64().unwrap_or(f64::NAN),
            met(x)
        );
    }
    if !t["seed_states_per_s"].is_null() {
        let x = &t["seed_states_per_s"];
        println!(
            "target: {}: lowest {:.0}: {}",
            x["target"].as_str().unwrap_or_default(),
            x["min_states_per_s"].as_f64().unwrap_or(f64::NAN),
            met(x)
        );
    }
}

/// The process's peak resident memory so far (`VmHWM`), in MiB; `None` off Linux.
fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// How many states the BFS of `g`'s model holds when it starts expanding state `id`
/// (ids are assigned in discovery order, so it is one more than the largest successor
/// id of the states expanded before).
fn stored_when_expanding<M: Storage>(g: &Graph<M>, init: usize, id: u32) -> usize {
    let succ = (0..id)
        .flat_map(|s| g.out(s).iter().map(|e| e.to as usize + 1))
        .max()
        .unwrap_or(0);
    succ.max(init).max(id as usize + 1)
}

/// The `max_states` bound under which [`Graph::explore`] stops right after expanding
/// state `id`.
fn bound_through<M: Storage>(g: &Graph<M>, init: usize, id: u32) -> usize {
    stored_when_expanding(g, init, id) + 1
}

/// The largest state id reachable from `from` in `g`.
fn max_reachable<M: Storage>(g: &Graph<M>, from: u32) -> u32 {
    let mut seen = std::collections::HashSet::from([from]);
    let mut todo = vec![from];
    let mut max = from;
    while let Some(s) = todo.pop() {
        max = max.max(s);
        for e in g.out(s) {
            if seen.insert(e.to) {
                todo.push(e.to);
            }
        }
    }
    max
}

/// One row, measured in this process (the `--child row` side).
fn measure_row(scenario: &Scenario, reduction: Reduction) -> Value {
    let base = peak_mib();
    let report = check_with_progress(scenario, default_bounds(), reduction, &mut |_| {});
    let peak = peak_mib();
    let violated: Vec<&str> = report
        .properties
        .iter()
        .filter(|p| p.status == Status::Violated)
        .map(|p| p.name)
        .collect();

    let model = StepModel::reduced(scenario.clone(), reduction);
    let init = model.init_states().len();
    let started = Instant::now();
    let g = Graph::explore(&model, Bounds::unbounded());
    let explore_s = started.elapsed().as_secs_f64();
    let transitions = g.transitions + g.len().min(1);

    // The first violated invariant, in BFS order.
    let properties = model.properties();
    let first_violation = properties
        .iter()
        .zip(&g.discoveries)
        .filter(|(p, _)| p.expectation == Expectation::Always)
        .filter_map(|(p, d)| Some(((*d)?, p.name)))
        .min()
        .map(|(id, name)| {
            let bound = bound_through(&g, init, id);
            let started = Instant::now();
            let partial = Graph::explore(
                &model,
                Bounds {
                    max_states: Some(bound),
                    ..Bounds::unbounded()
                },
            );
            let i = properties.iter().position(|p| p.name == name).unwrap();
            let found = partial.discoveries[i].expect("the bound reaches the violation");
            let (init, prefix) = partial.path_to(found);
            let trace = Trace::render(
                &model,
                &partial,
                &Lasso {
                    init,
                    prefix,
                    cycle: Vec::new(),
                },
            );
            let ms = started.elapsed().as_secs_f64() * 1e3;
            json!({
                "property": name,
                "steps": trace.steps.len(),
                "ms": ms,
                "max_states": bound,
                "expanded": partial.expanded(),
            })
        });

    // Each loop, timed on its own: the BFS prefix in which its lasso is expanded, that
    // property's search on it, the trace. The first loop is the quickest of them.
    type Search = fn(&StepModel, &Graph<StepModel>) -> Option<Lasso<Actor>>;
    let searches: [(&str, Search); 3] = [
        (ASSIGN_CAN_RETURN, |m, g| stuck_cycle(m, g)),
        (ASSIGN_TERMINATES, |m, g| fair_cycle(m, g)),
        (ASSIGN_SOLO_TERMINATES, |m, g| {
            solo_cycle(m, g, StepModel::threads_in_assign)
        }),
    ];
    let mut loops = serde_json::Map::new();
    for (name, search) in searches {
        let Some(lasso) = search(&model, &g) else {
            continue;
        };
        let mut need = lasso
            .prefix
            .iter()
            .chain(&lasso.cycle)
            .map(|&(_, s)| s)
            .fold(lasso.init, u32::max);
        if name == ASSIGN_CAN_RETURN {
            // A stuck loop is judged closed only once its whole component is expanded:
            // every state reachable from the loop (it is a bottom component).
            let entry = lasso.prefix.last().map_or(lasso.init, |&(_, s)| s);
            need = need.max(max_reachable(&g, entry));
        }
        let mut bound = bound_through(&g, init, need);
        let measured = loop {
            let started = Instant::now();
            let partial = Graph::explore(
                &model,
                Bounds {
                    max_states: Some(bound),
                    ..Bounds::unbounded()
                },
            );
            if let Some(lasso) = search(&model, &partial) {
                let trace = Trace::render(&model, &partial, &lasso);
                let ms = started.elapsed().as_secs_f64() * 1e3;
                break json!({
                    "property": name,
                    "steps": trace.steps.len(),
                    "ms": ms,
                    "max_states": bound,
                    "expanded": partial.expanded(),
                });
            }
            assert!(!partial.complete, "{name}: the full graph has a loop");
            // Not expected (the bound covers what each search reads); widen and retry.
            bound *= 2;
        };
        loops.insert(name.to_string(), measured);
    }
    let first_loop = loops
        .values()
        .min_by(|a, b| {
            a["ms"]
                .as_f64()
                .unwrap_or(f64::INFINITY)
                .total_cmp(&b["ms"].as_f64().unwrap_or(f64::INFINITY))
        })
        .cloned();
    let first_cex_ms = [&first_violation, &first_loop]
        .into_iter()
        .filter_map(|x| x.as_ref()?["ms"].as_f64())
        .reduce(f64::min);

    json!({
        "scenario": scenario.name,
        "variant": scenario.variant.name(),
        "reduction": report.reduction.name(),
        "complete": report.complete,
        "unique_states": report.unique_states,
        "transitions": report.states,
        "max_depth": report.max_depth,
        "violated": violated,
        "check_s": report.seconds,
        "explore_s": explore_s,
        "explore_transitions": transitions,
        "states_per_s": transitions as f64 / explore_s,
        "first_violation": first_violation,
        "first_loop": first_loop,
        "loops": loops,
        "first_cex_ms": first_cex_ms,
        "peak_mib": peak,
        "base_mib": base,
    })
}

/// The yardstick, measured in this process (the `--child yardstick` side).
fn measure_yardstick(rms: u8) -> Value {
    let model = TwoPhaseCommit { rms };
    let started = Instant::now();
    let g = Graph::explore(&model, Bounds::unbounded());
    let explore_s = started.elapsed().as_secs_f64();
    let peak = peak_mib();
    let transitions = g.transitions + g.len().min(1);
    // The same model under stateright's own BFS checker (one thread): a yardstick that
    // does not move when our explorer changes.
    let started = Instant::now();
    let theirs = model.checker().threads(1).spawn_bfs().join();
    let theirs_s = started.elapsed().as_secs_f64();
    assert_eq!(theirs.unique_state_count(), g.len(), "same state space");
    json!({
        "model": "two-phase commit",
        "rms": rms,
        "complete": g.complete,
        "unique_states": g.len(),
        "transitions": transitions,
        "explore_s": explore_s,
        "states_per_s": transitions as f64 / explore_s,
        "peak_mib": peak,
        "stateright_bfs": {
            "explore_s": theirs_s,
            "states_per_s": theirs.state_count() as f64 / theirs_s,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_are_taken_of_timings_only() {
        let runs: Vec<Value> = [3.0, 1.0, 2.0]
            .iter()
            .map(|&t| json!({"check_s": t, "unique_states": 7, "first_loop": {"ms": t * 10.0}}))
            .collect();
        let m = median_of(&runs, ROW_TIMES);
        assert_eq!(m["check_s"], json!(2.0));
        assert_eq!(m["first_loop"]["ms"], json!(20.0));
        assert_eq!(m["unique_states"], json!(7));
        assert_eq!(m["runs"], json!(3));
        let two = median_of(&runs[..2], ROW_TIMES);
        assert_eq!(two["check_s"], json!(2.0));
    }

    #[test]
    fn the_bound_stops_the_search_right_after_the_first_violation() {
        let scenario = presets::get("seed")
            .unwrap()
            .with_variant(Variant::Livelock);
        let model = StepModel::new(scenario);
        let g = Graph::explore(&model, Bounds::unbounded());
        let (i, id) = g
            .discoveries
            .iter()
            .enumerate()
            .filter_map(|(i, d)| Some((i, (*d)?)))
            .filter(|&(i, _)| model.properties()[i].expectation == Expectation::Always)
            .min_by_key(|&(_, id)| id)
            .expect("livelock violates an invariant on seed");
        let bound = bound_through(&g, 1, id);
        let explore = |max| {
            Graph::explore(
                &model,
                Bounds {
                    max_states: Some(max),
                    ..Bounds::unbounded()
                },
            )
        };
        let partial = explore(bound);
        assert_eq!(partial.discoveries[i], Some(id));
        assert!(partial.expanded() > id as usize);
        assert!(partial.expanded() < g.expanded() / 4, "stopped early");
        // One state fewer and the violating state is never evaluated: the bound is tight.
        assert_eq!(explore(bound - 1).discoveries[i], None);
    }
}
