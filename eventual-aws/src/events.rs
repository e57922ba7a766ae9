//! Events: `PutEvents` on the service's bus, and the handler of a subscription's queue.
//!
//! The engine's event id and correlation id travel in the entry's `Resources`
//! (`eventual:id:<id>`, `eventual:correlation-id:<id>`), so `detail` stays the user's and a
//! handler sees the same ids on every engine; EventBridge's own id is used only for events
//! published from outside.

use crate::config::Aws;
use crate::error::AwsError;
use crate::message::{CORRELATION_PREFIX, ID_PREFIX};
use crate::outbound::{perform, put_events, Actions};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::MessageAttributeValue;
use eventual_runtime::engine::client::{Client, EffectBuffer, WithClient};
use eventual_runtime::engine::kernel::delivery::{
    apply_effects, envelopes, verdict, Delivery, Verdict,
};
use eventual_runtime::event::{EventEnvelope, OutgoingEvent};
use eventual_runtime::registry::{self, HandlerFailure, SubscriptionDescriptor};
use eventual_runtime::time::Timestamp;
use serde_json::Value;
use tracing::warn;

/// The envelope of an EventBridge event as a subscription queue receives it.
pub fn envelope_from_bridge(body: &str) -> Result<EventEnvelope, AwsError> {
    let mut envelope: EventEnvelope =
        serde_json::from_str(body).map_err(AwsError::invalid("EventBridge event"))?;
    let mut kept = Vec::new();
    for resource in std::mem::take(&mut envelope.resources) {
        if let Some(id) = resource.strip_prefix(ID_PREFIX) {
            envelope.id = id.to_owned();
        } else if let Some(id) = resource.strip_prefix(CORRELATION_PREFIX) {
            envelope.correlation_id = Some(id.to_owned());
        } else {
            kept.push(resource);
        }
    }
    envelope.resources = kept;
    Ok(envelope)
}

/// Runs subscription `subscription`'s handler on one delivery and decides, by the kernel's
/// rule, what becomes of it; the effects of a handler that succeeded are carried out before
/// this returns. `Err` is the engine's own failure.
pub async fn deliver(
    aws: &Aws,
    subscription: &SubscriptionDescriptor,
    delivery: &Delivery,
) -> Result<Verdict, AwsError> {
    let scope = delivery.scope();
    let correlation_id = delivery.event.correlation_id.clone();
    let buffer = EffectBuffer::new(scope.clone(), correlation_id.clone());
    let body = (subscription.handle)(delivery.event.clone());
    let result: Result<(), HandlerFailure> =
        WithClient::new(Client::new(buffer.clone()), body).await;
    let now = Timestamp::wall_clock();
    let verdict = verdict(subscription, delivery, &result, now);
    if verdict == Verdict::Succeeded {
        let mut actions = Actions::default();
        apply_effects(&mut actions, buffer.take(), &scope, correlation_id, now);
        perform(aws, actions.actions, now).await?;
    }
    Ok(verdict)
}

/// The message attribute of a dead letter holding the handler's failure (JSON).
pub const FAILURE_ATTRIBUTE: &str = "eventual-failure";
/// The message attribute of a dead letter holding the deliveries made.
pub const ATTEMPTS_ATTRIBUTE: &str = "eventual-attempts";

/// The longest an SQS message can be hidden (`ChangeMessageVisibility`): 12 hours.
const MAX_VISIBILITY_SECONDS: u64 = 12 * 3600;

/// Whether a delivery's message stays on the queue for another receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AfterDelivery {
    /// Acknowledge it: done, dead-lettered or dropped.
    Settled,
    /// Report it failed, so SQS delivers it again.
    Again,
}

/// Carries out the kernel's verdict on SQS: a retry hides the message until its backoff
/// ends (the receive count is the attempt number); a dead letter goes to the dead-letter
/// queue with its failure.
async fn carry_out_verdict(
    aws: &Aws,
    record: &SqsMessage,
    verdict: Verdict,
) -> Result<AfterDelivery, AwsError> {
    let resources = &aws.resources;
    match verdict {
        Verdict::Succeeded => Ok(AfterDelivery::Settled),
        Verdict::Retry(retry) => {
            if let (false, Some(receipt)) = (
                resources.handler_queue_url.is_empty(),
                record.receipt_handle.as_deref(),
            ) {
                // SQS takes a visibility of up to 12 hours; the receive count keeps counting.
                let delay = crate::message::seconds_until(retry.due_at, Timestamp::wall_clock())
                    .min(MAX_VISIBILITY_SECONDS);
                aws.sqs
                    .change_message_visibility()
                    .queue_url(&resources.handler_queue_url)
                    .receipt_handle(receipt)
                    .visibility_timeout(delay as i32)
                    .send()
                    .await
                    .map_err(AwsError::sdk("ChangeMessageVisibility (retry backoff)"))?;
            }
            Ok(AfterDelivery::Again)
        }
        // No queue to move it to from here: the redrive policy will.
        Verdict::DeadLetter(_) if resources.dead_letter_queue_url.is_empty() => {
            Ok(AfterDelivery::Again)
        }
        Verdict::DeadLetter(letter) => {
            let text = |value: String| {
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(value)
                    .build()
                    .map_err(AwsError::sdk("dead letter attribute"))
            };
            aws.sqs
                .send_message()
                .queue_url(&resources.dead_letter_queue_url)
                .message_body(record.body.clone().unwrap_or_default())
                .message_attributes(
                    FAILURE_ATTRIBUTE,
                    text(serde_json::to_string(&letter.error).unwrap_or_default())?,
                )
                .message_attributes(ATTEMPTS_ATTRIBUTE, text(letter.attempts.to_string())?)
                .send()
                .await
                .map_err(AwsError::sdk("SendMessage (dead letter)"))?;
            warn!(subscription = %letter.subscription, event = %letter.event.id, failure = %letter.error, attempt = letter.attempts, "event dead-lettered");
            Ok(AfterDelivery::Settled)
        }
        Verdict::Drop(letter) => {
            warn!(subscription = %letter.subscription, event = %letter.event.id, failure = %letter.error, attempt = letter.attempts, "event dropped (no dead-letter queue)");
            Ok(AfterDelivery::Settled)
        }
    }
}

/// Delivers one message of a subscription's queue.
async fn deliver_record(
    aws: &Aws,
    subscription: &SubscriptionDescriptor,
    record: &SqsMessage,
) -> Result<AfterDelivery, AwsError> {
    let body = record.body.as_deref().ok_or(AwsError::Invalid {
        what: "message",
        reason: "no body".to_owned(),
    })?;
    let event = envelope_from_bridge(body)?;
    let attempt = record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|count| count.parse::<u32>().ok())
        .unwrap_or(1);
    let delivery = Delivery {
        attempt,
        ..Delivery::first(subscription.name, event, Timestamp::wall_clock())
    };
    let verdict = deliver(aws, subscription, &delivery).await?;
    carry_out_verdict(aws, record, verdict).await
}

/// The handler of a subscription's queue: one EventBridge event per message. A failed
/// delivery is retried after the subscription's backoff and dead-lettered after its last
/// attempt, by the same rule as on every engine; a message the engine could not handle is
/// reported failed, so SQS delivers it again and its redrive policy ends the repeats.
pub async fn handle_batch(aws: &Aws, subscription: &str, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    let descriptor = registry::subscription(subscription);
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let result = match descriptor {
            Some(descriptor) => deliver_record(aws, descriptor, &record).await,
            None => Err(AwsError::Invalid {
                what: "subscription",
                reason: format!("no subscription named `{subscription}` is registered"),
            }),
        };
        let again = match result {
            Ok(after) => after == AfterDelivery::Again,
            Err(error) => {
                warn!(%subscription, message = %id, %error, "delivery failed");
                true
            }
        };
        if again {
            response.batch_item_failures.push(BatchItemFailure {
                item_identifier: id,
            });
        }
    }
    response
}

/// Publishes events from outside a workflow (the API role, tests); returns their ids.
pub async fn publish(
    aws: &Aws,
    events: Vec<OutgoingEvent>,
    correlation_id: Option<String>,
) -> Result<Vec<String>, AwsError> {
    let now = Timestamp::wall_clock();
    let envelopes = envelopes(
        events,
        &format!("evt-{}", crate::message::unique_id()),
        correlation_id,
        now,
    );
    put_events(aws, &envelopes).await?;
    Ok(envelopes.into_iter().map(|e| e.id).collect())
}

/// Whether `value` is an EventBridge event (has `detail-type`).
pub fn is_bridge_event(value: &Value) -> bool {
    value.get("detail-type").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::entry;

    #[test]
    fn engine_ids_travel_in_resources() {
        let mut event = EventEnvelope::new(
            "evt-1".into(),
            "orders",
            "OrderPlaced",
            "2026-01-01T00:00:00Z".into(),
            serde_json::json!({"amount": 120}),
        );
        event.correlation_id = Some("order-1".into());
        let entry = entry(&event, "bus");
        let bridge = serde_json::json!({
            "version": "0", "id": "bridge-id", "detail-type": entry.detail_type(),
            "source": entry.source(), "account": "123", "time": "2026-01-01T00:00:00Z",
            "region": "us-east-1", "resources": entry.resources(),
            "detail": serde_json::from_str::<Value>(entry.detail().unwrap()).unwrap(),
        });
        assert!(is_bridge_event(&bridge));
        let back = envelope_from_bridge(&bridge.to_string()).unwrap();
        assert_eq!(back.id, "evt-1");
        assert_eq!(back.correlation_id.as_deref(), Some("order-1"));
        assert!(back.resources.is_empty());
        assert_eq!(back.detail, event.detail);
    }
}
