//! Runs task attempts and handler deliveries on the engine's tokio runtime and reports back to
//! the core.

use super::core::{AttemptKey, CoreMsg, DeliveryDone};
use super::store::{DeliveryRow, TaskRow};
use crate::engine::client::{Client, EffectBuffer, WithClient};
use crate::error::{Failure, StepErrorKind};
use crate::registry::{self, HandlerFailure};
use crate::task::{
    token_claims, AttemptControl, CompletionToken, TaskContext, TokenSigner, WithTaskContext,
};
use crate::time::Timestamp;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Handle;
use tracing::Instrument;

/// How an attempt ended on the worker.
pub(crate) enum AttemptResult {
    /// With a result.
    Finished(Result<Value, Failure>),
    /// The body deferred its result to a completion token.
    Deferred {
        /// When the attempt started, for its timeout.
        started: Timestamp,
    },
}

/// Where attempts and deliveries run.
#[derive(Clone)]
pub(crate) struct Workers {
    runtime: Handle,
    core: Sender<CoreMsg>,
}

struct Attempt {
    key: AttemptKey,
    signer: TokenSigner,
    last_heartbeat: AtomicU64,
    deferred: AtomicBool,
}

impl AttemptControl for Attempt {
    fn heartbeat(&self) {
        self.last_heartbeat
            .store(Timestamp::wall_clock().as_millis(), Ordering::Release);
    }

    fn completion_token(&self) -> CompletionToken {
        self.signer
            .sign(&token_claims(&self.key.0, self.key.1, self.key.2))
    }

    fn defer(&self) {
        self.deferred.store(true, Ordering::Release);
    }
}

impl Workers {
    pub(crate) fn new(runtime: Handle, core: Sender<CoreMsg>) -> Self {
        Workers { runtime, core }
    }

    /// Runs one attempt with its timeout and heartbeat watchdog.
    pub(crate) fn run_attempt(&self, row: TaskRow, signer: TokenSigner) {
        let core = self.core.clone();
        let span = tracing::info_span!("task", task = %row.name, execution = %row.execution_id, seq = row.seq, attempt = row.attempt);
        self.runtime.spawn(
            async move {
                let key = (row.execution_id.clone(), row.seq, row.attempt);
                let result = run_attempt(row, signer).await;
                let _ = core.send(CoreMsg::AttemptDone(key, result));
            }
            .instrument(span),
        );
    }

    /// Delivers an event to one handler; its effects go back to the core with the result.
    pub(crate) fn deliver(&self, row: DeliveryRow) {
        let core = self.core.clone();
        let span = tracing::info_span!("deliver", subscription = %row.subscription, event = %row.event.id, attempt = row.attempt);
        self.runtime.spawn(
            async move {
                let Some(subscription) = registry::subscription(&row.subscription) else {
                    return;
                };
                let scope = format!("{}.{}", row.event.id, row.subscription);
                let buffer = EffectBuffer::new(scope, row.event.correlation_id.clone());
                let body = (subscription.handle)(row.event.clone());
                let result: Result<(), HandlerFailure> =
                    WithClient::new(Client::new(buffer.clone()), body).await;
                let effects = buffer.take();
                let _ = core.send(CoreMsg::DeliveryDone(Box::new(DeliveryDone {
                    row,
                    result,
                    effects,
                })));
            }
            .instrument(span),
        );
    }
}

async fn run_attempt(row: TaskRow, signer: TokenSigner) -> AttemptResult {
    let started = Timestamp::wall_clock();
    let Some(task) = registry::task(&row.name) else {
        return AttemptResult::Finished(Err(Failure::new(
            StepErrorKind::NotRegistered,
            format!("no task named `{}` is registered", row.name),
        )));
    };
    let body = match (task.run)(row.input) {
        Ok(body) => body,
        Err(reason) => {
            return AttemptResult::Finished(Err(Failure::new(StepErrorKind::InvalidInput, reason)))
        }
    };
    let attempt = Arc::new(Attempt {
        key: (row.execution_id.clone(), row.seq, row.attempt),
        signer,
        last_heartbeat: AtomicU64::new(started.as_millis()),
        deferred: AtomicBool::new(false),
    });
    let context = TaskContext::new(
        task.name,
        row.execution_id,
        row.seq,
        row.attempt,
        attempt.clone(),
    );
    let body = WithTaskContext::new(context, body);
    let timeout = row.timeout_ms.map(Duration::from_millis);
    let watchdog = heartbeat_watchdog(attempt.clone(), row.heartbeat_ms);
    let result = tokio::select! {
        result = body => result,
        () = sleep_or_forever(timeout) => Err(Failure::new(StepErrorKind::TimedOut, "the attempt timed out")),
        failure = watchdog => Err(failure),
    };
    if attempt.deferred.load(Ordering::Acquire) {
        AttemptResult::Deferred { started }
    } else {
        AttemptResult::Finished(result)
    }
}

async fn sleep_or_forever(duration: Option<Duration>) {
    match duration {
        Some(duration) => tokio::time::sleep(duration).await,
        None => std::future::pending().await,
    }
}

/// Fails the attempt when no heartbeat came within `heartbeat_ms`.
async fn heartbeat_watchdog(attempt: Arc<Attempt>, heartbeat_ms: Option<u64>) -> Failure {
    let Some(interval) = heartbeat_ms else {
        return std::future::pending().await;
    };
    loop {
        let last = attempt.last_heartbeat.load(Ordering::Acquire);
        let deadline = last + interval;
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
