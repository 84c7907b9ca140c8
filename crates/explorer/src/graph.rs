//! Exhaustive exploration of any [`stateright::Model`] into an explicit state graph.
//!
//! stateright's own checkers keep no edges, and its `eventually` judges only paths that
//! end (its doc: "a false negative" on cycles). Liveness needs the graph itself, so this
//! explorer stores every reachable state once, every transition as an edge, and a BFS
//! parent for every state, from which shortest paths are rebuilt. `always` and
//! `sometimes` properties are evaluated on the way; the cycle searches run on the
//! finished graph. A search stopped by a bound says so ([`Graph::complete`] is false).
//!
//! How the states are kept is the model's choice ([`Storage`]): as they are
//! ([`Plain`]), or packed into bytes (the step model's packed store, which also
//! implements [`Codec`]), which is what lets millions of states fit and be hashed and
//! compared quickly. Each edge carries
//! whether it is progress ([`Fairness::is_progress`], judged once, on the states as
//! they are when the edge is found), so the liveness searches never need the states.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use stateright::{Expectation, Model};

use crate::liveness::Fairness;

/// Bounds on a search. A search stopped by one is incomplete.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bounds {
    /// Stop after this many unique states.
    pub max_states: Option<usize>,
    /// Stop after this much wall time.
    pub timeout: Option<Duration>,
    /// Stop when the process's resident memory passes this many bytes (Linux; read
    /// from /proc/self/statm every few thousand states).
    pub max_memory: Option<usize>,
    /// Stop when this flag is set (the CLI sets it on Ctrl-C).
    pub stop: Option<&'static AtomicBool>,
}

impl Bounds {
    /// No bound at all.
    pub fn unbounded() -> Bounds {
        Bounds::default()
    }

    /// Which bound stops the search now, if any; `expanded` counts states expanded.
    pub(crate) fn hit(
        &self,
        unique: usize,
        expanded: usize,
        start: Instant,
    ) -> Option<&'static str> {
        if self.max_states.is_some_and(|m| unique >= m) {
            return Some("max_states");
        }
        if !expanded.is_multiple_of(1024) {
            return None;
        }
        if self.stop.is_some_and(|f| f.load(Ordering::Relaxed)) {
            return Some("interrupted");
        }
        if self.timeout.is_some_and(|t| start.elapsed() >= t) {
            return Some("timeout");
        }
        let over_memory = |m: usize| resident_bytes().is_some_and(|r| r >= m);
        if expanded.is_multiple_of(8192) && self.max_memory.is_some_and(over_memory) {
            return Some("max_memory");
        }
        None
    }
}

/// Resident memory of this process, in bytes (Linux only).
pub fn resident_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// How far a running exploration has got (for progress lines).
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Transitions generated so far.
    pub states: usize,
    /// Distinct states found so far.
    pub unique_states: usize,
    /// BFS depth of the state being expanded.
    pub depth: u32,
    /// Time since the exploration started.
    pub elapsed: Duration,
}

/// How often a progress callback is called.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// One transition of the graph.
#[derive(Clone, Debug)]
pub struct Edge<A> {
    /// The action taken.
    pub action: A,
    /// The state it leads to.
    pub to: u32,
    /// Whether the transition is progress ([`Fairness::is_progress`]).
    pub progress: bool,
}

/// Where the explorer keeps the states it found: it hands each candidate state over
/// ([`StateStore::stage`]), asks whether a stored state equals it, and keeps it if none
/// does.
pub trait StateStore<S: Clone> {
    /// How many states are stored.
    fn len(&self) -> usize;
    /// Whether none is.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The stored state `id`.
    fn get(&self, id: u32) -> Cow<'_, S>;
    /// Takes a candidate state and returns its hash.
    fn stage(&mut self, state: S) -> u64;
    /// Whether stored state `id` equals the staged candidate.
    fn staged_is(&self, id: u32) -> bool;
    /// Stores the staged candidate as state `len()`.
    fn commit(&mut self);
}

/// How a model's states are stored while exploring.
pub trait Storage: Model<State: Clone> {
    /// The store.
    type Store: StateStore<Self::State> + Send + Sync;
    /// An empty store for this model's states.
    fn store(&self) -> Self::Store;
}

/// Implements [`Storage`] with [`Plain`] (states kept as they are) for models whose
/// states need no packing.
#[macro_export]
macro_rules! plain_storage {
    ($($model:ty),* $(,)?) => {
        $(impl $crate::graph::Storage for $model {
            type Store = $crate::graph::Plain<Self::State>;
            fn store(&self) -> Self::Store {
                $crate::graph::Plain::default()
            }
        })*
    };
}

/// States hashed with aHash (fixed seeds, so runs are reproducible; the exploration
/// order never depends on the hash anyway).
pub fn state_hasher() -> ahash::RandomState {
    ahash::RandomState::with_seeds(0x6c62, 0x7175, 0x6575, 0x6565)
}

/// States kept as they are.
pub struct Plain<S> {
    states: Vec<S>,
    staged: Option<S>,
    hasher: ahash::RandomState,
}

impl<S> Default for Plain<S> {
    fn default() -> Self {
        Plain {
            states: Vec::new(),
            staged: None,
            hasher: state_hasher(),
        }
    }
}

impl<S: Hash + Eq + Clone> StateStore<S> for Plain<S> {
    fn len(&self) -> usize {
        self.states.len()
    }
    fn get(&self, id: u32) -> Cow<'_, S> {
        Cow::Borrowed(&self.states[id as usize])
    }
    fn stage(&mut self, state: S) -> u64 {
        let h = self.hasher.hash_one(&state);
        self.staged = Some(state);
        h
    }
    fn staged_is(&self, id: u32) -> bool {
        self.staged.as_ref() == Some(&self.states[id as usize])
    }
    fn commit(&mut self) {
        self.states
            .push(self.staged.take().expect("a staged state"));
    }
}

/// A store that can also write a state as bytes and read it back (the packed store of
/// a model does): what the disk store ([`crate::disk`]) keeps on disk. Equal states
/// must encode to equal bytes.
pub trait Codec<S> {
    /// Appends the encoded state to `out`.
    fn encode(&self, state: &S, out: &mut Vec<u8>);
    /// The state encoded in `bytes`.
    fn decode(&self, bytes: &[u8]) -> S;
}

/// The reachable state graph of a model (or the part explored before a bound hit).
pub struct Graph<M: Storage> {
    /// Every state, by id; id 0.. are the initial states, in BFS order.
    states: M::Store,
    /// Outgoing edges of state `i`: `edges[edge_start[i]..edge_start[i + 1]]`.
    pub edges: Vec<Edge<M::Action>>,
    edge_start: Vec<u32>,
    /// How many states (the first ones, in BFS order) had their successors generated.
    expanded: usize,
    /// BFS parent of each state and the index (into `edges`) of the edge from it.
    parent: Vec<Option<(u32, u32)>>,
    /// BFS depth of each state.
    pub depth: Vec<u32>,
    /// Whether every reachable state was expanded.
    pub complete: bool,
    /// The bound that stopped the search (`max_states`, `timeout`, `max_memory`,
    /// `interrupted`), if one did.
    pub stopped_by: Option<&'static str>,
    /// Transitions generated (duplicates included), like stateright's `state_count`.
    pub transitions: usize,
    /// Per `always`/`sometimes` property (in `Model::properties()` order): the first state
    /// found (in BFS order, so at the least depth) that violates or witnesses it.
    pub discoveries: Vec<Option<u32>>,
    /// Wall time of the exploration.
    pub elapsed: Duration,
}

/// The map from a state's 64-bit hash to its id needs no second hash: the key already is
/// one. (SipHash on both levels was half of the exploration time.)
#[derive(Default)]
struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Index from state hash to the state ids with that hash (collisions chained).
struct Index {
    first: HashMap<u64, u32, std::hash::BuildHasherDefault<PassThrough>>,
    next: Vec<u32>,
}

const NONE: u32 = u32::MAX;

impl Index {
    fn new() -> Self {
        Index {
            first: HashMap::default(),
            next: Vec::new(),
        }
    }

    /// The id of the state staged in `store` under hash `h`, if stored.
    fn find<S: Clone>(&self, store: &impl StateStore<S>, h: u64) -> Option<u32> {
        let mut id = self.first.get(&h).copied().unwrap_or(NONE);
        while id != NONE {
            if store.staged_is(id) {
                return Some(id);
            }
            id = self.next[id as usize];
        }
        None
    }

    fn insert(&mut self, h: u64, id: u32) {
        let prev = self.first.insert(h, id).unwrap_or(NONE);
        self.next.push(prev);
    }
}

impl<M> Graph<M>
where
    M: Storage + Fairness,
    M::Action: Clone,
{
    /// Explores every state reachable from the model's initial states, breadth first.
    pub fn explore(model: &M, bounds: Bounds) -> Self {
        Self::explore_with_progress(model, bounds, &mut |_| {})
    }

    /// [`Graph::explore`], calling `progress` a few times a second.
    pub fn explore_with_progress(
        model: &M,
        bounds: Bounds,
        progress: &mut dyn FnMut(&Progress),
    ) -> Self {
        let start = Instant::now();
        let mut last_report = start;
        let properties = model.properties();
        let mut g: Graph<M> = Graph {
            states: model.store(),
            edges: Vec::new(),
            edge_start: vec![0],
            expanded: 0,
            parent: Vec::new(),
            depth: Vec::new(),
            complete: true,
            stopped_by: None,
            transitions: 0,
            discoveries: vec![None; properties.len()],
            elapsed: Duration::ZERO,
        };
        let mut index = Index::new();
        for s in model.init_states() {
            let h = g.states.stage(s);
            if index.find(&g.states, h).is_none() {
                index.insert(h, g.states.len() as u32);
                g.states.commit();
                g.parent.push(None);
                g.depth.push(0);
            }
        }
        let mut actions = Vec::new();
        let mut next = 0usize;
        while next < g.states.len() {
            if let Some(bound) = bounds.hit(g.states.len(), next, start) {
                g.complete = false;
                g.stopped_by = Some(bound);
                break;
            }
            if next.is_multiple_of(4096) && last_report.elapsed() >= PROGRESS_EVERY {
                last_report = Instant::now();
                progress(&Progress {
                    states: g.transitions,
                    unique_states: g.states.len(),
                    depth: g.depth[next],
                    elapsed: start.elapsed(),
                });
            }
            let id = next as u32;
            let state = g.states.get(id).into_owned();
            g.evaluate(model, &properties, id, &state);
            actions.clear();
            model.actions(&state, &mut actions);
            for action in actions.drain(..) {
                let Some(succ) = model.next_state(&state, action.clone()) else {
                    continue;
                };
                g.transitions += 1;
                let progress = model.is_progress(&state, &action, &succ);
                let h = g.states.stage(succ);
                let to = match index.find(&g.states, h) {
                    Some(to) => to,
                    None => {
                        let to = g.states.len() as u32;
                        index.insert(h, to);
                        g.states.commit();
                        g.parent.push(Some((id, g.edges.len() as u32)));
                        g.depth.push(g.depth[next] + 1);
                        to
                    }
                };
                g.edges.push(Edge {
                    action,
                    to,
                    progress,
                });
            }
            g.edge_start.push(g.edges.len() as u32);
            next += 1;
        }
        g.expanded = next;
        // States found but never expanded have no edges; keep the offsets total.
        while g.edge_start.len() <= g.states.len() {
            g.edge_start.push(g.edges.len() as u32);
        }
        g.elapsed = start.elapsed();
        g
    }

    fn evaluate(
        &mut self,
        model: &M,
        properties: &[stateright::Property<M>],
        id: u32,
        state: &M::State,
    ) {
        for (i, p) in properties.iter().enumerate() {
            if self.discoveries[i].is_some() {
                continue;
            }
            let holds = (p.condition)(model, state);
            let found = match p.expectation {
                Expectation::Always => !holds,
                Expectation::Sometimes => holds,
                // Not judged here: see the module doc.
                Expectation::Eventually => false,
            };
            if found {
                self.discoveries[i] = Some(id);
            }
        }
    }
}

impl<M: Storage> Graph<M> {
    /// An empty graph over `states` (an empty store), complete until said otherwise:
    /// the disk store ([`crate::disk`]) assembles the part of a graph the liveness
    /// searches need with [`Graph::add_state`] and [`Graph::add_expansion`].
    pub(crate) fn assemble(states: M::Store, properties: usize) -> Self {
        Graph {
            states,
            edges: Vec::new(),
            edge_start: vec![0],
            expanded: 0,
            parent: Vec::new(),
            depth: Vec::new(),
            complete: true,
            stopped_by: None,
            transitions: 0,
            discoveries: vec![None; properties],
            elapsed: Duration::ZERO,
        }
    }

    /// Stores a state with no parent at BFS depth `depth`; returns its id.
    pub(crate) fn add_state(&mut self, state: M::State, depth: u32) -> u32 {
        self.states.stage(state);
        self.states.commit();
        self.parent.push(None);
        self.depth.push(depth);
        self.states.len() as u32 - 1
    }

    /// Gives state `expanded()` its outgoing edges (states are expanded in id order).
    pub(crate) fn add_expansion(&mut self, edges: impl IntoIterator<Item = Edge<M::Action>>) {
        self.edges.extend(edges);
        self.edge_start.push(self.edges.len() as u32);
        self.expanded += 1;
    }

    /// Closes the edge offsets over the states never expanded.
    pub(crate) fn seal(&mut self) {
        while self.edge_start.len() <= self.states.len() {
            self.edge_start.push(self.edges.len() as u32);
        }
    }
}

impl<M: Storage> Graph<M> {
    /// How many states were found.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Whether none was (never, for a model with an initial state).
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// State `id` (unpacked, if the model stores its states packed).
    pub fn state(&self, id: u32) -> Cow<'_, M::State> {
        self.states.get(id)
    }

    /// Every state found, in id order.
    pub fn states(&self) -> impl Iterator<Item = Cow<'_, M::State>> + '_ {
        (0..self.states.len() as u32).map(|id| self.states.get(id))
    }

    /// Outgoing edges of a state.
    pub fn out(&self, id: u32) -> &[Edge<M::Action>] {
        let i = id as usize;
        &self.edges[self.edge_start[i] as usize..self.edge_start[i + 1] as usize]
    }

    /// Number of states whose successors were generated.
    pub fn expanded(&self) -> usize {
        self.expanded
    }

    /// Deepest BFS level reached.
    pub fn max_depth(&self) -> u32 {
        self.depth.iter().copied().max().unwrap_or(0)
    }

    /// The shortest path (actions) from an initial state to `id`, with the initial state.
    pub fn path_to(&self, id: u32) -> (u32, Vec<(M::Action, u32)>)
    where
        M::Action: Clone,
    {
        let mut steps = Vec::new();
        let mut cur = id;
        while let Some((p, e)) = self.parent[cur as usize] {
            steps.push((self.edges[e as usize].action.clone(), cur));
            cur = p;
        }
        steps.reverse();
        (cur, steps)
    }
}
