//! Workflows: replayable state machines written as plain async functions.
//!
//! - [`history`]: the events an execution records, versioned JSON;
//! - [`command`]: what a step asks the engine to do, and the inbox events engines feed back;
//! - [`replay`]: the sans-IO executor that runs code against history;
//! - [`WorkflowContext`]: the durable operations of a workflow body.

pub mod combinators;
pub mod command;
pub(crate) mod context;
pub(crate) mod futures;
pub mod history;
pub mod replay;
pub(crate) mod saga;

pub use self::futures::{ContinueAsNew, SignalFuture, SignalStream, StepFuture};
pub use command::{Command, Continuation, InboxEvent, Outcome};
pub use context::{current_workflow, ChildOptions, WorkflowContext};
pub use history::{
    History, HistoryEvent, HistoryEventKind, ParentClosePolicy, RunLink, Seq,
    HISTORY_FORMAT_VERSION,
};
pub use replay::{ReplayError, StartRequest, StepOutput, WorkflowExecutor};
pub use saga::Saga;

use crate::error::Failure;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;

/// The future of a workflow body with its result as history records it.
pub type WorkflowFuture =
    Pin<Box<dyn Future<Output = Result<serde_json::Value, Failure>> + Send + 'static>>;

/// A workflow type, implemented by `#[workflow]` on a struct named like the function, so that
/// `env.start::<place_order>(input)` and `ctx.child::<place_order>(input)` are typed.
pub trait Workflow: 'static {
    /// The input type.
    type Input: Serialize + DeserializeOwned + Send + 'static;
    /// The `Ok` type.
    type Output: Serialize + DeserializeOwned + Send + 'static;
    /// The `Err` type.
    type Error: Serialize + DeserializeOwned + Display + Send + 'static;
    /// The registered name.
    const NAME: &'static str;
}
