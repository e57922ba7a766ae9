//! The running attempt as its task body sees it.

use crate::error::{StepError, StepErrorKind};
use crate::scoped::{current, WithCurrent};
use crate::task::token::CompletionToken;
use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;

/// What the engine running an attempt offers its body.
pub trait AttemptControl: Send + Sync {
    /// The attempt is alive: push its heartbeat deadline forward.
    fn heartbeat(&self);
    /// A signed token with which an outside party completes this attempt later.
    fn completion_token(&self) -> CompletionToken;
    /// The body will not produce the result; it arrives later by token.
    fn defer(&self);
}

/// The attempt a task body is running as.
#[derive(Clone)]
pub struct TaskContext {
    /// The task's registered name.
    pub task: &'static str,
    /// The execution that called the task.
    pub execution_id: String,
    /// The calling step.
    pub seq: u32,
    /// The attempt (1-based).
    pub attempt: u32,
    control: Arc<dyn AttemptControl>,
}

impl TaskContext {
    /// The context of one attempt, handed to the body by an engine.
    pub fn new(
        task: &'static str,
        execution_id: String,
        seq: u32,
        attempt: u32,
        control: Arc<dyn AttemptControl>,
    ) -> Self {
        TaskContext {
            task,
            execution_id,
            seq,
            attempt,
            control,
        }
    }

    /// The context of the attempt being polled on this thread, if any.
    pub fn current() -> Option<TaskContext> {
        current(&CURRENT)
    }
}

thread_local! {
    static CURRENT: RefCell<Option<TaskContext>> = const { RefCell::new(None) };
}

/// Polls a task body with its [`TaskContext`] reachable through [`TaskContext::current`].
#[doc(hidden)]
pub type WithTaskContext<F> = WithCurrent<TaskContext, F>;

impl<F: Future> WithCurrent<TaskContext, F> {
    /// Wraps `body` so that each poll sees `context`.
    pub fn new(context: TaskContext, body: F) -> Self {
        WithCurrent::scoped(&CURRENT, context, body)
    }
}

/// Reports that the running attempt is alive. Returns `false` outside a task.
///
/// A task with `heartbeat = "..."` must call this more often than that interval, or its attempt
/// fails with `StepErrorKind::HeartbeatMissed`.
pub fn heartbeat() -> bool {
    TaskContext::current()
        .map(|context| context.control.heartbeat())
        .is_some()
}

/// The running attempt number (1-based), `None` outside a task.
pub fn attempt() -> Option<u32> {
    TaskContext::current().map(|context| context.attempt)
}

/// A signed token that completes the running attempt from outside (an approval e-mail, a
/// webhook). `None` outside a task.
pub fn completion_token() -> Option<CompletionToken> {
    TaskContext::current().map(|context| context.control.completion_token())
}

/// Ends the task body without a result: the attempt stays open until someone completes it
/// with the token from [`completion_token`] (or its timeout passes).
///
/// ```no_run
/// use eventual_runtime::prelude::*;
/// # #[derive(serde::Serialize, serde::Deserialize)] struct Approval;
/// #[task(timeout = "1d")]
/// async fn request_approval(order_id: String) -> Result<Approval, StepError> {
///     let token = eventual_runtime::task::completion_token().expect("inside a task");
///     println!("approve {order_id} with {token}");
///     eventual_runtime::task::complete_later()
/// }
/// ```
pub fn complete_later<O, E: From<StepError>>() -> Result<O, E> {
    match TaskContext::current() {
        Some(context) => {
            context.control.defer();
            Err(E::from(StepError::new(
                StepErrorKind::Failed,
                "the attempt completes later by token",
            )))
        }
        None => Err(E::from(StepError::new(
            StepErrorKind::Failed,
            "complete_later() called outside a task",
        ))),
    }
}
