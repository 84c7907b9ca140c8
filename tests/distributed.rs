//! The check across timely-dataflow workers (`lbq check --workers W`,
//! `lbqueue_models::disk_check::check_distributed`) against the in-memory check, on
//! every preset × variant (6 × 11, each well under a second in memory): the same
//! verdict and note per property, the same stored states, transitions and depth, and
//! counterexamples of the same length (for a lasso: whose cycle starts at the same
//! step). Which of several equally short counterexamples is shown may differ: the
//! workers find states in another order, and a lasso's cycle may tour its component
//! from another entry state of the same depth. Here the workers are threads of this process, so the
//! states still travel between workers by fingerprint through timely's exchange and
//! every level ends on timely's progress tracking; crates/lbq/tests/distributed.rs
//! runs the same comparison with separate OS processes over TCP. Each check runs a
//! second time with `--store disk` (each worker's states in files of its own run
//! directory), which must agree the same way and leave no directory behind.

use lbqueue::{presets, Variant};
use lbqueue_models::check::{check_with_progress, Report};
use lbqueue_models::disk_check::{check_distributed, Cluster, DiskOptions};
use lbqueue_models::reduction::Reduction;
use lbqueue_models::Bounds;

/// What must agree: counts, and per property its verdict, note and trace shape.
fn summary(r: &Report) -> (usize, usize, u32, bool, Vec<String>) {
    let props = r
        .properties
        .iter()
        .map(|p| {
            let trace = p.trace.as_ref().map(|t| match t.cycle_start {
                // A lasso: the same prefix length; its cycle is a tour of the same
                // component, possibly from another entry state of the same depth.
                Some(start) => format!("cycle at {start}"),
                None => format!("{} steps", t.actions.len()),
            });
            format!("{} {:?} {:?} {:?}", p.name, p.status, p.note, trace)
        })
        .collect();
    (r.unique_states, r.states, r.max_depth, r.complete, props)
}

fn distributed(scenario: &lbqueue::Scenario, workers: usize, bounds: Bounds) -> Report {
    distributed_in(scenario, workers, bounds, None)
}

fn distributed_in(
    scenario: &lbqueue::Scenario,
    workers: usize,
    bounds: Bounds,
    disk: Option<&DiskOptions>,
) -> Report {
    let cluster = Cluster::local(1, 0, workers, 0).unwrap();
    let (report, stats) = check_distributed(scenario, bounds, Reduction::Streams, &cluster, disk)
        .unwrap_or_else(|e| panic!("{}: {e}", scenario.name))
        .expect("process 0 gets the report");
    assert_eq!(stats.states, report.unique_states);
    report
}

/// A store directory of its own for this test, empty.
fn store_dir(name: &str) -> DiskOptions {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("distributed-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    DiskOptions { dir, keep: false }
}

fn is_empty(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).unwrap().next().is_none()
}

#[test]
fn workers_agree_with_memory_on_every_preset_and_variant_in_ram_and_on_disk() {
    let disk = store_dir("all");
    let mut checked = 0;
    for name in presets::names() {
        for variant in Variant::ALL {
            let scenario = presets::get(name).unwrap().with_variant(variant);
            let bounds = Bounds::unbounded();
            let memory = check_with_progress(&scenario, bounds, Reduction::Streams, &mut |_| {});
            assert!(memory.complete, "{name} × {variant:?} must be complete");
            // 2 workers everywhere, 3 on every third check (a peer count that is not a
            // power of two routes by remainder instead of by mask).
            let workers = if checked % 3 == 0 { 3 } else { 2 };
            let spread = distributed(&scenario, workers, bounds);
            assert_eq!(
                summary(&spread),
                summary(&memory),
                "{name} × {variant:?} on {workers} workers differs"
            );
            // Each worker's states in files of its own: 2 or 3 workers the other way round.
            let workers = 5 - workers;
            let on_disk = distributed_in(&scenario, workers, bounds, Some(&disk));
            assert_eq!(
                summary(&on_disk),
                summary(&memory),
                "{name} × {variant:?} on {workers} workers with --store disk differs"
            );
            assert!(
                is_empty(&disk.dir),
                "{name} × {variant:?}: a run directory is left"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, presets::names().count() * Variant::ALL.len());
}

#[test]
fn one_worker_is_the_single_process_check() {
    let scenario = presets::get("seed").unwrap().with_variant(Variant::Purge);
    let memory = check_with_progress(
        &scenario,
        Bounds::unbounded(),
        Reduction::Streams,
        &mut |_| {},
    );
    assert_eq!(
        summary(&distributed(&scenario, 1, Bounds::unbounded())),
        summary(&memory)
    );
}

#[test]
fn a_bounded_run_is_incomplete_and_stops_between_levels() {
    let scenario = presets::get("two-servers")
        .unwrap()
        .with_variant(Variant::Fixed);
    let bounds = Bounds {
        max_states: Some(5_000),
        ..Bounds::unbounded()
    };
    let full = check_with_progress(
        &scenario,
        Bounds::unbounded(),
        Reduction::Streams,
        &mut |_| {},
    );
    let r = distributed(&scenario, 2, bounds);
    assert!(!r.complete);
    assert_eq!(r.stopped_by, Some("max_states"));
    // The level that crossed the bound was stored whole, and not expanded.
    assert!(r.unique_states >= 5_000 && r.unique_states < full.unique_states);
    assert!(r.max_depth < full.max_depth);
}
