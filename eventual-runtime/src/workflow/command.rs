//! Commands: what a workflow step asks the engine to carry out.

use crate::error::Failure;
use crate::event::EventEnvelope;
use crate::task::Attempt;
use crate::time::Timestamp;
use crate::workflow::history::{RunLink, Seq};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One thing the engine must do after a step's history is durable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Command {
    /// Run an attempt of a task (not before its `not_before`).
    ScheduleTask(Attempt),
    /// Deliver `InboxEvent::TimerFired { seq }` at `until` (never earlier).
    StartTimer {
        /// The step.
        seq: Seq,
        /// When.
        until: Timestamp,
    },
    /// Deliver a signal to another execution.
    SendSignal {
        /// The step.
        seq: Seq,
        /// The receiver.
        execution_id: String,
        /// The signal's name.
        name: String,
        /// Its payload.
        payload: Value,
        /// A stable id for de-duplication by the receiver.
        signal_id: String,
    },
    /// Put events on the bus.
    EmitEvents {
        /// The step.
        seq: Seq,
        /// The events, with ids for de-duplication.
        events: Vec<EventEnvelope>,
    },
    /// Start a child execution; its result comes back as `InboxEvent::ChildCompleted`.
    StartChildWorkflow {
        /// The step.
        seq: Seq,
        /// The child's workflow.
        name: String,
        /// The child's execution id.
        execution_id: String,
        /// Its input.
        input: Value,
    },
    /// Ask a running child to cancel: its parent closed and the child's parent-close policy
    /// is [`Cancel`](crate::workflow::history::ParentClosePolicy::Cancel).
    CancelChild {
        /// The step that started the child.
        seq: Seq,
        /// The child's execution id.
        execution_id: String,
        /// The reason the child records.
        reason: String,
    },
    /// Deliver `InboxEvent::DeadlineReached` at `at`: the workflow's timeout.
    ScheduleDeadline {
        /// When the execution times out.
        at: Timestamp,
    },
    /// The run ended with `ctx.continue_as_new`: the execution goes on in its next run.
    ContinueAsNew(Continuation),
    /// The execution ended.
    Finish {
        /// How.
        outcome: Outcome,
    },
}

/// What the next run of an execution starts from, after `ctx.continue_as_new`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Continuation {
    /// The next run's input.
    pub input: Value,
    /// The next run's number and first step.
    pub run: RunLink,
    /// Outside events the ended run had not used, delivered to the next run right after its
    /// start: signals it received but never took, and those that arrived in the same step
    /// as the continue-as-new (plus a cancel or terminate that did).
    pub carried: Vec<InboxEvent>,
}

/// How an execution ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status")]
pub enum Outcome {
    /// The workflow returned `Ok(result)`.
    Succeeded {
        /// The output.
        result: Value,
    },
    /// The workflow returned `Err`.
    Failed {
        /// The error.
        error: Failure,
    },
    /// The workflow ran past its timeout.
    TimedOut,
    /// The execution was cancelled.
    Cancelled {
        /// Why, if given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The execution was terminated (no compensations ran).
    Terminated {
        /// Why, if given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl Outcome {
    /// The outcome as the result a parent or a caller receives.
    pub fn into_result(self) -> Result<Value, Failure> {
        use crate::error::StepErrorKind;
        match self {
            Outcome::Succeeded { result } => Ok(result),
            Outcome::Failed { error } => Err(error),
            Outcome::TimedOut => Err(Failure::new(StepErrorKind::TimedOut, "workflow timed out")),
            Outcome::Cancelled { reason } => Err(Failure::new(
                StepErrorKind::Cancelled,
                reason.unwrap_or_else(|| "workflow cancelled".to_owned()),
            )),
            Outcome::Terminated { reason } => Err(Failure::new(
                StepErrorKind::Terminated,
                reason.unwrap_or_else(|| "workflow terminated".to_owned()),
            )),
        }
    }

    /// The terminal history event that records this outcome.
    pub fn to_history(&self) -> crate::workflow::history::HistoryEventKind {
        use crate::workflow::history::HistoryEventKind;
        match self {
            Outcome::Succeeded { result } => HistoryEventKind::WorkflowSucceeded {
                result: result.clone(),
            },
            Outcome::Failed { error } => HistoryEventKind::WorkflowFailed {
                error: error.clone(),
            },
            Outcome::TimedOut => HistoryEventKind::WorkflowTimedOut,
            Outcome::Cancelled { reason } => HistoryEventKind::WorkflowCancelled {
                reason: reason.clone(),
            },
            Outcome::Terminated { reason } => HistoryEventKind::WorkflowTerminated {
                reason: reason.clone(),
            },
        }
    }

    /// How the outcome reads in a child's cancellation reason (`"failed"`, ...).
    pub fn verb(&self) -> &'static str {
        match self {
            Outcome::Succeeded { .. } => "succeeded",
            Outcome::Failed { .. } => "failed",
            Outcome::TimedOut => "timed out",
            Outcome::Cancelled { .. } => "was cancelled",
            Outcome::Terminated { .. } => "was terminated",
        }
    }
}

/// What the engine hands to a step: results and outside events for the execution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum InboxEvent {
    /// An attempt of a task ended.
    TaskCompleted {
        /// The step.
        seq: Seq,
        /// The attempt that ended.
        attempt: u32,
        /// Its result.
        result: Result<Value, Failure>,
    },
    /// A timer is due.
    TimerFired {
        /// The step.
        seq: Seq,
    },
    /// A signal for the execution.
    Signal {
        /// The signal's name.
        name: String,
        /// Its payload.
        payload: Value,
        /// The sender's id, to drop duplicate deliveries.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// An update for the execution (see `ctx.next_update`).
    Update {
        /// The update's name.
        name: String,
        /// Its id: a second update with the same id is the same update.
        update_id: String,
        /// Its input.
        input: Value,
    },
    /// A child execution ended.
    ChildCompleted {
        /// The parent's step that started it.
        seq: Seq,
        /// Its result.
        result: Result<Value, Failure>,
    },
    /// Cancel the execution.
    Cancel {
        /// Why, if given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The execution's deadline passed.
    DeadlineReached,
    /// End the execution at once, without compensations.
    Terminate {
        /// Why, if given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}
