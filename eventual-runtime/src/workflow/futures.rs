//! The futures returned by `WorkflowContext` operations.

use crate::error::{Failure, StepError, StepErrorKind};
use crate::workflow::context::WorkflowContext;
use crate::workflow::history::Seq;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A durable step that resolves when its result is in history: a task call, a timer, a child
/// workflow. Dropping it does not cancel the step; its result is recorded and ignored.
#[must_use = "a durable step does nothing useful unless awaited"]
pub struct StepFuture<T> {
    ctx: WorkflowContext,
    state: StepState,
    decode: fn(Result<Value, Failure>) -> T,
}

enum StepState {
    Waiting(Seq),
    /// The step could not even start (bad input): resolves with this at once.
    Early(Option<Failure>),
    /// The code and history disagree; the executor reports it and never polls again.
    Poisoned,
    Done,
}

impl<T> StepFuture<T> {
    pub(crate) fn waiting(
        ctx: WorkflowContext,
        seq: Seq,
        decode: fn(Result<Value, Failure>) -> T,
    ) -> Self {
        StepFuture {
            ctx,
            state: StepState::Waiting(seq),
            decode,
        }
    }

    pub(crate) fn early(
        ctx: WorkflowContext,
        failure: Failure,
        decode: fn(Result<Value, Failure>) -> T,
    ) -> Self {
        StepFuture {
            ctx,
            state: StepState::Early(Some(failure)),
            decode,
        }
    }

    pub(crate) fn poisoned(ctx: WorkflowContext, decode: fn(Result<Value, Failure>) -> T) -> Self {
        StepFuture {
            ctx,
            state: StepState::Poisoned,
            decode,
        }
    }

    /// The sequence number of the step, if it started.
    pub fn seq(&self) -> Option<Seq> {
        match self.state {
            StepState::Waiting(seq) => Some(seq),
            _ => None,
        }
    }
}

impl<T> Unpin for StepFuture<T> {}

impl<T> Future for StepFuture<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let result = match &mut self.state {
            StepState::Waiting(seq) => {
                let seq = *seq;
                match self
                    .ctx
                    .with_state(|state| state.poll_step(seq, cx.waker()))
                {
                    Some(result) => result,
                    None => return Poll::Pending,
                }
            }
            StepState::Early(failure) => match failure.take() {
                Some(failure) => Err(failure),
                None => return Poll::Pending,
            },
            StepState::Poisoned | StepState::Done => return Poll::Pending,
        };
        self.state = StepState::Done;
        Poll::Ready((self.decode)(result))
    }
}

/// Decodes a step's JSON result into the caller's types.
pub(crate) fn decode_result<O: DeserializeOwned, E: DeserializeOwned + From<StepError>>(
    result: Result<Value, Failure>,
) -> Result<O, E> {
    match result {
        Ok(value) => serde_json::from_value(value).map_err(|error| {
            E::from(StepError::new(
                StepErrorKind::InvalidOutput,
                format!("the step's output did not deserialize: {error}"),
            ))
        }),
        Err(failure) => Err(failure.into_error()),
    }
}

pub(crate) fn decode_unit(_: Result<Value, Failure>) {}

pub(crate) fn decode_raw(result: Result<Value, Failure>) -> Result<Value, Failure> {
    result
}

/// Waits for one signal: see `WorkflowContext::expect_signal`.
#[must_use = "a signal wait does nothing unless awaited"]
pub struct SignalFuture<T> {
    ctx: WorkflowContext,
    state: SignalState,
    _payload: PhantomData<fn() -> T>,
}

pub(crate) enum SignalState {
    Ready(Option<Value>),
    Waiting(u64),
    Poisoned,
    Done,
}

impl<T> SignalFuture<T> {
    pub(crate) fn new(ctx: WorkflowContext, state: SignalState) -> Self {
        SignalFuture {
            ctx,
            state,
            _payload: PhantomData,
        }
    }
}

impl<T> Unpin for SignalFuture<T> {}

impl<T: DeserializeOwned> Future for SignalFuture<T> {
    type Output = Result<T, StepError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = match &mut self.state {
            SignalState::Ready(payload) => match payload.take() {
                Some(payload) => Ok(payload),
                None => return Poll::Pending,
            },
            SignalState::Waiting(id) => {
                let id = *id;
                match self
                    .ctx
                    .with_state(|state| state.signals.poll_waiter(id, cx.waker()))
                {
                    Some(result) => result,
                    None => return Poll::Pending,
                }
            }
            SignalState::Poisoned | SignalState::Done => return Poll::Pending,
        };
        self.state = SignalState::Done;
        Poll::Ready(decode_result(result))
    }
}

impl<T> Drop for SignalFuture<T> {
    fn drop(&mut self) {
        if let SignalState::Waiting(id) = self.state {
            self.ctx.with_state(|state| state.signals.drop_waiter(id));
        }
    }
}

/// Every signal of one name, in arrival order, from the start of the execution: see
/// `WorkflowContext::signals`. Use it with `futures::StreamExt::next`.
pub struct SignalStream<T> {
    ctx: WorkflowContext,
    name: String,
    cursor: usize,
    _payload: PhantomData<fn() -> T>,
}

impl<T> SignalStream<T> {
    pub(crate) fn new(ctx: WorkflowContext, name: String) -> Self {
        SignalStream {
            ctx,
            name,
            cursor: 0,
            _payload: PhantomData,
        }
    }
}

impl<T> Unpin for SignalStream<T> {}

impl<T: DeserializeOwned> futures::Stream for SignalStream<T> {
    type Item = Result<T, StepError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let (name, cursor) = (self.name.clone(), self.cursor);
        match self
            .ctx
            .with_state(|state| state.signals.poll_stream(&name, cursor, cx.waker()))
        {
            Some(payload) => {
                self.cursor += 1;
                Poll::Ready(Some(decode_result(Ok(payload))))
            }
            None => Poll::Pending,
        }
    }
}

/// Ends the run and starts the execution afresh: see `WorkflowContext::continue_as_new`.
///
/// It never resolves: once polled, the request is recorded and the executor closes the run
/// before the body runs again. Its output type is whatever the body returns, so that
/// `return ctx.continue_as_new(next).await;` type-checks in any workflow.
#[must_use = "continue_as_new does nothing unless awaited"]
pub struct ContinueAsNew<T> {
    ctx: WorkflowContext,
    input: Option<Value>,
    _output: PhantomData<fn() -> T>,
}

impl<T> ContinueAsNew<T> {
    pub(crate) fn new(ctx: WorkflowContext, input: Value) -> Self {
        ContinueAsNew {
            ctx,
            input: Some(input),
            _output: PhantomData,
        }
    }
}

impl<T> Unpin for ContinueAsNew<T> {}

impl<T> Future for ContinueAsNew<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<T> {
        if let Some(input) = self.input.take() {
            self.ctx
                .with_state(|state| state.continue_requested = Some(input));
        }
        Poll::Pending
    }
}

/// The wait of `ctx.next_update`: resolves with the next update of its name not yet taken by
/// another wait. An update whose input does not deserialize as `I` is rejected with a reason
/// that says so, and the wait goes on.
#[must_use = "an update wait does nothing unless awaited"]
pub struct NextUpdate<I, O = Value> {
    ctx: WorkflowContext,
    name: String,
    waiter: Option<u64>,
    _types: PhantomData<fn() -> (I, O)>,
}

impl<I, O> NextUpdate<I, O> {
    pub(crate) fn new(ctx: WorkflowContext, name: String) -> Self {
        NextUpdate {
            ctx,
            name,
            waiter: None,
            _types: PhantomData,
        }
    }
}

impl<I, O> Unpin for NextUpdate<I, O> {}

impl<I: DeserializeOwned, O> Future for NextUpdate<I, O> {
    type Output = UpdateRequest<I, O>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            let taken = match this.waiter {
                Some(id) => this
                    .ctx
                    .with_state(|state| state.updates.poll_waiter(id, cx.waker())),
                None => match this.ctx.with_state(|state| state.updates.claim(&this.name)) {
                    Ok(update) => Some(update),
                    Err(id) => {
                        this.waiter = Some(id);
                        continue;
                    }
                },
            };
            let Some(update) = taken else {
                return Poll::Pending;
            };
            this.waiter = None;
            match serde_json::from_value::<I>(update.input.clone()) {
                Ok(input) => {
                    return Poll::Ready(UpdateRequest {
                        ctx: this.ctx.clone(),
                        update: Some(update),
                        input,
                        _answer: PhantomData,
                    })
                }
                // Rejected for the code, which never sees it; the wait goes on.
                Err(error) => {
                    let reason = format!(
                        "the input of update `{}` does not fit `{}`: {error}",
                        update.name,
                        std::any::type_name::<I>()
                    );
                    reject(&this.ctx, &update, reason);
                }
            }
        }
    }
}

impl<I, O> Drop for NextUpdate<I, O> {
    fn drop(&mut self) {
        if let Some(id) = self.waiter {
            self.ctx.with_state(|state| state.updates.drop_waiter(id));
        }
    }
}

/// An update the workflow took with `ctx.next_update`: validate its [`input`](Self::input),
/// then [`accept`](Self::accept) it with the answer its caller receives, or
/// [`reject`](Self::reject) it.
///
/// Validate before anything durable: a rejection takes no step and records only the
/// rejection, so the workflow's progress stays as if the update had never come; an
/// acceptance is a step, replayed and checked like any other. An update dropped without a
/// verdict is rejected ("the workflow did not answer the update"), as are updates still
/// waiting when the execution ends.
#[must_use = "an update waits for its caller until it is accepted or rejected"]
pub struct UpdateRequest<I, O = Value> {
    ctx: WorkflowContext,
    update: Option<crate::workflow::replay::machines::ReceivedUpdate>,
    input: I,
    _answer: PhantomData<fn(O)>,
}

impl<I, O: serde::Serialize> UpdateRequest<I, O> {
    /// The update's input.
    pub fn input(&self) -> &I {
        &self.input
    }

    /// The update's name.
    pub fn name(&self) -> &str {
        self.update
            .as_ref()
            .map_or("", |update| update.name.as_str())
    }

    /// The update's id (the caller's, or one the engine gave it).
    pub fn id(&self) -> &str {
        self.update
            .as_ref()
            .map_or("", |update| update.update_id.as_str())
    }

    /// Accepts the update: `answer` is recorded in history and returned to the caller (a
    /// value that does not serialize answers `null`).
    pub fn accept(mut self, answer: O) {
        let Some(update) = self.update.take() else {
            return;
        };
        let answer = serde_json::to_value(answer).unwrap_or(Value::Null);
        self.ctx.with_state(|state| {
            if let Err(error) = state.accept_update(&update, answer) {
                state.fail(error);
            }
        });
    }

    /// Rejects the update: the caller receives `reason` as an `update_rejected` error.
    pub fn reject(mut self, reason: impl Into<String>) {
        self.give_rejection(reason.into());
    }
}

impl<I, O> UpdateRequest<I, O> {
    fn give_rejection(&mut self, reason: String) {
        if let Some(update) = self.update.take() {
            reject(&self.ctx, &update, reason);
        }
    }
}

impl<I, O> Drop for UpdateRequest<I, O> {
    fn drop(&mut self) {
        if let Some(update) = &self.update {
            let reason = format!("the workflow did not answer update `{}`", update.name);
            self.give_rejection(reason);
        }
    }
}

/// Rejects `update`; a rejection that disagrees with history poisons the execution.
fn reject(
    ctx: &WorkflowContext,
    update: &crate::workflow::replay::machines::ReceivedUpdate,
    reason: String,
) {
    ctx.with_state(|state| {
        if let Err(error) = state.reject_update(&update.name, &update.update_id, reason) {
            state.fail(error);
        }
    });
}
