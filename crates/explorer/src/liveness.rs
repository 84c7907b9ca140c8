//! Liveness on an explored [`Graph`]: fair non-progress cycles and solo loops.
//!
//! A model opts in by saying which actor takes each action and which transitions are
//! progress ([`Fairness`]). Then:
//!
//! - [`fair_cycle`] finds a reachable cycle with no progress transition on which every
//!   actor is treated weakly fairly: each actor that is enabled in every state of the
//!   cycle takes a step in it. It works on strongly connected components (Tarjan) of the
//!   non-progress subgraph: under weak fairness a component contains a fair cycle iff
//!   every actor either steps inside it or is disabled in one of its states (a cycle
//!   through all its states and edges is then fair; if an actor never steps and is
//!   always enabled, no cycle inside can be fair). The counterexample is a lasso: the
//!   shortest path from an initial state into the component, then a cycle through it
//!   that visits a witness for every actor.
//! - [`solo_cycle`] finds a state from which one actor, running alone, loops without
//!   progress forever. A solo run is deterministic (one action per actor and state), so
//!   it follows that actor's edges in the graph; a repeated state is a proof.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Debug;
use std::hash::Hash;

use crate::graph::{Graph, Storage};

/// What the liveness searches need to know about a model beyond [`Model`] (and how
/// its states are stored).
pub trait Fairness: Storage {
    /// Who takes an action (a thread, the CLI …); fairness is between actors.
    type Actor: Copy + Eq + Hash + Ord + Debug;

    /// The actor that takes `action`.
    fn actor(&self, action: &Self::Action) -> Self::Actor;

    /// Whether weak fairness owes `actor` a step: true for the program's own actors;
    /// false for an environment event that may as well never happen (a connection
    /// error), so that a cycle it could leave but does not is still a fair cycle.
    fn is_fair_actor(&self, _actor: &Self::Actor) -> bool {
        true
    }

    /// Whether the transition counts as progress (a cycle with one is no livelock).
    /// Judged once per edge while exploring ([`crate::graph::Edge::progress`]).
    fn is_progress(&self, from: &Self::State, action: &Self::Action, to: &Self::State) -> bool;
}

/// Steps of a path: each action with the id of the state it leads to.
pub type Steps<A> = Vec<(A, u32)>;

/// A lasso: a path from an initial state to the cycle, then the cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lasso<A> {
    /// The initial state's id.
    pub init: u32,
    /// The steps from the initial state to the first state of the cycle.
    pub prefix: Vec<(A, u32)>,
    /// The steps of the cycle; the last one returns to the cycle's first state.
    pub cycle: Vec<(A, u32)>,
}

impl<A> Lasso<A> {
    /// A path with no cycle: how a discovery (an `always` violated, a `sometimes`
    /// reached) was reached, `(init, prefix)` as a store's `path_to` gives it.
    pub fn path((init, prefix): (u32, Steps<A>)) -> Self {
        Lasso {
            init,
            prefix,
            cycle: Vec::new(),
        }
    }
}

/// Searches the graph for a reachable fair non-progress cycle; returns the shortest
/// lasso into the nearest such component.
pub fn fair_cycle<M>(model: &M, g: &Graph<M>) -> Option<Lasso<M::Action>>
where
    M: Fairness,
    M::State: Hash + Eq + Clone,
    M::Action: Clone,
{
    let keep = |_: u32, e: &crate::graph::Edge<M::Action>| !e.progress;
    let fair = sccs(g, &keep)
        .into_iter()
        .filter(|comp| is_cycle(g, comp, &keep) && is_fair(model, g, comp, &keep));
    nearest_lasso(model, g, fair, &keep)
}

/// Searches the graph for a reachable loop that no schedule can leave: a bottom
/// strongly connected component of the whole graph (no edge leaves it) that holds a
/// cycle and no progress transition. Once there, the looping call never returns,
/// whatever the scheduler does: that is the loop HAProxy's watchdog kills. Returns the
/// shortest lasso into the nearest such component.
pub fn stuck_cycle<M>(model: &M, g: &Graph<M>) -> Option<Lasso<M::Action>>
where
    M: Fairness,
    M::State: Hash + Eq + Clone,
    M::Action: Clone,
{
    let all = |_: u32, _: &crate::graph::Edge<M::Action>| true;
    let closed = sccs(g, &all).into_iter().filter(|comp| {
        let members: HashSet<u32> = comp.iter().copied().collect();
        is_cycle(g, comp, &all)
            && comp.iter().all(|&s| {
                (s as usize) < g.expanded()
                    && g.out(s)
                        .iter()
                        .all(|e| members.contains(&e.to) && !e.progress)
            })
    });
    nearest_lasso(model, g, closed, &all)
}

/// The lasso into the component whose shallowest state is nearest to an initial state:
/// the BFS-shortest path to that state, then a weakly fair tour of the component.
fn nearest_lasso<M>(
    model: &M,
    g: &Graph<M>,
    comps: impl Iterator<Item = Vec<u32>>,
    keep: &impl Fn(u32, &crate::graph::Edge<M::Action>) -> bool,
) -> Option<Lasso<M::Action>>
where
    M: Fairness,
    M::Action: Clone,
{
    let entry_of = |comp: &[u32]| {
        *comp
            .iter()
            .min_by_key(|&&s| (g.depth[s as usize], s))
            .unwrap()
    };
    let comp = comps.min_by_key(|comp| {
        let entry = entry_of(comp);
        (g.depth[entry as usize], entry)
    })?;
    let entry = entry_of(&comp);
    let (init, prefix) = g.path_to(entry);
    let cycle = fair_tour(model, g, &comp, entry, keep);
    Some(Lasso {
        init,
        prefix,
        cycle,
    })
}

/// Searches for a state from which `actor_of_interest(state)` names an actor that, run
/// alone, never makes progress. Returns the lasso: shortest path to the first state of
/// the solo loop, then the loop (all steps by that actor).
pub fn solo_cycle<M>(
    model: &M,
    g: &Graph<M>,
    candidates: impl Fn(&M::State) -> Vec<M::Actor>,
) -> Option<Lasso<M::Action>>
where
    M: Fairness,
    M::State: Hash + Eq + Clone,
    M::Action: Clone,
{
    // Per (actor, state): whether that actor, run alone from there, loops.
    let mut verdict: HashMap<(M::Actor, u32), bool, ahash::RandomState> = HashMap::default();
    let mut found: Option<(u32, Steps<M::Action>)> = None;
    // States in BFS order, so the first loop found is reached by a shortest prefix.
    for start in 0..g.expanded() as u32 {
        // Only an actor with a step here can loop from here; when earlier walks judged
        // every such actor already, the state need not be read (it may be packed).
        let unjudged = g
            .out(start)
            .iter()
            .any(|e| !verdict.contains_key(&(model.actor(&e.action), start)));
        if !unjudged {
            continue;
        }
        for actor in candidates(&g.state(start)) {
            if verdict.contains_key(&(actor, start)) {
                continue;
            }
            let mut walk: Vec<u32> = vec![start];
            let mut on_walk: HashMap<u32, usize, ahash::RandomState> = HashMap::default();
            on_walk.insert(start, 0);
            let mut steps: Steps<M::Action> = Vec::new();
            let loops = loop {
                let cur = *walk.last().unwrap();
                if let Some(&v) = verdict.get(&(actor, cur)) {
                    break v;
                }
                if cur as usize >= g.expanded() {
                    break false; // Not expanded (bounded search): unknown, not a loop.
                }
                let Some(e) = g.out(cur).iter().find(|e| model.actor(&e.action) == actor) else {
                    break false; // The actor is blocked or done: its run ended.
                };
                if e.progress {
                    break false;
                }
                steps.push((e.action.clone(), e.to));
                if let Some(&at) = on_walk.get(&e.to) {
                    if found.is_none() {
                        let cycle = steps[at..].to_vec();
                        found = Some((walk[at], cycle));
                    }
                    break true;
                }
                on_walk.insert(e.to, walk.len());
                walk.push(e.to);
            };
            for s in walk {
                verdict.insert((actor, s), loops);
            }
            if let Some((entry, cycle)) = found.take() {
                // Keep the one whose entry is shallowest; states are visited in BFS
                // order, so the first loop found is a good one; look no further.
                let (init, prefix) = g.path_to(entry);
                return Some(Lasso {
                    init,
                    prefix,
                    cycle,
                });
            }
        }
    }
    None
}

/// Strongly connected components of the subgraph of kept edges (iterative Tarjan).
fn sccs<M: Storage>(
    g: &Graph<M>,
    keep: &impl Fn(u32, &crate::graph::Edge<M::Action>) -> bool,
) -> Vec<Vec<u32>> {
    let n = g.expanded();
    const UNSEEN: u32 = u32::MAX;
    let mut index = vec![UNSEEN; g.len()];
    let mut low = vec![0u32; g.len()];
    let mut on_stack = vec![false; g.len()];
    let mut stack: Vec<u32> = Vec::new();
    let mut comps = Vec::new();
    let mut counter = 0u32;
    // Call stack of (state, next edge offset).
    let mut calls: Vec<(u32, usize)> = Vec::new();
    for root in 0..n as u32 {
        if index[root as usize] != UNSEEN {
            continue;
        }
        calls.push((root, 0));
        index[root as usize] = counter;
        low[root as usize] = counter;
        counter += 1;
        stack.push(root);
        on_stack[root as usize] = true;
        while let Some(&mut (v, ref mut k)) = calls.last_mut() {
            let out = if (v as usize) < n { g.out(v) } else { &[] };
            if *k < out.len() {
                let e = &out[*k];
                *k += 1;
                if !keep(v, e) {
                    continue;
                }
                let w = e.to;
                if index[w as usize] == UNSEEN {
                    index[w as usize] = counter;
                    low[w as usize] = counter;
                    counter += 1;
                    stack.push(w);
                    on_stack[w as usize] = true;
                    calls.push((w, 0));
                } else if on_stack[w as usize] {
                    low[v as usize] = low[v as usize].min(index[w as usize]);
                }
            } else {
                calls.pop();
                if let Some(&(u, _)) = calls.last() {
                    low[u as usize] = low[u as usize].min(low[v as usize]);
                }
                if low[v as usize] == index[v as usize] {
                    let mut comp = Vec::new();
                    loop {
                        let w = stack.pop().unwrap();
                        on_stack[w as usize] = false;
                        comp.push(w);
                        if w == v {
                            break;
                        }
                    }
                    comps.push(comp);
                }
            }
        }
    }
    comps
}

/// Whether a component holds a cycle: more than one state, or a kept self-loop.
fn is_cycle<M: Storage>(
    g: &Graph<M>,
    comp: &[u32],
    keep: &impl Fn(u32, &crate::graph::Edge<M::Action>) -> bool,
) -> bool {
    comp.len() > 1
        || g.out(comp[0])
            .iter()
            .any(|e| e.to == comp[0] && keep(comp[0], e))
}

/// Weak fairness of a component: every actor steps inside it or is disabled somewhere
/// in it.
fn is_fair<M: Fairness>(
    model: &M,
    g: &Graph<M>,
    comp: &[u32],
    keep: &impl Fn(u32, &crate::graph::Edge<M::Action>) -> bool,
) -> bool {
    let members: HashSet<u32> = comp.iter().copied().collect();
    let mut steps_inside = HashSet::new();
    let mut enabled_everywhere: Option<HashSet<M::Actor>> = None;
    for &s in comp {
        let here: HashSet<M::Actor> = g.out(s).iter().map(|e| model.actor(&e.action)).collect();
        for e in g.out(s) {
            if members.contains(&e.to) && keep(s, e) {
                steps_inside.insert(model.actor(&e.action));
            }
        }
        enabled_everywhere = Some(match enabled_everywhere {
            None => here,
            Some(acc) => acc.intersection(&here).copied().collect(),
        });
    }
    enabled_everywhere
        .unwrap_or_default()
        .iter()
        .filter(|a| model.is_fair_actor(a))
        .all(|a| steps_inside.contains(a))
}

/// A cycle from `entry` back to `entry` inside a fair component that is itself weakly
/// fair: for every actor enabled somewhere on it, the tour takes one of its steps or
/// visits a state where it is disabled. Each witness is reached by a shortest path
/// inside the component.
fn fair_tour<M: Fairness>(
    model: &M,
    g: &Graph<M>,
    comp: &[u32],
    entry: u32,
    keep: &impl Fn(u32, &crate::graph::Edge<M::Action>) -> bool,
) -> Vec<(M::Action, u32)>
where
    M::Action: Clone,
{
    let members: HashSet<u32> = comp.iter().copied().collect();
    let enabled =
        |s: u32| -> HashSet<M::Actor> { g.out(s).iter().map(|e| model.actor(&e.action)).collect() };
    let mut actors: Vec<M::Actor> = comp
        .iter()
        .flat_map(|&s| enabled(s))
        .filter(|a| model.is_fair_actor(a))
        .collect();
    actors.sort();
    actors.dedup();
    let mut tour: Vec<(M::Action, u32)> = Vec::new();
    let mut cur = entry;
    let covered = |tour: &[(M::Action, u32)], actor: M::Actor| {
        tour.iter().any(|(a, _)| model.actor(a) == actor)
            || std::iter::once(entry)
                .chain(tour.iter().map(|&(_, s)| s))
                .any(|s| !enabled(s).contains(&actor))
    };
    for actor in actors {
        if covered(&tour, actor) {
            continue;
        }
        // The component is fair, so one of the two witnesses exists inside it.
        let path = bfs_inside(g, &members, keep, cur, |_, e| {
            model.actor(&e.action) == actor || !enabled(e.to).contains(&actor)
        });
        for step in path {
            cur = step.1;
            tour.push(step);
        }
    }
    // Close the cycle (at least one step, so a cycle is never empty).
    if cur != entry || tour.is_empty() {
        tour.extend(bfs_inside(g, &members, keep, cur, |_, e| e.to == entry));
    }
    tour
}

/// Shortest path inside the component from `from`, ending with the first edge that
/// satisfies `goal`.
fn bfs_inside<M: Storage>(
    g: &Graph<M>,
    members: &HashSet<u32>,
    keep: &impl Fn(u32, &crate::graph::Edge<M::Action>) -> bool,
    from: u32,
    goal: impl Fn(u32, &crate::graph::Edge<M::Action>) -> bool,
) -> Vec<(M::Action, u32)>
where
    M::Action: Clone,
{
    let mut prev: HashMap<u32, (u32, usize)> = HashMap::new();
    let mut queue = VecDeque::from([from]);
    let mut seen = HashSet::from([from]);
    while let Some(s) = queue.pop_front() {
        for (k, e) in g.out(s).iter().enumerate() {
            if !members.contains(&e.to) || !keep(s, e) {
                continue;
            }
            if goal(s, e) {
                let mut path = vec![(e.action.clone(), e.to)];
                let mut cur = s;
                while cur != from {
                    let (p, pk) = prev[&cur];
                    path.push((g.out(p)[pk].action.clone(), cur));
                    cur = p;
                }
                path.reverse();
                return path;
            }
            if seen.insert(e.to) {
                prev.insert(e.to, (s, k));
                queue.push_back(e.to);
            }
        }
    }
    unreachable!("a strongly connected component reaches each of its edges")
}
