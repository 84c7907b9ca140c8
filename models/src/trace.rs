//! Counterexample traces in HAProxy's words.
//!
//! A trace re-runs the path's actions through [`lbqueue::step`] with a recording
//! journal, so what it says is what the code did (and it checks that the replay lands
//! on the very states the checker stored).

use std::fmt;

use lbqueue::event::StreamName;
use lbqueue::{step, Actor, Journal, QueueId, System};
use serde::Serialize;

use crate::graph::Graph;
use crate::liveness::Lasso;
use crate::step_model::StepModel;

/// One step of a trace.
#[derive(Clone, Debug, Serialize)]
pub struct TraceStep {
    /// Who ran the section: `T1`, `CLI`, `client`, `timer S3`.
    pub actor: String,
    /// The stream whose task ran (thread steps only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// What the section did, one entry per HAProxy event.
    pub events: Vec<String>,
    /// The backend queue after the step, oldest first.
    pub backend_queue: Vec<String>,
    /// `px->served` after the step.
    pub px_served: u8,
    /// Each server after the step: `s1 UP served 1/1 queue []`.
    pub servers: Vec<String>,
}

/// A counterexample: steps from the initial state, and where the cycle starts for a
/// lasso.
#[derive(Clone, Debug, Serialize)]
pub struct Trace {
    /// The steps.
    pub steps: Vec<TraceStep>,
    /// Index in `steps` of the first step of the cycle (lassos only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cycle_start: Option<usize>,
    /// The actions alone, replayable (`T1`, `CLI` …).
    pub actions: Vec<String>,
}

fn names(sys: &System, q: QueueId) -> Vec<String> {
    sys.queue_entries(q)
        .map(|s| StreamName(s).to_string())
        .collect()
}

fn server_line(sys: &System, v: usize) -> String {
    let srv = &sys.px.servers[v];
    let max = if srv.maxconn == 0 {
        "∞".to_string()
    } else {
        srv.maxconn.to_string()
    };
    format!(
        "s{} {} served {}/{} cur_sess {} queue [{}]",
        v + 1,
        if srv.maint { "MAINT" } else { "UP" },
        srv.served,
        max,
        srv.cur_sess,
        names(sys, QueueId::Server(v as u8)).join(",")
    )
}

/// The stream whose task a thread step runs.
pub fn stream_of(sys: &System, actor: Actor) -> Option<u8> {
    let Actor::Thread(t) = actor else { return None };
    let th = &sys.threads[t as usize];
    th.task.map(|task| task.stream).or(th.runq.first().copied())
}

impl Trace {
    /// Renders a lasso (or a plain path, with an empty cycle) of the step model.
    pub fn render(model: &StepModel, g: &Graph<StepModel>, lasso: &Lasso<Actor>) -> Trace {
        let mut sys = g.states[lasso.init as usize].clone();
        let mut steps = Vec::new();
        let mut actions = Vec::new();
        let all = lasso.prefix.iter().chain(lasso.cycle.iter());
        for (action, to) in all {
            let stream = stream_of(&sys, *action);
            let mut j = Journal::recording();
            step(&mut sys, &model.scenario, *action, &mut j);
            assert_eq!(
                &sys, &g.states[*to as usize],
                "trace replay diverged from the checker's state"
            );
            steps.push(TraceStep {
                actor: action.to_string(),
                stream: stream.map(|s| StreamName(s).to_string()),
                events: j.into_events().iter().map(|e| e.to_string()).collect(),
                backend_queue: names(&sys, QueueId::Backend),
                px_served: sys.px.served,
                servers: (0..sys.px.servers.len())
                    .map(|v| server_line(&sys, v))
                    .collect(),
            });
            actions.push(action.to_string());
        }
        Trace {
            steps,
            cycle_start: (!lasso.cycle.is_empty()).then_some(lasso.prefix.len()),
            actions,
        }
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut last_servers: Vec<String> = Vec::new();
        for (i, s) in self.steps.iter().enumerate() {
            if Some(i) == self.cycle_start {
                writeln!(
                    f,
                    "  ---- cycle starts here: the steps below repeat forever ----"
                )?;
            }
            let who = match &s.stream {
                Some(st) => format!("{} {}", s.actor, st),
                None => s.actor.clone(),
            };
            writeln!(f, "  {:>3}  {:<7} {}", i + 1, who, s.events.join("; "))?;
            let mut status = format!(
                "backend queue [{}]  px->served {}",
                s.backend_queue.join(","),
                s.px_served
            );
            if s.servers != last_servers {
                status.push_str("  ");
                status.push_str(&s.servers.join("  "));
                last_servers = s.servers.clone();
            }
            writeln!(f, "  {:>3}  {:<7} ↳ {status}", "", "")?;
        }
        if self.cycle_start.is_some() {
            writeln!(f, "  ---- back to the first step of the cycle ----")?;
        }
        Ok(())
    }
}
