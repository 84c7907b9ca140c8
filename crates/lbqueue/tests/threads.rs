//! The threaded composition in lbqueue's own tests, on `seed` with split atomics (as the
//! threaded engines run it): shuttle finds the livelock's loop and its schedule replays
//! to the same loop; shuttle finds nothing in `fixed`; the stress campaign runs `fixed`
//! on OS threads with nothing for its watchdog. (tests/threaded_agrees.rs in the
//! workspace compares every preset with the step model; tests/loom.rs is loom's.)

use std::time::{Duration, Instant};

use lbqueue::threaded::facade::Std;
use lbqueue::threaded::randomized::{replay, run, Options, SchedulerKind};
use lbqueue::threaded::{self, stress, Config, Shared};
use lbqueue::{presets, step, Actor, Journal, Scenario, System, Variant};

/// `seed` under `variant` with split atomics, and with 3372a2ea0's compare-and-swap
/// (the "is it full" test and the slot in one section): the loops and counts pinned
/// here are the try-again loop's, not the older variants' maxconn overshoot (which
/// tests/verdicts.rs pins).
fn seed(variant: Variant) -> Scenario {
    let mut sc = presets::get("seed")
        .expect("preset")
        .with_variant(variant)
        .with_split_atomics(true);
    sc.changes.push((lbqueue::Switch::SlotReservedAtPick, true));
    sc
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

/// `one-thread` under `livelock`: every thread parks for good with S3 queued in the
/// backend queue (nobody will ever dequeue it).
const ONE_THREAD_TO_STUCK: &str = "client T1 T1 client T1 T1 T1 T1 T1 client client \
                                   T1 T1 T1 T1 CLI T1 CLI CLI T1 T1 CLI CLI CLI T1";

/// How long a test waits for the composition before calling it hung (a failure; a
/// passing run never comes near it).
const HUNG: Duration = Duration::from_secs(20);

/// Gives `actor` the next turn of a gated run and waits until a worker took it.
fn take_turn(shared: &Shared<Std>, actor: Actor) -> System {
    let mut m = shared.lock();
    m.turn = Some(actor);
    shared.changed.notify_all();
    let deadline = Instant::now() + HUNG;
    while m.turn.is_some() {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no worker ran {actor}");
        m = shared.changed.wait_timeout(m, left).expect("lock").0;
    }
    m.sys.clone()
}

#[test]
fn a_gated_run_runs_exactly_its_turns_never_calls_itself_stuck_and_halt_stops_it() {
    let mut sc = presets::get("one-thread")
        .expect("preset")
        .with_variant(Variant::Livelock);
    // One section per slot, as the path above was written (3372a2ea0's CAS).
    sc.changes.push((lbqueue::Switch::SlotReservedAtPick, true));
    let running = threaded::start::<Std>(
        &sc,
        Config {
            round_bound: None,
            record: true,
            gated: true,
        },
    );
    let shared = running.shared();
    let path: Vec<Actor> = ONE_THREAD_TO_STUCK
        .split(' ')
        .map(|a| a.parse().expect("an actor"))
        .collect();
    let mut model = System::new(&sc);
    for (n, &actor) in path.iter().enumerate() {
        step(&mut model, &sc, actor, &mut Journal::silent());
        assert_eq!(take_turn(shared, actor), model, "after {actor}");
        let m = shared.lock();
        assert_eq!(m.sections, n as u64 + 1, "only the turns given run");
        assert_eq!(m.history, path[..=n]);
    }
    // Every thread parked with S3 queued: the CLI's and the clients' workers are
    // done, T1's waits for a turn. The driver, not the run, decides it is over.
    let deadline = Instant::now() + HUNG;
    while shared.lock().live_workers > 1 {
        assert!(
            Instant::now() < deadline,
            "the CLI and the clients never finished"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    {
        let m = shared.lock();
        assert_eq!(m.live_workers, 1);
        assert_eq!(m.failure, None, "a gated run is never stuck by itself");
    }
    shared.halt();
    assert!(shared.lock().halt);
    let out = running.finish();
    assert_eq!(out.failure, None);
    assert_eq!(out.sections, 25);
    assert_eq!(out.history, path);
    assert_eq!(out.sys, model);
    let properties: Vec<&str> = out.violations.iter().map(|v| v.property.as_str()).collect();
    assert_eq!(properties, ["no_orphan_pendconn", "no_stream_lost"]);
}

#[test]
fn a_campaign_stops_at_the_first_failing_run_when_asked() {
    let sc = seed(Variant::Livelock);
    let mut options = Options::new(&sc, SchedulerKind::Random, 500, 1);
    options.stop_at_first = true;
    let report = run(&sc, &options);
    assert!(!report.complete);
    assert_eq!(report.found.len(), 1, "{:?}", report.properties());
    let first = &report.found[0];
    assert_eq!((first.iteration, first.count), (report.iterations_run, 1));
    assert!(report.iterations_run < 500);

    // Nothing fails in `fixed`: the whole budget runs.
    let sc = seed(Variant::Fixed);
    let mut options = Options::new(&sc, SchedulerKind::Random, 20, 1);
    options.stop_at_first = true;
    let report = run(&sc, &options);
    assert!(
        report.complete && !report.failed(),
        "{:?}",
        report.properties()
    );
    assert_eq!(report.iterations_run, 20);
}

#[test]
fn a_campaign_counts_every_failing_run_of_a_kind() {
    // Seed pinned, so shuttle's schedules are too: the same runs fail every time.
    let sc = seed(Variant::Livelock);
    let report = run(&sc, &Options::new(&sc, SchedulerKind::Random, 500, 1));
    assert!(report.complete);
    assert_eq!(report.iterations_run, 500);
    let counts: Vec<(&str, usize)> = report
        .found
        .iter()
        .map(|f| (f.property.as_str(), f.count))
        .collect();
    // maxconn_respected: `pendconn_grab_from_px` hands s1 a stream off the books while
    // another takes the counted slot (before 111ea83ed).
    assert_eq!(
        counts,
        [
            ("backend_queue_drains", 4),
            ("livelock", 1),
            ("maxconn_respected", 3)
        ]
    );
}

#[test]
fn shuttles_step_bound_fails_the_run_and_its_schedule_replays() {
    let sc = seed(Variant::Fixed);
    let mut options = Options::new(&sc, SchedulerKind::Random, 10, 5);
    // Far below what one run takes: shuttle gives up in the first run.
    options.max_steps = 50;
    let report = run(&sc, &options);
    assert_eq!(report.properties(), ["step_bound"]);
    assert_eq!((report.iterations_run, report.complete), (1, false));
    let found = &report.found[0];
    assert_eq!((found.iteration, found.count), (1, 1));
    assert!(
        found.detail.contains("exceeded max_steps"),
        "{}",
        found.detail
    );
    assert!(!found.schedule.is_empty());
    let again = replay(&sc, &options, &found.schedule).expect("a schedule shuttle wrote");
    assert_eq!(again.properties(), ["step_bound"]);
}
