//! The model's side: which lbqueue variant a real build corresponds to (one table),
//! and the model's verdict for it on the `seed` preset (the reproducer's shape: one
//! server with maxconn 1, the CLI's disable/shutdown/enable).

use lbqueue::{presets, Variant};
use lbqueue_models::check::{check, default_bounds};
use lbqueue_models::step_model::{ASSIGN_CAN_RETURN, ASSIGN_SOLO_TERMINATES, ASSIGN_TERMINATES};
use lbqueue_models::{Report, Status};
use serde::{Deserialize, Serialize};

/// A real HAProxy that a variant names.
pub struct Known {
    /// The label in reports and tables (the commit, or `debian-2.6`).
    pub label: &'static str,
    /// What identifies it in `haproxy -v` or a tarball's name.
    pub matches: &'static str,
    /// The lbqueue variant's name (looked up at run time: it may not exist yet).
    pub variant: &'static str,
    /// What it is.
    pub what: &'static str,
}

/// Every real HAProxy with a matching variant.
pub const KNOWN: &[Known] = &[
    Known {
        label: "debian-2.6",
        matches: "2.6.12-",
        variant: "toctou",
        what: "Debian 12's haproxy 2.6.12, before 5541d4995d",
    },
    Known {
        label: "8d68717a4",
        matches: "8d68717a4",
        variant: "livelock",
        what: "parent of the seed commit: the livelock",
    },
    Known {
        label: "53f52e67a",
        matches: "53f52e67a",
        variant: "purge",
        what: "the seed commit: backend queue purged",
    },
    Known {
        label: "ca275d99c",
        matches: "ca275d99c",
        variant: "ca275",
        what: "never queue when there's no more served conns",
    },
    Known {
        label: "111ea83ed",
        matches: "111ea83ed",
        variant: "upstream",
        what: "no more pendconn_grab_from_px",
    },
    Known {
        label: "50872daa6",
        matches: "50872daa6",
        variant: "master",
        what: "master, v3.5-dev5-2",
    },
];

/// The known build whose identifier appears in `text` (a version line or a file name).
pub fn known(text: &str) -> Option<&'static Known> {
    KNOWN.iter().find(|k| text.contains(k.matches))
}

/// The model's verdict for one variant.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ModelVerdict {
    /// The variant's name.
    pub variant: String,
    /// The verdict with HAProxy's counter updates in their sections (`atomics =
    /// "in-section"`), or "no variant yet" when lbqueue has no such variant.
    pub in_section: String,
    /// The verdict with the atomics split into steps of their own.
    pub split: String,
}

impl ModelVerdict {
    /// One phrase: the verdict, and the split one when it differs.
    pub fn summary(&self) -> String {
        if self.in_section == self.split {
            self.in_section.clone()
        } else {
            format!("{} (split atomics: {})", self.in_section, self.split)
        }
    }
}

/// Checks `variant` on the `seed` preset, atomics in-section and split, with the
/// run's `option abortonclose` (without it, as in the reproducer's default
/// configuration, a stream killed before it connected connects first).
pub fn model_verdict(variant: &str, abortonclose: bool) -> ModelVerdict {
    let Ok(v) = variant.parse::<Variant>() else {
        return ModelVerdict {
            variant: variant.to_string(),
            in_section: "no variant yet".into(),
            split: "no variant yet".into(),
        };
    };
    let Some(seed) = presets::get("seed") else {
        return ModelVerdict {
            variant: variant.to_string(),
            in_section: "no seed preset".into(),
            split: "no seed preset".into(),
        };
    };
    let mut s = seed.with_variant(v);
    s.abortonclose = abortonclose;
    let one = |split: bool| summarise(&check(&s.with_split_atomics(split), default_bounds()));
    ModelVerdict {
        variant: variant.to_string(),
        in_section: one(false),
        split: one(true),
    }
}

/// The report in one phrase: "stuck loop" (assign_can_return violated: the loop the
/// watchdog kills), "fair loop" (assign_terminates), "spin-wait" (only
/// assign_solo_terminates), "orphan" (no_orphan_pendconn / no_stream_lost), "holds";
/// " + orphan" is added to a loop when pendconns are orphaned too.
pub fn summarise(r: &Report) -> String {
    let violated = |name: &str| {
        r.property(name)
            .is_some_and(|p| p.status == Status::Violated)
    };
    let orphan = violated("no_orphan_pendconn") || violated("no_stream_lost");
    let lp = if violated(ASSIGN_CAN_RETURN) {
        Some("stuck loop")
    } else if violated(ASSIGN_TERMINATES) {
        Some("fair loop")
    } else if violated(ASSIGN_SOLO_TERMINATES) {
        Some("spin-wait")
    } else {
        None
    };
    match (lp, orphan) {
        (Some(l), true) => format!("{l} + orphan"),
        (Some(l), false) => l.to_string(),
        (None, true) => "orphan".to_string(),
        (None, false) if !r.complete => "incomplete".to_string(),
        (None, false) if r.any_violated() => "other violation".to_string(),
        (None, false) => "holds".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_known_builds_map_to_variants() {
        assert_eq!(
            known("HAProxy version 3.1-dev8-8d68717a4 2024/10/01").map(|k| k.variant),
            Some("livelock")
        );
        assert_eq!(
            known("HAProxy version 2.6.12-1+deb12u4 2026/10/17").map(|k| k.label),
            Some("debian-2.6")
        );
        assert!(known("HAProxy version 2.9.0").is_none());
    }

    #[test]
    fn the_model_verdicts_match_checks_md() {
        let aoc = true;
        assert_eq!(
            model_verdict("livelock", aoc).in_section,
            "stuck loop + orphan"
        );
        assert_eq!(model_verdict("toctou", aoc).in_section, "orphan");
        assert_eq!(model_verdict("fixed", aoc).in_section, "holds");
        assert_eq!(
            model_verdict("no-such-variant", aoc).summary(),
            "no variant yet"
        );
        // Without abortonclose the orphan of a stream killed before it connected goes;
        // the loop stays.
        assert_eq!(model_verdict("livelock", false).in_section, "stuck loop");
        assert_eq!(model_verdict("ca275", false).summary(), "stuck loop");
    }
}
