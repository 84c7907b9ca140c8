//! src/stream.c: a stream's own end — connect, close, self-kill, queue timeout.

use crate::event::{Event, Journal};
use crate::lb::sess_change_server;
use crate::state::{Outcome, Phase, ServerId, StreamId, System};

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

/// Models the end of a stream: back side closed (response served, or killed by its own
/// thread after `stream_shutdown`), or a 503 before any connection. Releases
/// `cur_sess`, the slot (`sess_change_server(s, NULL)`) and `beconn`. Returns the server
/// whose queue the caller should offer the freed slot to (`may_dequeue_tasks` →
/// `process_srv_queue`, a separate section), which is the target even for a stream
/// grabbed off the books.
pub fn stream_end(
    sys: &mut System,
    s: StreamId,
    outcome: Outcome,
    j: &mut Journal,
) -> Option<ServerId> {
    let target = sys.streams[s as usize].target;
    if sys.streams[s as usize].curr_sess {
        let v = target.expect("SF_CURR_SESS without a target");
        sys.px.servers[v as usize].cur_sess -= 1;
        sys.streams[s as usize].curr_sess = false;
    }
    if let Some(v) = sys.streams[s as usize].srv_conn {
        sess_change_server(sys, s, None);
        j.note(|| Event::ReleasedSlot(s, v));
    }
    sys.px.beconn -= 1;
    let strm = &mut sys.streams[s as usize];
    strm.phase = Phase::Done(outcome);
    strm.kill_requested = false;
    strm.timed_out = false;
    j.note(|| Event::End(s, outcome));
    target.filter(|_| outcome == Outcome::Served || outcome == Outcome::Killed)
}
