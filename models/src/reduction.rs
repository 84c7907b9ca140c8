//! Reductions of the state space that lose nothing: each stored state stands for a
//! class of states with the same futures and the same verdict on every property.
//!
//! **Dead streams** ([`forget_dead`]). A stream that has ended and that nothing refers
//! to any more (no slot, no pendconn, no connection, no task, no run-queue entry) is
//! never read again by any section; how it ended, and what its last target was, only
//! split states. The stored state forgets them.
//!
//! **Interchangeable streams** ([`canonical_perm`]). Two streams are interchangeable
//! when only their ids tell them apart: both have arrived (arrival is in id order, so a
//! stream still to come is not interchangeable with one that came), both run on the
//! same thread, and, with the `hash` algorithm, both hash to the same server whatever
//! the number of usable servers. (The sections read a stream's thread from the stream,
//! so a renaming across threads would commute too; but in a reachable state every
//! stream is on its scenario's thread, so it would identify no more reachable states;
//! keeping to one thread keeps every stored stream on its scenario's thread.) No section
//! reads a stream id for anything else: queues, run queues and the server's stream list
//! are ordered by what happened, not by id. Renaming interchangeable streams
//! therefore maps runs to runs ([`lbqueue::step`] commutes with it) and every property
//! is blind to the names; the stored state is the canonical renaming, one per class of
//! up to k! renamings per k interchangeable streams. `tests/reduction.rs` checks both
//! claims on every reachable state of the presets.
//!
//! BFS depth, hence the length of each shortest counterexample, is unchanged: a path
//! of the reduced graph is a path of the real system up to renaming and forgetting, and
//! the other way round.
//!
//! Liveness. The fairness actors (threads, the CLI, the client) are not renamed, and
//! whether a step is progress does not depend on names or dead streams, so fair
//! cycles, stuck cycles and solo loops of the reduced graph are exactly the images of
//! the real ones (CHECKS.md, "Reductions"). Queue timers *are* stream actors: a timer
//! that weak fairness tracks by its stream changes name along a renamed cycle, and no
//! per-name test on the reduced graph is then sound, so a scenario with `timeout queue`
//! gets only the dead-stream reduction ([`Reduction::of`] says so in the report).
//! Threads and servers are not renamed: renaming threads renames fairness actors the
//! same way, and servers are told apart by the LB's rotation order, `first`'s order and
//! the CLI script.
//!
//! A counterexample found on the reduced graph is turned back into a run of the real
//! system by [`concrete_run`]: it follows the renaming along the path and, for a cycle
//! that comes back to its first state only up to a renaming, goes round it until the
//! renaming closes, so every trace printed is a real run that really repeats.

use lbqueue::state::{Call, Outcome, Pc, Phase, Stream};
use lbqueue::{step, Actor, Journal, LbAlgo, Scenario, StreamId, System};
use serde::Serialize;
use smallvec::SmallVec;

use crate::liveness::Lasso;
use crate::step_model::StepModel;

/// How a check reduces its state space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reduction {
    /// Every state is stored as it is.
    Off,
    /// Dead streams are forgotten.
    Dead,
    /// Dead streams are forgotten and interchangeable streams renamed (the default).
    Streams,
}

/// Why a scenario gets less reduction than it asked for.
pub const TIMERS_NAME_STREAMS: &str =
    "streams are not renamed: queue timers are stream actors, and weak fairness between them does not survive renaming";

impl Reduction {
    /// The reduction a check of `scenario` can use when `wanted` is asked for, with the
    /// reason when it uses less.
    pub fn of(scenario: &Scenario, wanted: Reduction) -> (Reduction, Option<&'static str>) {
        match wanted {
            Reduction::Streams if scenario.queue_timeout => {
                (Reduction::Dead, Some(TIMERS_NAME_STREAMS))
            }
            other => (other, None),
        }
    }

    /// The name used by `lbq check --reduction` and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Reduction::Off => "off",
            Reduction::Dead => "dead",
            Reduction::Streams => "streams",
        }
    }

    /// Whether dead streams are forgotten.
    pub fn forgets_dead(self) -> bool {
        self != Reduction::Off
    }

    /// Whether interchangeable streams are renamed.
    pub fn renames(self) -> bool {
        self == Reduction::Streams
    }
}

impl std::str::FromStr for Reduction {
    type Err = String;
    fn from_str(s: &str) -> Result<Reduction, String> {
        match s {
            "off" => Ok(Reduction::Off),
            "dead" => Ok(Reduction::Dead),
            "streams" => Ok(Reduction::Streams),
            _ => Err(format!("expected `streams`, `dead` or `off`, found {s:?}")),
        }
    }
}

/// A renaming of streams: stream `i` becomes stream `self.0[i]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Perm(SmallVec<[StreamId; 8]>);

impl Perm {
    /// The renaming that changes nothing, over `n` streams.
    pub fn identity(n: usize) -> Perm {
        Perm((0..n as StreamId).collect())
    }

    /// The new name of stream `s`.
    pub fn stream(&self, s: StreamId) -> StreamId {
        self.0[s as usize]
    }

    /// The actor under the renaming (queue timers and connection errors name a stream).
    pub fn actor(&self, a: Actor) -> Actor {
        match a {
            Actor::Timeout(s) => Actor::Timeout(self.stream(s)),
            Actor::ConnError(s) => Actor::ConnError(self.stream(s)),
            other => other,
        }
    }

    /// The renaming that undoes this one.
    pub fn inverse(&self) -> Perm {
        let mut inv = self.0.clone();
        for (i, &to) in self.0.iter().enumerate() {
            inv[to as usize] = i as StreamId;
        }
        Perm(inv)
    }

    /// `other` first, then `self`.
    pub fn after(&self, other: &Perm) -> Perm {
        Perm(other.0.iter().map(|&s| self.stream(s)).collect())
    }

    /// The renaming that swaps streams `a` and `b` of `n`.
    pub fn swap(n: usize, a: StreamId, b: StreamId) -> Perm {
        let mut p = Perm::identity(n);
        p.0.swap(a as usize, b as usize);
        p
    }

    /// Whether it renames nothing.
    pub fn is_identity(&self) -> bool {
        self.0.iter().enumerate().all(|(i, &s)| i == s as usize)
    }
}

/// The system with every stream renamed by `p`: the streams themselves and every list
/// that names them (queues, run queues, tasks, the servers' stream lists).
pub fn rename(sys: &System, p: &Perm) -> System {
    let mut out = sys.clone();
    for (i, strm) in sys.streams.iter().enumerate() {
        out.streams[p.stream(i as StreamId) as usize] = strm.clone();
    }
    let names = |list: &mut [StreamId]| list.iter_mut().for_each(|s| *s = p.stream(*s));
    names(&mut out.px.pendconns);
    for srv in out.px.servers.iter_mut() {
        names(&mut srv.conns);
    }
    for th in out.threads.iter_mut() {
        names(&mut th.runq);
        if let Some(task) = th.task.as_mut() {
            task.stream = p.stream(task.stream);
        }
    }
    out
}

/// What tells a stream apart from the others of its class, all of it blind to names:
/// its own fields, where it stands in the lists that order streams, and the task its
/// thread runs for it. Two streams of a class with equal signatures are in no list and
/// hold the same fields, so swapping them changes nothing: sorting by signature gives
/// every renaming of a state the same canonical form.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Signature<'a> {
    stream: &'a Stream,
    task: Option<(Pc, Call)>,
    queue_pos: u8,
    runq_pos: u8,
    conns_pos: u8,
}

/// Absent from a list.
const NOWHERE: u8 = u8::MAX;

/// `lcm(1..=n)`: streams hash to the same server for every count of usable servers up
/// to `n` iff their ids agree modulo it (`balance hash` picks `usable[id % count]`).
fn hash_period(n: usize) -> usize {
    (1..=n).fold(1, |l, k| l / gcd(l, k) * k)
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Whether streams `a` and `b` are interchangeable in `sys`: both arrived, on the same
/// thread, and with `balance hash` hashing alike for every count of usable servers.
pub fn interchangeable(sys: &System, a: StreamId, b: StreamId) -> bool {
    a.max(b) < sys.arrived
        && class_key(sys, hash_period_of(sys))(a) == class_key(sys, hash_period_of(sys))(b)
}

/// The period of stream ids under `balance hash` ([`hash_period`]), 1 for the others.
fn hash_period_of(sys: &System) -> usize {
    if sys.px.algo == LbAlgo::Hash {
        hash_period(sys.px.servers.len())
    } else {
        1
    }
}

/// What two arrived streams must share to be interchangeable: their thread and their
/// id modulo the hash period.
fn class_key(sys: &System, period: usize) -> impl Fn(StreamId) -> (u8, usize) + '_ {
    move |s| (sys.streams[s as usize].thread, s as usize % period)
}

/// The renaming that takes `sys` to its canonical form, or `None` when `sys` already is
/// canonical (the common case, and the cheap one: nothing is built).
pub fn canonical_perm(sys: &System) -> Option<Perm> {
    let n = sys.arrived as usize;
    if n < 2 {
        return None;
    }
    let key = class_key(sys, hash_period_of(sys));
    // Each arrived stream's class, as the first stream of it; nothing to do unless two
    // streams share one.
    let mut class = [0u8; 64];
    let mut shared = false;
    for s in 0..n {
        class[s] = (0..s)
            .find(|&r| class[r] as usize == r && key(r as StreamId) == key(s as StreamId))
            .unwrap_or(s) as u8;
        shared |= class[s] as usize != s;
    }
    if !shared {
        return None;
    }
    let mut queue_pos = [NOWHERE; 64];
    let mut runq_pos = [NOWHERE; 64];
    let mut conns_pos = [NOWHERE; 64];
    let mut task: [Option<(Pc, Call)>; 64] = [None; 64];
    for (k, &s) in sys.px.pendconns.iter().enumerate() {
        queue_pos[s as usize] = k as u8;
    }
    for srv in &sys.px.servers {
        for (k, &s) in srv.conns.iter().enumerate() {
            conns_pos[s as usize] = k as u8;
        }
    }
    for th in &sys.threads {
        for (k, &s) in th.runq.iter().enumerate() {
            runq_pos[s as usize] = k as u8;
        }
        if let Some(t) = th.task {
            task[t.stream as usize] = Some((t.pc, t.call));
        }
    }
    let signature = |s: usize| Signature {
        stream: &sys.streams[s],
        task: task[s],
        queue_pos: queue_pos[s],
        runq_pos: runq_pos[s],
        conns_pos: conns_pos[s],
    };
    let mut perm: Option<Perm> = None;
    for first in 0..n {
        if class[first] as usize != first {
            continue;
        }
        // The class's ids, in order: the canonical names its members take.
        let mut ids = [0u8; 64];
        let mut len = 0;
        for (s, &c) in class.iter().enumerate().take(n).skip(first) {
            if c as usize == first {
                ids[len] = s as u8;
                len += 1;
            }
        }
        let ids = &ids[..len];
        // Usually the class is in order already: nothing to rename.
        if ids
            .windows(2)
            .all(|w| signature(w[0] as usize) <= signature(w[1] as usize))
        {
            continue;
        }
        let mut by_signature = [0u8; 64];
        by_signature[..len].copy_from_slice(ids);
        by_signature[..len].sort_by(|&a, &b| signature(a as usize).cmp(&signature(b as usize)));
        let perm = perm.get_or_insert_with(|| Perm::identity(sys.streams.len()));
        for (&name, &s) in ids.iter().zip(&by_signature[..len]) {
            perm.0[s as usize] = name;
        }
    }
    perm.filter(|p| !p.is_identity())
}

/// Whether stream `s` has ended and nothing refers to it any more: no slot, no pendconn,
/// no connection, no task or run-queue entry. No section reads such a stream again.
fn is_dead(sys: &System, s: StreamId) -> bool {
    let strm = &sys.streams[s as usize];
    strm.is_done()
        && strm.srv_conn.is_none()
        && strm.pend_pos.is_none()
        && !strm.curr_sess
        && sys
            .threads
            .iter()
            .all(|th| !th.runq.contains(&s) && th.task.is_none_or(|t| t.stream != s))
}

/// Forgets what no section will read again: the fields of a dead stream ([`is_dead`]),
/// how it ended included. Two states that differ only there have the same futures and
/// the same verdict on every property.
pub fn forget_dead(sys: &mut System) {
    for s in 0..sys.arrived {
        let strm = &sys.streams[s as usize];
        // Most dead streams were forgotten in the state this one came from.
        if strm.is_done() && *strm != forgotten(strm.thread) && is_dead(sys, s) {
            sys.streams[s as usize] = forgotten(strm.thread);
        }
    }
}

/// What is left of a dead stream on `thread`.
fn forgotten(thread: lbqueue::ThreadId) -> Stream {
    Stream {
        phase: Phase::Done(Outcome::Served),
        ..Stream::new(thread)
    }
}

/// The canonical renaming of `sys` and the renaming that takes `sys` to it.
pub fn canonical(sys: &System) -> (System, Perm) {
    match canonical_perm(sys) {
        Some(p) => (rename(sys, &p), p),
        None => (sys.clone(), Perm::identity(sys.streams.len())),
    }
}

/// The state the full reduction stores for `sys` (dead streams forgotten, then the
/// canonical renaming), for stateright's `symmetry_fn`.
pub fn representative(sys: &System) -> System {
    let mut sys = sys.clone();
    forget_dead(&mut sys);
    canonical(&sys).0
}

/// The longest a reduced cycle is gone round before its renaming closes: the order of a
/// renaming of at most 64 streams in classes is far below this, so reaching it is a bug.
const MAX_ROUNDS: usize = 10_000;

/// A run of the real system behind a lasso of the reduced graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConcreteRun {
    /// The actions, from the scenario's initial state.
    pub actions: Vec<Actor>,
    /// After each action, the id of the reduced state whose class the run is in.
    pub landed: Vec<u32>,
    /// Where the cycle starts in `actions` (lassos only).
    pub cycle_start: Option<usize>,
}

/// Follows a path of the reduced graph with the renaming that turns its states into
/// the concrete ones: the concrete state is always `rename(reduced, p)`.
struct Walk<'a, F> {
    model: &'a StepModel,
    state: F,
    p: Perm,
    from: u32,
    run: ConcreteRun,
}

impl<'a, F: Fn(u32) -> System> Walk<'a, F> {
    fn step(&mut self, &(a, to): &(Actor, u32)) {
        // The real step is the reduced one renamed by the renaming in force before it.
        self.run.actions.push(self.p.actor(a));
        self.run.landed.push(to);
        // The stored successor is `rename(next, sigma)`, so the concrete one (which is
        // `rename(next, p)`) is `rename(stored, p ∘ sigma⁻¹)`.
        let mut next = (self.state)(self.from);
        step(&mut next, &self.model.scenario, a, &mut Journal::silent());
        if let Some(sigma) = self.model.reduce(&mut next) {
            self.p = self.p.after(&sigma.inverse());
        }
        self.from = to;
    }
}

/// The run of the real system behind `lasso`, a lasso of `model`'s graph whose states
/// `state` gives by id. The path keeps its length; the cycle is gone round as often as
/// it takes for the renaming to come back to where the cycle began, so the concrete
/// cycle really closes. Without reduction every renaming is the identity and the run
/// is the lasso itself.
pub fn concrete_run(
    model: &StepModel,
    state: impl Fn(u32) -> System,
    lasso: &Lasso<Actor>,
) -> ConcreteRun {
    let streams = state(lasso.init).streams.len();
    let mut walk = Walk {
        model,
        state,
        p: Perm::identity(streams),
        from: lasso.init,
        run: ConcreteRun {
            actions: Vec::new(),
            landed: Vec::new(),
            cycle_start: None,
        },
    };
    for s in &lasso.prefix {
        walk.step(s);
    }
    if lasso.cycle.is_empty() {
        return walk.run;
    }
    walk.run.cycle_start = Some(walk.run.actions.len());
    let at_start = walk.p.clone();
    for _ in 0..MAX_ROUNDS {
        for s in &lasso.cycle {
            walk.step(s);
        }
        if walk.p == at_start {
            return walk.run;
        }
    }
    unreachable!("a renaming of finitely many streams comes back within {MAX_ROUNDS} rounds")
}
