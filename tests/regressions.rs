//! Saved counterexamples are regression tests: each file under `tests/traces/` is
//! replayed against the current code. In the variant it was found in it must still
//! violate its property (the bug is still caught); against `fixed` it must not.
//! Regenerate one with `lbq check --variant V --trace-out tests/traces/V.json
//! --property P` and replay it with `lbq replay tests/traces/V.json`.

use std::path::Path;

use lbqueue::{presets, Variant};
use lbqueue_models::check::default_bounds;
use lbqueue_models::replay::{replay, TraceFile};
use lbqueue_models::{check, Status};

fn load(name: &str) -> TraceFile {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/traces")
        .join(name);
    TraceFile::parse(&std::fs::read_to_string(&path).expect("trace file"))
        .expect("valid trace file")
}

/// postmortem (8d68717a4): the seed commit's loop — backend queue [S2,S3] left behind by
/// maintenance, S2 grabbed uncounted at `enable`, S4 on S2's thread loops.
#[test]
fn livelock_backend_not_dequeued() {
    let file = load("livelock.json");
    let r = replay(&file, None).unwrap();
    assert!(r.violated, "{}", r.verdict);
    assert!(r.invalid_at.is_none());
    assert!(
        r.verdict.contains("no schedule lets the call return"),
        "{}",
        r.verdict
    );
}

/// postmortem (5541d4995d): queued after the last slot holder looked at the queue.
#[test]
fn toctou_orphan_pendconn() {
    let r = replay(&load("toctou.json"), None).unwrap();
    assert!(r.violated, "{}", r.verdict);
}

/// postmortem (53f52e67a): entries queued after both purges, then the same loop.
#[test]
fn purge_entries_queued_after_the_purge() {
    let r = replay(&load("purge.json"), None).unwrap();
    assert!(r.violated, "{}", r.verdict);
}

#[test]
fn saved_traces_do_not_reproduce_against_fixed() {
    for name in ["livelock.json", "toctou.json", "purge.json"] {
        let r = replay(&load(name), Some(Variant::Fixed)).unwrap();
        assert!(!r.violated, "{name}: {}", r.verdict);
        assert_eq!(r.variant, "fixed");
    }
    // Under fixed the same schedule no longer loops: the replay says where and why.
    let r = replay(&load("livelock.json"), Some(Variant::Fixed)).unwrap();
    assert!(
        r.invalid_at.is_some() || r.verdict.contains("no longer closes"),
        "{}",
        r.verdict
    );
}

/// Every counterexample the checker prints replays as a violation: the round trip
/// check → trace file → parse → replay, on every preset and variant.
#[test]
fn every_counterexample_round_trips_through_a_trace_file() {
    let mut replayed = 0;
    for scenario in presets::all() {
        for variant in Variant::ALL {
            let scenario = scenario.with_variant(variant);
            let report = check(&scenario, default_bounds());
            for p in report
                .properties
                .iter()
                .filter(|p| p.status == Status::Violated)
            {
                let file = TraceFile::new(&scenario, p.name, p.kind, p.trace.clone().unwrap());
                let text = serde_json::to_string(&file).unwrap();
                let r = replay(&TraceFile::parse(&text).unwrap(), None).unwrap();
                assert!(
                    r.violated,
                    "{} {variant} {}: {}",
                    scenario.name, p.name, r.verdict
                );
                replayed += 1;
            }
        }
    }
    // One per violated cell of tests/verdicts.rs's table.
    assert_eq!(replayed, 181, "counterexamples replayed");
}

/// The findings on HAProxy master (findings/*.md): each saved trace still shows its
/// property violated in the variant it names, and no longer in `master-fixed`.
#[test]
fn findings_replay_on_master_and_not_on_master_fixed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("findings");
    for (name, variant, property) in [
        ("master-toctou-orphan.json", "master", "no_orphan_pendconn"),
        (
            "master-ready-srv-giveback.json",
            "master",
            "no_orphan_pendconn",
        ),
        ("master-downed-server.json", "master", "no_orphan_pendconn"),
        (
            "master-backend-queue-drains.json",
            "master",
            "backend_queue_drains",
        ),
        (
            "ready-srv-lock-leak.json",
            "ready-srv",
            "queue_locks_released",
        ),
    ] {
        let text = std::fs::read_to_string(dir.join(name)).expect("finding trace");
        let file = TraceFile::parse(&text).expect("valid trace file");
        assert_eq!(
            (file.variant.as_str(), file.property.as_str()),
            (variant, property)
        );
        let r = replay(&file, None).unwrap();
        assert!(
            r.violated && r.invalid_at.is_none(),
            "{name}: {}",
            r.verdict
        );
        let r = replay(&file, Some(Variant::MasterFixed)).unwrap();
        assert!(!r.violated, "{name} under master-fixed: {}", r.verdict);
    }
}

#[test]
fn a_trace_file_of_another_format_is_refused() {
    let mut doc: serde_json::Value =
        serde_json::from_str(&serde_json::to_string(&load("toctou.json")).unwrap()).unwrap();
    doc["version"] = 99.into();
    let err = TraceFile::parse(&doc.to_string()).unwrap_err();
    assert!(err.contains("field `version`"), "{err}");
    let err = TraceFile::parse("[1, 2, 3]").unwrap_err();
    assert!(err.contains("not an lbq trace file"), "{err}");
}
