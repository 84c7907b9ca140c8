//! The programs that interleave: each HAProxy thread running its stream tasks one
//! section at a time (`process_stream` → `back_handle_st_req` → `srv_redispatch_connect`
//! → `assign_server_and_queue` …), the CLI running its script, clients arriving and
//! queue timeouts firing.
//!
//! [`step`] is the only way any engine moves the system: it runs exactly one section of
//! one actor. Between two sections, any other actor may run.

use std::fmt;

use crate::event::{AssignResult, Cer, Event, Journal};
use crate::lb::{assign_server, sess_change_server, take_reserved_slot};
use crate::queue::{
    first_batch, may_dequeue_tasks, other_tgroup, pendconn_add, pendconn_dequeue,
    pendconn_must_try_again_in_call, process_srv_queue, process_srv_queue_tail, unlink_from_tree,
    Dequeued, TryAgain,
};
use crate::scenario::Scenario;
use crate::server::{run_cli_section, CliContext};
use crate::state::{
    AfterTail, Call, Counter, Outcome, Pc, Phase, QueueId, ServerId, StreamId, System, Task,
    ThreadId,
};
use crate::stream::{
    connect_server, release_slot, stream_end, stream_end_keeping_slot, stream_free_killed,
    stream_shutdown_self,
};
use crate::variant::Behaviour;

/// Who runs a section. Weak fairness is between actors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Actor {
    /// An HAProxy thread runs the next section of its current or next stream task.
    Thread(ThreadId),
    /// The CLI runs the next section of its script.
    Cli,
    /// The next client connection arrives (streams arrive in id order).
    Client,
    /// A queued stream's queue timeout fires.
    Timeout(StreamId),
    /// The connection attempt of a stream fails (`connect_errors` in the scenario):
    /// an environment event, which may also never happen (no fairness is owed to it).
    ConnError(StreamId),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Thread(t) => write!(f, "T{}", t + 1),
            Actor::Cli => f.write_str("CLI"),
            Actor::Client => f.write_str("client"),
            Actor::Timeout(s) => write!(f, "timer S{}", s + 1),
            Actor::ConnError(s) => write!(f, "network S{}", s + 1),
        }
    }
}

impl std::str::FromStr for Actor {
    type Err = String;
    /// Parses what [`Actor`]'s `Display` writes: `T1`, `CLI`, `client`, `timer S3`,
    /// `network S2`.
    fn from_str(text: &str) -> Result<Actor, String> {
        let one_based = |digits: &str| digits.parse::<u8>().ok().filter(|&n| n >= 1).map(|n| n - 1);
        match text {
            "CLI" => Ok(Actor::Cli),
            "client" => Ok(Actor::Client),
            _ => text
                .strip_prefix('T')
                .and_then(one_based)
                .map(Actor::Thread)
                .or_else(|| {
                    text.strip_prefix("timer S")
                        .and_then(one_based)
                        .map(Actor::Timeout)
                })
                .or_else(|| {
                    text.strip_prefix("network S")
                        .and_then(one_based)
                        .map(Actor::ConnError)
                })
                .ok_or_else(|| {
                    format!(
                        "expected an actor (T1, CLI, client, timer S1, network S1), found {text:?}"
                    )
                }),
        }
    }
}

/// The actors that can run a section now, in a fixed order.
pub fn enabled_actors(sys: &System, sc: &Scenario, out: &mut Vec<Actor>) {
    for t in 0..sys.threads.len() as ThreadId {
        if thread_enabled(sys, sc, t) {
            out.push(Actor::Thread(t));
        }
    }
    if cli_enabled(sys, sc) {
        out.push(Actor::Cli);
    }
    if (sys.arrived as usize) < sys.streams.len() {
        out.push(Actor::Client);
    }
    if sc.queue_timeout {
        for (s, strm) in sys.streams.iter().enumerate() {
            if timeout_armed(sys, s as StreamId) && !strm.timed_out {
                out.push(Actor::Timeout(s as StreamId));
            }
        }
    }
    if sys.conn_errors_left > 0 {
        for s in 0..sys.streams.len() as StreamId {
            if connection_may_fail(sys, s) {
                out.push(Actor::ConnError(s));
            }
        }
    }
}

/// Whether stream `s`'s connection attempt is in flight and may still fail: it
/// connected (`connect_server`) and its task has not run since (the model's SC_ST_EST
/// stands for SC_ST_CON until then), no error is pending, and failures are left.
fn connection_may_fail(sys: &System, s: StreamId) -> bool {
    let strm = &sys.streams[s as usize];
    sys.conn_errors_left > 0
        && strm.phase == Phase::Est
        && !strm.conn_failed
        && !strm.kill_requested
}

/// Whether thread `t` can run a section: it has work, and, when the CLI applet is one
/// of its tasks (`cli_thread`), no CLI command is half done (a task runs to its yield:
/// the applet's command sections come one after the other on that thread).
fn thread_enabled(sys: &System, sc: &Scenario, t: ThreadId) -> bool {
    !sys.threads[t as usize].idle()
        && (sc.cli_thread != Some(t)
            || sys.threads[t as usize].task.is_some()
            || sys.cli_at_command_boundary(sc))
}

/// Whether the CLI can run a section: it has commands left, and, as a task of thread
/// `cli_thread`, that thread is between two tasks (no stream task in progress, no
/// counter update owed by the last one).
fn cli_enabled(sys: &System, sc: &Scenario) -> bool {
    sys.cli_pending(sc)
        && sc.cli_thread.is_none_or(|t| {
            let th = &sys.threads[t as usize];
            th.task.is_none() && th.deferred.is_empty()
        })
}

/// Whether a stream waits in a queue with its queue timeout (`conn_exp`) armed.
fn timeout_armed(sys: &System, s: StreamId) -> bool {
    sys.streams[s as usize].phase == Phase::Que && sys.is_linked(s)
}

/// Whether `actor` can run now.
/// An actor the scenario does not have (a thread or stream out of range, e.g. in a
/// trace file replayed against a smaller scenario) is never enabled.
pub fn is_enabled(sys: &System, sc: &Scenario, actor: Actor) -> bool {
    match actor {
        Actor::Thread(t) => (t as usize) < sys.threads.len() && thread_enabled(sys, sc, t),
        Actor::Cli => cli_enabled(sys, sc),
        Actor::Client => (sys.arrived as usize) < sys.streams.len(),
        Actor::Timeout(s) => {
            sc.queue_timeout
                && sys
                    .streams
                    .get(s as usize)
                    .is_some_and(|strm| !strm.timed_out)
                && timeout_armed(sys, s)
        }
        Actor::ConnError(s) => (s as usize) < sys.streams.len() && connection_may_fail(sys, s),
    }
}

/// Runs one section of `actor`, or, with split atomics, the next counter update the
/// actor owes from its last section. The actor must be enabled.
pub fn step(sys: &mut System, sc: &Scenario, actor: Actor, j: &mut Journal) {
    let b = sc.behaviour();
    // change-counter: what the backend queue's change count looks at.
    let before = b
        .retry_only_after_queue_change
        .then(|| (sys.px.served, sys.queue_entries(QueueId::Backend).count()));
    let ran = match owed_update(sys, actor) {
        Some((counter, delta)) => {
            sys.add(counter, delta);
            j.note(|| Event::Atomic(counter, delta));
            None
        }
        None => {
            let ran = run_actor(sys, sc, actor, b, j);
            let owed = std::mem::take(&mut sys.deferring);
            match actor {
                Actor::Thread(t) => sys.threads[t as usize].deferred.extend(owed),
                Actor::Cli => sys.cli_deferred.extend(owed),
                Actor::Client | Actor::Timeout(_) | Actor::ConnError(_) => {
                    debug_assert!(owed.is_empty(), "{actor} owes no counter update")
                }
            }
            ran
        }
    };
    if let Some(before) = before {
        count_queue_change(sys, before, ran);
    }
}

/// Takes the oldest counter update `actor` owes, if any (it comes before its next
/// section, as the atomic follows the unlock in HAProxy's code).
fn owed_update(sys: &mut System, actor: Actor) -> Option<(Counter, i8)> {
    let owed = match actor {
        Actor::Thread(t) => &mut sys.threads[t as usize].deferred,
        Actor::Cli => &mut sys.cli_deferred,
        Actor::Client | Actor::Timeout(_) | Actor::ConnError(_) => return None,
    };
    (!owed.is_empty()).then(|| owed.remove(0))
}

/// Runs the next section of `actor`; for a thread, the section it ran and its next one.
fn run_actor(
    sys: &mut System,
    sc: &Scenario,
    actor: Actor,
    b: Behaviour,
    j: &mut Journal,
) -> Option<(ThreadId, (Pc, Option<Pc>))> {
    match actor {
        Actor::Thread(t) => Some((t, thread_step(sys, t, b, j))),
        Actor::Cli => {
            let section = sc
                .cli_section(sys.cli_pc)
                .expect("CLI step with an empty script");
            let cli = CliContext {
                tgroup: sc.cli_tgroup(),
                bug: sc.seeded_bug,
            };
            run_cli_section(sys, section.command, section.role, b, cli, j);
            sys.cli_pc += 1;
            None
        }
        Actor::Client => {
            let s = sys.arrived;
            sys.arrived += 1;
            sys.wake(s);
            j.note(|| Event::Arrive(s));
            None
        }
        Actor::Timeout(s) => {
            sys.streams[s as usize].timed_out = true;
            sys.wake(s);
            j.note(|| Event::TimeoutFired(s));
            None
        }
        Actor::ConnError(s) => {
            // The task is already woken (connect_server queued it): it finds SC_ST_CER.
            sys.streams[s as usize].conn_failed = true;
            sys.conn_errors_left -= 1;
            j.note(|| Event::ConnectFailed(s));
            None
        }
    }
}

/// `change-counter`: the backend queue's change count moves when a section took an entry
/// off the backend queue — a dequeuer, `pendconn_grab_from_px`, the purge, a queue
/// timeout, a killed stream's `stream_free` — or dropped `px->served` to 0 (a last stream
/// left, wherever `sess_change_server` ran). A caller's own take-back in
/// `pendconn_must_try_again` does not move it: it is no dequeue, and counting it would
/// let two retrying calls keep each other retrying. Every section takes at most one of
/// these actions on the backend queue, so comparing the counters around the section is
/// exact. `ran`: the thread that ran, the section it ran and its next one.
fn count_queue_change(
    sys: &mut System,
    (served, entries): (u8, usize),
    ran: Option<(ThreadId, (Pc, Option<Pc>))>,
) {
    let took_back = ran.is_some_and(|(_, r)| r == (Pc::MustTryAgain, Some(Pc::AssignServer)));
    let dequeued = sys.queue_entries(QueueId::Backend).count() < entries && !took_back;
    let last_left = served > 0 && sys.px.served == 0;
    if dequeued || last_left {
        // A thread whose assign_server ran in this very section saw the new state.
        let own_round = ran.and_then(|(t, (pc, _))| (pc == Pc::AssignServer).then_some(t));
        sys.note_queue_change(own_round);
    }
}

/// One section of thread `t`: the next section of its current task, or the first
/// section of the next task in its run queue. Returns the section it ran and the next.
fn thread_step(sys: &mut System, t: ThreadId, b: Behaviour, j: &mut Journal) -> (Pc, Option<Pc>) {
    let th = &mut sys.threads[t as usize];
    let task = match th.task {
        Some(task) => task,
        None => {
            let s = th.runq.remove(0);
            Task {
                stream: s,
                pc: first_section(sys, s, b),
                call: Call::default(),
            }
        }
    };
    let mut call = task.call;
    let next = run_section(sys, task, &mut call, b, j);
    sys.threads[t as usize].task = next.map(|pc| Task {
        stream: task.stream,
        pc,
        call: carry_call(call, pc),
    });
    (task.pc, next)
}

/// The call's locals as the next section sees them: all reset once the call returned;
/// `queue_changed` reset when a round starts again at `balance_again` (it only means
/// something between a round's `assign_server` and its `pendconn_must_try_again`).
fn carry_call(call: Call, next: Pc) -> Call {
    if !next.in_assign() {
        return Call::default();
    }
    Call {
        retries: call.retries,
        queue_changed: call.queue_changed
            && matches!(next, Pc::AddToBackendQueue | Pc::MustTryAgain),
    }
}

/// Where a stream task starts when its thread picks it from the run queue
/// (`process_stream` dispatching on the back side state). A task woken in SC_ST_QUE
/// starts with `pendconn_dequeue`, which the caller runs as this first section.
fn first_section(sys: &System, s: StreamId, b: Behaviour) -> Pc {
    let strm = &sys.streams[s as usize];
    // process_stream honours a pending kill request (b8e3b0a18's UEVT) before anything
    // else, whatever the back side state.
    if strm.kill_requested && !strm.is_done() && kill_lands_now(sys, s, b) {
        return Pc::Close;
    }
    match strm.phase {
        Phase::New | Phase::Req => Pc::AssignServer,
        Phase::Que => Pc::Dequeue,
        Phase::Ass => Pc::Connect,
        Phase::Est => Pc::Close,
        Phase::Done(_) => unreachable!("a finished stream is never woken"),
    }
}

/// Whether a pending kill ends the stream where it stands. Since 51611a5b7
/// `stream_shutdown_self` releases the slot and closes at once, and a connected stream
/// always ends. Before it, the kill only schedules the back side's shutdown
/// (`sc_schedule_shutdown`, stream.c:2802–2812 at ca275d99c): a stream that holds a
/// slot but has not connected reaches `back_try_conn_req`, whose
/// `back_may_abort_req()` (backend.c:2034–2039) gives up only with `option
/// abortonclose` or an empty request; otherwise it connects (`connect_server`) with the
/// request it holds, and the kill ends it once connected (then its slot goes the
/// normal way: released, then offered, stream.c:1945–1947).
fn kill_lands_now(sys: &System, s: StreamId, b: Behaviour) -> bool {
    b.shutdown_releases_at_once
        || sys.conn.abortonclose
        || matches!(sys.streams[s as usize].phase, Phase::Est)
}

/// Runs the section at `task.pc`; returns the next section of the same task, or `None`
/// when the task yields (the stream waits, or ended). `call` holds the locals of the
/// assign_server_and_queue call in progress.
fn run_section(
    sys: &mut System,
    task: Task,
    call: &mut Call,
    b: Behaviour,
    j: &mut Journal,
) -> Option<Pc> {
    let s = task.stream;
    match task.pc {
        Pc::AssignServer => {
            if sys.streams[s as usize].phase == Phase::New {
                // The stream picks the backend: it counts in beconn from now on.
                sys.px.beconn += 1;
                sys.streams[s as usize].phase = Phase::Req;
            }
            match assign_server(sys, s, b, j) {
                AssignResult::Ok(v) => Some(Pc::CheckServer(v)),
                AssignResult::FullShortcut | AssignResult::FullNoRoom => {
                    Some(Pc::AddToBackendQueue)
                }
                AssignResult::NoServer => {
                    // srv_redispatch_connect: NOSRV → 503, the stream ends.
                    stream_end(sys, s, Outcome::NoServer, b, j);
                    None
                }
            }
        }
        Pc::CheckServer(v) => Some(check_server(sys, s, v, b, j)),
        Pc::TakeSlot(v) => {
            sess_change_server(sys, s, Some(v), b);
            sys.streams[s as usize].phase = Phase::Ass;
            j.note(|| Event::TookSlot(s, v));
            Some(Pc::Connect)
        }
        Pc::AddToServerQueue(v) => {
            pendconn_add(sys, s, j);
            queued(sys, s, j);
            b.dequeue_after_queueing
                .then_some(Pc::DequeueAfterQueueing(v))
        }
        Pc::AddToBackendQueue => {
            pendconn_add(sys, s, j);
            if b.try_again {
                Some(Pc::MustTryAgain)
            } else if b.ready_srv {
                Some(Pc::TakeReadySrv)
            } else {
                queued(sys, s, j);
                None
            }
        }
        Pc::TakeReadySrv => {
            let got = sys.px.ready_srv.take();
            j.note(|| Event::ReadySrvSwapped(s, got));
            match got {
                Some(v) => Some(Pc::ClaimReadySrv(v)),
                None if b.queued_stream_checks_dequeuer => Some(Pc::CheckDequeuer),
                None => {
                    queued(sys, s, j);
                    None
                }
            }
        }
        Pc::ClaimReadySrv(v) => {
            let won = sys.px.servers[v as usize].served == 0;
            j.note(|| Event::ReadySrvClaimed(s, v, won));
            if won {
                sys.px.servers[v as usize].served = 1;
                Some(Pc::UnlinkForReadySrv(v))
            } else if b.queued_stream_checks_dequeuer {
                Some(Pc::CheckDequeuer)
            } else {
                // "Somebody else can now wake up us, stop now."
                queued(sys, s, j);
                None
            }
        }
        Pc::CheckDequeuer => check_dequeuer(sys, s, j),
        Pc::UnlinkForReadySrv(v) => unlink_for_ready_srv(sys, s, v, b, j),
        Pc::MustTryAgain => {
            // bounded-retry: `if (tries++ < K && pendconn_must_try_again(p)) goto
            // balance_again;` — once the rounds are spent, QUEUED without asking.
            let rounds_left = b.try_again_rounds.is_none_or(|k| call.retries < k);
            let decision = if rounds_left {
                pendconn_must_try_again_in_call(sys, s, b, call.queue_changed, j)
            } else {
                TryAgain::No
            };
            match decision {
                TryAgain::Retry => {
                    if b.try_again_rounds.is_some() {
                        call.retries += 1;
                    }
                    Some(Pc::AssignServer)
                }
                TryAgain::No => {
                    // srv_redispatch_connect, QUEUED: the target is NULL for a backend
                    // queue entry, so there is no server queue to process.
                    queued(sys, s, j);
                    None
                }
                TryAgain::DequeueOurselves(v) => {
                    queued(sys, s, j);
                    Some(Pc::DequeueAfterQueueing(v))
                }
            }
        }
        Pc::DequeueBeforeRebalance(v) => {
            let ran = offer_slot(sys, s, v, b, j);
            then_tail(sys, b, ran, AfterTail::Rebalance)
        }
        Pc::DequeueAfterQueueing(v) | Pc::DequeueAfterRelease(v) => {
            let ran = offer_slot(sys, s, v, b, j);
            then_tail(sys, b, ran, AfterTail::Yield)
        }
        Pc::OtherTgroupBatch(v, after) => {
            let own = sys.stream_tgroup(s);
            process_srv_queue(sys, v, Some(other_tgroup(own)), b, j);
            tail_or_after(b, v, after)
        }
        Pc::ReadySrvTail(v, after) => {
            process_srv_queue_tail(sys, v, b, j);
            continue_after(after)
        }
        Pc::Dequeue => match pendconn_dequeue(sys, s, j) {
            Dequeued::StillQueued => None,
            // stream_free offers the target server's queue a slot (via the target).
            Dequeued::TimedOut => {
                stream_end(sys, s, Outcome::QueueTimeout, b, j).map(Pc::DequeueAfterRelease)
            }
            Dequeued::Assigned => Some(Pc::Connect),
            Dequeued::Rebalance => Some(Pc::AssignServer),
        },
        Pc::Connect => {
            connect_server(sys, s, j);
            None
        }
        Pc::Close => {
            let strm = &sys.streams[s as usize];
            let strict = |sys: &System| {
                sys.streams[s as usize]
                    .srv_conn
                    .is_some_and(|v| sys.px.servers[v as usize].strict_maxconn)
            };
            if strm.conn_failed {
                return back_handle_st_cer(sys, s, b, j);
            }
            match (strm.kill_requested, strm.phase) {
                // 51611a5b7: the forced shutdown releases the slot and dequeues at once,
                // whatever the back side's state; the stream is freed after.
                (true, _) if b.shutdown_releases_at_once => {
                    match stream_shutdown_self(sys, s, b, j) {
                        Some(v) => Some(Pc::ShutdownDequeue(v)),
                        None => Some(Pc::StreamFree),
                    }
                }
                // strict-maxconn: the connection closes, the slot waits for stream_free.
                (false, _) if strict(sys) => {
                    stream_end_keeping_slot(sys, s, j).map(Pc::FreeDequeue)
                }
                // Connected: the server connection closes (SC_ST_DIS), slot first.
                (false, _) => {
                    stream_end(sys, s, Outcome::Served, b, j).map(Pc::DequeueAfterRelease)
                }
                (true, Phase::Est) => {
                    stream_end(sys, s, Outcome::Killed, b, j).map(Pc::DequeueAfterRelease)
                }
                // Killed before connecting: stream_free, dequeue before the slot goes.
                (true, _) => stream_free(sys, s, b, j),
            }
        }
        Pc::ShutdownDequeue(v) => {
            let ran = offer_slot(sys, s, v, b, j);
            then_tail(sys, b, ran, AfterTail::StreamFree)
        }
        Pc::StreamFree => stream_free(sys, s, b, j),
        Pc::FreeDequeue(v) => {
            let ran = offer_slot(sys, s, v, b, j);
            then_tail(sys, b, ran, AfterTail::FreeReleaseSlot)
        }
        Pc::FreeReleaseSlot => {
            let old = release_slot(sys, s, b, j);
            // dc9ce9c26: stream_free offers the slot it just released too.
            old.filter(|_| b.dequeue_after_free_release)
                .map(Pc::DequeueAfterRelease)
        }
    }
}

/// `stream_free` of a killed stream: its pendconn goes, then its target's queue is
/// offered a slot ([`Pc::FreeDequeue`]) before the slot it may still hold is released.
fn stream_free(sys: &mut System, s: StreamId, b: Behaviour, j: &mut Journal) -> Option<Pc> {
    let adopt_pendconn_target = !b.shutdown_releases_at_once;
    match stream_free_killed(sys, s, adopt_pendconn_target, j) {
        Some(v) => Some(Pc::FreeDequeue(v)),
        None => Some(Pc::FreeReleaseSlot),
    }
}

/// `master-fixed`: after a backend `pendconn_add` that got no server from `ready_srv`,
/// the stream reads the servers' `served` (each dropped with its slot, before the
/// releasing stream checks the queues in `may_dequeue_tasks`): a usable server serving a
/// stream will dequeue us. If there is none, nobody will: it runs a usable server's
/// queue itself; with no usable server left it takes its entry back and goes to
/// `balance_again`, where the LB answers NOSRV.
fn check_dequeuer(sys: &mut System, s: StreamId, j: &mut Journal) -> Option<Pc> {
    let servers = &sys.px.servers;
    // Already dequeued (or purged) and woken: pendconn_dequeue will tell where to go.
    if !sys.is_linked(s) || servers.iter().any(|v| v.usable() && v.served > 0) {
        j.note(|| Event::DequeuerCheck(s, None));
        queued(sys, s, j);
        return None;
    }
    match (0..servers.len() as ServerId).find(|&v| servers[v as usize].usable()) {
        Some(w) => {
            j.note(|| Event::DequeuerCheck(s, Some(w)));
            queued(sys, s, j);
            Some(Pc::DequeueAfterQueueing(w))
        }
        None => {
            crate::queue::pendconn_unlink(sys, s);
            sys.streams[s as usize].pend_pos = None;
            j.note(|| Event::DequeuerNone(s));
            Some(Pc::AssignServer)
        }
    }
}

/// After a section that may have called `process_srv_queue(w)` (`ran`): with two
/// thread groups, that call's batch on the other group's queues is the next section;
/// else, with `ready_srv`, that call's tail; then `after`.
fn then_tail(sys: &System, b: Behaviour, ran: Option<ServerId>, after: AfterTail) -> Option<Pc> {
    match ran {
        Some(w) if sys.thread_groups > 1 => Some(Pc::OtherTgroupBatch(w, after)),
        Some(w) => tail_or_after(b, w, after),
        None => continue_after(after),
    }
}

/// After every batch of `process_srv_queue(w)`: with `ready_srv` its tail, then `after`.
fn tail_or_after(b: Behaviour, w: ServerId, after: AfterTail) -> Option<Pc> {
    if b.ready_srv {
        Some(Pc::ReadySrvTail(w, after))
    } else {
        continue_after(after)
    }
}

/// The section that follows a `process_srv_queue` call (and its tail).
fn continue_after(after: AfterTail) -> Option<Pc> {
    match after {
        AfterTail::Yield => None,
        AfterTail::FreeReleaseSlot => Some(Pc::FreeReleaseSlot),
        AfterTail::StreamFree => Some(Pc::StreamFree),
        AfterTail::Rebalance => Some(Pc::AssignServer),
    }
}

/// Models `back_handle_st_cer()` with `stream_choose_redispatch()` (backend.c:2366–2480
/// and stream.h:333–368 at 8d68717a4, the same logic at 50872daa6): the connection to
/// the target failed. `cur_sess` drops. With no retry left the stream gives up: 503,
/// the slot goes (`sess_change_server(s, NULL)`) and the target's queue is offered it.
/// Otherwise `conn_retries++`, and with `option redispatch`, when the server is not
/// usable, or on the last retry (`redispatch_after` -1), or when the LB may pick another
/// server (more than one usable, not a hash), the slot goes, the queue is offered it and
/// the stream is no longer ASSIGNED: it goes back to SC_ST_REQ. Else it retries the same
/// server keeping its slot (SC_ST_ASS; the turn-around delay is time, which the model
/// has not).
fn back_handle_st_cer(sys: &mut System, s: StreamId, b: Behaviour, j: &mut Journal) -> Option<Pc> {
    let strm = &mut sys.streams[s as usize];
    strm.conn_failed = false;
    let retries = strm.conn_retries;
    let target = strm.target.expect("a connection error without a target");
    if retries >= sys.conn.retries {
        j.note(|| Event::ConnectionRetry(s, Cer::GiveUp));
        return stream_end(sys, s, Outcome::ConnectionError, b, j).map(Pc::DequeueAfterRelease);
    }
    sys.streams[s as usize].conn_retries += 1;
    let usable = sys.px.servers.iter().filter(|v| v.usable()).count();
    let redispatch = sys.conn.redispatch
        && (!sys.px.servers[target as usize].usable()
            || retries + 1 == sys.conn.retries
            || (usable > 1 && sys.px.algo != crate::state::LbAlgo::Hash));
    // The failed connection goes either way (`cur_sess--`).
    if sys.streams[s as usize].curr_sess {
        sys.px.servers[target as usize].cur_sess -= 1;
        sys.streams[s as usize].curr_sess = false;
    }
    if redispatch {
        j.note(|| Event::ConnectionRetry(s, Cer::Redispatch));
        let old = release_slot(sys, s, b, j);
        let strm = &mut sys.streams[s as usize];
        strm.assigned = false;
        strm.phase = Phase::Req;
        match old {
            Some(v) => Some(Pc::DequeueBeforeRebalance(v)),
            None => Some(Pc::AssignServer),
        }
    } else {
        j.note(|| Event::ConnectionRetry(s, Cer::SameServer));
        sys.streams[s as usize].phase = Phase::Ass;
        Some(Pc::Connect)
    }
}

/// Models the end of assign_server_and_queue's `ready_srv` path, under the backend
/// queue lock (backend.c:1139–1171 at 50872daa6): if the stream's own entry is still
/// linked, it is taken back (`length`, `totpend` after the unlock) and the server the
/// stream reserved (`served` 0 → 1) is used: SRV_STATUS_OK. If a dequeuer already took
/// it, the reservation is given back (`served--`) and the stream stays QUEUED — before
/// e9d34f991 returning with the lock still held.
fn unlink_for_ready_srv(
    sys: &mut System,
    s: StreamId,
    v: ServerId,
    b: Behaviour,
    j: &mut Journal,
) -> Option<Pc> {
    if !sys.is_linked(s) {
        let leaked = !b.ready_srv_unlocks_when_dequeued;
        if leaked {
            sys.px.queue_lock_leaked = true;
        }
        sys.defer_atomic(Counter::SrvServed(v), -1);
        j.note(|| Event::ReadySrvAlreadyDequeued(s, v, leaked));
        queued(sys, s, j);
        // master-fixed: the reservation may have made a stream queue on `v`.
        return b
            .ready_srv_giveback_dequeues
            .then_some(Pc::DequeueAfterRelease(v));
    }
    let length = unlink_from_tree(sys, s);
    sys.defer_atomic(length, -1);
    sys.defer_atomic(Counter::PxTotpend, -1);
    let strm = &mut sys.streams[s as usize];
    strm.pend_pos = None;
    strm.assigned = true;
    strm.target = Some(v);
    strm.phase = Phase::Ass;
    take_reserved_slot(sys, s, v);
    j.note(|| Event::ReadySrvUsed(s, v));
    Some(Pc::Connect)
}

/// assign_server_and_queue, SRV_STATUS_OK branch: take a slot on the picked server,
/// or queue on it when it is full or already has a queue. Since 3372a2ea0 the test and
/// the slot are one compare-and-swap on `served` (backend.c:1046–1096 at 50872daa6);
/// before it the test read the counters and `sess_change_server` took the slot in a
/// separate operation ([`Pc::TakeSlot`]), so two streams could both see the last slot.
fn check_server(sys: &mut System, s: StreamId, v: ServerId, b: Behaviour, j: &mut Journal) -> Pc {
    if sys.streams[s as usize].srv_conn == Some(v) {
        sys.streams[s as usize].phase = Phase::Ass;
        return Pc::Connect;
    }
    // "Has the server a queue" reads the stream's own thread group's `length` since
    // 26b3e5236 (backend.c:1050–1059 at 50872daa6): the whole queue before it.
    let own = sys.stream_tgroup(s) as usize;
    let srv = &sys.px.servers[v as usize];
    let full = srv
        .dyn_maxconn()
        .is_some_and(|m| srv.queue.lengths[own] > 0 || srv.served >= m);
    if full {
        j.note(|| Event::ServerFull(s, v));
        Pc::AddToServerQueue(v)
    } else if !b.slot_reserved_at_pick {
        j.note(|| Event::ServerHasRoom(s, v));
        Pc::TakeSlot(v)
    } else {
        sess_change_server(sys, s, Some(v), b);
        sys.streams[s as usize].phase = Phase::Ass;
        j.note(|| Event::TookSlot(s, v));
        Pc::Connect
    }
}

/// assign_server_and_queue returned SRV_STATUS_QUEUED: the stream waits in SC_ST_QUE.
fn queued(sys: &mut System, s: StreamId, j: &mut Journal) {
    sys.streams[s as usize].phase = Phase::Que;
    j.note(|| Event::Queued(s));
}

/// `if (may_dequeue_tasks(srv, px)) process_srv_queue(srv);`, the idiom HAProxy runs
/// after queueing on a server and after releasing a slot.
///
/// With [`Behaviour::release_offers_backend_elsewhere`] (`fixed`), when `v` may not serve
/// the backend queue (it is in maintenance) but that queue holds entries, the first
/// usable server that may dequeue runs its queue too: a stream served on a server that
/// went down counted in `px->served`, so `pendconn_must_try_again` trusted it to dequeue
/// the backend, and it never will. This happens whether or not `v`'s own queue ran:
/// `may_dequeue_tasks(v)` reads `v`'s queue `length`, which a `pendconn_redistribute`
/// on another thread may not have lowered yet (split atomics; found by the random
/// histories), and `v`'s batch cannot take backend entries anyway.
///
/// Returns the server whose queue `process_srv_queue` ran last, if any (its tail follows).
fn offer_slot(
    sys: &mut System,
    s: StreamId,
    v: ServerId,
    b: Behaviour,
    j: &mut Journal,
) -> Option<ServerId> {
    let first = first_batch(sys, sys.stream_tgroup(s));
    let mut ran = None;
    if may_dequeue_tasks(sys, v) {
        process_srv_queue(sys, v, first, b, j);
        ran = Some(v);
    } else {
        j.note(|| Event::NoDequeue(v));
    }
    let stranded = sys.px.queue.queueslength() > 0 && !sys.px.servers[v as usize].usable();
    if b.release_offers_backend_elsewhere && stranded {
        let n = sys.px.servers.len() as ServerId;
        if let Some(w) =
            (0..n).find(|&w| sys.px.servers[w as usize].usable() && may_dequeue_tasks(sys, w))
        {
            process_srv_queue(sys, w, first, b, j);
            ran = Some(w);
        }
    }
    ran
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::presets;
    use crate::variant::{Variant, BOUNDED_RETRY_ROUNDS};

    /// Every state reachable in a preset under a variant (plain BFS over [`step`]).
    fn reachable(preset: &str, variant: Variant) -> HashSet<System> {
        let sc = presets::get(preset).expect("preset").with_variant(variant);
        let mut seen = HashSet::from([System::new(&sc)]);
        let mut todo = vec![System::new(&sc)];
        let mut actors = Vec::new();
        while let Some(sys) = todo.pop() {
            actors.clear();
            enabled_actors(&sys, &sc, &mut actors);
            for &a in &actors {
                let mut next = sys.clone();
                step(&mut next, &sc, a, &mut Journal::silent());
                if seen.insert(next.clone()) {
                    todo.push(next);
                }
            }
        }
        seen
    }

    /// The call's locals only exist while the call is in progress, stay within their
    /// bounds, and are never set by a variant that does not use them: the state space
    /// stays finite and the other variants' state counts do not move.
    #[test]
    fn call_locals_live_only_inside_a_call_and_stay_bounded() {
        for preset in ["first", "one-thread"] {
            for variant in Variant::ALL {
                let b = variant.behaviour();
                let mut max_retries = 0;
                let mut changed_seen = false;
                for sys in reachable(preset, variant) {
                    for task in sys.threads.iter().filter_map(|th| th.task) {
                        let c = task.call;
                        if !task.pc.in_assign() {
                            assert_eq!(c, Call::default(), "{preset} {variant}: {task:?}");
                        }
                        assert!(
                            !c.queue_changed
                                || matches!(task.pc, Pc::AddToBackendQueue | Pc::MustTryAgain),
                            "{preset} {variant}: {task:?}"
                        );
                        max_retries = max_retries.max(c.retries);
                        changed_seen |= c.queue_changed;
                    }
                }
                let rounds = b.try_again_rounds.unwrap_or(0);
                assert!(max_retries <= rounds, "{preset} {variant}");
                assert!(
                    !changed_seen || b.retry_only_after_queue_change,
                    "{preset} {variant}"
                );
                if variant == Variant::BoundedRetry && preset == "first" {
                    assert_eq!(max_retries, BOUNDED_RETRY_ROUNDS, "the bound is reached");
                }
                if variant == Variant::ChangeCounter && preset == "first" {
                    assert!(changed_seen, "the count moves under a waiting call");
                }
            }
        }
    }
}
