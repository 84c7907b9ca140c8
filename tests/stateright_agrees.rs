//! lbqueue's own explorer (`models/src/graph.rs`) against stateright's BFS checker on the
//! same model: the same reachable state count, and the same verdict for every `always`
//! and `sometimes` property. Liveness is ours alone (stateright's `eventually` misses
//! cycles), so agreement on everything stateright can judge is the check that the graph
//! the liveness searches walk is the model's real state graph.

use lbqueue::{presets, Variant};
use lbqueue_models::check::{check_with_progress, default_bounds};
use lbqueue_models::reduction::{forget_dead, representative, Reduction};
use lbqueue_models::{Kind, Status, StepModel};
use stateright::{Checker, Model};

#[test]
fn our_explorer_and_stateright_bfs_agree_on_every_preset() {
    for scenario in presets::all() {
        for variant in [
            Variant::Toctou,
            Variant::Livelock,
            Variant::Purge,
            Variant::Fixed,
        ] {
            let scenario = scenario.with_variant(variant);
            let ours =
                check_with_progress(&scenario, default_bounds(), Reduction::Off, &mut |_| {});
            let theirs = StepModel::new(scenario.clone())
                .checker()
                .spawn_bfs()
                .join();
            let at = format!("{} {variant}", scenario.name);
            assert!(theirs.is_done(), "{at}");
            assert_eq!(
                theirs.unique_state_count(),
                ours.unique_states,
                "{at}: unique states"
            );
            for p in StepModel::new(scenario.clone()).properties() {
                let found = theirs.discovery(p.name).is_some();
                let report = ours.property(p.name).expect("same property list");
                let expected = match report.kind {
                    Kind::Always => report.status == Status::Violated,
                    Kind::Sometimes => report.status == Status::Reached,
                    _ => unreachable!("stateright properties are always/sometimes"),
                };
                assert_eq!(found, expected, "{at}: {}", p.name);
                if let (true, Some(trace)) = (found, &report.trace) {
                    // Ours is level-order BFS, so never longer than stateright's path.
                    let theirs_len = theirs.discovery(p.name).unwrap().into_actions().len();
                    assert!(
                        trace.steps.len() <= theirs_len,
                        "{at}: {} longer than stateright's",
                        p.name
                    );
                }
            }
        }
    }
}

/// With reduction, our explorer stores one state per class; stateright's DFS with its
/// own symmetry reduction (`symmetry_fn`, which only DFS honours) given the same
/// representative visits one state per class too: the counts agree.
#[test]
fn stateright_dfs_with_symmetry_counts_the_same_classes() {
    fn dead_forgotten(sys: &lbqueue::System) -> lbqueue::System {
        let mut sys = sys.clone();
        forget_dead(&mut sys);
        sys
    }
    for scenario in presets::all() {
        for variant in [Variant::Livelock, Variant::Fixed] {
            let scenario = scenario.with_variant(variant);
            let ours =
                check_with_progress(&scenario, default_bounds(), Reduction::Streams, &mut |_| {});
            let representative_fn = match ours.reduction {
                Reduction::Streams => representative,
                Reduction::Dead => dead_forgotten,
                Reduction::Off => unreachable!("check reduces every preset"),
            };
            let theirs = StepModel::new(scenario.clone())
                .checker()
                .symmetry_fn(representative_fn)
                .spawn_dfs()
                .join();
            let at = format!("{} {variant}", scenario.name);
            assert!(theirs.is_done(), "{at}");
            assert_eq!(theirs.unique_state_count(), ours.unique_states, "{at}");
            for p in StepModel::new(scenario.clone()).properties() {
                let report = ours.property(p.name).expect("same property list");
                let ours_found = matches!(report.status, Status::Violated | Status::Reached);
                assert_eq!(
                    theirs.discovery(p.name).is_some(),
                    ours_found,
                    "{at}: {}",
                    p.name
                );
            }
        }
    }
}
