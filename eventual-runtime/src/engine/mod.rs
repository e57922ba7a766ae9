//! What every engine shares: the [`kernel`] of lifecycle decisions, execution status, event
//! routing, the service API, and the client that handlers use to reach the engine.
//!
//! Engines are adapters around the sans-IO replay core (`crate::workflow::replay`) and the
//! sans-IO [`kernel`]: the in-memory [`TestEnvironment`](crate::testing::TestEnvironment), the
//! embedded local engine and the AWS engine differ only in where they keep state and how they
//! wait.

pub mod api;
pub mod client;
mod durability;
pub mod error;
pub mod kernel;
#[cfg(feature = "local")]
pub mod local;
pub mod router;

pub use durability::Durability;

use crate::workflow::Outcome;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where an execution stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    /// Started and not ended.
    Running,
    /// Returned `Ok`.
    Succeeded,
    /// Returned `Err`.
    Failed,
    /// Ran past its timeout.
    TimedOut,
    /// Cancelled; its cleanup ran.
    Cancelled,
    /// Terminated: ended at once, no cleanup ran.
    Terminated,
    /// Its code disagrees with its history (non-determinism) or the history is corrupt: it
    /// waits, history untouched, until the code is fixed.
    Blocked,
}

impl ExecutionStatus {
    /// The status an outcome leaves.
    pub fn of(outcome: &Outcome) -> Self {
        match outcome {
            Outcome::Succeeded { .. } => ExecutionStatus::Succeeded,
            Outcome::Failed { .. } => ExecutionStatus::Failed,
            Outcome::TimedOut => ExecutionStatus::TimedOut,
            Outcome::Cancelled { .. } => ExecutionStatus::Cancelled,
            Outcome::Terminated { .. } => ExecutionStatus::Terminated,
        }
    }

    /// Whether the execution has ended.
    pub fn is_terminal(self) -> bool {
        !matches!(self, ExecutionStatus::Running | ExecutionStatus::Blocked)
    }

    /// The status as stored and shown (`running`, `succeeded`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "running",
            ExecutionStatus::Succeeded => "succeeded",
            ExecutionStatus::Failed => "failed",
            ExecutionStatus::TimedOut => "timed_out",
            ExecutionStatus::Cancelled => "cancelled",
            ExecutionStatus::Terminated => "terminated",
            ExecutionStatus::Blocked => "blocked",
        }
    }

    /// Parses [`as_str`](ExecutionStatus::as_str) text.
    pub fn parse(text: &str) -> Option<Self> {
        [
            ExecutionStatus::Running,
            ExecutionStatus::Succeeded,
            ExecutionStatus::Failed,
            ExecutionStatus::TimedOut,
            ExecutionStatus::Cancelled,
            ExecutionStatus::Terminated,
            ExecutionStatus::Blocked,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

use crate::engine::client::StartExecution;
pub use crate::engine::error::ServiceError;
use crate::engine::kernel::delivery::DeadLetter;
use crate::engine::kernel::update::{SendUpdate, UpdateReply};
use crate::event::OutgoingEvent;
use crate::workflow::{HistoryEvent, Query, Update};
use futures::future::BoxFuture;
use serde_json::Value;

/// What a client can do with an engine, whatever it stores in and however its time passes.
///
/// The scenario suite in `tests/` runs against every engine through this trait: a
/// scenario written once must give the same histories everywhere.
pub trait Engine: Send + Sync {
    /// Starts an execution; returns its id.
    fn start(&self, request: StartExecution) -> BoxFuture<'_, Result<String, ServiceError>>;
    /// Sends signal `name` to an execution.
    fn signal<'a>(
        &'a self,
        execution_id: &'a str,
        name: &'a str,
        payload: Value,
    ) -> BoxFuture<'a, Result<(), ServiceError>>;
    /// Asks an execution to cancel.
    fn cancel<'a>(
        &'a self,
        execution_id: &'a str,
        reason: Option<String>,
    ) -> BoxFuture<'a, Result<(), ServiceError>>;
    /// Ends an execution at once, without compensations.
    fn terminate<'a>(
        &'a self,
        execution_id: &'a str,
        reason: Option<String>,
    ) -> BoxFuture<'a, Result<(), ServiceError>>;
    /// Publishes events; returns their ids.
    fn publish(
        &self,
        events: Vec<OutgoingEvent>,
    ) -> BoxFuture<'_, Result<Vec<String>, ServiceError>>;
    /// Waits until the execution has ended (on a virtual clock, by moving it forward).
    fn wait<'a>(&'a self, execution_id: &'a str) -> BoxFuture<'a, Result<Outcome, ServiceError>>;
    /// The execution's history.
    fn history<'a>(
        &'a self,
        execution_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<HistoryEvent>, ServiceError>>;
    /// The history of run `run_id` (`run-1`, `run-2`, ...) of the execution: its current run
    /// or one that continued as new; `NotFound` when there is no such run.
    fn run_history<'a>(
        &'a self,
        execution_id: &'a str,
        run_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<HistoryEvent>, ServiceError>>;
    /// The execution's answer to query `query`, from the state its history replays to.
    fn query<'a>(
        &'a self,
        execution_id: &'a str,
        query: &'a str,
    ) -> BoxFuture<'a, Result<Value, ServiceError>> {
        let history = self.history(execution_id);
        Box::pin(crate::engine::kernel::query::ask(
            execution_id,
            query,
            history,
        ))
    }
    /// Sends an update and waits for the workflow's verdict (see [`ServiceApi::update`]).
    ///
    /// [`ServiceApi::update`]: crate::engine::api::ServiceApi::update
    fn update<'a>(
        &'a self,
        execution_id: &'a str,
        update: SendUpdate,
    ) -> BoxFuture<'a, Result<UpdateReply, ServiceError>>;
    /// Where update `update_id` of an execution stands.
    fn update_status<'a>(
        &'a self,
        execution_id: &'a str,
        update_id: &'a str,
    ) -> BoxFuture<'a, Result<UpdateReply, ServiceError>>;
    /// The dead letters of every subscription.
    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetter>, ServiceError>>;
}

/// Typed queries and updates on any [`Engine`]: the answer comes back deserialized.
///
/// ```
/// use eventual_runtime::engine::TypedClient;
/// use eventual_runtime::prelude::*;
/// use eventual_runtime::testing::TestEnvironment;
/// use eventual_runtime::workflow::{Query, Update};
///
/// struct Add;
/// impl Update for Add {
///     const NAME: &'static str = "add";
///     type Input = u32;
///     type Output = u32;
/// }
/// struct Total;
/// impl Query for Total {
///     const NAME: &'static str = "total";
///     type Output = u32;
/// }
///
/// #[workflow]
/// async fn counter(ctx: WorkflowContext, target: u32) -> Result<u32, WorkflowError> {
///     let mut total = 0;
///     ctx.answer_query_of::<Total>(&total);
///     while total < target {
///         let add = ctx.next_update_of::<Add>().await;
///         total += add.input();
///         ctx.answer_query_of::<Total>(&total);
///         add.accept(total);
///     }
///     Ok(total)
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let env = TestEnvironment::new();
/// let run = env.start::<counter>(10).unwrap();
/// assert_eq!(env.update_of::<Add>(run.id(), 4).await, Ok(4));
/// assert_eq!(env.query_of::<Total>(run.id()).await, Ok(4));
/// # }
/// ```
pub trait TypedClient: Engine {
    /// The answer to query `Q`, as `Q::Output`.
    fn query_of<'a, Q: Query>(
        &'a self,
        execution_id: &'a str,
    ) -> impl std::future::Future<Output = Result<Q::Output, ServiceError>> + Send + 'a {
        let answer = self.query(execution_id, Q::NAME);
        async move { decode_answer(answer.await?, "query", Q::NAME) }
    }

    /// Sends update `U` with `input` and waits for the accepted answer, as `U::Output`. A
    /// rejection is [`ServiceError::UpdateRejected`]; an update the workflow has not answered
    /// within the default wait is [`ServiceError::UpdatePending`] (ask again with
    /// [`Engine::update_status`]).
    fn update_of<'a, U: Update>(
        &'a self,
        execution_id: &'a str,
        input: U::Input,
    ) -> impl std::future::Future<Output = Result<U::Output, ServiceError>> + Send + 'a {
        let input = serde_json::to_value(input);
        async move {
            let input = input.map_err(|error| ServiceError::InvalidInput(error.to_string()))?;
            let reply = self
                .update(execution_id, SendUpdate::new(U::NAME, input))
                .await?;
            decode_answer(reply.into_answer(execution_id)?, "update", U::NAME)
        }
    }
}

impl<E: Engine + ?Sized> TypedClient for E {}

/// Deserializes the answer to query or update `name` (`what`).
pub(crate) fn decode_answer<T: serde::de::DeserializeOwned>(
    answer: Value,
    what: &str,
    name: &str,
) -> Result<T, ServiceError> {
    serde_json::from_value(answer).map_err(|error| {
        ServiceError::Internal(format!(
            "the answer to {what} `{name}` does not fit `{}`: {error}",
            std::any::type_name::<T>()
        ))
    })
}

/// Every service API is an engine for the engine-neutral scenarios.
impl<T: crate::engine::api::ServiceApi> Engine for T {
    fn start(&self, request: StartExecution) -> BoxFuture<'_, Result<String, ServiceError>> {
        Box::pin(async move {
            let started = crate::engine::api::ServiceApi::start(self, request).await?;
            Ok(started.execution_id)
        })
    }

    fn signal<'a>(
        &'a self,
        execution_id: &'a str,
        name: &'a str,
        payload: Value,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        crate::engine::api::ServiceApi::signal(self, execution_id, name, payload, None)
    }

    fn cancel<'a>(
        &'a self,
        execution_id: &'a str,
        reason: Option<String>,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        crate::engine::api::ServiceApi::cancel(self, execution_id, reason)
    }

    fn terminate<'a>(
        &'a self,
        execution_id: &'a str,
        reason: Option<String>,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        crate::engine::api::ServiceApi::terminate(self, execution_id, reason)
    }

    fn publish(
        &self,
        events: Vec<OutgoingEvent>,
    ) -> BoxFuture<'_, Result<Vec<String>, ServiceError>> {
        crate::engine::api::ServiceApi::publish(self, events)
    }

    fn wait<'a>(&'a self, execution_id: &'a str) -> BoxFuture<'a, Result<Outcome, ServiceError>> {
        crate::engine::api::ServiceApi::wait(self, execution_id)
    }

    fn history<'a>(
        &'a self,
        execution_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<HistoryEvent>, ServiceError>> {
        crate::engine::api::ServiceApi::history(self, execution_id)
    }

    fn update<'a>(
        &'a self,
        execution_id: &'a str,
        update: SendUpdate,
    ) -> BoxFuture<'a, Result<UpdateReply, ServiceError>> {
        crate::engine::api::ServiceApi::update(self, execution_id, update)
    }

    fn update_status<'a>(
        &'a self,
        execution_id: &'a str,
        update_id: &'a str,
    ) -> BoxFuture<'a, Result<UpdateReply, ServiceError>> {
        crate::engine::api::ServiceApi::update_status(self, execution_id, update_id)
    }

    fn run_history<'a>(
        &'a self,
        execution_id: &'a str,
        run_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<HistoryEvent>, ServiceError>> {
        crate::engine::api::ServiceApi::run_history(self, execution_id, run_id)
    }

    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetter>, ServiceError>> {
        crate::engine::api::ServiceApi::dead_letters(self)
    }
}
