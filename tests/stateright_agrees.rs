//! lbqueue's own explorer (`models/src/graph.rs`) against stateright's BFS checker on the
//! same model: the same reachable state count, and the same verdict for every `always`
//! and `sometimes` property. Liveness is ours alone (stateright's `eventually` misses
//! cycles), so agreement on everything stateright can judge is the check that the graph
//! the liveness searches walk is the model's real state graph.

use lbqueue::{presets, Variant};
use lbqueue_models::check::default_bounds;
use lbqueue_models::{check, Kind, Status, StepModel};
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
            let ours = check(&scenario, default_bounds());
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
