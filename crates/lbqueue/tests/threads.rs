//! The threaded composition in lbqueue's own tests, on `seed` with split atomics (as the
//! threaded engines run it): shuttle finds the livelock's loop and its schedule replays
//! to the same loop; shuttle finds nothing in `fixed`; the stress campaign runs `fixed`
//! on OS threads with nothing for its watchdog. (tests/threaded_agrees.rs in the
//! workspace compares every preset with the step model; tests/loom.rs is loom's.)

use std::time::Duration;

use lbqueue::threaded::randomized::{replay, run, Options, SchedulerKind};
use lbqueue::threaded::stress;
use lbqueue::{presets, Scenario, Variant};

fn seed(variant: Variant) -> Scenario {
    presets::get("seed")
        .expect("preset")
        .with_variant(variant)
        .with_split_atomics(true)
}

#[test]
fn shuttle_finds_the_livelock_and_its_schedule_replays_it() {
    let sc = seed(Variant::Livelock);
    let options = Options::new(&sc, SchedulerKind::Random, 500, 1);
    let report = run(&sc, &options);
    assert!(report.failed());
    let found = report
        .found
        .iter()
        .find(|f| f.property == "livelock")
        .unwrap_or_else(|| panic!("no livelock in {:?}", report.properties()));
    assert!(found.iteration >= 1 && found.iteration <= report.iterations_run);
    assert!(found.count >= 1 && !found.history.is_empty());
    assert!(found.detail.contains("balance_again"), "{}", found.detail);
    let again = replay(&sc, &options, &found.schedule).expect("a schedule shuttle wrote");
    assert_eq!(again.iterations_run, 1);
    assert!(
        again.found.iter().any(|f| f.property == "livelock"),
        "{:?}",
        again.properties()
    );
    assert!(replay(&sc, &options, "not a schedule").is_err());
}

#[test]
fn shuttle_finds_nothing_in_fixed() {
    let sc = seed(Variant::Fixed);
    for scheduler in [SchedulerKind::Random, SchedulerKind::Pct { depth: 3 }] {
        let report = run(&sc, &Options::new(&sc, scheduler, 300, 7));
        assert!(!report.failed(), "{scheduler}: {:?}", report.properties());
        assert!(report.complete);
        assert_eq!(report.iterations_run, 300);
        assert!(report.sections > 300 * 20, "{}", report.sections);
    }
}

#[test]
fn the_stress_watchdog_stays_quiet_on_fixed() {
    let sc = seed(Variant::Fixed);
    let report = stress::run(
        &sc,
        stress::Options {
            duration: Duration::from_millis(300),
            watchdog: Duration::from_millis(1000),
        },
    );
    assert!(report.hit.is_none(), "{:?}", report.hit);
    assert_eq!(report.stuck_runs, 0);
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert!(report.runs > 1 && report.sections > 20 * report.runs as u64);
    assert_eq!(report.watchdog_ms, 1000);
}
