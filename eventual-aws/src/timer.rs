//! Timers: the forwarder consumes the standard timer queue. A due message goes on (to the
//! orchestrator queue, or as a task invoke); one not yet due (a schedule or a delivery a
//! little early) goes back with the time left.
//!
//! Waits up to 15 minutes are SQS message delays. Longer ones are one-time EventBridge
//! Scheduler schedules (`at(...)`, UTC, deleted after they ran) whose target is the timer
//! queue, with the timer message as input; the schedule's name is a digest of the message, so
//! a timer sent again (a redelivered step) names the same schedule and is created once.

use crate::config::Aws;
use crate::error::AwsError;
use crate::message::{send_inbox, send_timer, InboxMessage, TimerAction, TimerMessage};
use crate::orchestrator::invoke_task;
use crate::payload;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_sdk_scheduler::operation::create_schedule::CreateScheduleError;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target,
};
use eventual_runtime::manifest::names;
use eventual_runtime::time::Timestamp;
use tracing::warn;

/// The schedule of a long timer: `<service>-<digest of the message>`, in the default group.
pub fn schedule_name(service: &str, body: &str) -> String {
    names::schedule(service, &crate::message::digest(body)[..40])
}

/// The one-time schedule expression of `due_at`, rounded up to the second (never early).
pub fn at_expression(due_at: Timestamp) -> String {
    let second = Timestamp::from_millis(due_at.as_millis().div_ceil(1000) * 1000);
    format!("at({})", &second.to_rfc3339()[..19])
}

/// Schedules the sealed timer message `body` onto the timer queue at `due_at`.
pub async fn schedule(aws: &Aws, due_at: Timestamp, body: String) -> Result<(), AwsError> {
    let resources = &aws.resources;
    let name = schedule_name(&resources.service, &body);
    let target = Target::builder()
        .arn(&resources.timer_queue_arn)
        .role_arn(&resources.scheduler_role_arn)
        .input(body)
        .build()
        .map_err(AwsError::sdk("schedule target"))?;
    let window = FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .map_err(AwsError::sdk("schedule window"))?;
    let result = aws
        .scheduler
        .create_schedule()
        .name(&name)
        .schedule_expression(at_expression(due_at))
        .schedule_expression_timezone("UTC")
        .flexible_time_window(window)
        .target(target)
        .action_after_completion(ActionAfterCompletion::Delete)
        .send()
        .await;
    // Refused as a conflict: the same timer, scheduled before (a redelivered step or a
    // re-sent message).
    AwsError::unless_refused(
        result,
        CreateScheduleError::is_conflict_exception,
        "CreateSchedule (timer)",
    )
    .map(drop)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_are_named_by_their_message_and_never_fire_early() {
        let name = schedule_name("order-service", "{\"due_at\":1}");
        assert!(
            name.starts_with(&names::schedule("order-service", "")) && name.len() <= 64,
            "{name}"
        );
        assert_eq!(name, schedule_name("order-service", "{\"due_at\":1}"));
        assert_ne!(name, schedule_name("order-service", "{\"due_at\":2}"));
        // 2027-01-15T08:00:00.001Z rounds up to the next second.
        let due = Timestamp::from_millis(1_800_000_000_001);
        assert_eq!(at_expression(due), "at(2027-01-15T08:00:01)");
        assert_eq!(
            at_expression(Timestamp::from_millis(1_800_000_000_000)),
            "at(2027-01-15T08:00:00)"
        );
    }
}
