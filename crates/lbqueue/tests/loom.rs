//! loom: the threaded composition, with split atomics, under every interleaving up to
//! a preemption bound (3–4 threads besides loom's main one). Built only with `--cfg loom`:
//!
//! `RUSTFLAGS="--cfg loom" cargo test --release -p lbqueue --test loom`
//!
//! `fixed` must pass; `livelock` must fail with its loop. The preemption bound keeps the
//! search finite; a schedule that needs more preemptions is not explored (CHECKS.md,
//! "Threads").
#![cfg(loom)]

use std::panic::{self, AssertUnwindSafe};

use lbqueue::threaded::facade::Loom;
use lbqueue::threaded::{run, Config, Failure, Outcome};
use lbqueue::{presets, Variant};

/// A call of assign_server_and_queue retrying this often is a loop: a correct run
/// retries at most once per call.
const ROUND_BOUND: u32 = 3;

/// What fails an interleaving: anything (a loop, a stuck run, a broken property).
fn anything(out: &Outcome) -> Option<String> {
    out.failure
        .as_ref()
        .map(Failure::to_string)
        .or_else(|| out.violations.first().map(|v| v.to_string()))
}

/// What fails an interleaving: only a loop in assign_server_and_queue that went on
/// while every other actor ran or could not (not one where loom starved them).
fn a_loop(out: &Outcome) -> Option<String> {
    match &out.failure {
        Some(
            f @ Failure::Livelock {
                starved_others: false,
                ..
            },
        ) => Some(f.to_string()),
        _ => None,
    }
}

/// Explores `preset` under `variant`; `Err` with the first interleaving that `fails`.
fn explore(
    preset: &str,
    variant: Variant,
    preemptions: usize,
    fails: fn(&Outcome) -> Option<String>,
) -> Result<(), String> {
    let scenario = presets::get(preset)
        .expect("preset")
        .with_variant(variant)
        .with_split_atomics(true);
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(preemptions);
    let config = Config {
        round_bound: Some(ROUND_BOUND),
        record: false,
        gated: false,
    };
    panic::catch_unwind(AssertUnwindSafe(|| {
        builder.check(move || {
            if let Some(why) = fails(&run::<Loom>(&scenario, config)) {
                panic!("{why}");
            }
        })
    }))
    .map_err(|payload| lbqueue::threaded::panic_message(payload.as_ref()))
}

/// What fails an interleaving: a stream left waiting with nobody to dequeue it (every
/// thread parked, or `no_orphan_pendconn`); `livelock` also overshoots maxconn (its
/// `pendconn_grab_from_px`), which is not what this looks for.
fn a_stranded_stream(out: &Outcome) -> Option<String> {
    match &out.failure {
        Some(f @ Failure::Stuck { .. }) => Some(f.to_string()),
        _ => out
            .violations
            .iter()
            .find(|v| v.property == "no_orphan_pendconn")
            .map(|v| v.to_string()),
    }
}

#[test]
fn fixed_passes_one_thread() {
    explore("one-thread", Variant::Fixed, 2, anything).expect("fixed has no failing interleaving");
}

#[test]
fn fixed_passes_seed() {
    explore("seed", Variant::Fixed, 2, anything).expect("fixed has no failing interleaving");
}

#[test]
fn livelock_loops_one_thread() {
    let err = explore("one-thread", Variant::Livelock, 2, a_loop).expect_err("livelock loops");
    assert!(err.starts_with("livelock: T1 looped"), "{err}");
}

#[test]
fn livelock_loops_seed() {
    let err = explore("seed", Variant::Livelock, 2, a_loop).expect_err("livelock loops");
    assert!(err.starts_with("livelock: T"), "{err}");
}

#[test]
fn livelock_strands_a_stream_one_thread() {
    let err = explore("one-thread", Variant::Livelock, 2, a_stranded_stream)
        .expect_err("livelock strands");
    assert!(err.contains("S4"), "{err}");
}
