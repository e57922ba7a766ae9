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
use eventual_runtime::registry;
use eventual_runtime::task::{
    token_claims, AttemptControl, CompletionToken, TaskContext, TokenSigner, WithTaskContext,
};
use eventual_runtime::time::Timestamp;
use eventual_runtime::workflow::InboxEvent;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
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

struct Attempt {
    invoke: TaskInvoke,
    last_heartbeat: AtomicU64,
    deferred: AtomicBool,
}

impl AttemptControl for Attempt {
    fn heartbeat(&self) {
        self.last_heartbeat
            .store(Timestamp::wall_clock().as_millis(), Ordering::Release);
    }

    fn completion_token(&self) -> CompletionToken {
        let key = std::env::var("EVENTUAL_TOKEN_KEY").unwrap_or_default();
        TokenSigner::new(key.as_bytes()).sign(&token_claims(
            &self.invoke.execution_id,
            self.invoke.seq,
            self.invoke.attempt,
        ))
    }

    fn defer(&self) {
        self.deferred.store(true, Ordering::Release);
    }
}

/// Runs the body of the attempt with its timeout and heartbeat watchdog.
pub async fn run_attempt(invoke: &TaskInvoke) -> Result<Value, Failure> {
    let Some(task) = registry::task(&invoke.name) else {
        return Err(Failure::new(
            StepErrorKind::NotRegistered,
            format!("no task named `{}` is registered", invoke.name),
        ));
    };
    let body = (task.run)(invoke.input.clone())
        .map_err(|reason| Failure::new(StepErrorKind::InvalidInput, reason))?;
    let attempt = Arc::new(Attempt {
        invoke: invoke.clone(),
        last_heartbeat: AtomicU64::new(Timestamp::wall_clock().as_millis()),
        deferred: AtomicBool::new(false),
    });
    let context = TaskContext::new(
        task.name,
        invoke.execution_id.clone(),
        invoke.seq,
        invoke.attempt,
        attempt.clone(),
    );
    let body = WithTaskContext::new(context, body);
    let timeout = async {
        match invoke.timeout_ms {
            Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            None => std::future::pending().await,
        }
    };
    let result = tokio::select! {
        result = body => result,
        () = timeout => Err(Failure::new(StepErrorKind::TimedOut, "the attempt timed out")),
        failure = heartbeat_watchdog(attempt.clone(), invoke.heartbeat_ms) => Err(failure),
    };
    if attempt.deferred.load(Ordering::Acquire) {
        return Err(Failure::new(
            StepErrorKind::Failed,
            "completing a task later by token is not supported on the AWS engine yet",
        ));
    }
    result
}

/// Fails the attempt when no heartbeat came within `heartbeat_ms`.
async fn heartbeat_watchdog(attempt: Arc<Attempt>, heartbeat_ms: Option<u64>) -> Failure {
    let Some(interval) = heartbeat_ms else {
        return std::future::pending().await;
    };
    loop {
        let deadline = attempt.last_heartbeat.load(Ordering::Acquire) + interval;
        let now = Timestamp::wall_clock().as_millis();
        if now >= deadline {
            return Failure::new(
                StepErrorKind::HeartbeatMissed,
                format!("no heartbeat for {interval} ms"),
            );
        }
        tokio::time::sleep(Duration::from_millis(deadline - now)).await;
    }
}
