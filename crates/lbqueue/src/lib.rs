//! lbqueue: a minimal implementation of HAProxy's backend queue and load-balancing logic
//! (src/queue.c, src/backend.c, src/server.c), one function per critical section, in
//! HAProxy's vocabulary.
//!
//! It is the system under test for every engine of the project: the stateright models,
//! the threaded compositions and the randomized tests all move a [`System`] through
//! [`step`], one section at a time. The historical versions of the logic are run-time
//! [`Variant`]s.

pub mod event;
pub mod invariants;
pub mod lb;
pub mod packed;
pub mod presets;
pub mod queue;
pub mod random;
pub mod scenario;
pub mod sections;
pub mod server;
pub mod state;
pub mod stream;
pub mod threaded;
pub mod variant;

pub use event::{AssignResult, Cer, Event, Journal};
pub use scenario::{CliCommand, CliKind, Scenario, ScenarioError};
pub use sections::{enabled_actors, is_enabled, step, Actor};
pub use state::{LbAlgo, Outcome, Pc, Phase, QueueId, ServerId, StreamId, System, ThreadId};
pub use variant::{Behaviour, SeededBug, Switch, Variant};
