//! Reality next to the model: run the seed commit's reproducer (one server with
//! maxconn 1, many threads, the CLI's disable/shutdown/enable cycle under load) on a
//! real HAProxy, watch for the watchdog's kill and for requests stranded in the queue,
//! and set the outcome beside the model's verdict for the matching variant.
//!
//! Everything it starts runs in a process group of its own, on free ports of
//! 127.0.0.1, and is killed and reaped when the run ends (see [`procs::Guard`]).

pub mod build;
pub mod cli_cycle;
pub mod config;
pub mod load;
pub mod origin;
pub mod ports;
pub mod procs;
pub mod report;
pub mod run;
pub mod verdict;
pub mod watch;

pub use config::Params;
pub use report::RunReport;
pub use run::{run_once, Tools};
