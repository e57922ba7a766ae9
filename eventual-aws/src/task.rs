//! The task worker: runs one attempt per invoke, at most once per attempt.
//!
//! The attempt is claimed with a conditional put on the task-lock table
//! (`attribute_not_exists(attempt)`) before the body runs: a duplicate invoke (Lambda's
//! asynchronous invokes are at-least-once) finds the claim and does nothing. The result is
//! written to the claim before it is sent, so when the send fails for good the handler
//! returns an error, Lambda invokes it again, and that invoke finds the claim with its result
//! and sends it again (the FIFO de-duplication id is the same). A worker that dies while the
//! body runs leaves the attempt to its timeout, which the orchestrator scheduled.
//!
//! A body that calls `ctx.complete_later()` ends its invoke without a result: the attempt is
//! completed through the service API (`POST /tasks/complete` with the token), or by its
//! timeout.

use crate::config::{Aws, Faults};
use crate::error::AwsError;
use crate::message::{InboxMessage, TaskInvoke};
use crate::outbound::send_inbox_body;
use crate::payload;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use eventual_runtime::error::Failure;
use eventual_runtime::manifest::names::{env, key};
use eventual_runtime::task::runner::{self, AttemptEnd};
use eventual_runtime::task::TokenSigner;
use eventual_runtime::time::Timestamp;
use eventual_runtime::workflow::InboxEvent;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// How long a claim is kept (the table's TTL attribute `expires_at`).
const CLAIM_KEPT: Duration = Duration::from_secs(7 * 24 * 3600);

/// What the worker did with an invoke.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskOutcome {
    /// It claimed the attempt, ran the body and reported the result.
    Ran(Result<Value, Failure>),
    /// The body deferred its result to whoever holds its completion token.
    Deferred,
    /// The attempt was claimed before: a duplicate invoke. `true` when it sent the stored
    /// result again (the first worker's send had failed).
    Duplicate {
        /// Whether a stored result was sent again.
        resent: bool,
    },
}

/// The attempt's item in the task-lock table.
fn lock_key(invoke: &TaskInvoke) -> HashMap<String, AttributeValue> {
    HashMap::from([(
        key::ATTEMPT.to_owned(),
        AttributeValue::S(invoke.lock_key()),
    )])
}

/// Claims the attempt; `false` when it was claimed already.
pub async fn claim(aws: &Aws, invoke: &TaskInvoke) -> Result<bool, AwsError> {
    let now = Timestamp::wall_clock();
    let expires = (now + CLAIM_KEPT).as_millis() / 1000;
    let result = aws
        .dynamodb
        .put_item()
        .table_name(&aws.resources.task_lock_table)
        .set_item(Some(lock_key(invoke)))
        .item(
            "execution_id",
            AttributeValue::S(invoke.execution_id.clone()),
        )
        .item("task", AttributeValue::S(invoke.name.clone()))
        .item("claimed_at", AttributeValue::N(now.as_millis().to_string()))
        .item(key::EXPIRES_AT, AttributeValue::N(expires.to_string()))
        .condition_expression(format!("attribute_not_exists({})", key::ATTEMPT))
        .send()
        .await;
    AwsError::unless_refused(
        result,
        PutItemError::is_conditional_check_failed_exception,
        "PutItem (task lock)",
    )
}

/// Stores the sealed result message on the claim, before it is sent.
async fn store_result(aws: &Aws, invoke: &TaskInvoke, body: &str) -> Result<(), AwsError> {
    aws.dynamodb
        .update_item()
        .table_name(&aws.resources.task_lock_table)
        .set_key(Some(lock_key(invoke)))
        .update_expression("SET #result = :result")
        .expression_attribute_names("#result", "result")
        .expression_attribute_values(":result", AttributeValue::S(body.to_owned()))
        .send()
        .await
        .map_err(AwsError::sdk("UpdateItem (task lock)"))?;
    Ok(())
}

/// The result message stored on a claim, if the body has ended.
async fn stored_result(aws: &Aws, invoke: &TaskInvoke) -> Result<Option<String>, AwsError> {
    let output = aws
        .dynamodb
        .get_item()
        .table_name(&aws.resources.task_lock_table)
        .set_key(Some(lock_key(invoke)))
        .consistent_read(true)
        .send()
        .await
        .map_err(AwsError::sdk("GetItem (task lock)"))?;
    Ok(output
        .item
        .and_then(|mut item| item.remove("result"))
        .and_then(|value| value.as_s().ok().cloned()))
}

/// Sends the result of an attempt to its execution: stored on the claim first, so a failed
/// send is repeated by the next invoke.
async fn report(
    aws: &Aws,
    invoke: &TaskInvoke,
    result: Result<Value, Failure>,
) -> Result<(), AwsError> {
    let message = InboxMessage::Event {
        execution_id: invoke.execution_id.clone(),
        event: InboxEvent::TaskCompleted {
            seq: invoke.seq,
            attempt: invoke.attempt,
            result,
        },
    };
    let body = payload::seal(aws, &message, "task result").await?;
    store_result(aws, invoke, &body).await?;
    if Faults::take(&aws.faults.crash_after_result_stored) {
        return Err(AwsError::Crashed(
            "after the result was stored on the claim",
        ));
    }
    send_inbox_body(aws, &invoke.execution_id, body).await
}

/// The task function's handler, for a payload that may be a stored reference.
pub async fn handle_payload(aws: &Aws, payload: Value) -> Result<TaskOutcome, AwsError> {
    let invoke = payload::open_value::<TaskInvoke>(aws, payload, "task invoke").await?;
    handle(aws, invoke).await
}

/// [`handle_payload`] in the function of task `task`, which takes only that task's invokes
/// (another one means the deployment routes invokes wrong: an error, so nothing runs).
pub async fn handle_payload_of(
    aws: &Aws,
    task: &str,
    payload: Value,
) -> Result<TaskOutcome, AwsError> {
    let invoke = payload::open_value::<TaskInvoke>(aws, payload, "task invoke").await?;
    if invoke.name != task {
        return Err(AwsError::Invalid {
            what: "task invoke",
            reason: format!(
                "an attempt of task `{}` reached the function of task `{task}`",
                invoke.name
            ),
        });
    }
    handle(aws, invoke).await
}

/// The task function's handler.
pub async fn handle(aws: &Aws, invoke: TaskInvoke) -> Result<TaskOutcome, AwsError> {
    if !claim(aws, &invoke).await? {
        let stored = stored_result(aws, &invoke).await?;
        let resent = stored.is_some();
        if let Some(body) = stored {
            tracing::info!(attempt = %invoke.lock_key(), "sending the stored result of an attempt again");
            send_inbox_body(aws, &invoke.execution_id, body).await?;
        } else {
            tracing::debug!(attempt = %invoke.lock_key(), "duplicate invoke of a claimed attempt");
        }
        return Ok(TaskOutcome::Duplicate { resent });
    }
    if Faults::take(&aws.faults.crash_after_claim) {
        return Err(AwsError::Crashed("after the attempt was claimed"));
    }
    match run_attempt(&invoke).await {
        AttemptEnd::Finished(result) => {
            report(aws, &invoke, result.clone()).await?;
            Ok(TaskOutcome::Ran(result))
        }
        AttemptEnd::Deferred { .. } => Ok(TaskOutcome::Deferred),
    }
}

/// The engine's completion-token signer: the key is `EVENTUAL_TOKEN_KEY` (generated once by
/// the template's `CompletionTokenSecret`), shared by the task functions and the API function.
pub fn token_signer() -> TokenSigner {
    let key = std::env::var(env::TOKEN_KEY).unwrap_or_default();
    TokenSigner::new(key.as_bytes())
}

/// Runs the body of the attempt with its timeout and heartbeat watchdog.
pub async fn run_attempt(invoke: &TaskInvoke) -> AttemptEnd {
    runner::run_attempt(invoke.clone(), token_signer()).await
}
