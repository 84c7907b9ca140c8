//! Invariants over a [`System`] that every engine checks the same way.

use crate::scenario::Scenario;
use crate::sections::{is_enabled, Actor};
use crate::state::{Pc, Phase, QueueId, ServerId, System};

/// `counters_consistent`: the counters HAProxy keeps (queue lengths, totpend, served,
/// cur_sess, beconn) agree with the queues, slots and streams they count, and the
/// pendconn links are coherent. Returns the first disagreement, in words.
///
/// With split atomics, counters may lag behind the trees by the updates actors still
/// owe; they are judged as they will be once those are made ([`System::settled`]).
pub fn counters_consistent(sys: &System) -> Result<(), String> {
    let sys = &*sys.settled();
    let px = &sys.px;
    queue_lengths_match(sys, QueueId::Backend)?;
    let mut pending = usize::from(px.queue.queueslength());
    let mut served = 0usize;
    for (v, srv) in px.servers.iter().enumerate() {
        let name = v + 1;
        queue_lengths_match(sys, QueueId::Server(v as u8))?;
        pending += usize::from(srv.queue.queueslength());
        let holders = sys
            .streams
            .iter()
            .filter(|s| s.srv_conn == Some(v as u8))
            .count();
        // A slot reserved by the `ready_srv` path's compare-and-swap, not attached to
        // its stream yet (the thread's next section attaches it or gives it back).
        let reserved = reservations(sys, v as u8);
        let listed = |s: &u8| sys.streams[*s as usize].srv_conn == Some(v as u8);
        if srv.conns.len() != holders || !srv.conns.iter().all(listed) {
            return Err(format!(
                "s{name}'s stream list {:?} is not the {holders} streams holding a slot on it",
                srv.conns
            ));
        }
        if usize::from(srv.served) != holders + reserved {
            return Err(format!(
                "s{name}->served = {} but {holders} streams hold a slot on it and {reserved} \
                 reserved one",
                srv.served
            ));
        }
        served += holders;
        let sessions = sys
            .streams
            .iter()
            .filter(|s| s.curr_sess && s.target == Some(v as u8))
            .count();
        if usize::from(srv.cur_sess) != sessions {
            return Err(format!(
                "s{name}->cur_sess = {} but {sessions} streams are connected to it",
                srv.cur_sess
            ));
        }
        if srv.dequeuing {
            return Err(format!(
                "s{name}->dequeuing left set outside process_srv_queue"
            ));
        }
    }
    if usize::from(px.totpend) != pending {
        return Err(format!(
            "px->totpend = {} but the queues hold {pending} pendconns",
            px.totpend
        ));
    }
    if usize::from(px.served) != served {
        return Err(format!(
            "px->served = {} but servers serve {served}",
            px.served
        ));
    }
    let attached = sys
        .streams
        .iter()
        .filter(|s| !matches!(s.phase, Phase::New | Phase::Done(_)))
        .count();
    if usize::from(px.beconn) != attached {
        return Err(format!(
            "px->beconn = {} but {attached} streams are attached to the backend",
            px.beconn
        ));
    }
    for (i, strm) in sys.streams.iter().enumerate() {
        let linked = sys.is_linked(i as u8);
        if linked && strm.pend_pos.is_none() {
            return Err(format!("S{} is linked in a queue without pend_pos", i + 1));
        }
        if let Some(p) = strm.pend_pos {
            if linked && p.target.is_some() {
                return Err(format!(
                    "S{}'s pendconn has a target but is still linked",
                    i + 1
                ));
            }
            if p.queue == QueueId::Backend && linked && p.assigned {
                return Err(format!("S{}'s backend pendconn carries SF_ASSIGNED", i + 1));
            }
        }
    }
    Ok(())
}

/// The threads that reserved a slot on `v` by compare-and-swap on the `ready_srv` path
/// and have not attached it to their stream yet.
fn reservations(sys: &System, v: ServerId) -> usize {
    sys.threads
        .iter()
        .filter(|t| {
            t.task
                .is_some_and(|task| task.pc == Pc::UnlinkForReadySrv(v))
        })
        .count()
}

/// `maxconn_respected`: no server with a `maxconn` serves more streams than it: the
/// streams holding a slot on it (`srv_conn`, its stream list) plus those about to open
/// (SC_ST_ASS) or holding (SF_CURR_SESS) a connection to it without a slot — grabbed off
/// the books by `pendconn_grab_from_px`. A stream being shut down (`stream_shutdown_self`
/// released its slot and closed its connection) serves nobody.
pub fn maxconn_respected(sys: &System) -> Result<(), String> {
    for (v, srv) in sys.px.servers.iter().enumerate() {
        let Some(max) = srv.dyn_maxconn() else {
            continue;
        };
        let serving = sys
            .streams
            .iter()
            .filter(|s| {
                !s.is_done()
                    && (s.srv_conn == Some(v as u8)
                        || (s.target == Some(v as u8)
                            && !s.kill_requested
                            && (s.phase == Phase::Ass || s.curr_sess)))
            })
            .count();
        let serving = serving + reservations(sys, v as u8);
        if serving > usize::from(max) {
            return Err(format!(
                "s{} serves {serving} streams with maxconn {max}",
                v + 1
            ));
        }
    }
    Ok(())
}

/// `queue_locks_released`: every section releases the queue locks it took. A lock left
/// held (the `ready_srv` path before e9d34f991) makes the next thread that takes it spin
/// forever, which HAProxy's watchdog kills.
pub fn queue_locks_released(sys: &System) -> bool {
    !sys.px.queue_lock_leaked
}

/// No server the LB may pick (`tot_wact == tot_wbck == 0`).
pub fn no_usable_server(sys: &System) -> bool {
    sys.px.tot_weight() == 0
}

/// No thread has a task to run: every woken task has run.
pub fn threads_idle(sys: &System) -> bool {
    sys.threads.iter().all(|t| t.idle())
}

/// Nothing can run but queue timeouts: every thread idle, the CLI script done, every
/// client arrived.
pub fn quiescent(sys: &System, sc: &Scenario) -> bool {
    threads_idle(sys) && !sys.cli_pending(sc) && sys.arrived as usize == sys.streams.len()
}

/// Each thread group's `length` of queue `q` counts the pendconns linked there.
fn queue_lengths_match(sys: &System, q: QueueId) -> Result<(), String> {
    let lengths = match q {
        QueueId::Backend => sys.px.queue.lengths,
        QueueId::Server(v) => sys.px.servers[v as usize].queue.lengths,
    };
    for (g, &length) in lengths.iter().enumerate() {
        let linked = sys
            .queue_entries(q)
            .filter(|&s| usize::from(sys.stream_tgroup(s)) == g)
            .count();
        if usize::from(length) != linked {
            let counter = crate::state::Counter::Length(q, g as u8);
            return Err(format!(
                "{counter} = {length} but that queue holds {linked} pendconns"
            ));
        }
    }
    Ok(())
}

/// `no_orphan_pendconn`: at quiescence (nothing can run but timeouts) every non-empty
/// queue has someone who will dequeue it. At quiescence no stream holds a slot that it
/// will release, so any linked pendconn is an orphan: it waits for its queue timeout,
/// or forever.
pub fn no_orphan_pendconn(sys: &System, sc: &Scenario) -> bool {
    !quiescent(sys, sc) || sys.px.pendconns.is_empty()
}

/// `backend_queue_drains`: once no usable server is left and every woken task has run
/// (and the CLI is between commands), the backend queue is empty.
pub fn backend_queue_drains(sys: &System, sc: &Scenario) -> bool {
    let settled = no_usable_server(sys) && threads_idle(sys) && sys.cli_at_command_boundary(sc);
    !settled || sys.px.queue.queueslength() == 0
}

/// `no_stream_lost`: at quiescence every stream has ended exactly once, except, when
/// queue timeouts are on, streams still waiting with their timer armed.
pub fn no_stream_lost(sys: &System, sc: &Scenario) -> bool {
    !quiescent(sys, sc)
        || sys.streams.iter().enumerate().all(|(i, strm)| {
            strm.is_done() || (sc.queue_timeout && is_enabled(sys, sc, Actor::Timeout(i as u8)))
        })
}
