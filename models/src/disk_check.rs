//! `lbq check --store disk`: the check of [`crate::check`] with only fingerprints in
//! RAM and the states on disk ([`lbqueue_explorer::disk`]). Same model, same searches,
//! same [`Report`]: the verdicts, state counts and counterexamples are those of the
//! in-memory check (tests/disk_store.rs holds every preset × variant to that). Also the
//! same check across timely-dataflow workers and processes ([`check_distributed`]).

use lbqueue::{Actor, Scenario};
use stateright::{Expectation, Model};

use crate::check::{Kind, PropertyReport, Report, Status};
use crate::graph::{Bounds, Progress};
use crate::liveness::Lasso;
use crate::reduction::Reduction;
use crate::step_model::{StepModel, ASSIGN_CAN_RETURN, ASSIGN_SOLO_TERMINATES, ASSIGN_TERMINATES};
use crate::trace::Trace;

pub use lbqueue_explorer::disk::{DiskCheck, DiskOptions, DiskStats};
pub use lbqueue_explorer::distributed::{Cluster, DEFAULT_PORT_BASE};

/// [`crate::check::check_with_progress`] with the disk store; also returns the store's
/// figures. `Err` is a store failure (the directory, I/O, a fingerprint collision).
pub fn check_on_disk(
    scenario: &Scenario,
    bounds: Bounds,
    reduction: Reduction,
    opts: &DiskOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(Report, DiskStats), String> {
    let started = std::time::Instant::now();
    let (reduction, reduction_note) = Reduction::of(scenario, reduction);
    let model = StepModel::reduced(scenario.clone(), reduction);
    let found = lbqueue_explorer::disk::check(
        &model,
        bounds,
        opts,
        StepModel::threads_in_assign,
        progress,
    )?;
    let report = disk_report(&model, scenario, reduction_note, &found, started);
    Ok((report, found.stats))
}

/// `lbq check --processes N --process I --workers W`: the check of [`crate::check`] on
/// timely-dataflow workers ([`lbqueue_explorer::distributed`]), the states owned by
/// fingerprint. `Some` on process 0 (its report and the run's figures), `None` on the
/// other processes once the check is over. `Err`: a fingerprint collision or a worker
/// that died. With `disk`, each worker keeps its states in files of its own run
/// directory under `disk.dir` (removed at the end unless `disk.keep`); without, in RAM.
pub fn check_distributed(
    scenario: &Scenario,
    bounds: Bounds,
    reduction: Reduction,
    cluster: &Cluster,
    disk: Option<&DiskOptions>,
) -> Result<Option<(Report, DiskStats)>, String> {
    let started = std::time::Instant::now();
    let (reduction, reduction_note) = Reduction::of(scenario, reduction);
    let model = StepModel::reduced(scenario.clone(), reduction);
    let found = lbqueue_explorer::distributed::check(
        model.clone(),
        bounds,
        cluster,
        disk,
        StepModel::threads_in_assign,
    )?;
    Ok(found.map(|found| {
        let report = disk_report(&model, scenario, reduction_note, &found, started);
        (report, found.stats)
    }))
}

/// The report of a check whose answers are a [`DiskCheck`] (the disk store's or the
/// distributed driver's): the same verdicts and notes as [`crate::check::build_report`].
fn disk_report(
    model: &StepModel,
    scenario: &Scenario,
    reduction_note: Option<&'static str>,
    found: &DiskCheck<StepModel>,
    started: std::time::Instant,
) -> Report {
    let reduction = model.reduction;
    let render = |lasso: &Lasso<Actor>| Trace::render(model, &found.graph, lasso);
    let complete = found.stats.complete;
    let mut properties = Vec::new();
    for (p, lasso) in model.properties().iter().zip(&found.discoveries) {
        let status = match (&p.expectation, lasso, complete) {
            (&Expectation::Always, Some(_), _) => Status::Violated,
            (&Expectation::Always, None, true) => Status::Holds,
            (_, Some(_), _) => Status::Reached,
            (_, None, true) => Status::Unreached,
            (_, None, false) => Status::Incomplete,
        };
        let kind = match p.expectation {
            Expectation::Always => Kind::Always,
            _ => Kind::Sometimes,
        };
        properties.push(PropertyReport {
            name: p.name,
            kind,
            status,
            note: None,
            trace: lasso.as_ref().map(render),
        });
    }
    let liveness = |name, kind, lasso: Option<&Lasso<Actor>>, note: Option<&str>| {
        crate::check::liveness_report(name, kind, complete, lasso.map(render), note)
    };
    // The notes of crate::check::build_report, on the same conditions.
    let lockstep_note = (found.fair.is_some() && found.stuck.is_none()).then_some(
        "every fair cycle found can still be left by some schedule: threads keep each other looping only in lockstep",
    );
    let spin_note = (found.solo.is_some() && found.fair.is_none()).then_some(
        "spin-wait, not a livelock: the loop ends as soon as another thread runs (assign_terminates holds)",
    );
    properties.push(liveness(
        ASSIGN_TERMINATES,
        Kind::FairCycle,
        found.fair.as_ref(),
        lockstep_note,
    ));
    properties.push(liveness(
        ASSIGN_CAN_RETURN,
        Kind::StuckCycle,
        found.stuck.as_ref(),
        None,
    ));
    properties.push(liveness(
        ASSIGN_SOLO_TERMINATES,
        Kind::SoloCycle,
        found.solo.as_ref(),
        spin_note,
    ));
    let s = &found.stats;
    Report {
        variant: scenario.variant.name().to_string(),
        scenario: scenario.name.clone(),
        engine: "stateright-step",
        complete,
        stopped_by: s.stopped_by,
        states: s.transitions + s.states.min(1),
        unique_states: s.states,
        reduction,
        reduction_note,
        max_depth: s.max_depth,
        seconds: started.elapsed().as_secs_f64(),
        properties,
    }
}
