//! Futures that carry a "current" value (the running task attempt, the handler's client) in a
//! thread-local for the duration of each poll, so code deep inside them can reach it.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread::LocalKey;

/// The thread-local a [`WithCurrent`] fills.
pub type Slot<T> = LocalKey<RefCell<Option<T>>>;

/// Polls `body` with `value` in `slot`, restoring the slot's previous value after each poll.
pub struct WithCurrent<T: Clone + 'static, F> {
    slot: &'static Slot<T>,
    value: T,
    body: Pin<Box<F>>,
}

impl<T: Clone + 'static, F: Future> WithCurrent<T, F> {
    pub(crate) fn scoped(slot: &'static Slot<T>, value: T, body: F) -> Self {
        WithCurrent {
            slot,
            value,
            body: Box::pin(body),
        }
    }
}

// The body is boxed and the value is only ever cloned, never pinned.
impl<T: Clone + 'static, F> Unpin for WithCurrent<T, F> {}

impl<T: Clone + 'static, F: Future> Future for WithCurrent<T, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let previous = this
            .slot
            .with(|slot| slot.replace(Some(this.value.clone())));
        let poll = this.body.as_mut().poll(cx);
        this.slot.with(|slot| *slot.borrow_mut() = previous);
        poll
    }
}

/// The value in `slot` on this thread, if a [`WithCurrent`] is being polled.
pub(crate) fn current<T: Clone + 'static>(slot: &'static Slot<T>) -> Option<T> {
    slot.with(|slot| slot.borrow().clone())
}
