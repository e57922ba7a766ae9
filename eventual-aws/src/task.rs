//! The task worker: runs one attempt per invoke, at most once per attempt.
//!
//! The attempt is claimed with a conditional put on the task-lock table
//! (`attribute_not_exists(attempt)`) before the body runs: a duplicate invoke (Lambda's
//! asynchronous invokes are at-least-once) finds the claim and does nothing. A worker that dies
//! after its claim leaves the attempt to its timeout, which the orchestrator scheduled.

use crate::config::Aws;
use crate::error::AwsError;
use crate::message::{send_inbox, InboxMessage, TaskInvoke};
use aws_sdk_dynamodb::types::AttributeValue;
use eventual_runtime::error::{Failure, StepErrorKind};
use eventual_runtime::task::runner::{self, AttemptEnd, AttemptSpec};
use eventual_runtime::task::TokenSigner;
use eventual_runtime::time::Timestamp;
use eventual_runtime::workflow::InboxEvent;
use serde_json::Value;
use std::time::Duration;

/// How long a claim is kept (the table's TTL attribute `expires_at`).
const CLAIM_KEPT: Duration = Duration::from_secs(7 * 24 * 3600);

/// What the worker did with an invoke.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskOutcome {
    /// It claimed the attempt, ran the body and reported the result.
    Ran(Result<Value, Failure>),
    /// The attempt was claimed before: a duplicate invoke, nothing done.
    Duplicate,
}

/// Claims the attempt; `false` when it was claimed already.
pub async fn claim(aws: &Aws, invoke: &TaskInvoke) -> Result<bool, AwsError> {
    let now = Timestamp::wall_clock();
    let expires = (now + CLAIM_KEPT).as_millis() / 1000;
    let result = aws
        .dynamodb
        .put_item()
        .table_name(&aws.resources.task_lock_table)
        .item("attempt", AttributeValue::S(invoke.lock_key()))
        .item(
            "execution_id",
            AttributeValue::S(invoke.execution_id.clone()),
        )
        .item("task", AttributeValue::S(invoke.name.clone()))
        .item("claimed_at", AttributeValue::N(now.as_millis().to_string()))
        .item("expires_at", AttributeValue::N(expires.to_string()))
        .condition_expression("attribute_not_exists(attempt)")
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            Ok(false)
        }
        Err(error) => Err(AwsError::sdk("PutItem (task lock)")(error)),
    }
}

/// The task function's handler.
pub async fn handle(aws: &Aws, invoke: TaskInvoke) -> Result<TaskOutcome, AwsError> {
    if !claim(aws, &invoke).await? {
        tracing::debug!(attempt = %invoke.lock_key(), "duplicate invoke of a claimed attempt");
        return Ok(TaskOutcome::Duplicate);
    }
    let result = run_attempt(&invoke).await;
    send_inbox(
        aws,
        &InboxMessage::Event {
            execution_id: invoke.execution_id.clone(),
            event: InboxEvent::TaskCompleted {
                seq: invoke.seq,
                attempt: invoke.attempt,
                result: result.clone(),
            },
        },
    )
    .await?;
    Ok(TaskOutcome::Ran(result))
}

/// Runs the body of the attempt with its timeout and heartbeat watchdog.
pub async fn run_attempt(invoke: &TaskInvoke) -> Result<Value, Failure> {
    let spec = AttemptSpec {
        task: invoke.name.clone(),
        execution_id: invoke.execution_id.clone(),
        seq: invoke.seq,
        attempt: invoke.attempt,
        input: invoke.input.clone(),
        timeout_ms: invoke.timeout_ms,
        heartbeat_ms: invoke.heartbeat_ms,
    };
    let key = std::env::var("EVENTUAL_TOKEN_KEY").unwrap_or_default();
    match runner::run_attempt(spec, TokenSigner::new(key.as_bytes())).await {
        AttemptEnd::Finished(result) => result,
        AttemptEnd::Deferred { .. } => Err(Failure::new(
            StepErrorKind::Failed,
            "completing a task later by token is not supported on the AWS engine yet",
        )),
    }
}
