//! What lbqueue says, pinned: the words of every event a trace prints, the names of the
//! actors (which trace files store and `lbq replay` parses back), counters and variants.
//! A trace is read by people and re-read by the replayer, so its text is interface.

use lbqueue::queue::TryAgain;
use lbqueue::state::Counter;
use lbqueue::{Actor, AssignResult, Event, Outcome, QueueId, Variant};

#[test]
fn every_event_reads_as_haproxy_would_say_it() {
    use Event::*;
    let b = QueueId::Backend;
    let s2 = QueueId::Server(1);
    let cases: Vec<(Event, &str)> = vec![
        (Arrive(0), "S1 arrives"),
        (AssignServer(1, AssignResult::Ok(0)), "S2 assign_server → OK → s1"),
        (
            AssignServer(1, AssignResult::FullShortcut),
            "S2 assign_server → FULL (backend queue non-empty: shortcut, LB not run)",
        ),
        (AssignServer(1, AssignResult::FullNoRoom), "S2 assign_server → FULL (no server has room)"),
        (AssignServer(1, AssignResult::NoServer), "S2 assign_server → NOSRV (tot_weight == 0)"),
        (TookSlot(2, 1), "S3 takes a slot on s2"),
        (ServerFull(2, 0), "S3 finds s1 full"),
        (PendconnAdd(3, b), "S4 pendconn_add → backend queue"),
        (PendconnAdd(3, s2), "S4 pendconn_add → s2 queue"),
        (
            MustTryAgain(0, TryAgain::Retry),
            "S1 pendconn_must_try_again → 1: entry removed, balance_again",
        ),
        (MustTryAgain(0, TryAgain::No), "S1 pendconn_must_try_again → 0"),
        (
            MustTryAgain(0, TryAgain::DequeueOurselves(1)),
            "S1 pendconn_must_try_again: nobody served, s2 usable → stay queued, dequeue it ourselves",
        ),
        (Queued(1), "S2 QUEUED, waits in SC_ST_QUE"),
        (NoDequeue(0), "may_dequeue_tasks(s1) → 0"),
        (ProcessSrvQueue(0, vec![1, 2]), "process_srv_queue(s1) hands slots to [S2,S3]"),
        (ProcessSrvQueue(0, vec![]), "process_srv_queue(s1) hands slots to []"),
        (
            ProcessSrvQueueTgroup(1, 1, vec![0]),
            "process_srv_queue(s2) on thread group 2's queues hands slots to [S1]",
        ),
        (StillQueued(1), "S2 still queued, keeps waiting"),
        (DequeuedTo(1, 0), "S2 dequeued with s1 assigned (SC_ST_QUE → SC_ST_ASS)"),
        (DequeuedToLb(1), "S2 dequeued without a server (SC_ST_QUE → SC_ST_REQ)"),
        (Connect(0, 0), "S1 connects to s1"),
        (End(0, Outcome::Served), "S1 ends: served"),
        (End(0, Outcome::NoServer), "S1 ends: 503 no server available"),
        (End(0, Outcome::QueueTimeout), "S1 ends: 503 queue timeout (sQ)"),
        (End(0, Outcome::Killed), "S1 ends: killed"),
        (ReleasedSlot(0, 1), "S1 releases its slot on s2"),
        (TimeoutFired(2), "S3 queue timeout fires"),
        (Disable(0), "disable server px/s1"),
        (Enable(1), "enable server px/s2"),
        (KillRequested(0, vec![0]), "shutdown sessions server px/s1: kill requested for [S1]"),
        (
            Redistribute {
                server: 0,
                from_server: vec![2],
                from_backend: vec![1, 3],
            },
            "pendconn_redistribute(s1): server queue [S3] backend queue [S2,S4] woken",
        ),
        (Grab(0, vec![1]), "pendconn_grab_from_px(s1) takes [S2] uncounted"),
        (
            Atomic(Counter::PxServed, -1),
            "px->served -= 1 (atomic, after the unlock)",
        ),
        (
            Atomic(Counter::PxTotpend, 2),
            "px->totpend += 2 (atomic, after the unlock)",
        ),
        (
            Atomic(Counter::Length(b, 0), 0),
            "px->queue.length += 0 (atomic, after the unlock)",
        ),
        (
            Atomic(Counter::Length(s2, 0), -3),
            "s2->queue.length -= 3 (atomic, after the unlock)",
        ),
        (
            Atomic(Counter::Length(b, 1), -1),
            "px->per_tgrp[1].queue.length -= 1 (atomic, after the unlock)",
        ),
    ];
    for (event, text) in cases {
        assert_eq!(event.to_string(), text, "{event:?}");
    }
}

#[test]
fn actors_are_named_and_parsed_back() {
    let actors = [
        (Actor::Thread(0), "T1"),
        (Actor::Thread(7), "T8"),
        (Actor::Cli, "CLI"),
        (Actor::Client, "client"),
        (Actor::Timeout(0), "timer S1"),
        (Actor::Timeout(11), "timer S12"),
    ];
    for (actor, name) in actors {
        assert_eq!(actor.to_string(), name);
        assert_eq!(name.parse::<Actor>(), Ok(actor));
    }
    for bad in [
        "T0", "T", "t1", "timer S0", "timer", "cli", "Client", "S1", "T1x", "",
    ] {
        let err = bad.parse::<Actor>().expect_err(bad);
        assert!(err.contains("expected an actor"), "{bad}: {err}");
    }
}

#[test]
fn variants_are_named_and_summed_up_once_each() {
    let mut summaries = std::collections::HashSet::new();
    for v in Variant::ALL {
        assert_eq!(v.to_string(), v.name());
        assert_eq!(v.name().parse::<Variant>(), Ok(v));
        assert!(v.summary().len() > 20, "{v}");
        assert!(summaries.insert(v.summary()), "{v}");
    }
    assert!(Variant::Purge.summary().contains("53f52e67a"));
    assert!(Variant::Livelock.summary().contains("8d68717a4"));
}
