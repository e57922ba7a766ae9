//! Errors of replay: non-determinism, histories that cannot be replayed, bad inbox events.

use crate::workflow::history::Seq;

/// Why a step or replay could not run. Each variant has a stable [`code`](ReplayError::code).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The code asked for a different step than history recorded at a sequence number.
    #[error(
        "non-determinism in workflow `{workflow}` at sequence {seq}: history holds {recorded}, \
         but the code asked for {attempted}; if the code changed on purpose while executions \
         ran, keep the old steps for them behind `if ctx.patched(\"<change-id>\") {{ new }} \
         else {{ old }}`"
    )]
    NonDeterminism {
        /// The workflow.
        workflow: String,
        /// The sequence number where they disagree.
        seq: Seq,
        /// What history holds there.
        recorded: String,
        /// What the code did.
        attempted: String,
    },
    /// The history belongs to another workflow.
    #[error("the history belongs to workflow `{found}`, not to `{expected}`")]
    WrongWorkflow {
        /// The workflow replaying.
        expected: String,
        /// The workflow named in the history.
        found: String,
    },
    /// The history breaks the rules of histories (gaps, duplicates, unknown steps).
    #[error("corrupt history of workflow `{workflow}` at event {index}: {reason}")]
    CorruptHistory {
        /// The workflow.
        workflow: String,
        /// The index of the offending event.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// The history was written in a format this build does not read.
    #[error(
        "history format version {found} is not supported (this build reads version {supported})"
    )]
    UnsupportedFormat {
        /// The document's version.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// No workflow of that name is registered.
    #[error("workflow `{0}` is not registered")]
    UnknownWorkflow(String),
    /// The workflow's input did not deserialize.
    #[error("invalid input for workflow `{workflow}`: {reason}")]
    InvalidInput {
        /// The workflow.
        workflow: String,
        /// The serde error.
        reason: String,
    },
    /// An inbox event names a step that does not exist or is of another kind.
    #[error("inbox event for workflow `{workflow}` does not fit: {reason}")]
    InvalidInbox {
        /// The workflow.
        workflow: String,
        /// What is wrong.
        reason: String,
    },
}

impl ReplayError {
    /// A stable code for logs, dashboards and tests.
    pub fn code(&self) -> &'static str {
        match self {
            ReplayError::NonDeterminism { .. } => "EVT1100",
            ReplayError::WrongWorkflow { .. } => "EVT1101",
            ReplayError::CorruptHistory { .. } => "EVT1102",
            ReplayError::UnsupportedFormat { .. } => "EVT1103",
            ReplayError::UnknownWorkflow(_) => "EVT1104",
            ReplayError::InvalidInput { .. } => "EVT1105",
            ReplayError::InvalidInbox { .. } => "EVT1106",
        }
    }

    /// Whether this is a non-determinism error (the code changed under a running execution).
    pub fn is_non_determinism(&self) -> bool {
        matches!(self, ReplayError::NonDeterminism { .. })
    }
}
