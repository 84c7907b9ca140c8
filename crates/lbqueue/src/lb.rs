//! src/backend.c and the LB algorithms: `assign_server()` and the server picks.

use crate::event::{AssignResult, Event, Journal};
use crate::queue::{
    first_batch, may_dequeue_tasks, other_tgroup, process_srv_queue, process_srv_queue_tail,
};
use crate::state::{Counter, LbAlgo, ServerId, StreamId, System};
use crate::stream::{stream_add_srv_conn, stream_del_srv_conn};
use crate::variant::Behaviour;

/// Models `assign_server()`: releases the stream's slot first (`sess_change_server(s,
/// NULL)`), answers NOSRV when the backend has no weight, FULL through the "backend queue
/// non-empty" shortcut for the non-deterministic algorithms, or runs the LB. At its end
/// it takes its old slot back if the LB picked the same server, or else offers the freed
/// slot to that server's queue.
pub fn assign_server(sys: &mut System, s: StreamId, b: Behaviour, j: &mut Journal) -> AssignResult {
    let prev = sys.streams[s as usize].target;
    let slot = sys.streams[s as usize].srv_conn;
    if slot.is_some() {
        sess_change_server(sys, s, None, b);
    }
    sys.streams[s as usize].target = None;
    sys.streams[s as usize].assigned = false;

    let px = &sys.px;
    let result = if px.tot_weight() == 0 {
        AssignResult::NoServer
    } else if px.queue.queueslength() > 0
        && (!b.shortcut_needs_served || px.served > 0)
        && px.queue.queueslength() != px.beconn
        && px.algo.takes_shortcut()
    {
        AssignResult::FullShortcut
    } else {
        match lb_pick(sys, s, prev) {
            Some(v) => AssignResult::Ok(v),
            None => AssignResult::FullNoRoom,
        }
    };
    if let AssignResult::Ok(v) = result {
        let strm = &mut sys.streams[s as usize];
        strm.target = Some(v);
        strm.assigned = true;
    }
    j.note(|| Event::AssignServer(s, result));

    if let Some(old) = slot {
        if result == AssignResult::Ok(old) {
            sess_change_server(sys, s, Some(old), b);
        } else if may_dequeue_tasks(sys, old) {
            // This call's other thread group batch and its tail run in the same section:
            // no stream reaches the LB holding a slot in any scenario. Even after a
            // connection error, `stream_choose_redispatch` releases the slot before
            // SC_ST_REQ (stream.h:333–368 at 8d68717a4 and 50872daa6).
            let own = sys.stream_tgroup(s);
            process_srv_queue(sys, old, first_batch(sys, own), b, j);
            if sys.thread_groups > 1 {
                process_srv_queue(sys, old, Some(other_tgroup(own)), b, j);
            }
            if b.ready_srv {
                process_srv_queue_tail(sys, old, b, j);
            }
        }
    }
    result
}

/// Models `sess_change_server(strm, new)`: moves the stream's slot (`srv_conn`) and the
/// `served` counters of the servers and of the backend. Taking a slot increments the
/// server's `served` (before 3372a2ea0 in `sess_change_server` itself, since then by the
/// caller's compare-and-swap just before: the same atomic effect) and the backend's.
/// Releasing one drops the server's count then the backend's, or, with
/// [`Behaviour::served_released_proxy_first`] (c880c32b1 at 50872daa6, stream.c:2931–2944),
/// the backend's first and the server's after detaching from its list.
pub fn sess_change_server(sys: &mut System, s: StreamId, new: Option<ServerId>, b: Behaviour) {
    let old = sys.streams[s as usize].srv_conn;
    if old == new {
        return;
    }
    if let Some(v) = old {
        if b.served_released_proxy_first {
            sys.defer_atomic(Counter::PxServed, -1);
            stream_del_srv_conn(sys, s);
            sys.defer_atomic(Counter::SrvServed(v), -1);
        } else {
            stream_del_srv_conn(sys, s);
            sys.px.servers[v as usize].served -= 1;
            sys.defer_atomic(Counter::PxServed, -1);
        }
    }
    if let Some(v) = new {
        sys.px.servers[v as usize].served += 1;
        take_reserved_slot(sys, s, v);
    }
}

/// Models `sess_change_server(strm, srv)` at 50872daa6 for a slot the caller already
/// reserved on `srv->served` by compare-and-swap (the `ready_srv` path): only
/// `px->served` and the server's stream list change.
pub fn take_reserved_slot(sys: &mut System, s: StreamId, v: ServerId) {
    sys.defer_atomic(Counter::PxServed, 1);
    stream_add_srv_conn(sys, s, v);
}

/// Whether the LB may pick this server now: usable, and unlimited or with an empty
/// queue and a free slot (fwrr/fas `get_next_server`).
fn has_room(sys: &System, v: ServerId) -> bool {
    let srv = &sys.px.servers[v as usize];
    srv.usable()
        && srv
            .dyn_maxconn()
            .is_none_or(|m| srv.queue.queueslength() == 0 && srv.served < m)
}

/// The LB pick for the backend's algorithm; `None` means every server is full.
fn lb_pick(sys: &mut System, s: StreamId, prev: Option<ServerId>) -> Option<ServerId> {
    let n = sys.px.servers.len() as ServerId;
    match sys.px.algo {
        LbAlgo::RoundRobin | LbAlgo::StaticRr => {
            // Walk the rotation from rr_next; avoid the previous server if another fits.
            let order = (0..n).map(|i| (sys.px.rr_next + i) % n);
            let candidates: Vec<ServerId> = order.filter(|&v| has_room(sys, v)).collect();
            let pick = candidates
                .iter()
                .copied()
                .find(|&v| Some(v) != prev)
                .or(candidates.first().copied())?;
            sys.px.rr_next = (pick + 1) % n;
            Some(pick)
        }
        LbAlgo::First => (0..n).find(|&v| has_room(sys, v)),
        LbAlgo::Hash => {
            // The stream's hash lands on one of the usable servers, full or not.
            let usable: Vec<ServerId> = (0..n)
                .filter(|&v| sys.px.servers[v as usize].usable())
                .collect();
            usable.get(s as usize % usable.len().max(1)).copied()
        }
    }
}
