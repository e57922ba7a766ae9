//! The timer forwarder: consumes the standard timer queue. A due message goes on (to the
//! orchestrator queue, or as a task invoke); one not yet due (a wait longer than SQS's 15
//! minutes, or a delivery a little early) goes back on the timer queue with the time left.

use crate::config::Aws;
use crate::error::AwsError;
use crate::message::{send_inbox, send_timer, InboxMessage, TimerAction, TimerMessage};
use crate::orchestrator::invoke_task;
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
        TimerAction::Invoke { invoke } => invoke_task(aws, &invoke).await,
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
