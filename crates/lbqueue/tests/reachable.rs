//! Every state the presets reach, summed up and pinned: how many there are, which of the
//! `always` invariants fail somewhere, and how many states have a thread inside
//! assign_server_and_queue, per preset × variant (and with split atomics on the small
//! presets). A plain breadth-first walk over [`lbqueue::step`], no checker: the
//! workspace's verdict tables say the same through the model checker, this says it in
//! lbqueue's own tests, so that a change to one section shows here at once.

use std::collections::{BTreeSet, HashSet};

use lbqueue::invariants::{
    backend_queue_drains, counters_consistent, no_orphan_pendconn, no_stream_lost,
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
    ("seed",        Variant::Toctou, false, 33898, &[DRAINS, ORPHAN, LOST], 12746),
    ("seed",        Variant::Livelock, false, 54305, &[DRAINS, ORPHAN, LOST], 27409),
    ("seed",        Variant::Purge, false, 72371, &[DRAINS, ORPHAN, LOST], 38719),
    ("seed",        Variant::Upstream, false, 79746, &[DRAINS], 41549),
    ("seed",        Variant::Fixed, false, 82680, &[], 41666),
    ("seed",        Variant::BoundedRetry, false, 159201, &[DRAINS, ORPHAN, LOST], 124613),
    ("seed",        Variant::ChangeCounter, false, 78459, &[DRAINS, ORPHAN, LOST], 44344),
    ("one-thread",  Variant::Toctou, false, 3532, &[DRAINS, ORPHAN, LOST], 473),
    ("one-thread",  Variant::Toctou, true, 7255, &[DRAINS, ORPHAN, LOST], 642),
    ("one-thread",  Variant::Livelock, false, 3850, &[DRAINS, ORPHAN, LOST], 799),
    ("one-thread",  Variant::Livelock, true, 7683, &[DRAINS, ORPHAN, LOST], 1576),
    ("one-thread",  Variant::Purge, false, 6186, &[DRAINS, ORPHAN, LOST], 1685),
    ("one-thread",  Variant::Purge, true, 12634, &[DRAINS, ORPHAN, LOST], 3274),
    ("one-thread",  Variant::Upstream, false, 5804, &[DRAINS], 1603),
    ("one-thread",  Variant::Upstream, true, 12162, &[DRAINS], 3130),
    ("one-thread",  Variant::Fixed, false, 5717, &[], 1632),
    ("one-thread",  Variant::Fixed, true, 11981, &[], 3119),
    ("one-thread",  Variant::BoundedRetry, false, 6690, &[DRAINS, ORPHAN, LOST], 2120),
    ("one-thread",  Variant::BoundedRetry, true, 15451, &[DRAINS, ORPHAN, LOST], 5578),
    ("one-thread",  Variant::ChangeCounter, false, 6309, &[DRAINS, ORPHAN, LOST], 1739),
    ("one-thread",  Variant::ChangeCounter, true, 13408, &[DRAINS, ORPHAN, LOST], 3535),
    ("hash",        Variant::Toctou, false, 5534, &[ORPHAN, LOST], 2079),
    ("hash",        Variant::Toctou, true, 17280, &[ORPHAN, LOST], 4048),
    ("hash",        Variant::Livelock, false, 7391, &[ORPHAN, LOST], 2282),
    ("hash",        Variant::Livelock, true, 23868, &[ORPHAN, LOST], 4528),
    ("hash",        Variant::Purge, false, 7391, &[ORPHAN, LOST], 2282),
    ("hash",        Variant::Purge, true, 23868, &[ORPHAN, LOST], 4528),
    ("hash",        Variant::Upstream, false, 7415, &[], 2282),
    ("hash",        Variant::Upstream, true, 26110, &[], 4800),
    ("hash",        Variant::Fixed, false, 7374, &[], 2282),
    ("hash",        Variant::Fixed, true, 23400, &[], 4500),
    ("hash",        Variant::BoundedRetry, false, 7391, &[ORPHAN, LOST], 2282),
    ("hash",        Variant::BoundedRetry, true, 23868, &[ORPHAN, LOST], 4528),
    ("hash",        Variant::ChangeCounter, false, 7391, &[ORPHAN, LOST], 2282),
    ("hash",        Variant::ChangeCounter, true, 23868, &[ORPHAN, LOST], 4528),
    ("two-servers", Variant::Toctou, false, 64814, &[ORPHAN, LOST], 19796),
    ("two-servers", Variant::Livelock, false, 85275, &[ORPHAN, LOST], 34682),
    ("two-servers", Variant::Purge, false, 85275, &[ORPHAN, LOST], 34682),
    ("two-servers", Variant::Upstream, false, 86575, &[], 34548),
    ("two-servers", Variant::Fixed, false, 95687, &[], 34231),
    ("two-servers", Variant::BoundedRetry, false, 126601, &[ORPHAN, LOST], 75608),
    ("two-servers", Variant::ChangeCounter, false, 88292, &[ORPHAN, LOST], 37508),
    ("timeouts",    Variant::Toctou, false, 13609, &[DRAINS, ORPHAN], 3026),
    ("timeouts",    Variant::Livelock, false, 19158, &[DRAINS, ORPHAN], 5706),
    ("timeouts",    Variant::Purge, false, 23273, &[DRAINS, ORPHAN], 7532),
    ("timeouts",    Variant::Upstream, false, 23529, &[DRAINS], 7392),
    ("timeouts",    Variant::Fixed, false, 26052, &[], 7851),
    ("timeouts",    Variant::BoundedRetry, false, 33161, &[DRAINS, ORPHAN], 17097),
    ("timeouts",    Variant::ChangeCounter, false, 24070, &[DRAINS, ORPHAN], 8125),
    ("first",       Variant::Toctou, false, 6660, &[ORPHAN, LOST], 1906),
    ("first",       Variant::Toctou, true, 20613, &[ORPHAN, LOST], 3349),
    ("first",       Variant::Livelock, false, 8404, &[], 3013),
    ("first",       Variant::Livelock, true, 25858, &[], 7885),
    ("first",       Variant::Purge, false, 8404, &[], 3013),
    ("first",       Variant::Purge, true, 25858, &[], 7885),
    ("first",       Variant::Upstream, false, 8273, &[], 2914),
    ("first",       Variant::Upstream, true, 25982, &[ORPHAN, LOST], 7603),
    ("first",       Variant::Fixed, false, 8669, &[], 2820),
    ("first",       Variant::Fixed, true, 28171, &[], 7505),
    ("first",       Variant::BoundedRetry, false, 11149, &[ORPHAN, LOST], 5716),
    ("first",       Variant::BoundedRetry, true, 41025, &[ORPHAN, LOST], 22876),
    ("first",       Variant::ChangeCounter, false, 8513, &[ORPHAN, LOST], 3103),
    ("first",       Variant::ChangeCounter, true, 26314, &[ORPHAN, LOST], 8217),
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
