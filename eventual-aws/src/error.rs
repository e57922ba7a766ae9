//! Errors of the AWS engine.

use aws_sdk_dynamodb::error::SdkError;
use eventual_runtime::workflow::ReplayError;

/// Why an engine operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// An AWS call failed (after the SDK's own retries).
    #[error("{operation} failed: {message}")]
    Sdk {
        /// What was attempted.
        operation: &'static str,
        /// The SDK's error, with its sources.
        message: String,
    },
    /// A conditional write lost against another writer: the work is retried from fresh state.
    #[error("conditional write of {0} refused: another run got there first")]
    Conflict(String),
    /// The execution's code does not replay its history.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// A payload or stored document did not parse.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What did not parse.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// A configured fault point stopped the run (tests only).
    #[error("injected crash at {0}")]
    Crashed(&'static str),
}

impl AwsError {
    /// An SDK error with its whole source chain.
    pub fn sdk<E: std::error::Error + 'static>(operation: &'static str) -> impl FnOnce(E) -> Self {
        move |error| AwsError::Sdk {
            operation,
            message: aws_smithy_types::error::display::DisplayErrorContext(&error).to_string(),
        }
    }

    /// The result of a call its condition may refuse: `Ok(true)` when it went through,
    /// `Ok(false)` when `refused` recognises the service's refusal (a conditional write that
    /// lost, a schedule that exists), else the error.
    pub(crate) fn unless_refused<O, E, R>(
        result: Result<O, SdkError<E, R>>,
        refused: impl FnOnce(&E) -> bool,
        operation: &'static str,
    ) -> Result<bool, Self>
    where
        E: std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        match result {
            Ok(_) => Ok(true),
            Err(error) if error.as_service_error().is_some_and(refused) => Ok(false),
            Err(error) => Err(AwsError::sdk(operation)(error)),
        }
    }

    pub(crate) fn invalid(what: &'static str) -> impl FnOnce(serde_json::Error) -> Self {
        move |error| AwsError::Invalid {
            what,
            reason: error.to_string(),
        }
    }
}
