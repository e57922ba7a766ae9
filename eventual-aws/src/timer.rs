//! Timers: the forwarder consumes the standard timer queue. A due message goes on (to the
//! orchestrator queue, or as a task invoke); one not yet due (a schedule or a delivery a
//! little early) goes back with the time left.
//!
//! Waits up to 15 minutes are SQS message delays. Longer ones are one-time EventBridge
//! Scheduler schedules ([`crate::outbound::schedule`]) whose target is the timer queue.

use crate::config::Aws;
use crate::error::AwsError;
use crate::message::{InboxMessage, TimerAction, TimerMessage};
use crate::outbound::{dispatch_attempt, send_inbox, send_timer};
use crate::payload;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use eventual_runtime::time::Timestamp;
use tracing::warn;

/// Forwards one timer message at `now`.
pub async fn forward(aws: &Aws, timer: TimerMessage, now: Timestamp) -> Result<(), AwsError> {
    if timer.due_at > now {
        return send_timer(aws, &timer, now).await;
    }
    match timer.action {
        TimerAction::Inbox {
            execution_id,
            event,
        } => {
            send_inbox(
                aws,
                &InboxMessage::Event {
                    execution_id,
                    event,
                },
            )
            .await
        }
        TimerAction::Invoke { invoke } => dispatch_attempt(aws, &invoke, now).await,
    }
}

/// The timer forwarder's Lambda handler.
pub async fn handle_batch(aws: &Aws, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let body = record.body.as_deref().unwrap_or_default();
        let result = match payload::open::<TimerMessage>(aws, body, "timer message").await {
            Ok(timer) => forward(aws, timer, Timestamp::wall_clock()).await,
            Err(error) => Err(error),
        };
        if let Err(error) = result {
            warn!(message = %id, %error, "timer not forwarded");
            response.batch_item_failures.push(BatchItemFailure {
                item_identifier: id,
            });
        }
    }
    response
}
