//! The service API on AWS: the engine-neutral [`ServiceApi`] over the engine's queues,
//! tables, bucket and bus, served to API Gateway by the `api` role ([`gateway`]) and to the
//! CLI by Lambda invoke (`cli`, feature `cli`); the service's own `#[api]` routes, which
//! reach it through `ApiContext`, are the `user-api` role's ([`routes`]).
//!
//! Differences from the local engine, all from where the state lives:
//! - a start is durable once it is on the orchestrator queue; the call waits (up to
//!   [`AwsApi::with_start_wait`]) for the orchestrator to record it, so a status query right
//!   after it finds the execution;
//! - `wait` (and `POST /workflows/{name}/execute`) polls the executions table for at most
//!   [`AwsApi::with_wait`], then answers "still running" (API Gateway ends requests at 30 s);
//! - dead letters are the messages of the subscriptions' dead-letter queues: SQS keeps no
//!   handler error, so each names the receives it took.

pub mod gateway;
pub mod routes;

use crate::config::Aws;
use crate::error::AwsError;
use crate::message::{unique_id, InboxMessage};
use crate::outbound::send_inbox;
use crate::store::{self, ExecutionItem};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use eventual_runtime::engine::api::{
    ApiResult, ExecutionPage, ExecutionRow, ListFilter, ServiceApi, Started,
};
use eventual_runtime::engine::client::StartExecution;
use eventual_runtime::engine::kernel::delivery::DeadLetter;
use eventual_runtime::engine::kernel::signal::outside_signal;
use eventual_runtime::engine::kernel::start::{decide_start, fresh_execution_id};
use eventual_runtime::engine::kernel::update::{self, SendUpdate, UpdateReply, UpdateStatus};
use eventual_runtime::engine::ServiceError;
use eventual_runtime::error::Failure;
use eventual_runtime::event::OutgoingEvent;
use eventual_runtime::manifest::names;
use eventual_runtime::registry::{self, HandlerFailure};
use eventual_runtime::task::{CompletionToken, TokenSigner};
use eventual_runtime::time::Timestamp;
use eventual_runtime::workflow::{HistoryEvent, InboxEvent, Outcome, RunLink};
use futures::FutureExt;
use serde_json::Value;
use std::time::{Duration, Instant};

/// How long the API function waits for an execution to end (its timeout is 30 s, like
/// API Gateway's).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(25);

/// How long a start waits for the orchestrator to record the execution.
pub const DEFAULT_START_WAIT: Duration = Duration::from_secs(5);

const POLL: Duration = Duration::from_millis(100);

/// The service API on the AWS engine.
#[derive(Clone)]
pub struct AwsApi {
    aws: Aws,
    signer: TokenSigner,
    wait: Duration,
    start_wait: Duration,
}

impl From<AwsError> for ServiceError {
    fn from(error: AwsError) -> Self {
        match error {
            error @ AwsError::Sdk { .. } => ServiceError::Unavailable(error.to_string()),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

/// A message of a dead-letter queue, received and hidden.
struct Received {
    letter: DeadLetter,
    receipt: String,
    /// The body as EventBridge delivered it, sent back unchanged on redrive.
    body: String,
}

/// A subscription's queue and dead-letter queue.
struct DeadLetterQueue {
    subscription: &'static str,
    /// The deliveries SQS made before it moved a message (the redrive policy's
    /// `maxReceiveCount`, the subscription's `retry.max_attempts`).
    attempts: u32,
    queue_url: String,
    dead_letter_url: String,
}

impl AwsApi {
    /// The API over `aws`, with the completion-token key of the environment
    /// (`EVENTUAL_TOKEN_KEY`, as the task functions have it).
    pub fn new(aws: Aws) -> Self {
        AwsApi {
            aws,
            signer: crate::task::token_signer(),
            wait: DEFAULT_WAIT,
            start_wait: DEFAULT_START_WAIT,
        }
    }

    /// Waits for an execution's end at most `wait` per call.
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Waits for the orchestrator to record a start at most `wait`.
    pub fn with_start_wait(mut self, wait: Duration) -> Self {
        self.start_wait = wait;
        self
    }

    async fn item(&self, execution_id: &str) -> Result<ExecutionItem, ServiceError> {
        store::load_item(&self.aws, execution_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(execution_id.to_owned()))
    }

    /// Sends `event` to a running execution.
    async fn send(&self, execution_id: &str, event: InboxEvent) -> Result<(), ServiceError> {
        if self.item(execution_id).await?.status.is_terminal() {
            return Err(ServiceError::Ended(execution_id.to_owned()));
        }
        let message = InboxMessage::Event {
            execution_id: execution_id.to_owned(),
            event,
        };
        Ok(send_inbox(&self.aws, &message).await?)
    }

    async fn start_execution(&self, request: StartExecution) -> Result<Started, ServiceError> {
        if registry::workflow(&request.workflow).is_none() {
            return Err(ServiceError::UnknownWorkflow(request.workflow));
        }
        let execution_id = request
            .execution_name
            .unwrap_or_else(|| fresh_execution_id(&request.workflow, &unique_id()));
        let holder = store::load_item(&self.aws, &execution_id).await?;
        let holder = holder.as_ref().map(|item| item.workflow.as_str());
        if let Some(existing) =
            decide_start(&request.workflow, holder).answer(execution_id.clone())?
        {
            return Ok(existing);
        }
        let message = InboxMessage::Start {
            workflow: request.workflow,
            execution_id: execution_id.clone(),
            input: request.input,
            correlation_id: request.correlation_id,
            parent: None,
        };
        send_inbox(&self.aws, &message).await?;
        let deadline = Instant::now() + self.start_wait;
        while store::load_item(&self.aws, &execution_id).await?.is_none()
            && Instant::now() < deadline
        {
            tokio::time::sleep(POLL).await;
        }
        Ok(Started {
            execution_id,
            created: true,
        })
    }

    async fn list_executions(&self, filter: &ListFilter) -> Result<ExecutionPage, ServiceError> {
        Ok(crate::listing::list(&self.aws, filter).await?)
    }

    /// The dead-letter queues of the subscriptions linked into this binary that have one.
    async fn dead_letter_queues(&self) -> Result<Vec<DeadLetterQueue>, ServiceError> {
        let service = &self.aws.resources.service;
        let mut queues = Vec::new();
        for subscription in registry::SUBSCRIPTIONS.iter().filter(|s| s.dead_letter) {
            let dead_letter = names::handler_dlq(service, subscription.name);
            let Some(dead_letter_url) = self.queue_url(&dead_letter).await? else {
                continue;
            };
            let queue = names::handler_queue(service, subscription.name);
            let Some(queue_url) = self.queue_url(&queue).await? else {
                continue;
            };
            queues.push(DeadLetterQueue {
                subscription: subscription.name,
                attempts: subscription.retry.max_attempts.max(1),
                queue_url,
                dead_letter_url,
            });
        }
        Ok(queues)
    }

    async fn queue_url(&self, name: &str) -> Result<Option<String>, ServiceError> {
        match self.aws.sqs.get_queue_url().queue_name(name).send().await {
            Ok(output) => Ok(output.queue_url),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_queue_does_not_exist()) =>
            {
                Ok(None)
            }
            Err(error) => Err(AwsError::sdk("GetQueueUrl")(error).into()),
        }
    }

    /// Every message of a dead-letter queue, each with its receipt handle. The messages are
    /// hidden while they are read (so each is seen once) and visible again right after,
    /// unless `keep_hidden`.
    async fn read_dead_letters(
        &self,
        queue: &DeadLetterQueue,
        keep_hidden: bool,
    ) -> Result<Vec<Received>, ServiceError> {
        let mut letters: Vec<Received> = Vec::new();
        if self.approximate_count(&queue.dead_letter_url).await? == 0 {
            return Ok(letters);
        }
        loop {
            // A short poll samples some of SQS's servers; the one-second long poll sees all.
            let output = self
                .aws
                .sqs
                .receive_message()
                .queue_url(&queue.dead_letter_url)
                .max_number_of_messages(10)
                .visibility_timeout(30)
                .wait_time_seconds(1)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await
                .map_err(AwsError::sdk("ReceiveMessage (dead letters)"))?;
            let messages = output.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            for message in messages {
                // The receive count also counts the API's own reads: the policy's count is
                // what the handler got.
                let sent = message
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or_default();
                let body = message.body().unwrap_or_default().to_owned();
                let event = crate::events::envelope_from_bridge(&body)?;
                // The handler records its failure on what it dead-letters; a message that SQS
                // moved (the handler could not run) has none.
                let attribute = |name: &str| {
                    message
                        .message_attributes()
                        .and_then(|a| a.get(name))
                        .and_then(|v| v.string_value())
                };
                let error = attribute(crate::events::FAILURE_ATTRIBUTE)
                    .and_then(|text| serde_json::from_str(text).ok())
                    .unwrap_or_else(|| {
                        HandlerFailure::Failed(format!(
                            "moved to the dead-letter queue by SQS after {} receives; \
                             the errors are in the handler function's logs",
                            queue.attempts
                        ))
                    });
                let attempts = attribute(crate::events::ATTEMPTS_ATTRIBUTE)
                    .and_then(|text| text.parse().ok())
                    .unwrap_or(queue.attempts);
                let letter = DeadLetter {
                    id: message.message_id().unwrap_or_default().to_owned(),
                    subscription: queue.subscription.to_owned(),
                    event,
                    error,
                    attempts,
                    failed_at: Timestamp::from_millis(sent),
                };
                if !letters.iter().any(|known| known.letter.id == letter.id) {
                    letters.push(Received {
                        letter,
                        receipt: message.receipt_handle().unwrap_or_default().to_owned(),
                        body,
                    });
                }
            }
        }
        if !keep_hidden {
            for received in &letters {
                self.show_again(queue, &received.receipt).await?;
            }
        }
        Ok(letters)
    }

    /// SQS's estimate of the visible messages of a queue.
    async fn approximate_count(&self, queue_url: &str) -> Result<u64, ServiceError> {
        let output = self
            .aws
            .sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(AwsError::sdk("GetQueueAttributes (dead letters)"))?;
        Ok(output
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::ApproximateNumberOfMessages))
            .and_then(|count| count.parse().ok())
            .unwrap_or_default())
    }

    async fn show_again(&self, queue: &DeadLetterQueue, receipt: &str) -> Result<(), ServiceError> {
        self.aws
            .sqs
            .change_message_visibility()
            .queue_url(&queue.dead_letter_url)
            .receipt_handle(receipt)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(AwsError::sdk("ChangeMessageVisibility (dead letters)"))?;
        Ok(())
    }

    async fn all_dead_letters(&self) -> Result<Vec<DeadLetter>, ServiceError> {
        let mut all = Vec::new();
        for queue in self.dead_letter_queues().await? {
            let letters = self.read_dead_letters(&queue, false).await?;
            all.extend(letters.into_iter().map(|received| received.letter));
        }
        Ok(all)
    }

    /// Moves dead letters back to their subscription's queue: sent again, then deleted.
    async fn redrive_letters(&self, id: Option<&str>) -> Result<usize, ServiceError> {
        let mut moved = 0;
        for queue in self.dead_letter_queues().await? {
            for received in self.read_dead_letters(&queue, true).await? {
                if id.is_some_and(|id| id != received.letter.id) {
                    self.show_again(&queue, &received.receipt).await?;
                    continue;
                }
                self.aws
                    .sqs
                    .send_message()
                    .queue_url(&queue.queue_url)
                    .message_body(received.body)
                    .send()
                    .await
                    .map_err(AwsError::sdk("SendMessage (redrive)"))?;
                self.aws
                    .sqs
                    .delete_message()
                    .queue_url(&queue.dead_letter_url)
                    .receipt_handle(received.receipt)
                    .send()
                    .await
                    .map_err(AwsError::sdk("DeleteMessage (redrive)"))?;
                moved += 1;
            }
        }
        match id {
            Some(id) if moved == 0 => Err(ServiceError::NotFound(id.to_owned())),
            _ => Ok(moved),
        }
    }

    async fn complete(
        &self,
        token: CompletionToken,
        result: Result<Value, Failure>,
    ) -> Result<bool, ServiceError> {
        let claims = self
            .signer
            .verify(&token)
            .map_err(|error| ServiceError::InvalidToken(error.to_string()))?;
        if self.item(&claims.execution_id).await?.status.is_terminal() {
            return Ok(false);
        }
        let message = InboxMessage::Event {
            execution_id: claims.execution_id,
            event: InboxEvent::TaskCompleted {
                seq: claims.seq,
                attempt: claims.attempt,
                result,
            },
        };
        send_inbox(&self.aws, &message).await?;
        Ok(true)
    }

    /// Sends an update to the orchestrator queue, like a signal, and polls the execution's
    /// history for the workflow's verdict until `update.wait()` has passed.
    async fn send_update(
        &self,
        execution_id: &str,
        update: SendUpdate,
    ) -> Result<UpdateReply, ServiceError> {
        update.check()?;
        let update_id = update.id(unique_id);
        let (known, ended) = self.update_standing(execution_id, &update_id).await?;
        if let Some(reply) = update::before_sending(execution_id, &update_id, known, ended)? {
            return Ok(reply);
        }
        let message = InboxMessage::Event {
            execution_id: execution_id.to_owned(),
            event: update.to_inbox(&update_id),
        };
        send_inbox(&self.aws, &message).await?;
        let deadline = Instant::now() + update.wait();
        loop {
            let (known, ended) = self.update_standing(execution_id, &update_id).await?;
            if let Some(reply) = update::while_waiting(execution_id, &update_id, known, ended)? {
                return Ok(reply);
            }
            if Instant::now() >= deadline {
                return Ok(UpdateReply {
                    update_id,
                    status: UpdateStatus::Pending,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// What the histories say of an update, and whether the execution has ended (read first,
    /// so that an end seen means the histories read after it are whole).
    async fn update_standing(
        &self,
        execution_id: &str,
        update_id: &str,
    ) -> Result<(Option<UpdateStatus>, bool), ServiceError> {
        let ended = self.item(execution_id).await?.status.is_terminal();
        let known =
            eventual_runtime::engine::api::update_status_in_runs(self, execution_id, update_id)
                .await?;
        Ok((known, ended))
    }

    async fn wait_for(&self, execution_id: &str) -> Result<Outcome, ServiceError> {
        let deadline = Instant::now() + self.wait;
        loop {
            if let Some(outcome) = self.item(execution_id).await?.outcome {
                return Ok(outcome);
            }
            if Instant::now() >= deadline {
                return Err(ServiceError::StillRunning(execution_id.to_owned()));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

impl ServiceApi for AwsApi {
    fn start(&self, request: StartExecution) -> ApiResult<'_, Started> {
        self.start_execution(request).boxed()
    }

    fn execution<'a>(&'a self, execution_id: &'a str) -> ApiResult<'a, ExecutionRow> {
        async move { Ok(self.item(execution_id).await?.to_row()) }.boxed()
    }

    fn list<'a>(&'a self, filter: &'a ListFilter) -> ApiResult<'a, ExecutionPage> {
        self.list_executions(filter).boxed()
    }

    fn history<'a>(&'a self, execution_id: &'a str) -> ApiResult<'a, Vec<HistoryEvent>> {
        async move {
            let item = self.item(execution_id).await?;
            Ok(store::load_history(&self.aws, execution_id, Some(&item), 0)
                .await?
                .events)
        }
        .boxed()
    }

    fn run_history<'a>(
        &'a self,
        execution_id: &'a str,
        run_id: &'a str,
    ) -> ApiResult<'a, Vec<HistoryEvent>> {
        async move {
            let current = self.history(execution_id).await?;
            let current_run = RunLink::of_history(&current).unwrap_or_default();
            if current_run.run_id() == run_id {
                return Ok(current);
            }
            // Only runs before the current one have a document of their own.
            let earlier = RunLink::from_started(Some(run_id), 0)
                .is_ok_and(|run| run.number < current_run.number);
            if !earlier {
                return Err(ServiceError::NotFound(format!(
                    "run `{run_id}` of execution `{execution_id}`"
                )));
            }
            Ok(store::run_history(&self.aws, execution_id, run_id).await?)
        }
        .boxed()
    }

    fn signal<'a>(
        &'a self,
        execution_id: &'a str,
        name: &'a str,
        payload: Value,
        signal_id: Option<String>,
    ) -> ApiResult<'a, ()> {
        let event = outside_signal(name, payload, signal_id, unique_id);
        self.send(execution_id, event).boxed()
    }

    fn update<'a>(
        &'a self,
        execution_id: &'a str,
        update: SendUpdate,
    ) -> ApiResult<'a, UpdateReply> {
        self.send_update(execution_id, update).boxed()
    }

    fn cancel<'a>(&'a self, execution_id: &'a str, reason: Option<String>) -> ApiResult<'a, ()> {
        self.send(execution_id, InboxEvent::Cancel { reason })
            .boxed()
    }

    fn terminate<'a>(&'a self, execution_id: &'a str, reason: Option<String>) -> ApiResult<'a, ()> {
        self.send(execution_id, InboxEvent::Terminate { reason })
            .boxed()
    }

    fn publish(&self, events: Vec<OutgoingEvent>) -> ApiResult<'_, Vec<String>> {
        async move { Ok(crate::events::publish(&self.aws, events, None).await?) }.boxed()
    }

    fn dead_letters(&self) -> ApiResult<'_, Vec<DeadLetter>> {
        self.all_dead_letters().boxed()
    }

    fn redrive<'a>(&'a self, id: Option<&'a str>) -> ApiResult<'a, usize> {
        self.redrive_letters(id).boxed()
    }

    fn complete_task(
        &self,
        token: CompletionToken,
        result: Result<Value, Failure>,
    ) -> ApiResult<'_, bool> {
        self.complete(token, result).boxed()
    }

    fn wait<'a>(&'a self, execution_id: &'a str) -> ApiResult<'a, Outcome> {
        self.wait_for(execution_id).boxed()
    }
}
