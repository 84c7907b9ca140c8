//! Behaviour of the liveness searches of `lbqueue_explorer::liveness` on tiny hand-made
//! models whose state graphs are known exactly.
//!
//! stateright's own `eventually` properties judge only paths that end, so a livelock (a
//! run that loops forever without progress) is a false negative for it. The project
//! relies instead on [`Graph::explore`] plus `fair_cycle`, `stuck_cycle` and
//! `solo_cycle`; these tests pin down what each search reports and what it must not:
//! real fair cycles (with a replayable, shortest lasso), no cycle on a DAG join, no
//! livelock through a progress edge, no livelock that needs an unfair scheduler (but a
//! solo loop there), weak fairness excusing an actor disabled somewhere on the cycle,
//! closed loops versus loops with an exit, and incomplete bounded explorations.

use std::collections::BTreeSet;
use std::time::Duration;

use lbqueue_explorer::graph::Storage;
use lbqueue_explorer::liveness::{fair_cycle, solo_cycle, stuck_cycle, Fairness, Lasso};
use lbqueue_explorer::{Bounds, Graph};
use stateright::Model;

/// The actors of every model here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Actor {
    A,
    B,
    /// A "path" actor that only walks towards a cycle.
    P,
}
use Actor::{A, B, P};

// ---------------------------------------------------------------------------------------
// A model given by its transition table.
// ---------------------------------------------------------------------------------------

/// One step of a [`Table`] model: who takes it and where it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Step {
    actor: Actor,
    to: u8,
}

/// A row of a [`Table`]: `(from, actor, to, is_progress)`.
type Row = (u8, Actor, u8, bool);

/// A non-progress transition.
fn t(from: u8, actor: Actor, to: u8) -> Row {
    (from, actor, to, false)
}

/// A progress transition.
fn progress(from: u8, actor: Actor, to: u8) -> Row {
    (from, actor, to, true)
}

/// A model whose states are node numbers and whose transitions are listed literally, in
/// the order `actions` yields them (so the order of the rows is the order of the edges).
struct Table {
    init: u8,
    rows: Vec<Row>,
}

impl Table {
    fn new(init: u8, rows: &[Row]) -> Self {
        Table {
            init,
            rows: rows.to_vec(),
        }
    }
}

impl Model for Table {
    type State = u8;
    type Action = Step;

    fn init_states(&self) -> Vec<u8> {
        vec![self.init]
    }

    fn actions(&self, state: &u8, actions: &mut Vec<Step>) {
        for &(from, actor, to, _) in &self.rows {
            if from == *state {
                actions.push(Step { actor, to });
            }
        }
    }

    fn next_state(&self, state: &u8, step: Step) -> Option<u8> {
        self.rows
            .iter()
            .any(|&(from, actor, to, _)| from == *state && actor == step.actor && to == step.to)
            .then_some(step.to)
    }
}

lbqueue_explorer::plain_storage!(Table);

impl Fairness for Table {
    type Actor = Actor;

    fn actor(&self, step: &Step) -> Actor {
        step.actor
    }

    fn is_progress(&self, from: &u8, step: &Step, to: &u8) -> bool {
        self.rows.contains(&(*from, step.actor, *to, true)) && step.to == *to
    }
}

// ---------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------

fn explore<M>(model: &M) -> Graph<M>
where
    M: Fairness,
    M::State: std::hash::Hash + Eq + Clone,
    M::Action: Clone,
{
    let g = Graph::explore(model, Bounds::default());
    assert!(g.complete, "an unbounded exploration must be complete");
    g
}

/// The actors of the cycle's steps, in order.
fn cycle_actors<M: Fairness>(model: &M, lasso: &Lasso<M::Action>) -> Vec<M::Actor> {
    lasso.cycle.iter().map(|(a, _)| model.actor(a)).collect()
}

/// The states of the lasso's steps (by value, not id), prefix then cycle.
fn values<M: Storage>(g: &Graph<M>, steps: &[(M::Action, u32)]) -> Vec<M::State>
where
    M::State: Clone,
{
    steps
        .iter()
        .map(|&(_, id)| g.state(id).into_owned())
        .collect()
}

/// Replays the lasso with `Model::next_state` from the model's own initial state and
/// checks every step lands on the state the lasso names, that the cycle is non-empty
/// and returns to its first state, and (when `no_progress`) that no step of the cycle
/// is progress. Returns the states of the cycle, first state first.
fn replay<M>(model: &M, g: &Graph<M>, lasso: &Lasso<M::Action>, no_progress: bool) -> Vec<M::State>
where
    M: Fairness,
    M::State: Clone + Eq + std::fmt::Debug,
    M::Action: Clone + std::fmt::Debug,
{
    let init = g.state(lasso.init).into_owned();
    assert!(
        model.init_states().contains(&init),
        "the lasso starts at {init:?}, which is not an initial state"
    );
    let mut cur = init;
    for (action, id) in &lasso.prefix {
        let next = model
            .next_state(&cur, action.clone())
            .unwrap_or_else(|| panic!("prefix action {action:?} is not enabled in {cur:?}"));
        assert_eq!(next, *g.state(*id), "prefix step {action:?}");
        cur = next;
    }
    assert!(!lasso.cycle.is_empty(), "a cycle has at least one step");
    let first = cur.clone();
    let mut on_cycle = vec![first.clone()];
    for (action, id) in &lasso.cycle {
        let next = model
            .next_state(&cur, action.clone())
            .unwrap_or_else(|| panic!("cycle action {action:?} is not enabled in {cur:?}"));
        assert_eq!(next, *g.state(*id), "cycle step {action:?}");
        if no_progress {
            assert!(
                !model.is_progress(&cur, action, &next),
                "cycle step {action:?} from {cur:?} is progress"
            );
        }
        on_cycle.push(next.clone());
        cur = next;
    }
    assert_eq!(cur, first, "the cycle must return to its first state");
    on_cycle.pop();
    on_cycle
}

/// The actors with an enabled action in `state`.
fn enabled<M: Fairness>(model: &M, state: &M::State) -> BTreeSet<M::Actor>
where
    M::Action: Clone,
{
    let mut actions = Vec::new();
    model.actions(state, &mut actions);
    actions
        .into_iter()
        .filter(|a| model.next_state(state, a.clone()).is_some())
        .map(|a| model.actor(&a))
        .collect()
}

/// Actors that the lasso's cycle treats unfairly: enabled in every state of the cycle
/// and never stepping in it (empty for a weakly fair cycle).
fn starved<M>(model: &M, g: &Graph<M>, lasso: &Lasso<M::Action>) -> BTreeSet<M::Actor>
where
    M: Fairness,
    M::State: Clone + Eq + std::fmt::Debug,
    M::Action: Clone + std::fmt::Debug,
{
    let states = replay(model, g, lasso, false);
    let stepping: BTreeSet<M::Actor> = cycle_actors(model, lasso).into_iter().collect();
    let mut always = enabled(model, &states[0]);
    for s in &states[1..] {
        always = always.intersection(&enabled(model, s)).copied().collect();
    }
    always.difference(&stepping).copied().collect()
}

// ---------------------------------------------------------------------------------------
// 1. A real fair non-progress cycle.
// ---------------------------------------------------------------------------------------

/// A start-up step, then a ring of three slots where A moves one slot on and B two.
/// Both actors are enabled in every slot, nothing is progress.
struct Ring;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum RingState {
    Start,
    Slot(u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum RingAction {
    Boot,
    One,
    Two,
}

impl Model for Ring {
    type State = RingState;
    type Action = RingAction;

    fn init_states(&self) -> Vec<RingState> {
        vec![RingState::Start]
    }

    fn actions(&self, state: &RingState, actions: &mut Vec<RingAction>) {
        match state {
            RingState::Start => actions.push(RingAction::Boot),
            RingState::Slot(_) => actions.extend([RingAction::One, RingAction::Two]),
        }
    }

    fn next_state(&self, state: &RingState, action: RingAction) -> Option<RingState> {
        match (*state, action) {
            (RingState::Start, RingAction::Boot) => Some(RingState::Slot(0)),
            (RingState::Slot(x), RingAction::One) => Some(RingState::Slot((x + 1) % 3)),
            (RingState::Slot(x), RingAction::Two) => Some(RingState::Slot((x + 2) % 3)),
            _ => None,
        }
    }
}

lbqueue_explorer::plain_storage!(Ring);

impl Fairness for Ring {
    type Actor = Actor;

    fn actor(&self, action: &RingAction) -> Actor {
        match action {
            RingAction::Boot | RingAction::One => A,
            RingAction::Two => B,
        }
    }

    fn is_progress(&self, _: &RingState, _: &RingAction, _: &RingState) -> bool {
        false
    }
}

#[test]
fn finds_fair_cycle() {
    let g = explore(&Ring);
    assert_eq!(g.len(), 4);
    let lasso = fair_cycle(&Ring, &g).expect("the ring is a fair non-progress cycle");
    assert_eq!(*g.state(lasso.init), RingState::Start);
    assert_eq!(lasso.prefix.len(), 1, "prefix: {:?}", lasso.prefix);
    assert_eq!(lasso.prefix[0].0, RingAction::Boot);
    assert_eq!(lasso.cycle.len(), 2, "cycle: {:?}", lasso.cycle);
    assert_eq!(cycle_actors(&Ring, &lasso), vec![A, B]);
    let on_cycle = replay(&Ring, &g, &lasso, true);
    assert_eq!(on_cycle, vec![RingState::Slot(0), RingState::Slot(1)]);
    assert!(starved(&Ring, &g, &lasso).is_empty());
    // No edge leaves the ring either: it is also a stuck loop.
    let stuck = stuck_cycle(&Ring, &g).expect("the ring is closed");
    assert_eq!(stuck.prefix.len(), 1);
    replay(&Ring, &g, &stuck, true);
}

// ---------------------------------------------------------------------------------------
// 2. A DAG join is no cycle.
// ---------------------------------------------------------------------------------------

#[test]
fn dag_join_is_not_a_cycle() {
    // Two paths from 0 meet in 3, which is terminal: the interleaving diamond
    // (0 -A-> 1 -B-> 3, 0 -B-> 2 -A-> 3), and the same shape taken by A alone (where a
    // join mistaken for a cycle would also look fair, A stepping everywhere).
    let diamond = [t(0, A, 1), t(0, B, 2), t(1, B, 3), t(2, A, 3)];
    let fork = [t(0, A, 1), t(0, A, 2), t(1, A, 3), t(2, A, 3)];
    for rows in [diamond, fork] {
        let m = Table::new(0, &rows);
        let g = explore(&m);
        assert_eq!(g.len(), 4, "the join state is stored once");
        assert_eq!(g.edges.len(), 4);
        assert_eq!(fair_cycle(&m, &g), None, "{rows:?}");
        assert_eq!(stuck_cycle(&m, &g), None, "{rows:?}");
        assert_eq!(solo_cycle(&m, &g, |_| vec![A, B]), None, "{rows:?}");
    }
}

// ---------------------------------------------------------------------------------------
// 3. A progress edge breaks a cycle.
// ---------------------------------------------------------------------------------------

#[test]
fn progress_edge_breaks_cycle() {
    // 0 -A-> 1 (progress) -A-> 0.
    let m = Table::new(0, &[progress(0, A, 1), t(1, A, 0)]);
    let g = explore(&m);
    assert_eq!(fair_cycle(&m, &g), None);
    assert_eq!(stuck_cycle(&m, &g), None);
    assert_eq!(solo_cycle(&m, &g, |_| vec![A]), None);

    // The same loop without the progress mark is reported by all three.
    let m = Table::new(0, &[t(0, A, 1), t(1, A, 0)]);
    let g = explore(&m);
    for lasso in [
        fair_cycle(&m, &g).expect("fair"),
        stuck_cycle(&m, &g).expect("stuck"),
        solo_cycle(&m, &g, |_| vec![A]).expect("solo"),
    ] {
        assert_eq!(lasso.prefix.len(), 0);
        assert_eq!(lasso.cycle.len(), 2);
        assert_eq!(replay(&m, &g, &lasso, true), vec![0, 1]);
    }
}

// ---------------------------------------------------------------------------------------
// 4. An unfair cycle is no livelock, but it is a solo loop.
// ---------------------------------------------------------------------------------------

/// A spins (toggles a flag) until B is done; B, always enabled until done, finishes in
/// one non-progress step into a terminal state. Without B (`with_b == false`) A spins
/// forever.
struct Spin {
    with_b: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct SpinState {
    flag: bool,
    b_done: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum SpinAction {
    Toggle,
    Finish,
}

impl Model for Spin {
    type State = SpinState;
    type Action = SpinAction;

    fn init_states(&self) -> Vec<SpinState> {
        vec![SpinState {
            flag: false,
            b_done: false,
        }]
    }

    fn actions(&self, state: &SpinState, actions: &mut Vec<SpinAction>) {
        if !state.b_done {
            actions.push(SpinAction::Toggle);
            if self.with_b {
                actions.push(SpinAction::Finish);
            }
        }
    }

    fn next_state(&self, state: &SpinState, action: SpinAction) -> Option<SpinState> {
        match action {
            SpinAction::Toggle if !state.b_done => Some(SpinState {
                flag: !state.flag,
                ..*state
            }),
            SpinAction::Finish if self.with_b && !state.b_done => Some(SpinState {
                b_done: true,
                ..*state
            }),
            _ => None,
        }
    }
}

lbqueue_explorer::plain_storage!(Spin);

impl Fairness for Spin {
    type Actor = Actor;

    fn actor(&self, action: &SpinAction) -> Actor {
        match action {
            SpinAction::Toggle => A,
            SpinAction::Finish => B,
        }
    }

    fn is_progress(&self, _: &SpinState, _: &SpinAction, _: &SpinState) -> bool {
        false
    }
}

#[test]
fn unfair_cycle_is_not_a_livelock() {
    let m = Spin { with_b: true };
    let g = explore(&m);
    assert_eq!(g.len(), 4);
    assert_eq!(
        fair_cycle(&m, &g),
        None,
        "A's spin starves B, which is enabled throughout: not weakly fair"
    );
    assert_eq!(stuck_cycle(&m, &g), None, "B's step leaves the spin");
    assert_eq!(solo_cycle(&m, &g, |_| vec![B]), None, "B alone finishes");

    let solo = solo_cycle(&m, &g, |_| vec![A]).expect("A alone spins forever");
    assert_eq!(solo.prefix.len(), 0);
    assert_eq!(solo.cycle.len(), 2);
    assert_eq!(cycle_actors(&m, &solo), vec![A, A]);
    replay(&m, &g, &solo, true);
    assert_eq!(
        starved(&m, &g, &solo),
        BTreeSet::from([B]),
        "the solo loop starves B"
    );
}

#[test]
fn spin_without_rival_is_a_livelock() {
    // The contrast to `unfair_cycle_is_not_a_livelock`: with no B, the spin is fair.
    let m = Spin { with_b: false };
    let g = explore(&m);
    let lasso = fair_cycle(&m, &g).expect("A spins alone: fair");
    assert_eq!(lasso.prefix.len(), 0);
    assert_eq!(cycle_actors(&m, &lasso), vec![A, A]);
    replay(&m, &g, &lasso, true);
}

// ---------------------------------------------------------------------------------------
// 5. Weak fairness: an actor disabled somewhere on the cycle need not step.
// ---------------------------------------------------------------------------------------

#[test]
fn actor_disabled_on_cycle_need_not_step() {
    // A: 0 -> 1 -> 2 -> 0. B can leave to the terminal 9 from 0 and 1, not from 2.
    let rows = [t(0, A, 1), t(1, A, 2), t(2, A, 0), t(0, B, 9), t(1, B, 9)];
    let m = Table::new(0, &rows);
    let g = explore(&m);
    let lasso = fair_cycle(&m, &g).expect("B is disabled in 2, so the A loop is fair");
    assert_eq!(lasso.prefix.len(), 0);
    assert_eq!(cycle_actors(&m, &lasso), vec![A, A, A]);
    assert_eq!(replay(&m, &g, &lasso, true), vec![0, 1, 2]);
    assert!(starved(&m, &g, &lasso).is_empty());

    // Enable B in 2 as well: now B is enabled throughout and never steps.
    let mut rows = rows.to_vec();
    rows.push(t(2, B, 9));
    let m = Table::new(0, &rows);
    let g = explore(&m);
    assert_eq!(fair_cycle(&m, &g), None, "B is starved in every state");
}

/// Same as `actor_disabled_on_cycle_need_not_step`, but the component holds two loops
/// through its entry and only one of them passes the state where B is disabled. The
/// component is fair (the search is right to report it), yet the reported cycle must
/// itself be fair: it has to go through 2 (or let B step).
///
/// postmortem: `fair_tour` used to owe a step only to actors enabled in *every* state of
/// the component, so an actor excused by a state that the tour did not visit was starved
/// by the witness: it returned the cycle 0 -A-> 1 -A-> 0, on which B is enabled in both
/// states and never steps.
#[test]
fn fair_cycle_witness_is_itself_fair() {
    let m = Table::new(
        0,
        &[
            t(0, A, 1),
            t(1, A, 0),
            t(0, A, 2),
            t(2, A, 0),
            t(0, B, 9),
            t(1, B, 9),
        ],
    );
    let g = explore(&m);
    let lasso = fair_cycle(&m, &g).expect("the component {0, 1, 2} is fair");
    let on_cycle = replay(&m, &g, &lasso, true);
    let starved = starved(&m, &g, &lasso);
    assert!(
        starved.is_empty(),
        "fair_tour: the lasso cycle through {on_cycle:?} starves {starved:?} \
         (enabled in every state of the cycle, never steps); it should also pass state 2, \
         where B is disabled"
    );
}

// ---------------------------------------------------------------------------------------
// 6. stuck_cycle: closed loops only; fair_cycle: exits do not matter.
// ---------------------------------------------------------------------------------------

#[test]
fn stuck_cycle_needs_a_closed_loop() {
    // 0 -A-> 1 -A-> 2 -A-> 1: nothing leaves {1, 2}.
    let closed = Table::new(0, &[t(0, A, 1), t(1, A, 2), t(2, A, 1)]);
    let g = explore(&closed);
    let fair = fair_cycle(&closed, &g).expect("fair: A is the only actor and steps");
    let stuck = stuck_cycle(&closed, &g).expect("no edge leaves {1, 2}");
    for lasso in [&fair, &stuck] {
        assert_eq!(lasso.prefix.len(), 1);
        assert_eq!(cycle_actors(&closed, lasso), vec![A, A]);
        assert_eq!(replay(&closed, &g, lasso, true), vec![1, 2]);
    }

    // The same loop with an exit 2 -A-> 3: a scheduler can leave, so it is not stuck,
    // but the loop is still a fair non-progress cycle.
    let open = Table::new(0, &[t(0, A, 1), t(1, A, 2), t(2, A, 1), t(2, A, 3)]);
    let g = explore(&open);
    let fair = fair_cycle(&open, &g).expect("an exit does not make a cycle unfair");
    assert_eq!(fair.prefix.len(), 1);
    assert_eq!(replay(&open, &g, &fair, true), vec![1, 2]);
    assert_eq!(stuck_cycle(&open, &g), None, "2 -> 3 leaves the loop");
}

// ---------------------------------------------------------------------------------------
// 7. The prefix is a shortest path.
// ---------------------------------------------------------------------------------------

#[test]
fn prefix_is_shortest() {
    // Long way (listed first): 0 -> 1 -> 2 -> 3 -> 11; short way: 0 -> 5 -> 10;
    // then the loop 10 -A-> 11 -A-> 10.
    let m = Table::new(
        0,
        &[
            t(0, P, 1),
            t(1, P, 2),
            t(2, P, 3),
            t(3, P, 11),
            t(0, P, 5),
            t(5, P, 10),
            t(10, A, 11),
            t(11, A, 10),
        ],
    );
    let g = explore(&m);
    let fair = fair_cycle(&m, &g).expect("fair");
    let stuck = stuck_cycle(&m, &g).expect("stuck");
    let solo = solo_cycle(&m, &g, |_| vec![P, A]).expect("solo");
    for lasso in [&fair, &stuck, &solo] {
        assert_eq!(
            values(&g, &lasso.prefix),
            vec![5, 10],
            "the prefix must be the short way into the loop"
        );
        assert_eq!(cycle_actors(&m, lasso), vec![A, A]);
        assert_eq!(replay(&m, &g, lasso, true), vec![10, 11]);
    }
}

#[test]
fn nearest_cycle_is_reported() {
    // Two separate loops: 0 -> 1 -> 2 -> {3 <-> 4} (listed first) and 0 -> 7 -> {8 <-> 9}.
    let m = Table::new(
        0,
        &[
            t(0, P, 1),
            t(1, P, 2),
            t(2, P, 3),
            t(3, A, 4),
            t(4, A, 3),
            t(0, P, 7),
            t(7, P, 8),
            t(8, A, 9),
            t(9, A, 8),
        ],
    );
    let g = explore(&m);
    let fair = fair_cycle(&m, &g).expect("fair");
    let stuck = stuck_cycle(&m, &g).expect("stuck");
    for lasso in [&fair, &stuck] {
        assert_eq!(values(&g, &lasso.prefix), vec![7, 8]);
        assert_eq!(replay(&m, &g, lasso, true), vec![8, 9]);
    }
}

// ---------------------------------------------------------------------------------------
// 8. Bounded explorations are incomplete.
// ---------------------------------------------------------------------------------------

/// A counts 0..100 and wraps round to 0: one big non-progress loop.
struct Counter;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Tick {
    Tick,
}

impl Model for Counter {
    type State = u32;
    type Action = Tick;

    fn init_states(&self) -> Vec<u32> {
        vec![0]
    }

    fn actions(&self, _: &u32, actions: &mut Vec<Tick>) {
        actions.push(Tick::Tick);
    }

    fn next_state(&self, state: &u32, _: Tick) -> Option<u32> {
        Some((state + 1) % 100)
    }
}

lbqueue_explorer::plain_storage!(Counter);

impl Fairness for Counter {
    type Actor = Actor;

    fn actor(&self, _: &Tick) -> Actor {
        A
    }

    fn is_progress(&self, _: &u32, _: &Tick, _: &u32) -> bool {
        false
    }
}

#[test]
fn bounded_exploration_is_incomplete() {
    let full = Graph::explore(&Counter, Bounds::default());
    assert!(full.complete);
    assert_eq!(full.len(), 100);
    let lasso = fair_cycle(&Counter, &full).expect("the counter wraps round");
    assert_eq!(lasso.cycle.len(), 100);

    let bounds = Bounds {
        max_states: Some(10),
        ..Bounds::default()
    };
    let part = Graph::explore(&Counter, bounds);
    assert!(!part.complete, "stopped by max_states: must say incomplete");
    assert_eq!(part.len(), 10);
    // The back edge 99 -> 0 was never seen: no search may invent a loop.
    assert_eq!(fair_cycle(&Counter, &part), None);
    assert_eq!(stuck_cycle(&Counter, &part), None);
    assert_eq!(solo_cycle(&Counter, &part, |_| vec![A]), None);

    let timed = Graph::explore(
        &Counter,
        Bounds {
            timeout: Some(Duration::ZERO),
            ..Bounds::default()
        },
    );
    assert!(
        !timed.complete,
        "stopped by the timeout: must say incomplete"
    );
}

/// `Graph::expanded` is documented as "number of states whose successors were
/// generated", and `stuck_cycle` / `solo_cycle` / the SCC search use it to tell expanded
/// states from frontier states of a bounded search. On the counter bounded at 10 states,
/// states 0..=8 are expanded and 9 is not, so it should be 9.
///
/// postmortem: `expanded()` used to be computed from the edge offsets, which
/// `Graph::explore` pads to `states.len() + 1`, so it always equalled `states.len()` (10
/// here) and the `expanded()` guards in `liveness.rs` were dead.
#[test]
fn bounded_graph_counts_expanded_states() {
    let part = Graph::explore(
        &Counter,
        Bounds {
            max_states: Some(10),
            ..Bounds::default()
        },
    );
    assert!(!part.complete);
    assert_eq!(part.len(), 10);
    assert_eq!(
        part.expanded(),
        9,
        "state 9 (the frontier) was never expanded, yet it is counted"
    );
}
