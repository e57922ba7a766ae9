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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StepErrorKind;

    fn attempt(not_before: Option<u64>, timeout_ms: Option<u64>) -> Attempt {
        Attempt {
            execution_id: "e".into(),
            seq: 3,
            attempt: 2,
            name: "pay".into(),
            input: Value::Null,
            not_before: not_before.map(Timestamp::from_millis),
            timeout_ms,
            heartbeat_ms: None,
        }
    }

    #[test]
    fn an_attempt_is_due_at_its_not_before_and_times_out_from_its_start() {
        let now = Timestamp::from_millis(1_000);
        assert_eq!(attempt(None, None).delayed_until(now), None);
        assert_eq!(attempt(Some(900), None).delayed_until(now), None);
        assert_eq!(
            attempt(Some(1_500), None).delayed_until(now),
            Some(Timestamp::from_millis(1_500))
        );
        assert_eq!(attempt(None, None).times_out_at(now), None);
        assert_eq!(
            attempt(Some(1_500), Some(300)).times_out_at(Timestamp::from_millis(2_000)),
            Some(Timestamp::from_millis(2_300))
        );
        assert_eq!(attempt(None, None).lock_key(), "e#3#2");
    }

    #[test]
    fn a_missed_heartbeat_fails_the_attempt_and_a_recent_one_sets_the_next_check() {
        let last = Timestamp::from_millis(1_000);
        assert_eq!(
            heartbeat_check(last, 500, Timestamp::from_millis(1_200)),
            Ok(Timestamp::from_millis(1_500))
        );
        let missed = heartbeat_check(last, 500, Timestamp::from_millis(1_500)).unwrap_err();
        assert_eq!(missed.kind, StepErrorKind::HeartbeatMissed);
        assert_eq!(timed_out().kind, StepErrorKind::TimedOut);
        assert_eq!(
            completed(&("e".into(), 3, 2), Err(timed_out())),
            InboxEvent::TaskCompleted {
                seq: 3,
                attempt: 2,
                result: Err(timed_out())
            }
        );
    }
}
