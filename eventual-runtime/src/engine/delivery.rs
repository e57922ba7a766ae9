//! Delivery of events to handlers: retries with backoff and jitter, then the dead-letter queue.

use crate::event::EventEnvelope;
use crate::registry::{HandlerFailure, SubscriptionDescriptor};
use crate::time::Timestamp;
use crate::workflow::replay::state::stable_hash;
use serde::{Deserialize, Serialize};

/// An event that a handler could not take, kept for inspection and redrive.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The entry's id.
    pub id: String,
    /// The subscription that failed.
    pub subscription: String,
    /// The original event.
    pub event: EventEnvelope,
    /// The last error.
    pub error: HandlerFailure,
    /// Attempts made.
    pub attempts: u32,
    /// When it was dead-lettered.
    pub failed_at: Timestamp,
}

/// What to do after attempt `attempt` of a delivery failed.
#[derive(Clone, Debug, PartialEq)]
pub enum AfterFailure {
    /// Deliver again at `at`.
    RetryAt(Timestamp),
    /// Put it in the dead-letter queue.
    DeadLetter,
    /// Drop it (the subscription has `dead_letter = false`); it is logged.
    Drop,
}

/// Decides a failed delivery's fate by the subscription's retry policy. The jitter derives
/// from the event id, so two engines (or a replayed test) agree on the timing.
pub fn after_failure(
    subscription: &SubscriptionDescriptor,
    event: &EventEnvelope,
    attempt: u32,
    failure: &HandlerFailure,
    now: Timestamp,
) -> AfterFailure {
    if failure.is_retryable() && subscription.retry.allows_attempt(attempt + 1) {
        let hash = stable_hash(&[
            event.id.as_bytes(),
            subscription.name.as_bytes(),
            &attempt.to_le_bytes(),
        ]);
        let unit = (hash >> 11) as f64 / (1u64 << 53) as f64;
        AfterFailure::RetryAt(now + subscription.retry.delay_after(attempt, unit))
    } else if subscription.dead_letter {
        AfterFailure::DeadLetter
    } else {
        AfterFailure::Drop
    }
}
