//! Sagas: compensations that undo completed steps, in reverse order, when a later step fails
//! or the execution is cancelled.

use crate::workflow::context::WorkflowContext;
use crate::workflow::replay::machines::{Compensation, NextCompensation, PendingCompensation};
use futures::FutureExt;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A set of compensations. Get one with `WorkflowContext::saga`.
///
/// ```
/// use eventual_runtime::prelude::*;
/// # #[task] async fn reserve(item: String) -> Result<String, StepError> { Ok(item) }
/// # #[task] async fn release(reservation: String) -> Result<(), StepError> { Ok(()) }
/// # #[task] async fn charge(amount: u64) -> Result<(), StepError> { Ok(()) }
/// #[workflow]
/// async fn buy(ctx: WorkflowContext, item: String) -> Result<(), WorkflowError> {
///     let saga = ctx.saga();
///     let reservation = saga.run(reserve(item), |r| release(r)).await?;
///     if let Err(error) = charge(42).await {
///         saga.compensate().await; // runs release(reservation)
///         return Err(error.into());
///     }
///     Ok(())
/// }
/// ```
#[derive(Clone)]
pub struct Saga {
    ctx: WorkflowContext,
    id: u64,
}

impl Saga {
    pub(crate) fn new(ctx: WorkflowContext, id: u64) -> Self {
        Saga { ctx, id }
    }

    /// Registers a compensation. It runs, newest first, on [`compensate`](Saga::compensate) or
    /// when the execution is cancelled.
    pub fn add_compensation<F, Fut, T, E>(&self, compensation: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: Display,
    {
        let saga = self.id;
        let run = Box::new(move || {
            compensation()
                .map(|result| result.map(drop).map_err(|error| error.to_string()))
                .boxed()
        });
        self.ctx
            .with_state(|state| state.sagas.register(Compensation { saga, run }));
    }

    /// Awaits `step`; when it succeeds, registers `compensation` with a copy of its output.
    pub async fn run<T, E, C, CF, CT, CE>(
        &self,
        step: impl Future<Output = Result<T, E>>,
        compensation: C,
    ) -> Result<T, E>
    where
        T: Clone + Send + 'static,
        C: FnOnce(T) -> CF + Send + 'static,
        CF: Future<Output = Result<CT, CE>> + Send + 'static,
        CE: Display,
    {
        let output = step.await?;
        let copy = output.clone();
        self.add_compensation(move || compensation(copy));
        Ok(output)
    }

    /// Runs this saga's compensations, newest first, each after the previous one ended, and
    /// returns the errors of those that failed. Compensations run at most once; if the
    /// execution is cancelled meanwhile, the cleanup finishes the one in flight and runs the
    /// rest.
    pub async fn compensate(&self) -> Vec<String> {
        let run = self.ctx.with_state(|state| state.sagas.begin_run(self.id));
        RunCompensations::new(self.ctx.clone(), run).await
    }
}

/// Drives compensation run `run` of the replay state to its end; yields the errors of the
/// compensations that failed.
pub(crate) struct RunCompensations {
    ctx: WorkflowContext,
    run: u64,
}

impl RunCompensations {
    pub(crate) fn new(ctx: WorkflowContext, run: u64) -> Self {
        RunCompensations { ctx, run }
    }
}

impl Future for RunCompensations {
    type Output = Vec<String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<String>> {
        let run = self.run;
        loop {
            // Compensations begin outside the state's lock: beginning one takes a step.
            let mut compensation = match self.ctx.with_state(|state| state.sagas.next(run)) {
                NextCompensation::Done(errors) => return Poll::Ready(errors),
                NextCompensation::Run(PendingCompensation::NotBegun(begin)) => begin(),
                NextCompensation::Run(PendingCompensation::Begun(future)) => future,
            };
            match compensation.as_mut().poll(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(error)) => {
                    self.ctx.with_state(|state| state.sagas.failed(run, error))
                }
                Poll::Pending => {
                    self.ctx
                        .with_state(|state| state.sagas.waits(run, compensation));
                    return Poll::Pending;
                }
            }
        }
    }
}
