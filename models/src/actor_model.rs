//! The same system as [`crate::step_model`], rendered as a stateright actor system
//! ([`ActorModel`]): HAProxy's threads, the CLI and the clients are actors that exchange
//! messages with the memory they share.
//!
//! # Actors
//!
//! HAProxy threads share memory (the backend and server queues, `px->served` …); actors
//! do not. So the shared memory is an actor too:
//!
//! - the **backend** (id 0) owns the whole [`lbqueue::System`]. It is the only place queue
//!   logic runs, always through [`lbqueue::step`]: nothing of the queue logic is written
//!   here a second time;
//! - one actor per HAProxy thread `T1..Tn` (ids 1..=n), the **CLI** (id n+1) and the
//!   **client** (id n+2). Each asks the backend to run its next section
//!   ([`Msg::RunSection`]) and waits for the answer ([`Msg::SectionDone`]) before it asks
//!   again. With at most one request per actor in flight, the backend's choice of which
//!   request to serve next is exactly the step model's choice of which actor runs next.
//!
//! Task wake-ups (`task_wakeup`) are messages to the owning thread: after each section
//! the backend compares every thread's run queue before and after and sends
//! [`Msg::Wake`] for each task newly queued there (a dequeuer handing a stream a slot, a
//! kill request, a redistribute or purge wake-up, an arrival, a queue timeout). A thread
//! actor counts the woken tasks it was told about and remembers whether its current task
//! has sections left; it only asks for a section when it has work. That is a mirror of
//! the run queue the backend's `System` keeps ([`mirror_agrees`] checks it on every
//! state in debug builds): the thread never decides *which* task runs (the `System`'s
//! FIFO run queue does), only *that* it has something to run.
//!
//! Queue timeouts (`timeout queue`) are actor timers of the backend, one timer per
//! stream ([`QueueTimer`]): set when a step leaves the stream waiting in a queue with
//! its timeout armed, cancelled when a step disarms it, and firing
//! `lbqueue::step(Actor::Timeout(s))`.
//!
//! # Network
//!
//! [`Network::new_unordered_nonduplicating`]: a message is delivered exactly once, in
//! any order. This is what HAProxy gives a wake-up: `task_wakeup()` sets `TASK_WOKEN_*`
//! and queues the task once — it is never lost, and waking a queued task again does not
//! queue it twice (the backend only sends a `Wake` for a task newly queued) — but a task
//! woken from another thread goes through that thread's shared run queue, and nothing
//! orders it against the other wake-ups that thread receives. A duplicating network
//! would redeliver wake-ups (and answers) that HAProxy delivers once; a lossy one would
//! lose wake-ups HAProxy never loses; an ordered one would add an ordering HAProxy does
//! not promise (and that the count kept by a thread actor could not observe anyway).
//!
//! # What is checked
//!
//! The properties are the step model's, evaluated on the backend's `System` (the step
//! model's own conditions are called, see [`ActorSystemModel`]), and the three liveness
//! searches run on the actor graph through [`Fairness`]: the actor of an action is the
//! actor whose request (or answer, or wake-up) is delivered, or the stream's queue timer;
//! progress is a call of `assign_server_and_queue` returning in the backend's `System`
//! (the step model's own progress predicate). [`check_actor`] produces the same
//! [`Report`] as [`crate::check::check`], engine `stateright-actor`.
//!
//! Why the verdicts must agree: the backend runs a section only at an actor's request,
//! and an actor requests only what the `System` allows (its knowledge is a lower bound
//! of the `System`'s run queue), so every actor path projects onto a step-model path;
//! delivering every answer and wake-up right after each section replays any step-model
//! path. Requests, answers and wake-ups of an actor are all labelled with that actor, so
//! an actor the step model calls enabled always has a message to deliver here, and an
//! actor stepping in a cycle here runs a section in it: fair, stuck and solo cycles
//! correspond both ways.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use lbqueue::event::StreamName;
use lbqueue::{is_enabled, step, Actor as StepActor, Journal, Scenario, StreamId, System};
use stateright::actor::{
    model_timeout, Actor, ActorModel, ActorModelAction, ActorModelState, Id, Network, Out,
};
use stateright::{Model, Path, Property};

use crate::check::{build_report, Report};
use crate::graph::{Bounds, Graph};
use crate::liveness::{Fairness, Lasso};
use crate::step_model::{delegated_properties, ShowsStepProperties, StepCondition, StepModel};
use crate::trace::{stream_of, Trace};

/// The backend's actor index (its [`Id`] is `Id::from(BACKEND)`).
pub const BACKEND: usize = 0;

fn is_backend(id: Id) -> bool {
    usize::from(id) == BACKEND
}

/// Messages between the actors.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Msg {
    /// Thread/CLI/client → backend: run my next section.
    RunSection,
    /// Backend → the requester: the section ran. For a thread: whether its task has
    /// sections left; for the CLI: whether its script has; for the client: whether
    /// streams are left to arrive.
    SectionDone {
        /// The requester has more to run without being woken.
        task_continues: bool,
    },
    /// Backend → a thread: `task_wakeup()` queued this stream's task on it.
    Wake(StreamId),
}

/// The backend's timer of a stream's `timeout queue` (`conn_exp`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueTimer(pub StreamId);

/// One actor of the system.
#[derive(Clone, Debug)]
pub enum Node {
    /// The shared memory: owns the [`System`] and runs every section.
    Backend(Arc<Scenario>),
    /// HAProxy thread `T{n+1}`.
    Thread(u8),
    /// The CLI (its script is the scenario's); whether the script has any command.
    Cli {
        /// The scenario's CLI script is not empty.
        has_script: bool,
    },
    /// The clients (streams arrive in id order).
    Client,
}

/// What a thread actor knows: a mirror of its run queue in the backend's `System`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ThreadView {
    /// Woken tasks it was told about ([`Msg::Wake`]) and has not started yet.
    pub woken: u8,
    /// Whether its current task has sections left (last [`Msg::SectionDone`]).
    pub running: bool,
    /// Whether a request of its is in flight or being answered.
    pub waiting: bool,
}

impl ThreadView {
    fn has_work(&self) -> bool {
        self.running || self.woken > 0
    }
}

/// The local state of an actor.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NodeState {
    /// The backend: the whole system.
    /// (Boxed: the other nodes' states are a few bytes.)
    Backend(Box<System>),
    /// A thread.
    Thread(ThreadView),
    /// The CLI or the client: whether it has nothing left to ask for.
    Script {
        /// Its last request was answered with `task_continues: false` (or it had none).
        done: bool,
    },
}

/// The actor system's state.
pub type State = ActorModelState<Node>;
/// The actor system's actions.
pub type Action = ActorModelAction<Msg, QueueTimer, ()>;

/// Where each actor lives: ids of threads, CLI and client for `threads` HAProxy threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Number of HAProxy threads.
    pub threads: u8,
}

impl Layout {
    /// The layout of a scenario.
    pub fn of(scenario: &Scenario) -> Self {
        Layout {
            threads: scenario.threads,
        }
    }

    /// The actor id of a step-model actor that sends requests (not a timer).
    pub fn id_of(self, who: StepActor) -> Option<Id> {
        match who {
            StepActor::Thread(t) => Some(Id::from(1 + t as usize)),
            StepActor::Cli => Some(Id::from(1 + self.threads as usize)),
            StepActor::Client => Some(Id::from(2 + self.threads as usize)),
            StepActor::Timeout(_) | StepActor::ConnError(_) => None,
        }
    }

    /// The step-model actor an actor id (other than the backend's) stands for.
    pub fn actor_of(self, id: Id) -> StepActor {
        let i = usize::from(id);
        let n = self.threads as usize;
        match i {
            0 => panic!("the backend runs sections, it is no step-model actor"),
            i if i <= n => StepActor::Thread((i - 1) as u8),
            i if i == n + 1 => StepActor::Cli,
            i if i == n + 2 => StepActor::Client,
            _ => panic!("no actor {i} in a {n}-thread layout"),
        }
    }
}

/// The backend's `System` in an actor-system state.
pub fn backend(state: &State) -> &System {
    match &*state.actor_states[0] {
        NodeState::Backend(sys) => sys,
        other => panic!("actor 0 is the backend, found {other:?}"),
    }
}

impl Node {
    /// Runs one section of `who` in the backend, answers the requester, sends the
    /// wake-ups and sets or cancels the queue timers the section changed.
    fn run(scenario: &Scenario, state: &mut Cow<NodeState>, who: StepActor, o: &mut Out<Node>) {
        let NodeState::Backend(before) = &**state else {
            unreachable!("only the backend runs sections")
        };
        assert!(
            is_enabled(before, scenario, who),
            "{who} asked for a section it cannot run"
        );
        let mut sys = System::clone(before);
        step(&mut sys, scenario, who, &mut Journal::silent());
        let layout = Layout::of(scenario);
        if let Some(requester) = layout.id_of(who) {
            let task_continues = match who {
                StepActor::Thread(t) => sys.threads[t as usize].task.is_some(),
                StepActor::Cli => sys.cli_pending(scenario),
                StepActor::Client => (sys.arrived as usize) < sys.streams.len(),
                StepActor::Timeout(_) | StepActor::ConnError(_) => unreachable!(),
            };
            o.send(requester, Msg::SectionDone { task_continues });
        }
        for (t, (old, new)) in before.threads.iter().zip(&sys.threads).enumerate() {
            // The stepping thread took the head of its run queue when it had no task;
            // anything queued since is appended (a running task woken again included).
            let popped = who == StepActor::Thread(t as u8) && old.task.is_none();
            let kept = old.runq.len() - usize::from(popped);
            debug_assert_eq!(new.runq[..kept], old.runq[usize::from(popped)..]);
            for &s in &new.runq[kept..] {
                o.send(
                    layout.id_of(StepActor::Thread(t as u8)).unwrap(),
                    Msg::Wake(s),
                );
            }
        }
        if scenario.queue_timeout {
            for s in 0..sys.streams.len() as StreamId {
                let timer = StepActor::Timeout(s);
                match (
                    is_enabled(before, scenario, timer),
                    is_enabled(&sys, scenario, timer),
                ) {
                    (false, true) => o.set_timer(QueueTimer(s), model_timeout()),
                    (true, false) => o.cancel_timer(QueueTimer(s)),
                    _ => {}
                }
            }
        }
        *state = Cow::Owned(NodeState::Backend(Box::new(sys)));
    }

    /// A thread, the CLI or the client asks the backend to run its next section.
    fn request(o: &mut Out<Node>) {
        o.send(Id::from(BACKEND), Msg::RunSection);
    }
}

impl Actor for Node {
    type Msg = Msg;
    type State = NodeState;
    type Timer = QueueTimer;
    type Random = ();
    type Storage = ();

    fn on_start(&self, _id: Id, _storage: &Option<()>, o: &mut Out<Self>) -> NodeState {
        match self {
            Node::Backend(scenario) => NodeState::Backend(Box::new(System::new(scenario))),
            Node::Thread(_) => NodeState::Thread(ThreadView {
                woken: 0,
                running: false,
                waiting: false,
            }),
            // The CLI and the client know from their script whether they have work.
            Node::Cli { has_script: false } => NodeState::Script { done: true },
            Node::Cli { has_script: true } | Node::Client => {
                Node::request(o);
                NodeState::Script { done: false }
            }
        }
    }

    fn on_msg(&self, _id: Id, state: &mut Cow<NodeState>, src: Id, msg: Msg, o: &mut Out<Self>) {
        match (self, msg) {
            (Node::Backend(scenario), Msg::RunSection) => {
                let who = Layout::of(scenario).actor_of(src);
                Node::run(scenario, state, who, o);
            }
            (Node::Thread(_), msg) => {
                let NodeState::Thread(view) = &**state else {
                    unreachable!("a thread actor has a thread state")
                };
                let mut view = view.clone();
                match msg {
                    Msg::Wake(_) => view.woken += 1,
                    Msg::SectionDone { task_continues } => {
                        if !view.running {
                            // The section was the first of the next woken task.
                            view.woken = view
                                .woken
                                .checked_sub(1)
                                .expect("a thread only starts a task it was told of");
                        }
                        view.running = task_continues;
                        view.waiting = false;
                    }
                    Msg::RunSection => unreachable!("threads run nothing themselves"),
                }
                if !view.waiting && view.has_work() {
                    view.waiting = true;
                    Node::request(o);
                }
                *state = Cow::Owned(NodeState::Thread(view));
            }
            (Node::Cli { .. } | Node::Client, Msg::SectionDone { task_continues }) => {
                if task_continues {
                    Node::request(o);
                } else {
                    *state = Cow::Owned(NodeState::Script { done: true });
                }
            }
            (node, msg) => unreachable!("{node:?} does not expect {msg:?}"),
        }
    }

    fn on_timeout(
        &self,
        _id: Id,
        state: &mut Cow<NodeState>,
        timer: &QueueTimer,
        o: &mut Out<Self>,
    ) {
        let Node::Backend(scenario) = self else {
            unreachable!("only the backend sets timers")
        };
        Node::run(scenario, state, StepActor::Timeout(timer.0), o);
    }

    fn name(&self) -> String {
        match self {
            Node::Backend(_) => "backend".to_string(),
            Node::Thread(t) => StepActor::Thread(*t).to_string(),
            Node::Cli { .. } => StepActor::Cli.to_string(),
            Node::Client => StepActor::Client.to_string(),
        }
    }
}

/// A property condition of the step model.
type Condition = StepCondition;

/// The actor system of a scenario, as a stateright [`Model`].
///
/// It is stateright's [`ActorModel`] (states, actions and transitions are exactly its
/// own: every method but the names and the properties delegates to it), wrapped so
/// that steps are named in HAProxy's words (`ActorModel` fixes `format_action` and
/// `format_step` to message dumps) and so that the step model's own property
/// conditions are called on the backend's `System` (a stateright condition is a plain
/// `fn`, so they are reached by index through `delegated_properties`). Walk it in
/// stateright's Explorer through [`crate::explorer::ActorExploreModel`] (sequence
/// diagrams included, each action named by what it does); its liveness verdicts come
/// from [`check_actor`], not from the Explorer.
#[derive(Clone)]
pub struct ActorSystemModel {
    /// The actor system.
    pub actors: ActorModel<Node, Layout>,
    /// The step model of the same scenario: its properties and progress predicate.
    pub step: StepModel,
    conditions: Arc<Vec<Condition>>,
}

impl fmt::Debug for ActorSystemModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorSystemModel")
            .field("scenario", &self.step.scenario.name)
            .field("variant", &self.step.scenario.variant.name())
            .field("actors", &self.actors.actors.len())
            .finish()
    }
}

/// Why the actor model cannot run `scenario`, if it cannot: its thread actors do not
/// follow the counter updates a thread owes (split atomics), and its CLI actor asks for
/// sections on its own, not as a task of a thread (`cli_thread`).
pub fn unsupported(scenario: &Scenario) -> Option<&'static str> {
    if scenario.split_atomics {
        Some(
            "the actor model runs HAProxy's counter updates in-section only, and this \
             scenario sets atomics = \"split\" (use --model step)",
        )
    } else if scenario.connect_errors > 0 {
        Some(
            "the actor model has no network events, and this scenario sets connect_errors \
             (use --model step)",
        )
    } else if scenario.cli_thread.is_some() {
        Some(
            "the actor model's CLI is an actor of its own, and this scenario sets \
             cli_thread (use --model step)",
        )
    } else {
        None
    }
}

impl ActorSystemModel {
    /// The actor system of a scenario (with its variant), which the actor model must
    /// support ([`unsupported`]).
    pub fn new(scenario: Scenario) -> Self {
        if let Some(why) = unsupported(&scenario) {
            panic!("{why}");
        }
        let layout = Layout::of(&scenario);
        let shared = Arc::new(scenario.clone());
        let actors = ActorModel::new(layout, ())
            .init_network(Network::new_unordered_nonduplicating([]))
            .actor(Node::Backend(shared))
            .actors((0..scenario.threads).map(Node::Thread))
            .actor(Node::Cli {
                has_script: !scenario.cli.is_empty(),
            })
            .actor(Node::Client);
        let step = StepModel::new(scenario);
        let conditions: Vec<Condition> = step.properties().iter().map(|p| p.condition).collect();
        ActorSystemModel {
            actors,
            step,
            conditions: Arc::new(conditions),
        }
    }

    /// The scenario.
    pub fn scenario(&self) -> &Scenario {
        &self.step.scenario
    }

    fn layout(&self) -> Layout {
        self.actors.cfg
    }

    /// The step-model actor (thread, CLI, client) whose section a backend delivery
    /// runs, or the timer whose timeout fires; `None` for deliveries to a thread, the
    /// CLI or the client (they change no `System`).
    pub fn section_of(&self, action: &Action) -> Option<StepActor> {
        match action {
            ActorModelAction::Deliver { src, dst, .. } if is_backend(*dst) => {
                Some(self.layout().actor_of(*src))
            }
            ActorModelAction::Timeout(_, QueueTimer(s)) => Some(StepActor::Timeout(*s)),
            _ => None,
        }
    }

    /// `T1 → backend: run S3's next section: S3 pendconn_add → backend queue`.
    fn describe(&self, last: Option<&State>, action: &Action) -> String {
        let sc = self.scenario();
        let events = |who: StepActor| -> String {
            let Some(sys) = last.map(backend) else {
                return String::new();
            };
            if !is_enabled(sys, sc, who) {
                return ": (cannot run)".to_string();
            }
            let mut next = sys.clone();
            let mut j = Journal::recording();
            step(&mut next, sc, who, &mut j);
            let events: Vec<String> = j.into_events().iter().map(|e| e.to_string()).collect();
            format!(": {}", events.join("; "))
        };
        match action {
            ActorModelAction::Deliver { src, dst, msg } if is_backend(*dst) => {
                let who = self.layout().actor_of(*src);
                let what = match who {
                    StepActor::Thread(_) => match last.and_then(|s| stream_of(backend(s), who)) {
                        Some(s) => format!("run {}'s next section", StreamName(s)),
                        None => "run its next section".to_string(),
                    },
                    StepActor::Cli => "run the next CLI section".to_string(),
                    StepActor::Client => "the next stream arrives".to_string(),
                    StepActor::Timeout(_) | StepActor::ConnError(_) => unreachable!(),
                };
                debug_assert_eq!(*msg, Msg::RunSection);
                format!("{who} → backend: {what}{}", events(who))
            }
            ActorModelAction::Deliver { dst, msg, .. } => {
                let who = self.layout().actor_of(*dst);
                match msg {
                    Msg::Wake(s) => format!("backend → {who}: task_wakeup({})", StreamName(*s)),
                    Msg::SectionDone { task_continues } => {
                        let rest = match (who, task_continues) {
                            (StepActor::Thread(_), true) => "its task continues",
                            (StepActor::Thread(_), false) => "its task yields",
                            (StepActor::Cli, true) => "the script continues",
                            (StepActor::Cli, false) => "the script is done",
                            (_, true) => "more streams to come",
                            (_, false) => "every stream has arrived",
                        };
                        format!("backend → {who}: section done, {rest}")
                    }
                    Msg::RunSection => format!("backend → {who}: {msg:?}"),
                }
            }
            ActorModelAction::Timeout(_, QueueTimer(s)) => {
                let who = StepActor::Timeout(*s);
                format!(
                    "{who} fires (timeout queue of {}){}",
                    StreamName(*s),
                    events(who)
                )
            }
            other => format!("{other:?}"),
        }
    }
}

/// Checks that every actor's knowledge mirrors the backend's `System`: per thread, the
/// woken tasks it knows of plus the wake-ups in flight to it are its run queue, what it
/// believes of its current task is true once the answer is delivered, and it has a
/// request out exactly when it has work; the backend's timers are the armed queue
/// timeouts; the CLI and the client have a request out exactly while they have work.
pub fn mirror_agrees(model: &ActorSystemModel, state: &State) -> Result<(), String> {
    let sys = backend(state);
    let sc = model.scenario();
    let layout = model.layout();
    // The multiset itself: stateright 0.31's `Network::iter_all` yields an envelope
    // sent n > 1 times n + 1 times.
    let Network::UnorderedNonDuplicating(multiset) = &state.network else {
        return Err("the network is not the unordered non-duplicating one".to_string());
    };
    let in_flight = |pred: &dyn Fn(Id, Id, &Msg) -> bool| -> usize {
        multiset
            .iter()
            .filter(|(e, _)| pred(e.src, e.dst, &e.msg))
            .map(|(_, &n)| n)
            .sum()
    };
    for (t, th) in sys.threads.iter().enumerate() {
        let who = StepActor::Thread(t as u8);
        let id = layout.id_of(who).unwrap();
        let NodeState::Thread(view) = &*state.actor_states[usize::from(id)] else {
            return Err(format!("{who} has no thread state"));
        };
        let requests = in_flight(&|src, _, m| src == id && *m == Msg::RunSection);
        let wakes = in_flight(&|_, dst, m| dst == id && matches!(m, Msg::Wake(_)));
        let answer = multiset.keys().find_map(|e| match e.msg {
            Msg::SectionDone { task_continues } if e.dst == id => Some(task_continues),
            _ => None,
        });
        let answers = in_flight(&|_, dst, m| dst == id && matches!(m, Msg::SectionDone { .. }));
        if requests + answers != usize::from(view.waiting) {
            return Err(format!(
                "{who}: waiting {} but {requests} requests and {answers} answers in flight",
                view.waiting
            ));
        }
        // What the thread will know once the answer in flight, if any, is delivered.
        let (running, woken) = match answer {
            Some(c) => match view.woken.checked_sub(u8::from(!view.running)) {
                Some(w) => (c, w),
                None => return Err(format!("{who}: started a task it was not told of")),
            },
            None => (view.running, view.woken),
        };
        if running != th.task.is_some() {
            return Err(format!(
                "{who}: believes its task running = {running}, the backend has {:?}",
                th.task
            ));
        }
        if usize::from(woken) + wakes != th.runq.len() {
            return Err(format!(
                "{who}: knows {woken} woken tasks, {wakes} wake-ups in flight, run queue {:?}",
                th.runq
            ));
        }
        if !view.waiting && view.has_work() {
            return Err(format!("{who}: has work and no request out"));
        }
    }
    for who in [StepActor::Cli, StepActor::Client] {
        let id = layout.id_of(who).unwrap();
        let pending = is_enabled(sys, sc, who);
        let out = in_flight(&|src, dst, m| {
            (src == id && *m == Msg::RunSection)
                || (dst == id && matches!(m, Msg::SectionDone { .. }))
        });
        let NodeState::Script { done } = &*state.actor_states[usize::from(id)] else {
            return Err(format!("{who} has no script state"));
        };
        let agrees = if pending {
            out == 1 && !done
        } else {
            out + usize::from(*done) == 1
        };
        if !agrees {
            return Err(format!(
                "{who}: pending {pending}, done {done}, {out} messages in flight"
            ));
        }
    }
    let mut timers: Vec<StreamId> = state.timers_set[0].iter().map(|t| t.0).collect();
    timers.sort_unstable();
    let armed: Vec<StreamId> = (0..sys.streams.len() as StreamId)
        .filter(|&s| is_enabled(sys, sc, StepActor::Timeout(s)))
        .collect();
    if timers != armed {
        return Err(format!(
            "backend timers {timers:?}, armed queue timeouts {armed:?}"
        ));
    }
    Ok(())
}

impl Model for ActorSystemModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        self.actors.init_states()
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        self.actors.actions(state, actions)
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let next = self.actors.next_state(last, action.clone());
        // Every delivery changes its recipient and every timer fires a section: a `None`
        // here would leave a message in the network forever.
        assert!(next.is_some(), "no-op action {action:?}");
        if cfg!(debug_assertions) {
            if let Some(n) = &next {
                if let Err(e) = mirror_agrees(self, n) {
                    panic!("after {}: {e}", self.describe(Some(last), &action));
                }
            }
        }
        next
    }

    fn format_action(&self, action: &Action) -> String {
        self.describe(None, action)
    }

    fn format_step(&self, last: &State, action: Action) -> Option<String> {
        Some(self.describe(Some(last), &action))
    }

    fn as_svg(&self, path: Path<State, Action>) -> Option<String> {
        self.actors.as_svg(path)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        delegated_properties(self)
    }
}

// The actor model's states are kept as they are.
crate::plain_storage!(ActorSystemModel);

impl Fairness for ActorSystemModel {
    type Actor = StepActor;

    /// The actor whose request is delivered to the backend, or to whom an answer or a
    /// wake-up is delivered; a queue timer for its timeout.
    fn actor(&self, action: &Action) -> StepActor {
        match action {
            ActorModelAction::Deliver { src, dst, .. } => {
                if is_backend(*dst) {
                    self.layout().actor_of(*src)
                } else {
                    self.layout().actor_of(*dst)
                }
            }
            ActorModelAction::Timeout(_, QueueTimer(s)) => StepActor::Timeout(*s),
            other => unreachable!("no drops, crashes or random choices: {other:?}"),
        }
    }

    /// A call of assign_server_and_queue returns in the backend's `System`: the step
    /// model's own predicate on the section the backend ran.
    fn is_progress(&self, from: &State, action: &Action, to: &State) -> bool {
        match self.section_of(action) {
            Some(who @ StepActor::Thread(_)) => {
                self.step.is_progress(backend(from), &who, backend(to))
            }
            _ => false,
        }
    }
}

/// The sections (step-model actions) along a path of the actor graph, with how many of
/// them the prefix holds; checks that replaying them lands on the backend's `System` of
/// the stored states.
fn render(model: &ActorSystemModel, g: &Graph<ActorSystemModel>, lasso: &Lasso<Action>) -> Trace {
    let mut sections = Vec::new();
    let mut systems = Vec::new();
    let mut cycle_start = None;
    for (i, (action, to)) in lasso.prefix.iter().chain(&lasso.cycle).enumerate() {
        if i == lasso.prefix.len() {
            cycle_start = Some(sections.len());
        }
        if let Some(who) = model.section_of(action) {
            sections.push(who);
            systems.push(backend(&g.state(*to)).clone());
        }
    }
    let cycle_start = cycle_start.filter(|_| !lasso.cycle.is_empty());
    if cycle_start.is_some() {
        assert!(
            cycle_start != Some(sections.len()),
            "an actor-graph cycle runs at least one section"
        );
    }
    let (trace, states, stopped) = Trace::record(model.scenario(), &sections, cycle_start);
    assert!(
        stopped.is_none(),
        "an actor path only runs enabled sections"
    );
    assert_eq!(&states[0], backend(&g.state(lasso.init)), "initial state");
    for (i, sys) in systems.iter().enumerate() {
        assert_eq!(
            &states[i + 1],
            sys,
            "trace replay diverged at section {}",
            i + 1
        );
    }
    trace
}

/// Checks a scenario (with its variant) on the actor system, within `bounds`: the same
/// properties, searches and [`Report`] as [`crate::check::check`], engine
/// `stateright-actor`. Traces are the sections the backend ran along the actor path,
/// in HAProxy's words (deliveries of answers and wake-ups change no `System` and are
/// left out).
pub fn check_actor(scenario: &Scenario, bounds: Bounds) -> Report {
    let started = Instant::now();
    let model = ActorSystemModel::new(scenario.clone());
    let g = Graph::explore(&model, bounds);
    build_report(
        &model,
        &g,
        scenario,
        "stateright-actor",
        |s| StepModel::threads_in_assign(backend(s)),
        |lasso| render(&model, &g, lasso),
        started,
    )
}

impl ShowsStepProperties for ActorSystemModel {
    fn step_model(&self) -> &StepModel {
        &self.step
    }

    fn step_conditions(&self) -> &[StepCondition] {
        &self.conditions
    }

    fn system_of(state: &Self::State) -> &System {
        backend(state)
    }
}
