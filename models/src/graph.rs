//! Exhaustive exploration of any [`stateright::Model`] into an explicit state graph.
//!
//! stateright's own checkers keep no edges, and its `eventually` judges only paths that
//! end (its doc: "a false negative" on cycles). Liveness needs the graph itself, so this
//! explorer stores every reachable state once, every transition as an edge, and a BFS
//! parent for every state, from which shortest paths are rebuilt. `always` and
//! `sometimes` properties are evaluated on the way; the cycle searches run on the
//! finished graph. A search stopped by a bound says so ([`Graph::complete`] is false).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use stateright::{Expectation, Model};

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
    fn hit(&self, unique: usize, expanded: usize, start: Instant) -> Option<&'static str> {
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
}

/// The reachable state graph of a model (or the part explored before a bound hit).
pub struct Graph<M: Model> {
    /// Every state, by id; id 0.. are the initial states, in BFS order.
    pub states: Vec<M::State>,
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

/// Index from state hash to the state ids with that hash (collisions chained). States
/// are hashed with aHash (fixed seeds, so runs are reproducible; the exploration order
/// never depends on the hash anyway).
struct Index<S> {
    hasher: ahash::RandomState,
    first: HashMap<u64, u32, std::hash::BuildHasherDefault<PassThrough>>,
    next: Vec<u32>,
    _marker: std::marker::PhantomData<S>,
}

const NONE: u32 = u32::MAX;

impl<S: Hash + Eq> Index<S> {
    fn new() -> Self {
        Index {
            hasher: ahash::RandomState::with_seeds(0x6c62, 0x7175, 0x6575, 0x6565),
            first: HashMap::default(),
            next: Vec::new(),
            _marker: std::marker::PhantomData,
        }
    }

    /// The id of `state` if stored, else `Err(hash)` to insert with.
    fn find(&self, states: &[S], state: &S) -> Result<u32, u64> {
        let h = self.hasher.hash_one(state);
        let mut id = self.first.get(&h).copied().unwrap_or(NONE);
        while id != NONE {
            if &states[id as usize] == state {
                return Ok(id);
            }
            id = self.next[id as usize];
        }
        Err(h)
    }

    fn insert(&mut self, h: u64, id: u32) {
        let prev = self.first.insert(h, id).unwrap_or(NONE);
        self.next.push(prev);
    }
}

impl<M> Graph<M>
where
    M: Model,
    M::State: Hash + Eq + Clone,
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
        let mut g = Graph {
            states: Vec::new(),
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
            if let Err(h) = index.find(&g.states, &s) {
                index.insert(h, g.states.len() as u32);
                g.states.push(s);
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
            g.evaluate(model, &properties, id);
            actions.clear();
            model.actions(&g.states[next], &mut actions);
            for action in actions.drain(..) {
                let Some(succ) = model.next_state(&g.states[next], action.clone()) else {
                    continue;
                };
                g.transitions += 1;
                let to = match index.find(&g.states, &succ) {
                    Ok(to) => to,
                    Err(h) => {
                        let to = g.states.len() as u32;
                        index.insert(h, to);
                        g.states.push(succ);
                        g.parent.push(Some((id, g.edges.len() as u32)));
                        g.depth.push(g.depth[next] + 1);
                        to
                    }
                };
                g.edges.push(Edge { action, to });
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

    fn evaluate(&mut self, model: &M, properties: &[stateright::Property<M>], id: u32) {
        for (i, p) in properties.iter().enumerate() {
            if self.discoveries[i].is_some() {
                continue;
            }
            let holds = (p.condition)(model, &self.states[id as usize]);
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

impl<M: Model> Graph<M> {
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
