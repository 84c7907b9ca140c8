//! `lbq shuttle`: the threaded composition under shuttle's randomized schedulers
//! (uniform random, or PCT with a priority-change depth), many iterations, seeds pinned.
//!
//! Every iteration is one whole run of the scenario. A run's violations and failures
//! are tallied per property instead of panicking, so one budget of iterations says
//! everything the scheduler found; the first failing schedule of each kind is kept as
//! shuttle's encoded schedule, with the run's history, for `lbq replay --shuttle`.
//! shuttle's own step bound (`MaxSteps::FailAfter`) backs up the per-call round bound:
//! it catches a run that never ends in a way the round bound does not see.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use shuttle::scheduler::{PctScheduler, RandomScheduler, ReplayScheduler, Scheduler};
use shuttle::{Config as ShuttleConfig, FailurePersistence, MaxSteps, Runner};

use super::facade::Shuttle;
use super::{panic_message, Config, Outcome};
use crate::scenario::Scenario;

/// Which shuttle scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum SchedulerKind {
    /// Uniformly random choice at every scheduling point.
    Random,
    /// Probabilistic concurrency testing: random priorities, `depth` change points.
    Pct {
        /// Priority change points per run (the bug depth it targets).
        depth: usize,
    },
}

impl std::fmt::Display for SchedulerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SchedulerKind::Random => f.write_str("random"),
            SchedulerKind::Pct { depth } => write!(f, "pct (depth {depth})"),
        }
    }
}

/// A shuttle campaign.
#[derive(Clone, Debug)]
pub struct Options {
    /// The scheduler.
    pub scheduler: SchedulerKind,
    /// Iterations (whole runs) at most.
    pub iterations: usize,
    /// The scheduler's seed.
    pub seed: u64,
    /// Stop at the first failing run (the rest of the budget is skipped).
    pub stop_at_first: bool,
    /// shuttle's step bound per run (`MaxSteps::FailAfter`).
    pub max_steps: usize,
    /// Wall-clock budget, if any (the campaign stops early, and says so).
    pub max_time: Option<Duration>,
    /// The composition's settings (round bound).
    pub config: Config,
}

impl Options {
    /// Defaults for a scenario: random scheduler, the default round bound, and a step
    /// bound of [`steps_bound`].
    pub fn new(
        scenario: &Scenario,
        scheduler: SchedulerKind,
        iterations: usize,
        seed: u64,
    ) -> Self {
        Options {
            scheduler,
            iterations,
            seed,
            stop_at_first: false,
            max_steps: steps_bound(scenario),
            max_time: None,
            config: Config::default(),
        }
    }
}

/// shuttle's step bound for a scenario: a generous multiple of what a correct run
/// takes. A stream's task runs at most about 12 sections without retrying (twice as
/// many steps with split atomics), each section is at most a handful of scheduling
/// points (lock, notify, unlock, and a wait), and the CLI and clients add one section
/// each per command and stream. It must stay above what a run takes to reach the round
/// bound, so that a loop in one call is reported as such.
pub fn steps_bound(scenario: &Scenario) -> usize {
    let sections = 12 * scenario.streams.len() + 2 * scenario.cli.len() + scenario.streams.len();
    5_000 + 100 * sections
}

/// The first failing run of one kind.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Found {
    /// The property (`livelock`, `no_stream_lost`, an `always` property, or `step_bound`).
    pub property: String,
    /// What happened, in words.
    pub detail: String,
    /// Its iteration (1-based).
    pub iteration: usize,
    /// Seconds from the start of the campaign to the end of that run.
    pub seconds: f64,
    /// Failing runs of this kind in the campaign.
    pub count: usize,
    /// shuttle's encoded schedule of that run (`ReplayScheduler::new_from_encoded`).
    pub schedule: String,
    /// The actor of every section of that run (replayable by the step model).
    pub history: Vec<String>,
}

/// What a campaign found.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// The scheduler.
    pub scheduler: SchedulerKind,
    /// Its seed.
    pub seed: u64,
    /// Iterations asked for.
    pub iterations: usize,
    /// Iterations run.
    pub iterations_run: usize,
    /// Whether every iteration asked for ran (not stopped by a failure or the clock).
    pub complete: bool,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Sections run over all iterations.
    pub sections: u64,
    /// shuttle's step bound per run.
    pub max_steps: usize,
    /// The `goto balance_again` bound per call.
    pub round_bound: Option<u32>,
    /// Each kind of failure found, first found first.
    pub found: Vec<Found>,
}

impl Report {
    /// Whether any run failed.
    pub fn failed(&self) -> bool {
        !self.found.is_empty()
    }

    /// The kinds found, by name.
    pub fn properties(&self) -> Vec<&str> {
        self.found.iter().map(|f| f.property.as_str()).collect()
    }
}

/// What the runs report to the campaign, across shuttle's executions.
#[derive(Default)]
struct Tally {
    runs: usize,
    sections: u64,
    found: Vec<Found>,
    stop: bool,
}

impl Tally {
    fn note(&mut self, property: &str, detail: String, history: &[crate::Actor], start: Instant) {
        let runs = self.runs;
        match self.found.iter_mut().find(|f| f.property == property) {
            Some(f) => f.count += 1,
            None => self.found.push(Found {
                property: property.to_string(),
                detail,
                iteration: runs,
                seconds: start.elapsed().as_secs_f64(),
                count: 1,
                schedule: current_schedule(),
                history: history.iter().map(|a| a.to_string()).collect(),
            }),
        }
    }
}

/// The schedule of the shuttle execution in progress, encoded.
fn current_schedule() -> String {
    let schedule = shuttle_engine::runtime::execution::CurrentSchedule::get_schedule();
    shuttle_engine::scheduler::serialization::serialize_schedule(&schedule)
}

/// Runs a campaign: `options.iterations` runs of `scenario` under shuttle.
pub fn run(scenario: &Scenario, options: &Options) -> Report {
    let scheduler: Box<dyn Scheduler + Send> = match options.scheduler {
        SchedulerKind::Random => Box::new(RandomScheduler::new_from_seed(
            options.seed,
            options.iterations,
        )),
        SchedulerKind::Pct { depth } => Box::new(PctScheduler::new_from_seed(
            options.seed,
            depth,
            options.iterations,
        )),
    };
    campaign(scenario, options, scheduler)
}

/// Replays one schedule (from a [`Found`]) and returns the campaign of that one run.
pub fn replay(scenario: &Scenario, options: &Options, schedule: &str) -> Result<Report, String> {
    // shuttle's decoder panics on text that is not a schedule; check it first.
    shuttle_engine::scheduler::serialization::deserialize_schedule(schedule)
        .ok_or("the schedule is not one shuttle wrote (bad encoding)")?;
    let mut replay = ReplayScheduler::new_from_encoded(schedule);
    // The schedule was taken when the run was judged, a few steps before its end.
    replay.set_allow_incomplete();
    Ok(campaign(scenario, options, Box::new(replay)))
}

fn campaign(
    scenario: &Scenario,
    options: &Options,
    scheduler: Box<dyn Scheduler + Send>,
) -> Report {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let start = Instant::now();
    let mut config = ShuttleConfig::new();
    config.failure_persistence = FailurePersistence::None;
    config.max_steps = MaxSteps::FailAfter(options.max_steps);
    config.max_time = options.max_time;
    config.silence_warnings = true;
    let runner = Runner::new(scheduler, config);
    let (sc, cfg, stop_at_first) = (scenario.clone(), options.config, options.stop_at_first);
    let body = {
        let tally = Arc::clone(&tally);
        move || {
            if tally.lock().expect("tally").stop {
                return;
            }
            let out = super::run::<Shuttle>(&sc, cfg);
            let mut t = tally.lock().expect("tally");
            t.runs += 1;
            t.sections += out.sections;
            note_outcome(&mut t, &out, start);
            t.stop |= stop_at_first && !t.found.is_empty();
        }
    };
    // shuttle reports its own failures (the step bound, a deadlock) by panicking.
    let quiet = QuietPanics::install();
    let result = panic::catch_unwind(AssertUnwindSafe(|| runner.run(body)));
    drop(quiet);
    let mut t = tally.lock().expect("tally");
    if let Err(payload) = result {
        let message = panic_message(payload.as_ref());
        let schedule = quiet_schedule();
        t.runs += 1;
        let property = if message.contains("exceeded max_steps") {
            "step_bound"
        } else {
            "shuttle"
        };
        let runs = t.runs;
        t.found.push(Found {
            property: property.to_string(),
            detail: message,
            iteration: runs,
            seconds: start.elapsed().as_secs_f64(),
            count: 1,
            schedule,
            history: Vec::new(),
        });
    }
    Report {
        scheduler: options.scheduler,
        seed: options.seed,
        iterations: options.iterations,
        iterations_run: t.runs,
        complete: t.runs >= options.iterations,
        seconds: start.elapsed().as_secs_f64(),
        sections: t.sections,
        max_steps: options.max_steps,
        round_bound: options.config.round_bound,
        found: std::mem::take(&mut t.found),
    }
}

/// Tallies one run: its violations, then its failure.
fn note_outcome(t: &mut Tally, out: &Outcome, start: Instant) {
    for v in &out.violations {
        t.note(&v.property, v.to_string(), &out.history, start);
    }
    if let Some(f) = &out.failure {
        t.note(f.kind(), f.to_string(), &out.history, start);
    }
}

std::thread_local! {
    /// The schedule of the execution that panicked last on this thread.
    static PANIC_SCHEDULE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    /// Whether this thread runs a campaign (shuttle runs its tasks on it).
    static IN_CAMPAIGN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn quiet_schedule() -> String {
    PANIC_SCHEDULE.with(|s| std::mem::take(&mut *s.borrow_mut()))
}

type PanicHook = dyn Fn(&panic::PanicHookInfo<'_>) + Sync + Send + 'static;

/// While installed, a panic inside this thread's campaign keeps its schedule and prints
/// nothing (the campaign reports it); a panic on any other thread goes to the previous
/// hook, which comes back on drop.
struct QuietPanics(std::sync::Arc<PanicHook>);

impl QuietPanics {
    fn install() -> QuietPanics {
        let previous: std::sync::Arc<PanicHook> = std::sync::Arc::from(panic::take_hook());
        let others = std::sync::Arc::clone(&previous);
        panic::set_hook(Box::new(move |info| {
            if IN_CAMPAIGN.with(|c| c.get()) {
                let schedule = current_schedule();
                PANIC_SCHEDULE.with(|s| *s.borrow_mut() = schedule);
            } else {
                others(info);
            }
        }));
        IN_CAMPAIGN.with(|c| c.set(true));
        QuietPanics(previous)
    }
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        IN_CAMPAIGN.with(|c| c.set(false));
        let previous = std::sync::Arc::clone(&self.0);
        panic::set_hook(Box::new(move |info| previous(info)));
    }
}

/// The schedule file's `format` field.
pub const FORMAT: &str = "lbq-shuttle";
/// The schedule file schema version this code writes and reads.
pub const VERSION: u32 = 1;

/// A failing shuttle run, saved for `lbq replay --shuttle` (JSON, written whole).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScheduleFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// Schema version ([`VERSION`]).
    pub version: u32,
    /// The variant it failed in.
    pub variant: String,
    /// The scenario's name.
    pub scenario_name: String,
    /// The scenario, as a scenario file (TOML).
    pub scenario_toml: String,
    /// The campaign's scheduler and seed (to run the whole campaign again).
    pub scheduler: SchedulerKind,
    /// The campaign's seed.
    pub seed: u64,
    /// The campaign's round bound.
    pub round_bound: Option<u32>,
    /// The campaign's step bound.
    pub max_steps: usize,
    /// The failing run: its schedule and history.
    pub found: Found,
}

impl ScheduleFile {
    /// The file for one failing run of a campaign.
    pub fn new(scenario: &Scenario, report: &Report, found: &Found) -> ScheduleFile {
        ScheduleFile {
            format: FORMAT.to_string(),
            version: VERSION,
            variant: scenario.variant.name().to_string(),
            scenario_name: scenario.name.clone(),
            scenario_toml: scenario.to_toml(),
            scheduler: report.scheduler,
            seed: report.seed,
            round_bound: report.round_bound,
            max_steps: report.max_steps,
            found: found.clone(),
        }
    }

    /// Checks the format and version of a parsed file.
    pub fn validate(&self) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!(
                "field `format`: expected \"{FORMAT}\", found {:?}",
                self.format
            ));
        }
        if self.version != VERSION {
            return Err(format!(
                "field `version`: expected {VERSION}, found {}",
                self.version
            ));
        }
        Ok(())
    }

    /// The scenario it failed in, with its variant.
    pub fn scenario(&self) -> Result<Scenario, String> {
        let variant: crate::Variant = self
            .variant
            .parse()
            .map_err(|e| format!("field `variant`: {e}"))?;
        Scenario::from_toml(&self.scenario_toml, &self.scenario_name)
            .map(|s| s.with_variant(variant))
            .map_err(|e| format!("field `scenario_toml`: {e}"))
    }

    /// The campaign options that replay it.
    pub fn options(&self, scenario: &Scenario) -> Options {
        let mut options = Options::new(scenario, self.scheduler, 1, self.seed);
        options.max_steps = self.max_steps;
        options.config.round_bound = self.round_bound;
        options
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets;

    #[test]
    fn scheduler_kinds_print_as_lbq_shuttle_names_them() {
        assert_eq!(SchedulerKind::Random.to_string(), "random");
        assert_eq!(SchedulerKind::Pct { depth: 3 }.to_string(), "pct (depth 3)");
    }

    #[test]
    fn steps_bound_is_5000_plus_100_per_section_of_a_correct_run() {
        // seed: 4 streams, 3 CLI commands: 12·4 + 2·3 + 4 = 58 sections.
        let seed = presets::get("seed").expect("preset");
        assert_eq!(steps_bound(&seed), 5_000 + 100 * 58);
        // hash: 3 streams, 3 commands: 36 + 6 + 3 = 45.
        assert_eq!(steps_bound(&presets::get("hash").expect("preset")), 9_500);
        // repro: 40 streams, 9 commands: 480 + 18 + 40 = 538.
        assert_eq!(steps_bound(&presets::get("repro").expect("preset")), 58_800);
        let options = Options::new(&seed, SchedulerKind::Random, 10, 1);
        assert_eq!(options.max_steps, 10_800);
    }

    fn found(property: &str) -> Found {
        Found {
            property: property.to_string(),
            detail: String::new(),
            iteration: 3,
            seconds: 0.5,
            count: 2,
            schedule: String::new(),
            history: vec!["client".to_string(), "T1".to_string()],
        }
    }

    fn report(found: Vec<Found>) -> Report {
        Report {
            scheduler: SchedulerKind::Pct { depth: 2 },
            seed: 7,
            iterations: 10,
            iterations_run: 10,
            complete: true,
            seconds: 1.0,
            sections: 300,
            max_steps: 10_800,
            round_bound: Some(crate::threaded::DEFAULT_ROUND_BOUND),
            found,
        }
    }

    #[test]
    fn report_properties_lists_the_kinds_found_first_found_first() {
        let r = report(vec![found("no_stream_lost"), found("livelock")]);
        assert!(r.failed());
        assert_eq!(r.properties(), ["no_stream_lost", "livelock"]);
        let clean = report(Vec::new());
        assert!(!clean.failed());
        assert!(clean.properties().is_empty());
    }

    #[test]
    fn schedule_file_validate_names_the_wrong_field() {
        let sc = presets::get("seed").expect("preset");
        let r = report(vec![found("livelock")]);
        let file = ScheduleFile::new(&sc, &r, &r.found[0]);
        assert_eq!(file.validate(), Ok(()));
        let mut other = file.clone();
        other.format = "lbq-trace".to_string();
        assert_eq!(
            other.validate(),
            Err("field `format`: expected \"lbq-shuttle\", found \"lbq-trace\"".to_string())
        );
        let mut newer = file.clone();
        newer.version = VERSION + 1;
        assert_eq!(
            newer.validate(),
            Err(format!(
                "field `version`: expected {VERSION}, found {}",
                VERSION + 1
            ))
        );
        // What replays it: the campaign's seed, scheduler and bounds, one iteration.
        let options = file.options(&sc);
        assert_eq!(
            (options.iterations, options.seed, options.max_steps),
            (1, 7, 10_800)
        );
        assert_eq!(options.scheduler, SchedulerKind::Pct { depth: 2 });
    }

    #[test]
    fn quiet_panics_gives_the_previous_hook_back() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static SEEN: AtomicUsize = AtomicUsize::new(0);
        const MARK: &str = "lbqueue: a panic for the previous hook";
        let original = panic::take_hook();
        panic::set_hook(Box::new(|info| {
            if panic_message(info.payload()) == MARK {
                SEEN.fetch_add(1, Ordering::SeqCst);
            }
        }));
        let quiet = QuietPanics::install();
        assert!(IN_CAMPAIGN.with(|c| c.get()));
        drop(quiet);
        let restored = !IN_CAMPAIGN.with(|c| c.get());
        if restored {
            // Outside a campaign, a panic on this thread reaches the previous hook.
            let _ = panic::catch_unwind(|| panic::panic_any(MARK));
        }
        panic::set_hook(original);
        assert!(
            restored,
            "still in a campaign after QuietPanics was dropped"
        );
        assert_eq!(SEEN.load(Ordering::SeqCst), 1);
    }
}
