//! The append-only history of an execution: what happened, in order, as JSON.

use crate::error::Failure;
use crate::event::EventEnvelope;
use crate::time::Timestamp;
use crate::workflow::replay::ReplayError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The sequence number of a durable step: the position of its command in call order.
pub type Seq = u32;

/// The version of the history JSON format this build writes and reads.
pub const HISTORY_FORMAT_VERSION: u32 = 1;

/// One entry of an execution's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    /// When the engine recorded the event.
    pub at: Timestamp,
    /// What happened.
    #[serde(flatten)]
    pub kind: HistoryEventKind,
}

/// The parent of a child execution, which receives the child's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentRef {
    /// The parent's execution id.
    pub execution_id: String,
    /// The parent's step that started the child.
    pub seq: Seq,
}

/// What happens to a running child when its parent closes (succeeds, fails, times out, is
/// cancelled or terminated), as in Temporal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParentClosePolicy {
    /// The child is asked to cancel: its compensations run, then it ends `Cancelled`.
    #[default]
    Cancel,
    /// The child runs on by itself.
    Abandon,
}

impl ParentClosePolicy {
    /// Whether this is the default ([`Cancel`](ParentClosePolicy::Cancel)), which history
    /// leaves out.
    pub fn is_default(&self) -> bool {
        *self == ParentClosePolicy::Cancel
    }
}

/// Where a value recorded by `ctx.now()`, `ctx.random()` or `ctx.uuid()` came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordedValue {
    /// `ctx.now()`.
    Now,
    /// `ctx.random()`.
    Random,
    /// `ctx.uuid()`.
    Uuid,
}

/// What happened. Events with a `seq` belong to the step with that sequence number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum HistoryEventKind {
    /// The execution began.
    WorkflowStarted {
        /// The workflow's registered name.
        workflow: String,
        /// The execution's id.
        execution_id: String,
        /// The input, as JSON.
        input: Value,
        /// The id that flows from this execution to its events, tasks and children.
        correlation_id: String,
        /// When the execution times out, if the workflow has a timeout.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline: Option<Timestamp>,
        /// The parent, when started as a child workflow.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent: Option<ParentRef>,
        /// This run's id (`run-2`, `run-3`, ...) when an earlier run continued as new; absent
        /// on an execution's first run (`run-1`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run_id: Option<String>,
        /// The run that continued as new into this one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        continued_from: Option<String>,
        /// The sequence number of this run's first step: a run numbers its steps on from
        /// where the previous run stopped (0 on the first run).
        #[serde(default, skip_serializing_if = "is_zero")]
        first_seq: Seq,
    },
    /// A task call was scheduled (its first attempt).
    TaskScheduled {
        /// The step.
        seq: Seq,
        /// The task's registered name.
        name: String,
        /// The input, as JSON.
        input: Value,
    },
    /// An attempt failed and another is scheduled at `retry_at`.
    TaskAttemptFailed {
        /// The step.
        seq: Seq,
        /// The failed attempt (1-based).
        attempt: u32,
        /// Why it failed.
        error: Failure,
        /// When the next attempt may start.
        retry_at: Timestamp,
    },
    /// The task returned its value.
    TaskSucceeded {
        /// The step.
        seq: Seq,
        /// The attempt that succeeded.
        attempt: u32,
        /// The output, as JSON.
        result: Value,
    },
    /// The task failed for good (its last attempt failed).
    TaskFailed {
        /// The step.
        seq: Seq,
        /// The last attempt.
        attempt: u32,
        /// Why it failed.
        error: Failure,
    },
    /// A durable timer was started.
    TimerScheduled {
        /// The step.
        seq: Seq,
        /// When it fires.
        until: Timestamp,
    },
    /// A timer fired.
    TimerFired {
        /// The step.
        seq: Seq,
    },
    /// A signal arrived (it is buffered until the workflow takes it).
    SignalReceived {
        /// The signal's name.
        name: String,
        /// Its payload.
        payload: Value,
        /// The sender's id for the signal, used to drop duplicate deliveries.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// An update arrived (see `ctx.next_update`): it waits, buffered, until the workflow takes
    /// it and accepts or rejects it. An update id already received is not recorded again.
    UpdateReceived {
        /// The update's name.
        name: String,
        /// The caller's (or the engine's) id of the update, unique within the execution.
        update_id: String,
        /// Its input.
        input: Value,
    },
    /// The workflow accepted an update and answered it: a step, so that a replay that does
    /// not accept the same update at the same point is a non-determinism error naming it.
    UpdateAccepted {
        /// The step.
        seq: Seq,
        /// The update's name.
        name: String,
        /// The update's id.
        update_id: String,
        /// The answer the caller receives.
        answer: Value,
    },
    /// The workflow rejected an update (or ended without answering it). A rejection takes no
    /// step: the workflow's progress is as if the update had never come.
    UpdateRejected {
        /// The update's name.
        name: String,
        /// The update's id.
        update_id: String,
        /// Why, as the caller reads it.
        reason: String,
    },
    /// The workflow sent a signal to another execution.
    SignalSent {
        /// The step.
        seq: Seq,
        /// The receiving execution.
        execution_id: String,
        /// The signal's name.
        name: String,
        /// Its payload.
        payload: Value,
    },
    /// The workflow emitted events onto the bus.
    EventsEmitted {
        /// The step.
        seq: Seq,
        /// The events, with their ids.
        events: Vec<EventEnvelope>,
    },
    /// A child workflow was started.
    ChildWorkflowScheduled {
        /// The step.
        seq: Seq,
        /// The child's workflow name.
        name: String,
        /// The child's execution id.
        execution_id: String,
        /// Its input.
        input: Value,
        /// What happens to the child when this execution closes first.
        #[serde(default, skip_serializing_if = "ParentClosePolicy::is_default")]
        parent_close: ParentClosePolicy,
    },
    /// The execution closed while this child ran, and its parent-close policy cancels it.
    ChildCancelRequested {
        /// The step that started the child.
        seq: Seq,
        /// The child's execution id.
        execution_id: String,
    },
    /// A child workflow succeeded.
    ChildWorkflowSucceeded {
        /// The step.
        seq: Seq,
        /// Its output.
        result: Value,
    },
    /// A child workflow failed, timed out or was cancelled.
    ChildWorkflowFailed {
        /// The step.
        seq: Seq,
        /// Why.
        error: Failure,
    },
    /// A non-deterministic value was recorded so replay reads the same one.
    ValueRecorded {
        /// The step.
        seq: Seq,
        /// Which context call produced it.
        source: RecordedValue,
        /// The value.
        value: Value,
    },
    /// A searchable attribute of the execution was set (`ctx.set_attribute`): engines index it,
    /// and the execution list filters on it (`attr.<key>=<value>`).
    AttributeSet {
        /// The step.
        seq: Seq,
        /// The attribute's name.
        key: String,
        /// Its value.
        value: Value,
    },
    /// The code took the branch of patch `patch` (`ctx.patched`): replays of this history
    /// take it too, replays of histories without the marker take the old branch.
    PatchMarked {
        /// The step.
        seq: Seq,
        /// The patch's id.
        patch: String,
    },
    /// Someone asked to cancel the execution.
    CancelRequested {
        /// Why, if given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The workflow called `ctx.continue_as_new(input)`: this run ended, and the execution
    /// goes on in a fresh run (a new history) started with `input`. Ends the run's history,
    /// not the execution.
    WorkflowContinuedAsNew {
        /// The next run's input.
        input: Value,
    },
    /// The workflow returned `Ok`.
    WorkflowSucceeded {
        /// The output.
        result: Value,
    },
    /// The workflow returned `Err`.
    WorkflowFailed {
        /// The error.
        error: Failure,
    },
    /// The workflow ran past its timeout.
    WorkflowTimedOut,
    /// The execution was cancelled and its cleanup has run.
    WorkflowCancelled {
        /// Why, if given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The execution was terminated: it ended at once, without running compensations.
    WorkflowTerminated {
        /// Why, if given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

fn is_zero(seq: &Seq) -> bool {
    *seq == 0
}

/// Which run of an execution a history belongs to. `ctx.continue_as_new` ends a run and
/// starts the next one under the same execution id with an empty history: run ids count
/// `run-1`, `run-2`, ... so every engine names runs alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunLink {
    /// 1 for an execution's first run, one more for each continue-as-new.
    pub number: u32,
    /// The sequence number of the run's first step.
    pub first_seq: Seq,
}

impl Default for RunLink {
    fn default() -> Self {
        RunLink::FIRST
    }
}

impl RunLink {
    /// An execution's first run.
    pub const FIRST: RunLink = RunLink {
        number: 1,
        first_seq: 0,
    };

    /// The run's id, `run-<number>`.
    pub fn run_id(&self) -> String {
        run_id(self.number)
    }

    /// The id of the run that continued into this one, if any.
    pub fn continued_from(&self) -> Option<String> {
        (self.number > 1).then(|| run_id(self.number - 1))
    }

    /// The run after this one, whose steps begin at `first_seq`.
    pub fn next(&self, first_seq: Seq) -> RunLink {
        RunLink {
            number: self.number + 1,
            first_seq,
        }
    }

    /// The run a history belongs to, read from its `WorkflowStarted`; `None` for a history
    /// that does not begin with one.
    pub fn of_history(events: &[HistoryEvent]) -> Option<RunLink> {
        match events.first().map(|event| &event.kind) {
            Some(HistoryEventKind::WorkflowStarted {
                run_id, first_seq, ..
            }) => RunLink::from_started(run_id.as_deref(), *first_seq).ok(),
            _ => None,
        }
    }

    /// Reads a run's link back from its `WorkflowStarted` fields (`None` for a first run).
    pub fn from_started(run_id: Option<&str>, first_seq: Seq) -> Result<RunLink, String> {
        let Some(run_id) = run_id else {
            return Ok(RunLink {
                number: 1,
                first_seq,
            });
        };
        let number = run_id
            .strip_prefix("run-")
            .and_then(|number| number.parse().ok())
            .ok_or_else(|| format!("run id `{run_id}` is not of the form `run-<number>`"))?;
        Ok(RunLink { number, first_seq })
    }
}

fn run_id(number: u32) -> String {
    format!("run-{number}")
}

/// How an attribute value is indexed and matched: a string as itself, anything else as its
/// JSON text (`42`, `true`), so that `attr.count=42` finds the number 42.
pub fn attribute_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

impl HistoryEventKind {
    /// The step this event belongs to, if any.
    pub fn seq(&self) -> Option<Seq> {
        use HistoryEventKind::*;
        match self {
            TaskScheduled { seq, .. }
            | TaskAttemptFailed { seq, .. }
            | TaskSucceeded { seq, .. }
            | TaskFailed { seq, .. }
            | TimerScheduled { seq, .. }
            | TimerFired { seq }
            | SignalSent { seq, .. }
            | EventsEmitted { seq, .. }
            | ChildWorkflowScheduled { seq, .. }
            | ChildCancelRequested { seq, .. }
            | ChildWorkflowSucceeded { seq, .. }
            | ChildWorkflowFailed { seq, .. }
            | ValueRecorded { seq, .. }
            | PatchMarked { seq, .. }
            | AttributeSet { seq, .. }
            | UpdateAccepted { seq, .. } => Some(*seq),
            WorkflowStarted { .. }
            | SignalReceived { .. }
            | UpdateReceived { .. }
            | UpdateRejected { .. }
            | CancelRequested { .. }
            | WorkflowContinuedAsNew { .. }
            | WorkflowSucceeded { .. }
            | WorkflowFailed { .. }
            | WorkflowTimedOut
            | WorkflowCancelled { .. }
            | WorkflowTerminated { .. } => None,
        }
    }

    /// The event's type name, as serialized.
    pub fn type_name(&self) -> &'static str {
        use HistoryEventKind::*;
        match self {
            WorkflowStarted { .. } => "WorkflowStarted",
            TaskScheduled { .. } => "TaskScheduled",
            TaskAttemptFailed { .. } => "TaskAttemptFailed",
            TaskSucceeded { .. } => "TaskSucceeded",
            TaskFailed { .. } => "TaskFailed",
            TimerScheduled { .. } => "TimerScheduled",
            TimerFired { .. } => "TimerFired",
            SignalReceived { .. } => "SignalReceived",
            SignalSent { .. } => "SignalSent",
            UpdateReceived { .. } => "UpdateReceived",
            UpdateAccepted { .. } => "UpdateAccepted",
            UpdateRejected { .. } => "UpdateRejected",
            EventsEmitted { .. } => "EventsEmitted",
            ChildWorkflowScheduled { .. } => "ChildWorkflowScheduled",
            ChildCancelRequested { .. } => "ChildCancelRequested",
            ChildWorkflowSucceeded { .. } => "ChildWorkflowSucceeded",
            ChildWorkflowFailed { .. } => "ChildWorkflowFailed",
            ValueRecorded { .. } => "ValueRecorded",
            PatchMarked { .. } => "PatchMarked",
            AttributeSet { .. } => "AttributeSet",
            CancelRequested { .. } => "CancelRequested",
            WorkflowContinuedAsNew { .. } => "WorkflowContinuedAsNew",
            WorkflowSucceeded { .. } => "WorkflowSucceeded",
            WorkflowFailed { .. } => "WorkflowFailed",
            WorkflowTimedOut => "WorkflowTimedOut",
            WorkflowCancelled { .. } => "WorkflowCancelled",
            WorkflowTerminated { .. } => "WorkflowTerminated",
        }
    }

    /// Whether the event ends the history it is in: the execution's end, or the end of a run
    /// that continued as new (see [`outcome`](Self::outcome) for the execution's end).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            HistoryEventKind::WorkflowContinuedAsNew { .. }
                | HistoryEventKind::WorkflowSucceeded { .. }
                | HistoryEventKind::WorkflowFailed { .. }
                | HistoryEventKind::WorkflowTimedOut
                | HistoryEventKind::WorkflowCancelled { .. }
                | HistoryEventKind::WorkflowTerminated { .. }
        )
    }

    /// The outcome a terminal event records.
    pub fn outcome(&self) -> Option<crate::workflow::command::Outcome> {
        use crate::workflow::command::Outcome;
        match self {
            HistoryEventKind::WorkflowSucceeded { result } => Some(Outcome::Succeeded {
                result: result.clone(),
            }),
            HistoryEventKind::WorkflowFailed { error } => Some(Outcome::Failed {
                error: error.clone(),
            }),
            HistoryEventKind::WorkflowTimedOut => Some(Outcome::TimedOut),
            HistoryEventKind::WorkflowCancelled { reason } => Some(Outcome::Cancelled {
                reason: reason.clone(),
            }),
            HistoryEventKind::WorkflowTerminated { reason } => Some(Outcome::Terminated {
                reason: reason.clone(),
            }),
            _ => None,
        }
    }
}

/// A whole history as a versioned JSON document (what `history --json` prints and
/// `replay --history-file` reads).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// [`HISTORY_FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// The events, oldest first.
    pub events: Vec<HistoryEvent>,
}

impl History {
    /// A history document of the current format.
    pub fn new(events: Vec<HistoryEvent>) -> Self {
        History {
            format_version: HISTORY_FORMAT_VERSION,
            events,
        }
    }

    /// Reads a history document, refusing unknown format versions and malformed events.
    pub fn from_json(text: &str) -> Result<History, ReplayError> {
        #[derive(Deserialize)]
        struct Versioned {
            format_version: u32,
            events: Vec<Value>,
        }
        let versioned: Versioned =
            serde_json::from_str(text).map_err(|error| ReplayError::CorruptHistory {
                workflow: String::new(),
                index: 0,
                reason: format!("not a history document: {error}"),
            })?;
        if versioned.format_version != HISTORY_FORMAT_VERSION {
            return Err(ReplayError::UnsupportedFormat {
                found: versioned.format_version,
                supported: HISTORY_FORMAT_VERSION,
            });
        }
        let events = versioned
            .events
            .into_iter()
            .enumerate()
            .map(|(index, value)| {
                serde_json::from_value(value).map_err(|error| ReplayError::CorruptHistory {
                    workflow: String::new(),
                    index,
                    reason: format!("malformed event: {error}"),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(History::new(events))
    }

    /// The document as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
