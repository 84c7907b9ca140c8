//! One check of one scenario and variant: explore the step model, evaluate every
//! property, and produce a [`Report`] (what `lbq check` prints).

use std::time::Duration;

use lbqueue::{Actor, Scenario};
use serde::{Deserialize, Serialize};
use stateright::Expectation;

use crate::graph::{Bounds, Graph, Progress};
use crate::liveness::{fair_cycle, solo_cycle, stuck_cycle, Fairness, Lasso};
use crate::reduction::Reduction;
use crate::step_model::{StepModel, ASSIGN_CAN_RETURN, ASSIGN_SOLO_TERMINATES, ASSIGN_TERMINATES};
use crate::trace::Trace;

/// Verdict on one property.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Holds on every reachable state (the search was complete).
    Holds,
    /// A counterexample was found (for a sometimes-property: not used).
    Violated,
    /// A sometimes-property's situation was reached.
    Reached,
    /// A sometimes-property's situation was not reached in a complete search.
    Unreached,
    /// The search stopped at a bound before it could decide.
    Incomplete,
}

/// The kind of a property.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An invariant on every reachable state.
    Always,
    /// A vacuity guard: some reachable state has it.
    Sometimes,
    /// No reachable weakly-fair cycle without progress.
    FairCycle,
    /// No reachable state from which a thread, run alone, loops forever.
    SoloCycle,
    /// No reachable loop that no schedule can leave (a closed component without progress).
    StuckCycle,
}

/// One property's verdict, with its trace when violated (or reached).
#[derive(Clone, Debug, Serialize)]
pub struct PropertyReport {
    /// The property's name (DESIGN.md's names).
    pub name: &'static str,
    /// Its kind.
    pub kind: Kind,
    /// The verdict.
    pub status: Status,
    /// A note (e.g. what kind of loop a solo violation is).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The counterexample (or, for a sometimes-property, the example).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<Trace>,
}

/// The report of one check.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The variant checked.
    pub variant: String,
    /// The scenario checked.
    pub scenario: String,
    /// The engine.
    pub engine: &'static str,
    /// Whether every reachable state was explored.
    pub complete: bool,
    /// The bound that stopped an incomplete search.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<&'static str>,
    /// Transitions generated (states visited, duplicates included).
    pub states: usize,
    /// Distinct states stored (with a reduction, each stands for a class of states).
    pub unique_states: usize,
    /// The reduction the search used ([`crate::reduction`]).
    pub reduction: Reduction,
    /// Why the search used less reduction than it was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reduction_note: Option<&'static str>,
    /// Deepest BFS level.
    pub max_depth: u32,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Per property.
    pub properties: Vec<PropertyReport>,
}

impl Report {
    /// The report of one property.
    pub fn property(&self, name: &str) -> Option<&PropertyReport> {
        self.properties.iter().find(|p| p.name == name)
    }

    /// Whether any property is violated (sometimes-properties not reached in a
    /// complete search count: the check proved nothing).
    pub fn any_violated(&self) -> bool {
        self.properties
            .iter()
            .any(|p| matches!(p.status, Status::Violated | Status::Unreached))
    }

    /// Exit code for `lbq check`: 0 all hold and complete, 1 violated, 3 incomplete.
    pub fn exit_code(&self) -> i32 {
        if self.any_violated() {
            1
        } else if !self.complete {
            3
        } else {
            0
        }
    }
}

/// Checks a scenario (with its variant) exhaustively, within `bounds`, with every
/// reduction the scenario allows ([`Reduction::Streams`]).
pub fn check(scenario: &Scenario, bounds: Bounds) -> Report {
    check_with_progress(scenario, bounds, Reduction::Streams, &mut |_| {})
}

/// [`check`] with the reduction chosen (as much of it as the scenario allows),
/// reporting the exploration's progress a few times a second.
pub fn check_with_progress(
    scenario: &Scenario,
    bounds: Bounds,
    reduction: Reduction,
    progress: &mut dyn FnMut(&Progress),
) -> Report {
    let started = std::time::Instant::now();
    let (reduction, reduction_note) = Reduction::of(scenario, reduction);
    let model = StepModel::reduced(scenario.clone(), reduction);
    let g = Graph::explore_with_progress(&model, bounds, progress);
    let render = |lasso: &Lasso<Actor>| Trace::render(&model, &g, lasso);
    let mut report = build_report(
        &model,
        &g,
        scenario,
        "stateright-step",
        StepModel::threads_in_assign,
        render,
        started,
    );
    report.reduction = reduction;
    report.reduction_note = reduction_note;
    report
}

/// The report of any model of a scenario explored into `g`: its `always`/`sometimes`
/// properties as found by the exploration, then the three liveness searches. One
/// mechanism for every engine (the step model, the actor model): only how an actor
/// inside assign_server_and_queue is found and how a lasso is rendered differ.
/// A liveness property's report from its search: violated with the lasso's trace,
/// else holds on a complete search and is incomplete on a bounded one.
pub(crate) fn liveness_report(
    name: &'static str,
    kind: Kind,
    complete: bool,
    trace: Option<Trace>,
    note: Option<&str>,
) -> PropertyReport {
    let status = match (&trace, complete) {
        (Some(_), _) => Status::Violated,
        (None, true) => Status::Holds,
        (None, false) => Status::Incomplete,
    };
    PropertyReport {
        name,
        kind,
        status,
        note: note.map(str::to_string),
        trace,
    }
}

pub fn build_report<M>(
    model: &M,
    g: &Graph<M>,
    scenario: &Scenario,
    engine: &'static str,
    in_assign: impl Fn(&M::State) -> Vec<M::Actor>,
    render: impl Fn(&Lasso<M::Action>) -> Trace,
    started: std::time::Instant,
) -> Report
where
    M: Fairness + Sync,
    M::State: std::hash::Hash + Eq + Clone + Sync,
    M::Action: Clone + Send + Sync,
{
    let mut properties = Vec::new();
    for (i, p) in model.properties().iter().enumerate() {
        let found = g.discoveries[i];
        let (kind, status) = match (&p.expectation, found, g.complete) {
            (&Expectation::Always, Some(_), _) => (Kind::Always, Status::Violated),
            (&Expectation::Always, None, true) => (Kind::Always, Status::Holds),
            (&Expectation::Always, None, false) => (Kind::Always, Status::Incomplete),
            (_, Some(_), _) => (Kind::Sometimes, Status::Reached),
            (_, None, true) => (Kind::Sometimes, Status::Unreached),
            (_, None, false) => (Kind::Sometimes, Status::Incomplete),
        };
        let trace = found.map(|id| {
            let (init, prefix) = g.path_to(id);
            render(&Lasso {
                init,
                prefix,
                cycle: Vec::new(),
            })
        });
        properties.push(PropertyReport {
            name: p.name,
            kind,
            status,
            note: None,
            trace,
        });
    }
    // The three searches only read the finished graph: one thread each.
    let (stuck, livelock, spin) = std::thread::scope(|scope| {
        let stuck = scope.spawn(|| stuck_cycle(model, g));
        let livelock = scope.spawn(|| fair_cycle(model, g));
        let spin = solo_cycle(model, g, in_assign);
        let join = "a liveness search panicked";
        (
            stuck.join().expect(join),
            livelock.join().expect(join),
            spin,
        )
    });
    let liveness = |name, kind, lasso: Option<&Lasso<M::Action>>, note: Option<&str>| {
        liveness_report(name, kind, g.complete, lasso.map(&render), note)
    };
    let lockstep_note = (livelock.is_some() && stuck.is_none()).then_some(
        "every fair cycle found can still be left by some schedule: threads keep each other looping only in lockstep",
    );
    let spin_note = (spin.is_some() && livelock.is_none()).then_some(
        "spin-wait, not a livelock: the loop ends as soon as another thread runs (assign_terminates holds)",
    );
    properties.push(liveness(
        ASSIGN_TERMINATES,
        Kind::FairCycle,
        livelock.as_ref(),
        lockstep_note,
    ));
    properties.push(liveness(
        ASSIGN_CAN_RETURN,
        Kind::StuckCycle,
        stuck.as_ref(),
        None,
    ));
    properties.push(liveness(
        ASSIGN_SOLO_TERMINATES,
        Kind::SoloCycle,
        spin.as_ref(),
        spin_note,
    ));
    Report {
        variant: scenario.variant_label(),
        scenario: scenario.name.clone(),
        engine,
        complete: g.complete,
        stopped_by: g.stopped_by,
        states: g.transitions + g.len().min(1),
        unique_states: g.len(),
        reduction: Reduction::Off,
        reduction_note: None,
        max_depth: g.max_depth(),
        seconds: started.elapsed().as_secs_f64(),
        properties,
    }
}

/// Default bounds of `lbq check`: none but a generous timeout.
pub fn default_bounds() -> Bounds {
    Bounds {
        timeout: Some(Duration::from_secs(600)),
        ..Bounds::unbounded()
    }
}
