//! The disk store (`lbq check --store disk`, `lbqueue_models::disk_check`) against the
//! in-memory check, on every preset × variant: the same verdict per property, the same
//! counts, and the same counterexamples (actions and where the cycle starts). The disk
//! store finds its liveness answers on the residual of an elimination and rebuilds
//! every path from its parents file, so any slip there shows as a difference here.

use lbqueue::{presets, Variant};
use lbqueue_models::check::{check_with_progress, Report};
use lbqueue_models::disk_check::{check_on_disk, DiskOptions};
use lbqueue_models::reduction::Reduction;
use lbqueue_models::Bounds;

/// What must agree: counts, and per property its verdict and trace.
fn summary(r: &Report) -> (usize, usize, u32, bool, Vec<String>) {
    let props = r
        .properties
        .iter()
        .map(|p| {
            let trace = p
                .trace
                .as_ref()
                .map(|t| format!("{:?} cycle at {:?}", t.actions, t.cycle_start));
            format!("{} {:?} {:?} {:?}", p.name, p.status, p.note, trace)
        })
        .collect();
    (r.unique_states, r.states, r.max_depth, r.complete, props)
}

fn store_dir() -> DiskOptions {
    DiskOptions {
        dir: std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("disk-store"),
        keep: false,
    }
}

#[test]
fn disk_store_agrees_with_memory_on_every_preset_and_variant() {
    let opts = store_dir();
    let mut checked = 0;
    for name in presets::names() {
        for variant in Variant::ALL {
            let scenario = presets::get(name).unwrap().with_variant(variant);
            let bounds = Bounds::unbounded();
            let memory = check_with_progress(&scenario, bounds, Reduction::Streams, &mut |_| {});
            let (disk, stats) =
                check_on_disk(&scenario, bounds, Reduction::Streams, &opts, &mut |_| {})
                    .unwrap_or_else(|e| panic!("{name} × {variant:?}: {e}"));
            assert_eq!(
                summary(&disk),
                summary(&memory),
                "{name} × {variant:?}: disk store differs"
            );
            assert!(memory.complete, "{name} × {variant:?} must be complete");
            assert_eq!(stats.states, memory.unique_states);
            assert!(!stats.dir.exists(), "run directory left behind");
            checked += 1;
        }
    }
    assert_eq!(checked, presets::names().count() * Variant::ALL.len());
}

#[test]
fn disk_store_keeps_its_files_when_asked_and_needs_a_fingerprint_slot_per_state() {
    let opts = DiskOptions {
        keep: true,
        ..store_dir()
    };
    let scenario = presets::get("seed").unwrap().with_variant(Variant::Purge);
    let (report, stats) = check_on_disk(
        &scenario,
        Bounds::unbounded(),
        Reduction::Streams,
        &opts,
        &mut |_| {},
    )
    .unwrap();
    assert!(stats.dir.join("states").is_file() && stats.dir.join("parents").is_file());
    let parents = std::fs::metadata(stats.dir.join("parents")).unwrap().len();
    assert_eq!(
        parents,
        8 * report.unique_states as u64,
        "one record per state"
    );
    // A livelocked variant keeps a residual to search; its 16-byte slots stay under
    // 32 bytes a state whatever the table's fill.
    assert!(stats.residual > 0 && stats.residual < stats.states);
    assert!(stats.table_bytes <= 32 * stats.states.max(1 << 16));
    std::fs::remove_dir_all(&stats.dir).unwrap();
}

#[test]
fn a_bounded_disk_search_is_incomplete_like_the_memory_one() {
    let scenario = presets::get("two-servers")
        .unwrap()
        .with_variant(Variant::Fixed);
    let bounds = Bounds {
        max_states: Some(5_000),
        ..Bounds::unbounded()
    };
    let memory = check_with_progress(&scenario, bounds, Reduction::Streams, &mut |_| {});
    let (disk, _) = check_on_disk(
        &scenario,
        bounds,
        Reduction::Streams,
        &store_dir(),
        &mut |_| {},
    )
    .unwrap();
    assert!(!disk.complete);
    assert_eq!(disk.stopped_by, Some("max_states"));
    assert_eq!(summary(&disk), summary(&memory));
}
