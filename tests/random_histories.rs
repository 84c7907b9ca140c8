//! Random histories: a random small scenario ([`lbqueue::random`], atomics in-section or
//! split on a coin) run under a random schedule, then finished by a fair round-robin
//! scheduler, checked after every step.
//!
//! - `fixed`: `counters_consistent` after every step, every `always` property of the
//!   step model on every visited state, no call of assign_server_and_queue longer than a
//!   small bound of sections or revisiting a state (a loop), and the history finishes.
//! - `livelock`, `purge` and `toctou`: the same generator must find their bugs (a weakly
//!   fair loop and the watchdog's stuck loop; any loop; an orphaned pendconn or a backend
//!   queue that does not drain), so these properties can fail. Every failure is counted
//!   by property, and the first is shrunk and printed (`--nocapture`).
//!
//! A schedule is a string of choices, one actor slot each (see [`CLI_SLOT`]); a choice
//! whose actor cannot run picks among those that can, so every prefix is valid.
//!
//! Every run prints its seed; rerun one with `LBQ_SEED=0x… cargo test --release --test
//! random_histories NAME -- --nocapture`. `LBQ_HISTORIES=N` runs N histories per test
//! instead of the pinned 20,000. A failing `fixed` history is written to
//! `target/lbq-failures/` as a scenario file, with its schedule in a comment; replay it
//! step by step with `LBQ_REPLAY=FILE cargo test --release --test random_histories
//! replay -- --nocapture`.

mod common;
use common::uniform_u64;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::time::Instant;

use lbqueue::invariants::counters_consistent;
use lbqueue::random::{random_scenario, reductions, Limits, Reduction, SplitMix64};
use lbqueue::scenario::limits;
use lbqueue::{
    enabled_actors, is_enabled, step, Actor, Journal, Scenario, StreamId, System, Variant,
};
use lbqueue_models::StepModel;
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};
use stateright::{Expectation, Model, Property};

/// Longest random schedule; the round-robin finish comes after it.
const MAX_SCHEDULE: u64 = 120;
/// Most round-robin steps to finish a history (nothing enabled any more).
const FINISH_BOUND: usize = 5_000;
/// Histories per test unless `LBQ_HISTORIES` says otherwise (about 0.4 s in release on
/// the 2-core development machine).
const HISTORIES: u64 = 20_000;
/// Histories of the `livelock` searches: its weakly fair and stuck loops are rarer
/// (about 1 and 0.8 in 10,000 histories).
const LIVELOCK_HISTORIES: u64 = 100_000;

// ---------------------------------------------------------------------------------------
// Histories

/// The variant a [`History`] is generated for, and what its runs watch (a type, because
/// quickcheck properties are plain `fn`s).
trait Tag: Clone + Send + 'static {
    const VARIANT: Variant;
    const GOAL: Goal;
}

#[derive(Clone)]
struct Fixed;
impl Tag for Fixed {
    const VARIANT: Variant = Variant::Fixed;
    const GOAL: Goal = Goal::Everything;
}

#[derive(Clone)]
struct Livelock;
impl Tag for Livelock {
    const VARIANT: Variant = Variant::Livelock;
    const GOAL: Goal = Goal::FairLoops;
}

#[derive(Clone)]
struct LivelockStuck;
impl Tag for LivelockStuck {
    const VARIANT: Variant = Variant::Livelock;
    const GOAL: Goal = Goal::StuckLoops;
}

#[derive(Clone)]
struct Purge;
impl Tag for Purge {
    const VARIANT: Variant = Variant::Purge;
    const GOAL: Goal = Goal::Loops;
}

#[derive(Clone)]
struct Master;
impl Tag for Master {
    const VARIANT: Variant = Variant::Master;
    const GOAL: Goal = Goal::Queues;
}

#[derive(Clone)]
struct MasterFixed;
impl Tag for MasterFixed {
    const VARIANT: Variant = Variant::MasterFixed;
    const GOAL: Goal = Goal::Everything;
}

#[derive(Clone)]
struct Toctou;
impl Tag for Toctou {
    const VARIANT: Variant = Variant::Toctou;
    const GOAL: Goal = Goal::Queues;
}

/// Schedule choices name an actor by a fixed slot: `0`–`7` the threads T1–T8, `8` the
/// CLI, `9` the client, `a`, `b` … the queue timers of S1, S2 … (one base-36 digit
/// each when printed). A choice runs its actor when it is enabled, else
/// `enabled[choice % enabled.len()]`, so every prefix of every schedule is valid on
/// every scenario, and a choice keeps meaning the same actor when the steps around it
/// are dropped by shrinking.
const CLI_SLOT: u8 = limits::THREADS;
const CLIENT_SLOT: u8 = CLI_SLOT + 1;
const TIMER_SLOT: u8 = CLIENT_SLOT + 1;
/// One base-36 digit per choice: timers of S1–S26, far more streams than these
/// histories draw.
const SLOTS: u8 = 36;
const _: () = assert!(Limits::SMALL.max_streams <= (SLOTS - TIMER_SLOT) as usize);

fn slot_actor(slot: u8) -> Actor {
    match slot % SLOTS {
        CLI_SLOT => Actor::Cli,
        CLIENT_SLOT => Actor::Client,
        t if t < CLI_SLOT => Actor::Thread(t),
        s => Actor::Timeout(s - TIMER_SLOT),
    }
}

fn actor_slot(a: Actor) -> u8 {
    match a {
        Actor::Thread(t) => t,
        Actor::Cli => CLI_SLOT,
        Actor::Client => CLIENT_SLOT,
        Actor::Timeout(s) => TIMER_SLOT + s,
        Actor::ConnError(_) => unreachable!("random scenarios draw no connection errors"),
    }
}

/// The actor a choice runs among the enabled ones (non-empty).
fn resolve(choice: u8, enabled: &[Actor]) -> Actor {
    let wanted = slot_actor(choice);
    if enabled.contains(&wanted) {
        wanted
    } else {
        enabled[choice as usize % enabled.len()]
    }
}

/// A scenario and a schedule of choices (see [`CLI_SLOT`]), then a round-robin finish.
#[derive(Clone)]
struct History<V> {
    scenario: Scenario,
    schedule: Vec<u8>,
    _variant: PhantomData<V>,
}

impl<V> History<V> {
    fn new(scenario: Scenario, schedule: Vec<u8>) -> Self {
        History {
            scenario,
            schedule,
            _variant: PhantomData,
        }
    }
}

fn schedule_string(schedule: &[u8]) -> String {
    schedule
        .iter()
        .map(|&c| char::from_digit(c.into(), 36).expect("choices are base-36 digits"))
        .collect()
}

fn parse_schedule(text: &str) -> Option<Vec<u8>> {
    text.chars()
        .map(|c| c.to_digit(36).map(|d| d as u8).filter(|&d| d < SLOTS))
        .collect()
}

impl<V> fmt::Debug for History<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "schedule = {:?} ({} choices) on\n{}",
            schedule_string(&self.schedule),
            self.schedule.len(),
            self.scenario.to_toml()
        )
    }
}

/// Carries a schedule over to a scenario reduced by `r`: choices of a removed thread go
/// to thread 0 (where its streams went), a removed stream's timer choices are dropped,
/// later threads and timers are renumbered.
fn carry_over(schedule: &[u8], r: Reduction) -> Vec<u8> {
    schedule
        .iter()
        .filter_map(|&c| match (r, slot_actor(c)) {
            (Reduction::Thread(gone), Actor::Thread(t)) if t == gone => Some(0),
            (Reduction::Thread(gone), Actor::Thread(t)) if t > gone => Some(t - 1),
            (Reduction::Stream(i), Actor::Timeout(s)) if s as usize == i => None,
            (Reduction::Stream(i), Actor::Timeout(s)) if s as usize > i => {
                Some(actor_slot(Actor::Timeout(s - 1)))
            }
            _ => Some(c),
        })
        .collect()
}

impl<V: Tag> Arbitrary for History<V> {
    fn arbitrary(g: &mut Gen) -> Self {
        let seed = uniform_u64(g);
        let mut rng = SplitMix64::new(seed);
        let mut scenario = random_scenario(&mut rng, &Limits::small(V::VARIANT));
        scenario.name = format!("random-{seed:016x}");
        // Uniform over the scenario's actors, in bursts: the same choice 1–4 times in a
        // row, so that an actor often runs a few sections alone (a spinning thread, a
        // CLI command's two halves).
        let actors: Vec<u8> = all_actors(&scenario).into_iter().map(actor_slot).collect();
        let len = rng.between(0, MAX_SCHEDULE) as usize;
        let mut schedule = Vec::with_capacity(len);
        while schedule.len() < len {
            let c = *rng.pick(&actors);
            let burst = rng.between(1, 4) as usize;
            schedule.extend(std::iter::repeat_n(c, burst.min(len - schedule.len())));
        }
        History::new(scenario, schedule)
    }

    /// First the failing path itself as the schedule when it is shorter (the tail that
    /// did not matter goes); then smaller scenarios, each with the schedule carried over
    /// and as it was; then shorter schedules (halves, quarters … single choices
    /// dropped); then choices lowered to 0. Every candidate is valid by construction,
    /// and each is smaller in (scenario size + schedule length, sum of choices).
    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let mut out: Vec<Self> = Vec::new();
        if let Err(f) = run(&self.scenario, &self.schedule, V::GOAL) {
            let path: Vec<u8> = f.actors.iter().map(|&a| actor_slot(a)).collect();
            if path.len() < self.schedule.len() {
                out.push(History::new(self.scenario.clone(), path));
            }
        }
        for (r, s) in reductions(&self.scenario) {
            let carried = carry_over(&self.schedule, r);
            if carried != self.schedule {
                out.push(History::new(s.clone(), carried));
            }
            out.push(History::new(s, self.schedule.clone()));
        }
        let n = self.schedule.len();
        let mut chunk = n;
        while chunk > 0 {
            let mut start = 0;
            while start < n {
                let end = (start + chunk).min(n);
                let mut s = self.schedule.clone();
                s.drain(start..end);
                out.push(History::new(self.scenario.clone(), s));
                start += chunk;
            }
            chunk /= 2;
        }
        for i in 0..n {
            if self.schedule[i] != 0 {
                let mut s = self.schedule.clone();
                s[i] = 0;
                out.push(History::new(self.scenario.clone(), s));
            }
        }
        Box::new(out.into_iter())
    }
}

// ---------------------------------------------------------------------------------------
// Running a history

/// What a run watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Goal {
    /// `fixed`: counters, every always-property, loops, finishing.
    Everything,
    /// Counters, loops and finishing only (the `purge` search).
    Loops,
    /// Counters, finishing, and only weakly fair loops, on which every enabled actor
    /// steps (the `livelock` search: `assign_terminates`, and the loop HAProxy's watchdog
    /// kills when nothing else can run); spin-waits are let run.
    FairLoops,
    /// Counters, finishing, and only loops that nothing else can run beside (the loop
    /// HAProxy's watchdog kills: `assign_can_return`).
    StuckLoops,
    /// Counters and the two queue properties only (the `toctou` search).
    Queues,
}

impl Goal {
    fn watches(self, property: &str) -> bool {
        match self {
            Goal::Everything => true,
            Goal::Loops | Goal::FairLoops | Goal::StuckLoops => false,
            Goal::Queues => matches!(property, "no_orphan_pendconn" | "backend_queue_drains"),
        }
    }

    fn loops(self) -> bool {
        !matches!(self, Goal::Queues)
    }
}

/// A history that broke a property.
#[derive(Clone, Debug)]
struct Failure {
    /// The property: `counters_consistent`, an always-property, a kind of loop
    /// ([`LOOPS`]) or `finishes`.
    property: String,
    detail: String,
    /// The actors run, up to and including the failing step.
    actors: Vec<Actor>,
    /// How many of them came from the random schedule (the rest: round-robin).
    random_steps: usize,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = if self.actors.len() > self.random_steps {
            "in the round-robin finish"
        } else {
            "in the random schedule"
        };
        write!(
            f,
            "{} violated at step {} ({phase}): {}",
            self.property,
            self.actors.len(),
            self.detail
        )
    }
}

/// What a passing run saw (coverage).
#[derive(Default)]
struct Seen {
    steps: usize,
    /// Sometimes-properties reached on the way.
    reached: Vec<&'static str>,
}

/// One call of assign_server_and_queue in progress on a thread.
struct Call {
    stream: StreamId,
    sections: usize,
    /// Every state seen during the call, with the step that reached it.
    seen: HashMap<System, usize>,
}

/// Flags a call of assign_server_and_queue that revisits a state of the whole system
/// (from there the same steps can repeat forever: a loop) or runs more than
/// `max_sections` of its own sections.
struct LoopDetector {
    calls: Vec<Option<Call>>,
    max_sections: usize,
    /// Which repeats fail; the others are let run.
    goal: Goal,
    /// The last step on which a call of assign_server_and_queue returned.
    last_progress: usize,
}

impl LoopDetector {
    fn new(sc: &Scenario, goal: Goal) -> Self {
        // In `fixed` a call retries only when no server is usable, and each retry that
        // does not end in NOSRV needs an `enable` in between: at most (commands + 1)
        // attempts of 3 sections each.
        LoopDetector {
            calls: (0..sc.threads).map(|_| None).collect(),
            max_sections: 4 * (sc.cli.len() + 2),
            goal,
            last_progress: 0,
        }
    }

    /// Looks at the state reached by `actors` (non-empty); `atomic`: the last step was a
    /// counter update owed from a section (split atomics), not a section.
    fn observe(
        &mut self,
        sys: &System,
        sc: &Scenario,
        actors: &[Actor],
        atomic: bool,
    ) -> Result<(), (String, String)> {
        let actor = *actors.last().expect("a step was taken");
        for (t, th) in sys.threads.iter().enumerate() {
            let Some(s) = th.task.filter(|k| k.pc.in_assign()).map(|k| k.stream) else {
                if self.calls[t].take().is_some() {
                    self.last_progress = actors.len();
                }
                continue;
            };
            let ongoing = matches!(&self.calls[t], Some(c) if c.stream == s);
            if !ongoing {
                if self.calls[t].is_some() {
                    self.last_progress = actors.len();
                }
                self.calls[t] = Some(Call {
                    stream: s,
                    sections: 0,
                    seen: HashMap::new(),
                });
            }
            let call = self.calls[t].as_mut().expect("just set");
            if ongoing && actor == Actor::Thread(t as u8) && !atomic {
                call.sections += 1;
            }
            if call.sections > self.max_sections
                && matches!(self.goal, Goal::Everything | Goal::Loops)
            {
                return Err((
                    "assign_too_long".into(),
                    format!(
                        "T{}'s call of assign_server_and_queue for S{} ran {} sections (bound {})",
                        t + 1,
                        s + 1,
                        call.sections,
                        self.max_sections
                    ),
                ));
            }
            if let Some(&first) = call.seen.get(sys) {
                let cycle = &actors[first..];
                let progress = self.last_progress > first;
                let fails = match self.goal {
                    Goal::FairLoops => is_fair(sys, sc, cycle) && !progress,
                    Goal::StuckLoops => is_stuck(sys, sc) && !progress,
                    _ => true,
                };
                if !fails {
                    call.seen.insert(sys.clone(), actors.len());
                    continue;
                }
                let (name, kind) = classify_cycle(sys, sc, cycle, progress);
                return Err((
                    name.into(),
                    format!(
                        "the whole system is back in the state of step {first} while T{} is \
                         still in S{}'s call of assign_server_and_queue ({} of its sections \
                         since); {kind}",
                        t + 1,
                        s + 1,
                        call.sections,
                    ),
                ));
            }
            call.seen.insert(sys.clone(), actors.len());
        }
        Ok(())
    }
}

/// Whether every actor enabled at the state where `cycle` closes steps on it.
fn is_fair(sys: &System, sc: &Scenario, cycle: &[Actor]) -> bool {
    let mut enabled = Vec::new();
    enabled_actors(sys, sc, &mut enabled);
    enabled.iter().all(|a| cycle.contains(a))
}

/// Whether the looping thread is all that can run.
fn is_stuck(sys: &System, sc: &Scenario) -> bool {
    let mut enabled = Vec::new();
    enabled_actors(sys, sc, &mut enabled);
    enabled.len() == 1
}

/// What kind of loop `cycle` (the steps from a state back to it) is, named after the
/// checker's termination property it violates, and in words. `progress` says whether
/// some other call of assign_server_and_queue returned on the cycle.
fn classify_cycle(
    sys: &System,
    sc: &Scenario,
    cycle: &[Actor],
    progress: bool,
) -> (&'static str, String) {
    let mut enabled = Vec::new();
    enabled_actors(sys, sc, &mut enabled);
    let on_cycle: HashSet<Actor> = cycle.iter().copied().collect();
    let idle: Vec<String> = enabled
        .iter()
        .filter(|a| !on_cycle.contains(a))
        .map(|a| a.to_string())
        .collect();
    let steps = format!("[{}]", actor_list(cycle));
    if progress {
        (
            "assign_starves",
            format!(
                "other calls return on the cycle {steps}, but this one never does (starvation{})",
                if idle.is_empty() {
                    ", on a weakly fair cycle"
                } else {
                    ", while some actors do not run"
                }
            ),
        )
    } else if enabled.len() == 1 {
        (
            "assign_can_return",
            format!(
                "the cycle {steps} is all that can run: a loop no schedule leaves (also \
                 assign_terminates)"
            ),
        )
    } else if idle.is_empty() {
        (
            "assign_terminates",
            format!("every enabled actor steps on the cycle {steps}: a weakly fair loop"),
        )
    } else if on_cycle.len() == 1 {
        (
            "assign_solo_terminates",
            format!(
                "the cycle {steps} is the thread alone: a spin-wait that lasts while {} do \
                 not run",
                idle.join(", ")
            ),
        )
    } else {
        (
            "assign_unfair_loop",
            format!(
                "the cycle {steps} lasts while {} do not run: an unfair loop",
                idle.join(", ")
            ),
        )
    }
}

/// The names a loop failure can have.
const LOOPS: &[&str] = &[
    "assign_can_return",
    "assign_terminates",
    "assign_solo_terminates",
    "assign_unfair_loop",
    "assign_starves",
    "assign_too_long",
    "finishes",
];

/// The loops every enabled actor steps on.
const FAIR_LOOPS: &[&str] = &["assign_can_return", "assign_terminates", "finishes"];

/// Every actor of a scenario, in round-robin order.
fn all_actors(sc: &Scenario) -> Vec<Actor> {
    let mut v: Vec<Actor> = (0..sc.threads).map(Actor::Thread).collect();
    v.push(Actor::Cli);
    v.push(Actor::Client);
    v.extend((0..sc.streams.len() as u8).map(Actor::Timeout));
    v
}

/// The checks of one run, with what it has seen so far.
struct Watch {
    model: StepModel,
    always: Vec<Property<StepModel>>,
    sometimes: Vec<Property<StepModel>>,
    reached: Vec<bool>,
    detector: LoopDetector,
    goal: Goal,
}

impl Watch {
    fn new(sc: &Scenario, goal: Goal) -> Self {
        let model = StepModel::new(sc.clone());
        let (always, sometimes): (Vec<_>, Vec<_>) = model
            .properties()
            .into_iter()
            .partition(|p| matches!(p.expectation, Expectation::Always));
        Watch {
            always: always
                .into_iter()
                .filter(|p| goal.watches(p.name))
                .collect(),
            reached: vec![false; sometimes.len()],
            sometimes,
            detector: LoopDetector::new(sc, goal),
            model,
            goal,
        }
    }

    /// Checks the state reached by `actors` (`random` of them from the schedule); `atomic`:
    /// the last step made a counter update the actor owed (split atomics).
    fn check(
        &mut self,
        sys: &System,
        actors: &[Actor],
        random: usize,
        atomic: bool,
    ) -> Result<(), Failure> {
        let fail = |property: String, detail: String| Failure {
            property,
            detail,
            actors: actors.to_vec(),
            random_steps: random.min(actors.len()),
        };
        counters_consistent(sys).map_err(|e| fail("counters_consistent".into(), e))?;
        if let Some(p) = self
            .always
            .iter()
            .find(|p| !(p.condition)(&self.model, sys))
        {
            return Err(fail(p.name.into(), describe(sys)));
        }
        for (i, p) in self.sometimes.iter().enumerate() {
            self.reached[i] |= (p.condition)(&self.model, sys);
        }
        if self.goal.loops() && !actors.is_empty() {
            self.detector
                .observe(sys, &self.model.scenario, actors, atomic)
                .map_err(|(property, detail)| fail(property, detail))?;
        }
        Ok(())
    }

    fn reached(&self) -> Vec<&'static str> {
        self.sometimes
            .iter()
            .zip(&self.reached)
            .filter(|(_, &r)| r)
            .map(|(p, _)| p.name)
            .collect()
    }
}

/// Runs a history: the schedule, then round-robin until nothing is enabled; checks what
/// `goal` watches after every step.
fn run(sc: &Scenario, schedule: &[u8], goal: Goal) -> Result<Seen, Failure> {
    let mut watch = Watch::new(sc, goal);
    let mut sys = System::new(sc);
    let mut actors = Vec::new();
    watch.check(&sys, &actors, 0, false)?;
    let mut enabled = Vec::new();
    for &c in schedule {
        enabled.clear();
        enabled_actors(&sys, sc, &mut enabled);
        if enabled.is_empty() {
            break;
        }
        let a = resolve(c, &enabled);
        let atomic = owes_update(&sys, a);
        step(&mut sys, sc, a, &mut Journal::silent());
        actors.push(a);
        watch.check(&sys, &actors, usize::MAX, atomic)?;
    }
    let random_steps = actors.len();
    let order = all_actors(sc);
    let mut next = 0;
    for _ in 0..FINISH_BOUND {
        let Some(k) = (0..order.len())
            .map(|k| (next + k) % order.len())
            .find(|&k| is_enabled(&sys, sc, order[k]))
        else {
            return Ok(Seen {
                steps: actors.len(),
                reached: watch.reached(),
            });
        };
        next = k + 1;
        let a = order[k];
        let atomic = owes_update(&sys, a);
        step(&mut sys, sc, a, &mut Journal::silent());
        actors.push(a);
        watch.check(&sys, &actors, random_steps, atomic)?;
    }
    Err(Failure {
        property: "finishes".into(),
        detail: format!(
            "{FINISH_BOUND} round-robin steps after the schedule, actors are still enabled"
        ),
        random_steps,
        actors,
    })
}

/// Whether `a`'s next step is a counter update it owes from its last section (split
/// atomics: `step` makes it instead of a section).
fn owes_update(sys: &System, a: Actor) -> bool {
    match a {
        Actor::Thread(t) => !sys.threads[t as usize].deferred.is_empty(),
        Actor::Cli => !sys.cli_deferred.is_empty(),
        Actor::Client | Actor::Timeout(_) | Actor::ConnError(_) => false,
    }
}

/// The state in one line: queues, served counters, stream phases.
fn describe(sys: &System) -> String {
    let bq: Vec<String> = sys
        .queue_entries(lbqueue::QueueId::Backend)
        .map(|s| format!("S{}", s + 1))
        .collect();
    let servers: Vec<String> = sys
        .px
        .servers
        .iter()
        .enumerate()
        .map(|(v, srv)| {
            format!(
                "s{} {} served {} queue {}",
                v + 1,
                if srv.maint { "MAINT" } else { "UP" },
                srv.served,
                srv.queue.queueslength()
            )
        })
        .collect();
    let streams: Vec<String> = sys
        .streams
        .iter()
        .enumerate()
        .map(|(i, s)| format!("S{} {:?}", i + 1, s.phase))
        .collect();
    format!(
        "backend queue [{}], px->served {}, {}; {}",
        bq.join(","),
        sys.px.served,
        servers.join(", "),
        streams.join(", ")
    )
}

/// The steps of a failure in HAProxy's words (long ones elided in the middle).
fn narrate(sc: &Scenario, f: &Failure) -> String {
    let model = StepModel::new(sc.clone());
    let mut sys = System::new(sc);
    let mut out = String::new();
    let n = f.actors.len();
    for (i, &a) in f.actors.iter().enumerate() {
        if i == f.random_steps {
            out.push_str("        ---- the schedule ends: round-robin from here ----\n");
        }
        let line = model.format_step(&sys, a).unwrap_or_default();
        step(&mut sys, sc, a, &mut Journal::silent());
        if i < 80 || i + 40 >= n {
            out.push_str(&format!("  {:>5}  {line}\n", i + 1));
        } else if i == 80 {
            out.push_str(&format!("        … {} steps …\n", n - 120));
        }
    }
    out
}

fn actor_list(actors: &[Actor]) -> String {
    let name = |a: &Actor| a.to_string().replace(' ', "");
    if actors.len() <= 100 {
        return actors.iter().map(name).collect::<Vec<_>>().join(" ");
    }
    let head: Vec<String> = actors[..60].iter().map(name).collect();
    let tail: Vec<String> = actors[actors.len() - 20..].iter().map(name).collect();
    format!(
        "{} … ({} more) … {}",
        head.join(" "),
        actors.len() - 80,
        tail.join(" ")
    )
}

// ---------------------------------------------------------------------------------------
// Properties and the search driver

#[derive(Default)]
struct Stats {
    histories: u64,
    /// How many histories had run when the first one failed (1-based), if one did.
    first_failure: Option<u64>,
    passed: u64,
    steps: usize,
    reached: BTreeMap<&'static str, u64>,
    failures: BTreeMap<String, u64>,
    /// Histories whose scenario has split atomics, and the sometimes-properties the
    /// passing ones reached.
    split: u64,
    split_reached: BTreeMap<&'static str, u64>,
}

thread_local! {
    /// The last failing history (after quickcheck's shrinking: the shrunk one).
    static LAST_FAILURE: RefCell<Option<(Scenario, Vec<u8>, Failure)>> = const { RefCell::new(None) };
    static STATS: RefCell<Stats> = RefCell::new(Stats::default());
}

fn judge<V>(h: &History<V>, goal: Goal) -> TestResult {
    let result = run(&h.scenario, &h.schedule, goal);
    STATS.with(|s| {
        let mut s = s.borrow_mut();
        s.histories += 1;
        let split = h.scenario.split_atomics;
        s.split += u64::from(split);
        match &result {
            Ok(seen) => {
                s.passed += 1;
                s.steps += seen.steps;
                for r in &seen.reached {
                    *s.reached.entry(r).or_default() += 1;
                    if split {
                        *s.split_reached.entry(r).or_default() += 1;
                    }
                }
            }
            Err(f) => {
                *s.failures.entry(f.property.clone()).or_default() += 1;
                if s.first_failure.is_none() {
                    s.first_failure = Some(s.histories);
                }
            }
        }
    });
    match result {
        Ok(_) => TestResult::passed(),
        Err(f) => {
            let msg = f.to_string();
            LAST_FAILURE.with(|l| {
                *l.borrow_mut() = Some((h.scenario.clone(), h.schedule.clone(), f));
            });
            TestResult::error(msg)
        }
    }
}

/// The property of a history: what its tag's goal watches holds.
fn holds<V: Tag>(h: History<V>) -> TestResult {
    judge(&h, V::GOAL)
}

fn parse_seed(s: &str) -> u64 {
    let s = s.trim();
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.unwrap_or_else(|_| panic!("LBQ_SEED: expected a decimal or 0x-hex u64, found {s:?}"))
}

/// The seed of a test: `LBQ_SEED`, else the pinned one.
fn seed(pinned: u64) -> u64 {
    std::env::var("LBQ_SEED")
        .map(|s| parse_seed(&s))
        .unwrap_or(pinned)
}

fn histories(pinned: u64) -> u64 {
    std::env::var("LBQ_HISTORIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(pinned)
}

fn gen(seed: u64) -> Gen {
    Gen::from_size_and_seed(100, seed)
}

/// What one search did.
struct Search {
    /// Histories that passed before the first failure (or all of them).
    passed: u64,
    /// The first failing history, shrunk.
    failure: Option<(Scenario, Vec<u8>, Failure)>,
    /// Every history run, shrinking included.
    stats: Stats,
    seconds: f64,
}

/// Runs `n` histories of `prop` from `seed` with quickcheck, shrinking the first failure.
fn search<V: Tag>(seed: u64, n: u64, prop: fn(History<V>) -> TestResult) -> Search {
    LAST_FAILURE.with(|l| *l.borrow_mut() = None);
    STATS.with(|s| *s.borrow_mut() = Stats::default());
    let started = Instant::now();
    let result = QuickCheck::new()
        .rng(gen(seed))
        .tests(n)
        .max_tests(n)
        .min_tests_passed(0)
        .quicktest(prop);
    let seconds = started.elapsed().as_secs_f64();
    let stats = STATS.with(|s| std::mem::take(&mut *s.borrow_mut()));
    let (passed, failure) = match result {
        Ok(passed) => (passed, None),
        Err(_) => (
            stats.first_failure.expect("a failure was counted") - 1,
            Some(
                LAST_FAILURE
                    .with(|l| l.borrow_mut().take())
                    .expect("recorded"),
            ),
        ),
    };
    Search {
        passed,
        failure,
        stats,
        seconds,
    }
}

/// Runs `n` histories of `prop` from `seed` without stopping at failures: how many fail.
fn census<V: Tag>(seed: u64, n: u64, prop: fn(History<V>) -> TestResult) -> Stats {
    STATS.with(|s| *s.borrow_mut() = Stats::default());
    let mut g = gen(seed);
    for _ in 0..n {
        let _ = prop(History::<V>::arbitrary(&mut g));
    }
    STATS.with(|s| std::mem::take(&mut *s.borrow_mut()))
}

fn report(scenario: &Scenario, schedule: &[u8], f: &Failure) -> String {
    format!(
        "{f}\nschedule = {:?} ({} choices; actors: {})\n{}\n{}",
        schedule_string(schedule),
        schedule.len(),
        actor_list(&f.actors),
        scenario.to_toml(),
        narrate(scenario, f)
    )
}

/// Writes a failing history's scenario under `target/lbq-failures/` (temporary file,
/// then rename), its schedule in comments; returns the path.
fn write_failure(scenario: &Scenario, schedule: &[u8], f: &Failure) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("lbq-failures");
    std::fs::create_dir_all(&dir).expect("create target/lbq-failures");
    let text = format!(
        "# lbq random history: {}\n# schedule = {:?}\n# (one actor per choice: 0-7 T1-T8, 8 \
         CLI, 9 client, a.. timers of S1..; one that cannot run picks enabled[choice % \
         enabled]; then round-robin)\n# actors = {:?}\n{}",
        f.to_string().replace('\n', " "),
        schedule_string(schedule),
        actor_list(&f.actors),
        scenario.to_toml()
    );
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let name = format!(
        "{}-{}-{hash:016x}.toml",
        scenario.variant.name(),
        f.property
    );
    let path = dir.join(&name);
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, &text).expect("write the failure file");
    std::fs::rename(&tmp, &path).expect("rename the failure file");
    path
}

fn print_stats(name: &str, stats: &Stats, seconds: f64) {
    println!(
        "{name}: {} histories run ({} passed, {} steps in passing ones, {} with split \
         atomics) in {seconds:.2} s; failures by property {:?}; sometimes-properties reached \
         {:?} (with split atomics {:?})",
        stats.histories,
        stats.passed,
        stats.steps,
        stats.split,
        stats.failures,
        stats.reached,
        stats.split_reached
    );
}

// ---------------------------------------------------------------------------------------
// Tests

/// What [`explore`] found: every history's outcome, then the first failure, shrunk.
struct Exploration {
    census: Stats,
    census_seconds: f64,
    search: Option<Search>,
}

/// Runs `n` histories of `V` from `seed`, counting failures by property; when one
/// fails, has quickcheck (same seed, same histories) find the first failure again and
/// shrink it.
fn explore<V: Tag>(name: &str, seed: u64, n: u64) -> Exploration {
    println!(
        "{name}: {n} histories, seed {seed:#018x} (rerun: LBQ_SEED={seed:#x} cargo test \
         --release --test random_histories {name} -- --nocapture)"
    );
    let started = Instant::now();
    let census = census(seed, n, holds::<V>);
    let census_seconds = started.elapsed().as_secs_f64();
    print_stats(&format!("{name} census"), &census, census_seconds);
    let search = census
        .first_failure
        .is_some()
        .then(|| search(seed, n, holds::<V>));
    Exploration {
        census,
        census_seconds,
        search,
    }
}

/// `fixed`: every property holds on every random history.
#[test]
fn fixed_holds_on_random_histories() {
    let n = histories(HISTORIES);
    let seed = seed(0x00f1_8ed0_c0ff_ee01);
    let e = explore::<Fixed>("fixed", seed, n);
    if let Some(s) = &e.search {
        let (scenario, schedule, f) = s.failure.as_ref().expect("the census saw a failure");
        let path = write_failure(scenario, schedule, f);
        panic!(
            "fixed: {} of {n} random histories (seed {seed:#x}) break a property ({:?}); the \
             first, after {} passing ones, shrunk in {:.2} s:\n{}\n\
             written to {}\nreproduce: lbq check --scenario {} --variant fixed\n\
             (cargo run --release -- check --scenario {} --variant fixed)\n\
             replay this history: LBQ_REPLAY={} cargo test --release --test random_histories \
             replay -- --nocapture",
            n - e.census.passed,
            e.census.failures,
            s.passed,
            s.seconds,
            report(scenario, schedule, f),
            path.display(),
            path.display(),
            path.display(),
            path.display()
        );
    }
    assert_eq!(e.census.passed, n);
    println!("fixed: all {n} histories pass ({:.2} s)", e.census_seconds);
    // The histories are not vacuous: they reach the situations the bugs need.
    for (guard, at_least) in [
        ("backend_queue_used", n / 20),
        ("server_queue_used", n / 50),
        ("server_down_with_queued_streams", n / 20),
        ("last_server_down_with_queued_streams", n / 100),
        ("server_back_in_service", n / 5),
    ] {
        let got = e.census.reached.get(guard).copied().unwrap_or(0);
        assert!(
            got >= at_least,
            "only {got} of {n} histories reached {guard} (expected at least {at_least})"
        );
        // Split atomics (half the histories) reach them too.
        let split = e.census.split_reached.get(guard).copied().unwrap_or(0);
        assert!(
            split >= at_least / 3,
            "only {split} of {n} histories with split atomics reached {guard} (expected at \
             least {})",
            at_least / 3
        );
    }
    assert!(
        (n * 2 / 5..=n * 3 / 5).contains(&e.census.split),
        "{} of {n} histories with split atomics, expected about half",
        e.census.split
    );
}

/// `livelock` (8d68717a4): the generator finds a call of assign_server_and_queue that
/// loops on a weakly fair cycle (not a mere spin-wait), and shrinks it.
#[test]
fn random_histories_find_the_livelock_loop() {
    expect_found::<Livelock>(
        "livelock",
        seed(0x11fe_10c4_0000_0002),
        LIVELOCK_HISTORIES,
        FAIR_LOOPS,
    );
}

/// `livelock`: and the loop of the seed commit's report, the one HAProxy's watchdog
/// kills: a thread loops and nothing else is left to run.
#[test]
fn random_histories_find_the_watchdog_loop() {
    expect_found::<LivelockStuck>(
        "watchdog",
        seed(0x11fe_10c4_0000_0005),
        LIVELOCK_HISTORIES,
        &["assign_can_return", "finishes"],
    );
}

/// `purge` (53f52e67a, the seed commit): its loop too.
#[test]
fn random_histories_find_the_purge_loop() {
    expect_found::<Purge>("purge", seed(0x9e29_e000_0000_0003), HISTORIES, LOOPS);
}

/// `toctou` (before 5541d4995d): the generator finds an orphaned pendconn or a backend
/// queue that does not drain.
#[test]
fn random_histories_find_the_toctou_orphan() {
    expect_found::<Toctou>(
        "toctou",
        seed(0x7c70_0000_0000_0004),
        HISTORIES,
        &["no_orphan_pendconn", "backend_queue_drains"],
    );
}

/// master (50872daa6): random histories find a stream left queued with nobody to
/// dequeue it (findings/master-toctou-orphan.md), never a counter out of step.
#[test]
fn random_histories_find_master_orphan() {
    expect_found::<Master>(
        "master",
        seed(0x3a57_e400_0000_0005),
        HISTORIES,
        &["no_orphan_pendconn", "backend_queue_drains"],
    );
}

/// `master-fixed`: every property holds on every random history.
#[test]
fn master_fixed_holds_on_random_histories() {
    let n = histories(HISTORIES);
    let seed = seed(0x3a57_e4f1_0000_0006);
    let e = explore::<MasterFixed>("master-fixed", seed, n);
    let first = e.search.as_ref().and_then(|s| s.failure.as_ref());
    if let Some((scenario, schedule, f)) = first {
        panic!(
            "master-fixed: a random history (seed {seed:#x}) breaks a property:\n{}",
            report(scenario, schedule, f)
        );
    }
    assert_eq!(e.census.passed, n);
}

/// Explores `V`: some history must fail, every failure must be one of `expected`
/// (`counters_consistent` must hold in every variant); prints the first, shrunk.
fn expect_found<V: Tag>(name: &str, seed: u64, pinned: u64, expected: &[&str]) {
    let n = histories(pinned);
    let e = explore::<V>(name, seed, n);
    for property in e.census.failures.keys() {
        assert!(
            expected.contains(&property.as_str()),
            "{name}: a history broke {property}, expected only {expected:?}"
        );
    }
    let Some(s) = &e.search else {
        panic!(
            "{name}: none of {n} random histories (seed {seed:#x}) broke {expected:?}: the \
             generator is too weak"
        );
    };
    let (scenario, schedule, f) = s.failure.as_ref().expect("the census saw a failure");
    println!(
        "{name}: {} of {n} histories fail; the first, after {} passing ones, shrunk in \
         {:.2} s ({} histories run while shrinking):\n{}",
        n - e.census.passed,
        s.passed,
        s.seconds,
        s.stats.histories - s.passed - 1,
        report(scenario, schedule, f)
    );
    assert!(expected.contains(&f.property.as_str()), "{f}");
}

/// `LBQ_REPLAY=FILE`: replays a history written to `target/lbq-failures/` step by step
/// (in the variant its file names) and prints it. Does nothing without `LBQ_REPLAY`.
#[test]
fn replay() {
    let Ok(path) = std::env::var("LBQ_REPLAY") else {
        return;
    };
    let text = std::fs::read_to_string(&path).expect("LBQ_REPLAY: readable file");
    let schedule = text
        .lines()
        .find_map(|l| l.strip_prefix("# schedule = "))
        .and_then(|s| parse_schedule(s.trim().trim_matches('"')))
        .expect("LBQ_REPLAY: a `# schedule = \"…\"` comment line");
    let scenario = Scenario::from_toml(&text, "replay").expect("LBQ_REPLAY: a valid scenario");
    match run(&scenario, &schedule, Goal::Everything) {
        Ok(seen) => println!(
            "{path}: the history passes in variant {} ({} steps)",
            scenario.variant, seen.steps
        ),
        Err(f) => println!("{path}:\n{}", report(&scenario, &schedule, &f)),
    }
}

/// The checks themselves bite: a history known to loop in `livelock` (the seed preset,
/// the CLI first, then round-robin) is flagged, and the same history passes in `fixed`.
#[test]
fn the_loop_detector_flags_the_seed_loop_and_passes_fixed() {
    let seed = lbqueue::presets::get("seed").expect("preset");
    let mut flagged = 0;
    let mut g = gen(1);
    for _ in 0..300 {
        let h = History::<Livelock>::arbitrary(&mut g);
        let livelock = seed.with_variant(Variant::Livelock);
        if let Err(f) = run(&livelock, &h.schedule, Goal::Loops) {
            assert!(f.property.starts_with("assign_") || f.property == "finishes");
            flagged += 1;
        }
        let fixed = seed.with_variant(Variant::Fixed);
        if let Err(f) = run(&fixed, &h.schedule, Goal::Everything) {
            panic!(
                "fixed on the seed preset:\n{}",
                report(&fixed, &h.schedule, &f)
            );
        }
    }
    assert!(
        flagged > 0,
        "no schedule of 300 loops livelock on the seed preset"
    );
}

#[test]
fn schedules_print_and_parse_back() {
    let s: Vec<u8> = (0..SLOTS).collect();
    assert!(s.iter().all(|&c| actor_slot(slot_actor(c)) == c));
    assert_eq!(parse_schedule(&schedule_string(&s)), Some(s));
}

#[test]
fn shrinking_keeps_histories_valid() {
    let mut g = gen(7);
    for _ in 0..50 {
        let h = History::<Fixed>::arbitrary(&mut g);
        for smaller in h.shrink() {
            let back = Scenario::from_toml(&smaller.scenario.to_toml(), "x").expect("valid");
            assert_eq!(back, smaller.scenario);
            assert!(smaller.schedule.len() <= h.schedule.len());
            // Runs (passes or fails, never panics) on the smaller scenario.
            let _ = run(&smaller.scenario, &smaller.schedule, Goal::Everything);
        }
    }
}
