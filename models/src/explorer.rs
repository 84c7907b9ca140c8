//! The step model as stateright's Explorer should show it: [`ExploreModel`] wraps
//! [`StepModel`] (same states, actions and step names) and adds the two liveness verdicts
//! that stateright cannot judge as `always` properties over precomputed loop states.
//!
//! stateright's `eventually` only judges paths that end, so its Explorer would call every
//! livelock "holds". Before serving, [`ExploreModel::new`] explores the whole graph
//! ([`Graph::explore`]) and runs [`stuck_cycle`] and [`fair_cycle`] on it; the states of
//! each loop found are kept, and the properties `assign_can_return` and
//! `assign_terminates` are false exactly on them. The Explorer's checker then reports a
//! counterexample for them the first time it visits a state of the loop.
//!
//! A stateright property condition is a plain `fn(&M, &M::State) -> bool`, so the loop
//! states live in the model (shared, [`Arc`]) and the step model's own properties are
//! delegated by index through [`delegated_properties`].
//!
//! The Explorer's "Path of Actions" and "Next Action Choices" name each step with
//! `Model::format_action`, which sees the action alone: a step model action is only an
//! actor (`T1`, `CLI`, `client`). So the Explorer's models ([`ExploreModel`] and, for
//! `lbq explore --model actor`, [`ActorExploreModel`]) take actions that carry the state
//! they are taken from ([`Described`]), and name each one as the text traces do, in
//! HAProxy's words (`T1: S2 pendconn_add → backend queue`), from the wrapped model's
//! `format_step`. The wrapped models' own actions are unchanged.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;

use lbqueue::{Actor, Scenario, System};
use stateright::{Model, Path, Property};

use crate::actor_model::{self, ActorSystemModel};

use crate::graph::{Bounds, Graph};
use crate::liveness::{fair_cycle, stuck_cycle, Lasso};
use crate::step_model::{
    delegated_properties, ShowsStepProperties, StepCondition, StepModel, ASSIGN_CAN_RETURN,
    ASSIGN_TERMINATES,
};

/// A property condition of the step model.
type Condition = StepCondition;

/// A loop found before serving, as the Explorer can show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExplorerLoop {
    /// The liveness property it violates (`assign_can_return` or `assign_terminates`).
    pub property: &'static str,
    /// The lasso as Explorer action indices: the initial state's index, then the index of
    /// each action among those enabled in the state it is taken from (prefix, then one
    /// turn of the loop, back to the loop's first state).
    pub indices: Vec<usize>,
    /// How many of the steps (after the initial index) lead to the loop.
    pub prefix_len: usize,
    /// How many steps one turn of the loop takes.
    pub cycle_len: usize,
}

impl ExplorerLoop {
    /// The Explorer's path of the lasso's last state, e.g. `0/1/0/2`: open it as
    /// `http://127.0.0.1:PORT/#/steps/0/1/0/2`.
    pub fn path(&self) -> String {
        encode(&self.indices)
    }

    /// The Explorer's path of the loop's first state (the end of the prefix).
    pub fn loop_entry_path(&self) -> String {
        encode(&self.indices[..=self.prefix_len])
    }
}

fn encode(indices: &[usize]) -> String {
    indices
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// An action of a wrapped model with the state it is taken from, so that the Explorer
/// can name it by what it does there (computed only when the Explorer shows it: the
/// checker just shares one copy of the state among the actions it enumerates).
#[derive(Clone)]
pub struct Described<S, A> {
    /// The wrapped model's action.
    pub action: A,
    /// The state it is taken from.
    pub from: Arc<S>,
}

impl<S: PartialEq, A: PartialEq> PartialEq for Described<S, A> {
    fn eq(&self, other: &Self) -> bool {
        self.action == other.action
            && (Arc::ptr_eq(&self.from, &other.from) || self.from == other.from)
    }
}

/// The wrapped action alone (the state is the Explorer's page already).
impl<S, A: fmt::Debug> fmt::Debug for Described<S, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.action.fmt(f)
    }
}

/// `inner`'s actions from `state`, each carrying the state.
fn described<S: Clone, A>(state: &S, inner: Vec<A>, out: &mut Vec<Described<S, A>>) {
    if inner.is_empty() {
        return;
    }
    let from = Arc::new(state.clone());
    out.extend(inner.into_iter().map(|action| Described {
        action,
        from: Arc::clone(&from),
    }));
}

/// [`StepModel`] plus the liveness verdicts, for stateright's Explorer.
#[derive(Clone)]
pub struct ExploreModel {
    /// The wrapped step model.
    pub step: StepModel,
    conditions: Arc<Vec<Condition>>,
    stuck: Arc<HashSet<System>>,
    fair: Arc<HashSet<System>>,
    loops: Arc<Vec<ExplorerLoop>>,
    unique_states: usize,
    complete: bool,
}

impl std::fmt::Debug for ExploreModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExploreModel")
            .field("scenario", &self.step.scenario.name)
            .field("variant", &self.step.scenario.variant.name())
            .field("stuck_states", &self.stuck.len())
            .field("fair_states", &self.fair.len())
            .field("unique_states", &self.unique_states)
            .field("complete", &self.complete)
            .finish()
    }
}

impl ExploreModel {
    /// Explores the scenario's whole graph (within `bounds`) and runs the stuck and fair
    /// loop searches on it.
    pub fn new(scenario: Scenario, bounds: Bounds) -> Self {
        let step = StepModel::new(scenario);
        let conditions: Vec<Condition> = step.properties().iter().map(|p| p.condition).collect();
        let g = Graph::explore(&step, bounds);
        let stuck = stuck_cycle(&step, &g);
        let fair = fair_cycle(&step, &g);
        let mut loops = Vec::new();
        for (property, lasso) in [(ASSIGN_CAN_RETURN, &stuck), (ASSIGN_TERMINATES, &fair)] {
            if let Some(l) = lasso {
                loops.push(explorer_loop(&step, &g, property, l));
            }
        }
        ExploreModel {
            conditions: Arc::new(conditions),
            stuck: Arc::new(cycle_states(&g, stuck.as_ref())),
            fair: Arc::new(cycle_states(&g, fair.as_ref())),
            loops: Arc::new(loops),
            unique_states: g.len(),
            complete: g.complete,
            step,
        }
    }

    /// The loops found: the stuck one (`assign_can_return`) first, then the fair one
    /// (`assign_terminates`); empty when both hold.
    pub fn loops(&self) -> &[ExplorerLoop] {
        &self.loops
    }

    /// Unique states of the exploration that preceded serving.
    pub fn unique_states(&self) -> usize {
        self.unique_states
    }

    /// Whether that exploration was complete (no bound stopped it). When it was not,
    /// the liveness properties' "holds" proves nothing.
    pub fn complete(&self) -> bool {
        self.complete
    }

    /// Serves stateright's Explorer on 127.0.0.1:`port` (loopback only: the Explorer has
    /// no authentication). Blocks while the server runs, which is until the process ends.
    pub fn serve(self, port: u16) {
        self.checker().serve((std::net::Ipv4Addr::LOCALHOST, port));
    }

    /// Whether `s` is a state of the stuck loop (`assign_can_return` is false there).
    pub fn on_stuck_loop(&self, s: &System) -> bool {
        self.stuck.contains(s)
    }

    /// Whether `s` is a state of the fair loop (`assign_terminates` is false there).
    pub fn on_fair_loop(&self, s: &System) -> bool {
        self.fair.contains(s)
    }
}

/// The states the lasso's cycle goes through (its first state included: the last step
/// returns to it).
fn cycle_states(g: &Graph<StepModel>, lasso: Option<&Lasso<Actor>>) -> HashSet<System> {
    lasso
        .map(|l| {
            l.cycle
                .iter()
                .map(|&(_, to)| g.state(to).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Replays the lasso from its initial state and records each action's index among the
/// enabled actions, as the Explorer numbers them.
fn explorer_loop(
    step: &StepModel,
    g: &Graph<StepModel>,
    property: &'static str,
    lasso: &Lasso<Actor>,
) -> ExplorerLoop {
    let init = g.state(lasso.init).into_owned();
    let init_index = step
        .init_states()
        .iter()
        .position(|s| *s == init)
        .expect("the lasso starts at an initial state");
    let mut indices = VecDeque::from([init_index]);
    let mut state = init;
    let mut actions = Vec::new();
    for (action, to) in lasso.prefix.iter().chain(&lasso.cycle) {
        actions.clear();
        step.actions(&state, &mut actions);
        let index = actions
            .iter()
            .position(|a| a == action)
            .expect("a lasso step is an enabled action");
        indices.push_back(index);
        state = step
            .next_state(&state, *action)
            .expect("the step model takes every enabled action");
        debug_assert!(state == *g.state(*to));
    }
    ExplorerLoop {
        property,
        indices: indices.into(),
        prefix_len: lasso.prefix.len(),
        cycle_len: lasso.cycle.len(),
    }
}

fn can_return(m: &ExploreModel, s: &System) -> bool {
    !m.on_stuck_loop(s)
}

fn terminates(m: &ExploreModel, s: &System) -> bool {
    !m.on_fair_loop(s)
}

impl Model for ExploreModel {
    type State = System;
    type Action = Described<System, Actor>;

    fn init_states(&self) -> Vec<System> {
        self.step.init_states()
    }

    /// The step model's actions, in its order (the Explorer's indices are the same).
    fn actions(&self, state: &System, actions: &mut Vec<Self::Action>) {
        let mut inner = Vec::new();
        self.step.actions(state, &mut inner);
        described(state, inner, actions);
    }

    fn next_state(&self, last: &System, action: Self::Action) -> Option<System> {
        self.step.next_state(last, action.action)
    }

    /// What the step does, in HAProxy's words: `T1: S2 pendconn_add → backend queue`.
    fn format_action(&self, action: &Self::Action) -> String {
        self.step
            .format_step(&action.from, action.action)
            .unwrap_or_else(|| self.step.format_action(&action.action))
    }

    fn format_step(&self, last: &System, action: Self::Action) -> Option<String> {
        self.step.format_step(last, action.action)
    }

    /// The step model's properties, then `assign_can_return` and `assign_terminates`,
    /// false exactly on the states of the stuck and of the fair loop.
    fn properties(&self) -> Vec<Property<Self>> {
        let mut p: Vec<Property<Self>> = delegated_properties(self);
        p.push(Property::always(ASSIGN_CAN_RETURN, can_return));
        p.push(Property::always(ASSIGN_TERMINATES, terminates));
        p
    }
}

impl ShowsStepProperties for ExploreModel {
    fn step_model(&self) -> &StepModel {
        &self.step
    }

    fn step_conditions(&self) -> &[StepCondition] {
        &self.conditions
    }

    fn system_of(state: &Self::State) -> &System {
        state
    }
}

/// [`ActorSystemModel`] for stateright's Explorer (`lbq explore --model actor`): the same
/// states, actions (in the same order), properties and sequence diagrams, each action
/// named by what it does (`T1 → backend: run S2's next section: S2 pendconn_add →
/// backend queue`) instead of the messages alone.
#[derive(Clone, Debug)]
pub struct ActorExploreModel {
    /// The wrapped actor model.
    pub inner: ActorSystemModel,
}

impl ActorExploreModel {
    /// The actor model of `scenario`, for the Explorer.
    pub fn new(scenario: Scenario) -> Self {
        ActorExploreModel {
            inner: ActorSystemModel::new(scenario),
        }
    }

    /// Serves stateright's Explorer on 127.0.0.1:`port` (loopback only). Blocks while the
    /// server runs, which is until the process ends.
    pub fn serve(self, port: u16) {
        self.checker().serve((std::net::Ipv4Addr::LOCALHOST, port));
    }
}

impl Model for ActorExploreModel {
    type State = actor_model::State;
    type Action = Described<actor_model::State, actor_model::Action>;

    fn init_states(&self) -> Vec<Self::State> {
        self.inner.init_states()
    }

    fn actions(&self, state: &Self::State, actions: &mut Vec<Self::Action>) {
        let mut inner = Vec::new();
        self.inner.actions(state, &mut inner);
        described(state, inner, actions);
    }

    fn next_state(&self, last: &Self::State, action: Self::Action) -> Option<Self::State> {
        self.inner.next_state(last, action.action)
    }

    /// What the step does, in HAProxy's words.
    fn format_action(&self, action: &Self::Action) -> String {
        self.inner
            .format_step(&action.from, action.action.clone())
            .unwrap_or_else(|| self.inner.format_action(&action.action))
    }

    fn format_step(&self, last: &Self::State, action: Self::Action) -> Option<String> {
        self.inner.format_step(last, action.action)
    }

    /// The actor model's sequence diagram of the same path.
    fn as_svg(&self, path: Path<Self::State, Self::Action>) -> Option<String> {
        let steps = path.into_vec();
        let init = steps.first()?.0.clone();
        let actions: Vec<actor_model::Action> = steps
            .iter()
            .filter_map(|(_, a)| a.as_ref().map(|a| a.action.clone()))
            .collect();
        self.inner
            .as_svg(Path::from_actions(&self.inner, init, actions.iter())?)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        delegated_properties(self)
    }
}

impl ShowsStepProperties for ActorExploreModel {
    fn step_model(&self) -> &StepModel {
        self.inner.step_model()
    }

    fn step_conditions(&self) -> &[StepCondition] {
        self.inner.step_conditions()
    }

    fn system_of(state: &Self::State) -> &System {
        ActorSystemModel::system_of(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lbqueue::{presets, Variant};
    use stateright::Checker;

    fn model(variant: Variant) -> ExploreModel {
        let scenario = presets::get(presets::DEFAULT)
            .unwrap()
            .with_variant(variant);
        ExploreModel::new(scenario, Bounds::default())
    }

    /// The state an Explorer path leads to, replayed as the Explorer does.
    fn replay(m: &ExploreModel, indices: &[usize]) -> System {
        let mut s = m.init_states()[indices[0]].clone();
        for &i in &indices[1..] {
            let mut actions = Vec::new();
            m.actions(&s, &mut actions);
            s = m.next_state(&s, actions[i].clone()).unwrap();
        }
        s
    }

    /// Each step of a lasso as the Explorer names it in its Path of Actions.
    fn path_names(m: &ExploreModel, indices: &[usize]) -> Vec<String> {
        let mut s = m.init_states()[indices[0]].clone();
        let mut names = Vec::new();
        for &i in &indices[1..] {
            let mut actions = Vec::new();
            m.actions(&s, &mut actions);
            let mut inner = Vec::new();
            m.step.actions(&s, &mut inner);
            // The same actions, in the same order: the Explorer's indices are the step
            // model's, as `ExplorerLoop` computes them.
            let plain: Vec<Actor> = actions.iter().map(|a| a.action).collect();
            assert_eq!(plain, inner);
            let a = actions[i].clone();
            let name = m.format_action(&a);
            assert_eq!(Some(name.clone()), m.step.format_step(&s, a.action));
            assert!(
                name.starts_with(&format!("{}: ", a.action)),
                "{name} names its actor first"
            );
            assert!(name.len() > format!("{}: ", a.action).len(), "{name}");
            names.push(name);
            s = m.next_state(&s, a).unwrap();
        }
        names
    }

    #[test]
    fn the_path_of_actions_says_what_each_step_did_in_haproxy_words() {
        let m = model(Variant::Livelock);
        let stuck = &m.loops()[0];
        let names = path_names(&m, &stuck.indices);
        let turn = &names[names.len() - stuck.cycle_len..];
        for words in ["pendconn_add", "pendconn_must_try_again", "assign_server"] {
            assert!(
                turn.iter().any(|n| n.contains(words)),
                "no step of the loop's turn names {words}: {turn:?}"
            );
        }
        // The prefix names the arrivals and the CLI's commands as typed.
        assert!(
            names.iter().any(|n| n.starts_with("client: S1 arrives")),
            "{names:?}"
        );
        assert!(
            names
                .iter()
                .any(|n| n.starts_with("CLI: disable server px/s1")),
            "{names:?}"
        );
        // Actions taken from different states differ even for the same actor.
        let mut from_init = Vec::new();
        m.actions(&m.init_states()[0], &mut from_init);
        let next = m
            .next_state(&m.init_states()[0], from_init[0].clone())
            .unwrap();
        let mut later = Vec::new();
        m.actions(&next, &mut later);
        if let Some(same_actor) = later.iter().find(|a| a.action == from_init[0].action) {
            assert_ne!(*same_actor, from_init[0]);
        }
        assert_eq!(from_init[0], from_init[0].clone());
    }

    /// `lbq explore --model actor`: the actor model's actions named by what they do,
    /// its actions, properties and diagrams those of the actor model.
    #[test]
    fn the_actor_model_explorer_names_steps_in_haproxy_words() {
        let scenario = presets::get("one-thread")
            .unwrap()
            .with_variant(Variant::Livelock);
        let m = ActorExploreModel::new(scenario);
        let names: Vec<&str> = m.properties().iter().map(|p| p.name).collect();
        let inner: Vec<&str> = m.inner.properties().iter().map(|p| p.name).collect();
        assert_eq!(names, inner);
        // Breadth-first over the first states: every action named.
        let mut todo = VecDeque::from(m.init_states());
        let mut seen = HashSet::new();
        let mut all = Vec::new();
        while let Some(s) = todo.pop_front() {
            if seen.len() >= 3_000 || !seen.insert(s.clone()) {
                continue;
            }
            let mut actions = Vec::new();
            m.actions(&s, &mut actions);
            let mut plain = Vec::new();
            m.inner.actions(&s, &mut plain);
            assert_eq!(
                actions.iter().map(|a| a.action.clone()).collect::<Vec<_>>(),
                plain
            );
            for a in actions {
                let name = m.format_action(&a);
                assert_eq!(
                    Some(name.clone()),
                    m.inner.format_step(&s, a.action.clone())
                );
                all.push(name);
                todo.push_back(m.next_state(&s, a).unwrap());
            }
        }
        for words in [
            "S1 arrives",
            "assign_server",
            "pendconn_add",
            "disable server px/s1",
        ] {
            assert!(
                all.iter().any(|n| n.contains(words)),
                "no step named with {words}"
            );
        }
        // A request to the backend says what the section did, not only who asked.
        let requests: Vec<&String> = all.iter().filter(|n| n.contains(" → backend: ")).collect();
        assert!(!requests.is_empty());
        for r in &requests {
            let (_, what) = r.split_once(" → backend: ").unwrap();
            assert!(what.contains(": "), "{r}: the section's events are missing");
        }
        // The sequence diagram of a path is the actor model's for the same actions.
        let init = m.init_states()[0].clone();
        let mut actions = Vec::new();
        m.actions(&init, &mut actions);
        let first = actions[0].clone();
        let second_state = m.next_state(&init, first.clone()).unwrap();
        let outer = Path::from_actions(&m, init.clone(), [&first]).unwrap();
        let plain = Path::from_actions(&m.inner, init, [&first.action]).unwrap();
        assert_eq!(outer.last_state(), &second_state);
        let svg = m.as_svg(outer).expect("a diagram");
        assert_eq!(Some(svg), m.inner.as_svg(plain));
    }

    #[test]
    fn livelock_loops_are_properties_false_on_their_states() {
        let m = model(Variant::Livelock);
        assert!(m.complete());
        let names: Vec<_> = m.loops().iter().map(|l| l.property).collect();
        assert_eq!(names, [ASSIGN_CAN_RETURN, ASSIGN_TERMINATES]);
        for l in m.loops() {
            let on_loop = |s: &System| match l.property {
                ASSIGN_CAN_RETURN => m.on_stuck_loop(s),
                _ => m.on_fair_loop(s),
            };
            assert_eq!(l.indices.len(), 1 + l.prefix_len + l.cycle_len);
            let entry = replay(&m, &l.indices[..=l.prefix_len]);
            let last = replay(&m, &l.indices);
            assert_eq!(
                entry, last,
                "{}: one turn returns to the loop's first state",
                l.property
            );
            assert!(on_loop(&last), "{}", l.property);
            // Off the loop: the prefix's states (the loop is entered at the prefix's end).
            for k in 0..l.prefix_len {
                assert!(
                    !on_loop(&replay(&m, &l.indices[..=k])),
                    "{} at {k}",
                    l.property
                );
            }
        }
        // stateright's own checker over the wrapper finds both, on loop states, and
        // agrees with the step model on the delegated properties.
        let checker = m.clone().checker().spawn_bfs().join();
        let stuck = checker
            .discovery(ASSIGN_CAN_RETURN)
            .expect("stuck loop found");
        assert!(m.on_stuck_loop(stuck.last_state()));
        let fair = checker
            .discovery(ASSIGN_TERMINATES)
            .expect("fair loop found");
        assert!(m.on_fair_loop(fair.last_state()));
        let step = m.step.clone().checker().spawn_bfs().join();
        for p in m.step.properties() {
            assert_eq!(
                checker.discovery(p.name).is_some(),
                step.discovery(p.name).is_some(),
                "{}",
                p.name
            );
        }
    }

    #[test]
    fn fixed_has_no_loop_to_show() {
        let m = model(Variant::Fixed);
        assert!(m.complete() && m.loops().is_empty());
        let checker = m.checker().spawn_bfs().join();
        assert!(checker.discovery(ASSIGN_CAN_RETURN).is_none());
        assert!(checker.discovery(ASSIGN_TERMINATES).is_none());
    }
}
