//! src/queue.c: pendconns, queue insertion and removal, dequeuing.
//!
//! Each function is one critical section of HAProxy's (or a helper called inside one).
//! The atomic counters that HAProxy updates just outside the queue lock go through
//! [`System::defer_atomic`]: in the same section by default, in steps of their own with
//! split atomics (CHECKS.md, "Atomics outside the locks").

use crate::event::{Event, Journal};
use crate::state::{Counter, Pendconn, Phase, QueueId, ServerId, StreamId, System};
use crate::variant::{Behaviour, SeededBug};

/// Models `pendconn_add()`: a new pendconn for `s`, in its server's queue when the
/// stream is ASSIGNED to a server, else in the backend queue. It never asks whether
/// anyone will dequeue it: that is the design hole the seed commit is about.
pub fn pendconn_add(sys: &mut System, s: StreamId, j: &mut Journal) -> QueueId {
    let strm = &sys.streams[s as usize];
    let queue = match (strm.assigned, strm.target) {
        (true, Some(srv)) => QueueId::Server(srv),
        _ => QueueId::Backend,
    };
    let assigned = strm.assigned;
    sys.streams[s as usize].pend_pos = Some(Pendconn {
        queue,
        target: None,
        assigned,
    });
    // `length` before the insertion, `totpend` after the unlock; since 26b3e5236 in
    // the queue of the adding thread's group (`per_tgrp[tgid - 1]`).
    let g = sys.stream_tgroup(s);
    sys.px.queue_mut(queue).lengths[g as usize] += 1;
    sys.px.pendconns.push(s);
    sys.defer_atomic(Counter::PxTotpend, 1);
    j.note(|| Event::PendconnAdd(s, queue));
    queue
}

/// Takes a linked pendconn out of its queue's tree (under the queue lock); the caller
/// fixes the counters. Returns the `length` counter of the queue it was in (its thread
/// group's, with per-thread-group queues).
pub(crate) fn unlink_from_tree(sys: &mut System, s: StreamId) -> Counter {
    let queue = sys.streams[s as usize]
        .pend_pos
        .expect("unlink: stream has no pendconn")
        .queue;
    let length = Counter::Length(queue, sys.stream_tgroup(s));
    let pos = sys
        .px
        .pendconns
        .iter()
        .position(|&x| x == s)
        .expect("unlink: pendconn not linked");
    sys.px.pendconns.remove(pos);
    length
}

/// Unlinks a pendconn and fixes the counters inside the lock, as
/// `pendconn_must_try_again()` does.
pub(crate) fn unlink(sys: &mut System, s: StreamId) {
    let length = unlink_from_tree(sys, s);
    sys.add(length, -1);
    sys.add(Counter::PxTotpend, -1);
}

/// Models `pendconn_unlink()`: unlinks under the queue lock, then decrements the
/// queue's `length` and `totpend` just after the unlock.
pub(crate) fn pendconn_unlink(sys: &mut System, s: StreamId) {
    let length = unlink_from_tree(sys, s);
    sys.defer_atomic(length, -1);
    sys.defer_atomic(Counter::PxTotpend, -1);
}

/// Takes the entries `taken` out of queue `q`'s `length` (each thread group's) and
/// out of `totpend` after a batch's unlock (`pendconn_redistribute`,
/// `pendconn_grab_from_px`), or only out of the lengths when `totpend` stays (a
/// seeded bug).
fn after_batch(sys: &mut System, q: QueueId, taken: &[StreamId], totpend_too: bool) {
    for g in 0..sys.thread_groups {
        let n = taken.iter().filter(|&&s| sys.stream_tgroup(s) == g).count();
        if n > 0 {
            sys.defer_atomic(Counter::Length(q, g), -(n as i8));
        }
    }
    if totpend_too && !taken.is_empty() {
        sys.defer_atomic(Counter::PxTotpend, -(taken.len() as i8));
    }
}

/// What `pendconn_must_try_again()` decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryAgain {
    /// 0: someone will dequeue us (or already did): return QUEUED.
    No,
    /// 1: the entry was taken back: `goto balance_again`.
    Retry,
    /// `fixed`: nobody is served but a server is usable: return QUEUED and offer that
    /// server's free slot ourselves (`process_srv_queue`) instead of spinning.
    DequeueOurselves(ServerId),
}

/// Models `pendconn_must_try_again()`: after queueing in the backend queue, checks that
/// someone is still served (and so will dequeue us); if not, takes the entry back and
/// answers 1 so that assign_server_and_queue goes back to `balance_again`.
///
/// Its weakness: "someone is served" stands in for "someone will dequeue", and nothing
/// checks whether anything changed since the previous try, so a retry can meet exactly
/// the same state forever. With [`Behaviour::dequeue_instead_of_retry`] (`fixed`) it only
/// retries when no server is usable (the retried LB then answers NOSRV); when one is, it
/// leaves the entry queued and has the caller run that server's queue itself.
///
/// This entry point is for a caller that keeps no change count: it behaves as if the
/// count had moved. The try-again loop itself calls [`pendconn_must_try_again_in_call`].
pub fn pendconn_must_try_again(
    sys: &mut System,
    s: StreamId,
    b: Behaviour,
    j: &mut Journal,
) -> TryAgain {
    pendconn_must_try_again_in_call(sys, s, b, true, j)
}

/// [`pendconn_must_try_again`] as called from assign_server_and_queue, which tells it
/// whether the backend queue's change count moved since this round's `assign_server`
/// (`queue_changed`). With [`Behaviour::retry_only_after_queue_change`]
/// (`change-counter`) an unchanged count means a retry would meet the state that just
/// answered FULL again, so the entry stays queued (0) instead.
pub fn pendconn_must_try_again_in_call(
    sys: &mut System,
    s: StreamId,
    b: Behaviour,
    queue_changed: bool,
    j: &mut Journal,
) -> TryAgain {
    let p = sys.streams[s as usize]
        .pend_pos
        .expect("must_try_again without a pendconn");
    let nobody_served = match p.queue {
        QueueId::Backend if b.try_again_reads_server_served => {
            sys.px.servers.iter().all(|v| v.served == 0)
        }
        QueueId::Backend => sys.px.served == 0,
        QueueId::Server(v) => sys.px.servers[v as usize].served == 0,
    };
    let nobody_usable = b.try_again_without_usable_server && sys.px.tot_weight() == 0;
    let decision = if !sys.is_linked(s) || !(nobody_served || nobody_usable) {
        TryAgain::No
    } else if b.retry_only_after_queue_change && !queue_changed {
        // Nothing was dequeued and no last stream left since assign_server said FULL.
        TryAgain::No
    } else if !b.dequeue_instead_of_retry || nobody_usable {
        TryAgain::Retry
    } else {
        match (0..sys.px.servers.len() as ServerId).find(|&v| sys.px.servers[v as usize].usable()) {
            Some(v) => TryAgain::DequeueOurselves(v),
            None => TryAgain::Retry,
        }
    };
    if decision == TryAgain::Retry {
        unlink(sys, s);
        sys.streams[s as usize].pend_pos = None;
    }
    j.note(|| Event::MustTryAgain(s, decision));
    decision
}

/// Models `may_dequeue_tasks(srv, px)`: something to dequeue for this server, and a
/// free connection (by `cur_sess`, as HAProxy does, not by `served`).
pub fn may_dequeue_tasks(sys: &System, v: ServerId) -> bool {
    let srv = &sys.px.servers[v as usize];
    // `queueslength` since 583303c48 (queue.h:89 at 50872daa6): every group's queues.
    let work = srv.queue.queueslength() > 0 || (sys.px.queue.queueslength() > 0 && srv.usable());
    work && srv.dyn_maxconn().is_none_or(|m| srv.cur_sess < m)
}

/// HAProxy's `maxpollevents`: the most entries one `process_srv_queue` batch hands out.
const MAX_POLL_EVENTS: u8 = 200;

/// The first batch of a `process_srv_queue` run by a thread of group `own`: the
/// single queue (`None`) when the queues are not per thread group, else the thread's
/// own group's queues (26b3e5236: `cur_tgrp = tgid` while `self_served` is below
/// MAX_SELF_USE_QUEUE; the model keeps `self_served` at 0, CHECKS.md "Thread groups").
pub fn first_batch(sys: &System, own: u8) -> Option<u8> {
    (sys.thread_groups > 1).then_some(own)
}

/// The other thread group's queues, visited by a thread of group `own` after its own
/// (two groups at most: the other one is the only choice of `last_other_tgrp_served`).
pub fn other_tgroup(own: u8) -> u8 {
    1 - own
}

/// Models `process_srv_queue(srv)`: one batch under the server queue lock (the
/// `dequeuing` flag is set and cleared inside it), handing free slots to the oldest
/// entries of the server queue and, when the server may serve the backend, of the
/// backend queue. The slots are accounted (`served`), unlike `pendconn_grab_from_px`.
///
/// With per-thread-group queues (26b3e5236) each batch runs on one group's queues,
/// `tgroup` (queue.c:442–507 at 50872daa6: `dequeuing` and the lock of
/// `per_tgrp[cur_tgrp - 1]`, `pendconn_process_next_strm(.., cur_tgrp)` comparing that
/// group's server and backend heads); the caller runs the other group's batch as a
/// section of its own, after the lock is released. `None`: the single queue.
pub fn process_srv_queue(
    sys: &mut System,
    v: ServerId,
    tgroup: Option<u8>,
    b: Behaviour,
    j: &mut Journal,
) {
    let px_ok = sys.px.servers[v as usize].usable();
    let mut picked = Vec::new();
    sys.px.servers[v as usize].dequeuing = true;
    loop {
        if !sys.px.servers[v as usize].dequeue_has_room(b.unlimited_server_dequeues)
            || picked.len() >= MAX_POLL_EVENTS as usize
        {
            break;
        }
        let Some(s) = pendconn_process_next_strm(sys, v, px_ok, tgroup) else {
            break;
        };
        sys.px.servers[v as usize].served += 1;
        picked.push(s);
    }
    sys.px.servers[v as usize].dequeuing = false;
    // `if (done) { px->totpend -= done; px->served += done; }`, after the unlock (with
    // two groups, after each group's batch: CHECKS.md "Thread groups").
    if !picked.is_empty() {
        let done = picked.len() as i8;
        sys.defer_atomic(Counter::PxTotpend, -done);
        sys.defer_atomic(Counter::PxServed, done);
    }
    match tgroup {
        None => j.note(|| Event::ProcessSrvQueue(v, picked)),
        Some(g) => j.note(|| Event::ProcessSrvQueueTgroup(v, g, picked)),
    }
}

/// Models the tail of `process_srv_queue(srv)` that cda7275ef added (queue.c:516–545
/// at 50872daa6), run after the batch's unlock and counters: when neither the server
/// nor the backend serves anything and `px->ready_srv` is NULL, the server publishes
/// itself in `ready_srv`, then tries one more `pendconn_process_next_strm` in case a
/// stream queued just before the store (with 659d5f657's `totpend`/`px->served`
/// updates; under the queue lock since 99f5be563, one section here either way).
pub fn process_srv_queue_tail(sys: &mut System, v: ServerId, b: Behaviour, j: &mut Journal) {
    let srv = &sys.px.servers[v as usize];
    let why = if srv.served != 0 {
        Some("its served > 0")
    } else if sys.px.served != 0 {
        Some("px->served > 0")
    } else if sys.px.ready_srv.is_some() {
        Some("ready_srv already set")
    } else {
        None
    };
    if why.is_some() {
        j.note(|| Event::ReadySrvTail(v, why, Vec::new()));
        return;
    }
    sys.px.ready_srv = Some(v);
    let srv = &sys.px.servers[v as usize];
    let px_ok = srv.usable();
    // `pendconn_process_next_strm`'s CAS loop: `served < srv_dynamic_maxconn(srv)`.
    let room = srv.dequeue_has_room(b.unlimited_server_dequeues);
    let mut picked = Vec::new();
    if room {
        // Since 26b3e5236 each thread group's queues in turn, the first that gives one
        // (queue.c:533–544 at 50872daa6).
        let next = match sys.thread_groups {
            1 => pendconn_process_next_strm(sys, v, px_ok, None),
            n => (0..n).find_map(|g| pendconn_process_next_strm(sys, v, px_ok, Some(g))),
        };
        if let Some(s) = next {
            sys.px.servers[v as usize].served += 1;
            picked.push(s);
            sys.defer_atomic(Counter::PxTotpend, -1);
            sys.defer_atomic(Counter::PxServed, 1);
        }
    }
    j.note(|| Event::ReadySrvTail(v, None, picked));
}

/// Models `pendconn_process_next_strm()`: picks the older of the server queue's head and
/// (when `px_ok`) the backend queue's head, unlinks it, marks it ASSIGNED to the server,
/// gives the stream the slot (`srv_conn`) and wakes it. The caller counts `served`.
/// With per-thread-group queues, both heads are thread group `tgroup`'s.
fn pendconn_process_next_strm(
    sys: &mut System,
    v: ServerId,
    px_ok: bool,
    tgroup: Option<u8>,
) -> Option<StreamId> {
    // `pendconns` is in age order, so the first entry of either queue is the older head.
    let s = sys.px.pendconns.iter().copied().find(|&s| {
        if tgroup.is_some_and(|g| sys.stream_tgroup(s) != g) {
            return false;
        }
        match sys.streams[s as usize].pend_pos.map(|p| p.queue) {
            Some(QueueId::Server(w)) => w == v,
            Some(QueueId::Backend) => px_ok,
            None => false,
        }
    })?;
    // The queue's `length` drops inside the batch; `totpend` once after it.
    let length = unlink_from_tree(sys, s);
    sys.add(length, -1);
    let p = sys.streams[s as usize]
        .pend_pos
        .as_mut()
        .expect("linked entry has a pendconn");
    p.assigned = true;
    p.target = Some(v);
    crate::stream::stream_add_srv_conn(sys, s, v);
    sys.wake(s);
    Some(s)
}

/// Models `pendconn_dequeue()`, the stream side, when a task in SC_ST_QUE runs: if the
/// entry is still linked the stream keeps waiting (or, if its queue timeout fired,
/// leaves the queue with a 503); otherwise it takes the flags and target the dequeuer
/// left in the pendconn and goes to SC_ST_ASS, or back to SC_ST_REQ to redo LB.
pub fn pendconn_dequeue(sys: &mut System, s: StreamId, j: &mut Journal) -> Dequeued {
    if sys.is_linked(s) {
        if sys.streams[s as usize].timed_out {
            pendconn_unlink(sys, s);
            sys.streams[s as usize].pend_pos = None;
            return Dequeued::TimedOut;
        }
        j.note(|| Event::StillQueued(s));
        return Dequeued::StillQueued;
    }
    let strm = &mut sys.streams[s as usize];
    let p = strm
        .pend_pos
        .take()
        .expect("pendconn_dequeue without a pendconn");
    strm.timed_out = false;
    strm.assigned = p.assigned;
    if let Some(v) = p.target {
        strm.target = Some(v);
        strm.assigned = true;
    }
    match (strm.assigned, strm.target) {
        (true, Some(v)) => {
            strm.phase = Phase::Ass;
            j.note(|| Event::DequeuedTo(s, v));
            Dequeued::Assigned
        }
        _ => {
            // The stale target stays: assign_server reads it as the previous server.
            strm.assigned = false;
            strm.phase = Phase::Req;
            j.note(|| Event::DequeuedToLb(s));
            Dequeued::Rebalance
        }
    }
}

/// What `pendconn_dequeue` decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dequeued {
    /// Still linked: keep waiting.
    StillQueued,
    /// Still linked and the queue timeout fired: removed, 503.
    TimedOut,
    /// Picked by a server: go connect.
    Assigned,
    /// Unlinked without a server: redo load balancing.
    Rebalance,
}

/// Models `pendconn_redistribute(srv)`: when the server is in maintenance, takes every
/// entry off its own queue (without option redispatch their ASSIGNED flag is dropped, so
/// they redo LB) and wakes them. With 53f52e67a's purge, when the backend has no usable
/// weight left, does the same to every entry of the backend queue.
pub fn pendconn_redistribute(
    sys: &mut System,
    v: ServerId,
    b: Behaviour,
    bug: Option<SeededBug>,
    j: &mut Journal,
) {
    let mut from_server = Vec::new();
    if sys.px.servers[v as usize].maint {
        from_server = sys.queue_entries(QueueId::Server(v)).collect();
        for &s in &from_server {
            unlink_from_tree(sys, s);
            let p = sys.streams[s as usize].pend_pos.as_mut().expect("linked");
            p.assigned = false;
            sys.wake(s);
        }
        after_batch(sys, QueueId::Server(v), &from_server, true);
    }
    let mut from_backend = Vec::new();
    if b.purge_backend_queue && sys.px.tot_weight() == 0 {
        from_backend = sys.queue_entries(QueueId::Backend).collect();
        for &s in &from_backend {
            unlink_from_tree(sys, s);
            sys.wake(s);
        }
        let totpend_too = bug != Some(SeededBug::PurgeKeepsTotpend);
        after_batch(sys, QueueId::Backend, &from_backend, totpend_too);
    }
    j.note(|| Event::Redistribute {
        server: v,
        from_server,
        from_backend,
    });
}

/// Models `pendconn_grab_from_px(srv)` (called when a server comes back): hands the
/// oldest backend entries to the server, up to its free slots as counted by `served`.
///
/// Faithful quirk, on which the livelock depends: it neither sets `srv_conn` nor
/// increments `served`, so the grabbed streams run on the server off the books —
/// `px->served` can be 0 while the server is busy and the backend queue is not empty.
pub fn pendconn_grab_from_px(sys: &mut System, v: ServerId, j: &mut Journal) {
    let srv = &sys.px.servers[v as usize];
    if !srv.usable() {
        j.note(|| Event::Grab(v, Vec::new()));
        return;
    }
    let room = srv.dyn_maxconn().map(|m| m.saturating_sub(srv.served));
    let mut grabbed = Vec::new();
    while room.is_none_or(|r| grabbed.len() < r as usize) {
        let Some(s) = sys.queue_head(QueueId::Backend) else {
            break;
        };
        unlink_from_tree(sys, s);
        let p = sys.streams[s as usize].pend_pos.as_mut().expect("linked");
        p.target = Some(v);
        sys.wake(s);
        grabbed.push(s);
    }
    after_batch(sys, QueueId::Backend, &grabbed, true);
    j.note(|| Event::Grab(v, grabbed));
}
