//! stateright models over lbqueue, the liveness (cycle) searches, and trace rendering.
//!
//! - [`step_model`]: the whole system as a stateright `Model`, one action per section.
//! - [`graph`], [`liveness`]: re-exported from `lbqueue-explorer` (generic over any
//!   stateright `Model`): exploration into a state graph, cycle searches on it; plus
//!   the packed store of the step model's states.
//! - [`check()`]: one scenario × variant → a [`check::Report`]; [`disk_check`]: the same
//!   with the states on disk.
//! - [`reduction`]: dead streams forgotten, interchangeable streams renamed.
//! - [`trace`]: counterexamples in HAProxy's words.

pub mod actor_model;
pub mod check;
pub mod disk_check;
pub mod explorer;
pub mod graph;
pub mod reduction;
pub mod replay;
pub mod step_model;
pub mod trace;

pub use check::{check, Kind, PropertyReport, Report, Status};
// The liveness searches are generic (crates/explorer); their old path stays valid.
pub use graph::{Bounds, Graph};
pub use lbqueue_explorer::{liveness, plain_storage};
pub use step_model::StepModel;
