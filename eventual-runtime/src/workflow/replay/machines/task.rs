//! A task call: scheduled → (attempt failed → rescheduled)* → succeeded | failed.

use super::Resolution;
use crate::error::{Failure, StepErrorKind};
use crate::task::{Attempt, TaskOptions};
use crate::time::Timestamp;
use crate::workflow::history::{HistoryEventKind, Seq};
use crate::workflow::replay::state::jitter_unit;
use serde_json::Value;

pub(crate) struct TaskMachine {
    /// Registered names are static (`Task::NAME`, the registry): no copy per step.
    pub(crate) name: &'static str,
    /// Kept until the task resolves, so a retry can be scheduled without reading history.
    pub(crate) input: serde_json::Value,
    pub(crate) options: TaskOptions,
    /// The attempt currently scheduled or running (1-based).
    pub(crate) attempt: u32,
    pub(crate) resolution: Resolution,
}

impl TaskMachine {
    pub(crate) fn new(name: &'static str, input: serde_json::Value, options: TaskOptions) -> Self {
        TaskMachine {
            name,
            input,
            options,
            attempt: 1,
            resolution: Resolution::default(),
        }
    }

    /// Whether an inbox result for `attempt` is the live one (not a duplicate or stale attempt).
    pub(crate) fn accepts_result_of(&self, attempt: u32) -> bool {
        !self.resolution.is_resolved() && attempt == self.attempt
    }

    /// The attempt to run after `failure`, or `None` when the task has failed for good.
    pub(crate) fn next_attempt_after(&self, failure: &Failure) -> Option<u32> {
        let retryable = matches!(
            failure.kind,
            StepErrorKind::Failed
                | StepErrorKind::TimedOut
                | StepErrorKind::HeartbeatMissed
                | StepErrorKind::Panicked
        );
        let next = self.attempt + 1;
        (retryable && self.options.retry.allows_attempt(next)).then_some(next)
    }

    /// A live result of `attempt` at `now`: the history it causes (none for a duplicate or a
    /// stale attempt) and, after a failure the policy retries, the next attempt to schedule.
    pub(crate) fn on_result(
        &self,
        execution_id: &str,
        seq: Seq,
        attempt: u32,
        result: Result<Value, Failure>,
        now: Timestamp,
    ) -> (Vec<HistoryEventKind>, Option<Attempt>) {
        if !self.accepts_result_of(attempt) {
            return (Vec::new(), None);
        }
        let error = match result {
            Ok(result) => {
                let succeeded = HistoryEventKind::TaskSucceeded {
                    seq,
                    attempt,
                    result,
                };
                return (vec![succeeded], None);
            }
            Err(error) => error,
        };
        let Some(next) = self.next_attempt_after(&error) else {
            let failed = HistoryEventKind::TaskFailed {
                seq,
                attempt,
                error,
            };
            return (vec![failed], None);
        };
        let jitter = jitter_unit(execution_id, seq, attempt);
        let retry_at = now + self.options.retry.delay_after(attempt, jitter);
        let retry = Attempt {
            execution_id: execution_id.to_owned(),
            seq,
            attempt: next,
            name: self.name.to_owned(),
            input: self.input.clone(),
            not_before: Some(retry_at),
            timeout_ms: self.options.timeout_ms,
            heartbeat_ms: self.options.heartbeat_ms,
        };
        let failed = HistoryEventKind::TaskAttemptFailed {
            seq,
            attempt,
            error,
            retry_at,
        };
        (vec![failed], Some(retry))
    }

    /// History says `attempt` failed and the next one was scheduled.
    pub(crate) fn on_attempt_failed(&mut self, attempt: u32) -> Result<(), String> {
        if attempt != self.attempt || self.resolution.is_resolved() {
            return Err(format!(
                "attempt {attempt} of task `{}` failed, but attempt {} is the current one",
                self.name, self.attempt
            ));
        }
        self.attempt += 1;
        Ok(())
    }
}
