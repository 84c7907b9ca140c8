//! What a section did, in HAProxy's words, for traces.
//!
//! The checker runs sections with a silent [`Journal`]; traces re-run the same steps
//! with a recording one, so the hot path never formats or allocates for them.

use std::fmt;

use crate::queue::TryAgain;
use crate::state::{Counter, Outcome, QueueId, ServerId, StreamId};

/// What `back_handle_st_cer` decided after a failed connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cer {
    /// No retry left (`conn_retries == retries`): 503.
    GiveUp,
    /// `stream_choose_redispatch`: the slot goes, back to SC_ST_REQ.
    Redispatch,
    /// Retry the same server, keeping the slot (SC_ST_ASS).
    SameServer,
}

/// One thing a section did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A client connection arrives; its stream task is woken on its thread.
    Arrive(StreamId),
    /// `assign_server()` answered.
    AssignServer(StreamId, AssignResult),
    /// assign_server_and_queue, OK: the server had room, `sess_change_server()` took a slot.
    TookSlot(StreamId, ServerId),
    /// assign_server_and_queue, OK: the server is full or has a queue.
    ServerFull(StreamId, ServerId),
    /// `pendconn_add()`.
    PendconnAdd(StreamId, QueueId),
    /// `pendconn_must_try_again()` answered.
    MustTryAgain(StreamId, TryAgain),
    /// assign_server_and_queue returned SRV_STATUS_QUEUED; the stream waits in SC_ST_QUE.
    Queued(StreamId),
    /// `may_dequeue_tasks()` said no: nobody dequeues now.
    NoDequeue(ServerId),
    /// `process_srv_queue()` ran one batch and handed slots to these streams.
    ProcessSrvQueue(ServerId, Vec<StreamId>),
    /// `process_srv_queue()`'s batch on one thread group's queues (26b3e5236): the
    /// streams it dequeued (0-based group).
    ProcessSrvQueueTgroup(ServerId, u8, Vec<StreamId>),
    /// `pendconn_dequeue()` on wake-up: the entry is still linked, keep waiting.
    StillQueued(StreamId),
    /// `pendconn_dequeue()`: picked by a server, SC_ST_QUE → SC_ST_ASS.
    DequeuedTo(StreamId, ServerId),
    /// `pendconn_dequeue()`: unlinked without a server (redistributed): redo LB.
    DequeuedToLb(StreamId),
    /// `connect_server()`: the connection to the server is opened (cur_sess++).
    Connect(StreamId, ServerId),
    /// The stream ended.
    End(StreamId, Outcome),
    /// A stream released its slot on a server (`sess_change_server(s, NULL)`).
    ReleasedSlot(StreamId, ServerId),
    /// The queue timeout of a stream fired and woke its task.
    TimeoutFired(StreamId),
    /// The stream's connection attempt failed (SC_ST_CON → SC_ST_CER).
    ConnectFailed(StreamId),
    /// `back_handle_st_cer`: what the stream does after its connection failed.
    ConnectionRetry(StreamId, Cer),
    /// CLI `disable server`: maintenance set, the server leaves the LB tree.
    Disable(ServerId),
    /// CLI `enable server`: maintenance cleared, the server is back in the LB tree.
    Enable(ServerId),
    /// CLI `shutdown sessions server`: these streams holding a slot were told to die.
    KillRequested(ServerId, Vec<StreamId>),
    /// `pendconn_redistribute()`: entries taken off the server queue and off the backend
    /// queue (the latter only by the purge of 53f52e67a).
    Redistribute {
        /// The server.
        server: ServerId,
        /// Streams taken off its own queue.
        from_server: Vec<StreamId>,
        /// Streams purged from the backend queue.
        from_backend: Vec<StreamId>,
    },
    /// `pendconn_grab_from_px()`: these backend entries were given to the server, off the
    /// books (its `served` is not incremented).
    Grab(ServerId, Vec<StreamId>),
    /// Split atomics: a counter update the section before left for after its lock.
    Atomic(Counter, i8),
    /// assign_server_and_queue before 3372a2ea0: the "is it full" test found room; the
    /// slot is taken by `sess_change_server()` in a separate operation.
    ServerHasRoom(StreamId, ServerId),
    /// `XCHG(&be->ready_srv, NULL)` after a backend `pendconn_add`: what it got.
    ReadySrvSwapped(StreamId, Option<ServerId>),
    /// `CAS(&srv->served, 0, 1)` on the server got from `ready_srv`: whether it won.
    ReadySrvClaimed(StreamId, ServerId, bool),
    /// The `ready_srv` path under the backend queue lock: the entry was still linked,
    /// taken back, and the server is used (SRV_STATUS_OK).
    ReadySrvUsed(StreamId, ServerId),
    /// The `ready_srv` path under the backend queue lock: the entry was already dequeued;
    /// the slot is given back (`served--`); `true` when the lock is left held
    /// (before e9d34f991).
    ReadySrvAlreadyDequeued(StreamId, ServerId, bool),
    /// The tail of `process_srv_queue`: `ready_srv` published (or not, with the reason),
    /// and the streams its one more dequeue picked.
    ReadySrvTail(ServerId, Option<&'static str>, Vec<StreamId>),
    /// 0144426df: `disable server` took the server back out of `ready_srv`.
    ReadySrvReset(ServerId),
    /// `stream_shutdown_self` (51611a5b7): the killed stream releases what it holds at once.
    ShutdownSelf(StreamId),
    /// `master-fixed`: the queued stream's check for a dequeuer: a usable server serving
    /// someone (`None`), else the usable server whose queue it runs itself.
    DequeuerCheck(StreamId, Option<ServerId>),
    /// `master-fixed`: no usable server left: the entry is taken back, balance_again.
    DequeuerNone(StreamId),
}

/// What `assign_server()` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AssignResult {
    /// SRV_STATUS_OK: a server was picked.
    Ok(ServerId),
    /// SRV_STATUS_FULL through the "backend queue non-empty" shortcut, LB not run.
    FullShortcut,
    /// SRV_STATUS_FULL: the LB found every server full.
    FullNoRoom,
    /// SRV_STATUS_NOSRV: no usable server (tot_weight == 0).
    NoServer,
}

/// Where sections report what they did. Silent by default.
#[derive(Debug, Default)]
pub struct Journal {
    events: Option<Vec<Event>>,
}

impl Journal {
    /// A journal that drops every event (the checker's hot path).
    pub fn silent() -> Self {
        Journal { events: None }
    }

    /// A journal that keeps events (trace rendering).
    pub fn recording() -> Self {
        Journal {
            events: Some(Vec::new()),
        }
    }

    /// Records an event; the closure only runs when recording.
    pub fn note(&mut self, event: impl FnOnce() -> Event) {
        if let Some(events) = &mut self.events {
            events.push(event());
        }
    }

    /// The events recorded so far.
    pub fn into_events(self) -> Vec<Event> {
        self.events.unwrap_or_default()
    }
}

/// `S3`, 1-based like HAProxy's CLI shows things to people.
pub struct StreamName(pub StreamId);
impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S{}", self.0 + 1)
    }
}

/// `s1`, the server's name in the scenario.
pub struct ServerName(pub ServerId);
impl fmt::Display for ServerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{}", self.0 + 1)
    }
}

fn list(streams: &[StreamId]) -> String {
    let names: Vec<String> = streams.iter().map(|&s| StreamName(s).to_string()).collect();
    format!("[{}]", names.join(","))
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueId::Backend => f.write_str("backend queue"),
            QueueId::Server(s) => write!(f, "{} queue", ServerName(*s)),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Served => "served",
            Outcome::NoServer => "503 no server available",
            Outcome::QueueTimeout => "503 queue timeout (sQ)",
            Outcome::Killed => "killed",
            Outcome::ConnectionError => "503 connection error (retries exhausted)",
        })
    }
}

impl fmt::Display for AssignResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AssignResult::Ok(s) => write!(f, "OK → {}", ServerName(*s)),
            AssignResult::FullShortcut => {
                f.write_str("FULL (backend queue non-empty: shortcut, LB not run)")
            }
            AssignResult::FullNoRoom => f.write_str("FULL (no server has room)"),
            AssignResult::NoServer => f.write_str("NOSRV (tot_weight == 0)"),
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Event::*;
        match self {
            Arrive(s) => write!(f, "{} arrives", StreamName(*s)),
            AssignServer(s, r) => write!(f, "{} assign_server → {r}", StreamName(*s)),
            TookSlot(s, v) => write!(f, "{} takes a slot on {}", StreamName(*s), ServerName(*v)),
            ServerFull(s, v) => write!(f, "{} finds {} full", StreamName(*s), ServerName(*v)),
            PendconnAdd(s, q) => write!(f, "{} pendconn_add → {q}", StreamName(*s)),
            MustTryAgain(s, TryAgain::Retry) => write!(
                f,
                "{} pendconn_must_try_again → 1: entry removed, balance_again",
                StreamName(*s)
            ),
            MustTryAgain(s, TryAgain::No) => {
                write!(f, "{} pendconn_must_try_again → 0", StreamName(*s))
            }
            MustTryAgain(s, TryAgain::DequeueOurselves(v)) => write!(
                f,
                "{} pendconn_must_try_again: nobody served, {} usable → stay queued, dequeue it ourselves",
                StreamName(*s),
                ServerName(*v)
            ),
            Queued(s) => write!(f, "{} QUEUED, waits in SC_ST_QUE", StreamName(*s)),
            NoDequeue(v) => write!(f, "may_dequeue_tasks({}) → 0", ServerName(*v)),
            ProcessSrvQueue(v, picked) => write!(
                f,
                "process_srv_queue({}) hands slots to {}",
                ServerName(*v),
                list(picked)
            ),
            ProcessSrvQueueTgroup(v, g, picked) => write!(
                f,
                "process_srv_queue({}) on thread group {}'s queues hands slots to {}",
                ServerName(*v),
                g + 1,
                list(picked)
            ),
            StillQueued(s) => write!(f, "{} still queued, keeps waiting", StreamName(*s)),
            DequeuedTo(s, v) => write!(
                f,
                "{} dequeued with {} assigned (SC_ST_QUE → SC_ST_ASS)",
                StreamName(*s),
                ServerName(*v)
            ),
            DequeuedToLb(s) => write!(
                f,
                "{} dequeued without a server (SC_ST_QUE → SC_ST_REQ)",
                StreamName(*s)
            ),
            Connect(s, v) => write!(f, "{} connects to {}", StreamName(*s), ServerName(*v)),
            End(s, o) => write!(f, "{} ends: {o}", StreamName(*s)),
            ReleasedSlot(s, v) => {
                write!(f, "{} releases its slot on {}", StreamName(*s), ServerName(*v))
            }
            TimeoutFired(s) => write!(f, "{} queue timeout fires", StreamName(*s)),
            ConnectFailed(s) => write!(f, "{}'s connection attempt fails (SC_ST_CER)", StreamName(*s)),
            ConnectionRetry(s, Cer::GiveUp) => {
                write!(f, "{} back_handle_st_cer: no retry left", StreamName(*s))
            }
            ConnectionRetry(s, Cer::Redispatch) => write!(
                f,
                "{} back_handle_st_cer: retry, redispatch (slot released, SC_ST_REQ)",
                StreamName(*s)
            ),
            ConnectionRetry(s, Cer::SameServer) => write!(
                f,
                "{} back_handle_st_cer: retry the same server (keeps its slot)",
                StreamName(*s)
            ),
            Disable(v) => write!(f, "disable server px/{}", ServerName(*v)),
            Enable(v) => write!(f, "enable server px/{}", ServerName(*v)),
            KillRequested(v, ss) => write!(
                f,
                "shutdown sessions server px/{}: kill requested for {}",
                ServerName(*v),
                list(ss)
            ),
            Redistribute {
                server,
                from_server,
                from_backend,
            } => write!(
                f,
                "pendconn_redistribute({}): server queue {} backend queue {} woken",
                ServerName(*server),
                list(from_server),
                list(from_backend)
            ),
            Grab(v, ss) => write!(
                f,
                "pendconn_grab_from_px({}) takes {} uncounted",
                ServerName(*v),
                list(ss)
            ),
            ServerHasRoom(s, v) => write!(
                f,
                "{} finds room on {} (served < maxconn, slot not taken yet)",
                StreamName(*s),
                ServerName(*v)
            ),
            ReadySrvSwapped(s, None) => {
                write!(f, "{} XCHG(ready_srv, NULL) → NULL: QUEUED", StreamName(*s))
            }
            ReadySrvSwapped(s, Some(v)) => {
                write!(f, "{} XCHG(ready_srv, NULL) → {}", StreamName(*s), ServerName(*v))
            }
            ReadySrvClaimed(s, v, true) => write!(
                f,
                "{} CAS({}->served, 0, 1) wins",
                StreamName(*s),
                ServerName(*v)
            ),
            ReadySrvClaimed(s, v, false) => write!(
                f,
                "{} CAS({}->served, 0, 1) fails (served > 0): QUEUED",
                StreamName(*s),
                ServerName(*v)
            ),
            ReadySrvUsed(s, v) => write!(
                f,
                "{} takes its entry back and uses {} (SRV_STATUS_OK)",
                StreamName(*s),
                ServerName(*v)
            ),
            ReadySrvAlreadyDequeued(s, v, leaked) => write!(
                f,
                "{} finds its entry already dequeued: {}->served--, QUEUED{}",
                StreamName(*s),
                ServerName(*v),
                if *leaked {
                    " — returns with the backend queue lock held"
                } else {
                    ""
                }
            ),
            ReadySrvTail(v, None, picked) => write!(
                f,
                "process_srv_queue({}) tail: ready_srv = {}, one more dequeue hands a slot to {}",
                ServerName(*v),
                ServerName(*v),
                list(picked)
            ),
            ReadySrvTail(v, Some(why), _) => write!(
                f,
                "process_srv_queue({}) tail: ready_srv not published ({why})",
                ServerName(*v)
            ),
            ReadySrvReset(v) => write!(f, "CAS(ready_srv, {}, NULL): reset", ServerName(*v)),
            ShutdownSelf(s) => write!(
                f,
                "{} stream_shutdown_self: releases its connection and slot at once",
                StreamName(*s)
            ),
            DequeuerCheck(s, None) => write!(
                f,
                "{} sees a usable server serving a stream: it will dequeue us, QUEUED",
                StreamName(*s)
            ),
            DequeuerCheck(s, Some(v)) => write!(
                f,
                "{} sees nobody served on a usable server: QUEUED, runs {}'s queue itself",
                StreamName(*s),
                ServerName(*v)
            ),
            DequeuerNone(s) => write!(
                f,
                "{} sees no usable server: entry taken back, balance_again",
                StreamName(*s)
            ),
            Atomic(c, d) if *d < 0 => write!(f, "{c} -= {} (atomic, after the unlock)", -d),
            Atomic(c, d) => write!(f, "{c} += {d} (atomic, after the unlock)"),
        }
    }
}
