//! The scenario files under `scenarios/`: one notch larger than the presets (more
//! threads, more streams, two CLI cycles, maxconn 2, two servers down). `fixed` must
//! hold on each of them completely, and `purge` must still be caught on each.

use std::path::Path;

use lbqueue::{Scenario, Variant};
use lbqueue_models::check::default_bounds;
use lbqueue_models::step_model::ASSIGN_TERMINATES;
use lbqueue_models::{check, Status};

fn load(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).expect("scenario file");
    Scenario::from_toml(&text, name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const FILES: [&str; 4] = [
    "three-threads",
    "two-cycles",
    "maxconn-2",
    "both-servers-down",
];

#[test]
fn fixed_holds_completely_on_the_larger_scenarios() {
    for name in FILES {
        let r = check(&load(name).with_variant(Variant::Fixed), default_bounds());
        assert!(r.complete, "{name}: incomplete");
        assert_eq!(
            r.exit_code(),
            0,
            "lbq check --scenario scenarios/{name}.toml: {:?}",
            r.properties
        );
    }
}

#[test]
fn purge_is_caught_on_the_larger_scenarios() {
    for name in ["maxconn-2", "both-servers-down"] {
        let r = check(&load(name).with_variant(Variant::Purge), default_bounds());
        let at = r.property(ASSIGN_TERMINATES).map(|p| p.status);
        assert_eq!(at, Some(Status::Violated), "{name}");
    }
}
