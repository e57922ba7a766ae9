//! Running one task attempt on tokio, as every engine with real time does: the registered body
//! with its timeout, a heartbeat watchdog, and the signed token of an attempt that completes
//! later.

use crate::engine::kernel::attempt;
use crate::error::{Failure, StepErrorKind};
use crate::registry;
use crate::task::{
    token_claims, Attempt, AttemptControl, CompletionToken, TaskContext, TokenSigner,
    WithTaskContext,
};
use crate::time::Timestamp;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How an attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub enum AttemptEnd {
    /// With a result (or a timeout, a missed heartbeat, a panic, bad input).
    Finished(Result<Value, Failure>),
    /// The body handed out its completion token and returned `complete_later()`.
    Deferred {
        /// When the attempt started, for its timeout.
        started: Timestamp,
    },
}

struct Running {
    spec: Attempt,
    signer: TokenSigner,
    last_heartbeat: AtomicU64,
    deferred: AtomicBool,
}

impl AttemptControl for Running {
    fn heartbeat(&self) {
        self.last_heartbeat
            .store(Timestamp::wall_clock().as_millis(), Ordering::Release);
    }

    fn completion_token(&self) -> CompletionToken {
        let spec = &self.spec;
        self.signer
            .sign(&token_claims(&spec.execution_id, spec.seq, spec.attempt))
    }

    fn defer(&self) {
        self.deferred.store(true, Ordering::Release);
    }
}

/// Runs the attempt's body with its timeout and heartbeat watchdog; tokens it hands out are
/// signed with `signer`.
pub async fn run_attempt(spec: Attempt, signer: TokenSigner) -> AttemptEnd {
    let started = Timestamp::wall_clock();
    let Some(task) = registry::task(&spec.name) else {
        return AttemptEnd::Finished(Err(Failure::new(
            StepErrorKind::NotRegistered,
            format!("no task named `{}` is registered", spec.name),
        )));
    };
    let body = match (task.run)(spec.input.clone()) {
        Ok(body) => body,
        Err(reason) => {
            return AttemptEnd::Finished(Err(Failure::new(StepErrorKind::InvalidInput, reason)))
        }
    };
    let (timeout, heartbeat) = (spec.timeout_ms, spec.heartbeat_ms);
    let (execution_id, seq, number) = (spec.execution_id.clone(), spec.seq, spec.attempt);
    let attempt = Arc::new(Running {
        spec,
        signer,
        last_heartbeat: AtomicU64::new(started.as_millis()),
        deferred: AtomicBool::new(false),
    });
    let context = TaskContext::new(task.name, execution_id, seq, number, attempt.clone());
    let result = tokio::select! {
        result = WithTaskContext::new(context, body) => result,
        () = sleep_or_forever(timeout.map(Duration::from_millis)) => Err(attempt::timed_out()),
        failure = heartbeat_watchdog(attempt.clone(), heartbeat) => Err(failure),
    };
    if attempt.deferred.load(Ordering::Acquire) {
        AttemptEnd::Deferred { started }
    } else {
        AttemptEnd::Finished(result)
    }
}

async fn sleep_or_forever(duration: Option<Duration>) {
    match duration {
        Some(duration) => tokio::time::sleep(duration).await,
        None => std::future::pending().await,
    }
}

/// Fails the attempt when no heartbeat came within `heartbeat_ms`.
async fn heartbeat_watchdog(attempt: Arc<Running>, heartbeat_ms: Option<u64>) -> Failure {
    let Some(interval) = heartbeat_ms else {
        return std::future::pending().await;
    };
    loop {
        let last = Timestamp::from_millis(attempt.last_heartbeat.load(Ordering::Acquire));
        let now = Timestamp::wall_clock();
        match attempt::heartbeat_check(last, interval, now) {
            Ok(next) => tokio::time::sleep(next.duration_since(now)).await,
            Err(missed) => return missed,
        }
    }
}
