//! The named scenarios embedded in the binary (`lbq list`). Each is a scenario file
//! under `crates/lbqueue/presets/`, parsed by the same code as user files.

use crate::scenario::Scenario;

/// (name, TOML text) of every preset; the first one is the default.
const PRESETS: &[(&str, &str)] = &[
    ("seed", include_str!("../presets/seed.toml")),
    ("one-thread", include_str!("../presets/one-thread.toml")),
    ("hash", include_str!("../presets/hash.toml")),
    ("two-servers", include_str!("../presets/two-servers.toml")),
    ("timeouts", include_str!("../presets/timeouts.toml")),
    ("first", include_str!("../presets/first.toml")),
];

/// (name, TOML text) of the presets at reproduction scale: for the threaded engines
/// (`lbq shuttle`, `lbq stress`), too large for an exhaustive search.
const REPRODUCTION: &[(&str, &str)] = &[("repro", include_str!("../presets/repro.toml"))];

/// The default preset's name.
pub const DEFAULT: &str = "seed";

/// Every checkable preset, parsed.
pub fn all() -> Vec<Scenario> {
    PRESETS
        .iter()
        .map(|(name, _)| get(name).expect("listed"))
        .collect()
}

/// The default scenario of the threaded engines.
pub const REPRO: &str = "repro";

/// The preset called `name` (checkable or at reproduction scale), if any.
pub fn get(name: &str) -> Option<Scenario> {
    let (_, text) = PRESETS
        .iter()
        .chain(REPRODUCTION)
        .find(|(n, _)| *n == name)?;
    Some(Scenario::from_toml(text, name).expect("embedded presets are valid"))
}

/// The presets at reproduction scale, parsed.
pub fn reproduction() -> Vec<Scenario> {
    REPRODUCTION
        .iter()
        .map(|(name, _)| get(name).expect("listed"))
        .collect()
}

/// The checkable preset names, in order.
pub fn names() -> impl Iterator<Item = &'static str> {
    PRESETS.iter().map(|(n, _)| *n)
}
