//! The lifecycle of a task attempt: what it is, when it is due, when it has run too long, and
//! what its end tells the workflow. Engines claim, run and transport attempts; these rules
//! decide.

pub use crate::task::{Attempt, AttemptKey};

use crate::error::{Failure, StepErrorKind};
use crate::time::Timestamp;
use crate::workflow::command::InboxEvent;
use serde_json::Value;
use std::time::Duration;

/// The inbox event that reports the end of attempt `key` to its execution.
pub fn completed(key: &AttemptKey, result: Result<Value, Failure>) -> InboxEvent {
    InboxEvent::TaskCompleted {
        seq: key.1,
        attempt: key.2,
        result,
    }
}

/// The failure of an attempt that ran past its timeout.
pub fn timed_out() -> Failure {
    Failure::new(StepErrorKind::TimedOut, "the attempt timed out")
}

/// The failure of an attempt that sent no heartbeat for `interval_ms`.
pub fn heartbeat_missed(interval_ms: u64) -> Failure {
    Failure::new(
        StepErrorKind::HeartbeatMissed,
        format!("no heartbeat for {interval_ms} ms"),
    )
}

/// When a heartbeat check of an attempt whose last heartbeat was at `last_heartbeat` is due:
/// `Err(failure)` if the attempt missed it at `now`, else `Ok(next check)`.
pub fn heartbeat_check(
    last_heartbeat: Timestamp,
    interval_ms: u64,
    now: Timestamp,
) -> Result<Timestamp, Failure> {
    let deadline = last_heartbeat + Duration::from_millis(interval_ms);
    if deadline <= now {
        Err(heartbeat_missed(interval_ms))
    } else {
        Ok(deadline)
    }
}
