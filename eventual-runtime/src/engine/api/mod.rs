//! The service API, the same on every engine: what the HTTP routes ([`http`]), the CLI and
//! the AWS engine's API function offer.
//!
//! An engine implements [`ServiceApi`]; [`http::router`] serves any implementation with the
//! routes listed there. The local engine serves it on 127.0.0.1, beside the service's own
//! routes and behind the guards of [`serve`]; the AWS engine behind API Gateway (and to the CLI
//! by Lambda invoke), so a client never knows which engine answers.

#[cfg(feature = "serve")]
mod guard;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "serve")]
mod proxy;
#[cfg(feature = "serve")]
pub mod serve;

use crate::engine::client::StartExecution;
use crate::engine::kernel::delivery::DeadLetter;
use crate::engine::ExecutionStatus;
use crate::engine::ServiceError;
use crate::error::Failure;
use crate::event::OutgoingEvent;
use crate::schedule::{ScheduleInfo, ScheduleSpec};
use crate::task::CompletionToken;
use crate::time::Timestamp;
use crate::workflow::command::Outcome;
use crate::workflow::history::{HistoryEvent, ParentRef};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The prefix of every internal route (the service API, the console, metrics, health): a
/// service's own routes own the rest of the URL space. A contract: the CLI and outside tools
/// rely on it.
pub const INTERNAL_PREFIX: &str = "/_eventual";

/// The result of a start request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Started {
    /// The execution's id.
    pub execution_id: String,
    /// `false` when an execution of that name already existed (an idempotent repeat).
    pub created: bool,
}

/// An execution as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRow {
    /// The id.
    pub id: String,
    /// The workflow.
    pub workflow: String,
    /// Where it stands.
    pub status: ExecutionStatus,
    /// Its correlation id.
    pub correlation_id: String,
    /// The parent, for a child.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentRef>,
    /// How it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// The replay error that blocked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When it started.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// Filters of the execution list.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ListFilter {
    /// Only this workflow.
    pub workflow: Option<String>,
    /// Only this status.
    pub status: Option<ExecutionStatus>,
    /// At most this many (default 100, at most 1,000).
    pub limit: Option<u32>,
    /// Continue after this token (from the previous page).
    pub next_token: Option<String>,
    /// Only executions whose attribute `key` (`ctx.set_attribute`) has this value, for every
    /// pair: `attr.<key>=<value>` in a query string.
    #[serde(flatten, deserialize_with = "attribute_filters")]
    pub attributes: BTreeMap<String, String>,
}

/// The prefix of attribute filters in a query string.
pub const ATTRIBUTE_FILTER_PREFIX: &str = "attr.";

/// The `attr.`-prefixed parameters of a query string, without their prefix; others are not
/// filters of the list.
fn attribute_filters<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let parameters = BTreeMap::<String, String>::deserialize(deserializer)?;
    Ok(parameters
        .into_iter()
        .filter_map(|(key, value)| {
            let key = key.strip_prefix(ATTRIBUTE_FILTER_PREFIX)?;
            Some((key.to_owned(), value))
        })
        .collect())
}

impl ListFilter {
    /// The page size asked for, within 1..=1,000 (default 100).
    pub fn page_size(&self) -> u32 {
        self.limit.unwrap_or(100).clamp(1, 1_000)
    }

    /// Whether `row` passes the workflow and status filters.
    pub fn admits(&self, row: &ExecutionRow) -> bool {
        self.workflow.as_ref().is_none_or(|w| *w == row.workflow)
            && self.status.is_none_or(|s| s == row.status)
    }

    /// Where the page starts: after the execution started at `(created_at in milliseconds,
    /// id)` that [`ExecutionPage::token_after`] wrote into `next_token`; `None` (from the
    /// start) without a token or with one that is not of that form.
    pub fn position(&self) -> Option<(u64, String)> {
        let (time, id) = self.next_token.as_deref()?.split_once(':')?;
        Some((time.parse().ok()?, id.to_owned()))
    }
}

/// A page of executions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExecutionPage {
    /// The executions.
    pub executions: Vec<ExecutionRow>,
    /// Pass as `next_token` for the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

impl ExecutionPage {
    /// The token of the page after one that ends with `row`: lists are ordered by start time,
    /// then id, on every engine.
    pub fn token_after(row: &ExecutionRow) -> String {
        format!("{}:{}", row.created_at.as_millis(), row.id)
    }
}

/// The result of an API call.
pub type ApiResult<'a, T> = BoxFuture<'a, Result<T, ServiceError>>;

/// What a client can ask of a running service, on any engine.
///
/// Object-safe (boxed futures), so the HTTP routes are compiled once for every engine.
pub trait ServiceApi: Send + Sync {
    /// Starts an execution; with `execution_name`, starting it again returns the same one.
    fn start(&self, request: StartExecution) -> ApiResult<'_, Started>;
    /// An execution's status and result.
    fn execution<'a>(&'a self, execution_id: &'a str) -> ApiResult<'a, ExecutionRow>;
    /// A page of executions.
    fn list<'a>(&'a self, filter: &'a ListFilter) -> ApiResult<'a, ExecutionPage>;
    /// An execution's committed history: its current run's.
    fn history<'a>(&'a self, execution_id: &'a str) -> ApiResult<'a, Vec<HistoryEvent>>;
    /// The committed history of run `run_id` (`run-1`, `run-2`, ...) of an execution: the
    /// current run or one that continued as new. `NotFound` names the run when there is none.
    fn run_history<'a>(
        &'a self,
        execution_id: &'a str,
        run_id: &'a str,
    ) -> ApiResult<'a, Vec<HistoryEvent>>;
    /// Answers query `query` of an execution from the state its committed history replays to;
    /// writes nothing.
    fn query<'a>(&'a self, execution_id: &'a str, query: &'a str) -> ApiResult<'a, Value> {
        let history = self.history(execution_id);
        Box::pin(crate::engine::kernel::query::ask(
            execution_id,
            query,
            history,
        ))
    }
    /// Sends an update and waits (at most `update.wait()`) for the workflow's verdict: the
    /// answer, a rejection, or [`Pending`](crate::engine::kernel::update::UpdateStatus::Pending)
    /// with the id to ask again. An update id history already answered is answered again
    /// without sending anything; an update to an ended execution is
    /// [`ServiceError::Ended`].
    fn update<'a>(
        &'a self,
        execution_id: &'a str,
        update: crate::engine::kernel::update::SendUpdate,
    ) -> ApiResult<'a, crate::engine::kernel::update::UpdateReply>;
    /// Where update `update_id` of an execution stands, from its committed histories (every
    /// run); [`ServiceError::UnknownUpdate`] if it never arrived.
    fn update_status<'a>(
        &'a self,
        execution_id: &'a str,
        update_id: &'a str,
    ) -> ApiResult<'a, crate::engine::kernel::update::UpdateReply> {
        Box::pin(async move {
            let known = update_status_in_runs(self, execution_id, update_id).await?;
            crate::engine::kernel::update::reply_of(execution_id, update_id, known)
        })
    }
    /// Sends a signal; `signal_id` drops duplicates.
    fn signal<'a>(
        &'a self,
        execution_id: &'a str,
        name: &'a str,
        payload: Value,
        signal_id: Option<String>,
    ) -> ApiResult<'a, ()>;
    /// Asks an execution to cancel.
    fn cancel<'a>(&'a self, execution_id: &'a str, reason: Option<String>) -> ApiResult<'a, ()>;
    /// Ends an execution at once, without compensations.
    fn terminate<'a>(&'a self, execution_id: &'a str, reason: Option<String>) -> ApiResult<'a, ()>;
    /// Publishes events; returns their ids.
    fn publish(&self, events: Vec<OutgoingEvent>) -> ApiResult<'_, Vec<String>>;
    /// The dead letters of every subscription.
    fn dead_letters(&self) -> ApiResult<'_, Vec<DeadLetter>>;
    /// Delivers dead letters again (all, or the one with `id`); returns how many.
    fn redrive<'a>(&'a self, id: Option<&'a str>) -> ApiResult<'a, usize>;
    /// Completes a task attempt that deferred its result; `false` if the attempt had ended.
    fn complete_task(
        &self,
        token: CompletionToken,
        result: Result<Value, Failure>,
    ) -> ApiResult<'_, bool>;
    /// Waits for an execution to end ([`ServiceError::StillRunning`] when the engine stops
    /// waiting first).
    fn wait<'a>(&'a self, execution_id: &'a str) -> ApiResult<'a, Outcome>;
    /// Creates a schedule. Engines that keep schedules elsewhere refuse (the default).
    fn create_schedule(&self, spec: ScheduleSpec) -> ApiResult<'_, ScheduleInfo> {
        let _ = spec;
        schedules_unsupported()
    }
    /// Every schedule, with its next firing.
    fn schedules(&self) -> ApiResult<'_, Vec<ScheduleInfo>> {
        schedules_unsupported()
    }
    /// Pauses a schedule.
    fn pause_schedule<'a>(&'a self, name: &'a str) -> ApiResult<'a, ScheduleInfo> {
        let _ = name;
        schedules_unsupported()
    }
    /// Resumes a paused schedule from its next firing after now.
    fn resume_schedule<'a>(&'a self, name: &'a str) -> ApiResult<'a, ScheduleInfo> {
        let _ = name;
        schedules_unsupported()
    }
    /// Deletes a schedule created at runtime.
    fn delete_schedule<'a>(&'a self, name: &'a str) -> ApiResult<'a, ()> {
        let _ = name;
        schedules_unsupported()
    }
    /// The engine's metrics in the OpenMetrics text format, for `GET /_eventual/metrics`;
    /// `None` where the engine reports them elsewhere (the AWS engine, to CloudWatch).
    fn metrics_text(&self) -> Option<String> {
        None
    }
}

/// What the committed histories of an execution (its current run, then the runs before it)
/// say of update `update_id`.
pub async fn update_status_in_runs<A: ServiceApi + ?Sized>(
    api: &A,
    execution_id: &str,
    update_id: &str,
) -> Result<Option<crate::engine::kernel::update::UpdateStatus>, ServiceError> {
    use crate::engine::kernel::update::status_in;
    use crate::workflow::history::RunLink;
    let current = api.history(execution_id).await?;
    let mut status = status_in(&current, update_id);
    if status.as_ref().is_some_and(|status| status.is_decided()) {
        return Ok(status);
    }
    let run = RunLink::of_history(&current).unwrap_or_default();
    for number in (1..run.number).rev() {
        let run_id = RunLink {
            number,
            first_seq: 0,
        }
        .run_id();
        let earlier = api.run_history(execution_id, &run_id).await?;
        match status_in(&earlier, update_id) {
            Some(decided) if decided.is_decided() => return Ok(Some(decided)),
            Some(pending) => status = status.or(Some(pending)),
            None => {}
        }
    }
    Ok(status)
}

/// The answer of an engine that does not manage schedules through the service API.
fn schedules_unsupported<'a, T: Send + 'a>() -> ApiResult<'a, T> {
    Box::pin(futures::future::ready(Err(ServiceError::BadRequest(
        "this engine does not manage schedules through the service API".to_owned(),
    ))))
}
