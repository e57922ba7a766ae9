//! Tasks: retried, timed-out units of side-effecting work, run at most once per attempt.
//!
//! Inside a task body, [`heartbeat`], [`attempt`], [`completion_token`] and [`complete_later`]
//! reach the running attempt.

mod context;
mod record;
mod retry;
#[cfg(feature = "runner")]
pub mod runner;
mod token;

pub use context::{attempt, complete_later, completion_token, heartbeat, TaskContext};
#[doc(hidden)]
pub use context::{AttemptControl, WithTaskContext};
pub use record::{Attempt, AttemptKey};
pub use retry::{Backoff, RetryPolicy};
pub use token::{token_claims, CompletionToken, TokenClaims, TokenError, TokenSigner};

use serde::{Deserialize, Serialize};

/// The options of a task, fixed by its `#[task(...)]` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskOptions {
    /// Timeout of one attempt, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Longest gap between heartbeats of a running attempt, in milliseconds.
    pub heartbeat_ms: Option<u64>,
    /// Retries of failed attempts.
    pub retry: RetryPolicy,
}

impl TaskOptions {
    /// No timeout, no heartbeat, one attempt.
    pub const DEFAULT: TaskOptions = TaskOptions {
        timeout_ms: None,
        heartbeat_ms: None,
        retry: RetryPolicy::NONE,
    };
}

impl Default for TaskOptions {
    fn default() -> Self {
        TaskOptions::DEFAULT
    }
}

/// A task type, implemented by `#[task]` on a struct named like the function.
pub trait Task: 'static {
    /// The input: the single parameter, or a tuple of all parameters.
    type Input: serde::Serialize + serde::de::DeserializeOwned + Send + 'static;
    /// The `Ok` type.
    type Output: serde::Serialize + serde::de::DeserializeOwned + Send + 'static;
    /// The `Err` type.
    type Error: serde::Serialize + serde::de::DeserializeOwned + std::fmt::Display + Send + 'static;
    /// The registered name.
    const NAME: &'static str;
    /// Timeout, heartbeat and retry options.
    const OPTIONS: TaskOptions;
}
