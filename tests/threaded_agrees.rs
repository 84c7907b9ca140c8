//! The engines agree: for every preset × variant, with split atomics (as threads run
//! them), what shuttle's random and PCT schedulers find in the threaded composition
//! (fixed seeds, a fixed budget) is a subset of what the step model's exhaustive search
//! reports — a randomized engine may
//! miss a bug, it must never report one the exhaustive search says is absent. And the
//! findings that matter are pinned: shuttle finds the loop in `livelock` (at the
//! reproducer's scale and on `seed`) and in `purge` at the reproducer's scale, and
//! nothing at all in `fixed`, anywhere. (loom's half is tests/loom.rs, a `--cfg loom`
//! build.) `cargo test --release --test threaded_agrees -- --nocapture` prints the table
//! CHECKS.md shows.

use std::collections::BTreeSet;

use lbqueue::threaded::randomized::{run, Options, Report, SchedulerKind};
use lbqueue::{presets, Scenario, Variant};
use lbqueue_models::check::{check, default_bounds};
use lbqueue_models::step_model::{ASSIGN_CAN_RETURN, ASSIGN_SOLO_TERMINATES, ASSIGN_TERMINATES};
use lbqueue_models::Status;

/// Iterations per scheduler and row.
const ITERATIONS: usize = 2000;
/// The campaigns' seed.
const SEED: u64 = 1;
/// PCT's change points.
const DEPTH: usize = 3;

/// The step-model properties a threaded finding stands for (any one of them must be
/// violated for the finding to be sound).
fn stands_for(found: &str) -> Vec<&str> {
    match found {
        // A call that retried past the bound while every other actor ran or could
        // not: a loop that fair schedules do not leave.
        "livelock" => vec![ASSIGN_TERMINATES, ASSIGN_CAN_RETURN],
        // The same while the scheduler starved actors that could have run (PCT): a
        // loop that a fair schedule may leave, or a spin on another actor.
        "spin" => vec![ASSIGN_TERMINATES, ASSIGN_SOLO_TERMINATES],
        // A run longer than shuttle's step bound: a loop, maybe across calls.
        "step_bound" => vec![ASSIGN_TERMINATES, ASSIGN_SOLO_TERMINATES],
        // Every thread parked with a stream unfinished.
        "stuck" => vec!["no_stream_lost"],
        always => vec![always],
    }
}

fn campaign(sc: &Scenario, scheduler: SchedulerKind) -> Report {
    run(sc, &Options::new(sc, scheduler, ITERATIONS, SEED))
}

fn found(r: &Report) -> BTreeSet<String> {
    r.found.iter().map(|f| f.property.clone()).collect()
}

fn show(set: &BTreeSet<String>) -> String {
    if set.is_empty() {
        "—".to_string()
    } else {
        set.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

#[test]
fn shuttle_never_contradicts_the_step_model_and_finds_what_matters() {
    println!("| preset | variant | step model (exhaustive) | shuttle random | shuttle PCT |");
    println!("|---|---|---|---|---|");
    let mut unsound = Vec::new();
    for sc in presets::all() {
        for variant in Variant::ALL {
            let sc = sc.with_variant(variant).with_split_atomics(true);
            let step: BTreeSet<String> = check(&sc, default_bounds())
                .properties
                .iter()
                .filter(|p| p.status == Status::Violated)
                .map(|p| p.name.to_string())
                .collect();
            let random = found(&campaign(&sc, SchedulerKind::Random));
            let pct = found(&campaign(&sc, SchedulerKind::Pct { depth: DEPTH }));
            println!(
                "| {} | {} | {} | {} | {} |",
                sc.name,
                variant,
                show(&step),
                show(&random),
                show(&pct)
            );
            for f in random.iter().chain(&pct) {
                if !stands_for(f).iter().any(|p| step.contains(*p)) {
                    unsound.push(format!("{} {variant}: shuttle found {f}", sc.name));
                }
            }
            if variant == Variant::Fixed {
                assert!(
                    random.is_empty() && pct.is_empty(),
                    "{}: fixed fails",
                    sc.name
                );
            }
            if variant == Variant::Livelock && sc.name == "seed" {
                assert!(random.contains("livelock"), "{random:?}");
                assert!(pct.contains("livelock") || pct.contains("spin"), "{pct:?}");
            }
        }
    }
    assert!(unsound.is_empty(), "{unsound:#?}");
}

#[test]
fn at_the_reproducers_scale_shuttle_finds_both_loops_the_lock_leak_and_nothing_in_the_fixes() {
    let repro = presets::get(presets::REPRO)
        .expect("preset")
        .with_split_atomics(true);
    for scheduler in [SchedulerKind::Random, SchedulerKind::Pct { depth: DEPTH }] {
        for variant in [Variant::Livelock, Variant::Purge] {
            let r = campaign(&repro.with_variant(variant), scheduler);
            assert!(
                found(&r).contains("livelock"),
                "{variant} {scheduler}: {:?}",
                found(&r)
            );
        }
        for variant in [Variant::Fixed, Variant::MasterFixed] {
            let r = campaign(&repro.with_variant(variant), scheduler);
            assert!(!r.failed(), "{variant} {scheduler}: {:?}", found(&r));
            assert!(r.complete);
        }
    }
    // v3.2-dev2's lock leak is frequent at this scale (findings/ready-srv-lock-leak.md).
    let r = campaign(
        &repro.with_variant(Variant::ReadySrv),
        SchedulerKind::Random,
    );
    assert!(
        found(&r).contains("queue_locks_released"),
        "{:?}",
        found(&r)
    );
}
