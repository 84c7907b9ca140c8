//! The checker's hot path, piece by piece: what `Graph::explore` does per state and per
//! transition (generate the actions, `next_state` = clone + one section, hash the
//! successor, evaluate the `always` properties), then whole explorations and a whole
//! check of the `one-thread` preset.
//!
//! `cargo bench -p lbqueue-models` (add `-- --quick` for a fast look). Sample sizes and
//! times are small: the numbers are for comparing before/after an optimisation on the
//! same machine, not for publishing.

use std::hash::BuildHasher;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lbqueue::{presets, Actor, System, Variant};
use lbqueue_models::check::default_bounds;
use lbqueue_models::graph::{Bounds, Graph};
use lbqueue_models::{check, StepModel};
use stateright::{Expectation, Model};
use std::hint::black_box;

/// The `seed` preset under `fixed` (the largest preset that every variant verifies).
fn seed_model() -> StepModel {
    StepModel::new(
        presets::get("seed")
            .expect("preset")
            .with_variant(Variant::Fixed),
    )
}

/// Representative states of a model: the initial state, the state with the most enabled
/// actions at half the maximum depth, and one at the maximum depth.
fn representative_states(model: &StepModel) -> Vec<(&'static str, System)> {
    let g = Graph::explore(model, Bounds::unbounded());
    let max = g.max_depth();
    let at_depth = |d: u32| {
        (0..g.len() as u32)
            .filter(|&i| g.depth[i as usize] == d)
            .max_by_key(|&i| (g.out(i).len(), std::cmp::Reverse(i)))
            .expect("a state at every depth up to the maximum")
    };
    vec![
        ("initial", g.state(0).into_owned()),
        ("mid-depth", g.state(at_depth(max / 2)).into_owned()),
        ("deepest", g.state(at_depth(max)).into_owned()),
    ]
}

fn actions_of(model: &StepModel, s: &System) -> Vec<Actor> {
    let mut actions = Vec::new();
    model.actions(s, &mut actions);
    actions
}

fn per_state(c: &mut Criterion) {
    let model = seed_model();
    let states = representative_states(&model);

    let mut g = c.benchmark_group("next_state");
    for (name, s) in &states {
        let actions = actions_of(&model, s);
        g.throughput(Throughput::Elements(actions.len() as u64));
        // Every enabled action of the state, as explore does.
        g.bench_function(*name, |b| {
            b.iter(|| {
                for &a in &actions {
                    black_box(model.next_state(black_box(s), a));
                }
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("actions");
    for (name, s) in &states {
        g.bench_function(*name, |b| {
            let mut out = Vec::new();
            b.iter(|| {
                out.clear();
                model.actions(black_box(s), &mut out);
                black_box(out.len())
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("system");
    let (_, deep) = &states[2];
    // The explorer's index hashes with std's RandomState (SipHash-1-3).
    let hasher = std::collections::hash_map::RandomState::new();
    g.bench_function("hash", |b| b.iter(|| hasher.hash_one(black_box(deep))));
    // Clone and drop: what `next_state` pays before the section runs (and, for a
    // duplicate successor, after).
    g.bench_function("clone", |b| b.iter(|| black_box(deep).clone()));
    g.bench_function("eq", |b| {
        let other = deep.clone();
        b.iter(|| black_box(deep) == black_box(&other))
    });
    g.finish();

    // What `Graph::explore` evaluates on every state until each is discovered.
    let always: Vec<_> = model
        .properties()
        .into_iter()
        .filter(|p| p.expectation == Expectation::Always)
        .collect();
    let mut g = c.benchmark_group("always_properties");
    for (name, s) in &states {
        g.bench_function(*name, |b| {
            b.iter(|| {
                always
                    .iter()
                    .filter(|p| (p.condition)(&model, black_box(s)))
                    .count()
            })
        });
    }
    for p in &always {
        g.bench_function(format!("deepest/{}", p.name), |b| {
            b.iter(|| (p.condition)(&model, black_box(deep)))
        });
    }
    g.finish();
}

fn whole(c: &mut Criterion) {
    let scenario = presets::get("one-thread")
        .expect("preset")
        .with_variant(Variant::Fixed);
    let model = StepModel::new(scenario.clone());
    let transitions = Graph::explore(&model, Bounds::unbounded()).transitions;
    let mut g = c.benchmark_group("one-thread");
    g.sample_size(10);
    g.throughput(Throughput::Elements(transitions as u64));
    g.bench_function("explore", |b| {
        b.iter(|| Graph::explore(&model, Bounds::unbounded()).len())
    });
    g.bench_function("check", |b| {
        b.iter(|| check(black_box(&scenario), default_bounds()).unique_states)
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = per_state, whole
}
criterion_main!(benches);
