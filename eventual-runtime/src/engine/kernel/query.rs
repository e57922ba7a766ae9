//! Queries: what a workflow answers about itself (`ctx.answer_query`), read from the state its
//! history replays to, without writing anything. Every engine answers them alike from the
//! committed history.

use crate::engine::ServiceError;
use crate::registry;
use crate::workflow::history::{HistoryEvent, HistoryEventKind};
use crate::workflow::replay::WorkflowExecutor;
use serde_json::Value;

/// Answers query `query` of an execution once `history` (its committed history) arrives.
pub async fn ask(
    execution_id: &str,
    query: &str,
    history: impl std::future::Future<Output = Result<Vec<HistoryEvent>, ServiceError>>,
) -> Result<Value, ServiceError> {
    answer(execution_id, &history.await?, query)
}

/// Answers query `query` of the execution whose history is `history`.
pub fn answer(
    execution_id: &str,
    history: &[HistoryEvent],
    query: &str,
) -> Result<Value, ServiceError> {
    let Some(HistoryEventKind::WorkflowStarted { workflow, .. }) =
        history.first().map(|event| &event.kind)
    else {
        return Err(ServiceError::Internal(format!(
            "the history of `{execution_id}` does not begin with WorkflowStarted"
        )));
    };
    let descriptor = registry::workflow(workflow)
        .ok_or_else(|| ServiceError::UnknownWorkflow(workflow.clone()))?;
    let executor = WorkflowExecutor::replay(descriptor, history).map_err(|error| {
        ServiceError::Internal(format!(
            "the history of `{execution_id}` does not replay on this code: {error}"
        ))
    })?;
    executor
        .query(query)
        .ok_or_else(|| ServiceError::UnknownQuery {
            execution_id: execution_id.to_owned(),
            query: query.to_owned(),
        })
}
