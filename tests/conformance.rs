//! Conformance: the threaded composition (std back end, real OS threads, driven one
//! section at a time in the order a random history gives) and the step model reach
//! the same observable state after every step — queues and their order, served,
//! totpend, beconn, every stream's state, every thread's task and run queue, the CLI's
//! position. It also checks that the composition's threads can run exactly what the
//! model says is enabled: a thread that has parked for good, exited, or runs out of
//! turn shows up as a history the composition cannot follow.
//!
//! Histories: random small scenarios (`lbqueue::random`, every variant in turn, atomics
//! split or in-section by a coin) and a uniformly random enabled actor at each step; seeds pinned, `LBQ_SEED` reruns one.

use std::time::{Duration, Instant};

use lbqueue::random::{derive_seed, random_scenario, Atomics, Limits, SplitMix64};
use lbqueue::threaded::facade::Std;
use lbqueue::threaded::{start, Config};
use lbqueue::{enabled_actors, step, Actor, Journal, Scenario, System, Variant};

/// Histories per run of the test (spread over every variant).
const HISTORIES: u64 = 1_050;
/// The pinned seed.
const SEED: u64 = 0x1b9_c0f0;
/// Longest history.
const MAX_STEPS: usize = 120;
/// How long the driver waits for the composition to take one turn.
const TURN_TIMEOUT: Duration = Duration::from_secs(5);

/// Drives the composition of `threaded` and the step model of `model` through one
/// random history; the first step after which they disagree, in words.
fn follow(model: &Scenario, threaded: &Scenario, rng: &mut SplitMix64) -> Result<usize, String> {
    let running = start::<Std>(
        threaded,
        Config {
            round_bound: None,
            record: false,
            gated: true,
        },
    );
    let shared = running.shared();
    let mut sys = System::new(model);
    let mut enabled = Vec::new();
    let mut result = Ok(0);
    for n in 1..=MAX_STEPS {
        enabled.clear();
        enabled_actors(&sys, model, &mut enabled);
        if enabled.is_empty() {
            break;
        }
        let actor = *rng.pick(&enabled);
        step(&mut sys, model, actor, &mut Journal::silent());
        if let Err(e) = take_turn(shared, actor).and_then(|threaded_sys| {
            (threaded_sys == sys).then_some(()).ok_or_else(|| {
                format!("states differ:\n  model:    {sys:?}\n  threaded: {threaded_sys:?}")
            })
        }) {
            result = Err(format!("step {n} ({actor}): {e}"));
            break;
        }
        result = Ok(n);
    }
    shared.halt();
    running.finish();
    result
}

/// Gives `actor` the next turn and waits until its thread has run the section; the
/// composition's state after it.
fn take_turn(shared: &lbqueue::threaded::Shared<Std>, actor: Actor) -> Result<System, String> {
    let mut m = shared.lock();
    m.turn = Some(actor);
    shared.changed.notify_all();
    let deadline = Instant::now() + TURN_TIMEOUT;
    while m.turn.is_some() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("no thread of the composition runs {actor}"));
        }
        m = shared
            .changed
            .wait_timeout(m, left)
            .map_err(|_| "a worker panicked".to_string())?
            .0;
    }
    Ok(m.sys.clone())
}

fn seed() -> u64 {
    match std::env::var("LBQ_SEED") {
        Ok(s) => s.parse().expect("LBQ_SEED: a decimal seed"),
        Err(_) => SEED,
    }
}

#[test]
fn threaded_composition_and_step_model_agree_after_every_step() {
    let seed = seed();
    println!("conformance: seed {seed} (LBQ_SEED={seed} reruns it), {HISTORIES} histories");
    let mut steps = 0;
    for i in 0..HISTORIES {
        let variant = Variant::ALL[i as usize % Variant::ALL.len()];
        let mut rng = SplitMix64::new(derive_seed(seed, i));
        // Its own coin for the atomics, drawn first (the histories of this seed as they
        // were before random scenarios drew atomics themselves).
        let atomics = if rng.coin() {
            Atomics::Split
        } else {
            Atomics::InSection
        };
        let sc = random_scenario(
            &mut rng,
            &Limits {
                atomics,
                ..Limits::small(variant)
            },
        );
        match follow(&sc, &sc, &mut rng) {
            Ok(n) => steps += n,
            Err(e) => panic!(
                "history {i} (seed {seed}, {variant}) diverges at {e}\nscenario:\n{}",
                sc.to_toml()
            ),
        }
    }
    println!("conformance: {steps} steps compared");
    assert!(
        steps > 10 * HISTORIES as usize,
        "histories too short: {steps} steps"
    );
}

/// The comparison can fail: a composition running `livelock` code against a model of
/// `fixed` diverges on some history, and the test names the step.
#[test]
fn a_composition_of_other_code_is_caught() {
    let seed = seed();
    let diverged = (0..200).find_map(|i| {
        let mut rng = SplitMix64::new(derive_seed(seed, i));
        let model = random_scenario(
            &mut rng,
            &Limits {
                atomics: Atomics::InSection,
                ..Limits::small(Variant::Fixed)
            },
        );
        follow(&model, &model.with_variant(Variant::Livelock), &mut rng).err()
    });
    let e = diverged.expect("livelock and fixed differ on some small history");
    assert!(e.starts_with("step "), "{e}");
}
