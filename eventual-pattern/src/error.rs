//! The error returned for a pattern EventBridge would refuse.

use std::fmt;

/// A pattern that EventBridge would reject, with the reason and the field path it concerns.
///
/// `Display` renders the AWS wording: `Event pattern is not valid. Reason: <reason>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternError {
    message: String,
    path: String,
    reason: String,
}

impl PatternError {
    /// Builds an error for `message` found at the dotted field `path` (empty for the whole pattern).
    pub(crate) fn new(message: impl Into<String>, path: &str) -> Self {
        let message = message.into();
        let reason = if path.is_empty() {
            message.clone()
        } else {
            format!("{message} (at field `{path}`)")
        };
        Self {
            message,
            path: path.to_owned(),
            reason,
        }
    }

    /// The full reason, naming the field path when there is one.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The dotted field path the problem was found at; empty when it concerns the whole pattern.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The reason without the field path, worded like event-ruler's messages.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Event pattern is not valid. Reason: {}", self.reason)
    }
}

impl std::error::Error for PatternError {}
