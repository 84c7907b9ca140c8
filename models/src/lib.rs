//! stateright models over lbqueue, the liveness (cycle) searches, and trace rendering.
//!
//! - [`step_model`]: the whole system as a stateright `Model`, one action per section.
//! - [`graph`]: exhaustive exploration of any stateright `Model` into a state graph.
//! - [`liveness`]: fair non-progress cycles and solo loops on that graph.
//! - [`check()`]: one scenario × variant → a [`check::Report`].
//! - [`reduction`]: dead streams forgotten, interchangeable streams renamed.
//! - [`trace`]: counterexamples in HAProxy's words.

pub mod actor_model;
pub mod check;
pub mod explorer;
pub mod graph;
pub mod liveness;
pub mod reduction;
pub mod replay;
pub mod step_model;
pub mod trace;

pub use check::{check, Kind, PropertyReport, Report, Status};
pub use graph::{Bounds, Graph};
pub use step_model::StepModel;
