//! The threaded composition: the model's actors as real threads — one per HAProxy
//! thread, each running the stream tasks woken on it (`process_stream` →
//! `srv_redispatch_connect` → `assign_server_and_queue` …); one for the CLI session
//! running its script; one for the clients arriving; and, with `timeout queue`, one per
//! stream for its queue timer — over a sync facade with three back ends
//! ([`facade::Std`], [`facade::Shuttle`], and `facade::Loom` in `--cfg loom` builds).
//!
//! Each thread moves the shared [`System`] only through [`crate::step`], one step per
//! lock acquisition, so every engine runs the same queue code. A step is one section
//! (one of HAProxy's critical sections: under a queue lock, a server lock, or one
//! atomic) or, with split atomics, one counter update HAProxy makes outside the locks.
//! The lock is the model's atomicity assumption, not a claim that HAProxy serialises
//! its sections (CHECKS.md, "The model and its simplifications"). What the threads add
//! over the step model is how HAProxy runs them: a thread parks when its run queue is
//! empty and is woken by `task_wakeup`, a task runs section after section until it
//! yields, and the schedules come from the OS (`lbq stress`), shuttle's random and PCT
//! schedulers (`lbq shuttle`) or loom (tests/loom.rs), at scales no exhaustive search
//! reaches.
//!
//! Every state a run reaches is judged with the step model's `always` properties (the
//! same functions); a run stops when one call of assign_server_and_queue goes back to
//! `balance_again` as many times as a bound (CHECKS.md, "Threads", says why no correct
//! run reaches it), or when every thread has parked for good with streams unfinished.

pub mod facade;
pub mod randomized;
pub mod stress;

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use crate::event::Journal;
use crate::invariants;
use crate::scenario::Scenario;
use crate::sections::{enabled_actors, is_enabled, step, Actor};
use crate::state::{Pc, StreamId, System, ThreadId};
use facade::Facade;

/// Why a threaded run stopped early. A state that breaks an `always` property does not
/// stop a run (it is a [`Violation`]); these do, because nothing after them is normal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Failure {
    /// One call of assign_server_and_queue went back to `balance_again` `rounds` times.
    Livelock {
        /// The HAProxy thread (0-based) running the call.
        thread: ThreadId,
        /// The stream whose call it is.
        stream: StreamId,
        /// `goto balance_again` count of that call.
        rounds: u32,
        /// Whether other actors could run during the loop's last stretch but did not:
        /// the scheduler starved them (as PCT does on purpose), so a fair schedule
        /// might have left the loop. Otherwise the loop went on while every other actor
        /// ran (or nothing else could run): the loop HAProxy's watchdog kills.
        starved_others: bool,
    },
    /// Nothing can run any more but some stream has not ended: every thread parked
    /// for good (HAProxy would serve nothing more; its watchdog stays quiet).
    Stuck {
        /// The streams that never ended (0-based).
        waiting: Vec<StreamId>,
    },
    /// A worker thread panicked (a bug in lbqueue, not in the queue logic).
    Panicked {
        /// The panic message.
        message: String,
    },
}

impl Failure {
    /// The failure's kind, as campaigns report it: `livelock` (a loop nothing else can
    /// interrupt), `spin` (a loop while other actors were starved), `stuck`, `panic`.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Livelock {
                starved_others: false,
                ..
            } => "livelock",
            Failure::Livelock { .. } => "spin",
            Failure::Stuck { .. } => "stuck",
            Failure::Panicked { .. } => "panic",
        }
    }

    /// A loop in one call of assign_server_and_queue reaching the bound; `mark` is
    /// (sections run, sections `thread` ran) when the loop's last stretch began.
    pub fn looping(
        m: &Memory,
        sc: &Scenario,
        thread: ThreadId,
        stream: StreamId,
        mark: (u64, u64),
    ) -> Failure {
        let t = thread as usize;
        let others_ran = (m.sections - mark.0) > (m.own_sections[t] - mark.1);
        let mut enabled = Vec::new();
        enabled_actors(&m.sys, sc, &mut enabled);
        let others_enabled = enabled.iter().any(|&a| a != Actor::Thread(thread));
        Failure::Livelock {
            thread,
            stream,
            rounds: m.rounds[t],
            starved_others: others_enabled && !others_ran,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Livelock {
                thread,
                stream,
                rounds,
                starved_others,
            } => write!(
                f,
                "{}: T{} looped {rounds} times in assign_server_and_queue for S{} \
                 (goto balance_again){}",
                self.kind(),
                thread + 1,
                stream + 1,
                if *starved_others {
                    ", other actors starved"
                } else {
                    ", while every other actor ran or could not"
                }
            ),
            Failure::Stuck { waiting } => {
                let names: Vec<String> = waiting.iter().map(|s| format!("S{}", s + 1)).collect();
                write!(
                    f,
                    "stuck: every thread parked while {} never ended",
                    names.join(", ")
                )
            }
            Failure::Panicked { message } => write!(f, "a worker panicked: {message}"),
        }
    }
}

/// A state of the run broke one of the step model's `always` properties.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The property's name (as `lbq check` reports it).
    pub property: String,
    /// What was wrong, in words.
    pub detail: String,
    /// After how many sections.
    pub section: u64,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} violated after section {}: {}",
            self.property, self.section, self.detail
        )
    }
}

/// How a threaded run is driven.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Fail a call of assign_server_and_queue at this many `goto balance_again`
    /// (`None`: never; `lbq stress` leaves it to its watchdog).
    pub round_bound: Option<u32>,
    /// Keep the actors of every section, in order (the run's history).
    pub record: bool,
    /// Let a section run only when [`Memory::turn`] names its actor (the conformance
    /// test drives the run that way).
    pub gated: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            round_bound: Some(DEFAULT_ROUND_BOUND),
            record: true,
            gated: false,
        }
    }
}

/// The `goto balance_again` bound of `lbq shuttle`: far above the one retry a correct
/// run takes (CHECKS.md, "Threads").
pub const DEFAULT_ROUND_BOUND: u32 = 200;

/// What the threads share, under the facade's one lock.
#[derive(Debug)]
pub struct Memory {
    /// The system.
    pub sys: System,
    /// Sections run so far.
    pub sections: u64,
    /// The actor of every section so far ([`Config::record`]).
    pub history: Vec<Actor>,
    /// Per HAProxy thread: `goto balance_again` of its call in progress.
    pub rounds: Vec<u32>,
    /// Per HAProxy thread: calls of assign_server_and_queue it started (the watchdog
    /// tells a long call from many short ones by it).
    pub calls: Vec<u64>,
    /// Per HAProxy thread: sections it ran.
    pub own_sections: Vec<u64>,
    /// Per HAProxy thread: (sections, own sections) when its call in progress reached
    /// half the round bound.
    pub half_mark: Vec<(u64, u64)>,
    /// The first failure; every worker stops once it is set.
    pub failure: Option<Failure>,
    /// The first violation of each `always` property, in the order they happened.
    pub violations: Vec<Violation>,
    /// Set to stop every worker (the stress watchdog, the conformance driver).
    pub halt: bool,
    /// [`Config::gated`]: the actor allowed to run the next section, if any.
    pub turn: Option<Actor>,
    /// Workers still running.
    pub live_workers: u8,
}

impl Memory {
    /// The memory of a run before its first section: `sys` as it starts, nothing run.
    pub fn new(sys: System) -> Memory {
        let threads = sys.threads.len();
        Memory {
            sys,
            sections: 0,
            history: Vec::new(),
            rounds: vec![0; threads],
            calls: vec![0; threads],
            own_sections: vec![0; threads],
            half_mark: vec![(0, 0); threads],
            failure: None,
            violations: Vec::new(),
            halt: false,
            turn: None,
            live_workers: 0,
        }
    }
}

/// One thread of the composition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Worker {
    /// An HAProxy thread.
    Thread(ThreadId),
    /// The CLI session.
    Cli,
    /// The clients.
    Client,
    /// One stream's queue timer (`process_stream` woken by `conn_exp`).
    Timer(StreamId),
}

/// What a worker does next.
enum Next {
    Run(Actor),
    Wait,
    Finished,
}

/// The shared part of a run.
pub struct Shared<F: Facade> {
    scenario: Scenario,
    config: Config,
    /// The memory, under the composition's one lock.
    pub memory: F::Lock,
    /// Notified after every section (a `task_wakeup`, or a turn taken).
    pub changed: F::Cond,
}

impl<F: Facade> Shared<F> {
    /// The scenario being run.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Takes the lock.
    pub fn lock(&self) -> F::Guard<'_> {
        F::lock(&self.memory)
    }

    /// Stops every worker at its next section.
    pub fn halt(&self) {
        self.lock().halt = true;
        F::notify_all(&self.changed);
    }
}

/// A run in progress.
pub struct Running<F: Facade> {
    shared: Arc<Shared<F>>,
    handles: Vec<F::Handle>,
}

/// What a finished run reached.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The first failure, if any.
    pub failure: Option<Failure>,
    /// The first violation of each `always` property.
    pub violations: Vec<Violation>,
    /// Sections run.
    pub sections: u64,
    /// The actor of every section, in order (empty unless recorded).
    pub history: Vec<Actor>,
    /// The final system.
    pub sys: System,
}

/// Starts the threads of a run of `scenario`.
pub fn start<F: Facade>(scenario: &Scenario, config: Config) -> Running<F> {
    let sys = System::new(scenario);
    let threads = sys.threads.len();
    let memory = Memory::new(sys);
    let shared = Arc::new(Shared::<F> {
        scenario: scenario.clone(),
        config,
        memory: F::lock_new(memory),
        changed: F::cond_new(),
    });
    let mut workers: Vec<Worker> = (0..threads as ThreadId).map(Worker::Thread).collect();
    workers.extend([Worker::Cli, Worker::Client]);
    if scenario.queue_timeout {
        workers.extend((0..scenario.streams.len() as StreamId).map(Worker::Timer));
    }
    shared.lock().live_workers = workers.len() as u8;
    let handles = workers
        .into_iter()
        .map(|w| {
            let shared = Arc::clone(&shared);
            F::spawn(move || work(&shared, w))
        })
        .collect();
    Running { shared, handles }
}

impl<F: Facade> Running<F> {
    /// The shared memory, to watch the run (the watchdog) or drive it (gated runs).
    pub fn shared(&self) -> &Shared<F> {
        &self.shared
    }

    /// Waits for every thread and returns what the run reached.
    pub fn finish(self) -> Outcome {
        let mut panicked = None;
        for h in self.handles {
            if let Err(payload) = F::join(h) {
                panicked.get_or_insert_with(|| panic_message(payload.as_ref()));
            }
        }
        let mut m = self.shared.lock();
        if let Some(message) = panicked {
            m.failure.get_or_insert(Failure::Panicked { message });
        }
        Outcome {
            failure: m.failure.clone(),
            violations: m.violations.clone(),
            sections: m.sections,
            history: std::mem::take(&mut m.history),
            sys: m.sys.clone(),
        }
    }
}

/// Runs `scenario` on threads of back end `F` until every thread is done or a failure.
pub fn run<F: Facade>(scenario: &Scenario, config: Config) -> Outcome {
    start::<F>(scenario, config).finish()
}

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".to_string())
}

/// A worker's life: run its next section whenever it has one (and, gated, it is its
/// turn), park when it has none, stop when it is done or the run failed.
fn work<F: Facade>(shared: &Shared<F>, me: Worker) {
    let sc = &shared.scenario;
    let mut m = shared.lock();
    loop {
        if m.failure.is_some() || m.halt {
            break;
        }
        match next(&m.sys, sc, me) {
            Next::Finished => break,
            Next::Run(actor) if !shared.config.gated || m.turn == Some(actor) => {
                run_section(&mut m, sc, &shared.config, actor);
                m.turn = None;
                F::notify_all(&shared.changed);
                // Release the lock between two sections: any other thread may run here.
                drop(m);
                m = shared.lock();
            }
            Next::Run(_) | Next::Wait => {
                if !shared.config.gated && m.failure.is_none() {
                    if let Some(stuck) = stuck(&m.sys, sc) {
                        m.failure = Some(stuck);
                        F::notify_all(&shared.changed);
                        break;
                    }
                }
                m = F::wait(&shared.changed, m);
            }
        }
    }
    m.live_workers -= 1;
}

/// The next section of worker `me`, if it has one now.
fn next(sys: &System, sc: &Scenario, me: Worker) -> Next {
    let run_if = |actor| {
        if is_enabled(sys, sc, actor) {
            Next::Run(actor)
        } else {
            Next::Wait
        }
    };
    match me {
        Worker::Thread(t) => match run_if(Actor::Thread(t)) {
            Next::Wait if sys.streams.iter().all(|s| s.thread != t || s.is_done()) => {
                Next::Finished
            }
            next => next,
        },
        // With `cli_thread`, the CLI waits for its thread to be between two tasks.
        Worker::Cli if sys.cli_pending(sc) => run_if(Actor::Cli),
        Worker::Client if (sys.arrived as usize) < sys.streams.len() => Next::Run(Actor::Client),
        Worker::Cli | Worker::Client => Next::Finished,
        Worker::Timer(s) if sys.streams[s as usize].is_done() => Next::Finished,
        Worker::Timer(s) => run_if(Actor::Timeout(s)),
    }
}

/// Nothing can run but some stream has not ended: every worker would wait forever.
fn stuck(sys: &System, sc: &Scenario) -> Option<Failure> {
    let mut enabled = Vec::new();
    enabled_actors(sys, sc, &mut enabled);
    let waiting: Vec<StreamId> = (0..sys.streams.len() as StreamId)
        .filter(|&s| !sys.streams[s as usize].is_done())
        .collect();
    (enabled.is_empty() && !waiting.is_empty()).then_some(Failure::Stuck { waiting })
}

/// Runs one section of `actor` and judges the state it reaches.
fn run_section(m: &mut Memory, sc: &Scenario, config: &Config, actor: Actor) {
    let before = match actor {
        Actor::Thread(t) => m.sys.threads[t as usize].task,
        _ => None,
    };
    step(&mut m.sys, sc, actor, &mut Journal::silent());
    m.sections += 1;
    if config.record {
        m.history.push(actor);
    }
    if let Actor::Thread(t) = actor {
        let after = m.sys.threads[t as usize].task;
        let in_assign = |task: Option<crate::state::Task>| task.is_some_and(|k| k.pc.in_assign());
        let t = t as usize;
        m.own_sections[t] += 1;
        if !in_assign(before) && in_assign(after) {
            m.calls[t] += 1;
        }
        match (before, after) {
            (Some(b), Some(a)) if b.pc == Pc::MustTryAgain && a.pc == Pc::AssignServer => {
                m.rounds[t] += 1;
                if config.round_bound.is_some_and(|b| m.rounds[t] == b / 2) {
                    m.half_mark[t] = (m.sections, m.own_sections[t]);
                }
            }
            _ if !in_assign(after) => m.rounds[t] = 0,
            _ => {}
        }
        if let (Some(bound), Some(task)) = (config.round_bound, after) {
            if m.rounds[t] >= bound && m.failure.is_none() {
                let mark = m.half_mark[t];
                m.failure = Some(Failure::looping(m, sc, t as ThreadId, task.stream, mark));
            }
        }
    }
    for (property, detail) in broken_properties(&m.sys, sc) {
        if !m.violations.iter().any(|v| v.property == property) {
            let section = m.sections;
            m.violations.push(Violation {
                property: property.to_string(),
                detail,
                section,
            });
        }
    }
}

/// The step model's `always` properties that `sys` breaks, with what is wrong; the
/// same definitions as the step model's (`lbqueue::invariants`).
pub fn broken_properties(sys: &System, sc: &Scenario) -> Vec<(&'static str, String)> {
    let mut broken = Vec::new();
    if let Err(detail) = invariants::counters_consistent(sys) {
        broken.push(("counters_consistent", detail));
    }
    if let Err(detail) = invariants::maxconn_respected(sys) {
        broken.push(("maxconn_respected", detail));
    }
    if !invariants::queue_locks_released(sys) {
        let detail = "a section returned with the backend queue lock held".to_string();
        broken.push(("queue_locks_released", detail));
    }
    let linked = || {
        let names: Vec<String> = sys
            .px
            .pendconns
            .iter()
            .map(|s| format!("S{}", s + 1))
            .collect();
        names.join(", ")
    };
    if !invariants::no_orphan_pendconn(sys, sc) {
        let detail = format!(
            "nothing but timers can run and {} wait in a queue",
            linked()
        );
        broken.push(("no_orphan_pendconn", detail));
    }
    if !invariants::no_stream_lost(sys, sc) {
        let detail = "nothing can run and a stream never ended".to_string();
        broken.push(("no_stream_lost", detail));
    }
    if !invariants::backend_queue_drains(sys, sc) {
        let detail = format!(
            "no usable server, every task ran, and {} wait in the backend queue",
            linked()
        );
        broken.push(("backend_queue_drains", detail));
    }
    broken
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets;
    use crate::state::{Outcome as End, Phase};
    use crate::Variant;

    /// A run's memory before its first section, as [`start`] builds it.
    fn memory(sc: &Scenario) -> Memory {
        Memory::new(System::new(sc))
    }

    fn actors(path: &str) -> Vec<Actor> {
        path.split(' ')
            .map(|a| a.parse().expect("an actor"))
            .collect()
    }

    /// Runs the sections of `path` (actors as `Display` writes them) on `m`.
    fn drive(m: &mut Memory, sc: &Scenario, config: &Config, path: &str) {
        for actor in actors(path) {
            assert!(is_enabled(&m.sys, sc, actor), "{actor} is not enabled");
            run_section(m, sc, config, actor);
        }
    }

    /// A preset under `variant`, with 3372a2ea0's compare-and-swap (the "is it full"
    /// test and the slot in one section) so that the paths below, written as actor
    /// sequences, take one section per slot whatever the variant.
    fn preset(name: &str, variant: Variant) -> Scenario {
        let mut sc = presets::get(name).expect("preset").with_variant(variant);
        sc.changes.push((crate::Switch::SlotReservedAtPick, true));
        sc
    }

    fn pc(m: &Memory, t: usize) -> Option<Pc> {
        m.sys.threads[t].task.map(|k| k.pc)
    }

    /// `one-thread` under `livelock` (reference 4.1): after this, T1 is at
    /// `pendconn_must_try_again` and goes back to `balance_again` for ever while the
    /// CLI and the clients could still run.
    const ONE_THREAD_TO_THE_LOOP: &str =
        "client T1 T1 client T1 T1 T1 T1 T1 CLI T1 CLI CLI CLI CLI client T1 T1";

    /// `one-thread` under `livelock`: every thread parks for good with S3 queued in the
    /// backend queue (nobody will ever dequeue it).
    const ONE_THREAD_TO_STUCK: &str = "client T1 T1 client T1 T1 T1 T1 T1 client client \
                                       T1 T1 T1 T1 CLI T1 CLI CLI T1 T1 CLI CLI CLI T1";

    /// `seed` under `livelock`: every thread parks for good with S4 queued.
    const SEED_TO_STUCK: &str = "client T2 T2 T2 client T1 T1 T1 T2 client client T1 T1 \
                                 T2 T1 CLI T2 CLI CLI T1 T1 CLI CLI CLI T1";

    fn enabled(sys: &System, sc: &Scenario) -> Vec<Actor> {
        let mut out = Vec::new();
        enabled_actors(sys, sc, &mut out);
        out
    }

    fn stuck_one_thread() -> (Scenario, Memory) {
        let sc = preset("one-thread", Variant::Livelock);
        let mut m = memory(&sc);
        drive(&mut m, &sc, &Config::default(), ONE_THREAD_TO_STUCK);
        (sc, m)
    }

    #[test]
    fn run_section_counts_calls_rounds_and_the_half_mark_of_a_one_thread_livelock() {
        let sc = preset("one-thread", Variant::Livelock);
        let config = Config {
            round_bound: Some(4),
            record: true,
            gated: false,
        };
        let mut m = memory(&sc);
        drive(&mut m, &sc, &config, "client T1");
        // T1 picked S1 up and entered assign_server_and_queue: one call, no retry.
        assert_eq!(pc(&m, 0), Some(Pc::CheckServer(0)));
        assert_eq!((m.calls[0], m.own_sections[0], m.rounds[0]), (1, 1, 0));
        drive(&mut m, &sc, &config, "T1");
        // SRV_STATUS_OK: the call returned; going from one section to the next is no
        // `goto balance_again`.
        assert_eq!(pc(&m, 0), Some(Pc::Connect));
        assert_eq!((m.calls[0], m.own_sections[0], m.rounds[0]), (1, 2, 0));
        drive(&mut m, &sc, &config, "client T1");
        assert_eq!(
            (m.calls[0], m.own_sections[0]),
            (1, 3),
            "connect_server is no call"
        );
        drive(
            &mut m,
            &sc,
            &config,
            "T1 T1 T1 T1 CLI T1 CLI CLI CLI CLI client T1 T1",
        );
        assert_eq!(m.sections, 18);
        assert_eq!(m.history, actors(ONE_THREAD_TO_THE_LOOP));
        assert_eq!((m.calls[0], m.own_sections[0], m.rounds[0]), (3, 10, 0));
        assert_eq!(pc(&m, 0), Some(Pc::MustTryAgain));

        // The loop: MustTryAgain → AssignServer → AddToBackendQueue → MustTryAgain …
        drive(&mut m, &sc, &config, "T1");
        assert_eq!(pc(&m, 0), Some(Pc::AssignServer));
        assert_eq!((m.calls[0], m.own_sections[0], m.rounds[0]), (3, 11, 1));
        assert_eq!(m.half_mark[0], (0, 0));
        drive(&mut m, &sc, &config, "T1 T1 T1");
        // Half the bound (4 / 2): the mark of the loop's last stretch.
        assert_eq!((m.sections, m.own_sections[0], m.rounds[0]), (22, 14, 2));
        assert_eq!(m.half_mark[0], (22, 14));
        drive(&mut m, &sc, &config, "T1 T1 T1 T1 T1");
        assert_eq!(m.rounds[0], 3);
        assert_eq!(m.failure, None);
        drive(&mut m, &sc, &config, "T1");
        assert_eq!((m.sections, m.own_sections[0], m.calls[0]), (28, 20, 3));
        assert_eq!(m.half_mark[0], (22, 14), "set once per call");
        // The bound: only T1 ran since the mark while the CLI and the clients could.
        assert_eq!(
            m.failure,
            Some(Failure::Livelock {
                thread: 0,
                stream: 2,
                rounds: 4,
                starved_others: true,
            })
        );
        // The CLI's `disable server` (section 12) left S2 in the backend queue with no
        // usable server while every task had run.
        assert_eq!(
            m.violations,
            [Violation {
                property: "backend_queue_drains".to_string(),
                detail: "no usable server, every task ran, and S2 wait in the backend queue"
                    .to_string(),
                section: 12,
            }]
        );
    }

    #[test]
    fn one_retry_counts_one_round_and_returning_from_the_call_resets_it() {
        let sc = preset("seed", Variant::Fixed);
        let config = Config::default();
        let mut m = memory(&sc);
        // T1 queued S2 in the backend queue; the CLI's `disable server` left no usable
        // server, so pendconn_must_try_again takes the entry back: one balance_again.
        drive(&mut m, &sc, &config, "client T2 T2 client T1 T1 CLI T1");
        assert_eq!(pc(&m, 0), Some(Pc::AssignServer));
        assert_eq!((m.calls[0], m.rounds[0]), (1, 1));
        // The retried assign_server answers NOSRV: the call is over, so is its count.
        drive(&mut m, &sc, &config, "T1");
        assert_eq!(pc(&m, 0), None);
        assert_eq!((m.calls[0], m.rounds[0], m.own_sections[0]), (1, 0, 4));
        assert_eq!((m.calls[1], m.rounds[1], m.own_sections[1]), (1, 0, 2));
        assert_eq!(m.failure, None);
    }

    #[test]
    fn staying_queued_after_pendconn_must_try_again_is_no_round() {
        let sc = preset("seed", Variant::Fixed);
        let config = Config::default();
        let mut m = memory(&sc);
        // T2 released the only slot before T1's pendconn_must_try_again: the stream
        // stays queued and T1 goes on to srv_redispatch_connect's dequeue.
        drive(&mut m, &sc, &config, "client T2 T2 T2 client T1 T1 T2 T1");
        assert_eq!(pc(&m, 0), Some(Pc::DequeueAfterQueueing(0)));
        assert_eq!((m.calls[0], m.rounds[0], m.own_sections[0]), (1, 0, 3));
    }

    #[test]
    fn a_run_judges_each_broken_property_once_at_its_first_section() {
        let (_, m) = stuck_one_thread();
        assert_eq!(m.sections, 25);
        let seen: Vec<(&str, u64)> = m
            .violations
            .iter()
            .map(|v| (v.property.as_str(), v.section))
            .collect();
        // The last section strands S3, breaking two properties at once.
        assert_eq!(seen, [("no_orphan_pendconn", 25), ("no_stream_lost", 25)]);
    }

    #[test]
    fn broken_properties_names_what_a_stranded_stream_breaks() {
        let (sc, m) = stuck_one_thread();
        assert_eq!(
            broken_properties(&m.sys, &sc),
            [
                (
                    "no_orphan_pendconn",
                    "nothing but timers can run and S3 wait in a queue".to_string()
                ),
                (
                    "no_stream_lost",
                    "nothing can run and a stream never ended".to_string()
                ),
            ]
        );
        assert_eq!(broken_properties(&System::new(&sc), &sc), []);
    }

    #[test]
    fn stuck_only_when_nothing_can_run_and_a_stream_never_ended() {
        let (sc, m) = stuck_one_thread();
        let phases: Vec<Phase> = m.sys.streams.iter().map(|s| s.phase).collect();
        assert_eq!(
            phases,
            [
                Phase::Done(End::Served),
                Phase::Done(End::Killed),
                Phase::Que,
                Phase::Done(End::NoServer)
            ]
        );
        assert_eq!(
            stuck(&m.sys, &sc),
            Some(Failure::Stuck { waiting: vec![2] })
        );
        // At the start the clients can still arrive: not stuck, though nothing ended.
        assert_eq!(stuck(&System::new(&sc), &sc), None);
        // Nothing can run and every stream ended: a finished run, not a stuck one.
        let mut done = m.sys.clone();
        done.streams[2].phase = Phase::Done(End::QueueTimeout);
        assert_eq!(stuck(&done, &sc), None);
    }

    #[test]
    fn next_finishes_a_queue_timer_once_its_stream_ended() {
        let sc = preset("timeouts", Variant::Fixed);
        let mut sys = System::new(&sc);
        // S1 has not arrived: its timer is not armed, yet it has work to wait for.
        assert!(matches!(next(&sys, &sc, Worker::Timer(0)), Next::Wait));
        assert!(matches!(next(&sys, &sc, Worker::Thread(0)), Next::Wait));
        assert!(matches!(
            next(&sys, &sc, Worker::Client),
            Next::Run(Actor::Client)
        ));
        assert!(matches!(
            next(&sys, &sc, Worker::Cli),
            Next::Run(Actor::Cli)
        ));
        sys.streams[0].phase = Phase::Done(End::Served);
        assert!(matches!(next(&sys, &sc, Worker::Timer(0)), Next::Finished));
        assert!(matches!(next(&sys, &sc, Worker::Timer(1)), Next::Wait));
    }

    #[test]
    fn next_finishes_an_haproxy_thread_whose_streams_all_ended() {
        let (sc, mut m) = stuck_one_thread();
        // T1 is parked but S3, bound to it, is still queued: it waits for a wakeup.
        assert!(matches!(next(&m.sys, &sc, Worker::Thread(0)), Next::Wait));
        assert!(matches!(next(&m.sys, &sc, Worker::Cli), Next::Finished));
        assert!(matches!(next(&m.sys, &sc, Worker::Client), Next::Finished));
        m.sys.streams[2].phase = Phase::Done(End::QueueTimeout);
        assert!(matches!(
            next(&m.sys, &sc, Worker::Thread(0)),
            Next::Finished
        ));
    }

    /// A memory where T1 looped 7 times and the loop's last stretch began at `mark`
    /// (sections, T1's sections) = (10, 4), 10 sections ago.
    fn looped(sys: System, t1_sections: u64) -> Memory {
        let mut m = memory(&preset("seed", Variant::Livelock));
        m.sys = sys;
        m.sections = 20;
        m.own_sections = vec![t1_sections, 20 - t1_sections];
        m.rounds = vec![7, 0];
        m
    }

    #[test]
    fn looping_tells_a_starving_schedule_from_a_livelock() {
        let sc = preset("seed", Variant::Livelock);
        let livelock = |starved_others| Failure::Livelock {
            thread: 0,
            stream: 1,
            rounds: 7,
            starved_others,
        };
        // The clients could arrive (others enabled) …
        let start = System::new(&sc);
        assert_eq!(enabled(&start, &sc), [Actor::Cli, Actor::Client]);
        // … but all 10 sections since the mark were T1's: the scheduler starved them.
        let m = looped(start.clone(), 14);
        assert_eq!(Failure::looping(&m, &sc, 0, 1, (10, 4)), livelock(true));
        // 2 of the 10 were someone else's: the loop went on while others ran.
        let m = looped(start.clone(), 12);
        assert_eq!(Failure::looping(&m, &sc, 0, 1, (10, 4)), livelock(false));
        // Nothing else could run: the loop HAProxy's watchdog kills.
        let mut stuck = memory(&sc);
        drive(&mut stuck, &sc, &Config::default(), SEED_TO_STUCK);
        assert!(enabled(&stuck.sys, &sc).is_empty());
        let m = looped(stuck.sys, 14);
        assert_eq!(Failure::looping(&m, &sc, 0, 1, (10, 4)), livelock(false));
        assert_eq!(livelock(true).kind(), "spin");
        assert_eq!(livelock(false).kind(), "livelock");
        assert_eq!(
            livelock(true).to_string(),
            "spin: T1 looped 7 times in assign_server_and_queue for S2 (goto balance_again), \
             other actors starved"
        );
    }

    #[test]
    fn a_violation_says_which_property_broke_after_which_section() {
        let v = Violation {
            property: "no_stream_lost".to_string(),
            detail: "nothing can run and a stream never ended".to_string(),
            section: 25,
        };
        assert_eq!(
            v.to_string(),
            "no_stream_lost violated after section 25: nothing can run and a stream never ended"
        );
    }

    #[test]
    fn panic_message_reads_string_and_str_payloads() {
        let owned: Box<dyn std::any::Any + Send> = Box::new(format!("S{} lost", 3));
        assert_eq!(panic_message(owned.as_ref()), "S3 lost");
        let literal: Box<dyn std::any::Any + Send> = Box::new("T1 panicked");
        assert_eq!(panic_message(literal.as_ref()), "T1 panicked");
        let other: Box<dyn std::any::Any + Send> = Box::new(42_u32);
        assert_eq!(panic_message(other.as_ref()), "(no message)");
    }
}
