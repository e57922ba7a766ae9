//! The orchestrator: steps executions from the FIFO orchestrator queue.
//!
//! For each execution of a batch (one message group), in order:
//! 1. load its executions item; if the commands of the last committed step were not carried
//!    out (a run crashed after its commit), carry them out now (the outbox);
//! 2. a start message creates the execution (a repeated start is ignored);
//! 3. the inbox events are fed to the executor (replayed from the S3 history) in one step;
//! 4. the new history goes to a fresh S3 key and the item moves to it with a conditional
//!    write on the version: a duplicate or concurrent run fails the condition, its messages
//!    are reported failed and come back to a run that sees the committed history (where the
//!    core drops events it already recorded);
//! 5. the step's commands are carried out: task invokes, timers, events, signals, child
//!    starts; then the item records them as carried out.
//!
//! A failed execution reports all its messages in `batchItemFailures`, so the others of the
//! batch are deleted and go on.

use crate::config::{Aws, Faults};
use crate::error::AwsError;
use crate::message::InboxMessage;
use crate::outbound::{perform, send_inbox, Actions};
use crate::payload;
use crate::retention;
use crate::store::{self, ExecutionItem, StoredStep};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use eventual_runtime::engine::kernel::carry_out;
use eventual_runtime::engine::kernel::start::{child_conflict, decide_start, StartDecision};
use eventual_runtime::engine::kernel::step::child_start_failure;
use eventual_runtime::engine::kernel::step::take_continuation;
use eventual_runtime::engine::ExecutionStatus;
use eventual_runtime::registry;
use eventual_runtime::registry::WorkflowDescriptor;
use eventual_runtime::time::Timestamp;
use eventual_runtime::workflow::history::{attribute_text, ParentRef, RunLink};
use eventual_runtime::workflow::{
    Command, History, HistoryEvent, HistoryEventKind, InboxEvent, ReplayError, StartRequest,
    StepOutput, WorkflowExecutor,
};
use tracing::{debug, warn};

/// The parent and correlation id recorded at the start of a history.
fn started(events: &[HistoryEvent]) -> (Option<ParentRef>, String) {
    match events.first().map(|e| &e.kind) {
        Some(HistoryEventKind::WorkflowStarted {
            parent,
            correlation_id,
            ..
        }) => (parent.clone(), correlation_id.clone()),
        _ => (None, String::new()),
    }
}

/// The searchable attributes `events` set, in order, as the index holds them.
fn attributes_set(events: &[HistoryEvent]) -> impl Iterator<Item = (String, String)> + '_ {
    events.iter().filter_map(|event| match &event.kind {
        HistoryEventKind::AttributeSet { key, value, .. } => {
            Some((key.clone(), attribute_text(value)))
        }
        _ => None,
    })
}

/// Carries out the commands of committed step `version`, then records that it did.
async fn carry_out_step(
    aws: &Aws,
    execution_id: &str,
    version: u64,
    history: &[HistoryEvent],
    commands: Vec<Command>,
) -> Result<(), AwsError> {
    let now = Timestamp::wall_clock();
    let (parent, correlation_id) = started(history);
    let mut actions = Actions::default();
    carry_out(
        &mut actions,
        execution_id,
        parent.as_ref(),
        &correlation_id,
        commands,
    );
    perform(aws, actions.actions, now).await?;
    if Faults::take(&aws.faults.crash_before_carried_out_mark) {
        return Err(AwsError::Crashed("before the carried-out mark"));
    }
    store::mark_carried_out(aws, execution_id, version).await
}

/// The code disagrees with the history (or the history is corrupt): the execution shows as
/// blocked with the error, history untouched, and its messages are not acknowledged, so they
/// come back (and end in the orchestrator's dead-letter queue, to be redriven once the code is
/// fixed); the next step that commits clears the mark.
async fn blocked(aws: &Aws, item: &ExecutionItem, error: ReplayError) -> AwsError {
    warn!(execution = %item.execution_id, %error, "execution blocked");
    if let Err(mark) = store::mark_blocked(aws, item, &error.to_string()).await {
        warn!(execution = %item.execution_id, error = %mark, "cannot mark the execution blocked");
    }
    AwsError::Replay(error)
}

/// One execution's part of a batch.
struct Run<'a> {
    aws: &'a Aws,
    execution_id: &'a str,
    item: Option<ExecutionItem>,
    /// The committed history, once loaded.
    history: Option<Vec<HistoryEvent>>,
    executor: Option<WorkflowExecutor>,
}

impl<'a> Run<'a> {
    async fn load(aws: &'a Aws, execution_id: &'a str) -> Result<Run<'a>, AwsError> {
        let item = store::load_item(aws, execution_id).await?;
        let mut run = Run {
            aws,
            execution_id,
            item,
            history: None,
            executor: None,
        };
        if let Some(item) = run.item.clone() {
            if item.carried_out < item.version {
                // The last run committed and stopped before its commands were all out.
                let step = store::load_step(aws, &item.history_key).await?;
                debug!(
                    execution = execution_id,
                    version = item.version,
                    "carrying out the commands of a committed step again"
                );
                carry_out_step(
                    aws,
                    execution_id,
                    item.version,
                    &step.history.events,
                    step.commands,
                )
                .await?;
                run.history = Some(step.history.events);
            }
        }
        Ok(run)
    }

    /// Commits a step: the whole new history to a fresh key, then the item, conditionally,
    /// with the attributes the step set (`attributes`, in order, from every run it went
    /// through) and, when the step ended the execution, its expiry.
    async fn commit(
        &mut self,
        workflow: &str,
        output: StepOutput,
        attributes: Vec<(String, String)>,
    ) -> Result<(), AwsError> {
        let previous = self.item.as_ref().map(|item| item.version);
        let version = previous.unwrap_or(0) + 1;
        let mut events = self.history.take().unwrap_or_default();
        events.extend(output.new_events);
        let key = store::history_key(self.execution_id, version);
        let step = StoredStep {
            history: History::new(events),
            commands: output.commands,
        };
        let now = Timestamp::wall_clock();
        let status = output
            .outcome
            .as_ref()
            .map(ExecutionStatus::of)
            .unwrap_or(ExecutionStatus::Running);
        // The last document of an ended execution expires with it.
        let ended = status.is_terminal();
        let tagging = ended
            .then(|| retention::history_tagging(&self.aws.resources, workflow))
            .flatten();
        store::put_step(self.aws, &key, &step, tagging.as_deref()).await?;
        if Faults::take(&self.aws.faults.crash_after_history_put) {
            return Err(AwsError::Crashed("after the history document was written"));
        }
        let (parent, correlation_id) = started(&step.history.events);
        let previous_item = self.item.as_ref();
        let item = ExecutionItem {
            execution_id: self.execution_id.to_owned(),
            workflow: workflow.to_owned(),
            status,
            version,
            history_len: step.history.events.len() as u64,
            history_key: key.clone(),
            carried_out: self.item.as_ref().map(|i| i.carried_out).unwrap_or(0),
            outcome: output.outcome,
            correlation_id,
            parent,
            created_at: self.item.as_ref().map_or(now, |i| i.created_at),
            updated_at: now,
            error: None,
            attributes: ExecutionItem::attributes_after(
                self.execution_id,
                previous_item
                    .map(|p| p.attributes.clone())
                    .unwrap_or_default(),
                attributes,
            ),
            expires_at: ended
                .then(|| retention::expires_at(&self.aws.resources, workflow, now))
                .flatten(),
        };
        if let Err(error) = store::commit_item(self.aws, &item, previous_item).await {
            if matches!(error, AwsError::Conflict(_)) {
                // Nobody will point at this run's document.
                store::mark_superseded(self.aws, &key).await;
            }
            return Err(error);
        }
        if let Some(replaced) = self.item.replace(item) {
            store::mark_superseded(self.aws, &replaced.history_key).await;
        }
        if Faults::take(&self.aws.faults.crash_after_commit) {
            return Err(AwsError::Crashed("after the history commit"));
        }
        let StoredStep { history, commands } = step;
        carry_out_step(
            self.aws,
            self.execution_id,
            version,
            &history.events,
            commands,
        )
        .await?;
        self.history = Some(history.events);
        Ok(())
    }

    async fn start(
        &mut self,
        workflow_name: String,
        input: serde_json::Value,
        correlation_id: Option<String>,
        parent: Option<ParentRef>,
    ) -> Result<(), AwsError> {
        let holder = self.item.as_ref().map(|item| item.workflow.as_str());
        match decide_start(&workflow_name, holder) {
            StartDecision::Create => {}
            StartDecision::Existing => {
                debug!(execution = self.execution_id, "repeated start ignored");
                return Ok(());
            }
            StartDecision::Conflict { held_by } => {
                warn!(execution = self.execution_id, %held_by, workflow = %workflow_name, "start refused: the id is taken");
                if let Some(parent) = parent {
                    let refusal = InboxMessage::Event {
                        execution_id: parent.execution_id,
                        event: InboxEvent::ChildCompleted {
                            seq: parent.seq,
                            result: Err(child_conflict(self.execution_id, held_by)),
                        },
                    };
                    send_inbox(self.aws, &refusal).await?;
                }
                return Ok(());
            }
        }
        let refused = |unknown: bool, message: String| {
            warn!(execution = self.execution_id, %message, "start refused");
            parent.clone().map(|parent| InboxMessage::Event {
                execution_id: parent.execution_id,
                event: InboxEvent::ChildCompleted {
                    seq: parent.seq,
                    result: Err(child_start_failure(unknown, message)),
                },
            })
        };
        let Some(workflow) = registry::workflow(&workflow_name) else {
            if let Some(message) = refused(
                true,
                format!("workflow `{workflow_name}` is not registered"),
            ) {
                send_inbox(self.aws, &message).await?;
            }
            return Ok(());
        };
        let request = StartRequest {
            correlation_id,
            parent: parent.clone(),
            ..StartRequest::new(self.execution_id, input)
        };
        match WorkflowExecutor::start(workflow, request, Timestamp::wall_clock()) {
            Ok((executor, output)) => {
                self.history = Some(Vec::new());
                self.commit_switching_runs(workflow, executor, output).await
            }
            Err(error) => {
                if let Some(message) = refused(false, error.to_string()) {
                    send_inbox(self.aws, &message).await?;
                }
                Ok(())
            }
        }
    }

    async fn step(&mut self, events: Vec<InboxEvent>) -> Result<(), AwsError> {
        if events.is_empty() {
            return Ok(());
        }
        let Some(item) = self.item.clone() else {
            debug!(
                execution = self.execution_id,
                "events for an unknown execution dropped"
            );
            return Ok(());
        };
        if item.status.is_terminal() {
            debug!(
                execution = self.execution_id,
                "events for an ended execution dropped"
            );
            return Ok(());
        }
        let Some(workflow) = registry::workflow(&item.workflow) else {
            return Err(AwsError::Invalid {
                what: "execution",
                reason: format!("workflow `{}` is no longer registered", item.workflow),
            });
        };
        let mut executor = match self.executor.take() {
            Some(executor) => executor,
            None => {
                if self.history.is_none() {
                    let step = store::load_step(self.aws, &item.history_key).await?;
                    self.history = Some(step.history.events);
                }
                let history = self.history.as_deref().unwrap_or_default();
                match WorkflowExecutor::replay(workflow, history) {
                    Ok(executor) => executor,
                    Err(error) => return Err(blocked(self.aws, &item, error).await),
                }
            }
        };
        let output = match executor.step(Timestamp::wall_clock(), events) {
            Ok(output) => output,
            Err(error) => return Err(blocked(self.aws, &item, error).await),
        };
        if output.new_events.is_empty() && output.commands.is_empty() {
            // Duplicates of what history already holds.
            self.executor = Some(executor);
            return Ok(());
        }
        self.commit_switching_runs(workflow, executor, output).await
    }

    /// Commits a step, and when the step's run continued as new, the next run with it: the
    /// ended run's history goes to its own document ([`store::run_history_key`]), the next
    /// run starts at once, and one commit holds the new run's history and both runs'
    /// commands. So the item never points at an ended run: every message after the commit,
    /// a signal sent during the switch included, reaches the new run.
    async fn commit_switching_runs(
        &mut self,
        workflow: &'static WorkflowDescriptor,
        mut executor: WorkflowExecutor,
        mut output: StepOutput,
    ) -> Result<(), AwsError> {
        let mut attributes = Vec::new();
        while let Some(continuation) = take_continuation(&mut output.commands) {
            attributes.extend(attributes_set(&output.new_events));
            let mut ended = self.history.take().unwrap_or_default();
            ended.extend(std::mem::take(&mut output.new_events));
            let ended_run = RunLink {
                number: continuation.run.number - 1,
                first_seq: 0,
            }
            .run_id();
            // An ended run's history expires by its own end, as a whole execution's would.
            let tagging = retention::history_tagging(&self.aws.resources, workflow.name);
            store::put_run_history(
                self.aws,
                self.execution_id,
                &ended_run,
                &History::new(ended.clone()),
                tagging.as_deref(),
            )
            .await?;
            let (parent, correlation_id) = started(&ended);
            let next =
                StartRequest::continued(self.execution_id, correlation_id, parent, continuation);
            let (next_executor, next_output) =
                match WorkflowExecutor::start(workflow, next, Timestamp::wall_clock()) {
                    Ok(started) => started,
                    Err(error) => {
                        self.history = Some(ended);
                        let item = self.item.clone().ok_or_else(|| AwsError::Invalid {
                            what: "execution",
                            reason: format!(
                                "`{}` continued as new before its first commit",
                                self.execution_id
                            ),
                        })?;
                        return Err(blocked(self.aws, &item, error).await);
                    }
                };
            self.history = Some(Vec::new());
            executor = next_executor;
            output.new_events = next_output.new_events;
            output.commands.extend(next_output.commands);
            output.outcome = next_output.outcome;
        }
        attributes.extend(attributes_set(&output.new_events));
        self.commit(workflow.name, output, attributes).await?;
        self.executor = (!executor.is_closed()).then_some(executor);
        Ok(())
    }
}

/// Processes one execution's messages, in queue order.
pub async fn process_execution(
    aws: &Aws,
    execution_id: &str,
    messages: Vec<InboxMessage>,
) -> Result<(), AwsError> {
    let mut run = Run::load(aws, execution_id).await?;
    let mut events = Vec::new();
    for message in messages {
        match message {
            InboxMessage::Start {
                workflow,
                input,
                correlation_id,
                parent,
                ..
            } => {
                run.step(std::mem::take(&mut events)).await?;
                run.start(workflow, input, correlation_id, parent).await?;
            }
            InboxMessage::Event { event, .. } => events.push(event),
        }
    }
    run.step(events).await
}

/// The orchestrator's Lambda handler: one batch of the FIFO queue.
pub async fn handle_batch(aws: &Aws, event: SqsEvent) -> SqsBatchResponse {
    // Messages by execution, each group in queue order, groups in order of first appearance.
    let mut groups: Vec<(String, Vec<String>, Vec<InboxMessage>)> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let body = record.body.as_deref().unwrap_or_default();
        let message = match payload::open::<InboxMessage>(aws, body, "inbox message").await {
            Ok(message) => message,
            Err(error) => {
                warn!(message = %id, %error, "unreadable orchestrator message");
                failed.push(id);
                continue;
            }
        };
        let execution_id = message.execution_id().to_owned();
        match groups
            .iter_mut()
            .find(|(group, _, _)| *group == execution_id)
        {
            Some((_, ids, messages)) => {
                ids.push(id);
                messages.push(message);
            }
            None => groups.push((execution_id, vec![id], vec![message])),
        }
    }
    let results = futures::future::join_all(groups.into_iter().map(
        |(execution_id, ids, messages)| async move {
            let result = process_execution(aws, &execution_id, messages).await;
            (execution_id, ids, result)
        },
    ))
    .await;
    for (execution_id, ids, result) in results {
        if let Err(error) = result {
            warn!(execution = %execution_id, %error, "execution step failed; its messages come back");
            failed.extend(ids);
        }
    }
    let mut response = SqsBatchResponse::default();
    for id in failed {
        response.batch_item_failures.push(BatchItemFailure {
            item_identifier: id,
        });
    }
    response
}
