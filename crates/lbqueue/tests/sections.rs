//! Integration tests of lbqueue's sections against HAProxy's functions as described in
//! `shared/reference/haproxy-queue.md` (§2 data model, §3 function logic).
//!
//! Each test builds a tiny [`System`] (from an inline TOML scenario), either drives it
//! with [`lbqueue::step`] like the model checker does, or calls one section function
//! directly on a hand-built state, and asserts what the HAProxy function must do:
//! `assign_server`, `pendconn_add`, `pendconn_must_try_again`, `process_srv_queue`,
//! `pendconn_grab_from_px`, `pendconn_redistribute`, `srv_shutdown_streams`,
//! `pendconn_dequeue`, `may_dequeue_tasks`, the one-task-at-a-time thread scheduler,
//! and `invariants::counters_consistent` (checked after every step of every schedule).

use lbqueue::invariants::{counters_consistent, no_stream_lost};
use lbqueue::lb::{assign_server, sess_change_server};
use lbqueue::queue::{
    may_dequeue_tasks, pendconn_add, pendconn_dequeue, pendconn_grab_from_px,
    pendconn_must_try_again, pendconn_redistribute, process_srv_queue, Dequeued, TryAgain,
};
use lbqueue::server::{srv_clear_admin_maint, srv_set_admin_maint, srv_shutdown_streams};
use lbqueue::state::{AfterTail, Call, Task};
use lbqueue::{
    is_enabled, presets, step, Actor, AssignResult, Cer, Event, Journal, Outcome, Pc, Phase,
    QueueId, Scenario, SeededBug, ServerId, StreamId, System, ThreadId, Variant,
};

const S1: StreamId = 0;
const S2: StreamId = 1;
const S3: StreamId = 2;
const S4: StreamId = 3;
const SRV1: ServerId = 0;
const SRV2: ServerId = 1;
const T1: ThreadId = 0;
const T2: ThreadId = 1;
const SRV3: ServerId = 2;

const ALGOS: [&str; 4] = ["roundrobin", "static-rr", "first", "hash"];

// ----------------------------------------------------------------------------------------
// Scenario and system helpers

/// Builds a scenario from a tiny inline TOML file.
struct Sc {
    variant: Variant,
    algo: &'static str,
    maxconns: Vec<u8>,
    streams: Vec<u8>,
    cli: Vec<&'static str>,
    queue_timeout: bool,
}

impl Sc {
    fn new(variant: Variant, algo: &'static str) -> Self {
        Sc {
            variant,
            algo,
            maxconns: vec![1],
            streams: vec![1],
            cli: Vec::new(),
            queue_timeout: false,
        }
    }

    /// One server per entry, with that `maxconn`.
    fn servers(mut self, maxconns: &[u8]) -> Self {
        self.maxconns = maxconns.to_vec();
        self
    }

    /// One stream per entry, bound to that (1-based) thread.
    fn streams(mut self, threads: &[u8]) -> Self {
        self.streams = threads.to_vec();
        self
    }

    fn cli(mut self, cli: &[&'static str]) -> Self {
        self.cli = cli.to_vec();
        self
    }

    fn queue_timeout(mut self) -> Self {
        self.queue_timeout = true;
        self
    }

    fn build(self) -> Scenario {
        let threads = self.streams.iter().copied().max().unwrap_or(1);
        let mut text = format!(
            "variant = \"{}\"\nalgo = \"{}\"\nthreads = {threads}\nstreams = {:?}\ncli = {:?}\nqueue_timeout = {}\n",
            self.variant.name(),
            self.algo,
            self.streams,
            self.cli,
            self.queue_timeout
        );
        for (i, m) in self.maxconns.iter().enumerate() {
            text.push_str(&format!(
                "\n[[servers]]\nname = \"s{}\"\nmaxconn = {m}\n",
                i + 1
            ));
        }
        Scenario::from_toml(&text, "sections-test")
            .unwrap_or_else(|e| panic!("bad test scenario: {e}\n{text}"))
    }
}

fn silent() -> Journal {
    Journal::silent()
}

fn consistent(sys: &System) {
    if let Err(e) = counters_consistent(sys) {
        panic!("counters_consistent: {e}\n{sys:#?}");
    }
}

/// Runs one section of `actor` (which must be enabled) and checks the counters.
fn step_ok(sys: &mut System, sc: &Scenario, actor: Actor) {
    assert!(is_enabled(sys, sc, actor), "{actor} is not enabled");
    step(sys, sc, actor, &mut silent());
    if let Err(e) = counters_consistent(sys) {
        panic!("counters_consistent after a section of {actor}: {e}\n{sys:#?}");
    }
}

/// Like [`step_ok`], returning what the section did.
fn step_rec(sys: &mut System, sc: &Scenario, actor: Actor) -> Vec<Event> {
    assert!(is_enabled(sys, sc, actor), "{actor} is not enabled");
    let mut j = Journal::recording();
    step(sys, sc, actor, &mut j);
    consistent(sys);
    j.into_events()
}

/// Thread `t` picks the next woken task and runs it until it yields. Returns the stream.
fn run_task(sys: &mut System, sc: &Scenario, t: ThreadId) -> StreamId {
    assert!(
        sys.threads[t as usize].task.is_none(),
        "T{} is in the middle of a task",
        t + 1
    );
    let s = *sys.threads[t as usize]
        .runq
        .first()
        .unwrap_or_else(|| panic!("T{} has nothing to run", t + 1));
    let mut sections = 0;
    loop {
        step_ok(sys, sc, Actor::Thread(t));
        sections += 1;
        if sys.threads[t as usize].task.is_none() {
            return s;
        }
        assert!(
            sections < 50,
            "the task of S{} on T{} never yields",
            s + 1,
            t + 1
        );
    }
}

fn arrive(sys: &mut System, sc: &Scenario, n: usize) {
    for _ in 0..n {
        step_ok(sys, sc, Actor::Client);
    }
}

/// The stream picks the backend (counted in beconn), as the first LB section does.
fn attach(sys: &mut System, s: StreamId) {
    if sys.streams[s as usize].phase == Phase::New {
        sys.px.beconn += 1;
        sys.streams[s as usize].phase = Phase::Req;
        sys.arrived = sys.arrived.max(s + 1);
    }
}

/// The stream took a slot on `v` (`sess_change_server`) and is about to connect (ASS).
fn take_slot(sys: &mut System, s: StreamId, v: ServerId) {
    attach(sys, s);
    sess_change_server(sys, s, Some(v), Variant::Fixed.behaviour());
    let strm = &mut sys.streams[s as usize];
    strm.target = Some(v);
    strm.assigned = true;
    strm.phase = Phase::Ass;
}

/// The stream holds a slot on `v` and is connected to it (EST, counted in cur_sess).
fn serve(sys: &mut System, s: StreamId, v: ServerId) {
    take_slot(sys, s, v);
    sys.px.servers[v as usize].cur_sess += 1;
    let strm = &mut sys.streams[s as usize];
    strm.curr_sess = true;
    strm.phase = Phase::Est;
}

/// The stream waits in the backend queue (LB said FULL).
fn enqueue_backend(sys: &mut System, s: StreamId) {
    attach(sys, s);
    assert_eq!(pendconn_add(sys, s, &mut silent()), QueueId::Backend);
    sys.streams[s as usize].phase = Phase::Que;
}

/// The stream waits in server `v`'s queue (assigned to it, found it full).
fn enqueue_server(sys: &mut System, s: StreamId, v: ServerId) {
    attach(sys, s);
    sys.streams[s as usize].target = Some(v);
    sys.streams[s as usize].assigned = true;
    assert_eq!(pendconn_add(sys, s, &mut silent()), QueueId::Server(v));
    sys.streams[s as usize].phase = Phase::Que;
}

fn runq(sys: &System, t: ThreadId) -> &[StreamId] {
    &sys.threads[t as usize].runq
}

fn backend_queue(sys: &System) -> Vec<StreamId> {
    sys.queue_entries(QueueId::Backend).collect()
}

fn server_queue(sys: &System, v: ServerId) -> Vec<StreamId> {
    sys.queue_entries(QueueId::Server(v)).collect()
}

// ----------------------------------------------------------------------------------------
// assign_server (§3.1)

#[test]
fn assign_server_answers_nosrv_when_no_weight_is_left_before_looking_at_the_backend_queue() {
    for variant in Variant::ALL {
        for algo in ALGOS {
            let sc = Sc::new(variant, algo)
                .servers(&[1])
                .streams(&[1, 1, 1])
                .build();
            let mut sys = System::new(&sc);
            serve(&mut sys, S1, SRV1);
            enqueue_backend(&mut sys, S2);
            attach(&mut sys, S3);
            consistent(&sys);
            srv_set_admin_maint(&mut sys, SRV1, &mut silent());
            assert_eq!(sys.px.tot_weight(), 0);
            let r = assign_server(&mut sys, S3, variant.behaviour(), &mut silent());
            assert_eq!(
                r,
                AssignResult::NoServer,
                "{variant}/{algo}: tot_weight == 0 must give NOSRV even with a non-empty backend queue"
            );
            assert_eq!(sys.streams[S3 as usize].target, None);
            assert!(!sys.streams[S3 as usize].assigned);
        }
    }
}

/// s1 (maxconn 1) is busy with S1, s2 (maxconn 1) is free, S2 waits in the backend
/// queue, S3 is attached and about to run assign_server.
fn busy_s1_free_s2_with_backend_queue(variant: Variant, algo: &'static str) -> System {
    let sc = Sc::new(variant, algo)
        .servers(&[1, 1])
        .streams(&[1, 1, 1])
        .build();
    let mut sys = System::new(&sc);
    serve(&mut sys, S1, SRV1);
    enqueue_backend(&mut sys, S2);
    attach(&mut sys, S3);
    consistent(&sys);
    sys
}

#[test]
fn assign_server_shortcut_answers_full_when_the_backend_queue_is_not_empty_for_rr_static_rr_and_first_only(
) {
    for variant in Variant::ALL {
        for algo in ALGOS {
            let mut sys = busy_s1_free_s2_with_backend_queue(variant, algo);
            assert_eq!(sys.px.queue.queueslength(), 1);
            assert_eq!(sys.px.beconn, 3);
            let r = assign_server(&mut sys, S3, variant.behaviour(), &mut silent());
            if algo == "hash" {
                assert!(
                    matches!(r, AssignResult::Ok(_)),
                    "{variant}/hash is deterministic: no shortcut, the LB must run, got {r:?}"
                );
            } else {
                assert_eq!(
                    r,
                    AssignResult::FullShortcut,
                    "{variant}/{algo}: backend queue non-empty ⇒ FULL without running the LB, although s2 is free"
                );
                assert_eq!(sys.streams[S3 as usize].target, None);
            }
        }
    }
}

#[test]
fn assign_server_shortcut_is_not_taken_when_backend_queue_length_equals_beconn() {
    for algo in ["roundrobin", "static-rr", "first"] {
        // S2 waits in the backend queue and is the only stream counted in beconn; S3 runs
        // assign_server before being counted: queue.queueslength() == beconn == 1.
        let sc = Sc::new(Variant::Livelock, algo)
            .servers(&[1])
            .streams(&[1, 1, 1])
            .build();
        let mut sys = System::new(&sc);
        enqueue_backend(&mut sys, S2);
        assert_eq!((sys.px.queue.queueslength(), sys.px.beconn), (1, 1));
        let b = sc.variant.behaviour();

        let mut equal = sys.clone();
        let r = assign_server(&mut equal, S3, b, &mut silent());
        assert_eq!(
            r,
            AssignResult::Ok(SRV1),
            "{algo}: queue.queueslength() == beconn: the shortcut must not be taken, the LB picks the free s1"
        );

        // Control: once S3 counts in beconn, queue.queueslength() (1) != beconn (2): shortcut.
        let mut differ = sys.clone();
        attach(&mut differ, S3);
        let r = assign_server(&mut differ, S3, b, &mut silent());
        assert_eq!(r, AssignResult::FullShortcut, "{algo}: control case");
    }
}

#[test]
fn roundrobin_skips_a_server_whose_queue_is_not_empty() {
    for algo in ["roundrobin", "static-rr", "first"] {
        let sc = Sc::new(Variant::Livelock, algo)
            .servers(&[2, 2])
            .streams(&[1, 1, 1])
            .build();
        let b = sc.variant.behaviour();

        // Control: both servers idle, s1 comes first in the rotation.
        let mut idle = System::new(&sc);
        attach(&mut idle, S3);
        assert_eq!(
            assign_server(&mut idle, S3, b, &mut silent()),
            AssignResult::Ok(SRV1),
            "{algo}: control"
        );

        // s1 has a free slot (served 0 < maxconn 2) but a non-empty queue.
        let mut sys = System::new(&sc);
        enqueue_server(&mut sys, S1, SRV1);
        attach(&mut sys, S3);
        consistent(&sys);
        assert_eq!(sys.px.servers[SRV1 as usize].served, 0);
        assert_eq!(
            assign_server(&mut sys, S3, b, &mut silent()),
            AssignResult::Ok(SRV2),
            "{algo}: a server with a non-empty queue must not be picked"
        );
    }
}

#[test]
fn roundrobin_skips_a_full_server_and_answers_full_when_all_are_full() {
    for algo in ["roundrobin", "static-rr", "first"] {
        let sc = Sc::new(Variant::Livelock, algo)
            .servers(&[1, 1])
            .streams(&[1, 1, 1])
            .build();
        let b = sc.variant.behaviour();
        let mut sys = System::new(&sc);
        serve(&mut sys, S1, SRV1);
        attach(&mut sys, S3);
        consistent(&sys);
        let mut one_full = sys.clone();
        assert_eq!(
            assign_server(&mut one_full, S3, b, &mut silent()),
            AssignResult::Ok(SRV2),
            "{algo}: s1 has served == maxconn, the LB must skip it"
        );

        serve(&mut sys, S2, SRV2);
        assert_eq!(
            assign_server(&mut sys, S3, b, &mut silent()),
            AssignResult::FullNoRoom,
            "{algo}: every server full ⇒ FULL from the LB"
        );
    }
}

#[test]
fn hash_picks_its_server_even_when_full_and_queues_on_that_server() {
    let sc = Sc::new(Variant::Livelock, "hash")
        .servers(&[1])
        .streams(&[1, 1])
        .build();
    let mut sys = System::new(&sc);
    arrive(&mut sys, &sc, 2);
    assert_eq!(run_task(&mut sys, &sc, T1), S1);
    assert_eq!(sys.streams[S1 as usize].srv_conn, Some(SRV1));
    assert_eq!(sys.px.servers[SRV1 as usize].served, 1);

    let events = step_rec(&mut sys, &sc, Actor::Thread(T1));
    assert!(
        events.contains(&Event::AssignServer(S2, AssignResult::Ok(SRV1))),
        "hash must pick s1 although it is full: {events:?}"
    );
    while sys.threads[T1 as usize].task.is_some() {
        step_ok(&mut sys, &sc, Actor::Thread(T1));
    }
    assert_eq!(server_queue(&sys, SRV1), vec![S2]);
    assert!(backend_queue(&sys).is_empty());
    assert_eq!(sys.streams[S2 as usize].phase, Phase::Que);
    assert_eq!(sys.px.servers[SRV1 as usize].queue.queueslength(), 1);
    assert_eq!(sys.px.totpend, 1);
}

#[test]
fn assign_server_releases_its_slot_before_lb_and_takes_it_back_when_the_same_server_is_picked() {
    let sc = Sc::new(Variant::Livelock, "roundrobin")
        .servers(&[1])
        .streams(&[1])
        .build();
    let mut sys = System::new(&sc);
    take_slot(&mut sys, S1, SRV1);
    consistent(&sys);
    assert_eq!(sys.px.servers[SRV1 as usize].served, 1);
    let mut j = Journal::recording();
    let r = assign_server(&mut sys, S1, sc.variant.behaviour(), &mut j);
    // Had the slot not been released first, s1 (maxconn 1) would have been full.
    assert_eq!(
        r,
        AssignResult::Ok(SRV1),
        "the stream's own slot must be released before the LB"
    );
    assert_eq!(sys.streams[S1 as usize].srv_conn, Some(SRV1));
    assert_eq!(sys.px.servers[SRV1 as usize].served, 1);
    assert_eq!(sys.px.served, 1);
    let events = j.into_events();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::ProcessSrvQueue(..))),
        "the slot was taken back, nothing to offer: {events:?}"
    );
    consistent(&sys);
}

#[test]
fn assign_server_offers_its_released_slot_to_the_old_server_queue_when_lb_picks_another() {
    let sc = Sc::new(Variant::Livelock, "roundrobin")
        .servers(&[1, 1])
        .streams(&[1, 2])
        .build();
    let mut sys = System::new(&sc);
    // S1 holds s1's slot but is not connected (cur_sess 0): it is redoing LB.
    take_slot(&mut sys, S1, SRV1);
    enqueue_server(&mut sys, S2, SRV1);
    consistent(&sys);
    let r = assign_server(&mut sys, S1, sc.variant.behaviour(), &mut silent());
    assert_eq!(r, AssignResult::Ok(SRV2), "s1 has a queue: the LB picks s2");
    assert_eq!(sys.streams[S1 as usize].srv_conn, None);
    assert_eq!(
        sys.streams[S2 as usize].srv_conn,
        Some(SRV1),
        "the freed s1 slot must go to S2 (process_srv_queue(s1))"
    );
    assert!(!sys.is_linked(S2));
    assert_eq!(sys.px.servers[SRV1 as usize].served, 1);
    assert_eq!(
        sys.px.servers[SRV2 as usize].served, 0,
        "assign_server only picks"
    );
    assert_eq!(sys.px.served, 1);
    assert_eq!(runq(&sys, T2), &[S2]);
    consistent(&sys);
}

// ----------------------------------------------------------------------------------------
// pendconn_add (§3.4)

#[test]
fn pendconn_add_queues_an_assigned_stream_on_its_server_and_any_other_on_the_backend() {
    let sc = Sc::new(Variant::Livelock, "roundrobin")
        .servers(&[1, 1])
        .streams(&[1, 1, 1])
        .build();
    let mut sys = System::new(&sc);
    for s in [S1, S2, S3] {
        attach(&mut sys, s);
    }
    sys.streams[S1 as usize].target = Some(SRV2);
    sys.streams[S1 as usize].assigned = true;
    // S3 has a stale target but no SF_ASSIGNED: backend queue.
    sys.streams[S3 as usize].target = Some(SRV1);

    assert_eq!(
        pendconn_add(&mut sys, S1, &mut silent()),
        QueueId::Server(SRV2)
    );
    assert_eq!(sys.px.servers[SRV2 as usize].queue.queueslength(), 1);
    assert_eq!(sys.px.queue.queueslength(), 0);
    assert_eq!(sys.px.totpend, 1);

    assert_eq!(pendconn_add(&mut sys, S2, &mut silent()), QueueId::Backend);
    assert_eq!(pendconn_add(&mut sys, S3, &mut silent()), QueueId::Backend);
    assert_eq!(sys.px.queue.queueslength(), 2);
    assert_eq!(sys.px.servers[SRV1 as usize].queue.queueslength(), 0);
    assert_eq!(sys.px.totpend, 3);
    assert_eq!(backend_queue(&sys), vec![S2, S3]);
    assert_eq!(server_queue(&sys, SRV2), vec![S1]);
    for s in [S1, S2, S3] {
        assert!(sys.is_linked(s));
        let p = sys.streams[s as usize].pend_pos.expect("pend_pos set");
        assert_eq!(p.target, None, "a new pendconn has no target");
        sys.streams[s as usize].phase = Phase::Que;
    }
    consistent(&sys);
}

// ----------------------------------------------------------------------------------------
// pendconn_must_try_again (§3.5 and the `fixed` switches)

#[test]
fn must_try_again_says_no_when_the_entry_was_already_picked() {
    for variant in [Variant::Livelock, Variant::Purge, Variant::Fixed] {
        let sc = Sc::new(variant, "roundrobin")
            .servers(&[1])
            .streams(&[1])
            .build();
        let mut sys = System::new(&sc);
        enqueue_backend(&mut sys, S1);
        // grab_from_px unlinks it without counting it: px.served stays 0.
        pendconn_grab_from_px(&mut sys, SRV1, &mut silent());
        assert!(!sys.is_linked(S1));
        assert_eq!(sys.px.served, 0);
        let r = pendconn_must_try_again(&mut sys, S1, variant.behaviour(), &mut silent());
        assert_eq!(r, TryAgain::No, "{variant}: already unlinked ⇒ 0");
        assert_eq!(
            sys.streams[S1 as usize].pend_pos.and_then(|p| p.target),
            Some(SRV1),
            "{variant}: the picked pendconn must be left for pendconn_dequeue"
        );
        consistent(&sys);
    }
}

#[test]
fn must_try_again_says_no_while_a_stream_is_served_on_the_backend() {
    for variant in [Variant::Livelock, Variant::Purge, Variant::Fixed] {
        let sc = Sc::new(variant, "roundrobin")
            .servers(&[1])
            .streams(&[1, 1])
            .build();
        let mut sys = System::new(&sc);
        serve(&mut sys, S1, SRV1);
        enqueue_backend(&mut sys, S2);
        let r = pendconn_must_try_again(&mut sys, S2, variant.behaviour(), &mut silent());
        assert_eq!(r, TryAgain::No, "{variant}: px.served > 0 ⇒ 0");
        assert!(sys.is_linked(S2));
        assert!(sys.streams[S2 as usize].pend_pos.is_some());
        assert_eq!(sys.px.queue.queueslength(), 1);
        consistent(&sys);
    }
}

#[test]
fn livelock_must_try_again_takes_the_entry_back_when_nobody_is_served() {
    for variant in [Variant::Livelock, Variant::Purge] {
        // Whether or not a server is usable, only px.served is looked at.
        for usable in [true, false] {
            let sc = Sc::new(variant, "roundrobin")
                .servers(&[1])
                .streams(&[1])
                .build();
            let mut sys = System::new(&sc);
            enqueue_backend(&mut sys, S1);
            if !usable {
                srv_set_admin_maint(&mut sys, SRV1, &mut silent());
            }
            let r = pendconn_must_try_again(&mut sys, S1, variant.behaviour(), &mut silent());
            assert_eq!(r, TryAgain::Retry, "{variant} usable={usable}");
            assert!(!sys.is_linked(S1));
            assert_eq!(sys.streams[S1 as usize].pend_pos, None, "pend_pos cleared");
            assert_eq!(sys.px.queue.queueslength(), 0);
            assert_eq!(sys.px.totpend, 0);
            sys.streams[S1 as usize].phase = Phase::Req;
            consistent(&sys);
        }
    }
}

#[test]
fn fixed_must_try_again_retries_when_no_server_is_usable_even_if_one_is_served() {
    let build = |variant: Variant| {
        let sc = Sc::new(variant, "roundrobin")
            .servers(&[1])
            .streams(&[1, 1])
            .build();
        let mut sys = System::new(&sc);
        serve(&mut sys, S1, SRV1);
        enqueue_backend(&mut sys, S2);
        srv_set_admin_maint(&mut sys, SRV1, &mut silent());
        assert_eq!(sys.px.served, 1);
        sys
    };
    let mut fixed = build(Variant::Fixed);
    let r = pendconn_must_try_again(&mut fixed, S2, Variant::Fixed.behaviour(), &mut silent());
    assert_eq!(
        r,
        TryAgain::Retry,
        "fixed: no usable server ⇒ retry (NOSRV)"
    );
    assert!(!fixed.is_linked(S2));
    assert_eq!(fixed.streams[S2 as usize].pend_pos, None);
    assert_eq!((fixed.px.queue.queueslength(), fixed.px.totpend), (0, 0));

    // Control: livelock only looks at px.served.
    let mut livelock = build(Variant::Livelock);
    let r = pendconn_must_try_again(
        &mut livelock,
        S2,
        Variant::Livelock.behaviour(),
        &mut silent(),
    );
    assert_eq!(r, TryAgain::No, "livelock: px.served > 0 ⇒ 0");
    assert!(livelock.is_linked(S2));
}

#[test]
fn fixed_must_try_again_stays_queued_and_dequeues_itself_when_nobody_is_served_but_a_server_is_usable(
) {
    let sc = Sc::new(Variant::Fixed, "roundrobin")
        .servers(&[1, 1])
        .streams(&[1])
        .build();
    let mut sys = System::new(&sc);
    enqueue_backend(&mut sys, S1);
    srv_set_admin_maint(&mut sys, SRV1, &mut silent());
    assert_eq!(sys.px.served, 0);
    let r = pendconn_must_try_again(&mut sys, S1, sc.variant.behaviour(), &mut silent());
    assert_eq!(
        r,
        TryAgain::DequeueOurselves(SRV2),
        "nobody served, s2 usable (s1 in maintenance)"
    );
    assert!(sys.is_linked(S1), "the entry stays queued");
    assert!(sys.streams[S1 as usize].pend_pos.is_some());
    assert_eq!((sys.px.queue.queueslength(), sys.px.totpend), (1, 1));
    consistent(&sys);
}

#[test]
fn fixed_stream_in_the_try_again_case_gets_a_slot_through_its_own_process_srv_queue() {
    // S1 is stale in the backend queue, nobody is served, s1 is usable: S2's LB takes
    // the shortcut and queues; must_try_again must not spin, the slot goes to S1 (older).
    let sc = Sc::new(Variant::Fixed, "roundrobin")
        .servers(&[1])
        .streams(&[1, 1])
        .build();
    let mut sys = System::new(&sc);
    enqueue_backend(&mut sys, S1);
    consistent(&sys);
    arrive(&mut sys, &sc, 1);
    assert_eq!(run_task(&mut sys, &sc, T1), S2);
    assert_eq!(sys.streams[S1 as usize].srv_conn, Some(SRV1));
    assert_eq!(runq(&sys, T1), &[S1]);
    assert_eq!(sys.streams[S2 as usize].phase, Phase::Que);
    assert_eq!(backend_queue(&sys), vec![S2]);
    assert_eq!(sys.px.served, 1);
}

// ----------------------------------------------------------------------------------------
// process_srv_queue (§3.6)

#[test]
fn process_srv_queue_hands_the_slot_to_the_older_of_the_two_queue_heads() {
    for backend_first in [true, false] {
        let sc = Sc::new(Variant::Livelock, "roundrobin")
            .servers(&[1])
            .streams(&[1, 2])
            .build();
        let mut sys = System::new(&sc);
        // S1 (thread 1) in the backend queue, S2 (thread 2) in s1's queue, in either order.
        if backend_first {
            enqueue_backend(&mut sys, S1);
            enqueue_server(&mut sys, S2, SRV1);
        } else {
            enqueue_server(&mut sys, S2, SRV1);
            enqueue_backend(&mut sys, S1);
        }
        consistent(&sys);
        process_srv_queue(&mut sys, SRV1, None, sc.behaviour(), &mut silent());
        let (picked, t, left) = if backend_first {
            (S1, T1, S2)
        } else {
            (S2, T2, S1)
        };
        let strm = &sys.streams[picked as usize];
        assert_eq!(
            strm.srv_conn,
            Some(SRV1),
            "backend_first={backend_first}: the older head S{} gets the slot",
            picked + 1
        );
        let p = strm
            .pend_pos
            .expect("picked pendconn kept for pendconn_dequeue");
        assert_eq!(p.target, Some(SRV1));
        assert!(p.assigned, "picked entry carries SF_ASSIGNED");
        assert!(!sys.is_linked(picked));
        assert!(sys.is_linked(left), "maxconn 1: only one slot handed out");
        assert_eq!(
            runq(&sys, t),
            &[picked],
            "picked stream woken on its thread"
        );
        assert_eq!(sys.px.servers[SRV1 as usize].served, 1);
        assert_eq!(sys.px.served, 1);
        assert_eq!(sys.px.totpend, 1);
        consistent(&sys);
    }
}

#[test]
fn process_srv_queue_stops_at_maxconn() {
    let sc = Sc::new(Variant::Livelock, "roundrobin")
        .servers(&[2])
        .streams(&[1, 1, 1, 1])
        .build();
    let mut sys = System::new(&sc);
    serve(&mut sys, S1, SRV1);
    for s in [S2, S3, S4] {
        enqueue_backend(&mut sys, s);
    }
    process_srv_queue(&mut sys, SRV1, None, sc.behaviour(), &mut silent());
    assert_eq!(sys.px.servers[SRV1 as usize].served, 2);
    assert_eq!(sys.px.served, 2);
    assert_eq!(sys.streams[S2 as usize].srv_conn, Some(SRV1));
    assert_eq!(backend_queue(&sys), vec![S3, S4]);
    assert_eq!(runq(&sys, T1), &[S2]);
    consistent(&sys);

    // Full now: a second call hands out nothing.
    process_srv_queue(&mut sys, SRV1, None, sc.behaviour(), &mut silent());
    assert_eq!(backend_queue(&sys), vec![S3, S4]);
    assert_eq!(sys.px.servers[SRV1 as usize].served, 2);
}

#[test]
fn process_srv_queue_takes_from_the_backend_queue_only_when_the_server_is_usable() {
    for maint in [false, true] {
        let sc = Sc::new(Variant::Livelock, "roundrobin")
            .servers(&[2])
            .streams(&[1, 1])
            .build();
        let mut sys = System::new(&sc);
        enqueue_backend(&mut sys, S1);
        enqueue_server(&mut sys, S2, SRV1);
        if maint {
            srv_set_admin_maint(&mut sys, SRV1, &mut silent());
        }
        process_srv_queue(&mut sys, SRV1, None, sc.behaviour(), &mut silent());
        assert_eq!(
            sys.streams[S2 as usize].srv_conn,
            Some(SRV1),
            "maint={maint}: the server's own queue is always served"
        );
        if maint {
            assert!(
                sys.is_linked(S1),
                "an unusable server must not take the (older) backend entry"
            );
            assert_eq!(sys.px.served, 1);
        } else {
            assert_eq!(sys.streams[S1 as usize].srv_conn, Some(SRV1));
            assert_eq!(sys.px.served, 2);
        }
        consistent(&sys);
    }
}

// ----------------------------------------------------------------------------------------
// pendconn_grab_from_px (§3.10)

#[test]
fn grab_from_px_takes_up_to_the_free_slots_without_counting_them() {
    let sc = Sc::new(Variant::Livelock, "roundrobin")
        .servers(&[2])
        .streams(&[1, 1, 1, 2])
        .build();
    let mut sys = System::new(&sc);
    serve(&mut sys, S1, SRV1);
    for s in [S2, S3, S4] {
        enqueue_backend(&mut sys, s);
    }
    sys.threads[T1 as usize].runq.clear();
    pendconn_grab_from_px(&mut sys, SRV1, &mut silent());
    // maxconn 2 - served 1 = one entry, the oldest.
    assert_eq!(backend_queue(&sys), vec![S3, S4]);
    assert_eq!((sys.px.queue.queueslength(), sys.px.totpend), (2, 2));
    let grabbed = &sys.streams[S2 as usize];
    assert_eq!(grabbed.pend_pos.and_then(|p| p.target), Some(SRV1));
    assert_eq!(
        grabbed.srv_conn, None,
        "quirk: grab_from_px does not set srv_conn"
    );
    assert_eq!(
        sys.px.servers[SRV1 as usize].served, 1,
        "quirk: grab_from_px does not count served"
    );
    assert_eq!(sys.px.served, 1);
    assert_eq!(runq(&sys, T1), &[S2]);
    consistent(&sys);

    // The grabbed stream goes QUE → ASS on s1, still uncounted.
    assert_eq!(
        pendconn_dequeue(&mut sys, S2, &mut silent()),
        Dequeued::Assigned
    );
    assert_eq!(sys.streams[S2 as usize].target, Some(SRV1));
    assert_eq!(sys.streams[S2 as usize].srv_conn, None);
}

#[test]
fn grab_from_px_does_nothing_for_an_unusable_server() {
    let sc = Sc::new(Variant::Livelock, "roundrobin")
        .servers(&[2])
        .streams(&[1, 1])
        .build();
    let mut sys = System::new(&sc);
    enqueue_backend(&mut sys, S1);
    enqueue_backend(&mut sys, S2);
    srv_set_admin_maint(&mut sys, SRV1, &mut silent());
    let before = sys.clone();
    pendconn_grab_from_px(&mut sys, SRV1, &mut silent());
    assert_eq!(sys, before);
}

// ----------------------------------------------------------------------------------------
// pendconn_redistribute (§3.9)

#[test]
fn redistribute_flushes_the_server_queue_only_in_maintenance() {
    for variant in Variant::ALL {
        let sc = Sc::new(variant, "hash")
            .servers(&[1, 1])
            .streams(&[1, 1])
            .build();
        let b = variant.behaviour();
        let mut sys = System::new(&sc);
        serve(&mut sys, S1, SRV1);
        enqueue_server(&mut sys, S2, SRV1);
        sys.threads[T1 as usize].runq.clear();

        pendconn_redistribute(&mut sys, SRV1, b, None, &mut silent());
        assert_eq!(
            server_queue(&sys, SRV1),
            vec![S2],
            "{variant}: not in maintenance: queue kept"
        );

        srv_set_admin_maint(&mut sys, SRV1, &mut silent());
        pendconn_redistribute(&mut sys, SRV1, b, None, &mut silent());
        assert!(server_queue(&sys, SRV1).is_empty(), "{variant}");
        assert_eq!(sys.px.servers[SRV1 as usize].queue.queueslength(), 0);
        assert_eq!(sys.px.totpend, 0);
        let p = sys.streams[S2 as usize].pend_pos.expect("kept for dequeue");
        assert!(!p.assigned, "{variant}: SF_ASSIGNED dropped");
        assert_eq!(p.target, None, "{variant}: target stays NULL");
        assert_eq!(runq(&sys, T1), &[S2]);
        consistent(&sys);
        assert_eq!(
            pendconn_dequeue(&mut sys, S2, &mut silent()),
            Dequeued::Rebalance
        );
    }
}

#[test]
fn redistribute_purges_the_backend_queue_only_with_the_purge_and_no_usable_weight() {
    for variant in Variant::ALL {
        for servers in [1usize, 2] {
            let sc = Sc::new(variant, "roundrobin")
                .servers(&vec![1; servers])
                .streams(&[1, 2])
                .build();
            let b = variant.behaviour();
            let mut sys = System::new(&sc);
            serve(&mut sys, S1, SRV1);
            enqueue_backend(&mut sys, S2);
            srv_set_admin_maint(&mut sys, SRV1, &mut silent());
            pendconn_redistribute(&mut sys, SRV1, b, None, &mut silent());
            let purged = b.purge_backend_queue && servers == 1;
            assert_eq!(
                purged,
                matches!(
                    variant,
                    Variant::Purge
                        | Variant::Ca275
                        | Variant::Upstream
                        | Variant::Fixed
                        | Variant::BoundedRetry
                        | Variant::ChangeCounter
                        | Variant::ReadySrv
                        | Variant::Master
                        | Variant::MasterFixed
                ) && servers == 1
            );
            if purged {
                assert!(
                    backend_queue(&sys).is_empty(),
                    "{variant}, {servers} server(s)"
                );
                assert_eq!((sys.px.queue.queueslength(), sys.px.totpend), (0, 0));
                assert_eq!(runq(&sys, T2), &[S2]);
                let p = sys.streams[S2 as usize].pend_pos.expect("kept for dequeue");
                assert_eq!(p.target, None);
                consistent(&sys);
                assert_eq!(
                    pendconn_dequeue(&mut sys, S2, &mut silent()),
                    Dequeued::Rebalance
                );
            } else {
                assert_eq!(
                    backend_queue(&sys),
                    vec![S2],
                    "{variant}, {servers} server(s): backend queue kept"
                );
                assert!(runq(&sys, T2).is_empty());
                consistent(&sys);
            }
        }
    }
}

// ----------------------------------------------------------------------------------------
// srv_shutdown_streams (§3.11)

#[test]
fn shutdown_sessions_only_flags_streams_holding_a_slot_on_the_server() {
    let sc = Sc::new(Variant::Livelock, "roundrobin")
        .servers(&[2, 1])
        .streams(&[1, 2, 1, 2])
        .build();
    let mut sys = System::new(&sc);
    serve(&mut sys, S1, SRV1);
    // S2 is grabbed by s1 off the books and connects to it.
    enqueue_backend(&mut sys, S2);
    pendconn_grab_from_px(&mut sys, SRV1, &mut silent());
    assert_eq!(
        pendconn_dequeue(&mut sys, S2, &mut silent()),
        Dequeued::Assigned
    );
    lbqueue::stream::connect_server(&mut sys, S2, &mut silent());
    serve(&mut sys, S3, SRV2);
    enqueue_server(&mut sys, S4, SRV1);
    for th in &mut sys.threads {
        th.runq.clear();
    }
    consistent(&sys);

    srv_shutdown_streams(&mut sys, SRV1, &mut silent());
    let flagged: Vec<bool> = sys.streams.iter().map(|s| s.kill_requested).collect();
    assert_eq!(
        flagged,
        vec![true, false, false, false],
        "only S1 has srv_conn == s1"
    );
    assert_eq!(runq(&sys, T1), &[S1]);
    assert!(runq(&sys, T2).is_empty());
    // Asynchronous: nothing is released by the CLI itself.
    assert_eq!(sys.streams[S1 as usize].phase, Phase::Est);
    assert_eq!(sys.streams[S1 as usize].srv_conn, Some(SRV1));
    assert_eq!(sys.px.servers[SRV1 as usize].served, 1);
    consistent(&sys);
}

#[test]
fn a_killed_stream_releases_its_slot_only_when_its_own_thread_runs_it() {
    let sc = Sc::new(Variant::Livelock, "roundrobin")
        .servers(&[1])
        .streams(&[1, 2])
        .cli(&["shutdown sessions server px/s1"])
        .build();
    let mut sys = System::new(&sc);
    arrive(&mut sys, &sc, 1);
    assert_eq!(run_task(&mut sys, &sc, T1), S1);
    arrive(&mut sys, &sc, 1);
    assert_eq!(run_task(&mut sys, &sc, T2), S2);
    assert_eq!(backend_queue(&sys), vec![S2]);

    step_ok(&mut sys, &sc, Actor::Cli);
    step_ok(&mut sys, &sc, Actor::Cli);
    assert!(!sys.cli_pending(&sc));
    assert!(sys.streams[S1 as usize].kill_requested);
    assert_eq!(sys.streams[S1 as usize].phase, Phase::Est);
    assert_eq!(sys.streams[S1 as usize].srv_conn, Some(SRV1));
    assert_eq!(sys.px.servers[SRV1 as usize].served, 1);
    assert_eq!(sys.px.served, 1);
    assert!(
        sys.is_linked(S2),
        "nobody dequeued S2: the slot is still held"
    );

    assert_eq!(run_task(&mut sys, &sc, T1), S1);
    assert_eq!(sys.streams[S1 as usize].phase, Phase::Done(Outcome::Killed));
    assert_eq!(sys.streams[S1 as usize].srv_conn, None);
    assert_eq!(
        sys.streams[S2 as usize].srv_conn,
        Some(SRV1),
        "the released slot goes to S2"
    );
    assert_eq!(runq(&sys, T2), &[S2]);
}

/// A stream handed s1's slot by `process_srv_queue` is killed before its thread runs it.
/// With `option abortonclose` (the model's default) `back_may_abort_req` lets it give up
/// in `stream_free`, which offers the queue a slot while still holding it; without it
/// (an HTTP backend before 51611a5b7) it connects first, and the kill ends it after.
#[test]
fn a_stream_killed_before_it_connected_connects_first_without_abortonclose() {
    for abortonclose in [true, false] {
        let mut sc = Sc::new(Variant::Livelock, "roundrobin")
            .servers(&[1])
            .streams(&[1, 2])
            .cli(&["shutdown sessions server px/s1"])
            .build();
        sc.abortonclose = abortonclose;
        let mut sys = System::new(&sc);
        arrive(&mut sys, &sc, 1);
        assert_eq!(run_task(&mut sys, &sc, T1), S1);
        arrive(&mut sys, &sc, 1);
        assert_eq!(run_task(&mut sys, &sc, T2), S2);
        assert_eq!(backend_queue(&sys), vec![S2]);
        // S1 is served: its slot goes to S2, which waits on T2's run queue.
        assert_eq!(run_task(&mut sys, &sc, T1), S1);
        assert_eq!(sys.streams[S2 as usize].srv_conn, Some(SRV1));
        assert_eq!(sys.streams[S2 as usize].phase, Phase::Que);
        step_ok(&mut sys, &sc, Actor::Cli);
        step_ok(&mut sys, &sc, Actor::Cli);
        assert!(sys.streams[S2 as usize].kill_requested);

        let mut j = Journal::recording();
        loop {
            step(&mut sys, &sc, Actor::Thread(T2), &mut j);
            consistent(&sys);
            if sys.threads[T2 as usize].task.is_none() {
                break;
            }
        }
        let connected = j
            .into_events()
            .iter()
            .any(|e| matches!(e, Event::Connect(S2, SRV1)));
        if abortonclose {
            assert!(!connected, "abortonclose: S2 gives up before connecting");
            assert_eq!(sys.streams[S2 as usize].phase, Phase::Done(Outcome::Killed));
        } else {
            assert!(connected, "no abortonclose: S2 connects with its request");
            assert_eq!(sys.streams[S2 as usize].phase, Phase::Est);
            assert_eq!(sys.px.servers[SRV1 as usize].cur_sess, 1);
            // The kill is still pending: the next run ends S2, slot first.
            assert_eq!(run_task(&mut sys, &sc, T2), S2);
            assert_eq!(sys.streams[S2 as usize].phase, Phase::Done(Outcome::Killed));
        }
        assert_eq!(sys.streams[S2 as usize].srv_conn, None);
        assert_eq!(sys.px.servers[SRV1 as usize].served, 0);
    }
}

// ----------------------------------------------------------------------------------------
// pendconn_dequeue (§3.8)

#[test]
fn pendconn_dequeue_keeps_a_linked_stream_waiting() {
    let sc = Sc::new(Variant::Livelock, "roundrobin")
        .servers(&[1])
        .streams(&[1])
        .build();
    let mut sys = System::new(&sc);
    enqueue_backend(&mut sys, S1);
    let before = sys.clone();
    assert_eq!(
        pendconn_dequeue(&mut sys, S1, &mut silent()),
        Dequeued::StillQueued
    );
    assert_eq!(sys, before);
}

#[test]
fn pendconn_dequeue_removes_a_linked_stream_whose_queue_timeout_fired() {
    let sc = Sc::new(Variant::Livelock, "roundrobin")
        .servers(&[1])
        .streams(&[1])
        .build();
    let mut sys = System::new(&sc);
    enqueue_backend(&mut sys, S1);
    sys.streams[S1 as usize].timed_out = true;
    assert_eq!(
        pendconn_dequeue(&mut sys, S1, &mut silent()),
        Dequeued::TimedOut
    );
    assert!(!sys.is_linked(S1));
    assert_eq!(sys.streams[S1 as usize].pend_pos, None);
    assert_eq!((sys.px.queue.queueslength(), sys.px.totpend), (0, 0));
}

#[test]
fn a_queue_timeout_ends_the_stream_with_a_503_through_its_thread() {
    let sc = Sc::new(Variant::Livelock, "roundrobin")
        .servers(&[1])
        .streams(&[1, 2])
        .queue_timeout()
        .build();
    let mut sys = System::new(&sc);
    arrive(&mut sys, &sc, 1);
    run_task(&mut sys, &sc, T1);
    arrive(&mut sys, &sc, 1);
    run_task(&mut sys, &sc, T2);
    assert_eq!(backend_queue(&sys), vec![S2]);
    step_ok(&mut sys, &sc, Actor::Timeout(S2));
    assert!(sys.is_linked(S2), "the timer only wakes the task");
    assert_eq!(run_task(&mut sys, &sc, T2), S2);
    assert_eq!(
        sys.streams[S2 as usize].phase,
        Phase::Done(Outcome::QueueTimeout)
    );
    assert!(backend_queue(&sys).is_empty());
    assert_eq!((sys.px.totpend, sys.px.beconn), (0, 1));
}

#[test]
fn pendconn_dequeue_sends_a_stream_picked_by_a_server_to_connect() {
    let sc = Sc::new(Variant::Livelock, "roundrobin")
        .servers(&[1])
        .streams(&[1])
        .build();
    let mut sys = System::new(&sc);
    enqueue_backend(&mut sys, S1);
    process_srv_queue(&mut sys, SRV1, None, sc.behaviour(), &mut silent());
    assert_eq!(
        pendconn_dequeue(&mut sys, S1, &mut silent()),
        Dequeued::Assigned
    );
    let strm = &sys.streams[S1 as usize];
    assert_eq!(strm.phase, Phase::Ass);
    assert_eq!(strm.target, Some(SRV1));
    assert!(strm.assigned);
    assert_eq!(strm.pend_pos, None);
    assert_eq!(strm.srv_conn, Some(SRV1));
    consistent(&sys);
}

#[test]
fn pendconn_dequeue_sends_an_unlinked_stream_without_target_back_to_load_balancing() {
    let sc = Sc::new(Variant::Purge, "roundrobin")
        .servers(&[1])
        .streams(&[1])
        .build();
    let mut sys = System::new(&sc);
    enqueue_backend(&mut sys, S1);
    srv_set_admin_maint(&mut sys, SRV1, &mut silent());
    pendconn_redistribute(&mut sys, SRV1, sc.variant.behaviour(), None, &mut silent());
    assert!(!sys.is_linked(S1));
    assert_eq!(
        pendconn_dequeue(&mut sys, S1, &mut silent()),
        Dequeued::Rebalance
    );
    let strm = &sys.streams[S1 as usize];
    assert_eq!(strm.phase, Phase::Req);
    assert!(!strm.assigned);
    assert_eq!(strm.pend_pos, None);
    assert_eq!(strm.srv_conn, None);
    consistent(&sys);

    // Its thread runs LB again: no server left ⇒ NOSRV, 503.
    let mut sys2 = System::new(&sc);
    enqueue_backend(&mut sys2, S1);
    srv_set_admin_maint(&mut sys2, SRV1, &mut silent());
    pendconn_redistribute(&mut sys2, SRV1, sc.variant.behaviour(), None, &mut silent());
    assert_eq!(run_task(&mut sys2, &sc, T1), S1);
    assert_eq!(
        sys2.streams[S1 as usize].phase,
        Phase::Done(Outcome::NoServer)
    );
}

// ----------------------------------------------------------------------------------------
// may_dequeue_tasks (§3.6)

#[test]
fn may_dequeue_tasks_counts_open_connections_not_served_slots() {
    let sc = Sc::new(Variant::Livelock, "roundrobin")
        .servers(&[1])
        .streams(&[1, 1])
        .build();
    // served 1 (slot taken, not connected yet), cur_sess 0, someone queued: yes.
    let mut sys = System::new(&sc);
    take_slot(&mut sys, S1, SRV1);
    enqueue_backend(&mut sys, S2);
    assert_eq!(sys.px.servers[SRV1 as usize].served, 1);
    assert_eq!(sys.px.servers[SRV1 as usize].cur_sess, 0);
    assert!(may_dequeue_tasks(&sys, SRV1), "cur_sess 0 < maxconn 1");

    // served 0 but one connection still open (counted in cur_sess): no.
    let mut sys = System::new(&sc);
    serve(&mut sys, S1, SRV1);
    sess_change_server(&mut sys, S1, None, Variant::Fixed.behaviour());
    enqueue_backend(&mut sys, S2);
    assert_eq!(sys.px.servers[SRV1 as usize].served, 0);
    assert_eq!(sys.px.servers[SRV1 as usize].cur_sess, 1);
    assert!(!may_dequeue_tasks(&sys, SRV1), "cur_sess 1 == maxconn 1");
}

#[test]
fn may_dequeue_tasks_needs_work_for_the_server() {
    let sc = Sc::new(Variant::Livelock, "roundrobin")
        .servers(&[1])
        .streams(&[1])
        .build();
    let mut sys = System::new(&sc);
    assert!(!may_dequeue_tasks(&sys, SRV1), "both queues empty");
    enqueue_backend(&mut sys, S1);
    assert!(
        may_dequeue_tasks(&sys, SRV1),
        "backend entry, usable server"
    );
    srv_set_admin_maint(&mut sys, SRV1, &mut silent());
    assert!(
        !may_dequeue_tasks(&sys, SRV1),
        "backend entries are not for an unusable server"
    );
    srv_clear_admin_maint(&mut sys, SRV1, &mut silent());
    assert!(may_dequeue_tasks(&sys, SRV1));

    let mut sys = System::new(&sc);
    enqueue_server(&mut sys, S1, SRV1);
    srv_set_admin_maint(&mut sys, SRV1, &mut silent());
    assert!(
        may_dequeue_tasks(&sys, SRV1),
        "its own queue counts even in maintenance"
    );
}

// ----------------------------------------------------------------------------------------
// Stream end (§3.6, "where a slot is released": stream_free via target)

#[test]
fn a_stream_freed_after_a_queue_timeout_offers_its_target_server_to_the_queue() {
    // toctou: S2 sees s1 full, S1 ends and finds nothing to dequeue, S2 queues on s1
    // (no dequeue after queueing), S3 queues behind it. s1 is idle with a queue. When
    // S2's queue timeout ends it, stream_free() sees target == s1 and runs
    // `may_dequeue_tasks(s1) → process_srv_queue(s1)`: S3 must get the slot.
    let sc = Sc::new(Variant::Toctou, "hash")
        .servers(&[1])
        .streams(&[1, 2, 2])
        .queue_timeout()
        .build();
    let mut sys = System::new(&sc);
    arrive(&mut sys, &sc, 1);
    run_task(&mut sys, &sc, T1);
    arrive(&mut sys, &sc, 1);
    step_ok(&mut sys, &sc, Actor::Thread(T2));
    step_ok(&mut sys, &sc, Actor::Thread(T2));
    assert_eq!(
        sys.threads[T2 as usize].task.map(|t| t.pc),
        Some(Pc::AddToServerQueue(SRV1))
    );
    assert_eq!(run_task(&mut sys, &sc, T1), S1);
    assert_eq!(sys.streams[S1 as usize].phase, Phase::Done(Outcome::Served));
    while sys.threads[T2 as usize].task.is_some() {
        step_ok(&mut sys, &sc, Actor::Thread(T2));
    }
    arrive(&mut sys, &sc, 1);
    assert_eq!(run_task(&mut sys, &sc, T2), S3);
    assert_eq!(server_queue(&sys, SRV1), vec![S2, S3]);
    assert_eq!(sys.px.servers[SRV1 as usize].served, 0);

    step_ok(&mut sys, &sc, Actor::Timeout(S2));
    assert_eq!(run_task(&mut sys, &sc, T2), S2);
    assert_eq!(
        sys.streams[S2 as usize].phase,
        Phase::Done(Outcome::QueueTimeout)
    );
    while sys.threads[T2 as usize].task.is_some() {
        step_ok(&mut sys, &sc, Actor::Thread(T2));
    }
    assert_eq!(
        sys.streams[S3 as usize].srv_conn,
        Some(SRV1),
        "stream_free(S2) must offer the idle s1 to its queue (may_dequeue_tasks → process_srv_queue)"
    );
    assert!(runq(&sys, T2).contains(&S3));
}

// ----------------------------------------------------------------------------------------
// Threads: one task at a time

#[test]
fn a_thread_finishes_its_current_task_before_running_another_woken_stream() {
    let sc = Sc::new(Variant::Livelock, "roundrobin")
        .servers(&[1])
        .streams(&[1, 1])
        .build();
    let mut sys = System::new(&sc);
    arrive(&mut sys, &sc, 2);
    assert_eq!(runq(&sys, T1), &[S1, S2]);
    step_ok(&mut sys, &sc, Actor::Thread(T1));
    assert_eq!(
        sys.threads[T1 as usize].task.map(|t| (t.stream, t.pc)),
        Some((S1, Pc::CheckServer(SRV1)))
    );
    assert_eq!(sys.threads_in_assign().collect::<Vec<_>>(), vec![(T1, S1)]);
    // Before 3372a2ea0 the "is it full" test and the slot are two sections.
    step_ok(&mut sys, &sc, Actor::Thread(T1));
    assert_eq!(
        sys.threads[T1 as usize].task.map(|t| (t.stream, t.pc)),
        Some((S1, Pc::TakeSlot(SRV1)))
    );
    step_ok(&mut sys, &sc, Actor::Thread(T1));
    assert_eq!(
        sys.streams[S2 as usize].phase,
        Phase::New,
        "S2 must not run while S1's task is in progress"
    );
    assert_eq!(sys.threads[T1 as usize].task.map(|t| t.stream), Some(S1));
    step_ok(&mut sys, &sc, Actor::Thread(T1));
    assert_eq!(sys.threads[T1 as usize].task, None);
    assert_eq!(runq(&sys, T1), &[S2, S1]);
    step_ok(&mut sys, &sc, Actor::Thread(T1));
    assert_eq!(sys.streams[S2 as usize].phase, Phase::Req);
}

/// Reference §4.1 up to the livelock: S2 stale in the backend queue, s1 back in the LB
/// (enable's first section) but nobody served; S3 and S4 woken on T1.
fn livelock_setup(variant: Variant) -> (Scenario, System) {
    let sc = Sc::new(variant, "roundrobin")
        .servers(&[1])
        .streams(&[1, 2, 1, 1])
        .cli(&[
            "disable server px/s1",
            "shutdown sessions server px/s1",
            "enable server px/s1",
        ])
        .build();
    let mut sys = System::new(&sc);
    arrive(&mut sys, &sc, 1);
    assert_eq!(run_task(&mut sys, &sc, T1), S1);
    arrive(&mut sys, &sc, 1);
    assert_eq!(run_task(&mut sys, &sc, T2), S2);
    for _ in 0..4 {
        step_ok(&mut sys, &sc, Actor::Cli); // disable, redistribute, shutdown, redistribute
    }
    assert_eq!(run_task(&mut sys, &sc, T1), S1);
    assert_eq!(sys.streams[S1 as usize].phase, Phase::Done(Outcome::Killed));
    step_ok(&mut sys, &sc, Actor::Cli); // enable: s1 back in the LB
    arrive(&mut sys, &sc, 2);
    assert_eq!(runq(&sys, T1), &[S3, S4]);
    (sc, sys)
}

#[test]
fn livelock_a_thread_spinning_in_the_try_again_loop_never_runs_its_other_streams() {
    let (sc, mut sys) = livelock_setup(Variant::Livelock);
    assert_eq!(backend_queue(&sys), vec![S2]);
    assert_eq!(sys.px.served, 0);
    assert!(sys.px.tot_weight() > 0);

    step_ok(&mut sys, &sc, Actor::Thread(T1));
    assert_eq!(
        sys.threads[T1 as usize].task.map(|t| (t.stream, t.pc)),
        Some((S3, Pc::AddToBackendQueue)),
        "S3 takes the shortcut"
    );
    let at_loop_start = sys.clone();
    for _ in 0..3 {
        step_ok(&mut sys, &sc, Actor::Thread(T1));
    }
    assert_eq!(
        sys, at_loop_start,
        "pendconn_add, must_try_again → 1, shortcut again: the same state"
    );
    for _ in 0..100 {
        step_ok(&mut sys, &sc, Actor::Thread(T1));
    }
    assert_eq!(
        sys.streams[S4 as usize].phase,
        Phase::New,
        "S4 is starved by S3's loop"
    );
    assert_eq!(runq(&sys, T1), &[S4]);
    assert_eq!(sys.threads_in_assign().collect::<Vec<_>>(), vec![(T1, S3)]);
}

#[test]
fn fixed_same_schedule_does_not_loop_and_serves_the_waiting_streams() {
    let (sc, mut sys) = livelock_setup(Variant::Fixed);
    // The purge emptied the backend queue when s1 left; S2 was woken to redo LB.
    assert!(backend_queue(&sys).is_empty());
    assert_eq!(run_task(&mut sys, &sc, T1), S3);
    assert_eq!(sys.streams[S3 as usize].srv_conn, Some(SRV1));
    assert_eq!(run_task(&mut sys, &sc, T1), S4);
    assert_eq!(sys.streams[S4 as usize].phase, Phase::Que);
}

// ----------------------------------------------------------------------------------------
// invariants::counters_consistent

/// Runs `sc` with a fair rotation over the enabled actors, checking the counters after
/// every section. Returns the number of sections run.
fn run_fair(sc: &Scenario, max_steps: usize) -> usize {
    let mut sys = System::new(sc);
    let mut actors = Vec::new();
    for n in 0..max_steps {
        actors.clear();
        lbqueue::enabled_actors(&sys, sc, &mut actors);
        if actors.is_empty() {
            return n;
        }
        let actor = actors[n % actors.len()];
        step_ok(&mut sys, sc, actor);
    }
    max_steps
}

#[test]
fn counters_stay_consistent_after_every_step_of_hand_written_schedules() {
    // 1. The seed scenario's livelock, section by section (also in livelock_setup).
    for variant in Variant::ALL {
        let (sc, mut sys) = livelock_setup(variant);
        for _ in 0..20 {
            let mut actors = Vec::new();
            lbqueue::enabled_actors(&sys, &sc, &mut actors);
            let Some(&actor) = actors.first() else { break };
            step_ok(&mut sys, &sc, actor);
        }
    }

    // 2. Two servers, hash, CLI in the middle of the traffic, then everything drained.
    let sc = Sc::new(Variant::Purge, "hash")
        .servers(&[1, 2])
        .streams(&[1, 2, 1, 2])
        .cli(&["disable server px/s2", "enable server px/s2"])
        .build();
    let mut sys = System::new(&sc);
    arrive(&mut sys, &sc, 4);
    run_task(&mut sys, &sc, T1);
    run_task(&mut sys, &sc, T2);
    step_ok(&mut sys, &sc, Actor::Cli);
    run_task(&mut sys, &sc, T1);
    step_ok(&mut sys, &sc, Actor::Cli);
    run_task(&mut sys, &sc, T2);
    step_ok(&mut sys, &sc, Actor::Cli);
    step_ok(&mut sys, &sc, Actor::Cli);
    for _ in 0..200 {
        let busy: Vec<ThreadId> = [T1, T2]
            .into_iter()
            .filter(|&t| is_enabled(&sys, &sc, Actor::Thread(t)))
            .collect();
        let Some(&t) = busy.first() else { break };
        step_ok(&mut sys, &sc, Actor::Thread(t));
    }
    assert!(sys.streams.iter().all(|s| s.is_done()), "{sys:#?}");

    // 3. Every preset under every variant, fair rotation, timeouts included.
    for preset in presets::all() {
        for variant in Variant::ALL {
            run_fair(&preset.with_variant(variant), 400);
        }
    }
}

#[test]
fn counters_consistent_names_the_counter_that_was_corrupted() {
    let sc = Sc::new(Variant::Livelock, "roundrobin")
        .servers(&[1])
        .streams(&[1, 1])
        .build();
    let mut base = System::new(&sc);
    serve(&mut base, S1, SRV1);
    enqueue_backend(&mut base, S2);
    consistent(&base);

    type Corrupt = fn(&mut System);
    let cases: [(Corrupt, &[&str]); 8] = [
        (
            |s| s.px.queue.lengths[0] += 1,
            &["px->queue.length", "2", "1"],
        ),
        (
            |s| s.px.servers[0].queue.lengths[0] += 1,
            &["s1->queue.length", "1", "0"],
        ),
        (|s| s.px.totpend += 1, &["px->totpend", "2", "1"]),
        (|s| s.px.served += 1, &["px->served", "2", "1"]),
        (|s| s.px.servers[0].served -= 1, &["s1->served", "0", "1"]),
        (
            |s| s.px.servers[0].cur_sess += 1,
            &["s1->cur_sess", "2", "1"],
        ),
        (|s| s.px.beconn -= 1, &["px->beconn", "1", "2"]),
        (|s| s.px.servers[0].dequeuing = true, &["s1->dequeuing"]),
    ];
    for (corrupt, words) in cases {
        let mut sys = base.clone();
        corrupt(&mut sys);
        let err = counters_consistent(&sys).expect_err("a corrupted counter must be reported");
        for w in words {
            assert!(err.contains(w), "message {err:?} should mention {w:?}");
        }
    }

    // s1's stream list (srv_shutdown_streams walks it) names a stream that holds no
    // slot on it, though the list has the right length.
    let mut sys = base.clone();
    sys.px.servers[0].conns[0] = S2;
    let err = counters_consistent(&sys).expect_err("a stream list naming the wrong stream");
    assert!(err.contains("stream list"), "{err}");

    // A dangling link: linked in the backend queue with a target.
    let mut sys = base.clone();
    sys.streams[S2 as usize].pend_pos.as_mut().unwrap().target = Some(SRV1);
    let err = counters_consistent(&sys).expect_err("linked pendconn with a target");
    assert!(err.contains("S2"), "{err}");
}

#[test]
fn counters_consistent_catches_the_seeded_purge_bug() {
    let mut sc = Sc::new(Variant::Purge, "roundrobin")
        .servers(&[1])
        .streams(&[1, 2])
        .cli(&["disable server px/s1"])
        .build();
    sc.seeded_bug = Some(SeededBug::PurgeKeepsTotpend);
    let mut sys = System::new(&sc);
    arrive(&mut sys, &sc, 1);
    run_task(&mut sys, &sc, T1);
    arrive(&mut sys, &sc, 1);
    run_task(&mut sys, &sc, T2);
    assert_eq!(backend_queue(&sys), vec![S2]);
    step_ok(&mut sys, &sc, Actor::Cli);
    step(&mut sys, &sc, Actor::Cli, &mut silent());
    let err = counters_consistent(&sys).expect_err("the purge forgot px->totpend");
    assert!(err.contains("px->totpend = 1"), "{err}");

    // Same schedule without the seeded bug: consistent.
    sc.seeded_bug = None;
    let mut sys = System::new(&sc);
    arrive(&mut sys, &sc, 1);
    run_task(&mut sys, &sc, T1);
    arrive(&mut sys, &sc, 1);
    run_task(&mut sys, &sc, T2);
    step_ok(&mut sys, &sc, Actor::Cli);
    step_ok(&mut sys, &sc, Actor::Cli);
    assert!(backend_queue(&sys).is_empty());
}

// ----------------------------------------------------------------------------------------
// Split atomics: what a section leaves for after its lock

/// With split atomics, `pendconn_redistribute` and `pendconn_grab_from_px` owe
/// `length -= n` then `totpend -= n` for a batch of n, and nothing for an empty batch
/// (a zero update would be a step that changes nothing); `process_srv_queue` owes
/// `totpend -= done` then `px->served += done`. Counters are judged settled meanwhile.
#[test]
fn split_atomics_owe_the_updates_haproxy_makes_after_the_unlock() {
    use lbqueue::state::Counter;
    let sc = Sc::new(Variant::Fixed, "roundrobin")
        .streams(&[1, 1, 1])
        .build()
        .with_split_atomics(true);
    let mut sys = System::new(&sc);
    // Nothing queued: an empty purge and an empty grab owe nothing.
    srv_set_admin_maint(&mut sys, SRV1, &mut silent());
    pendconn_redistribute(
        &mut sys,
        SRV1,
        Variant::Fixed.behaviour(),
        None,
        &mut silent(),
    );
    assert!(sys.deferring.is_empty(), "{:?}", sys.deferring);
    srv_clear_admin_maint(&mut sys, SRV1, &mut silent());
    pendconn_grab_from_px(&mut sys, SRV1, &mut silent());
    assert!(sys.deferring.is_empty(), "{:?}", sys.deferring);
    let settle = |sys: &mut System| {
        for (c, d) in std::mem::take(&mut sys.deferring) {
            sys.add(c, d);
        }
    };
    // S1 takes the slot: `sess_change_server` owes `px->served++`.
    serve(&mut sys, S1, SRV1);
    assert_eq!(sys.deferring.as_slice(), &[(Counter::PxServed, 1)]);
    assert_eq!(
        sys.px.served, 0,
        "px->served moves only after the server's count"
    );
    settle(&mut sys);
    // Two entries in the backend queue: `pendconn_add` owes `totpend++` each.
    for s in [S2, S3] {
        enqueue_backend(&mut sys, s);
    }
    assert_eq!(sys.deferring.as_slice(), &[(Counter::PxTotpend, 2)]);
    consistent(&sys);
    settle(&mut sys);
    // The server goes down with no usable server left: the purge owes both counts.
    srv_set_admin_maint(&mut sys, SRV1, &mut silent());
    pendconn_redistribute(
        &mut sys,
        SRV1,
        Variant::Fixed.behaviour(),
        None,
        &mut silent(),
    );
    assert_eq!(
        sys.deferring.as_slice(),
        &[
            (Counter::Length(QueueId::Backend, 0), -2),
            (Counter::PxTotpend, -2)
        ]
    );
    assert_eq!(
        sys.px.queue.queueslength(),
        2,
        "length drops only after the unlock"
    );
    consistent(&sys);
}

// ----------------------------------------------------------------------------------------
// Who may run: the clients, the queue timers

#[test]
fn the_clients_stop_once_every_stream_has_arrived() {
    let sc = Sc::new(Variant::Fixed, "roundrobin")
        .streams(&[1, 1])
        .build();
    let mut sys = System::new(&sc);
    arrive(&mut sys, &sc, 2);
    assert_eq!(sys.arrived, 2);
    assert!(!is_enabled(&sys, &sc, Actor::Client), "no third stream");
}

#[test]
fn a_queue_timer_runs_only_with_timeout_queue_for_a_linked_waiting_stream_and_only_once() {
    let build = |timeout: bool| {
        let sc = Sc::new(Variant::Fixed, "roundrobin").streams(&[1, 1]);
        if timeout { sc.queue_timeout() } else { sc }.build()
    };
    for timeout in [false, true] {
        let sc = build(timeout);
        let mut sys = System::new(&sc);
        serve(&mut sys, S1, SRV1);
        assert!(
            !is_enabled(&sys, &sc, Actor::Timeout(S2)),
            "S2 is not queued"
        );
        enqueue_backend(&mut sys, S2);
        assert_eq!(
            is_enabled(&sys, &sc, Actor::Timeout(S2)),
            timeout,
            "S2 waits in the backend queue: its timer exists only with `timeout queue`"
        );
        assert!(
            !is_enabled(&sys, &sc, Actor::Timeout(S1)),
            "S1 holds a slot: no timer"
        );
        if timeout {
            step_ok(&mut sys, &sc, Actor::Timeout(S2));
            assert!(sys.streams[S2 as usize].timed_out);
            assert!(
                !is_enabled(&sys, &sc, Actor::Timeout(S2)),
                "the timer fired: process_stream is woken once"
            );
        }
    }
}

#[test]
fn no_stream_lost_spares_only_streams_whose_queue_timer_will_still_fire() {
    // One stream, quiescent (arrived, every thread idle, no CLI): S1 waits in SC_ST_QUE.
    let sc = Sc::new(Variant::Fixed, "roundrobin")
        .streams(&[1])
        .queue_timeout()
        .build();
    let mut sys = System::new(&sc);
    enqueue_backend(&mut sys, S1);
    assert!(
        no_stream_lost(&sys, &sc),
        "linked in the backend queue: its queue timeout will end it"
    );
    // Unlinked without being woken (the lost wake-up): no timer, nobody will run it.
    let mut lost = sys.clone();
    lost.px.pendconns.retain(|s| *s != S1);
    lost.px.queue.lengths[0] = 0;
    lost.streams[S1 as usize].pend_pos = None;
    assert!(!no_stream_lost(&lost, &sc), "S1 waits for nothing");
    // Its timer fired but its task was never woken: lost too.
    let mut fired = sys.clone();
    fired.streams[S1 as usize].timed_out = true;
    assert!(!no_stream_lost(&fired, &sc), "S1's timer already fired");
}

// ----------------------------------------------------------------------------------------
// Server state: srv_is_usable, srv_dynamic_maxconn

#[test]
fn a_server_without_weight_is_not_usable_and_maxconn_0_means_unlimited() {
    let sc = Sc::new(Variant::Fixed, "roundrobin")
        .servers(&[0])
        .streams(&[1, 1, 1])
        .build();
    let mut sys = System::new(&sc);
    let srv = &sys.px.servers[SRV1 as usize];
    assert!(srv.usable());
    assert_eq!(srv.dyn_maxconn(), None, "maxconn 0: no limit");
    // maxconn 0: three streams get a slot on s1, nobody queues.
    arrive(&mut sys, &sc, 3);
    for _ in 0..3 {
        run_task(&mut sys, &sc, T1);
    }
    assert_eq!(sys.px.queue.queueslength(), 0);
    assert_eq!(sys.px.servers[SRV1 as usize].cur_sess, 3);
    let mut srv = sys.px.servers[SRV1 as usize].clone();
    srv.weight = 0;
    assert!(!srv.usable(), "srv_is_usable: no weight, no traffic");
    srv.weight = 1;
    srv.maxconn = 1;
    assert_eq!(srv.dyn_maxconn(), Some(1));
}

// ----------------------------------------------------------------------------------------
// change-counter: whose round sees a queue change

/// S1 (T1) redoes assign_server holding s1's only slot, S2 and S3 wait in the backend
/// queue, and T2 runs S3's call, about to run pendconn_must_try_again.
fn change_counter_setup() -> (Scenario, System) {
    let sc = Sc::new(Variant::ChangeCounter, "roundrobin")
        .streams(&[1, 2, 2])
        .build();
    let mut sys = System::new(&sc);
    take_slot(&mut sys, S1, SRV1);
    enqueue_backend(&mut sys, S2);
    enqueue_backend(&mut sys, S3);
    let task = |stream, pc| {
        Some(Task {
            stream,
            pc,
            call: Call::default(),
        })
    };
    sys.threads[T1 as usize].task = task(S1, Pc::AssignServer);
    sys.threads[T2 as usize].task = task(S3, Pc::MustTryAgain);
    consistent(&sys);
    (sc, sys)
}

#[test]
fn change_counter_a_dequeue_moves_the_count_for_other_calls_not_for_the_round_that_caused_it() {
    let (sc, mut sys) = change_counter_setup();
    // assign_server releases S1's slot; the shortcut answers FULL (the backend queue is
    // not empty), and the freed slot goes to S2 (process_srv_queue(s1)): S2 left the
    // backend queue in this very section.
    step_ok(&mut sys, &sc, Actor::Thread(T1));
    assert_eq!(sys.streams[S2 as usize].srv_conn, Some(SRV1));
    assert_eq!(backend_queue(&sys), vec![S3]);
    let call = |t: ThreadId| sys.threads[t as usize].task.expect("in a call").call;
    assert_eq!(
        sys.threads[T1 as usize].task.map(|k| k.pc),
        Some(Pc::AddToBackendQueue)
    );
    assert!(
        !call(T1).queue_changed,
        "T1's own assign_server saw the queue after S2 left it"
    );
    assert!(
        call(T2).queue_changed,
        "T2's call looked before S2 left: the count moved for it"
    );
}

// ----------------------------------------------------------------------------------------
// fixed: a slot released on a server in maintenance is offered elsewhere

/// S1 served on s1, which is in maintenance; S2 served on s2 (full); s3 free; S3 waits in
/// the backend queue; T1 is about to close S1.
fn stranded_backend_queue(variant: Variant) -> (Scenario, System) {
    let sc = Sc::new(variant, "first")
        .servers(&[1, 1, 1])
        .streams(&[1, 1, 1])
        .build();
    let mut sys = System::new(&sc);
    serve(&mut sys, S1, SRV1);
    serve(&mut sys, S2, SRV2);
    enqueue_backend(&mut sys, S3);
    srv_set_admin_maint(&mut sys, SRV1, &mut silent());
    sys.threads[T1 as usize].task = Some(Task {
        stream: S1,
        pc: Pc::Close,
        call: Call::default(),
    });
    consistent(&sys);
    (sc, sys)
}

#[test]
fn fixed_offers_a_slot_released_on_a_server_in_maintenance_to_the_first_server_that_may_dequeue() {
    let (sc, mut sys) = stranded_backend_queue(Variant::Fixed);
    step_ok(&mut sys, &sc, Actor::Thread(T1));
    assert_eq!(
        sys.threads[T1 as usize].task.map(|k| k.pc),
        Some(Pc::DequeueAfterRelease(SRV1))
    );
    assert!(
        !may_dequeue_tasks(&sys, SRV1),
        "s1 may not serve the backend"
    );
    step_ok(&mut sys, &sc, Actor::Thread(T1));
    // s2 is usable but has no free connection: the offer must skip it for s3.
    assert_eq!(sys.streams[S3 as usize].srv_conn, Some(SRV3));
    assert!(backend_queue(&sys).is_empty());
}

#[test]
fn without_the_fix_a_slot_released_on_a_server_in_maintenance_is_offered_to_nobody() {
    let (sc, mut sys) = stranded_backend_queue(Variant::Purge);
    step_ok(&mut sys, &sc, Actor::Thread(T1));
    step_ok(&mut sys, &sc, Actor::Thread(T1));
    assert_eq!(sys.streams[S3 as usize].srv_conn, None);
    assert_eq!(
        backend_queue(&sys),
        vec![S3],
        "stranded until someone else dequeues"
    );
}

/// `strict-maxconn` (706b00842): the server side closes (`cur_sess--`) but the slot
/// stays held until `stream_free`, which first offers the server's queue a slot (still
/// held: nothing to take), then releases it and offers it again. Without the option the
/// slot goes with the close.
#[test]
fn strict_maxconn_keeps_the_slot_until_stream_free() {
    for strict in [false, true] {
        let mut sc = Sc::new(Variant::Master, "roundrobin")
            .streams(&[1, 1])
            .build();
        sc.servers[0].strict_maxconn = strict;
        let mut sys = System::new(&sc);
        serve(&mut sys, S1, SRV1);
        sys.wake(S1);
        enqueue_backend(&mut sys, S2);
        step_ok(&mut sys, &sc, Actor::Thread(T1));
        let s1 = &sys.streams[S1 as usize];
        assert_eq!(s1.phase, Phase::Done(lbqueue::Outcome::Served));
        assert!(!s1.curr_sess, "the connection is closed either way");
        let pc = sys.threads[T1 as usize].task.map(|t| t.pc);
        if strict {
            assert_eq!(
                s1.srv_conn,
                Some(SRV1),
                "strict: the slot waits for stream_free"
            );
            assert_eq!(pc, Some(Pc::FreeDequeue(SRV1)));
            // stream_free's first offer (and its ready_srv tail): the slot is still held.
            while sys.threads[T1 as usize].task.map(|t| t.pc) != Some(Pc::FreeReleaseSlot) {
                step_ok(&mut sys, &sc, Actor::Thread(T1));
                assert!(sys.is_linked(S2), "no slot to give while S1 holds it");
            }
            step_ok(&mut sys, &sc, Actor::Thread(T1)); // sess_change_server(s, NULL)
            assert_eq!(sys.streams[S1 as usize].srv_conn, None);
        } else {
            assert_eq!(s1.srv_conn, None);
            assert_eq!(pc, Some(Pc::DequeueAfterRelease(SRV1)));
        }
        step_ok(&mut sys, &sc, Actor::Thread(T1)); // the released slot goes to S2
        assert!(!sys.is_linked(S2), "strict={strict}");
        consistent(&sys);
    }
}

// ----------------------------------------------------------------------------------------
// Per-thread-group queues (583303c48 + 26b3e5236, queue.c/backend.c at 50872daa6)

/// master, one server with maxconn 1, two threads in two thread groups (T1 in group 1,
/// T2 in group 2), S1 on T1, S2 and S3 on T2; `changes` on top (`-per-tgrp-queues`: one
/// queue, as before 26b3e5236).
fn two_groups(algo: &str, changes: &str) -> Scenario {
    let text = format!(
        "variant = \"master\"\nbehaviour = [{changes}]\nalgo = \"{algo}\"\nthreads = 2\n\
         thread_groups = 2\nstreams = [1, 2, 2]\n\n[[servers]]\nname = \"s1\"\nmaxconn = 1\n"
    );
    Scenario::from_toml(&text, "two-groups").unwrap()
}

/// T2 runs `process_srv_queue(s1)` for S2 (`DequeueAfterRelease`): the events of that
/// section and the section that comes next.
fn dequeue_on_t2(sys: &mut System, sc: &Scenario) -> (Vec<Event>, Option<Pc>) {
    sys.threads[T2 as usize].task = Some(Task {
        stream: S2,
        pc: Pc::DequeueAfterRelease(SRV1),
        call: Call::default(),
    });
    let events = step_rec(sys, sc, Actor::Thread(T2));
    (events, sys.threads[T2 as usize].task.map(|t| t.pc))
}

#[test]
fn pendconn_add_queues_in_its_own_thread_groups_queue_and_queueslength_counts_both() {
    let sc = two_groups("roundrobin", "");
    let mut sys = System::new(&sc);
    enqueue_backend(&mut sys, S1);
    enqueue_backend(&mut sys, S3);
    assert_eq!(
        sys.px.queue.lengths,
        [1, 1],
        "S1 in group 1's queue, S3 in group 2's"
    );
    assert_eq!(sys.px.queue.queueslength(), 2);
    consistent(&sys);
    // One queue before 26b3e5236, whatever the scenario's thread groups.
    let sc = two_groups("roundrobin", "\"-per-tgrp-queues\"");
    let mut sys = System::new(&sc);
    enqueue_backend(&mut sys, S1);
    enqueue_backend(&mut sys, S3);
    assert_eq!(sys.px.queue.lengths, [2, 0]);
}

#[test]
fn process_srv_queue_runs_its_own_groups_queues_first_and_the_other_group_in_a_section_of_its_own()
{
    let sc = two_groups("roundrobin", "");
    let mut sys = System::new(&sc);
    attach(&mut sys, S2);
    // S1 (group 1) queued before S3 (group 2); s1 has its one slot free.
    enqueue_backend(&mut sys, S1);
    enqueue_backend(&mut sys, S3);
    let (events, next) = dequeue_on_t2(&mut sys, &sc);
    // T2 is in group 2: its own group's S3 gets the slot although S1 is older.
    assert!(
        events.contains(&Event::ProcessSrvQueueTgroup(SRV1, 1, vec![S3])),
        "{events:?}"
    );
    assert_eq!(backend_queue(&sys), [S1]);
    assert_eq!(next, Some(Pc::OtherTgroupBatch(SRV1, AfterTail::Yield)));
    // After the unlock, the other group's batch: s1 is full now, nothing for S1.
    let events = step_rec(&mut sys, &sc, Actor::Thread(T2));
    assert!(
        events.contains(&Event::ProcessSrvQueueTgroup(SRV1, 0, vec![])),
        "{events:?}"
    );
    assert_eq!(
        sys.threads[T2 as usize].task.map(|t| t.pc),
        Some(Pc::ReadySrvTail(SRV1, AfterTail::Yield)),
        "then the ready_srv tail"
    );

    // With one queue, the older entry wins and there is no second batch.
    let sc = two_groups("roundrobin", "\"-per-tgrp-queues\"");
    let mut sys = System::new(&sc);
    attach(&mut sys, S2);
    enqueue_backend(&mut sys, S1);
    enqueue_backend(&mut sys, S3);
    let (events, next) = dequeue_on_t2(&mut sys, &sc);
    assert!(
        events.contains(&Event::ProcessSrvQueue(SRV1, vec![S1])),
        "{events:?}"
    );
    assert_eq!(next, Some(Pc::ReadySrvTail(SRV1, AfterTail::Yield)));
}

#[test]
fn the_other_groups_batch_takes_what_the_own_group_left_when_slots_remain() {
    let sc = two_groups("roundrobin", "");
    let mut sys = System::new(&sc);
    attach(&mut sys, S2);
    enqueue_backend(&mut sys, S1);
    let (events, next) = dequeue_on_t2(&mut sys, &sc);
    assert!(
        events.contains(&Event::ProcessSrvQueueTgroup(SRV1, 1, vec![])),
        "{events:?}"
    );
    assert_eq!(next, Some(Pc::OtherTgroupBatch(SRV1, AfterTail::Yield)));
    let events = step_rec(&mut sys, &sc, Actor::Thread(T2));
    assert!(
        events.contains(&Event::ProcessSrvQueueTgroup(SRV1, 0, vec![S1])),
        "{events:?}"
    );
    assert!(backend_queue(&sys).is_empty());
}

#[test]
fn the_ready_srv_tail_tries_each_thread_groups_queues_in_turn() {
    let sc = two_groups("roundrobin", "");
    let mut sys = System::new(&sc);
    attach(&mut sys, S2);
    // Only group 2's queue holds an entry; the tail (run by T1's stream) finds it.
    enqueue_backend(&mut sys, S3);
    sys.threads[T1 as usize].task = Some(Task {
        stream: S1,
        pc: Pc::ReadySrvTail(SRV1, AfterTail::Yield),
        call: Call::default(),
    });
    attach(&mut sys, S1);
    let events = step_rec(&mut sys, &sc, Actor::Thread(T1));
    assert!(
        events.contains(&Event::ReadySrvTail(SRV1, None, vec![S3])),
        "{events:?}"
    );
}

#[test]
fn the_has_a_queue_test_reads_the_streams_own_thread_groups_length() {
    // balance hash: S2 picks s1, which has a free slot and S1 (group 1) in its queue.
    for (changes, took) in [("", true), ("\"-per-tgrp-queues\"", false)] {
        let sc = two_groups("hash", changes);
        let mut sys = System::new(&sc);
        enqueue_server(&mut sys, S1, SRV1);
        attach(&mut sys, S2);
        sys.threads[T2 as usize].task = Some(Task {
            stream: S2,
            pc: Pc::CheckServer(SRV1),
            call: Call::default(),
        });
        let events = step_rec(&mut sys, &sc, Actor::Thread(T2));
        // Group 2's length of s1's queue is 0: S2 takes the slot past S1 (26b3e5236);
        // with one queue it finds s1 "full" (a queue) and queues behind S1.
        assert_eq!(
            events.contains(&Event::TookSlot(S2, SRV1)),
            took,
            "{changes}: {events:?}"
        );
        assert_eq!(
            events.contains(&Event::ServerFull(S2, SRV1)),
            !took,
            "{changes}: {events:?}"
        );
    }
}

/// maxconn 0 (unlimited): HAProxy's batch loops while `served < srv_dynamic_maxconn(s)`,
/// which is 0, so it hands out nothing, at every commit (queue.c:391 at 8d68717a4, 436 at
/// 50872daa6); `may_dequeue_tasks` still says yes (`!s->maxconn`). With `fixed`'s
/// `unlimited-server-dequeues` the batch takes the backend queue's entries.
#[test]
fn process_srv_queue_on_an_unlimited_server_hands_out_nothing_unless_the_switch_says_so() {
    for (variant, handed) in [
        (Variant::Livelock, false),
        (Variant::Upstream, false),
        (Variant::Master, false),
        (Variant::Fixed, true),
        (Variant::MasterFixed, true),
    ] {
        let sc = Sc::new(variant, "roundrobin")
            .servers(&[0])
            .streams(&[1, 1])
            .build();
        let mut sys = System::new(&sc);
        enqueue_backend(&mut sys, S1);
        enqueue_backend(&mut sys, S2);
        assert!(may_dequeue_tasks(&sys, SRV1), "{variant}");
        process_srv_queue(&mut sys, SRV1, None, sc.behaviour(), &mut silent());
        let left = if handed { vec![] } else { vec![S1, S2] };
        assert_eq!(backend_queue(&sys), left, "{variant}");
    }
}

// ----------------------------------------------------------------------------------------
// The CLI applet as a task of an HAProxy thread (`cli_thread`, issue 13)

#[test]
fn the_cli_on_a_thread_runs_only_between_that_threads_tasks_and_holds_them_while_a_command_runs() {
    let text = "variant = \"purge\"\nalgo = \"roundrobin\"\nthreads = 2\ncli_thread = 1\n\
                streams = [1, 2]\ncli = [\"disable server px/s1\"]\n\n[[servers]]\nname = \"s1\"\nmaxconn = 1\n";
    let sc = Scenario::from_toml(text, "cli-on-t1").unwrap();
    assert_eq!(sc.cli_thread, Some(T1));
    assert_eq!(sc.haproxy_threads(), 2);
    let mut sys = System::new(&sc);
    arrive(&mut sys, &sc, 2);
    // T1 starts S1's task: the CLI waits until that task yields.
    step_ok(&mut sys, &sc, Actor::Thread(T1));
    assert!(sys.threads[T1 as usize].task.is_some());
    assert!(
        !is_enabled(&sys, &sc, Actor::Cli),
        "the CLI ran inside T1's task"
    );
    // T2 is another thread: its task does not hold the CLI back.
    while sys.threads[T1 as usize].task.is_some() {
        step_ok(&mut sys, &sc, Actor::Thread(T1));
    }
    assert!(is_enabled(&sys, &sc, Actor::Cli));
    // The command's first section: T1 may not start a task before the command ends…
    step_ok(&mut sys, &sc, Actor::Cli);
    sys.wake(S1);
    assert!(
        !is_enabled(&sys, &sc, Actor::Thread(T1)),
        "T1 ran inside the command"
    );
    assert!(
        is_enabled(&sys, &sc, Actor::Thread(T2)),
        "T2 is not the CLI's thread"
    );
    // …and may once its last section (pendconn_redistribute) ran.
    step_ok(&mut sys, &sc, Actor::Cli);
    assert!(is_enabled(&sys, &sc, Actor::Thread(T1)));
}

// ----------------------------------------------------------------------------------------
// Connection errors: back_handle_st_cer + stream_choose_redispatch (issue 13)

/// One server, S1 on T1 connected to it, the given `retries` / `redispatch`, one error.
fn connected_then_failed(retries: u8, redispatch: bool, servers: usize) -> (Scenario, System) {
    let mut text = format!(
        "variant = \"purge\"\nalgo = \"roundrobin\"\nthreads = 1\nstreams = [1]\n\
         connect_errors = 1\nretries = {retries}\nredispatch = {redispatch}\n"
    );
    for i in 0..servers {
        text.push_str(&format!(
            "\n[[servers]]\nname = \"s{}\"\nmaxconn = 1\n",
            i + 1
        ));
    }
    let sc = Scenario::from_toml(&text, "cer").unwrap();
    let mut sys = System::new(&sc);
    arrive(&mut sys, &sc, 1);
    while sys.streams[S1 as usize].phase != Phase::Est {
        step_ok(&mut sys, &sc, Actor::Thread(T1));
    }
    assert!(is_enabled(&sys, &sc, Actor::ConnError(S1)));
    step_ok(&mut sys, &sc, Actor::ConnError(S1));
    assert!(
        !is_enabled(&sys, &sc, Actor::ConnError(S1)),
        "one error in all"
    );
    (sc, sys)
}

#[test]
fn a_failed_connection_with_no_retry_left_ends_the_stream_and_frees_its_slot() {
    let (sc, mut sys) = connected_then_failed(0, true, 1);
    let events = step_rec(&mut sys, &sc, Actor::Thread(T1));
    assert!(
        events.contains(&Event::ConnectionRetry(S1, Cer::GiveUp)),
        "{events:?}"
    );
    assert_eq!(
        sys.streams[S1 as usize].phase,
        Phase::Done(Outcome::ConnectionError)
    );
    assert_eq!(
        (sys.px.servers[0].served, sys.px.servers[0].cur_sess),
        (0, 0)
    );
}

#[test]
fn a_retry_on_the_same_server_keeps_the_slot_and_redispatch_on_the_last_retry_releases_it() {
    // retries 3, no redispatch: back to SC_ST_ASS, slot kept, connect again.
    let (sc, mut sys) = connected_then_failed(3, false, 1);
    let events = step_rec(&mut sys, &sc, Actor::Thread(T1));
    assert!(
        events.contains(&Event::ConnectionRetry(S1, Cer::SameServer)),
        "{events:?}"
    );
    assert_eq!(sys.streams[S1 as usize].srv_conn, Some(SRV1));
    assert_eq!(sys.streams[S1 as usize].conn_retries, 1);
    assert_eq!(
        sys.threads[T1 as usize].task.map(|t| t.pc),
        Some(Pc::Connect)
    );
    // retries 1 with redispatch: the first retry is the last one, so redispatch.
    let (sc, mut sys) = connected_then_failed(1, true, 1);
    let events = step_rec(&mut sys, &sc, Actor::Thread(T1));
    assert!(
        events.contains(&Event::ConnectionRetry(S1, Cer::Redispatch)),
        "{events:?}"
    );
    assert_eq!(sys.streams[S1 as usize].srv_conn, None);
    assert!(!sys.streams[S1 as usize].assigned);
    assert_eq!(
        sys.threads[T1 as usize].task.map(|t| t.pc),
        Some(Pc::DequeueBeforeRebalance(SRV1))
    );
    // retries 3 with redispatch and two usable servers (roundrobin): redispatch at once.
    let (sc, mut sys) = connected_then_failed(3, true, 2);
    let events = step_rec(&mut sys, &sc, Actor::Thread(T1));
    assert!(
        events.contains(&Event::ConnectionRetry(S1, Cer::Redispatch)),
        "{events:?}"
    );
}
