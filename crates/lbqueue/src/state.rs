//! The data HAProxy's queue logic works on: the backend (`struct proxy`), its servers,
//! the streams and their pendconns, the threads that run the stream tasks, and the CLI.
//!
//! Everything is plain data (`Clone + Eq + Hash`) so that a model checker can store and
//! compare whole systems. Nothing here holds a counter that grows without bound: a state
//! that loops in HAProxy loops here too, which is what the cycle search relies on.

use std::fmt;

use smallvec::SmallVec;

use crate::scenario::{CliCommand, Scenario};

/// Index of a stream in [`System::streams`] (`S1` is index 0 when printed).
pub type StreamId = u8;
/// Index of a server in [`Proxy::servers`].
pub type ServerId = u8;
/// Index of an HAProxy thread in [`System::threads`] (`T1` is index 0 when printed).
pub type ThreadId = u8;

/// Which queue a pendconn sits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QueueId {
    /// The backend's queue (`px->queue`): streams that no server could take yet.
    Backend,
    /// A server's own queue (`srv->queue`): streams assigned to that server.
    Server(ServerId),
}

/// A queue's counters. The entries themselves live in [`Proxy::pendconns`], in enqueue
/// order, because HAProxy compares the heads of a server queue and of the backend queue
/// by age when it dequeues.
///
/// Since 26b3e5236 a server and the backend have one queue per thread group
/// (`per_tgrp[g].queue`), each with its `length`, and `queueslength` counts them all.
/// The model keeps one `length` per group ([`crate::scenario::limits::THREAD_GROUPS`]);
/// `queueslength` is their sum: HAProxy updates the two with adjacent atomics on every
/// path (queue.c:202–210, 353–355, 375–377 at 50872daa6), which the model makes one
/// update. With a single queue (before 26b3e5236, or one group) only `lengths[0]` moves.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Queue {
    /// `per_tgrp[g].queue.length`: the atomic count HAProxy reads without the lock.
    pub lengths: [u8; 2],
}

impl Queue {
    /// `queueslength` (583303c48): entries in every thread group's queue; with a
    /// single queue, `queue.length`.
    pub fn queueslength(&self) -> u8 {
        self.lengths[0].wrapping_add(self.lengths[1])
    }
}

/// `struct server`, reduced to what the queue logic reads and writes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Server {
    /// Admin maintenance flag (FMAINT), set by `disable server`, cleared by `enable server`.
    pub maint: bool,
    /// `maxconn` (0 = unlimited); static, so `srv_dynamic_maxconn` is this value.
    pub maxconn: u8,
    /// `served`: slots taken on this server (streams whose `srv_conn` is this server).
    pub served: u8,
    /// `cur_sess`: connections actually opened (SF_CURR_SESS), read by `may_dequeue_tasks`.
    pub cur_sess: u8,
    /// The server's own queue.
    pub queue: Queue,
    /// `dequeuing` (b11495652): set while one thread runs the `process_srv_queue` batch.
    /// Every engine runs that batch as one step, so it is always clear between steps
    /// (CHECKS.md, "The model and its simplifications").
    pub dequeuing: bool,
    /// Effective weight (`cur_eweight`); a usable server contributes it to `tot_wact`.
    pub weight: u8,
    /// The streams holding a slot on this server (`srv_conn`), newest first: the list
    /// `stream_add_srv_conn()` inserts at the head of (`srv->per_thr[].streams`) and
    /// `srv_shutdown_streams()` walks. HAProxy keeps one such list per thread that
    /// attached the stream; the model keeps one per server (CHECKS.md).
    pub conns: SmallVec<[StreamId; 2]>,
    /// `strict-maxconn` (706b00842, SRV_F_STRICT_MAXCONN): the slot is released only
    /// when the server connection is freed, in `stream_free`; static.
    pub strict_maxconn: bool,
}

impl Server {
    /// `srv_is_usable()`: weight, not in maintenance, state running.
    pub fn usable(&self) -> bool {
        self.weight > 0 && !self.maint
    }

    /// `maxconn` as the callers that test `srv->maxconn` first read it (the LB's full
    /// tests, assign_server_and_queue, `may_dequeue_tasks`, `pendconn_grab_from_px`):
    /// `None` when unlimited (0).
    pub fn dyn_maxconn(&self) -> Option<u8> {
        (self.maxconn > 0).then_some(self.maxconn)
    }

    /// Whether `process_srv_queue` may hand this server one more slot: `served <
    /// srv_dynamic_maxconn(s)`, read without a `srv->maxconn` test first (queue.c:391 at
    /// 8d68717a4, 436 and 291 at 50872daa6). With static limits `srv_dynamic_maxconn`
    /// is `maxconn` itself, 0 for an unlimited server, so a server with maxconn 0 never
    /// dequeues anything, at any commit: its queue runs never hand out a slot. With
    /// `unlimited` ([`crate::Behaviour::unlimited_server_dequeues`]) maxconn 0 is no
    /// limit here either.
    pub fn dequeue_has_room(&self, unlimited: bool) -> bool {
        match self.dyn_maxconn() {
            Some(m) => self.served < m,
            None => unlimited,
        }
    }
}

/// A load-balancing algorithm (`px->lbprm.algo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LbAlgo {
    /// `balance roundrobin`.
    RoundRobin,
    /// `balance static-rr` (same rotation as roundrobin when weights are equal).
    StaticRr,
    /// `balance first`: the first usable server with a free slot.
    First,
    /// A deterministic hash (`balance source`-like) that always picks the stream's own
    /// server among the usable ones, full or not: exercises the server-queue path.
    Hash,
}

impl LbAlgo {
    /// The algorithms for which `assign_server` takes the "backend queue non-empty ⇒
    /// FULL" shortcut (HAProxy calls them non-deterministic).
    pub fn takes_shortcut(self) -> bool {
        matches!(self, LbAlgo::RoundRobin | LbAlgo::StaticRr | LbAlgo::First)
    }
}

/// `struct proxy` (the backend), reduced to what the queue logic reads and writes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Proxy {
    /// The backend's queue counters (`px->queue.length`).
    pub queue: Queue,
    /// `totpend`: backend queue plus every server queue.
    pub totpend: u8,
    /// `served`: sum of the servers' `served`.
    pub served: u8,
    /// `beconn`: streams attached to the backend, the one doing LB included.
    pub beconn: u8,
    /// The LB algorithm.
    pub algo: LbAlgo,
    /// Next server in the round-robin rotation.
    pub rr_next: ServerId,
    /// The servers.
    pub servers: SmallVec<[Server; 2]>,
    /// Every linked pendconn of every queue, oldest first (the queue trees' keys).
    pub pendconns: SmallVec<[StreamId; 8]>,
    /// `px->ready_srv` (cda7275ef): a server that `process_srv_queue` found with nothing
    /// served on it or on the backend, published for a stream that queues just after.
    /// NULL at start: a server without health checks starts RUNNING without a state
    /// change, so no `process_srv_queue` runs at boot (server.c:3177 at 50872daa6).
    pub ready_srv: Option<ServerId>,
    /// The backend queue's lock was left held by a section that returned without
    /// releasing it (the `ready_srv` path before e9d34f991): every later taker of that
    /// lock spins forever.
    pub queue_lock_leaked: bool,
}

impl Proxy {
    /// `px->lbprm.tot_weight` (all servers are active servers in the model).
    pub fn tot_weight(&self) -> u16 {
        self.servers
            .iter()
            .filter(|s| s.usable())
            .map(|s| u16::from(s.weight))
            .sum()
    }

    pub(crate) fn queue_mut(&mut self, q: QueueId) -> &mut Queue {
        match q {
            QueueId::Backend => &mut self.queue,
            QueueId::Server(s) => &mut self.servers[s as usize].queue,
        }
    }
}

/// Where a stream's back side is (`scb->state`), plus its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// Accepted but not yet run: has not picked the backend (not in `beconn`).
    New,
    /// SC_ST_REQ: needs load balancing.
    Req,
    /// SC_ST_QUE: has a pendconn.
    Que,
    /// SC_ST_ASS: a server is assigned, the connection is not opened yet.
    Ass,
    /// SC_ST_EST: connected to its server, waiting for the response.
    Est,
    /// The stream ended.
    Done(Outcome),
}

/// How a stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Got its response from a server.
    Served,
    /// 503: no server available (NOSRV).
    NoServer,
    /// 503: queue timeout (sQ).
    QueueTimeout,
    /// Killed by `shutdown sessions server`.
    Killed,
    /// 503: the connection failed and no retry was left (SC_ST_CER, `conn_retries`
    /// reached `retries`).
    ConnectionError,
}

/// A queue entry (`struct pendconn`). A pendconn is linked iff its stream is in
/// [`Proxy::pendconns`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pendconn {
    /// The queue it was added to.
    pub queue: QueueId,
    /// `p->target`: the server that picked it (NULL until picked).
    pub target: Option<ServerId>,
    /// SF_ASSIGNED in `p->strm_flags`, the flags the stream takes back on dequeue.
    pub assigned: bool,
}

/// `struct stream`, reduced to what the queue logic reads and writes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Stream {
    /// The thread whose scheduler runs this stream's task.
    pub thread: ThreadId,
    /// Back side state.
    pub phase: Phase,
    /// `target`: the assigned server, if any.
    pub target: Option<ServerId>,
    /// SF_ASSIGNED: `target` is valid, skip LB.
    pub assigned: bool,
    /// `srv_conn`: the server whose slot this stream holds (counted in `served`).
    pub srv_conn: Option<ServerId>,
    /// SF_CURR_SESS: counted in the target's `cur_sess`.
    pub curr_sess: bool,
    /// `pend_pos`: this stream's pendconn, linked or picked-not-yet-consumed.
    pub pend_pos: Option<Pendconn>,
    /// A kill request (`stream_shutdown`, UEVT) is pending: the stream kills itself on
    /// its next run (b8e3b0a18).
    pub kill_requested: bool,
    /// The queue timeout expired (`conn_exp` reached) and woke the task.
    pub timed_out: bool,
    /// The connection attempt to the target failed (SC_ST_CER): the task handles it
    /// next (`back_handle_st_cer`).
    pub conn_failed: bool,
    /// `conn_retries`: connection retries this stream used (at most the scenario's
    /// `retries`).
    pub conn_retries: u8,
}

impl Stream {
    /// A stream that has not arrived yet, bound to `thread`.
    pub fn new(thread: ThreadId) -> Self {
        Stream {
            thread,
            phase: Phase::New,
            target: None,
            assigned: false,
            srv_conn: None,
            curr_sess: false,
            pend_pos: None,
            kill_requested: false,
            timed_out: false,
            conn_failed: false,
            conn_retries: 0,
        }
    }

    /// Whether the stream has ended.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done(_))
    }
}

/// The next section of the stream task a thread is running (its program counter inside
/// `process_stream`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pc {
    /// `balance_again:` in assign_server_and_queue → `assign_server()`.
    AssignServer,
    /// assign_server_and_queue, SRV_STATUS_OK: is the picked server full?
    CheckServer(ServerId),
    /// assign_server_and_queue: `pendconn_add()` to the server's queue.
    AddToServerQueue(ServerId),
    /// assign_server_and_queue, SRV_STATUS_FULL: `pendconn_add()` to the backend queue.
    AddToBackendQueue,
    /// assign_server_and_queue: `pendconn_must_try_again()`.
    MustTryAgain,
    /// srv_redispatch_connect, QUEUED: `may_dequeue_tasks()` → `process_srv_queue()`.
    DequeueAfterQueueing(ServerId),
    /// A task woken in SC_ST_QUE: `pendconn_dequeue()` (or the queue timeout).
    Dequeue,
    /// back_try_conn_req in SC_ST_ASS: `connect_server()`.
    Connect,
    /// A task woken in SC_ST_EST: the response is served; or, in any state, a pending
    /// kill request is honoured. The stream ends and releases its slot.
    Close,
    /// After a stream released its slot: `may_dequeue_tasks()` → `process_srv_queue()`.
    DequeueAfterRelease(ServerId),
    /// `stream_free` of a stream killed before connecting: `may_dequeue_tasks(target)` →
    /// `process_srv_queue(target)`, while its slot is still held.
    FreeDequeue(ServerId),
    /// `stream_free`, after that: `sess_change_server(s, NULL)` (the slot goes only now).
    FreeReleaseSlot,
    /// Before 3372a2ea0, assign_server_and_queue's OK branch after the "is it full" test
    /// found room: `sess_change_server(s, srv)` increments `served`, a separate atomic.
    TakeSlot(ServerId),
    /// `ready_srv` path after a backend `pendconn_add`: `XCHG(&be->ready_srv, NULL)`.
    TakeReadySrv,
    /// `ready_srv` path: `CAS(&newserv->served, 0, 1)` while `served` reads 0.
    ClaimReadySrv(ServerId),
    /// `ready_srv` path, under the backend queue lock: take our own entry back if it is
    /// still linked and use the server; else give the slot back (`served--`) and stay
    /// queued.
    UnlinkForReadySrv(ServerId),
    /// The tail of a `process_srv_queue(srv)` call (cda7275ef, after the batch's unlock
    /// and counters): if `srv->served == 0 && px->served == 0` and `ready_srv` is NULL,
    /// publish the server and try one more dequeue; then go on as `AfterTail` says.
    ReadySrvTail(ServerId, AfterTail),
    /// `stream_shutdown_self` (51611a5b7) released the slot: `may_dequeue_tasks` →
    /// `process_srv_queue` on the target, at once.
    ShutdownDequeue(ServerId),
    /// After `stream_shutdown_self`: the stream ends and is freed (`stream_free`).
    StreamFree,
    /// `master-fixed`: the queued stream got no server from `ready_srv`; it reads the
    /// servers' `served` to make sure somebody will dequeue it.
    CheckDequeuer,
    /// `stream_choose_redispatch` after a connection error (SC_ST_CER, a retry left, the
    /// redispatch condition met): the slot was released; `may_dequeue_tasks` →
    /// `process_srv_queue` on the old target, then back to SC_ST_REQ.
    DequeueBeforeRebalance(ServerId),
    /// `process_srv_queue(srv)` with per-thread-group queues (26b3e5236): after the
    /// batch on the thread's own group's queues and its unlock, the batch on the other
    /// group's queues (while `srv->served < maxconn`); then the tail, then `AfterTail`.
    OtherTgroupBatch(ServerId, AfterTail),
}

impl Pc {
    /// Whether this section belongs to one call of `assign_server_and_queue`.
    pub fn in_assign(self) -> bool {
        matches!(
            self,
            Pc::AssignServer
                | Pc::CheckServer(_)
                | Pc::AddToServerQueue(_)
                | Pc::AddToBackendQueue
                | Pc::MustTryAgain
                | Pc::TakeSlot(_)
                | Pc::TakeReadySrv
                | Pc::ClaimReadySrv(_)
                | Pc::UnlinkForReadySrv(_)
                | Pc::CheckDequeuer
        )
    }
}

/// What a thread does after a `process_srv_queue` tail ([`Pc::ReadySrvTail`]): the
/// section that followed the `process_srv_queue` call in HAProxy's code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AfterTail {
    /// The task yields (the call was the last thing it did).
    Yield,
    /// `stream_free` goes on with `sess_change_server(s, NULL)` ([`Pc::FreeReleaseSlot`]).
    FreeReleaseSlot,
    /// `stream_shutdown_self` is done; the stream is freed next ([`Pc::StreamFree`]).
    StreamFree,
    /// `stream_choose_redispatch` released the slot and dequeued: the stream goes back to
    /// SC_ST_REQ ([`Pc::AssignServer`]).
    Rebalance,
}

/// The backend's connection retry settings (`retries`, `option redispatch`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConnConfig {
    /// `retries N` (`s->max_retries`): connection retries after a failed attempt.
    pub retries: u8,
    /// `option redispatch` (PR_O_REDISP, `redispatch_after` -1: on the last retry, or
    /// at once when the server is down or the LB may pick another one).
    pub redispatch: bool,
    /// `option abortonclose`: a killed stream may give its slot up before it connects
    /// (see [`crate::Scenario::abortonclose`]).
    pub abortonclose: bool,
}

/// The local variables one call of `assign_server_and_queue()` carries from one of its
/// sections to the next. Outside a call (and in every variant that does not use them)
/// they are at their default, so they never tell apart two states that HAProxy would
/// not, and they are bounded, so the state space stays finite.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Call {
    /// `bounded-retry`: how many times this call went back to `balance_again`
    /// (at most [`crate::variant::Behaviour::try_again_rounds`]).
    pub retries: u8,
    /// `change-counter`: the backend queue's change count moved since this round's
    /// `assign_server()` looked (some entry left the backend queue other than by a
    /// caller's own take-back, or `px->served` dropped to 0). This is exactly
    /// "count now != count seen by the call" of an unbounded counter, kept as one bit
    /// per call in progress; it is only ever set while the call waits to add its entry
    /// or to run `pendconn_must_try_again`.
    pub queue_changed: bool,
}

/// The stream task a thread is in the middle of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Task {
    /// The stream whose task runs.
    pub stream: StreamId,
    /// Its next section.
    pub pc: Pc,
    /// The locals of the assign_server_and_queue call in progress (default otherwise).
    pub call: Call,
}

/// A counter HAProxy updates with an atomic operation just outside a queue lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Counter {
    /// `px->served`.
    PxServed,
    /// `px->totpend`.
    PxTotpend,
    /// A queue's `length`, in thread group `.1` (0 with a single queue).
    Length(QueueId, u8),
    /// A server's `served`, when HAProxy drops it after `px->served` (c880c32b1).
    SrvServed(ServerId),
}

impl fmt::Display for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Counter::PxServed => f.write_str("px->served"),
            Counter::PxTotpend => f.write_str("px->totpend"),
            Counter::Length(QueueId::Backend, 0) => f.write_str("px->queue.length"),
            Counter::Length(QueueId::Server(v), 0) => write!(f, "s{}->queue.length", v + 1),
            // Group 1's queue keeps the single queue's name; group 2's is spelt out.
            Counter::Length(QueueId::Backend, g) => {
                write!(f, "px->per_tgrp[{g}].queue.length")
            }
            Counter::Length(QueueId::Server(v), g) => {
                write!(f, "s{}->per_tgrp[{g}].queue.length", v + 1)
            }
            Counter::SrvServed(v) => write!(f, "s{}->served", v + 1),
        }
    }
}

/// Counter updates an actor still owes after its section's lock was released, oldest
/// first (split atomics only; CHECKS.md, "Atomics outside the locks").
pub type Deferred = SmallVec<[(Counter, i8); 2]>;

/// An HAProxy thread: a run queue of woken stream tasks, and the one it is running.
/// A thread runs one task at a time, so a task that loops starves the others.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Thread {
    /// Woken tasks, in wake-up order.
    pub runq: SmallVec<[StreamId; 4]>,
    /// The task being run, if it has sections left.
    pub task: Option<Task>,
    /// Atomic counter updates this thread does next, before anything else.
    pub deferred: Deferred,
}

impl Thread {
    /// Whether the thread has nothing to run.
    pub fn idle(&self) -> bool {
        self.task.is_none() && self.runq.is_empty() && self.deferred.is_empty()
    }
}

/// The whole system: the backend, the streams, the threads, and the CLI's position in
/// its script.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct System {
    /// The backend.
    pub px: Proxy,
    /// Every stream of the scenario, arrived or not.
    pub streams: SmallVec<[Stream; 6]>,
    /// The HAProxy threads.
    pub threads: SmallVec<[Thread; 3]>,
    /// Streams that have arrived (they arrive in id order).
    pub arrived: u8,
    /// Index of the CLI's next section in the scenario's CLI sections ([`Scenario::cli_section`]).
    pub cli_pc: u8,
    /// Atomic counter updates the CLI does next, before its next section.
    pub cli_deferred: Deferred,
    /// Whether counters HAProxy updates outside the queue locks are updated in steps of
    /// their own ([`Scenario::split_atomics`]); constant for a run.
    pub split_atomics: bool,
    /// The updates the section in progress leaves for after its lock; moved to the
    /// running actor when the section ends (always empty between two steps).
    pub deferring: Deferred,
    /// Connection attempts that will still fail (the scenario's `connect_errors` at
    /// start; each [`crate::Actor::ConnError`] takes one).
    pub conn_errors_left: u8,
    /// The backend's `retries` and `option redispatch` (constant for a run).
    pub conn: ConnConfig,
    /// Thread groups with queues of their own: the scenario's `thread_groups` when the
    /// variant has per-thread-group queues (26b3e5236), else 1; constant for a run.
    pub thread_groups: u8,
}

impl System {
    /// The initial system of a scenario: every server enabled and idle, no stream arrived.
    pub fn new(scenario: &Scenario) -> Self {
        let servers = scenario
            .servers
            .iter()
            .map(|s| Server {
                maint: false,
                maxconn: s.maxconn,
                served: 0,
                cur_sess: 0,
                queue: Queue::default(),
                dequeuing: false,
                weight: s.weight,
                conns: SmallVec::new(),
                strict_maxconn: s.strict_maxconn,
            })
            .collect();
        System {
            px: Proxy {
                queue: Queue::default(),
                totpend: 0,
                served: 0,
                beconn: 0,
                algo: scenario.algo,
                rr_next: 0,
                servers,
                pendconns: SmallVec::new(),
                ready_srv: None,
                queue_lock_leaked: false,
            },
            streams: scenario.streams.iter().map(|&t| Stream::new(t)).collect(),
            threads: smallvec::smallvec![Thread::default(); scenario.threads as usize],
            arrived: 0,
            cli_pc: 0,
            cli_deferred: SmallVec::new(),
            split_atomics: scenario.split_atomics,
            deferring: SmallVec::new(),
            conn_errors_left: scenario.connect_errors,
            conn: ConnConfig {
                retries: scenario.retries,
                redispatch: scenario.redispatch,
                abortonclose: scenario.abortonclose,
            },
            thread_groups: if scenario.behaviour().per_tgrp_queues {
                scenario.thread_groups
            } else {
                1
            },
        }
    }

    /// An atomic counter update that HAProxy makes as an operation of its own, after the
    /// rest of the section in progress (just after releasing its queue lock, or after
    /// the server's own counter): with split atomics the running actor makes it in a
    /// step of its own, else it is made now. Consecutive updates of one counter merge (HAProxy
    /// adds a batch's count at once).
    pub fn defer_atomic(&mut self, counter: Counter, delta: i8) {
        if !self.split_atomics {
            self.add(counter, delta);
            return;
        }
        match self.deferring.last_mut() {
            Some((c, d)) if *c == counter => *d += delta,
            _ => self.deferring.push((counter, delta)),
        }
    }

    /// Adds `delta` to `counter`, wrapping like HAProxy's unsigned atomics: with split
    /// atomics a decrement can land before the increment it pairs with.
    pub fn add(&mut self, counter: Counter, delta: i8) {
        let c = match counter {
            Counter::PxServed => &mut self.px.served,
            Counter::PxTotpend => &mut self.px.totpend,
            Counter::Length(q, g) => &mut self.px.queue_mut(q).lengths[g as usize],
            Counter::SrvServed(v) => &mut self.px.servers[v as usize].served,
        };
        *c = c.wrapping_add_signed(delta);
    }

    /// The system with every owed counter update made: what the counters will say once
    /// every actor has caught up.
    pub fn settled(&self) -> std::borrow::Cow<'_, System> {
        let owed = self.threads.iter().any(|t| !t.deferred.is_empty())
            || !self.cli_deferred.is_empty()
            || !self.deferring.is_empty();
        if !owed {
            return std::borrow::Cow::Borrowed(self);
        }
        let mut sys = self.clone();
        let mut all: Deferred = std::mem::take(&mut sys.cli_deferred);
        all.append(&mut sys.deferring);
        for t in &mut sys.threads {
            all.append(&mut t.deferred);
        }
        for (c, d) in all {
            sys.add(c, d);
        }
        std::borrow::Cow::Owned(sys)
    }

    /// The thread group (0-based) whose queues thread `t`'s `pendconn_add` uses and
    /// whose queues its `process_srv_queue` runs first (`tgid - 1`).
    pub fn tgroup_of(&self, t: ThreadId) -> u8 {
        crate::scenario::tgroup_of(t, self.threads.len() as u8, self.thread_groups)
    }

    /// The thread group of stream `s`'s pendconn: the group of the thread that runs
    /// its task (a stream's task stays on its thread, and only it adds its pendconn).
    pub fn stream_tgroup(&self, s: StreamId) -> u8 {
        self.tgroup_of(self.streams[s as usize].thread)
    }

    /// Whether a pendconn of `s` is linked in a queue.
    pub fn is_linked(&self, s: StreamId) -> bool {
        self.px.pendconns.contains(&s)
    }

    /// The streams linked in queue `q`, oldest first.
    pub fn queue_entries(&self, q: QueueId) -> impl Iterator<Item = StreamId> + '_ {
        self.px.pendconns.iter().copied().filter(move |&s| {
            self.streams[s as usize]
                .pend_pos
                .is_some_and(|p| p.queue == q)
        })
    }

    /// The oldest stream linked in queue `q`.
    pub fn queue_head(&self, q: QueueId) -> Option<StreamId> {
        self.queue_entries(q).next()
    }

    /// Wakes a stream's task (`task_wakeup`): queues it on its thread unless it is
    /// already queued. A task that is running is queued again to run after.
    pub fn wake(&mut self, s: StreamId) {
        let t = self.streams[s as usize].thread as usize;
        if !self.threads[t].runq.contains(&s) {
            self.threads[t].runq.push(s);
        }
    }

    /// `change-counter`: the backend queue's change count moves. Every call of
    /// assign_server_and_queue that has got FULL and not yet run
    /// `pendconn_must_try_again` notes it, except `except` (a thread whose own
    /// `assign_server` ran in the same section: that round already saw the change).
    pub fn note_queue_change(&mut self, except: Option<ThreadId>) {
        for (t, th) in self.threads.iter_mut().enumerate() {
            if Some(t as ThreadId) == except {
                continue;
            }
            if let Some(task) = th.task.as_mut() {
                if matches!(task.pc, Pc::AddToBackendQueue | Pc::MustTryAgain) {
                    task.call.queue_changed = true;
                }
            }
        }
    }

    /// The thread that is inside assign_server_and_queue, with its stream, if any.
    pub fn threads_in_assign(&self) -> impl Iterator<Item = (ThreadId, StreamId)> + '_ {
        self.threads.iter().enumerate().filter_map(|(t, th)| {
            th.task
                .filter(|task| task.pc.in_assign())
                .map(|task| (t as ThreadId, task.stream))
        })
    }

    /// Whether the CLI stands between two commands (not between two sections of one).
    pub fn cli_at_command_boundary(&self, scenario: &Scenario) -> bool {
        self.cli_deferred.is_empty() && scenario.cli_section(self.cli_pc).is_none_or(|s| s.first)
    }

    /// Whether the CLI has commands left (or counter updates it still owes).
    pub fn cli_pending(&self, scenario: &Scenario) -> bool {
        (self.cli_pc as usize) < scenario.cli_section_count() || !self.cli_deferred.is_empty()
    }

    /// The command the CLI is running or about to run.
    pub fn cli_command(&self, scenario: &Scenario) -> Option<CliCommand> {
        scenario.cli_section(self.cli_pc).map(|s| s.command)
    }
}
