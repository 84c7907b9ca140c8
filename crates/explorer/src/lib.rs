//! Exhaustive exploration of any [`stateright::Model`] and the liveness searches on it.
//!
//! Nothing here knows HAProxy: a model opts in with [`graph::Storage`] (how its states are
//! kept) and [`liveness::Fairness`] (who takes each action, which transitions are
//! progress). The models of HAProxy's queue live in `lbqueue-models`.
//!
//! - [`graph`]: breadth-first exploration into an explicit state graph, in memory.
//! - [`liveness`]: fair non-progress cycles, closed loops and solo loops on that graph.
//! - [`disk`]: the same exploration and searches with only fingerprints in RAM and the
//!   states, parents and non-progress edges in files.
//! - [`distributed`]: the same exploration and searches across worker threads and
//!   processes on timely-dataflow, states owned by fingerprint.

pub mod disk;
pub mod distributed;
pub mod graph;
pub mod liveness;

pub use graph::{Bounds, Graph};
