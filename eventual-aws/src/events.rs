//! Events: `PutEvents` on the service's bus, and the handler of a subscription's queue.
//!
//! The engine's event id and correlation id travel in the entry's `Resources`
//! (`eventual:id:<id>`, `eventual:correlation-id:<id>`), so `detail` stays the user's and a
//! handler sees the same ids on every engine; EventBridge's own id is used only for events
//! published from outside.

use crate::config::{Aws, Faults};
use crate::error::AwsError;
use crate::message::{send_inbox, InboxMessage};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sqs::types::MessageAttributeValue;
use eventual_runtime::engine::client::{Client, Effect, EffectBuffer, WithClient};
use eventual_runtime::engine::delivery::{after_failure, AfterFailure};
use eventual_runtime::event::{EventEnvelope, OutgoingEvent};
use eventual_runtime::registry::{self, HandlerFailure, SubscriptionDescriptor};
use eventual_runtime::time::Timestamp;
use eventual_runtime::workflow::InboxEvent;
use futures::future::BoxFuture;
use serde_json::Value;
use std::time::Duration;
use tracing::warn;

const ID_PREFIX: &str = "eventual:id:";
const CORRELATION_PREFIX: &str = "eventual:correlation-id:";

/// Entries per `PutEvents` call (the API's limit).
pub const PUT_EVENTS_BATCH: usize = 10;

/// Calls made for one batch before giving up on its failed entries.
pub const PUT_EVENTS_TRIES: u32 = 5;

/// The `PutEvents` entry of `event` on `bus`.
pub fn entry(event: &EventEnvelope, bus: &str) -> PutEventsRequestEntry {
    let mut resources = vec![format!("{ID_PREFIX}{}", event.id)];
    if let Some(correlation_id) = &event.correlation_id {
        resources.push(format!("{CORRELATION_PREFIX}{correlation_id}"));
    }
    resources.extend(event.resources.iter().cloned());
    PutEventsRequestEntry::builder()
        .event_bus_name(bus)
        .source(&event.source)
        .detail_type(&event.detail_type)
        .detail(event.detail.to_string())
        .set_resources(Some(resources))
        .build()
}

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

/// Sends one `PutEvents` call; returns, per entry, the error code of a failed entry.
pub type PutCall<'a> = dyn Fn(Vec<PutEventsRequestEntry>) -> BoxFuture<'a, Result<Vec<Option<String>>, AwsError>>
    + Send
    + Sync
    + 'a;

/// Puts `entries` in batches of [`PUT_EVENTS_BATCH`] through `call`, sending the failed
/// entries of a batch again (with a short backoff) until none fail or [`PUT_EVENTS_TRIES`] calls
/// were made.
pub async fn put_with_retry(
    entries: Vec<PutEventsRequestEntry>,
    call: &PutCall<'_>,
) -> Result<(), AwsError> {
    for batch in entries.chunks(PUT_EVENTS_BATCH) {
        let mut pending = batch.to_vec();
        let mut tries = 0;
        while !pending.is_empty() {
            tries += 1;
            let results = call(pending.clone()).await?;
            let failed: Vec<_> = pending
                .into_iter()
                .zip(
                    results
                        .iter()
                        .map(Option::is_some)
                        .chain(std::iter::repeat(true)),
                )
                .filter_map(|(entry, failed)| failed.then_some(entry))
                .collect();
            if !failed.is_empty() && tries >= PUT_EVENTS_TRIES {
                let codes: Vec<_> = results.into_iter().flatten().collect();
                return Err(AwsError::Sdk {
                    operation: "PutEvents",
                    message: format!(
                        "{} entries still failing after {tries} calls: {codes:?}",
                        failed.len()
                    ),
                });
            }
            if !failed.is_empty() {
                tokio::time::sleep(Duration::from_millis(50 << tries.min(5))).await;
            }
            pending = failed;
        }
    }
    Ok(())
}

/// Puts `events` on the service's bus.
pub async fn put_events(aws: &Aws, events: &[EventEnvelope]) -> Result<(), AwsError> {
    if events.is_empty() {
        return Ok(());
    }
    let entries = events
        .iter()
        .map(|event| entry(event, &aws.resources.event_bus))
        .collect();
    let call = |entries: Vec<PutEventsRequestEntry>| -> BoxFuture<'_, _> {
        Box::pin(async move {
            let count = entries.len();
            let output = aws
                .events
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(AwsError::sdk("PutEvents"))?;
            let mut codes: Vec<Option<String>> = output
                .entries()
                .iter()
                .map(|e| e.error_code().map(str::to_owned))
                .collect();
            codes.resize(count, Some("MissingResult".to_owned()));
            if let Some(first) = codes.first_mut() {
                if Faults::take(&aws.faults.fail_put_events) {
                    *first = Some("InjectedFailure".to_owned());
                }
            }
            Ok(codes)
        })
    };
    put_with_retry(entries, &call).await
}

/// Envelopes of events a handler or client publishes, with ids derived from `scope`.
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
            let mut envelope = EventEnvelope::new(
                format!("{scope}/{index}"),
                &event.source,
                &event.detail_type,
                now.to_rfc3339(),
                event.detail,
            );
            envelope.correlation_id = correlation_id.clone();
            envelope
        })
        .collect()
}

/// Carries out what a handler asked for through its client: starts, signals, events.
pub async fn apply_effects(
    aws: &Aws,
    effects: Vec<Effect>,
    scope: &str,
    correlation_id: Option<String>,
) -> Result<(), AwsError> {
    for (index, effect) in effects.into_iter().enumerate() {
        match effect {
            Effect::Start {
                execution_id,
                request,
            } => {
                send_inbox(
                    aws,
                    &InboxMessage::Start {
                        workflow: request.workflow,
                        execution_id,
                        input: request.input,
                        correlation_id: request.correlation_id.or_else(|| correlation_id.clone()),
                        parent: None,
                    },
                )
                .await?
            }
            Effect::Signal {
                execution_id,
                name,
                payload,
                signal_id,
            } => {
                send_inbox(
                    aws,
                    &InboxMessage::Event {
                        execution_id,
                        event: InboxEvent::Signal {
                            name,
                            payload,
                            id: Some(signal_id),
                        },
                    },
                )
                .await?
            }
            Effect::Publish(events) => {
                let scope = format!("{scope}/{index}");
                let envelopes = envelopes(
                    events,
                    &scope,
                    correlation_id.clone(),
                    Timestamp::wall_clock(),
                );
                put_events(aws, &envelopes).await?
            }
        }
    }
    Ok(())
}

/// Runs subscription `subscription`'s handler on one event; its effects are carried out only
/// if it succeeded. `Ok(Err(failure))` is the handler's own failure; `Err` is the engine's.
pub async fn deliver(
    aws: &Aws,
    subscription: &SubscriptionDescriptor,
    event: EventEnvelope,
) -> Result<Result<(), HandlerFailure>, AwsError> {
    let scope = format!("{}.{}", event.id, subscription.name);
    let correlation_id = event.correlation_id.clone();
    let buffer = EffectBuffer::new(scope.clone(), correlation_id.clone());
    let body = (subscription.handle)(event);
    let result: Result<(), HandlerFailure> =
        WithClient::new(Client::new(buffer.clone()), body).await;
    if let Err(failure) = result {
        return Ok(Err(failure));
    }
    apply_effects(aws, buffer.take(), &scope, correlation_id).await?;
    Ok(Ok(()))
}

/// The message attribute of a dead letter holding the handler's failure (JSON).
pub const FAILURE_ATTRIBUTE: &str = "eventual-failure";
/// The message attribute of a dead letter holding the deliveries made.
pub const ATTEMPTS_ATTRIBUTE: &str = "eventual-attempts";

/// The longest an SQS message can be hidden (`ChangeMessageVisibility`): 12 hours.
const MAX_VISIBILITY_SECONDS: u64 = 12 * 3600;

/// Whether a failed delivery's message stays on the queue for another receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AfterDelivery {
    /// Acknowledge it: done, dead-lettered or dropped.
    Settled,
    /// Report it failed, so SQS delivers it again.
    Again,
}

/// Applies the engine's delivery rule (`engine::delivery::after_failure`, as on every
/// engine) to a failed delivery: a retry is due after the subscription's backoff, so the
/// message is hidden until then; a last or hopeless one goes to the dead-letter queue with its
/// failure (or is dropped, without one).
async fn after_handler_failure(
    aws: &Aws,
    subscription: &SubscriptionDescriptor,
    record: &SqsMessage,
    event: &EventEnvelope,
    failure: HandlerFailure,
) -> Result<AfterDelivery, AwsError> {
    let attempt = record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|count| count.parse::<u32>().ok())
        .unwrap_or(1);
    let now = Timestamp::wall_clock();
    let resources = &aws.resources;
    match after_failure(subscription, event, attempt, &failure, now) {
        AfterFailure::RetryAt(at) => {
            if let (false, Some(receipt)) = (
                resources.handler_queue_url.is_empty(),
                record.receipt_handle.as_deref(),
            ) {
                // SQS takes a visibility of up to 12 hours; the receive count keeps counting.
                let delay = crate::message::seconds_until(at, now).min(MAX_VISIBILITY_SECONDS);
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
        AfterFailure::DeadLetter if resources.dead_letter_queue_url.is_empty() => {
            // No queue to move it to from here: the redrive policy will.
            Ok(AfterDelivery::Again)
        }
        AfterFailure::DeadLetter => {
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
                    text(serde_json::to_string(&failure).unwrap_or_default())?,
                )
                .message_attributes(ATTEMPTS_ATTRIBUTE, text(attempt.to_string())?)
                .send()
                .await
                .map_err(AwsError::sdk("SendMessage (dead letter)"))?;
            warn!(subscription = subscription.name, event = %event.id, %failure, attempt, "event dead-lettered");
            Ok(AfterDelivery::Settled)
        }
        AfterFailure::Drop => {
            warn!(subscription = subscription.name, event = %event.id, %failure, attempt, "event dropped (no dead-letter queue)");
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
    match deliver(aws, subscription, event.clone()).await? {
        Ok(()) => Ok(AfterDelivery::Settled),
        Err(failure) => after_handler_failure(aws, subscription, record, &event, failure).await,
    }
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
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Mutex;

    fn entries(n: usize) -> Vec<PutEventsRequestEntry> {
        (0..n)
            .map(|i| {
                PutEventsRequestEntry::builder()
                    .source("test")
                    .detail_type(format!("E{i}"))
                    .detail("{}")
                    .build()
            })
            .collect()
    }

    #[tokio::test]
    async fn put_events_batches_by_ten_and_retries_failed_entries() {
        let calls = &Mutex::new(Vec::new());
        let failures_left = &AtomicU32::new(2);
        let call = |batch: Vec<PutEventsRequestEntry>| -> BoxFuture<'_, _> {
            let names: Vec<String> = batch
                .iter()
                .map(|e| e.detail_type().unwrap_or_default().to_owned())
                .collect();
            calls.lock().unwrap().push(names.clone());
            let fail = failures_left.load(Ordering::SeqCst) > 0;
            Box::pin(async move {
                // The first two calls report their second entry as failed.
                Ok(names
                    .iter()
                    .enumerate()
                    .map(|(i, _)| {
                        (fail && i == 1 && failures_left.fetch_sub(1, Ordering::SeqCst) > 0)
                            .then(|| "ThrottlingException".to_owned())
                    })
                    .collect())
            })
        };
        put_with_retry(entries(23), &call).await.unwrap();
        let calls = calls.lock().unwrap().clone();
        let sizes: Vec<usize> = calls.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![10, 1, 10, 1, 3]);
        assert_eq!(calls[1], vec!["E1".to_owned()]);
        assert_eq!(calls[3], vec!["E11".to_owned()]);
        let sent: usize = sizes.iter().sum::<usize>() - 2;
        assert_eq!(sent, 23, "every entry went out once, failed ones once more");
    }

    #[tokio::test]
    async fn put_events_gives_up_after_its_tries() {
        let call = |batch: Vec<PutEventsRequestEntry>| -> BoxFuture<'_, _> {
            Box::pin(async move { Ok(vec![Some("InternalFailure".to_owned()); batch.len()]) })
        };
        let error = put_with_retry(entries(2), &call).await.unwrap_err();
        assert!(
            error.to_string().contains("2 entries still failing"),
            "{error}"
        );
    }

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
