//! Every state the presets reach, summed up and pinned: how many there are, which of the
//! `always` invariants fail somewhere, and how many states have a thread inside
//! assign_server_and_queue, per preset × variant (and with split atomics on the small
//! presets). A plain breadth-first walk over [`lbqueue::step`], no checker: the
//! workspace's verdict tables say the same through the model checker, this says it in
//! lbqueue's own tests, so that a change to one section shows here at once.

use std::collections::{BTreeSet, HashSet};

use lbqueue::invariants::{
    backend_queue_drains, counters_consistent, maxconn_respected, no_orphan_pendconn,
    no_stream_lost, queue_locks_released,
};
use lbqueue::{enabled_actors, presets, step, Journal, Scenario, System, Variant};

/// (states, invariants failing somewhere, states with a thread in assign_server_and_queue).
fn walk(sc: &Scenario) -> (usize, BTreeSet<&'static str>, usize) {
    // Seen states are kept packed (`lbqueue::packed`): less to hash.
    let packed = |sys: &System| {
        let mut bytes = Vec::with_capacity(64);
        sys.pack_into(&mut bytes);
        bytes
    };
    let mut seen = HashSet::from([packed(&System::new(sc))]);
    let mut todo = vec![System::new(sc)];
    let mut failing = BTreeSet::new();
    let mut in_assign = 0;
    let mut actors = Vec::new();
    while let Some(sys) = todo.pop() {
        for (name, ok) in [
            ("counters_consistent", counters_consistent(&sys).is_ok()),
            ("no_orphan_pendconn", no_orphan_pendconn(&sys, sc)),
            ("no_stream_lost", no_stream_lost(&sys, sc)),
            ("backend_queue_drains", backend_queue_drains(&sys, sc)),
            ("maxconn_respected", maxconn_respected(&sys).is_ok()),
            ("queue_locks_released", queue_locks_released(&sys)),
        ] {
            if !ok {
                failing.insert(name);
            }
        }
        // The round-robin rotation always points at a server (lb_pick wraps it).
        assert!(
            usize::from(sys.px.rr_next) < sys.px.servers.len(),
            "{sys:?}"
        );
        in_assign += usize::from(sys.threads_in_assign().next().is_some());
        actors.clear();
        enabled_actors(&sys, sc, &mut actors);
        for &a in &actors {
            let mut next = sys.clone();
            step(&mut next, sc, a, &mut Journal::silent());
            if seen.insert(packed(&next)) {
                todo.push(next);
            }
        }
    }
    (seen.len(), failing, in_assign)
}

const ORPHAN: &str = "no_orphan_pendconn";
const LOST: &str = "no_stream_lost";
const DRAINS: &str = "backend_queue_drains";
const MAXCONN: &str = "maxconn_respected";
const LOCKS: &str = "queue_locks_released";

/// (preset, variant, split atomics, states, failing invariants, states in assign).
type Row = (
    &'static str,
    Variant,
    bool,
    usize,
    &'static [&'static str],
    usize,
);

#[rustfmt::skip]
const PINNED: &[Row] = &[
    ("seed", Variant::Toctou, false, 42909, &[DRAINS, MAXCONN, ORPHAN, LOST], 16838),
    ("seed", Variant::Livelock, false, 65918, &[DRAINS, MAXCONN, ORPHAN, LOST], 33219),
    ("seed", Variant::Purge, false, 87158, &[DRAINS, MAXCONN, ORPHAN, LOST], 46433),
    ("seed", Variant::Ca275, false, 103894, &[DRAINS, MAXCONN, ORPHAN, LOST], 52981),
    ("seed", Variant::Upstream, false, 100608, &[DRAINS, MAXCONN], 51696),
    ("seed", Variant::Fixed, false, 72915, &[], 38042),
    ("seed", Variant::BoundedRetry, false, 193951, &[DRAINS, MAXCONN, ORPHAN, LOST], 152284),
    ("seed", Variant::ChangeCounter, false, 93721, &[DRAINS, MAXCONN, ORPHAN, LOST], 52531),
    ("seed", Variant::ReadySrv, false, 228656, &[DRAINS, ORPHAN, LOST, LOCKS], 106361),
    ("seed", Variant::Master, false, 265909, &[DRAINS, ORPHAN, LOST], 117278),
    ("seed", Variant::MasterFixed, false, 322693, &[], 154994),
    ("one-thread", Variant::Toctou, false, 3706, &[DRAINS, MAXCONN, ORPHAN, LOST], 647),
    ("one-thread", Variant::Toctou, true, 7487, &[DRAINS, MAXCONN, ORPHAN, LOST], 874),
    ("one-thread", Variant::Livelock, false, 4024, &[DRAINS, MAXCONN, ORPHAN, LOST], 973),
    ("one-thread", Variant::Livelock, true, 7915, &[DRAINS, MAXCONN, ORPHAN, LOST], 1808),
    ("one-thread", Variant::Purge, false, 6452, &[DRAINS, MAXCONN, ORPHAN, LOST], 1951),
    ("one-thread", Variant::Ca275, false, 6444, &[DRAINS, MAXCONN, ORPHAN, LOST], 1910),
    ("one-thread", Variant::Purge, true, 12966, &[DRAINS, MAXCONN, ORPHAN, LOST], 3606),
    ("one-thread", Variant::Ca275, true, 12922, &[DRAINS, MAXCONN, ORPHAN, LOST], 3226),
    ("one-thread", Variant::Upstream, false, 6166, &[DRAINS, MAXCONN], 1871),
    ("one-thread", Variant::Upstream, true, 12916, &[DRAINS, MAXCONN], 3500),
    ("one-thread", Variant::Fixed, false, 5149, &[], 1554),
    ("one-thread", Variant::Fixed, true, 10304, &[], 2769),
    ("one-thread", Variant::BoundedRetry, false, 7004, &[DRAINS, MAXCONN, ORPHAN, LOST], 2434),
    ("one-thread", Variant::BoundedRetry, true, 16035, &[DRAINS, MAXCONN, ORPHAN, LOST], 6162),
    ("one-thread", Variant::ChangeCounter, false, 6575, &[DRAINS, MAXCONN, ORPHAN, LOST], 2005),
    ("one-thread", Variant::ChangeCounter, true, 13740, &[DRAINS, MAXCONN, ORPHAN, LOST], 3867),
    ("one-thread", Variant::ReadySrv, false, 9551, &[DRAINS], 2530),
    ("one-thread", Variant::ReadySrv, true, 20430, &[DRAINS], 4779),
    ("one-thread", Variant::Master, false, 11003, &[DRAINS], 2530),
    ("one-thread", Variant::Master, true, 24100, &[DRAINS], 4779),
    ("one-thread", Variant::MasterFixed, false, 10230, &[], 3072),
    ("one-thread", Variant::MasterFixed, true, 21538, &[], 5658),
    ("hash", Variant::Toctou, false, 7421, &[MAXCONN, ORPHAN, LOST], 2903),
    ("hash", Variant::Toctou, true, 21313, &[MAXCONN, ORPHAN, LOST], 5312),
    ("hash", Variant::Livelock, false, 9485, &[MAXCONN, ORPHAN, LOST], 3150),
    ("hash", Variant::Livelock, true, 28350, &[MAXCONN, ORPHAN, LOST], 5870),
    ("hash", Variant::Purge, false, 9485, &[MAXCONN, ORPHAN, LOST], 3150),
    ("hash", Variant::Ca275, false, 9485, &[MAXCONN, ORPHAN, LOST], 3150),
    ("hash", Variant::Purge, true, 28350, &[MAXCONN, ORPHAN, LOST], 5870),
    ("hash", Variant::Ca275, true, 28350, &[MAXCONN, ORPHAN, LOST], 5870),
    ("hash", Variant::Upstream, false, 9526, &[MAXCONN], 3155),
    ("hash", Variant::Upstream, true, 30850, &[MAXCONN], 6218),
    ("hash", Variant::Fixed, false, 7415, &[], 2282),
    ("hash", Variant::Fixed, true, 26110, &[], 4800),
    ("hash", Variant::BoundedRetry, false, 9485, &[MAXCONN, ORPHAN, LOST], 3150),
    ("hash", Variant::BoundedRetry, true, 28350, &[MAXCONN, ORPHAN, LOST], 5870),
    ("hash", Variant::ChangeCounter, false, 9485, &[MAXCONN, ORPHAN, LOST], 3150),
    ("hash", Variant::ChangeCounter, true, 28350, &[MAXCONN, ORPHAN, LOST], 5870),
    ("hash", Variant::ReadySrv, false, 19660, &[], 4431),
    ("hash", Variant::ReadySrv, true, 63937, &[], 9672),
    ("hash", Variant::Master, false, 25402, &[], 5449),
    ("hash", Variant::Master, true, 87483, &[], 12119),
    ("hash", Variant::MasterFixed, false, 25402, &[], 5449),
    ("hash", Variant::MasterFixed, true, 87483, &[], 12119),
    ("two-servers", Variant::Toctou, false, 83719, &[MAXCONN, ORPHAN, LOST], 31282),
    ("two-servers", Variant::Livelock, false, 106640, &[MAXCONN, ORPHAN, LOST], 48187),
    ("two-servers", Variant::Purge, false, 106640, &[MAXCONN, ORPHAN, LOST], 48187),
    ("two-servers", Variant::Ca275, false, 112156, &[MAXCONN, ORPHAN, LOST], 49314),
    ("two-servers", Variant::Upstream, false, 109609, &[MAXCONN], 48603),
    ("two-servers", Variant::Fixed, false, 89147, &[], 32791),
    ("two-servers", Variant::BoundedRetry, false, 163098, &[MAXCONN, ORPHAN, LOST], 104239),
    ("two-servers", Variant::ChangeCounter, false, 109757, &[MAXCONN, ORPHAN, LOST], 51107),
    ("two-servers", Variant::ReadySrv, false, 191543, &[ORPHAN, LOST, LOCKS], 64085),
    ("two-servers", Variant::Master, false, 215909, &[ORPHAN, LOST], 69134),
    ("two-servers", Variant::MasterFixed, false, 282924, &[], 96111),
    ("timeouts", Variant::Toctou, false, 15638, &[DRAINS, MAXCONN, ORPHAN], 3951),
    ("timeouts", Variant::Livelock, false, 21485, &[DRAINS, MAXCONN, ORPHAN], 6791),
    ("timeouts", Variant::Purge, false, 25890, &[DRAINS, MAXCONN, ORPHAN], 8763),
    ("timeouts", Variant::Ca275, false, 26897, &[DRAINS, MAXCONN, ORPHAN], 8802),
    ("timeouts", Variant::Upstream, false, 26429, &[DRAINS, MAXCONN], 8673),
    ("timeouts", Variant::Fixed, false, 24604, &[], 7572),
    ("timeouts", Variant::BoundedRetry, false, 37792, &[DRAINS, MAXCONN, ORPHAN], 20342),
    ("timeouts", Variant::ChangeCounter, false, 26708, &[DRAINS, MAXCONN, ORPHAN], 9377),
    ("timeouts", Variant::ReadySrv, false, 55056, &[DRAINS, ORPHAN, LOCKS], 14803),
    ("timeouts", Variant::Master, false, 72628, &[DRAINS, ORPHAN], 18734),
    ("timeouts", Variant::MasterFixed, false, 85915, &[], 24262),
    ("first", Variant::Toctou, false, 8388, &[MAXCONN, ORPHAN, LOST], 3006),
    ("first", Variant::Toctou, true, 23866, &[MAXCONN, ORPHAN, LOST], 5138),
    ("first", Variant::Livelock, false, 10244, &[MAXCONN], 4211),
    ("first", Variant::Livelock, true, 29354, &[MAXCONN], 9908),
    ("first", Variant::Purge, false, 10244, &[MAXCONN], 4211),
    ("first", Variant::Ca275, false, 10318, &[MAXCONN], 4127),
    ("first", Variant::Purge, true, 29354, &[MAXCONN], 9908),
    ("first", Variant::Ca275, true, 29740, &[MAXCONN], 9662),
    ("first", Variant::Upstream, false, 10138, &[MAXCONN], 4095),
    ("first", Variant::Upstream, true, 29732, &[MAXCONN, ORPHAN, LOST], 9661),
    ("first", Variant::Fixed, false, 8457, &[], 2799),
    ("first", Variant::Fixed, true, 27882, &[], 7460),
    ("first", Variant::BoundedRetry, false, 13901, &[MAXCONN, ORPHAN, LOST], 7826),
    ("first", Variant::BoundedRetry, true, 46973, &[MAXCONN, ORPHAN, LOST], 27351),
    ("first", Variant::ChangeCounter, false, 10353, &[MAXCONN, ORPHAN, LOST], 4301),
    ("first", Variant::ChangeCounter, true, 29808, &[MAXCONN, ORPHAN, LOST], 10238),
    ("first", Variant::ReadySrv, false, 16104, &[ORPHAN, LOST, LOCKS], 4606),
    ("first", Variant::ReadySrv, true, 51374, &[ORPHAN, LOST, LOCKS], 12937),
    ("first", Variant::Master, false, 18080, &[ORPHAN, LOST], 4880),
    ("first", Variant::Master, true, 63854, &[ORPHAN, LOST], 14896),
    ("first", Variant::MasterFixed, false, 21444, &[], 6392),
    ("first", Variant::MasterFixed, true, 76363, &[], 19369),
];

#[test]
fn every_preset_reaches_its_pinned_states() {
    // Two walkers, one row each at a time.
    let next_row = std::sync::atomic::AtomicUsize::new(0);
    let walker = || {
        let mut done = Vec::new();
        loop {
            let i = next_row.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(&(preset, variant, split, _, _, _)) = PINNED.get(i) else {
                return done;
            };
            let sc = presets::get(preset)
                .unwrap()
                .with_variant(variant)
                .with_split_atomics(split);
            let (n, failing, in_assign) = walk(&sc);
            done.push((i, (preset, variant, split, n, failing, in_assign)));
        }
    };
    let mut rows: Vec<_> = std::thread::scope(|s| {
        let other = s.spawn(walker);
        let mut mine = walker();
        mine.extend(other.join().expect("a walker panicked"));
        mine
    });
    rows.sort_by_key(|(i, _)| *i);
    let rows: Vec<_> = rows.into_iter().map(|(_, r)| r).collect();
    for (row, pinned) in rows.iter().zip(PINNED) {
        let (preset, variant, split, n, failing, in_assign) = row;
        let expected: BTreeSet<&str> = pinned.4.iter().copied().collect();
        assert_eq!(
            (*n, failing, *in_assign),
            (pinned.3, &expected, pinned.5),
            "{preset} {variant} split={split}"
        );
    }
}
