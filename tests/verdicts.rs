//! The regression gate: every variant × preset verdict, pinned.
//!
//! A change to the queue code that flips any verdict — a known bug no longer caught, a
//! new violation in `fixed`, a sometimes-property no longer reached — fails here with
//! the property's name and the command that shows its trace.

use std::collections::BTreeSet;

use lbqueue::{presets, SeededBug, Variant};
use lbqueue_models::check::{check_with_progress, default_bounds};
use lbqueue_models::reduction::Reduction;
use lbqueue_models::step_model::{ASSIGN_CAN_RETURN, ASSIGN_SOLO_TERMINATES, ASSIGN_TERMINATES};
use lbqueue_models::{check, Bounds, Kind, Report, Status};

const ORPHAN: &str = "no_orphan_pendconn";
const LOST: &str = "no_stream_lost";
const DRAINS: &str = "backend_queue_drains";
const COUNTERS: &str = "counters_consistent";
const AT: &str = ASSIGN_TERMINATES;
const ACR: &str = ASSIGN_CAN_RETURN;
const SOLO: &str = ASSIGN_SOLO_TERMINATES;
const MAXCONN: &str = "maxconn_respected";
const LOCKS: &str = "queue_locks_released";

/// (preset, variant, the properties it violates). Every other property holds, every
/// sometimes-property is reached, every search is complete.
///
/// Before 3372a2ea0 every variant but `fixed` overshoots maxconn (`maxconn_respected`):
/// two streams both see the last slot free and both take it, and before 111ea83ed
/// `pendconn_grab_from_px` hands a server streams it does not count. `ready-srv`
/// (659d5f657) returns with the backend queue lock held (`queue_locks_released`, fixed
/// by e9d34f991); `ready-srv` and `master` leave a stream queued with nobody to dequeue
/// it (findings/); `master-fixed` holds everywhere.
#[rustfmt::skip]
const EXPECTED: &[(&str, Variant, &[&str])] = &[
    ("seed",       Variant::Toctou,        &[ORPHAN, LOST, DRAINS, MAXCONN]),
    ("seed",       Variant::Livelock,      &[ORPHAN, LOST, DRAINS, MAXCONN, AT, ACR, SOLO]),
    ("seed",       Variant::Purge,         &[ORPHAN, LOST, DRAINS, MAXCONN, AT, ACR, SOLO]),
    ("seed",       Variant::Ca275,         &[ORPHAN, LOST, DRAINS, MAXCONN, AT, ACR, SOLO]),
    ("seed",       Variant::Upstream,      &[DRAINS, MAXCONN, SOLO]),
    ("seed",       Variant::Fixed,         &[]),
    ("seed",       Variant::BoundedRetry,  &[ORPHAN, LOST, DRAINS, MAXCONN]),
    ("seed",       Variant::ChangeCounter, &[ORPHAN, LOST, DRAINS, MAXCONN]),
    ("seed",       Variant::ReadySrv,      &[ORPHAN, LOST, DRAINS, LOCKS]),
    ("seed",       Variant::Master,        &[ORPHAN, LOST, DRAINS]),
    ("seed",       Variant::MasterFixed,   &[]),
    ("one-thread", Variant::Toctou,        &[ORPHAN, LOST, DRAINS, MAXCONN]),
    ("one-thread", Variant::Livelock,      &[ORPHAN, LOST, DRAINS, MAXCONN, AT, ACR, SOLO]),
    ("one-thread", Variant::Purge,         &[ORPHAN, LOST, DRAINS, MAXCONN, AT, ACR, SOLO]),
    ("one-thread", Variant::Ca275,         &[ORPHAN, LOST, DRAINS, MAXCONN]),
    ("one-thread", Variant::Upstream,      &[DRAINS, MAXCONN]),
    ("one-thread", Variant::Fixed,         &[]),
    ("one-thread", Variant::BoundedRetry,  &[ORPHAN, LOST, DRAINS, MAXCONN]),
    ("one-thread", Variant::ChangeCounter, &[ORPHAN, LOST, DRAINS, MAXCONN]),
    ("one-thread", Variant::ReadySrv,      &[DRAINS]),
    ("one-thread", Variant::Master,        &[DRAINS]),
    ("one-thread", Variant::MasterFixed,   &[]),
    ("hash",       Variant::Toctou,        &[ORPHAN, LOST, MAXCONN]),
    ("hash",       Variant::Livelock,      &[ORPHAN, LOST, MAXCONN]),
    ("hash",       Variant::Purge,         &[ORPHAN, LOST, MAXCONN]),
    ("hash",       Variant::Ca275,         &[ORPHAN, LOST, MAXCONN]),
    ("hash",       Variant::Upstream,      &[MAXCONN]),
    ("hash",       Variant::Fixed,         &[]),
    ("hash",       Variant::BoundedRetry,  &[ORPHAN, LOST, MAXCONN]),
    ("hash",       Variant::ChangeCounter, &[ORPHAN, LOST, MAXCONN]),
    ("hash",       Variant::ReadySrv,      &[]),
    ("hash",       Variant::Master,        &[]),
    ("hash",       Variant::MasterFixed,   &[]),
    ("two-servers", Variant::Toctou,        &[ORPHAN, LOST, MAXCONN]),
    ("two-servers", Variant::Livelock,      &[ORPHAN, LOST, MAXCONN, AT, SOLO]),
    ("two-servers", Variant::Purge,         &[ORPHAN, LOST, MAXCONN, AT, SOLO]),
    ("two-servers", Variant::Ca275,         &[ORPHAN, LOST, MAXCONN, SOLO]),
    ("two-servers", Variant::Upstream,      &[MAXCONN, SOLO]),
    ("two-servers", Variant::Fixed,         &[]),
    ("two-servers", Variant::BoundedRetry,  &[ORPHAN, LOST, MAXCONN]),
    ("two-servers", Variant::ChangeCounter, &[ORPHAN, LOST, MAXCONN]),
    ("two-servers", Variant::ReadySrv,      &[ORPHAN, LOST, LOCKS]),
    ("two-servers", Variant::Master,        &[ORPHAN, LOST]),
    ("two-servers", Variant::MasterFixed,   &[]),
    ("timeouts",   Variant::Toctou,        &[ORPHAN, DRAINS, MAXCONN]),
    ("timeouts",   Variant::Livelock,      &[ORPHAN, DRAINS, MAXCONN, AT, SOLO]),
    ("timeouts",   Variant::Purge,         &[ORPHAN, DRAINS, MAXCONN, AT, SOLO]),
    ("timeouts",   Variant::Ca275,         &[ORPHAN, DRAINS, MAXCONN, SOLO]),
    ("timeouts",   Variant::Upstream,      &[DRAINS, MAXCONN, SOLO]),
    ("timeouts",   Variant::Fixed,         &[]),
    ("timeouts",   Variant::BoundedRetry,  &[ORPHAN, DRAINS, MAXCONN]),
    ("timeouts",   Variant::ChangeCounter, &[ORPHAN, DRAINS, MAXCONN]),
    ("timeouts",   Variant::ReadySrv,      &[ORPHAN, DRAINS, LOCKS]),
    ("timeouts",   Variant::Master,        &[ORPHAN, DRAINS]),
    ("timeouts",   Variant::MasterFixed,   &[]),
    ("first",      Variant::Toctou,        &[ORPHAN, LOST, MAXCONN]),
    ("first",      Variant::Livelock,      &[MAXCONN, AT, SOLO]),
    ("first",      Variant::Purge,         &[MAXCONN, AT, SOLO]),
    ("first",      Variant::Ca275,         &[MAXCONN, SOLO]),
    ("first",      Variant::Upstream,      &[MAXCONN, SOLO]),
    ("first",      Variant::Fixed,         &[]),
    ("first",      Variant::BoundedRetry,  &[ORPHAN, LOST, MAXCONN]),
    ("first",      Variant::ChangeCounter, &[ORPHAN, LOST, MAXCONN]),
    ("first",      Variant::ReadySrv,      &[ORPHAN, LOST, LOCKS]),
    ("first",      Variant::Master,        &[ORPHAN, LOST]),
    ("first",      Variant::MasterFixed,   &[]),
];

/// A row of differences from [`EXPECTED`]: (preset, variant, the properties violated
/// besides that row's, those of that row that hold).
type Diff = (
    &'static str,
    Variant,
    &'static [&'static str],
    &'static [&'static str],
);

/// Split atomics (`atomics = "split"`: the counters HAProxy updates just outside the
/// queue locks change in steps of their own). It differs from [`EXPECTED`] only for
/// `upstream`, HAProxy's own follow-ups: it strands a stream on `seed`, `first`,
/// `two-servers` and `timeouts` (a dequeue batch's `px->served += done` lands after the
/// dequeued stream's own `px->served -= 1`, so `px->served` wraps to 255 and
/// `pendconn_must_try_again` trusts a dequeuer that does not exist), and on
/// `one-thread` it gains a spin-wait (`assign_solo_terminates`). `fixed` (which reads
/// the servers' own `served` in `pendconn_must_try_again`) and `master-fixed` hold
/// everywhere.
#[rustfmt::skip]
const SPLIT: &[Diff] = &[
    ("seed",        Variant::Upstream, &[ORPHAN, LOST], &[]),
    ("one-thread",  Variant::Upstream, &[SOLO],         &[]),
    ("two-servers", Variant::Upstream, &[ORPHAN, LOST], &[]),
    ("timeouts",    Variant::Upstream, &[ORPHAN],       &[]),
    ("first",       Variant::Upstream, &[ORPHAN, LOST], &[]),
];

/// The same presets with the CLI applet as a task of thread 1 (`cli_thread = 1`, `lbq
/// check --cli-thread 1`): each preset stands for its own number of HAProxy threads,
/// no more, and a CLI command runs between T1's tasks, never inside one. `one-thread`
/// is then a single-threaded HAProxy: it cannot overshoot maxconn and its backend queue
/// drains, `purge` still loops there and `ca275` does not (ca275d99c's message:
/// "including a single threaded one"); on `two-servers` the loops of `livelock` and
/// `purge` starve the CLI on the looping thread (`assign_can_return`, a stuck cycle the
/// free CLI never shows). In both atomics modes; see also [`CLI_ON_T1_IN_SECTION`].
#[rustfmt::skip]
const CLI_ON_T1: &[Diff] = &[
    ("one-thread",  Variant::Purge,         &[],    &[DRAINS, MAXCONN]),
    ("one-thread",  Variant::Ca275,         &[],    &[DRAINS, MAXCONN]),
    ("one-thread",  Variant::Upstream,      &[],    &[DRAINS, MAXCONN]),
    ("one-thread",  Variant::BoundedRetry,  &[],    &[DRAINS, MAXCONN]),
    ("one-thread",  Variant::ChangeCounter, &[],    &[DRAINS, MAXCONN]),
    ("one-thread",  Variant::ReadySrv,      &[],    &[DRAINS]),
    ("one-thread",  Variant::Master,        &[],    &[DRAINS]),
    ("two-servers", Variant::Livelock,      &[ACR], &[]),
    ("two-servers", Variant::Purge,         &[ACR], &[]),
];

/// With in-section atomics only, on top of [`CLI_ON_T1`]: change-counter's orphan on
/// `first` needs the CLI between two sections of a task. With split atomics
/// [`CLI_ON_T1`] is the whole difference: none of [`SPLIT`]'s, as `upstream`'s
/// split-atomics orphans and spin-wait need the CLI as a third thread between two
/// sections of another thread's task.
#[rustfmt::skip]
const CLI_ON_T1_IN_SECTION: &[Diff] = &[
    ("first",       Variant::ChangeCounter, &[],    &[ORPHAN, LOST]),
];

fn run(preset: &str, variant: Variant) -> Report {
    let scenario = presets::get(preset).expect("preset").with_variant(variant);
    check(&scenario, default_bounds())
}

/// How a check is set up beyond its preset and variant.
#[derive(Clone, Copy)]
struct Setup {
    split: bool,
    /// The CLI as a task of this thread (0-based), or free.
    cli_thread: Option<u8>,
    abortonclose: bool,
}

/// The presets as they are: atomics in-section, the CLI free, `abortonclose` on.
const AS_IS: Setup = Setup {
    split: false,
    cli_thread: None,
    abortonclose: true,
};

/// Checks every preset × variant under `setup`: each violates [`EXPECTED`]'s properties
/// changed by its rows of `diffs` (the tables concatenated), and nothing else; every search is complete and every
/// sometimes-property reached. A diff row must change something.
fn assert_verdicts(setup: Setup, diffs: &[&[Diff]]) {
    let diffs: Vec<Diff> = diffs.concat();
    assert_eq!(
        EXPECTED.len(),
        presets::names().count() * Variant::ALL.len(),
        "the table must cover every preset × variant"
    );
    for &(preset, variant, more, less) in &diffs {
        let row = EXPECTED
            .iter()
            .find(|&&(p, v, _)| p == preset && v == variant)
            .unwrap_or_else(|| panic!("{preset} × {variant} is not in EXPECTED"));
        assert!(
            more.iter().all(|p| !row.2.contains(p)) && less.iter().all(|p| row.2.contains(p)),
            "{preset} × {variant}: a diff must change EXPECTED's row"
        );
    }
    let Setup {
        split,
        cli_thread,
        abortonclose,
    } = setup;
    for &(preset, variant, violated) in EXPECTED {
        let mut scenario = presets::get(preset)
            .expect("preset")
            .with_variant(variant)
            .with_split_atomics(split);
        scenario.cli_thread = cli_thread;
        scenario.abortonclose = abortonclose;
        let r = check(&scenario, default_bounds());
        let atomics = if split { " --atomics split" } else { "" };
        let cli = cli_thread.map_or(String::new(), |t| format!(" --cli-thread {}", t + 1));
        let aoc = if abortonclose {
            ""
        } else {
            " --abortonclose off"
        };
        let replay =
            format!("lbq check --scenario {preset} --variant {variant}{atomics}{cli}{aoc}");
        assert!(r.complete, "{replay}: search incomplete");
        let mut expected: BTreeSet<&str> = violated.iter().copied().collect();
        for &(_, _, more, less) in diffs
            .iter()
            .filter(|&&(p, v, _, _)| p == preset && v == variant)
        {
            expected.extend(more);
            expected.retain(|p| !less.contains(p));
        }
        let actual: BTreeSet<&str> = r
            .properties
            .iter()
            .filter(|p| p.status == Status::Violated)
            .map(|p| p.name)
            .collect();
        assert_eq!(actual, expected, "{replay}: violated properties changed");
        for p in &r.properties {
            let fine = match p.kind {
                Kind::Sometimes => p.status == Status::Reached,
                _ => matches!(p.status, Status::Holds | Status::Violated),
            };
            assert!(fine, "{replay}: {} is {:?}", p.name, p.status);
            assert_eq!(
                p.trace.is_some(),
                p.status != Status::Holds,
                "{replay}: {} trace",
                p.name
            );
        }
    }
}

#[test]
fn every_preset_and_variant_gets_its_pinned_verdict() {
    assert_verdicts(AS_IS, &[]);
}

#[test]
fn with_split_atomics_every_preset_and_variant_gets_its_pinned_verdict() {
    let split = Setup {
        split: true,
        ..AS_IS
    };
    assert_verdicts(split, &[SPLIT]);
}

#[test]
fn with_the_cli_on_thread_1_every_preset_and_variant_gets_its_pinned_verdict() {
    let on_t1 = Setup {
        cli_thread: Some(0),
        ..AS_IS
    };
    assert_verdicts(on_t1, &[CLI_ON_T1, CLI_ON_T1_IN_SECTION]);
    let split = Setup {
        split: true,
        ..on_t1
    };
    assert_verdicts(split, &[CLI_ON_T1]);
}

/// What `abortonclose = false` takes away from [`EXPECTED`] (it adds nothing): the findings that need a
/// stream killed before it connected to give its slot back from `stream_free` (which an
/// HTTP backend without `option abortonclose` never does before 51611a5b7). Nothing is
/// added anywhere; every loop stays but `purge`'s on one thread.
#[rustfmt::skip]
const WITHOUT_ABORTONCLOSE: &[Diff] = &[
    ("seed",        Variant::Livelock,      &[], &[ORPHAN, LOST]),
    ("seed",        Variant::Purge,         &[], &[ORPHAN, LOST]),
    ("seed",        Variant::Ca275,         &[], &[ORPHAN, LOST]),
    ("one-thread",  Variant::Toctou,        &[], &[ORPHAN, LOST]),
    ("one-thread",  Variant::Livelock,      &[], &[ORPHAN, LOST]),
    ("one-thread",  Variant::Purge,         &[], &[ORPHAN, LOST, AT, ACR]),
    ("one-thread",  Variant::Ca275,         &[], &[ORPHAN, LOST]),
    ("one-thread",  Variant::BoundedRetry,  &[], &[ORPHAN, LOST]),
    ("one-thread",  Variant::ChangeCounter, &[], &[ORPHAN, LOST]),
    ("hash",        Variant::Livelock,      &[], &[ORPHAN, LOST]),
    ("hash",        Variant::Purge,         &[], &[ORPHAN, LOST]),
    ("hash",        Variant::Ca275,         &[], &[ORPHAN, LOST]),
    ("hash",        Variant::BoundedRetry,  &[], &[ORPHAN, LOST]),
    ("hash",        Variant::ChangeCounter, &[], &[ORPHAN, LOST]),
    ("two-servers", Variant::Livelock,      &[], &[ORPHAN, LOST]),
    ("two-servers", Variant::Purge,         &[], &[ORPHAN, LOST]),
    ("two-servers", Variant::Ca275,         &[], &[ORPHAN, LOST]),
    ("timeouts",    Variant::Livelock,      &[], &[ORPHAN]),
    ("timeouts",    Variant::Purge,         &[], &[ORPHAN]),
    ("timeouts",    Variant::Ca275,         &[], &[ORPHAN]),
];

#[test]
fn without_abortonclose_the_pinned_verdicts_lose_only_the_killed_before_connect_findings() {
    let without = Setup {
        abortonclose: false,
        ..AS_IS
    };
    assert_verdicts(without, &[WITHOUT_ABORTONCLOSE]);
}

#[test]
fn fixed_and_master_fixed_are_verified_completely_on_every_preset() {
    for variant in [Variant::Fixed, Variant::MasterFixed] {
        for scenario in presets::all() {
            let r = check(&scenario.with_variant(variant), default_bounds());
            assert!(r.complete, "{} {variant}: incomplete", scenario.name);
            assert_eq!(
                r.exit_code(),
                0,
                "{} {variant}: {:?}",
                scenario.name,
                r.properties
            );
            assert!(
                r.unique_states > 1000,
                "{} {variant}: suspiciously small graph",
                scenario.name
            );
        }
    }
}

/// The events of a violated property's counterexample, in order.
fn events_of(r: &Report, property: &str) -> (Vec<String>, String) {
    let trace = r
        .property(property)
        .and_then(|p| p.trace.clone())
        .unwrap_or_else(|| panic!("{property}: no counterexample"));
    let events = trace.steps.iter().flat_map(|s| s.events.clone()).collect();
    (events, trace.to_string())
}

/// Before 3372a2ea0 the "is it full" test and the slot increment were two operations:
/// two streams on two threads both find room on s1 (maxconn 1), then both take it.
#[test]
fn before_3372a2ea0_two_streams_take_the_last_slot() {
    let r = run("hash", Variant::Upstream);
    let (events, trace) = events_of(&r, MAXCONN);
    let room = events
        .iter()
        .filter(|e| e.contains("finds room on s1"))
        .count();
    let took = events
        .iter()
        .filter(|e| e.contains("takes a slot on s1"))
        .count();
    assert_eq!((room, took), (2, 2), "{trace}");
    // The same scenario with 3372a2ea0's compare-and-swap: never.
    let mut cas = presets::get("hash")
        .unwrap()
        .with_variant(Variant::Upstream);
    cas.changes
        .push((lbqueue::Switch::SlotReservedAtPick, true));
    let r = check(&cas, default_bounds());
    assert_eq!(r.property(MAXCONN).map(|p| p.status), Some(Status::Holds));
}

/// ready-srv (659d5f657): the stream's entry was dequeued between its `pendconn_add` and
/// the `ready_srv` path's lock; it gives the slot back and returns with the backend
/// queue lock held (e9d34f991 adds the unlock).
#[test]
fn ready_srv_returns_with_the_backend_queue_lock_held() {
    let r = run("two-servers", Variant::ReadySrv);
    let (events, trace) = events_of(&r, LOCKS);
    let leak = events
        .iter()
        .find(|e| e.contains("finds its entry already dequeued"))
        .unwrap_or_else(|| panic!("{trace}"));
    assert!(leak.contains("lock held"), "{trace}");
    assert_eq!(
        run("two-servers", Variant::Master)
            .property(LOCKS)
            .map(|p| p.status),
        Some(Status::Holds)
    );
}

/// master (50872daa6), finding 1 (findings/master-toctou-orphan.md): S4 gets FULL while
/// S3 still holds the only slot; S3 leaves and, with both queues empty, runs no
/// `process_srv_queue`, so nobody publishes `ready_srv`; S4 queues, swaps NULL out of
/// `ready_srv` and waits for the next request or `timeout queue`.
#[test]
fn master_queues_a_stream_nobody_will_dequeue() {
    let mut sc = presets::get("seed").unwrap().with_variant(Variant::Master);
    sc.changes
        .push((lbqueue::Switch::ReadySrvGivebackDequeues, true));
    let r = check(&sc, default_bounds());
    let (events, trace) = events_of(&r, ORPHAN);
    let pos = |needle: &str| {
        events
            .iter()
            .rposition(|e| e.contains(needle))
            .unwrap_or_else(|| panic!("{needle}: {trace}"))
    };
    let full = pos("assign_server → FULL (no server has room)");
    let left = pos("ends: served");
    let no_dequeue = pos("may_dequeue_tasks(s1) → 0");
    let add = pos("pendconn_add → backend queue");
    let swap = pos("XCHG(ready_srv, NULL) → NULL: QUEUED");
    assert!(
        full < left && left < no_dequeue && no_dequeue < add && add < swap,
        "{trace}"
    );
    // The switch that closes it.
    sc.changes
        .push((lbqueue::Switch::QueuedStreamChecksDequeuer, true));
    assert_eq!(check(&sc, default_bounds()).exit_code(), 0);
}

/// master (50872daa6), finding 2 (findings/master-ready-srv-giveback.md): a stream takes
/// s2 from `ready_srv` and reserves its slot; S3 finds s2 full and queues on it; the
/// reserving stream's entry was already dequeued elsewhere, so it gives the slot back
/// (`served--`) and returns: nobody runs s2's queue.
#[test]
fn master_gives_a_ready_srv_slot_back_without_dequeuing() {
    let mut sc = presets::get("first").unwrap().with_variant(Variant::Master);
    sc.changes
        .push((lbqueue::Switch::QueuedStreamChecksDequeuer, true));
    let r = check(&sc, default_bounds());
    let (events, trace) = events_of(&r, ORPHAN);
    let pos = |needle: &str| {
        events
            .iter()
            .position(|e| e.contains(needle))
            .unwrap_or_else(|| panic!("{needle}: {trace}"))
    };
    let claim = pos("CAS(s2->served, 0, 1) wins");
    let queued_on_s2 = pos("pendconn_add → s2 queue");
    let giveback = pos("finds its entry already dequeued: s2->served--");
    assert!(claim < queued_on_s2 && queued_on_s2 < giveback, "{trace}");
    sc.changes
        .push((lbqueue::Switch::ReadySrvGivebackDequeues, true));
    assert_eq!(check(&sc, default_bounds()).exit_code(), 0);
}

/// postmortem (8d68717a4): after the last server went into maintenance, its streams
/// ended without dequeuing (the server is unusable) and the backend queue kept S2, S3.
/// `enable` handed S2 the server without counting it (pendconn_grab_from_px), so
/// px->served stayed 0 while S3 sat in the backend queue; the next stream on S2's thread
/// looped: FULL by the shortcut → pendconn_add → must_try_again → 1 → again.
#[test]
fn livelock_loops_the_way_the_seed_commit_says() {
    let r = run("seed", Variant::Livelock);
    let trace = r
        .property(ACR)
        .and_then(|p| p.trace.clone())
        .expect("stuck loop");
    let text: Vec<String> = trace.steps.iter().flat_map(|s| s.events.clone()).collect();
    let has = |needle: &str| text.iter().any(|e| e.contains(needle));
    assert!(has("disable server px/s1"), "{trace}");
    assert!(has("shutdown sessions server px/s1"), "{trace}");
    assert!(has("enable server px/s1"), "{trace}");
    assert!(has("pendconn_add → backend queue"), "{trace}");
    assert!(
        has("pendconn_grab_from_px(s1) takes [S2] uncounted"),
        "{trace}"
    );
    let start = trace.cycle_start.expect("a lasso");
    let cycle = &trace.steps[start..];
    let looping = &cycle[0];
    assert!(
        cycle
            .iter()
            .all(|s| s.actor == looping.actor && s.stream == looping.stream),
        "{trace}"
    );
    let events: Vec<&str> = cycle
        .iter()
        .flat_map(|s| s.events.iter().map(String::as_str))
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e.contains("pendconn_add → backend queue")),
        "{trace}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.contains("pendconn_must_try_again → 1")),
        "{trace}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.contains("assign_server → FULL (backend queue non-empty")),
        "{trace}"
    );
    assert!(
        cycle
            .iter()
            .all(|s| s.px_served == 0 && !s.backend_queue.is_empty()),
        "{trace}"
    );
    // The shortest such interleaving, pinned.
    assert_eq!((trace.steps.len(), start), (26, 23), "{trace}");
}

/// The fair-cycle search sees the same loop (and a shorter, two-thread lockstep one).
#[test]
fn livelock_violates_assign_terminates_with_a_lasso() {
    let r = run("seed", Variant::Livelock);
    let p = r.property(AT).expect("property");
    assert_eq!(p.status, Status::Violated);
    let trace = p.trace.as_ref().expect("trace");
    let start = trace.cycle_start.expect("a lasso");
    assert!(start < trace.steps.len());
    assert!(trace.steps[start..].iter().any(|s| s
        .events
        .iter()
        .any(|e| e.contains("pendconn_must_try_again → 1"))));
    assert_eq!(trace.steps.len(), 25, "{trace}");
}

/// postmortem (5541d4995d): S2 saw the server full, S1 ended and found nothing to
/// dequeue, then S2 queued: nobody is left to dequeue it.
#[test]
fn toctou_leaves_an_orphan_pendconn() {
    let r = run("seed", Variant::Toctou);
    let trace = r
        .property(ORPHAN)
        .and_then(|p| p.trace.clone())
        .expect("orphan");
    let last = trace.steps.last().expect("steps");
    let queued =
        !last.backend_queue.is_empty() || last.servers.iter().any(|s| !s.ends_with("queue []"));
    assert!(queued, "{trace}");
    assert!(r.property(AT).is_some_and(|p| p.status == Status::Holds));
}

/// postmortem (53f52e67a): two streams got FULL before `disable`, and queued after both
/// purges while the killed S1 still counted in px->served; then the livelock above.
#[test]
fn purge_still_loops_after_its_own_purge() {
    let r = run("seed", Variant::Purge);
    let trace = r
        .property(ACR)
        .and_then(|p| p.trace.clone())
        .expect("stuck loop");
    let events: Vec<&str> = trace
        .steps
        .iter()
        .flat_map(|s| s.events.iter().map(String::as_str))
        .collect();
    let pos = |needle: &str| events.iter().position(|e| e.contains(needle));
    let last_purge = events
        .iter()
        .rposition(|e| e.contains("pendconn_redistribute(s1)"))
        .expect("purges");
    let add = pos("pendconn_add → backend queue").expect("an add");
    assert!(
        add > last_purge,
        "the entries reach the backend queue after the purges: {trace}"
    );
    assert!(pos("kill requested for [S1]").is_some(), "{trace}");
    assert!(pos("takes [S2] uncounted").is_some(), "{trace}");
}

/// upstream closes every loop a scheduler cannot escape, but a stream still spins in
/// balance_again while the only stream that can change things has released its slot
/// and not yet run process_srv_queue on another thread: a spin-wait, labelled so.
#[test]
fn upstream_only_spins_on_another_thread() {
    let r = run("two-servers", Variant::Upstream);
    let solo = r.property(SOLO).expect("solo");
    assert_eq!(solo.status, Status::Violated);
    assert!(
        solo.note
            .as_deref()
            .is_some_and(|n| n.contains("spin-wait")),
        "{:?}",
        solo.note
    );
    assert_eq!(r.property(AT).map(|p| p.status), Some(Status::Holds));
}

/// The seed commit's two alternatives close every loop on every preset (the table above:
/// no `assign_*` property is violated) and pay for it with an orphan pendconn.
/// bounded-retry on `first`: S1 spends its rounds on the shortcut while S3's entry holds
/// the backend queue; S3 is dequeued, served and gone, and S1's last round — FULL taken
/// while S3 was still queued — stays queued without asking, nobody served, s1 and s2
/// idle: it waits for `timeout queue`, or forever.
#[test]
fn bounded_retry_trades_the_loop_for_an_orphan_pendconn() {
    let r = run("first", Variant::BoundedRetry);
    for p in [AT, ACR, SOLO] {
        assert_eq!(r.property(p).map(|p| p.status), Some(Status::Holds), "{p}");
    }
    let trace = r
        .property(ORPHAN)
        .and_then(|p| p.trace.clone())
        .expect("orphan");
    let looping = trace.steps.last().and_then(|s| s.stream.clone());
    let events: Vec<&str> = trace
        .steps
        .iter()
        .filter(|s| s.stream == looping)
        .flat_map(|s| s.events.iter().map(String::as_str))
        .collect();
    let retries = events
        .iter()
        .filter(|e| e.contains("pendconn_must_try_again → 1"))
        .count();
    assert_eq!(
        retries,
        lbqueue::variant::BOUNDED_RETRY_ROUNDS as usize,
        "{trace}"
    );
    let tail = &events[events.len() - 2..];
    assert!(tail[0].contains("pendconn_add → backend queue"), "{trace}");
    assert!(
        tail[1].contains("QUEUED"),
        "rounds spent: QUEUED without asking pendconn_must_try_again: {trace}"
    );
    let last = trace.steps.last().unwrap();
    assert_eq!(last.px_served, 0, "{trace}");
    assert!(last.servers.iter().all(|s| s.contains(" UP ")), "{trace}");
}

/// change-counter on `seed`: S3 got FULL by the shortcut on S2's entry; S2 took it back
/// (no dequeue: the count does not move) and ended with a 503 while s1 was down. After
/// `enable`, S3 adds its entry with nobody served and s1 idle, and since the count has
/// not moved `pendconn_must_try_again` answers 0: an orphan.
#[test]
fn change_counter_queues_when_the_count_did_not_move() {
    let r = run("seed", Variant::ChangeCounter);
    for p in [AT, ACR, SOLO] {
        assert_eq!(r.property(p).map(|p| p.status), Some(Status::Holds), "{p}");
    }
    let trace = r
        .property(ORPHAN)
        .and_then(|p| p.trace.clone())
        .expect("orphan");
    let last = trace.steps.last().unwrap();
    assert!(
        last.events
            .iter()
            .any(|e| e.contains("pendconn_must_try_again → 0")),
        "{trace}"
    );
    assert_eq!(last.px_served, 0, "{trace}");
    assert!(last.servers.iter().all(|s| s.contains(" UP ")), "{trace}");
    assert_eq!(trace.steps.len(), 24, "{trace}");
}

#[test]
fn a_bounded_search_is_incomplete_never_verified() {
    let scenario = presets::get("seed").unwrap().with_variant(Variant::Fixed);
    let r = check(
        &scenario,
        Bounds {
            max_states: Some(500),
            ..Bounds::unbounded()
        },
    );
    assert!(!r.complete);
    assert_eq!(r.stopped_by, Some("max_states"));
    assert_eq!(r.exit_code(), 3);
    for p in &r.properties {
        assert_ne!(
            p.status,
            Status::Holds,
            "{} claimed to hold on a bounded search",
            p.name
        );
        assert_ne!(p.status, Status::Unreached, "{}", p.name);
    }
}

#[test]
fn counters_consistent_catches_a_purge_that_forgets_totpend() {
    let mut scenario = presets::get("seed").unwrap().with_variant(Variant::Purge);
    scenario.seeded_bug = Some(SeededBug::PurgeKeepsTotpend);
    let r = check(&scenario, default_bounds());
    let p = r.property(COUNTERS).expect("property");
    assert_eq!(p.status, Status::Violated);
    let trace = p.trace.as_ref().expect("trace");
    assert!(trace
        .steps
        .last()
        .unwrap()
        .events
        .iter()
        .any(|e| e.contains("pendconn_redistribute")));
}

/// Exact state counts, so a change to the model's granularity (or to a reduction) shows
/// up as a diff here: (variant, states without reduction, states stored by default).
#[test]
fn state_counts_are_pinned() {
    #[rustfmt::skip]
    let expected = [
        (Variant::Toctou, 42_909, 19_975), (Variant::Livelock, 65_918, 33_544),
        (Variant::Purge, 87_158, 45_641), (Variant::Upstream, 100_608, 50_033),
        (Variant::Fixed, 72_915, 39_613), (Variant::BoundedRetry, 193_951, 99_544),
        (Variant::ChangeCounter, 93_721, 48_994), (Variant::ReadySrv, 228_656, 103_360),
        (Variant::Master, 265_909, 123_360), (Variant::MasterFixed, 322_693, 156_250),
    ];
    let scenario = presets::get("seed").expect("preset");
    for (variant, full, reduced) in expected {
        let sc = scenario.with_variant(variant);
        let off = check_with_progress(&sc, default_bounds(), Reduction::Off, &mut |_| {});
        assert_eq!(off.unique_states, full, "seed {variant} --reduction off");
        assert_eq!(
            run("seed", variant).unique_states,
            reduced,
            "seed {variant}"
        );
    }
}
