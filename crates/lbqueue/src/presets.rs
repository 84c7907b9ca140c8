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

/// The default preset's name.
pub const DEFAULT: &str = "seed";

/// Every preset, parsed.
pub fn all() -> Vec<Scenario> {
    PRESETS
        .iter()
        .map(|(name, _)| get(name).expect("listed"))
        .collect()
}

/// The preset called `name`, if any.
pub fn get(name: &str) -> Option<Scenario> {
    let (_, text) = PRESETS.iter().find(|(n, _)| *n == name)?;
    Some(Scenario::from_toml(text, name).expect("embedded presets are valid"))
}

/// The preset names, in order.
pub fn names() -> impl Iterator<Item = &'static str> {
    PRESETS.iter().map(|(n, _)| *n)
}
