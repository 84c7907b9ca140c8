//! The yardstick of `lbq bench`: two-phase commit (Gray and Lamport, "Consensus on
//! Transaction Commit") with one transaction manager and `rms` resource managers, as a
//! small stateright [`Model`] of the kind stateright's own examples are (a `Vec` per
//! resource manager, a set of messages). It is explored with the same
//! [`lbqueue_models::Graph::explore`] as the step model, so that the step model's
//! states/s can be given as a ratio to it: a number that still means something on a
//! noisy shared machine, where absolute rates swing with the neighbours.
//!
//! The state space is the one of stateright's `examples/2pc.rs` (same actions, same
//! enabling conditions, no symmetry reduction): 288 unique states with 3 resource
//! managers, 8,832 with 5 (the tests below pin both).

use std::collections::BTreeSet;

use lbqueue_models::liveness::Fairness;
use stateright::{Model, Property};

/// A resource manager's local state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rm {
    /// Still working on its part of the transaction.
    Working,
    /// Voted yes (sent `Prepared`).
    Prepared,
    /// Learned the commit decision.
    Committed,
    /// Aborted, on its own or on the manager's decision.
    Aborted,
}

/// The transaction manager's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tm {
    /// Not decided yet.
    Undecided,
    /// Decided to commit.
    Commit,
    /// Decided to abort.
    Abort,
}

/// A message in the (never emptied) message pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Msg {
    /// Resource manager `n` is prepared.
    Prepared(u8),
    /// The manager's commit decision.
    Commit,
    /// The manager's abort decision.
    Abort,
}

/// One state of the protocol.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    /// Each resource manager's state.
    pub rms: Vec<Rm>,
    /// The manager's decision.
    pub tm: Tm,
    /// Which resource managers the manager has heard `Prepared` from.
    pub heard: Vec<bool>,
    /// Every message sent so far.
    pub pool: BTreeSet<Msg>,
}

/// A step of one participant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// The manager reads resource manager `n`'s `Prepared`.
    TmHears(u8),
    /// The manager decides to commit (every resource manager prepared).
    TmCommits,
    /// The manager decides to abort.
    TmAborts,
    /// Resource manager `n` votes yes.
    RmPrepares(u8),
    /// Resource manager `n` gives up on its own.
    RmAborts(u8),
    /// Resource manager `n` reads the commit decision.
    RmLearnsCommit(u8),
    /// Resource manager `n` reads the abort decision.
    RmLearnsAbort(u8),
}

/// Two-phase commit with `rms` resource managers.
#[derive(Clone, Copy, Debug)]
pub struct TwoPhaseCommit {
    /// How many resource managers take part.
    pub rms: u8,
}

// Its states are kept as they are, like stateright's own checkers keep them.
lbqueue_models::plain_storage!(TwoPhaseCommit);

/// The yardstick has no liveness property: each step is its own actor and none is
/// progress. (The explorer asks; nothing reads the answer.)
impl Fairness for TwoPhaseCommit {
    type Actor = Step;
    fn actor(&self, step: &Step) -> Step {
        *step
    }
    fn is_progress(&self, _: &State, _: &Step, _: &State) -> bool {
        false
    }
}

impl Model for TwoPhaseCommit {
    type State = State;
    type Action = Step;

    fn init_states(&self) -> Vec<State> {
        let n = usize::from(self.rms);
        vec![State {
            rms: vec![Rm::Working; n],
            tm: Tm::Undecided,
            heard: vec![false; n],
            pool: BTreeSet::new(),
        }]
    }

    fn actions(&self, s: &State, out: &mut Vec<Step>) {
        let undecided = s.tm == Tm::Undecided;
        if undecided {
            if s.heard.iter().all(|&h| h) {
                out.push(Step::TmCommits);
            }
            out.push(Step::TmAborts);
        }
        let commit_sent = s.pool.contains(&Msg::Commit);
        let abort_sent = s.pool.contains(&Msg::Abort);
        for n in 0..self.rms {
            if undecided && s.pool.contains(&Msg::Prepared(n)) {
                out.push(Step::TmHears(n));
            }
            if s.rms[usize::from(n)] == Rm::Working {
                out.push(Step::RmPrepares(n));
                out.push(Step::RmAborts(n));
            }
            if commit_sent {
                out.push(Step::RmLearnsCommit(n));
            }
            if abort_sent {
                out.push(Step::RmLearnsAbort(n));
            }
        }
    }

    fn next_state(&self, last: &State, step: Step) -> Option<State> {
        let mut s = last.clone();
        match step {
            Step::TmHears(n) => s.heard[usize::from(n)] = true,
            Step::TmCommits => {
                s.tm = Tm::Commit;
                s.pool.insert(Msg::Commit);
            }
            Step::TmAborts => {
                s.tm = Tm::Abort;
                s.pool.insert(Msg::Abort);
            }
            Step::RmPrepares(n) => {
                s.rms[usize::from(n)] = Rm::Prepared;
                s.pool.insert(Msg::Prepared(n));
            }
            Step::RmAborts(n) | Step::RmLearnsAbort(n) => s.rms[usize::from(n)] = Rm::Aborted,
            Step::RmLearnsCommit(n) => s.rms[usize::from(n)] = Rm::Committed,
        }
        Some(s)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::sometimes("all_abort", |_, s: &State| {
                s.rms.iter().all(|&r| r == Rm::Aborted)
            }),
            Property::sometimes("all_commit", |_, s: &State| {
                s.rms.iter().all(|&r| r == Rm::Committed)
            }),
            Property::always("agreement", |_, s: &State| {
                !(s.rms.contains(&Rm::Aborted) && s.rms.contains(&Rm::Committed))
            }),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lbqueue_models::graph::{Bounds, Graph};
    use stateright::Checker;

    #[test]
    fn state_counts_match_stateright_s_2pc_example() {
        // stateright 0.31 examples/2pc.rs pins 288 (3 RMs) and 8,832 (5 RMs).
        for (rms, unique) in [(3, 288), (5, 8_832)] {
            let g = Graph::explore(&TwoPhaseCommit { rms }, Bounds::default());
            assert!(g.complete);
            assert_eq!(g.len(), unique, "{rms} resource managers");
            let theirs = TwoPhaseCommit { rms }.checker().spawn_bfs().join();
            assert_eq!(theirs.unique_state_count(), unique);
            assert_eq!(theirs.state_count(), g.transitions + 1, "transitions");
        }
    }

    #[test]
    fn the_protocol_is_safe_and_both_outcomes_happen() {
        let model = TwoPhaseCommit { rms: 3 };
        let g = Graph::explore(&model, Bounds::default());
        let names: Vec<_> = model.properties().iter().map(|p| p.name).collect();
        for (name, found) in names.iter().zip(&g.discoveries) {
            // The sometimes-properties are witnessed, the invariant never violated.
            assert_eq!(found.is_some(), *name != "agreement", "{name}");
        }
    }
}
