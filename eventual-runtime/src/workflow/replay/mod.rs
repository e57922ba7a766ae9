//! The replay engine: runs a workflow's code against its history and collects new commands.
//!
//! Sans-IO: no clock, thread pool, database or network in here. Engines feed it history and
//! inbox events and carry out the commands it returns.

mod catalog;
mod error;
mod executor;
pub(crate) mod machines;
pub(crate) mod state;

pub use catalog::Catalog;
pub use error::ReplayError;
pub use executor::{StartRequest, StepOutput, WorkflowExecutor};
