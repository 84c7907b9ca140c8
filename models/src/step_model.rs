//! The step model: a stateright [`Model`] whose state is the whole lbqueue [`System`]
//! (backend, servers, streams, per-thread program counters, the CLI's position) and
//! whose actions are "actor X runs its next section". Every action calls
//! [`lbqueue::step`]; no queue logic is written here.

use lbqueue::invariants::{self, counters_consistent, no_usable_server};
use lbqueue::{enabled_actors, step, Actor, CliKind, Journal, LbAlgo, QueueId, Scenario, System};
use stateright::{Model, Property};

use crate::graph::{Packable, Packed, Storage};
use crate::liveness::Fairness;
use crate::reduction::{self, Perm, Reduction};

/// A scenario (with its variant) as a stateright model.
#[derive(Clone, Debug)]
pub struct StepModel {
    /// What is checked.
    pub scenario: Scenario,
    /// How successors are stored ([`crate::reduction`]).
    pub reduction: Reduction,
}

impl StepModel {
    /// The model of a scenario, every state as it is.
    pub fn new(scenario: Scenario) -> Self {
        StepModel {
            scenario,
            reduction: Reduction::Off,
        }
    }

    /// The model of a scenario with as much of `reduction` as the scenario allows
    /// ([`Reduction::of`]).
    pub fn reduced(scenario: Scenario, reduction: Reduction) -> Self {
        let (reduction, _) = Reduction::of(&scenario, reduction);
        StepModel {
            scenario,
            reduction,
        }
    }

    /// Turns `sys` into the state this model stores for it; returns the renaming that
    /// took `sys` (dead streams forgotten) there, if any.
    pub fn reduce(&self, sys: &mut System) -> Option<Perm> {
        if self.reduction.forgets_dead() {
            reduction::forget_dead(sys);
        }
        if !self.reduction.renames() {
            return None;
        }
        let p = reduction::canonical_perm(sys)?;
        *sys = reduction::rename(sys, &p);
        Some(p)
    }

    /// The state this model stores for `sys`.
    pub fn stored(&self, mut sys: System) -> System {
        self.reduce(&mut sys);
        sys
    }

    /// Nothing can run but queue timeouts: every thread idle, the CLI script done,
    /// every client arrived.
    pub fn quiescent(&self, s: &System) -> bool {
        invariants::quiescent(s, &self.scenario)
    }

    /// The threads inside assign_server_and_queue (the candidates for a loop).
    pub fn threads_in_assign(s: &System) -> Vec<Actor> {
        s.threads_in_assign()
            .map(|(t, _)| Actor::Thread(t))
            .collect()
    }

    fn scenario_disables(&self) -> bool {
        self.scenario.cli.iter().any(|c| c.kind == CliKind::Disable)
    }

    fn scenario_enables(&self) -> bool {
        self.scenario.cli.iter().any(|c| c.kind == CliKind::Enable)
    }

    /// Whether the CLI can leave the backend without a usable server.
    fn scenario_downs_every_server(&self) -> bool {
        (0..self.scenario.servers.len() as u8).all(|v| {
            self.scenario
                .cli
                .iter()
                .any(|c| c.kind == CliKind::Disable && c.server == v)
        })
    }
}

fn no_orphan_pendconn(m: &StepModel, s: &System) -> bool {
    invariants::no_orphan_pendconn(s, &m.scenario)
}

fn backend_queue_drains(m: &StepModel, s: &System) -> bool {
    invariants::backend_queue_drains(s, &m.scenario)
}

fn no_stream_lost(m: &StepModel, s: &System) -> bool {
    invariants::no_stream_lost(s, &m.scenario)
}

fn counters_ok(_: &StepModel, s: &System) -> bool {
    counters_consistent(s).is_ok()
}

fn maxconn_ok(_: &StepModel, s: &System) -> bool {
    invariants::maxconn_respected(s).is_ok()
}

fn locks_released(_: &StepModel, s: &System) -> bool {
    invariants::queue_locks_released(s)
}

fn backend_queue_used(_: &StepModel, s: &System) -> bool {
    s.px.queue.queueslength() > 0
}

fn server_queue_used(_: &StepModel, s: &System) -> bool {
    s.px.servers.iter().any(|v| v.queue.queueslength() > 0)
}

fn server_down_with_queued_streams(_: &StepModel, s: &System) -> bool {
    s.px.servers.iter().any(|v| v.maint) && !s.px.pendconns.is_empty()
}

fn last_server_down_with_queued_streams(_: &StepModel, s: &System) -> bool {
    no_usable_server(s) && !s.px.pendconns.is_empty()
}

fn server_back_in_service(m: &StepModel, s: &System) -> bool {
    // Past an `enable server` section, with that server usable again.
    (0..s.cli_pc).any(|pc| {
        m.scenario.cli_section(pc).is_some_and(|sec| {
            sec.command.kind == CliKind::Enable
                && s.px.servers[sec.command.server as usize].usable()
        })
    }) && s.streams.iter().any(|strm| !strm.is_done())
}

/// Names of the liveness properties, checked by the cycle searches of
/// [`crate::liveness`] rather than by stateright.
pub const ASSIGN_TERMINATES: &str = "assign_terminates";
/// See [`ASSIGN_TERMINATES`].
pub const ASSIGN_SOLO_TERMINATES: &str = "assign_solo_terminates";
/// See [`ASSIGN_TERMINATES`]: from every reachable state, a call in progress can still
/// return under some schedule (no loop that the watchdog is certain to kill).
pub const ASSIGN_CAN_RETURN: &str = "assign_can_return";

impl Model for StepModel {
    type State = System;
    type Action = Actor;

    fn init_states(&self) -> Vec<System> {
        vec![self.stored(System::new(&self.scenario))]
    }

    fn actions(&self, state: &System, actions: &mut Vec<Actor>) {
        enabled_actors(state, &self.scenario, actions);
    }

    fn next_state(&self, last: &System, action: Actor) -> Option<System> {
        let mut next = last.clone();
        step(&mut next, &self.scenario, action, &mut Journal::silent());
        self.reduce(&mut next);
        Some(next)
    }

    fn format_action(&self, action: &Actor) -> String {
        action.to_string()
    }

    /// `T1: S3 pendconn_add → backend queue`: the section re-run with a recording
    /// journal, so the Explorer and traces name steps in HAProxy's words.
    fn format_step(&self, last: &System, action: Actor) -> Option<String> {
        let mut next = last.clone();
        let mut j = Journal::recording();
        step(&mut next, &self.scenario, action, &mut j);
        let events: Vec<String> = j.into_events().iter().map(|e| e.to_string()).collect();
        // The events name the stream themselves ("S3 pendconn_add → backend queue").
        Some(format!("{action}: {}", events.join("; ")))
    }

    fn properties(&self) -> Vec<Property<Self>> {
        let mut p = vec![
            Property::always("counters_consistent", counters_ok),
            Property::always("no_orphan_pendconn", no_orphan_pendconn),
            Property::always("no_stream_lost", no_stream_lost),
            Property::always("backend_queue_drains", backend_queue_drains),
            Property::always("maxconn_respected", maxconn_ok),
            Property::always("queue_locks_released", locks_released),
        ];
        // Vacuity guards: only those the scenario can reach by construction.
        if self.scenario.algo == LbAlgo::Hash {
            p.push(Property::sometimes("server_queue_used", server_queue_used));
        } else {
            p.push(Property::sometimes(
                "backend_queue_used",
                backend_queue_used,
            ));
        }
        if self.scenario_disables() {
            p.push(Property::sometimes(
                "server_down_with_queued_streams",
                server_down_with_queued_streams,
            ));
        }
        if self.scenario_downs_every_server() {
            p.push(Property::sometimes(
                "last_server_down_with_queued_streams",
                last_server_down_with_queued_streams,
            ));
        }
        if self.scenario_disables() && self.scenario_enables() {
            p.push(Property::sometimes(
                "server_back_in_service",
                server_back_in_service,
            ));
        }
        p
    }
}

impl Packable for System {
    fn pack_into(&self, out: &mut Vec<u8>) {
        System::pack_into(self, out)
    }
    fn unpack(bytes: &[u8]) -> System {
        System::unpack(bytes)
    }
}

/// The step model's states are stored packed (`lbqueue::packed`): about 60 bytes for a
/// `seed` state instead of 450.
impl Storage for StepModel {
    type Store = Packed<System>;
    fn store(&self) -> Packed<System> {
        Packed::default()
    }
}

impl Fairness for StepModel {
    type Actor = Actor;

    fn actor(&self, action: &Actor) -> Actor {
        *action
    }

    /// A connection attempt may fail or not: no fairness is owed to the failure.
    fn is_fair_actor(&self, actor: &Actor) -> bool {
        !matches!(actor, Actor::ConnError(_))
    }

    /// Progress: a call of assign_server_and_queue returns (the thread was inside it
    /// and is no longer). A thread step keeps its task's stream or ends the task, so no
    /// step goes from one stream's call straight into another's; saying so without
    /// naming the stream keeps progress blind to renaming ([`crate::symmetry`]).
    fn is_progress(&self, from: &System, action: &Actor, to: &System) -> bool {
        let Actor::Thread(t) = *action else {
            return false;
        };
        let in_assign = |sys: &System| {
            sys.threads[t as usize]
                .task
                .is_some_and(|task| task.pc.in_assign())
        };
        in_assign(from) && !in_assign(to)
    }
}

/// Whether a queue holds `s` — used by trace rendering.
pub fn queue_of(sys: &System, s: u8) -> Option<QueueId> {
    if sys.is_linked(s) {
        sys.streams[s as usize].pend_pos.map(|p| p.queue)
    } else {
        None
    }
}

/// A stateright property condition of the step model.
pub type StepCondition = fn(&StepModel, &System) -> bool;

/// A model that shows the step model's properties on its own states (the Explorer's
/// wrapper, the actor model). stateright's conditions are plain `fn`s that only get
/// `&Self`, so each step-model condition is reached by index (see
/// [`delegated_properties`]).
pub trait ShowsStepProperties: Model + Sized {
    /// The step model whose properties are shown.
    fn step_model(&self) -> &StepModel;
    /// The step model's conditions, in `properties()` order.
    fn step_conditions(&self) -> &[StepCondition];
    /// The `System` inside one of this model's states.
    fn system_of(state: &Self::State) -> &System;
}

fn delegate<M: ShowsStepProperties, const I: usize>(m: &M, s: &M::State) -> bool {
    (m.step_conditions()[I])(m.step_model(), M::system_of(s))
}

/// The step model's properties as properties of `M`: same names and expectations, each
/// condition evaluated on the `System` inside `M`'s state.
pub fn delegated_properties<M: ShowsStepProperties>(m: &M) -> Vec<Property<M>> {
    let table: [fn(&M, &M::State) -> bool; 16] = [
        delegate::<M, 0>,
        delegate::<M, 1>,
        delegate::<M, 2>,
        delegate::<M, 3>,
        delegate::<M, 4>,
        delegate::<M, 5>,
        delegate::<M, 6>,
        delegate::<M, 7>,
        delegate::<M, 8>,
        delegate::<M, 9>,
        delegate::<M, 10>,
        delegate::<M, 11>,
        delegate::<M, 12>,
        delegate::<M, 13>,
        delegate::<M, 14>,
        delegate::<M, 15>,
    ];
    let properties = m.step_model().properties();
    assert!(
        properties.len() <= table.len(),
        "the step model has {} properties; at most {} can be delegated",
        properties.len(),
        table.len()
    );
    properties
        .into_iter()
        .zip(table)
        .map(|(q, condition)| Property {
            expectation: q.expectation,
            name: q.name,
            condition,
        })
        .collect()
}
