//! The orchestrator: steps executions from the FIFO orchestrator queue.
//!
//! For each execution of a batch (one message group), in order:
//! 1. load its executions item and its history (kept in memory from this process's last
//!    commit, else the snapshot and batches after it); if a batch past the item's version
//!    exists (a run stopped between its commit and the item's write), bring the item up to
//!    it; if the commands of the last committed step were not carried out, carry them out now
//!    (the outbox);
//! 2. a start message creates the execution (a repeated start is ignored);
//! 3. the inbox events are fed to the executor (replayed from the history) in one step;
//! 4. the step's new events and commands are committed as the history batch of the next
//!    version, written only if absent: a duplicate or concurrent run is refused, its messages
//!    are reported failed and come back to a run that sees the committed history (where the
//!    core drops events it already recorded); the item then moves to the new version with a
//!    conditional write, and an occasional snapshot keeps reads short;
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
use crate::store::{self, ExecutionItem, StoredBatch, StoredHistory};
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
    Command, History, HistoryEvent, HistoryEventKind, InboxEvent, Outcome, ReplayError,
    StartRequest, StepOutput, WorkflowExecutor,
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
    /// The last committed version (the item's, once it is brought up to date).
    version: u64,
    /// The committed history of the current run, once loaded.
    history: Option<Vec<HistoryEvent>>,
    executor: Option<WorkflowExecutor>,
    /// The next commit starts a new run (its batch replaces the history).
    new_run: bool,
    /// The versions an earlier execution of this id used, past its retention: this one's
    /// history batches come after them (the TTL removes theirs some time later).
    base: u64,
}

impl<'a> Run<'a> {
    async fn load(aws: &'a Aws, execution_id: &'a str) -> Result<Run<'a>, AwsError> {
        let (item, base) = match store::load_stored_item(aws, execution_id).await? {
            Some(expired) if expired.is_expired(Timestamp::wall_clock()) => (None, expired.version),
            item => (item, 0),
        };
        let mut run = Run {
            aws,
            execution_id,
            version: item.as_ref().map_or(base, |item| item.version),
            item,
            history: None,
            executor: None,
            new_run: false,
            base,
        };
        // A warm orchestrator that committed the item's version has its history; a batch past
        // it would be found by the next commit, which is then refused and comes back here.
        if let Some(item) = &run.item {
            if item.carried_out == item.version {
                if let Some(events) = aws.history_cache.get(execution_id, item.version) {
                    run.history = Some(events);
                    return Ok(run);
                }
            }
        }
        let stored = store::load_history(aws, execution_id, run.item.as_ref(), base).await?;
        if stored.version > run.version {
            run.catch_up(&stored).await?;
        }
        if let Some(item) = run.item.clone() {
            if item.carried_out < item.version {
                // The last run committed and stopped before its commands were all out.
                debug!(
                    execution = execution_id,
                    version = item.version,
                    "carrying out the commands of a committed step again"
                );
                carry_out_step(
                    aws,
                    execution_id,
                    item.version,
                    &stored.events,
                    stored.commands,
                )
                .await?;
                if let Some(item) = &mut run.item {
                    item.carried_out = item.version;
                }
            }
        }
        aws.history_cache
            .put(execution_id, stored.version, &stored.events);
        run.history = Some(stored.events);
        Ok(run)
    }

    /// Brings the item up to the last committed batch: the run that committed it stopped
    /// before writing the item.
    async fn catch_up(&mut self, stored: &StoredHistory) -> Result<(), AwsError> {
        let Some(HistoryEventKind::WorkflowStarted { workflow, .. }) =
            stored.events.first().map(|event| &event.kind)
        else {
            return Err(AwsError::Invalid {
                what: "history",
                reason: format!(
                    "execution `{}`: its current run does not begin with WorkflowStarted",
                    self.execution_id
                ),
            });
        };
        debug!(
            execution = self.execution_id,
            version = stored.version,
            "the item follows a batch committed without it"
        );
        let outcome = stored.events.last().and_then(|event| event.kind.outcome());
        let attributes = attributes_set(&stored.events).collect();
        let mut item = self.next_item(
            workflow,
            stored.version,
            &stored.events,
            outcome,
            attributes,
        );
        if stored.new_run {
            // The batch holds the whole of its run.
            item.snapshot_key = None;
            item.snapshot_version = stored.version - 1;
            item.snapshot_bytes = 0;
        }
        item.tail_bytes = stored.tail_bytes;
        let expiry = self.expiry(&item);
        // If the batch ended the execution, the run that committed it wrote it with its expiry.
        self.publish(item, &stored.events, &expiry, stored.version - 1)
            .await
    }

    /// How what `item`'s commit writes expires: not at all while it runs.
    fn expiry(&self, item: &ExecutionItem) -> store::Expiry {
        if item.status.is_terminal() {
            retention::expiry(&self.aws.resources, &item.workflow, item.updated_at)
        } else {
            store::Expiry::default()
        }
    }

    /// The item at `version`, with `events` as the current run's history: the snapshot
    /// fields of the current item (the caller moves them when the history moves on).
    fn next_item(
        &self,
        workflow: &str,
        version: u64,
        events: &[HistoryEvent],
        outcome: Option<Outcome>,
        attributes: Vec<(String, String)>,
    ) -> ExecutionItem {
        let now = Timestamp::wall_clock();
        let (parent, correlation_id) = started(events);
        let current = self.item.as_ref();
        ExecutionItem {
            execution_id: self.execution_id.to_owned(),
            workflow: workflow.to_owned(),
            status: outcome
                .as_ref()
                .map(ExecutionStatus::of)
                .unwrap_or(ExecutionStatus::Running),
            version,
            history_len: events.len() as u64,
            snapshot_key: current.and_then(|item| item.snapshot_key.clone()),
            snapshot_version: current.map_or(self.base, |item| item.snapshot_version),
            snapshot_bytes: current.map_or(0, |item| item.snapshot_bytes),
            tail_bytes: current.map_or(0, |item| item.tail_bytes),
            carried_out: current.map_or(0, |item| item.carried_out),
            outcome,
            correlation_id,
            parent,
            created_at: current.map_or(now, |item| item.created_at),
            updated_at: now,
            error: None,
            attributes: ExecutionItem::attributes_after(
                self.execution_id,
                current
                    .map(|item| item.attributes.clone())
                    .unwrap_or_default(),
                attributes,
            ),
            expires_at: None,
        }
    }

    /// Writes `item` over the one this run read (conditionally on its version), first with a
    /// snapshot of `events` if the batches since the last one outweigh it, or if the outcome
    /// is too large for the item (its readers then find it at the snapshot's end).
    ///
    /// When `item` ends an execution whose workflow has a retention, it carries `expiry`, and
    /// so does what it leaves behind. S3 counts a lifecycle rule's days from an object's
    /// creation, so an ended execution's history is a snapshot written at its end with the
    /// retention tag (a snapshot written earlier, tagged then, could expire before the
    /// execution), plus the ending step's batch, written with its expiry by the commit. The
    /// earlier batches, through `unexpired`, get the items' expiry (see
    /// [`store::expire_batches`]). A snapshot a newer one replaces, or one whose item commit
    /// was refused, is tagged superseded.
    async fn publish(
        &mut self,
        mut item: ExecutionItem,
        events: &[HistoryEvent],
        expiry: &store::Expiry,
        unexpired: u64,
    ) -> Result<(), AwsError> {
        item.expires_at = expiry.expires_at;
        let outcome_outside = item
            .outcome
            .as_ref()
            .is_some_and(|outcome| !ExecutionItem::holds_inline(outcome));
        let snapshot_due = item.tail_bytes
            >= store::SNAPSHOT_MIN_TAIL.max(store::SNAPSHOT_RATIO * item.snapshot_bytes);
        let ending = expiry.tagging.is_some() && item.snapshot_version < item.version;
        if outcome_outside || snapshot_due || ending {
            let (key, bytes) = store::put_snapshot(
                self.aws,
                self.execution_id,
                item.version,
                events,
                expiry.tagging.as_deref(),
            )
            .await?;
            item.snapshot_key = Some(key);
            item.snapshot_version = item.version;
            item.snapshot_bytes = bytes;
            item.tail_bytes = 0;
        }
        let previous_snapshot = self
            .item
            .as_ref()
            .and_then(|previous| previous.snapshot_key.clone());
        let written = (item.snapshot_key != previous_snapshot)
            .then(|| item.snapshot_key.clone())
            .flatten();
        if let Err(error) = store::commit_item(self.aws, &item, self.item.as_ref()).await {
            if let (AwsError::Conflict(_), Some(written)) = (&error, &written) {
                // Nobody will point at this run's snapshot.
                store::mark_superseded(self.aws, written).await;
            }
            return Err(error);
        }
        if let (Some(_), Some(replaced)) = (&written, &previous_snapshot) {
            store::mark_superseded(self.aws, replaced).await;
        }
        if let Some(expires_at) = expiry.expires_at {
            store::expire_batches(self.aws, self.execution_id, unexpired, expires_at).await;
        }
        self.version = item.version;
        self.item = Some(item);
        Ok(())
    }

    /// Commits a step: its batch at the next version (refused if another run committed that
    /// version), then the item; then carries out its commands.
    ///
    /// `attributes` are the searchable attributes the step set, in order, from every run it
    /// went through.
    async fn commit(
        &mut self,
        workflow: &str,
        output: StepOutput,
        attributes: Vec<(String, String)>,
    ) -> Result<(), AwsError> {
        let version = self.version + 1;
        let new_run = std::mem::take(&mut self.new_run);
        let ended = output
            .outcome
            .as_ref()
            .is_some_and(|outcome| ExecutionStatus::of(outcome).is_terminal());
        let expiry = if ended {
            retention::expiry(&self.aws.resources, workflow, Timestamp::wall_clock())
        } else {
            store::Expiry::default()
        };
        let batch = StoredBatch::new(new_run, output.new_events, output.commands);
        let committed =
            store::commit_batch(self.aws, self.execution_id, version, &batch, &expiry).await;
        let size = match committed {
            Ok(size) => size,
            Err(error) => {
                self.aws.history_cache.forget(self.execution_id);
                return Err(error);
            }
        };
        if Faults::take(&self.aws.faults.crash_after_history_put) {
            return Err(AwsError::Crashed("after the history batch was committed"));
        }
        let StoredBatch {
            events, commands, ..
        } = batch;
        let mut history = self.history.take().unwrap_or_default();
        history.extend(events);
        let mut item = self.next_item(workflow, version, &history, output.outcome, attributes);
        if new_run {
            item.snapshot_key = None;
            item.snapshot_version = version - 1;
            item.snapshot_bytes = 0;
            item.tail_bytes = 0;
        }
        item.tail_bytes += size;
        self.publish(item, &history, &expiry, version - 1).await?;
        self.aws
            .history_cache
            .put(self.execution_id, version, &history);
        if Faults::take(&self.aws.faults.crash_after_commit) {
            return Err(AwsError::Crashed("after the history commit"));
        }
        carry_out_step(self.aws, self.execution_id, version, &history, commands).await?;
        if let Some(item) = &mut self.item {
            item.carried_out = version;
        }
        self.history = Some(history);
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
            self.new_run = true;
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
