//! Errors a durable step can end with, as user code sees them and as history records them.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// Why a durable step (task, child workflow, signal wait) ended without its value, when the
/// reason is not the step's own error type: a timeout, a missed heartbeat, a panic, bad data.
///
/// The error type of every `#[task]` and of every workflow started as a child must implement
/// `From<StepError>`, so a workflow can handle these with `?` like any other error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct StepError {
    /// What went wrong.
    pub kind: StepErrorKind,
    /// Details for people.
    pub message: String,
}

impl StepError {
    /// A step error of `kind` with `message`.
    pub fn new(kind: StepErrorKind, message: impl Into<String>) -> Self {
        StepError {
            kind,
            message: message.into(),
        }
    }
}

/// The kinds of [`StepError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepErrorKind {
    /// The step's own error value (a task's or child workflow's `Err`).
    Failed,
    /// An attempt ran past its timeout.
    TimedOut,
    /// A running attempt stopped sending heartbeats.
    HeartbeatMissed,
    /// The task body panicked.
    Panicked,
    /// The input did not deserialize into the step's input type.
    InvalidInput,
    /// The output did not deserialize into the type the caller expects.
    InvalidOutput,
    /// No task or workflow of that name is registered.
    NotRegistered,
    /// `expect_signal` waited longer than its timeout.
    SignalTimedOut,
    /// The step's execution was cancelled.
    Cancelled,
    /// The step's execution was terminated.
    Terminated,
}

impl fmt::Display for StepErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            StepErrorKind::Failed => "failed",
            StepErrorKind::TimedOut => "timed out",
            StepErrorKind::HeartbeatMissed => "heartbeat missed",
            StepErrorKind::Panicked => "panicked",
            StepErrorKind::InvalidInput => "invalid input",
            StepErrorKind::InvalidOutput => "invalid output",
            StepErrorKind::NotRegistered => "not registered",
            StepErrorKind::SignalTimedOut => "signal timed out",
            StepErrorKind::Cancelled => "cancelled",
            StepErrorKind::Terminated => "terminated",
        };
        f.write_str(text)
    }
}

impl From<StepError> for String {
    fn from(error: StepError) -> String {
        error.to_string()
    }
}

/// A failure as history records it: the kind, a message, and the step's own error value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// What went wrong.
    pub kind: StepErrorKind,
    /// Details for people (the error's `Display`).
    pub message: String,
    /// The step's own error, serialized, when `kind` is `Failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

impl Failure {
    /// A failure carrying the step's own error value.
    pub fn from_error<E: Serialize + fmt::Display>(error: &E) -> Self {
        match serde_json::to_value(error) {
            Ok(value) => Failure {
                kind: StepErrorKind::Failed,
                message: error.to_string(),
                error: Some(value),
            },
            Err(serde_error) => Failure::new(
                StepErrorKind::InvalidOutput,
                format!("{error} (the error did not serialize: {serde_error})"),
            ),
        }
    }

    /// A failure without an error value.
    pub fn new(kind: StepErrorKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
            error: None,
        }
    }

    /// Turns the recorded failure back into the caller's error type: the step's own error value
    /// when there is one, otherwise a [`StepError`].
    pub fn into_error<E: DeserializeOwned + From<StepError>>(self) -> E {
        match self.error {
            Some(value) => serde_json::from_value(value).unwrap_or_else(|serde_error| {
                E::from(StepError::new(
                    StepErrorKind::InvalidOutput,
                    format!(
                        "{} (the error did not deserialize: {serde_error})",
                        self.message
                    ),
                ))
            }),
            None => E::from(StepError::new(self.kind, self.message)),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

/// A ready-made error type for workflows and handlers: any `std::error::Error` converts into
/// it with `?`, and it serializes into history.
///
/// Like `anyhow::Error` it does not implement `std::error::Error` itself, which is what lets
/// the blanket conversion exist.
///
/// ```
/// use eventual_runtime::{StepError, StepErrorKind, WorkflowError};
/// let error: WorkflowError = StepError::new(StepErrorKind::TimedOut, "charge_card").into();
/// assert_eq!(error.name, "StepError");
/// assert_eq!(error.to_string(), "StepError: timed out: charge_card");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowError {
    /// A short name of the error, by default its type's name.
    pub name: String,
    /// Details for people.
    pub message: String,
}

impl WorkflowError {
    /// An error named `name` with `message`.
    pub fn new(name: impl Into<String>, message: impl Into<String>) -> Self {
        WorkflowError {
            name: name.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for WorkflowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl<E: std::error::Error> From<E> for WorkflowError {
    fn from(error: E) -> Self {
        WorkflowError::new(short_type_name::<E>(), error.to_string())
    }
}

/// The last path segment of a type's name, without generic arguments.
pub(crate) fn short_type_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let without_generics = full.split('<').next().unwrap_or(full);
    without_generics
        .rsplit("::")
        .next()
        .unwrap_or(without_generics)
}
