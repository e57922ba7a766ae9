//! The lifecycle of a handler delivery: its effect scope, what its handler's effects mean,
//! retries with backoff and jitter, then the dead-letter queue.

use crate::engine::client::{Effect, StartExecution};
use crate::event::{EventEnvelope, OutgoingEvent};
use crate::registry::{HandlerFailure, SubscriptionDescriptor};
use crate::time::Timestamp;
use crate::workflow::command::InboxEvent;
use crate::workflow::replay::state::stable_hash;
use serde::{Deserialize, Serialize};

/// One delivery of an event to one subscription.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    /// The subscription's name.
    pub subscription: String,
    /// The event.
    pub event: EventEnvelope,
    /// The attempt (1-based).
    pub attempt: u32,
    /// When the attempt is due.
    pub due_at: Timestamp,
}

impl Delivery {
    /// The first delivery of `event` to `subscription`, due at `now`.
    pub fn first(subscription: &str, event: EventEnvelope, now: Timestamp) -> Self {
        Delivery {
            subscription: subscription.to_owned(),
            event,
            attempt: 1,
            due_at: now,
        }
    }

    /// The scope of the handler's effects: the ids of the executions it starts, the signals it
    /// sends and the events it publishes derive from it, so a redelivery asks for the same
    /// ones, and every engine gives them the same ids.
    pub fn scope(&self) -> String {
        effect_scope(&self.event.id, &self.subscription)
    }

    /// The id of the dead letter this delivery leaves when it fails for good at `now`: a
    /// digest of the delivery and the time, so a letter redriven and dead-lettered again gets
    /// a new id, and safe in a URL path.
    pub fn dead_letter_id(&self, now: Timestamp) -> String {
        let hash = stable_hash(&[
            self.scope().as_bytes(),
            &self.attempt.to_le_bytes(),
            &now.as_millis().to_le_bytes(),
        ]);
        format!("dlq-{hash:016x}")
    }
}

/// The effect scope of a delivery of event `event_id` to `subscription`.
pub fn effect_scope(event_id: &str, subscription: &str) -> String {
    format!("{event_id}.{subscription}")
}

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

/// What an engine offers to settle deliveries.
pub trait DeliveryHost: EffectHost {
    /// The delivery is done (succeeded, dead-lettered or dropped): forget it.
    fn settled(&mut self, delivery: &Delivery);
    /// Deliver again (`retry.due_at`, attempt `retry.attempt`).
    fn retry(&mut self, retry: Delivery);
    /// Keep `letter` in the dead-letter queue.
    fn dead_letter(&mut self, letter: DeadLetter);
    /// The event is dropped after its last attempt (no dead-letter queue): log `letter`.
    fn dropped(&mut self, letter: DeadLetter);
}

/// What becomes of a delivery whose handler returned.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// The handler succeeded: its effects are carried out and the delivery is done.
    Succeeded,
    /// Deliver again: the next attempt and when it is due.
    Retry(Delivery),
    /// Keep the event in the dead-letter queue.
    DeadLetter(DeadLetter),
    /// Drop the event after its last attempt (the subscription has no dead-letter queue).
    Drop(DeadLetter),
}

/// Decides what becomes of `delivery` whose handler returned `result` at `now`, by the
/// subscription's policy.
pub fn verdict(
    subscription: &SubscriptionDescriptor,
    delivery: &Delivery,
    result: &Result<(), HandlerFailure>,
    now: Timestamp,
) -> Verdict {
    let Err(failure) = result else {
        return Verdict::Succeeded;
    };
    let after = after_failure(
        subscription,
        &delivery.event,
        delivery.attempt,
        failure,
        now,
    );
    let letter = || DeadLetter {
        id: delivery.dead_letter_id(now),
        subscription: delivery.subscription.clone(),
        event: delivery.event.clone(),
        error: failure.clone(),
        attempts: delivery.attempt,
        failed_at: now,
    };
    match after {
        AfterFailure::RetryAt(at) => Verdict::Retry(Delivery {
            attempt: delivery.attempt + 1,
            due_at: at,
            ..delivery.clone()
        }),
        AfterFailure::DeadLetter => Verdict::DeadLetter(letter()),
        AfterFailure::Drop => Verdict::Drop(letter()),
    }
}

/// Settles a delivery whose handler returned `result` with `effects` at `now` through `host`:
/// see [`verdict`].
pub fn settle(
    host: &mut impl DeliveryHost,
    subscription: &SubscriptionDescriptor,
    delivery: Delivery,
    result: Result<(), HandlerFailure>,
    effects: Vec<Effect>,
    now: Timestamp,
) {
    match verdict(subscription, &delivery, &result, now) {
        Verdict::Succeeded => {
            host.settled(&delivery);
            apply_effects(
                host,
                effects,
                &delivery.scope(),
                delivery.event.correlation_id.clone(),
                now,
            );
        }
        Verdict::Retry(retry) => host.retry(retry),
        Verdict::DeadLetter(letter) => {
            host.settled(&delivery);
            host.dead_letter(letter);
        }
        Verdict::Drop(letter) => {
            host.settled(&delivery);
            host.dropped(letter);
        }
    }
}

/// What an engine offers to carry out the effects of a handler that succeeded.
pub trait EffectHost: super::Host {
    /// Starts an execution a handler asked for; a failure is logged by the engine (the
    /// handler has already succeeded, and its other effects still apply).
    fn start_for_handler(&mut self, request: StartExecution);
}

/// Carries out a handler's effects through `host`, carrying on the event's correlation id.
/// Events it publishes get ids derived from `scope`, so a redelivery publishes the same ids.
pub fn apply_effects(
    host: &mut impl EffectHost,
    effects: Vec<Effect>,
    scope: &str,
    correlation_id: Option<String>,
    now: Timestamp,
) {
    for (index, effect) in effects.into_iter().enumerate() {
        match effect {
            Effect::Start { request, .. } => host.start_for_handler(StartExecution {
                correlation_id: request.correlation_id.or_else(|| correlation_id.clone()),
                ..request
            }),
            Effect::Signal {
                execution_id,
                name,
                payload,
                signal_id,
            } => host.deliver(
                &execution_id,
                InboxEvent::Signal {
                    name,
                    payload,
                    id: Some(signal_id),
                },
            ),
            Effect::Publish(events) => {
                let envelopes = envelopes(
                    events,
                    &format!("{scope}/{index}"),
                    correlation_id.clone(),
                    now,
                );
                host.publish(envelopes);
            }
        }
    }
}

/// Envelopes for events published from `scope` (a handler's effect, a client's request):
/// their ids are `<scope>/<index>`.
pub fn envelopes(
    events: Vec<OutgoingEvent>,
    scope: &str,
    correlation_id: Option<String>,
    now: Timestamp,
) -> Vec<EventEnvelope> {
    events
        .into_iter()
        .enumerate()
        .map(|(index, event)| {
            EventEnvelope::outgoing(
                format!("{scope}/{index}"),
                event,
                now,
                correlation_id.clone(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(attempt: u32) -> Delivery {
        let event = EventEnvelope::new(
            "wf-1/0/0".into(),
            "orders",
            "OrderPlaced",
            "2026-01-01T00:00:00Z".into(),
            serde_json::json!({}),
        );
        Delivery {
            attempt,
            ..Delivery::first("notify", event, Timestamp::from_millis(0))
        }
    }

    #[test]
    fn effects_are_scoped_by_event_and_subscription_and_dead_letters_have_url_safe_ids() {
        assert_eq!(delivery(1).scope(), "wf-1/0/0.notify");
        let now = Timestamp::from_millis(5);
        let id = delivery(2).dead_letter_id(now);
        assert!(id.starts_with("dlq-") && id[4..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(
            id,
            delivery(2).dead_letter_id(now),
            "the same on every engine"
        );
        assert_ne!(id, delivery(2).dead_letter_id(Timestamp::from_millis(6)));
        let envelopes = envelopes(
            vec![OutgoingEvent::new("s", "A", serde_json::json!(1))],
            "wf-1/0/0.notify/2",
            Some("c".into()),
            now,
        );
        assert_eq!(envelopes[0].id, "wf-1/0/0.notify/2/0");
        assert_eq!(envelopes[0].correlation_id.as_deref(), Some("c"));
    }
}
