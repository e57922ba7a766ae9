//! A task call: scheduled → (attempt failed → rescheduled)* → succeeded | failed.

use super::Resolution;
use crate::error::{Failure, StepErrorKind};
use crate::task::TaskOptions;

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
