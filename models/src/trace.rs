//! Counterexample traces in HAProxy's words: text, Mermaid, DOT.
//!
//! A trace is recorded by re-running its actions through [`lbqueue::step`] with a
//! recording journal, so what it says is what the code did. Rendering a checker's
//! counterexample also checks that the re-run lands on the very states the checker
//! stored; `lbq replay` records saved traces the same way against the current code.

use std::fmt;

use lbqueue::event::StreamName;
use lbqueue::{is_enabled, step, Actor, Journal, QueueId, Scenario, System};
use serde::{Deserialize, Serialize};

use crate::graph::Graph;
use crate::liveness::Lasso;
use crate::reduction;
use crate::step_model::StepModel;

/// One step of a trace.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TraceStep {
    /// Who ran the section: `T1`, `CLI`, `client`, `timer S3`.
    pub actor: String,
    /// The stream whose task ran (thread steps only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// What the section did, one entry per HAProxy event.
    pub events: Vec<String>,
    /// What changed, in `field value` form (`px->served 0`, `backend queue [S3]`).
    pub changes: Vec<String>,
    /// The backend queue after the step, oldest first.
    pub backend_queue: Vec<String>,
    /// `px->served` after the step.
    pub px_served: u8,
    /// Each server after the step: `s1 UP served 1/1 cur_sess 1 queue []`.
    pub servers: Vec<String>,
}

/// A counterexample: steps from the initial state, and where the cycle starts for a
/// lasso.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Trace {
    /// The steps.
    pub steps: Vec<TraceStep>,
    /// Index in `steps` of the first step of the cycle (lassos only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

/// The fields a reader follows, as `(name, value)`.
fn fields(sys: &System) -> Vec<(String, String)> {
    let mut f = vec![
        (
            "backend queue".to_string(),
            format!("[{}]", names(sys, QueueId::Backend).join(",")),
        ),
        ("px->served".to_string(), sys.px.served.to_string()),
    ];
    for (v, srv) in sys.px.servers.iter().enumerate() {
        let name = format!("s{}", v + 1);
        let max = if srv.maxconn == 0 {
            "∞".to_string()
        } else {
            srv.maxconn.to_string()
        };
        f.push((
            name.clone(),
            (if srv.maint { "MAINT" } else { "UP" }).to_string(),
        ));
        f.push((format!("{name} served"), format!("{}/{max}", srv.served)));
        f.push((format!("{name} cur_sess"), srv.cur_sess.to_string()));
        let queue = names(sys, QueueId::Server(v as u8)).join(",");
        f.push((format!("{name} queue"), format!("[{queue}]")));
    }
    f
}

/// Why a list of actions could not be recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotEnabled {
    /// Index of the step (0-based).
    pub index: usize,
    /// The actor that could not run there.
    pub actor: Actor,
}

impl Trace {
    /// Runs `actions` from the scenario's initial state, recording each step. Stops at
    /// the first action whose actor cannot run; returns the trace so far, the states
    /// after each recorded step (the initial state first), and where it stopped.
    pub fn record(
        scenario: &Scenario,
        actions: &[Actor],
        cycle_start: Option<usize>,
    ) -> (Trace, Vec<System>, Option<NotEnabled>) {
        let mut sys = System::new(scenario);
        let mut states = vec![sys.clone()];
        let mut steps = Vec::new();
        let mut stopped = None;
        for (index, &action) in actions.iter().enumerate() {
            if !is_enabled(&sys, scenario, action) {
                stopped = Some(NotEnabled {
                    index,
                    actor: action,
                });
                break;
            }
            let before = fields(&sys);
            let stream = stream_of(&sys, action);
            let mut j = Journal::recording();
            step(&mut sys, scenario, action, &mut j);
            let after = fields(&sys);
            let changes = before
                .iter()
                .zip(&after)
                .filter(|(b, a)| b != a)
                .map(|(_, (name, value))| format!("{name} {value}"))
                .collect();
            steps.push(TraceStep {
                actor: action.to_string(),
                stream: stream.map(|s| StreamName(s).to_string()),
                events: j.into_events().iter().map(|e| e.to_string()).collect(),
                changes,
                backend_queue: names(&sys, QueueId::Backend),
                px_served: sys.px.served,
                servers: (0..sys.px.servers.len())
                    .map(|v| server_line(&sys, v))
                    .collect(),
            });
            states.push(sys.clone());
        }
        let recorded = steps.len();
        let trace = Trace {
            steps,
            // A cycle that was not replayed whole is no cycle.
            cycle_start: cycle_start.filter(|&c| c <= recorded && stopped.is_none()),
            actions: actions[..recorded].iter().map(|a| a.to_string()).collect(),
        };
        (trace, states, stopped)
    }

    /// Renders a lasso (or a plain path, with an empty cycle) of the step model, as the
    /// run of the real system it stands for ([`reduction::concrete_run`]: on a reduced
    /// graph a cycle may be gone round more than once before it really closes).
    pub fn render(model: &StepModel, g: &Graph<StepModel>, lasso: &Lasso<Actor>) -> Trace {
        let run = reduction::concrete_run(model, |id| g.state(id).into_owned(), lasso);
        let (trace, states, stopped) =
            Trace::record(&model.scenario, &run.actions, run.cycle_start);
        assert!(stopped.is_none(), "a checker path is always enabled");
        let stored = |sys: &System| model.stored(sys.clone());
        assert_eq!(
            stored(&states[0]),
            g.state(lasso.init).into_owned(),
            "initial state"
        );
        for (i, id) in run.landed.iter().enumerate() {
            assert_eq!(
                stored(&states[i + 1]),
                g.state(*id).into_owned(),
                "trace replay diverged at step {}",
                i + 1
            );
        }
        if let (Some(c), Some(last)) = (run.cycle_start, states.last()) {
            assert_eq!(&states[c], last, "the cycle closes on the real system");
        }
        trace
    }

    /// A Mermaid sequence diagram: one lane per thread, the CLI, the clients, the
    /// backend queue and each server; the cycle in a `loop` block.
    pub fn to_mermaid(&self, scenario: &Scenario) -> String {
        let mut out = String::from("sequenceDiagram\n");
        for t in 0..scenario.threads {
            out.push_str(&format!("    participant T{0} as thread T{0}\n", t + 1));
        }
        out.push_str(
            "    participant CLI\n    participant client\n    participant BQ as backend queue\n",
        );
        for v in 0..scenario.servers.len() {
            out.push_str(&format!("    participant s{0} as server s{0}\n", v + 1));
        }
        for (i, step) in self.steps.iter().enumerate() {
            if Some(i) == self.cycle_start {
                out.push_str("    loop forever\n");
            }
            let indent = if self.cycle_start.is_some_and(|c| i >= c) {
                "        "
            } else {
                "    "
            };
            let from = lane(&step.actor);
            for event in &step.events {
                let to = target_lane(event, &from);
                let text = mermaid_text(&format!("{}. {event}", i + 1));
                if to == from {
                    out.push_str(&format!("{indent}Note over {from}: {text}\n"));
                } else {
                    out.push_str(&format!("{indent}{from}->>{to}: {text}\n"));
                }
            }
        }
        if self.cycle_start.is_some() {
            out.push_str("    end\n");
        }
        out
    }

    /// The lasso as a Graphviz graph: one node per state, one edge per step, the last
    /// edge going back to the cycle's first state.
    pub fn to_dot(&self) -> String {
        let mut out = String::from(
            "digraph lasso {\n    rankdir=TB;\n    node [shape=box, fontname=\"monospace\"];\n",
        );
        out.push_str("    n0 [label=\"initial state\"];\n");
        let last = self.steps.len();
        for (i, step) in self.steps.iter().enumerate() {
            let label = format!(
                "backend queue [{}]\\npx->served {}\\n{}",
                step.backend_queue.join(","),
                step.px_served,
                step.servers.join("\\n")
            );
            let to = if i + 1 == last {
                self.cycle_start
            } else {
                None
            };
            if to.is_none() {
                out.push_str(&format!(
                    "    n{} [label=\"{}\"];\n",
                    i + 1,
                    dot_text(&label)
                ));
            }
            let target = to.map(|c| format!("n{c}")).unwrap_or(format!("n{}", i + 1));
            let who = match &step.stream {
                Some(s) => format!("{} {s}", step.actor),
                None => step.actor.clone(),
            };
            let style = if self.cycle_start.is_some_and(|c| i >= c) {
                ", color=red"
            } else {
                ""
            };
            out.push_str(&format!(
                "    n{i} -> {target} [label=\"{}. {who}: {}\"{style}];\n",
                i + 1,
                dot_text(&step.events.join("; "))
            ));
        }
        out.push_str("}\n");
        out
    }
}

/// The Mermaid lane of an actor.
fn lane(actor: &str) -> String {
    if actor.starts_with("timer ") {
        "client".to_string()
    } else {
        actor.to_string()
    }
}

/// Where an event's arrow points: the queue or server it touched.
fn target_lane(event: &str, from: &str) -> String {
    let server = |text: &str| {
        text.split(|c: char| !c.is_ascii_alphanumeric())
            .find(|w| {
                w.len() > 1 && w.starts_with('s') && w[1..].chars().all(|c| c.is_ascii_digit())
            })
            .map(str::to_string)
    };
    if event.contains("backend queue") || event.contains("must_try_again") {
        "BQ".to_string()
    } else if event.contains("arrives") {
        from.to_string()
    } else {
        server(event).unwrap_or_else(|| from.to_string())
    }
}

fn mermaid_text(text: &str) -> String {
    // Mermaid treats `;` and `#` specially in messages.
    text.replace(';', ",").replace('#', "")
}

fn dot_text(text: &str) -> String {
    text.replace('"', "\\\"")
}

impl fmt::Display for Trace {
    /// One line per step: who ran, what it did, and what changed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
            let changes = if s.changes.is_empty() {
                String::new()
            } else {
                format!("  ⟶ {}", s.changes.join(", "))
            };
            writeln!(
                f,
                "  {:>3}  {:<7} {}{changes}",
                i + 1,
                who,
                s.events.join("; ")
            )?;
        }
        if self.cycle_start.is_some() {
            writeln!(f, "  ---- back to the first step of the cycle ----")?;
        }
        Ok(())
    }
}
