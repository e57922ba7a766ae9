//! Deterministic ways to wait for several durable steps at once.
//!
//! All of them poll their futures in the order given, so when several are ready in the same
//! step the earliest in the list wins, on every replay alike.

use futures::future::{join_all, select_all, try_join_all};
use std::future::Future;

/// Waits for every future; fails with the first error (like `Promise.all`).
pub async fn all<T, E, F>(futures: impl IntoIterator<Item = F>) -> Result<Vec<T>, E>
where
    F: Future<Output = Result<T, E>>,
{
    try_join_all(futures).await
}

/// Waits for every future and returns every result (like `Promise.allSettled`).
pub async fn all_settled<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    join_all(futures).await
}

/// The output of the first future to finish and its index (like `Promise.race`).
///
/// # Panics
/// When `futures` is empty, as there is no first one.
pub async fn race<F: Future + Unpin>(futures: impl IntoIterator<Item = F>) -> (F::Output, usize) {
    let (output, index, _rest) = select_all(futures).await;
    (output, index)
}

/// The first success, or every error if all fail (like `Promise.any`).
pub async fn any<T, E, F>(futures: impl IntoIterator<Item = F>) -> Result<T, Vec<E>>
where
    F: Future<Output = Result<T, E>> + Unpin,
{
    let mut pending: Vec<F> = futures.into_iter().collect();
    let mut errors = Vec::new();
    while !pending.is_empty() {
        let (output, _index, rest) = select_all(pending).await;
        match output {
            Ok(value) => return Ok(value),
            Err(error) => errors.push(error),
        }
        pending = rest;
    }
    Err(errors)
}
