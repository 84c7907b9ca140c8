//! src/stream.c: a stream's own end — connect, close, self-kill, queue timeout.

use crate::event::{Event, Journal};
use crate::lb::sess_change_server;
use crate::state::{Outcome, Phase, ServerId, StreamId, System};
use crate::variant::Behaviour;

/// Models `connect_server()` for a stream in SC_ST_ASS: the connection is opened and
/// counted in the server's `cur_sess` (SF_CURR_SESS). The stream then waits for the
/// response, which wakes it again.
pub fn connect_server(sys: &mut System, s: StreamId, j: &mut Journal) {
    let v = sys.streams[s as usize]
        .target
        .expect("connect_server without a target");
    sys.px.servers[v as usize].cur_sess += 1;
    let strm = &mut sys.streams[s as usize];
    strm.curr_sess = true;
    strm.phase = Phase::Est;
    j.note(|| Event::Connect(s, v));
    sys.wake(s);
}

/// Models the end of a stream whose server connection closes (SC_ST_DIS → SC_ST_CLO in
/// `process_stream`: response served, or killed by its own thread after
/// `stream_shutdown`), or a 503 before any connection (NOSRV, queue timeout). Releases
/// `cur_sess`, the slot (`sess_change_server(s, NULL)`) and `beconn`, in that order.
/// Returns the server whose queue the caller should then offer the freed slot to
/// (`may_dequeue_tasks` → `process_srv_queue`, a separate section): the target, even
/// for a stream grabbed off the books or one freed after a queue timeout (`stream_free`
/// goes through the target).
pub fn stream_end(
    sys: &mut System,
    s: StreamId,
    outcome: Outcome,
    b: Behaviour,
    j: &mut Journal,
) -> Option<ServerId> {
    let target = close_server_conn(sys, s);
    release_slot(sys, s, b, j);
    finish(sys, s, outcome, j);
    target
}

/// The server connection closes (`cur_sess--` if SF_CURR_SESS); returns the target.
fn close_server_conn(sys: &mut System, s: StreamId) -> Option<ServerId> {
    let target = sys.streams[s as usize].target;
    if sys.streams[s as usize].curr_sess {
        let v = target.expect("SF_CURR_SESS without a target");
        sys.px.servers[v as usize].cur_sess -= 1;
        sys.streams[s as usize].curr_sess = false;
    }
    target
}

/// Models the SC_ST_DIS → SC_ST_CLO path for a server with `strict-maxconn`
/// (706b00842, stream.c:2076–2090 at 50872daa6): the connection closes but the slot
/// is kept until `stream_free` has freed the connection. Ends the stream and returns
/// the target, whose queue `stream_free` then offers a slot to, still held.
pub fn stream_end_keeping_slot(sys: &mut System, s: StreamId, j: &mut Journal) -> Option<ServerId> {
    let target = close_server_conn(sys, s);
    finish(sys, s, Outcome::Served, j);
    target
}

/// Models `stream_shutdown_self()` since 51611a5b7 (stream.c:3014–3038 at 50872daa6):
/// when the stream has a server target, its connection (`cur_sess`) and its slot
/// (`sess_change_server(s, NULL)`) go at once; returns that server, whose queue the
/// caller offers the slot to next. The stream is freed after that ([`Pc::StreamFree`]).
///
/// [`Pc::StreamFree`]: crate::state::Pc::StreamFree
pub fn stream_shutdown_self(
    sys: &mut System,
    s: StreamId,
    b: Behaviour,
    j: &mut Journal,
) -> Option<ServerId> {
    j.note(|| Event::ShutdownSelf(s));
    let target = close_server_conn(sys, s)?;
    release_slot(sys, s, b, j);
    Some(target)
}

/// Models a stream killed (`stream_shutdown_self`) before it connected, which ends in
/// `stream_free`: `pendconn_free`, then — through the target that `pendconn_dequeue`
/// took from the pendconn — `may_dequeue_tasks` → `process_srv_queue` while the stream
/// **still holds its slot**, and only after that `sess_change_server(s, NULL)`. Ends the
/// stream (not its slot) and returns the target for that dequeue.
pub fn stream_free_killed(
    sys: &mut System,
    s: StreamId,
    adopt_pendconn_target: bool,
    j: &mut Journal,
) -> Option<ServerId> {
    if let Some(p) = sys.streams[s as usize].pend_pos.take() {
        if sys.is_linked(s) {
            crate::queue::pendconn_unlink(sys, s);
        }
        // back_try_conn_req in SC_ST_QUE ran pendconn_dequeue first: the target the
        // dequeuer left in the pendconn becomes the stream's. Since 36d151dc1 the kill is
        // a stream event handled before the back side's states (stream.c:1904 at
        // 50872daa6): `pendconn_free` drops the pendconn, its target with it.
        if let Some(v) = p.target.filter(|_| adopt_pendconn_target) {
            sys.streams[s as usize].target = Some(v);
        }
    }
    finish(sys, s, Outcome::Killed, j);
    sys.streams[s as usize].target
}

/// `sess_change_server(s, NULL)` if the stream holds a slot; returns that server.
pub fn release_slot(
    sys: &mut System,
    s: StreamId,
    b: Behaviour,
    j: &mut Journal,
) -> Option<ServerId> {
    let v = sys.streams[s as usize].srv_conn?;
    sess_change_server(sys, s, None, b);
    j.note(|| Event::ReleasedSlot(s, v));
    Some(v)
}

/// Models `stream_add_srv_conn()`: the stream holds a slot on `v` (`srv_conn`) and is
/// inserted at the head of the server's stream list (MT_LIST_INSERT: newest first).
pub fn stream_add_srv_conn(sys: &mut System, s: StreamId, v: ServerId) {
    sys.streams[s as usize].srv_conn = Some(v);
    sys.px.servers[v as usize].conns.insert(0, s);
}

/// Models `stream_del_srv_conn()`: the stream leaves its server's stream list and holds
/// no slot any more.
pub fn stream_del_srv_conn(sys: &mut System, s: StreamId) {
    if let Some(v) = sys.streams[s as usize].srv_conn.take() {
        sys.px.servers[v as usize].conns.retain(|x| *x != s);
    }
}

/// The stream leaves the backend (`beconn`) with its outcome.
fn finish(sys: &mut System, s: StreamId, outcome: Outcome, j: &mut Journal) {
    sys.px.beconn -= 1;
    let strm = &mut sys.streams[s as usize];
    strm.phase = Phase::Done(outcome);
    strm.kill_requested = false;
    strm.timed_out = false;
    j.note(|| Event::End(s, outcome));
}
