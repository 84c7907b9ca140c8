//! Saved counterexamples: the trace file format, and replaying a trace against the
//! current code — so that a saved trace is a regression test.
//!
//! Replay re-runs the actions from the scenario's initial state through
//! [`lbqueue::step`], stopping at the first action whose actor can no longer run, then
//! judges the property on what it reached: an `always` property on the last state; a
//! lasso by checking that the cycle closes (the state after the last step is the state
//! where the cycle starts), that no call of assign_server_and_queue returns on it, and
//! what the property's kind demands of the cycle (fairness, one actor, no exit).

use std::collections::{HashSet, VecDeque};

use lbqueue::{enabled_actors, step, Actor, Journal, Scenario, System, Variant};
use serde::{Deserialize, Serialize};
use stateright::Model;

use crate::check::Kind;
use crate::liveness::Fairness;
use crate::step_model::StepModel;
use crate::trace::Trace;

/// The trace file's `format` field.
pub const FORMAT: &str = "lbq-trace";
/// The trace file schema version this code writes and reads.
pub const VERSION: u32 = 1;

/// A saved counterexample (`lbq check --trace-out`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TraceFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// Schema version ([`VERSION`]).
    pub version: u32,
    /// The model that found it (`stateright-step`).
    pub model: String,
    /// The variant it was found in.
    pub variant: String,
    /// The violated property.
    pub property: String,
    /// The property's kind.
    pub kind: Kind,
    /// The scenario, whole.
    pub scenario: SavedScenario,
    /// The counterexample: actions, steps as they read when found, the cycle start.
    pub trace: Trace,
}

/// The scenario a trace was found in, as a scenario file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedScenario {
    /// Its name.
    pub name: String,
    /// Its TOML text (what `Scenario::from_toml` reads).
    pub toml: String,
}

impl TraceFile {
    /// A trace file for a counterexample of `property` found in `scenario`.
    pub fn new(scenario: &Scenario, property: &str, kind: Kind, trace: Trace) -> TraceFile {
        TraceFile {
            format: FORMAT.to_string(),
            version: VERSION,
            model: "stateright-step".to_string(),
            variant: scenario.variant.name().to_string(),
            property: property.to_string(),
            kind,
            scenario: SavedScenario {
                name: scenario.name.clone(),
                toml: scenario.to_toml(),
            },
            trace,
        }
    }

    /// Parses a trace file, checking its format and version.
    pub fn parse(text: &str) -> Result<TraceFile, String> {
        let file: TraceFile =
            serde_json::from_str(text).map_err(|e| format!("not an lbq trace file: {e}"))?;
        if file.format != FORMAT {
            return Err(format!(
                "field `format`: expected \"{FORMAT}\", found {:?}",
                file.format
            ));
        }
        if file.version != VERSION {
            return Err(format!(
                "field `version`: expected {VERSION}, found {}",
                file.version
            ));
        }
        Ok(file)
    }
}

/// What a replay found.
#[derive(Clone, Debug, Serialize)]
pub struct ReplayReport {
    /// The variant replayed against.
    pub variant: String,
    /// The property judged.
    pub property: String,
    /// Number of actions in the file.
    pub steps_in_file: usize,
    /// The steps as the current code runs them (up to where the trace stops being valid).
    pub trace: Trace,
    /// Where the trace stops being valid: (1-based step, why).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_at: Option<(usize, String)>,
    /// Whether the property is still violated by the replayed trace.
    pub violated: bool,
    /// One sentence saying why.
    pub verdict: String,
}

/// Most states a replay explores to decide that a cycle has no exit.
const STUCK_CHECK_LIMIT: usize = 2_000_000;

/// Replays a saved trace against the current code, in its own variant or `variant`.
pub fn replay(file: &TraceFile, variant: Option<Variant>) -> Result<ReplayReport, String> {
    let mut scenario = Scenario::from_toml(&file.scenario.toml, &file.scenario.name)
        .map_err(|e| format!("field `scenario.toml`: {e}"))?;
    let saved_variant = file
        .variant
        .parse::<Variant>()
        .map_err(|e| format!("field `variant`: {e}"))?;
    scenario = scenario.with_variant(variant.unwrap_or(saved_variant));
    let actions = file
        .trace
        .actions
        .iter()
        .enumerate()
        .map(|(i, a)| {
            a.parse::<Actor>()
                .map_err(|e| format!("field `trace.actions[{i}]`: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let model = StepModel::new(scenario.clone());
    let (trace, states, stopped) = Trace::record(&scenario, &actions, file.trace.cycle_start);
    let mut report = ReplayReport {
        variant: scenario.variant.name().to_string(),
        property: file.property.clone(),
        steps_in_file: actions.len(),
        trace,
        invalid_at: None,
        violated: false,
        verdict: String::new(),
    };
    if let Some(stop) = stopped {
        let why = format!(
            "{} cannot run here (nothing to run, or its script is over)",
            stop.actor
        );
        report.verdict = format!(
            "the trace stops being valid at step {} of {}: {why}; the property is not violated by it",
            stop.index + 1,
            actions.len()
        );
        report.invalid_at = Some((stop.index + 1, why));
        return Ok(report);
    }
    let last = states.last().expect("initial state");
    let (violated, verdict) = match file.kind {
        Kind::Always | Kind::Sometimes => judge_state(&model, &file.property, last)?,
        Kind::FairCycle | Kind::StuckCycle | Kind::SoloCycle => {
            judge_cycle(&model, file.kind, &actions, &states, file.trace.cycle_start)
        }
    };
    report.violated = violated;
    report.verdict = verdict;
    Ok(report)
}

fn judge_state(model: &StepModel, property: &str, last: &System) -> Result<(bool, String), String> {
    let p = model
        .properties()
        .into_iter()
        .find(|p| p.name == property)
        .ok_or_else(|| format!("field `property`: the step model has no property {property:?}"))?;
    let holds = (p.condition)(model, last);
    Ok(match p.expectation {
        stateright::Expectation::Sometimes => (
            false,
            format!(
                "{property} is {} at the last state",
                if holds { "reached" } else { "not reached" }
            ),
        ),
        _ if holds => (
            false,
            format!("{property} holds at the last state: no longer violated"),
        ),
        _ => (
            true,
            format!("{property} is still violated at the last state"),
        ),
    })
}

fn judge_cycle(
    model: &StepModel,
    kind: Kind,
    actions: &[Actor],
    states: &[System],
    cycle_start: Option<usize>,
) -> (bool, String) {
    let Some(start) = cycle_start.filter(|&c| c < actions.len()) else {
        return (false, "the file has no cycle to replay".to_string());
    };
    if states[start] != *states.last().expect("states") {
        return (
            false,
            format!("the cycle no longer closes: the state after the last step is not the state before step {}", start + 1),
        );
    }
    let cycle = start..actions.len();
    if let Some(i) = cycle
        .clone()
        .find(|&i| model.is_progress(&states[i], &actions[i], &states[i + 1]))
    {
        return (
            false,
            format!(
                "a call of assign_server_and_queue returns at step {}: not a loop",
                i + 1
            ),
        );
    }
    match kind {
        Kind::SoloCycle => {
            let solo = actions[start..].iter().all(|a| *a == actions[start]);
            if solo {
                (
                    true,
                    format!(
                        "still violated: {} loops alone from step {}",
                        actions[start],
                        start + 1
                    ),
                )
            } else {
                (
                    false,
                    "the cycle is run by more than one actor: not a solo loop".to_string(),
                )
            }
        }
        Kind::FairCycle => {
            let mut always: Option<HashSet<Actor>> = None;
            for s in &states[start..states.len() - 1] {
                let mut here = Vec::new();
                enabled_actors(s, &model.scenario, &mut here);
                let here: HashSet<Actor> = here.into_iter().collect();
                always = Some(match always {
                    None => here,
                    Some(acc) => acc.intersection(&here).copied().collect(),
                });
            }
            let steppers: HashSet<Actor> = actions[start..].iter().copied().collect();
            let mut starved: Vec<String> = always
                .unwrap_or_default()
                .difference(&steppers)
                .map(|a| a.to_string())
                .collect();
            starved.sort();
            if starved.is_empty() {
                (true, format!("still violated: the cycle from step {} closes, is weakly fair and no call returns", start + 1))
            } else {
                (
                    false,
                    format!("the cycle starves {}: not a fair loop", starved.join(", ")),
                )
            }
        }
        Kind::StuckCycle => match exit_reachable(model, &states[start]) {
            Some(true) => (
                false,
                "some schedule leaves the cycle and lets the call return: not stuck".to_string(),
            ),
            Some(false) => (
                true,
                format!(
                    "still violated: from step {} no schedule lets the call return",
                    start + 1
                ),
            ),
            None => (
                false,
                format!("undecided: more than {STUCK_CHECK_LIMIT} states reachable from the cycle"),
            ),
        },
        Kind::Always | Kind::Sometimes => unreachable!("judged on the last state"),
    }
}

/// Whether a progress transition is reachable from `from` (`None`: too many states).
fn exit_reachable(model: &StepModel, from: &System) -> Option<bool> {
    let mut seen: HashSet<System> = HashSet::from([from.clone()]);
    let mut queue = VecDeque::from([from.clone()]);
    let mut actors = Vec::new();
    while let Some(s) = queue.pop_front() {
        actors.clear();
        enabled_actors(&s, &model.scenario, &mut actors);
        for &a in &actors {
            let mut next = s.clone();
            step(&mut next, &model.scenario, a, &mut Journal::silent());
            if model.is_progress(&s, &a, &next) {
                return Some(true);
            }
            if seen.len() >= STUCK_CHECK_LIMIT {
                return None;
            }
            if seen.insert(next.clone()) {
                queue.push_back(next);
            }
        }
    }
    Some(false)
}
