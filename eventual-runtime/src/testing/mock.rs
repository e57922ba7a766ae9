//! Task mocks: what a mocked task does on each attempt.

use crate::error::{Failure, StepErrorKind};
use serde::Serialize;
use serde_json::Value;
use std::fmt::Display;
use std::time::Duration;

/// What a mocked attempt does.
#[derive(Clone, Debug)]
pub(crate) enum MockPlan {
    /// Return this result at once.
    Finish(Result<Value, Failure>),
    /// Time out: fail with `TimedOut` when the task's timeout passes (at once without one).
    TimeOut,
    /// Never finish; only the task's timeout or heartbeat deadline ends the attempt.
    Hang,
    /// Wait to be completed by token.
    CompleteLater,
    /// Heartbeat every `every`, `beats` times, then return `then`.
    Heartbeat {
        every: Duration,
        beats: u32,
        then: Result<Value, Failure>,
    },
}

/// The plan of each attempt of a mocked task: `first` for the first `first_attempts`
/// attempts of a call, `rest` for later ones.
#[derive(Clone, Debug)]
pub(crate) struct TaskMock {
    pub(crate) first: MockPlan,
    pub(crate) first_attempts: u32,
    pub(crate) rest: MockPlan,
}

impl TaskMock {
    pub(crate) fn plan_for(&self, attempt: u32) -> MockPlan {
        if attempt <= self.first_attempts {
            self.first.clone()
        } else {
            self.rest.clone()
        }
    }
}

/// Configures the mock of one task; see `TestEnvironment::mock_task`.
#[must_use = "a mock builder does nothing until one of its methods is called"]
pub struct MockBuilder<'a> {
    pub(crate) env: &'a super::TestEnvironment,
    pub(crate) task: String,
}

fn to_value(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

impl MockBuilder<'_> {
    fn set(self, first: MockPlan, first_attempts: u32, rest: MockPlan) {
        self.env.set_mock(
            self.task,
            TaskMock {
                first,
                first_attempts,
                rest,
            },
        );
    }

    /// Every attempt succeeds with `output`.
    pub fn succeed(self, output: impl Serialize) {
        let plan = MockPlan::Finish(Ok(to_value(&output)));
        self.set(plan.clone(), 0, plan);
    }

    /// Every attempt fails with the task's own error value `error`.
    pub fn fail<E: Serialize + Display>(self, error: E) {
        let plan = MockPlan::Finish(Err(Failure::from_error(&error)));
        self.set(plan.clone(), 0, plan);
    }

    /// The first attempt fails with `error`, later ones succeed with `output`.
    pub fn fail_once_then_succeed<E: Serialize + Display>(self, error: E, output: impl Serialize) {
        self.fail_times_then_succeed(1, error, output);
    }

    /// The first `times` attempts fail with `error`, later ones succeed with `output`.
    pub fn fail_times_then_succeed<E: Serialize + Display>(
        self,
        times: u32,
        error: E,
        output: impl Serialize,
    ) {
        self.set(
            MockPlan::Finish(Err(Failure::from_error(&error))),
            times,
            MockPlan::Finish(Ok(to_value(&output))),
        );
    }

    /// Every attempt times out.
    pub fn time_out(self) {
        self.set(MockPlan::TimeOut, 0, MockPlan::TimeOut);
    }

    /// Every attempt runs forever (until the task's timeout or heartbeat deadline).
    pub fn never_finish(self) {
        self.set(MockPlan::Hang, 0, MockPlan::Hang);
    }

    /// Every attempt waits to be completed by token: see
    /// `TestEnvironment::completion_tokens` and `TestEnvironment::complete_task`.
    pub fn complete_later(self) {
        self.set(MockPlan::CompleteLater, 0, MockPlan::CompleteLater);
    }

    /// Every attempt heartbeats every `every`, `beats` times, then succeeds with `output`.
    pub fn heartbeat_then_succeed(self, every: Duration, beats: u32, output: impl Serialize) {
        let plan = MockPlan::Heartbeat {
            every,
            beats,
            then: Ok(to_value(&output)),
        };
        self.set(plan.clone(), 0, plan);
    }

    /// Every attempt panics (as the real body would by panicking).
    pub fn panic(self, message: &str) {
        let plan = MockPlan::Finish(Err(Failure::new(StepErrorKind::Panicked, message)));
        self.set(plan.clone(), 0, plan);
    }
}
