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

pub use self::futures::{
    ContinueAsNew, NextUpdate, SignalFuture, SignalStream, StepFuture, UpdateRequest,
};
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

/// A query a workflow answers, typed: the workflow sets it with
/// [`ctx.answer_query_of::<Q>(&answer)`](WorkflowContext::answer_query_of) and callers read it
/// with `client.query_of::<Q>(execution_id)` (on an [`Engine`](crate::engine::Engine) through
/// [`TypedClient`](crate::engine::TypedClient), or on an
/// [`ApiContext`](crate::api::ApiContext)), deserialized.
///
/// ```
/// use eventual_runtime::prelude::*;
/// use eventual_runtime::workflow::Query;
///
/// /// How many items the cart holds.
/// pub struct CartSize;
/// impl Query for CartSize {
///     const NAME: &'static str = "cart_size";
///     type Output = u32;
/// }
///
/// #[workflow]
/// async fn cart(ctx: WorkflowContext, items: u32) -> Result<u32, WorkflowError> {
///     ctx.answer_query_of::<CartSize>(&items);
///     Ok(items)
/// }
/// ```
pub trait Query {
    /// The query's name.
    const NAME: &'static str;
    /// The answer.
    type Output: Serialize + DeserializeOwned;
}

/// An update a workflow takes, typed: the workflow waits for it with
/// [`ctx.next_update_of::<U>()`](WorkflowContext::next_update_of) and accepts it with a
/// `U::Output`; callers send it with `client.update_of::<U>(execution_id, input)` and get the
/// answer deserialized (a rejection is [`ServiceError::UpdateRejected`](crate::engine::ServiceError::UpdateRejected)).
///
/// ```
/// use eventual_runtime::prelude::*;
/// use eventual_runtime::workflow::Update;
///
/// /// Adds items to the cart; answers how many it holds.
/// pub struct AddItems;
/// impl Update for AddItems {
///     const NAME: &'static str = "add_items";
///     type Input = u32;
///     type Output = u32;
/// }
///
/// #[workflow]
/// async fn cart(ctx: WorkflowContext, limit: u32) -> Result<u32, WorkflowError> {
///     let mut items = 0;
///     while items < limit {
///         let add = ctx.next_update_of::<AddItems>().await;
///         if *add.input() == 0 {
///             add.reject("add at least one item");
///             continue;
///         }
///         items += add.input();
///         add.accept(items);
///     }
///     Ok(items)
/// }
/// ```
pub trait Update {
    /// The update's name.
    const NAME: &'static str;
    /// What the caller sends.
    type Input: Serialize + DeserializeOwned;
    /// What the workflow answers when it accepts.
    type Output: Serialize + DeserializeOwned;
}
