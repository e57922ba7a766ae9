//! Everything the engine sends: orchestrator and timer queue messages, EventBridge Scheduler
//! schedules for long timers, task invokes, `PutEvents`, and the [`Actions`] a step or a
//! handler's effects turn into.
//!
//! The role handlers (orchestrator, task worker, timer forwarder, subscription handlers, API)
//! decide nothing here: the kernel of `eventual-runtime` says what to do, [`Actions`] collects
//! it, [`perform`] sends it.

use crate::config::{Aws, Faults};
use crate::error::AwsError;
use crate::message::{
    delay_seconds, digest, seconds_until, unique_id, InboxMessage, TaskInvoke, TimerAction,
    TimerMessage, CORRELATION_PREFIX, ID_PREFIX, MAX_DELAY_SECONDS,
};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use aws_sdk_scheduler::operation::create_schedule::CreateScheduleError;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target,
};
use eventual_runtime::engine::client::StartExecution;
use eventual_runtime::engine::kernel::attempt::{self, Attempt};
use eventual_runtime::engine::kernel::start::fresh_execution_id;
use eventual_runtime::engine::kernel::step::{child_start_failure, ChildStart, TimerKey};
use eventual_runtime::engine::kernel::{EffectHost, Host};
use eventual_runtime::error::Failure;
use eventual_runtime::event::EventEnvelope;
use eventual_runtime::manifest::names;
use eventual_runtime::registry;
use eventual_runtime::time::Timestamp;
use eventual_runtime::workflow::{InboxEvent, Outcome, StartRequest};
use futures::future::BoxFuture;
use std::time::Duration;

/// Entries per `PutEvents` call (the API's limit).
pub const PUT_EVENTS_BATCH: usize = 10;

/// Calls made for one batch before giving up on its failed entries.
pub const PUT_EVENTS_TRIES: u32 = 5;

// ---- queues ----------------------------------------------------------------------------------

/// Puts `message` on the orchestrator queue (a large one by reference, see [`crate::payload`]).
pub async fn send_inbox(aws: &Aws, message: &InboxMessage) -> Result<(), AwsError> {
    let body = crate::payload::seal(aws, message, "inbox message").await?;
    send_inbox_body(aws, message.execution_id(), body).await
}

/// Puts a sealed inbox message (see [`crate::payload::seal`]) on the orchestrator queue, in
/// the message group of `execution_id`.
pub async fn send_inbox_body(aws: &Aws, execution_id: &str, body: String) -> Result<(), AwsError> {
    aws.sqs
        .send_message()
        .queue_url(&aws.resources.orchestrator_queue_url)
        .message_group_id(execution_id)
        .message_deduplication_id(digest(&body))
        .message_body(body)
        .send()
        .await
        .map_err(AwsError::sdk("SendMessage (orchestrator queue)"))?;
    Ok(())
}

/// Puts `timer` on the timer queue, delayed by the time left until it is due. A wait longer
/// than SQS's 15 minutes becomes a one-time EventBridge Scheduler schedule that puts the
/// message on the timer queue when it is due ([`schedule`]); without a scheduler
/// role, the forwarder sends it round the queue again every 15 minutes.
pub async fn send_timer(aws: &Aws, timer: &TimerMessage, now: Timestamp) -> Result<(), AwsError> {
    let body = crate::payload::seal(aws, timer, "timer message").await?;
    if seconds_until(timer.due_at, now) > MAX_DELAY_SECONDS
        && !aws.resources.scheduler_role_arn.is_empty()
    {
        return schedule(aws, timer.due_at, body).await;
    }
    aws.sqs
        .send_message()
        .queue_url(&aws.resources.timer_queue_url)
        .delay_seconds(delay_seconds(timer.due_at, now))
        .message_body(body)
        .send()
        .await
        .map_err(AwsError::sdk("SendMessage (timer queue)"))?;
    Ok(())
}

// ---- schedules -------------------------------------------------------------------------------
//
// Waits longer than SQS's 15 minutes are one-time EventBridge Scheduler schedules (`at(...)`,
// UTC, deleted after they ran) whose target is the timer queue, with the timer message as
// input; the schedule's name is a digest of the message, so a timer sent again (a redelivered
// step) names the same schedule and is created once.

/// The schedule of a long timer: `<service>-<digest of the message>`, in the default group.
pub fn schedule_name(service: &str, body: &str) -> String {
    names::schedule(service, &digest(body)[..40])
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

// ---- the bus ---------------------------------------------------------------------------------

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

// ---- actions ---------------------------------------------------------------------------------

/// One thing to do after a commit, collected by the [`Host`] (whose methods are synchronous).
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Start a task attempt, now or at its `not_before`.
    Invoke(TaskInvoke),
    /// Put a message on the timer queue.
    Timer(TimerMessage),
    /// Put a message on the orchestrator queue.
    Inbox(InboxMessage),
    /// Put events on the bus.
    Publish(Vec<EventEnvelope>),
}

/// The [`Host`] of the AWS engine: collects actions to perform after the commit.
#[derive(Debug, Default)]
pub struct Actions {
    /// What to do, in command order.
    pub actions: Vec<Action>,
}

impl Host for Actions {
    fn schedule_attempt(&mut self, invoke: Attempt) {
        self.actions.push(Action::Invoke(invoke));
    }

    fn schedule_inbox(
        &mut self,
        execution_id: &str,
        at: Timestamp,
        _key: TimerKey,
        event: InboxEvent,
    ) {
        self.actions.push(Action::Timer(TimerMessage {
            due_at: at,
            action: TimerAction::Inbox {
                execution_id: execution_id.to_owned(),
                event,
            },
        }));
    }

    fn deliver(&mut self, execution_id: &str, event: InboxEvent) {
        self.actions.push(Action::Inbox(InboxMessage::Event {
            execution_id: execution_id.to_owned(),
            event,
        }));
    }

    fn publish(&mut self, events: Vec<EventEnvelope>) {
        self.actions.push(Action::Publish(events));
    }

    fn start_child(&mut self, child: ChildStart) -> Result<(), Failure> {
        if registry::workflow(&child.workflow).is_none() {
            return Err(child_start_failure(
                true,
                format!("workflow `{}` is not registered", child.workflow),
            ));
        }
        self.actions.push(Action::Inbox(InboxMessage::Start {
            workflow: child.workflow,
            execution_id: child.execution_id,
            input: child.input,
            correlation_id: Some(child.correlation_id),
            parent: Some(child.parent),
        }));
        Ok(())
    }

    fn finished(&mut self, _execution_id: &str, _outcome: &Outcome) {
        // The outcome is in the committed item already.
    }

    fn continue_as_new(&mut self, next: StartRequest) {
        // The orchestrator takes the continue-as-new out of a step's commands and commits
        // the next run with it (`take_continuation`): a committed step never holds one.
        tracing::warn!(execution = %next.execution_id, "a continue-as-new reached the outbound actions; ignored");
    }

    fn discard_pending(&mut self, _execution_id: &str) {
        // Queued timers and invokes cannot be recalled: the orchestrator drops what reaches
        // an ended execution.
    }
}

impl EffectHost for Actions {
    fn start_for_handler(&mut self, request: StartExecution) {
        let execution_id = request
            .execution_name
            .unwrap_or_else(|| fresh_execution_id(&request.workflow, &unique_id()));
        self.actions.push(Action::Inbox(InboxMessage::Start {
            workflow: request.workflow,
            execution_id,
            input: request.input,
            correlation_id: request.correlation_id,
            parent: None,
        }));
    }
}

/// Performs `actions` against AWS.
pub async fn perform(aws: &Aws, actions: Vec<Action>, now: Timestamp) -> Result<(), AwsError> {
    for (index, action) in actions.into_iter().enumerate() {
        if index > 0 && Faults::take(&aws.faults.crash_between_commands) {
            return Err(AwsError::Crashed("between two commands of a step"));
        }
        match action {
            Action::Invoke(invoke) => match invoke.delayed_until(now) {
                Some(due_at) => {
                    let timer = TimerMessage {
                        due_at,
                        action: TimerAction::Invoke { invoke },
                    };
                    send_timer(aws, &timer, now).await?;
                }
                None => dispatch_attempt(aws, &invoke, now).await?,
            },
            Action::Timer(timer) => send_timer(aws, &timer, now).await?,
            Action::Inbox(message) => send_inbox(aws, &message).await?,
            Action::Publish(events) => put_events(aws, &events).await?,
        }
    }
    Ok(())
}

/// Starts an attempt that is due at `now`: arms its timeout, then invokes its task.
///
/// The timeout runs from the dispatch, as on every engine (a retry that waited for its
/// backoff on the timer queue, whose delays are whole seconds, gets its whole timeout). It is
/// a timer: if no result came by then (the worker died or hangs), the attempt fails and the
/// workflow retries it; a result that did come makes the late timeout a no-op, since an
/// execution takes one result per attempt. It goes out first, so a crash in between leaves a
/// timeout without an invoke, never an invoke without one.
pub async fn dispatch_attempt(
    aws: &Aws,
    invoke: &TaskInvoke,
    now: Timestamp,
) -> Result<(), AwsError> {
    if let Some(due_at) = invoke.times_out_at(now) {
        let timeout = TimerMessage {
            due_at,
            action: TimerAction::Inbox {
                execution_id: invoke.execution_id.clone(),
                event: attempt::completed(&invoke.key(), Err(attempt::timed_out())),
            },
        };
        send_timer(aws, &timeout, now).await?;
        if Faults::take(&aws.faults.crash_between_commands) {
            return Err(AwsError::Crashed(
                "between an attempt's timeout and its invoke",
            ));
        }
    }
    invoke_task(aws, invoke).await
}

/// Invokes a task attempt asynchronously (`InvocationType::Event`).
pub async fn invoke_task(aws: &Aws, invoke: &TaskInvoke) -> Result<(), AwsError> {
    let payload = crate::payload::seal(aws, invoke, "task invoke").await?;
    aws.lambda
        .invoke()
        .function_name(aws.resources.task_function(&invoke.name))
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(payload))
        .send()
        .await
        .map_err(AwsError::sdk("Invoke (task)"))?;
    Ok(())
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
