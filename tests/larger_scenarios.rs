//! The scenario files under `scenarios/`: one notch larger than the presets (more
//! threads, more streams, two CLI cycles, maxconn 2, two servers down). `fixed` must
//! hold on each of them completely, and `purge` must still be caught on each.

use std::path::Path;

use lbqueue::{Scenario, Switch, Variant};
use lbqueue_models::check::default_bounds;
use lbqueue_models::step_model::{ASSIGN_CAN_RETURN, ASSIGN_TERMINATES};
use lbqueue_models::{check, Status};

fn load(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).expect("scenario file");
    Scenario::from_toml(&text, name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const FILES: [&str; 5] = [
    "three-threads",
    "two-cycles",
    "maxconn-2",
    "both-servers-down",
    "three-threads-split",
];

#[test]
fn fixed_holds_completely_on_the_larger_scenarios() {
    for name in FILES {
        let r = check(&load(name).with_variant(Variant::Fixed), default_bounds());
        assert!(r.complete, "{name}: incomplete");
        assert_eq!(
            r.exit_code(),
            0,
            "lbq check --scenario scenarios/{name}.toml: {:?}",
            r.properties
        );
    }
}

#[test]
fn purge_is_caught_on_the_larger_scenarios() {
    for name in ["maxconn-2", "both-servers-down"] {
        let r = check(&load(name).with_variant(Variant::Purge), default_bounds());
        let at = r.property(ASSIGN_TERMINATES).map(|p| p.status);
        assert_eq!(at, Some(Status::Violated), "{name}");
    }
}

/// postmortem (found by tests/random_histories.rs in `fixed` before its third change):
/// px->served counted a stream served on a server that then went into maintenance, so
/// must_try_again trusted it to dequeue the backend queue; it ended without being
/// allowed to, and s1 stayed idle. HAProxy's own follow-ups (`upstream`) keep the orphan.
#[test]
fn a_stream_served_on_a_downed_server_is_no_dequeuer() {
    let scenario = load("served-on-a-downed-server");
    let upstream = check(&scenario.with_variant(Variant::Upstream), default_bounds());
    assert_eq!(
        upstream.property("no_orphan_pendconn").map(|p| p.status),
        Some(Status::Violated)
    );
    let fixed = check(&scenario.with_variant(Variant::Fixed), default_bounds());
    assert_eq!(fixed.exit_code(), 0, "{:?}", fixed.properties);
}

/// Issue 13: one server (maxconn 1), three threads, three streams, no CLI, split atomics.
/// `fixed` as it was (reading `px->served` in pendconn_must_try_again) strands a stream:
/// a batch's late `px->served += done` lands after another thread's `-= 1`, px->served
/// wraps and counts a dequeuer that does not exist. Reading the servers' own `served`
/// (the switch `try-again-reads-server-served`) closes it; `three-threads-split` above
/// adds the CLI cycle.
#[test]
fn fixed_holds_at_three_threads_with_split_atomics() {
    let mut sc = load("three-threads-split").with_variant(Variant::Fixed);
    sc.cli.clear();
    let r = check(&sc, default_bounds());
    assert_eq!(r.exit_code(), 0, "{:?}", r.properties);
    sc.changes.push((Switch::TryAgainReadsServerServed, false));
    let before = check(&sc, default_bounds());
    assert_eq!(
        before.property("no_orphan_pendconn").map(|p| p.status),
        Some(Status::Violated),
        "fixed reading px->served"
    );
}

/// Today's design one notch larger: `master-fixed` holds completely (the CLI cycle at
/// maxconn 2, both servers down, a stream served on a downed server, three threads with
/// split atomics), and `master` leaves a stream queued with nobody to dequeue it on the
/// first two (findings/).
#[test]
fn master_fixed_holds_on_the_larger_scenarios_and_master_is_caught() {
    for name in [
        "maxconn-2",
        "both-servers-down",
        "served-on-a-downed-server",
        "three-threads-split",
    ] {
        let r = check(
            &load(name).with_variant(Variant::MasterFixed),
            default_bounds(),
        );
        assert!(r.complete, "{name}: incomplete");
        assert_eq!(r.exit_code(), 0, "{name}: {:?}", r.properties);
    }
    for name in ["maxconn-2", "both-servers-down"] {
        let r = check(&load(name).with_variant(Variant::Master), default_bounds());
        let orphan = r.property("no_orphan_pendconn").map(|p| p.status);
        assert_eq!(orphan, Some(Status::Violated), "{name}");
    }
}

/// Issue 12: per-thread-group queues (26b3e5236). With two thread groups (T1 and T2 in
/// groups of their own) and the CLI cycle, `master-fixed` holds completely, in-section
/// and with split atomics, and `master` still leaves a stream queued with nobody to
/// dequeue it. The scenario's groups are read: the second group's batch adds sections.
#[test]
fn master_fixed_holds_with_two_thread_groups_and_master_is_caught() {
    let sc = load("thread-groups");
    assert_eq!(sc.thread_groups, 2);
    for split in [false, true] {
        let fixed = check(
            &sc.with_variant(Variant::MasterFixed)
                .with_split_atomics(split),
            default_bounds(),
        );
        assert!(fixed.complete, "split {split}: incomplete");
        assert_eq!(
            fixed.exit_code(),
            0,
            "split {split}: {:?}",
            fixed.properties
        );
        let master = check(
            &sc.with_variant(Variant::Master).with_split_atomics(split),
            default_bounds(),
        );
        let orphan = master.property("no_orphan_pendconn").map(|p| p.status);
        assert_eq!(orphan, Some(Status::Violated), "split {split}");
    }
    let mut one_queue = sc.with_variant(Variant::Master);
    one_queue.changes.push((Switch::PerTgrpQueues, false));
    let grouped = check(&sc.with_variant(Variant::Master), default_bounds());
    let single = check(&one_queue, default_bounds());
    assert!(
        grouped.unique_states > single.unique_states,
        "{} vs {}",
        grouped.unique_states,
        single.unique_states
    );
}

/// Issue 13, maxconn 0: HAProxy's `process_srv_queue` compares `served` with
/// `srv_dynamic_maxconn()`, 0 for an unlimited server, so such a server never hands a
/// queued stream a slot. `fixed` and `master-fixed` offered a freed slot to it and left
/// a stream queued with that server up and idle (found by the random histories); their
/// switch `unlimited-server-dequeues` (maxconn 0 is no limit in the dequeue either)
/// closes it.
#[test]
fn an_unlimited_server_dequeues_only_with_the_fixes_switch() {
    // Not every property: the scenario reaches no `last_server_down_with_queued_streams`.
    the_fixes_need("unlimited-server", Switch::UnlimitedServerDequeues, false);
}

/// `fixed` and `master-fixed` leave no stream queued on scenario `name` (and, with
/// `every_property`, hold every property there), and leave one without `switch`.
fn the_fixes_need(name: &str, switch: Switch, every_property: bool) {
    let sc = load(name);
    for variant in [Variant::Fixed, Variant::MasterFixed] {
        let r = check(&sc.with_variant(variant), default_bounds());
        let orphan = r.property("no_orphan_pendconn").map(|p| p.status);
        assert_eq!(orphan, Some(Status::Holds), "{name} {variant}");
        if every_property {
            assert_eq!(r.exit_code(), 0, "{name} {variant}: {:?}", r.properties);
        }
        let mut without = sc.with_variant(variant);
        without.changes.push((switch, false));
        let r = check(&without, default_bounds());
        let orphan = r.property("no_orphan_pendconn").map(|p| p.status);
        assert_eq!(
            orphan,
            Some(Status::Violated),
            "{name} {variant} without {}",
            switch.name()
        );
    }
}

/// Issue 13, split atomics in the random scenarios: a slot released on a downed server
/// whose queue `length` a concurrent `pendconn_redistribute` has not lowered yet. `fixed`
/// (and `master-fixed`) hold; without `release-offers-backend-elsewhere` the stream in
/// the backend queue stays there.
#[test]
fn a_stale_queue_length_does_not_hide_the_backend_queue() {
    assert!(load("stale-queue-length").split_atomics);
    the_fixes_need(
        "stale-queue-length",
        Switch::ReleaseOffersBackendElsewhere,
        true,
    );
}

/// Issue 13, connection errors and `option redispatch` (ca275d99c's message: the loop
/// remained "when redispatching", px->served 0). One connection attempt fails on its
/// last retry; `stream_choose_redispatch` releases the slot and sends the stream back to
/// the LB while another waits in the backend queue: `purge` (53f52e67a) loops, and
/// does not without the error; `ca275` (ca275d99c) has no fair loop left; `fixed` and
/// `master-fixed` hold.
#[test]
fn a_redispatched_stream_loops_in_purge_and_not_after_ca275d99c() {
    let sc = load("redispatch");
    let status = |variant: Variant, errors: u8, property: &str| {
        let mut s = sc.with_variant(variant);
        s.connect_errors = errors;
        let r = check(&s, default_bounds());
        assert!(r.complete, "{variant}");
        r.property(property).map(|p| p.status)
    };
    assert_eq!(
        status(Variant::Purge, 1, ASSIGN_TERMINATES),
        Some(Status::Violated)
    );
    assert_eq!(
        status(Variant::Purge, 0, ASSIGN_TERMINATES),
        Some(Status::Holds)
    );
    assert_eq!(
        status(Variant::Ca275, 1, ASSIGN_TERMINATES),
        Some(Status::Holds)
    );
    for variant in [Variant::Fixed, Variant::MasterFixed] {
        let r = check(&sc.with_variant(variant), default_bounds());
        assert_eq!(r.exit_code(), 0, "{variant}: {:?}", r.properties);
    }
}

/// Before 51611a5b7 a `shutdown sessions` kill ends a stream that holds a slot but has
/// not connected only when `back_may_abort_req()` lets it (`option abortonclose`, or
/// nothing of the request to forward); an HTTP backend without the option (the real
/// reproducer) connects first. Without it the orphans that need such a kill go on
/// `seed` (livelock, purge, ca275, in-section), and every stuck loop stays: none of
/// them, ca275d99c's included, needs a stream killed before it connected.
#[test]
fn without_abortonclose_the_killed_before_connect_orphans_go_and_the_loops_stay() {
    let seed = lbqueue::presets::all()
        .into_iter()
        .find(|s| s.name == "seed")
        .expect("the seed preset");
    for variant in [Variant::Livelock, Variant::Purge, Variant::Ca275] {
        for (abortonclose, orphan) in [(true, Status::Violated), (false, Status::Holds)] {
            let mut s = seed.with_variant(variant);
            s.abortonclose = abortonclose;
            let r = check(&s, default_bounds());
            assert!(r.complete, "{variant}");
            let status = |p: &str| r.property(p).map(|p| p.status);
            assert_eq!(
                status("no_orphan_pendconn"),
                Some(orphan),
                "{variant}, abortonclose {abortonclose}"
            );
            assert_eq!(
                status(ASSIGN_CAN_RETURN),
                Some(Status::Violated),
                "{variant}, abortonclose {abortonclose}"
            );
        }
    }
}
