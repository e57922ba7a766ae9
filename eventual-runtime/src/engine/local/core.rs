//! The engine's core: one thread that owns every live execution, steps them, collects the
//! writes of each round into a batch for the writer, and acts on the outside world only once
//! the batch that justifies an action has committed.
//!
//! What waits for the commit: replies to callers, handler deliveries (the outbox), the end of
//! an execution reported to watchers, and, in [`Durability::Strict`] (the default), task
//! attempts. In [`Durability::Speculative`] an attempt may start while the step that
//! scheduled it is still being committed; after a crash such an attempt runs again under the
//! same number, and if its step was lost, its side effects are recorded nowhere.

use super::metrics::LocalMetrics;
use super::store::{DeliveryRow, Recovered, TaskRow, WriteOp};
use super::worker::Workers;
use super::writer::{Batch, BatchSender};
use crate::engine::api::Started;
use crate::engine::client::{Effect, StartExecution};
use crate::engine::kernel::attempt::{self, Attempt, AttemptKey};
use crate::engine::kernel::delivery::{settle, DeadLetter, DeliveryHost, EffectHost};
use crate::engine::kernel::entity::{entity_origin, Append, OrderedDeliveries};
use crate::engine::kernel::retention::Retention;
use crate::engine::kernel::signal::outside_signal;
use crate::engine::kernel::start::{decide_start, fresh_execution_id};
use crate::engine::kernel::step::{
    carry_out, child_start_failure, step_execution, ChildStart, Host, TimerKey,
};
use crate::engine::kernel::update::{self, UpdateStatus};
use crate::engine::router::Router;
use crate::engine::{Durability, ExecutionStatus, ServiceError};
use crate::error::Failure;
use crate::event::{EventEnvelope, OutgoingEvent};
use crate::registry::{self, HandlerFailure, WorkflowDescriptor};
use crate::task::runner::AttemptEnd;
use crate::task::{CompletionToken, TokenSigner};
use crate::time::Timestamp;
use crate::workflow::command::{InboxEvent, Outcome};
use crate::workflow::history::{HistoryEvent, ParentRef, RunLink};
use crate::workflow::replay::{StartRequest, WorkflowExecutor};
use serde_json::Value;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tracing::{debug, info_span, warn};

mod schedules;

pub(crate) use schedules::ScheduleRequest;

pub(crate) type Reply<T> = oneshot::Sender<Result<T, ServiceError>>;

/// What the core is asked to do.
pub(crate) enum CoreMsg {
    Start(StartExecution, Reply<Started>),
    /// An event from outside for a running execution: a signal, a cancel, a terminate.
    Inbox {
        execution_id: String,
        event: InboxEvent,
        reply: Reply<()>,
    },
    /// An update for a running execution: delivered like a signal; the reply comes once the
    /// workflow's verdict is on disk, or says `Pending` when `wait` has passed first (or
    /// that the execution ended without taking the update).
    Update {
        execution_id: String,
        update_id: String,
        event: InboxEvent,
        wait: Duration,
        reply: Reply<UpdateStatus>,
    },
    Publish(Vec<OutgoingEvent>, Option<String>, Reply<Vec<String>>),
    CompleteTask(CompletionToken, Result<Value, Failure>, Reply<bool>),
    Redrive(Vec<DeadLetter>, Reply<usize>),
    /// Reply with the outcome once the execution has ended (at once if it has).
    Watch(String, Reply<Outcome>),
    AttemptDone(AttemptKey, AttemptEnd),
    DeliveryDone(Box<DeliveryDone>),
    Committed(u64),
    /// A commit failed for a passing reason (a full disk); the writer retries it.
    CommitStalled(String),
    CommitFailed(String),
    /// Create, list, pause, resume or delete a schedule.
    Schedule(ScheduleRequest),
    /// Append an entity command's events with their outbox, if the entity is still at the
    /// expected version; `Err(current)` otherwise.
    EntityAppend(Box<Append>, Reply<Result<(), u64>>),
    Shutdown,
}

/// A handler delivery that ended, with the effects its handler asked for.
pub(crate) struct DeliveryDone {
    pub(crate) row: DeliveryRow,
    pub(crate) result: Result<(), HandlerFailure>,
    pub(crate) effects: Vec<Effect>,
}

enum AfterCommit {
    /// Answers a caller: with its value once the commit lands, or with the error that kept
    /// the commit from landing.
    Reply(Box<dyn FnOnce(Option<ServiceError>) + Send>),
    /// A retry of a delivery that is already the head of its order.
    Deliver(DeliveryRow),
    /// A first delivery: events of one entity reach a subscription in version order.
    DeliverOrdered(DeliveryRow),
    Ended(String, Outcome),
    /// The workflow's verdict on an update (execution, update id) is on disk.
    UpdateDecided(String, String, UpdateStatus),
    /// Strict durability: the attempt starts once its step is on disk.
    StartAttempt(TaskRow),
    /// A reply already given (a refusal while commits failed).
    Answered,
}

/// Boxed payloads keep the timer heap's entries small: an engine holds one per pending timer.
enum TimerJob {
    Inbox(Box<InboxTimer>),
    StartAttempt(Box<TaskRow>),
    AttemptTimeout(AttemptKey),
    Delivery(Box<DeliveryRow>),
    /// Retention: delete what ended long enough ago, then come again.
    Sweep,
    /// The wait of update watcher `number` on (execution, update id) is over.
    UpdateWaitOver {
        key: UpdateKey,
        number: u64,
    },
    /// Firing `at` of a schedule; stale once the schedule was paused, resumed or deleted.
    Schedule {
        name: String,
        at: Timestamp,
    },
}

/// An inbox event due at a time (a timer firing, a retry's backoff): for `execution_id`, kept
/// in the database's inbox under `key` until it is delivered.
struct InboxTimer {
    execution_id: String,
    key: String,
    event: InboxEvent,
}

struct TimerEntry {
    at: Timestamp,
    order: u64,
    job: TimerJob,
}

impl PartialEq for TimerEntry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}
impl Eq for TimerEntry {}
impl PartialOrd for TimerEntry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for TimerEntry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

struct Live {
    workflow: &'static WorkflowDescriptor,
    /// The replayed workflow, while resident; an evicted execution is replayed from its
    /// committed history when an event arrives. Boxed: most executions of a busy engine are
    /// evicted, and an empty slot should cost a pointer, not an executor's size.
    executor: Option<Box<WorkflowExecutor>>,
    history_len: usize,
    status: ExecutionStatus,
    // Boxed, like the executor: the engine keeps one `Live` per running execution, resident
    // or not.
    correlation_id: Box<str>,
    parent: Option<Box<ParentRef>>,
    /// The batch that carries its latest writes: it may be evicted once that one committed.
    last_batch: u64,
    /// Its executor was dropped to save memory (not because it ended).
    evicted: bool,
    /// When it last stepped, to match its entry in the eviction queue.
    touched: u64,
}

/// An update of an execution: (execution id, update id).
type UpdateKey = (String, String);

/// A caller waiting for an update's verdict: its number (to end its wait) and its reply.
type UpdateWatcher = (u64, Reply<UpdateStatus>);

struct OpenAttempt {
    row: Attempt,
}

pub(crate) struct Core {
    executions: HashMap<String, Live>,
    /// Ended executions' workflows and outcomes, for watchers, signals and starts that
    /// arrive late; bounded.
    ended: HashMap<String, (&'static str, Outcome)>,
    ended_order: VecDeque<String>,
    timers: BinaryHeap<Reverse<TimerEntry>>,
    timer_order: u64,
    router: Router,
    signer: TokenSigner,
    ops: Vec<WriteOp>,
    after: Vec<AfterCommit>,
    next_batch: u64,
    in_flight: VecDeque<(u64, Vec<AfterCommit>)>,
    writer: BatchSender,
    workers: Workers,
    open_attempts: HashMap<AttemptKey, OpenAttempt>,
    watchers: HashMap<String, Vec<Reply<Outcome>>>,
    /// Callers waiting for the verdict on an update, by execution and update id.
    update_watchers: HashMap<UpdateKey, Vec<UpdateWatcher>>,
    next_id: u64,
    id_prefix: String,
    /// Committed state, for executions no longer in memory (ended before a restart, or
    /// evicted from `ended`).
    reader: rusqlite::Connection,
    /// When the writes of the current round began.
    round_started: Option<std::time::Instant>,
    durability: Durability,
    /// Why commits are failing, while they are: what needs a commit is refused meanwhile.
    stalled: Option<String>,
    retention: Retention,
    /// Executions with a resident executor, least recently stepped first, with the `touched`
    /// of that step (stale entries are skipped).
    resident: VecDeque<(String, u64)>,
    resident_count: usize,
    max_resident: usize,
    touches: u64,
    committed_batch: u64,
    /// Every schedule, as committed plus this round's changes.
    schedules: std::collections::BTreeMap<String, crate::schedule::ScheduleInfo>,
    metrics: Arc<LocalMetrics>,
    /// Each entity's version, as committed plus this round's appends (the core is the only
    /// writer, so this is the truth); entities not here are read from the database.
    entity_versions: HashMap<(String, String), u64>,
    ordered: OrderedDeliveries,
}

/// Resident executors kept at most by default: beyond, idle executions are evicted and replayed
/// from their history when they next step.
/// An idle executor costs about 2.6 KiB, replaying a short history from disk some tens of
/// microseconds: 2,000 keeps every execution of a busy engine's working set resident while
/// 100,000 idle ones fit in 64 MiB (`bench_idle`).
pub(crate) const MAX_RESIDENT: usize = 2_000;

/// How long a round's commit may wait for attempts that are still running, so that a short
/// execution (start, its tasks, its end) commits once instead of once per step.
const COMMIT_WINDOW: Duration = Duration::from_millis(1);

/// Ended executions whose outcome the core keeps in memory for late callers.
const ENDED_KEPT: usize = 10_000;

/// Entity versions the core keeps in memory at most, beyond which it forgets them once
/// nothing is in flight.
const ENTITY_VERSIONS_KEPT: usize = 100_000;

fn now() -> Timestamp {
    Timestamp::wall_clock()
}

fn unavailable_message(reason: &str) -> String {
    format!(
        "the engine cannot write to its database ({reason}); it retries and resumes by itself, \
         and nothing it acknowledged is lost: try again later"
    )
}

impl Core {
    pub(crate) fn new(
        router: Router,
        signer: TokenSigner,
        writer: BatchSender,
        workers: Workers,
        reader: rusqlite::Connection,
        durability: Durability,
    ) -> Self {
        Core {
            executions: HashMap::new(),
            ended: HashMap::new(),
            ended_order: VecDeque::new(),
            timers: BinaryHeap::new(),
            timer_order: 0,
            router,
            signer,
            ops: Vec::new(),
            after: Vec::new(),
            next_batch: 0,
            in_flight: VecDeque::new(),
            writer,
            workers,
            open_attempts: HashMap::new(),
            watchers: HashMap::new(),
            update_watchers: HashMap::new(),
            next_id: 0,
            id_prefix: format!("{:x}", now().as_millis()),
            reader,
            round_started: None,
            durability,
            stalled: None,
            retention: Retention::default(),
            resident: VecDeque::new(),
            resident_count: 0,
            max_resident: MAX_RESIDENT,
            touches: 0,
            committed_batch: 0,
            schedules: std::collections::BTreeMap::new(),
            metrics: Arc::default(),
            entity_versions: HashMap::new(),
            ordered: OrderedDeliveries::default(),
        }
    }

    /// Records into `metrics` (shared with the writer and the HTTP API).
    pub(crate) fn with_metrics(mut self, metrics: Arc<LocalMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Keeps at most `max` executors in memory.
    pub(crate) fn with_max_resident(mut self, max: usize) -> Self {
        self.max_resident = max;
        self
    }

    /// Keeps ended executions for `default` unless their workflow says otherwise; sweeps
    /// start with the engine.
    pub(crate) fn with_retention(mut self, default: Option<Duration>) -> Self {
        self.retention = Retention::new(default);
        if let Some(every) = self.retention.sweep_every() {
            self.push_timer(now() + every, TimerJob::Sweep);
        }
        self
    }

    /// Picks up a database after a restart: replays live executions and reschedules all
    /// committed, unfinished work.
    pub(crate) fn recover(&mut self, recovered: Recovered) {
        let now = now();
        for (row, history) in recovered.executions {
            let Some(workflow) = registry::workflow(&row.workflow) else {
                warn!(execution = %row.id, workflow = %row.workflow, "workflow no longer registered; execution stays blocked");
                continue;
            };
            let (mut executor, status) = match WorkflowExecutor::replay(workflow, &history) {
                Ok(executor) => (Some(Box::new(executor)), ExecutionStatus::Running),
                Err(error) => {
                    warn!(execution = %row.id, %error, "replay failed; execution blocked");
                    self.ops.push(WriteOp::SetStatus {
                        execution_id: row.id.clone(),
                        status: ExecutionStatus::Blocked,
                        outcome: None,
                        error: Some(error.to_string()),
                        at: now,
                    });
                    (None, ExecutionStatus::Blocked)
                }
            };
            if row.status == ExecutionStatus::Blocked && status == ExecutionStatus::Running {
                self.ops.push(WriteOp::SetStatus {
                    execution_id: row.id.clone(),
                    status,
                    outcome: None,
                    error: None,
                    at: now,
                });
            }
            // Every history is replayed, to block at once those this code cannot run; only the
            // first `max_resident` executors stay in memory.
            let evicted = executor.is_some() && self.resident_count >= self.max_resident;
            if evicted {
                executor = None;
            } else if executor.is_some() {
                self.resident.push_back((row.id.clone(), 0));
            }
            self.count_resident(false, executor.is_some());
            self.executions.insert(
                row.id.clone(),
                Live {
                    workflow,
                    executor,
                    history_len: history.len(),
                    status,
                    correlation_id: row.correlation_id.into(),
                    parent: row.parent.map(Box::new),
                    last_batch: 0,
                    touched: 0,
                    evicted,
                },
            );
        }
        for task in recovered.tasks {
            self.start_or_defer_attempt(task);
        }
        for (execution_id, key, at, event) in recovered.timers {
            self.push_timer(
                at,
                TimerJob::Inbox(Box::new(InboxTimer {
                    execution_id,
                    key,
                    event,
                })),
            );
        }
        let mut unblocked = Vec::new();
        for (execution_id, event) in recovered.inbox {
            if self.status(&execution_id) == Some(ExecutionStatus::Running) {
                if !unblocked.contains(&execution_id) {
                    self.ops.push(WriteOp::DeleteInboxOf {
                        execution_id: execution_id.clone(),
                    });
                    unblocked.push(execution_id.clone());
                }
                self.deliver_inbox(&execution_id, event);
            }
        }
        let mut deliveries = recovered.deliveries;
        deliveries.sort_by_key(|row| entity_origin(&row.event).map(|origin| origin.version));
        for row in deliveries {
            if let Some(row) = self.ordered.enqueue(row) {
                self.push_timer(row.due_at, TimerJob::Delivery(Box::new(row)));
            }
        }
        // After the executions: a catch-up firing's overlap check needs to know what runs.
        self.recover_schedules(recovered.schedules, now);
    }

    fn status(&self, execution_id: &str) -> Option<ExecutionStatus> {
        self.executions.get(execution_id).map(|live| live.status)
    }

    /// An execution that is not live here, as committed: ended before a restart, evicted from
    /// `ended`, or kept blocked because its workflow is no longer registered.
    fn stored(&self, execution_id: &str) -> Option<crate::engine::api::ExecutionRow> {
        super::store::execution(&self.reader, execution_id).unwrap_or_else(|error| {
            warn!(%error, execution = execution_id, "cannot read an execution");
            None
        })
    }

    /// The core's loop: handle what arrived, fire due timers, hand the round's writes to the
    /// writer; until shutdown.
    pub(crate) fn run(mut self, inbox: Receiver<CoreMsg>) {
        'rounds: loop {
            let mut wait = self
                .timers
                .peek()
                .map(|Reverse(entry)| entry.at.duration_since(now()))
                .unwrap_or(Duration::from_secs(1))
                .min(Duration::from_secs(1));
            if let Some(started) = self.round_started {
                wait = wait.min(COMMIT_WINDOW.saturating_sub(started.elapsed()));
            }
            match inbox.recv_timeout(wait) {
                Ok(CoreMsg::Shutdown) => break,
                Ok(message) => self.handle(message),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            for message in inbox.try_iter().take(8_192) {
                if matches!(message, CoreMsg::Shutdown) {
                    break 'rounds;
                }
                self.handle(message);
            }
            self.fire_due_timers();
            self.flush();
        }
        self.flush_before_shutdown();
    }

    /// Hands the writes gathered since the last flush to the writer, which commits them
    /// before it stops (closing the engine joins it). Without this, what the round decided
    /// (a recovery's schedule bookkeeping, say) would be decided again at the next open.
    /// Nobody is answered: the callers waiting hear that the engine stopped.
    fn flush_before_shutdown(&mut self) {
        if self.ops.is_empty() {
            return;
        }
        self.next_batch += 1;
        let ops = std::mem::take(&mut self.ops);
        let _ = self.writer.send(Batch {
            number: self.next_batch,
            ops,
        });
    }

    /// Sends the round's writes to the writer unless a commit is under way: what arrives
    /// meanwhile joins the next commit (group commit).
    fn flush(&mut self) {
        if self.ops.is_empty() && self.after.is_empty() {
            return;
        }
        let started = *self
            .round_started
            .get_or_insert_with(std::time::Instant::now);
        let attempts_running = !self.open_attempts.is_empty();
        if !self.in_flight.is_empty() || (attempts_running && started.elapsed() < COMMIT_WINDOW) {
            return;
        }
        self.round_started = None;
        self.next_batch += 1;
        let number = self.next_batch;
        let ops = std::mem::take(&mut self.ops);
        self.in_flight
            .push_back((number, std::mem::take(&mut self.after)));
        if self.writer.send(Batch { number, ops }).is_err() {
            warn!("the writer has stopped; nothing more can be committed");
        }
    }

    fn handle(&mut self, message: CoreMsg) {
        let Some(message) = self.refuse_while_stalled(message) else {
            return;
        };
        match message {
            CoreMsg::Start(request, reply) => match self.start_execution(request, None) {
                Ok(started) => self.reply_after_commit(reply, Ok(started)),
                Err(error) => drop(reply.send(Err(error))),
            },
            CoreMsg::Inbox {
                execution_id,
                event,
                reply,
            } => {
                let event = match event {
                    InboxEvent::Signal { name, payload, id } => {
                        outside_signal(&name, payload, id, || self.fresh_id("s"))
                    }
                    other => other,
                };
                let result = self.accept_for(&execution_id, event);
                self.reply_after_commit(reply, result);
            }
            CoreMsg::Update {
                execution_id,
                update_id,
                event,
                wait,
                reply,
            } => {
                let key = (execution_id.clone(), update_id);
                match self.accept_for(&execution_id, event) {
                    Ok(()) => {
                        let number = self.timer_order;
                        let watchers = self.update_watchers.entry(key.clone()).or_default();
                        watchers.push((number, reply));
                        self.push_timer(now() + wait, TimerJob::UpdateWaitOver { key, number });
                    }
                    Err(error) => drop(reply.send(Err(error))),
                }
            }
            CoreMsg::Publish(events, correlation_id, reply) => {
                let now = now();
                let envelopes: Vec<EventEnvelope> = events
                    .into_iter()
                    .map(|event| {
                        let id = self.fresh_id("evt");
                        EventEnvelope::outgoing(id, event, now, correlation_id.clone())
                    })
                    .collect();
                let ids = envelopes.iter().map(|e| e.id.clone()).collect();
                self.publish(envelopes);
                self.reply_after_commit(reply, Ok(ids));
            }
            CoreMsg::CompleteTask(token, result, reply) => match self.signer.verify(&token) {
                Ok(claims) => {
                    let key = (claims.execution_id, claims.seq, claims.attempt);
                    let accepted = self.open_attempts.contains_key(&key);
                    if accepted {
                        self.attempt_done(key, AttemptEnd::Finished(result));
                    }
                    self.reply_after_commit(reply, Ok(accepted));
                }
                Err(error) => drop(reply.send(Err(ServiceError::InvalidToken(error.to_string())))),
            },
            CoreMsg::Redrive(entries, reply) => {
                let count = entries.len();
                let now = now();
                for entry in entries {
                    self.ops.push(WriteOp::DeleteDeadLetter { id: entry.id });
                    let row = DeliveryRow::first(&entry.subscription, entry.event, now);
                    self.ops.push(WriteOp::UpsertDelivery(row.clone()));
                    self.after.push(AfterCommit::DeliverOrdered(row));
                }
                self.reply_after_commit(reply, Ok(count));
            }
            CoreMsg::Watch(execution_id, reply) => {
                if let Some((_, outcome)) = self.ended.get(&execution_id).cloned() {
                    // The end may still be on its way to disk: answer after the next commit.
                    self.reply_after_commit(reply, Ok(outcome));
                } else if self.executions.contains_key(&execution_id) {
                    self.watchers.entry(execution_id).or_default().push(reply);
                } else if let Some(outcome) = self.stored(&execution_id).and_then(|row| row.outcome)
                {
                    let _ = reply.send(Ok(outcome));
                } else {
                    let _ = reply.send(Err(ServiceError::NotFound(execution_id)));
                }
            }
            CoreMsg::AttemptDone(key, result) => self.attempt_done(key, result),
            CoreMsg::DeliveryDone(done) => {
                let DeliveryDone {
                    row,
                    result,
                    effects,
                } = *done;
                self.delivery_done(row, result, effects)
            }
            CoreMsg::Committed(number) => self.committed(number),
            CoreMsg::CommitStalled(error) => self.stall(error),
            CoreMsg::CommitFailed(error) => {
                tracing::error!(%error, "commit failed; stopping the engine so nothing uncommitted is acknowledged");
                std::process::exit(70);
            }
            CoreMsg::Schedule(request) => self.handle_schedule_request(request),
            CoreMsg::EntityAppend(append, reply) => self.append_entity(*append, reply),
            CoreMsg::Shutdown => {}
        }
    }

    /// While commits fail, a request that needs one is refused at once with a 503 that says
    /// why, and writes nothing; everything else goes on (and commits once the writer can).
    fn refuse_while_stalled(&mut self, message: CoreMsg) -> Option<CoreMsg> {
        let Some(reason) = &self.stalled else {
            return Some(message);
        };
        let refusal = || ServiceError::Unavailable(unavailable_message(reason));
        match message {
            CoreMsg::Start(_, reply) => drop(reply.send(Err(refusal()))),
            CoreMsg::Inbox { reply, .. } => drop(reply.send(Err(refusal()))),
            CoreMsg::Update { reply, .. } => drop(reply.send(Err(refusal()))),
            CoreMsg::Publish(_, _, reply) => drop(reply.send(Err(refusal()))),
            CoreMsg::CompleteTask(_, _, reply) => drop(reply.send(Err(refusal()))),
            CoreMsg::Redrive(_, reply) => drop(reply.send(Err(refusal()))),
            CoreMsg::EntityAppend(_, reply) => drop(reply.send(Err(refusal()))),
            CoreMsg::Schedule(request) => {
                return request.refuse_write(refusal).map(CoreMsg::Schedule)
            }
            other => return Some(other),
        }
        None
    }

    /// A commit failed for a passing reason: the callers waiting on it hear a 503 now (their
    /// writes may still land when the writer's retry does, as after a timeout); the other
    /// actions wait for that commit.
    fn stall(&mut self, error: String) {
        if self.stalled.is_none() {
            warn!(%error, "commits are failing; refusing writes until they land again");
        }
        let refusal = ServiceError::Unavailable(unavailable_message(&error));
        self.stalled = Some(error);
        let waiting = self
            .in_flight
            .iter_mut()
            .flat_map(|(_, actions)| actions.iter_mut())
            .chain(self.after.iter_mut());
        for action in waiting {
            if matches!(action, AfterCommit::Reply(_)) {
                let answered = std::mem::replace(action, AfterCommit::Answered);
                if let AfterCommit::Reply(send) = answered {
                    send(Some(refusal.clone()));
                }
            }
        }
    }

    fn committed(&mut self, number: u64) {
        if self.stalled.take().is_some() {
            tracing::info!("commits land again; accepting writes");
        }
        self.committed_batch = number;
        self.evict();
        // With nothing in flight, every version is in the database: the cache may go.
        if self.entity_versions.len() > ENTITY_VERSIONS_KEPT
            && self
                .in_flight
                .back()
                .is_none_or(|(batch, _)| *batch <= number)
            && self.ops.is_empty()
        {
            self.entity_versions.clear();
        }
        while let Some((batch, _)) = self.in_flight.front() {
            if *batch > number {
                break;
            }
            let Some((_, actions)) = self.in_flight.pop_front() else {
                break;
            };
            for action in actions {
                match action {
                    AfterCommit::Reply(send) => send(None),
                    AfterCommit::Answered => {}
                    AfterCommit::Deliver(row) => self.workers.deliver(row),
                    AfterCommit::DeliverOrdered(row) => {
                        if let Some(row) = self.ordered.enqueue(row) {
                            self.workers.deliver(row);
                        }
                    }
                    AfterCommit::StartAttempt(row) => self.dispatch_attempt(row),
                    AfterCommit::Ended(execution_id, outcome) => {
                        for watcher in self.watchers.remove(&execution_id).unwrap_or_default() {
                            let _ = watcher.send(Ok(outcome.clone()));
                        }
                        // Every update the execution received got its verdict before its end:
                        // who still waits sent one that arrived too late.
                        let ended = ServiceError::Ended(execution_id.clone());
                        self.update_watchers.retain(|(execution, _), watchers| {
                            if *execution != execution_id {
                                return true;
                            }
                            for (_, watcher) in watchers.drain(..) {
                                let _ = watcher.send(Err(ended.clone()));
                            }
                            false
                        });
                    }
                    AfterCommit::UpdateDecided(execution_id, update_id, status) => {
                        let key = (execution_id, update_id);
                        for (_, watcher) in self.update_watchers.remove(&key).unwrap_or_default() {
                            let _ = watcher.send(Ok(status.clone()));
                        }
                    }
                }
            }
        }
    }

    fn reply_after_commit<T: Send + 'static>(
        &mut self,
        reply: Reply<T>,
        result: Result<T, ServiceError>,
    ) {
        match result {
            Ok(value) => self.after.push(AfterCommit::Reply(Box::new(move |failure| {
                let _ = reply.send(match failure {
                    None => Ok(value),
                    Some(error) => Err(error),
                });
            }))),
            // A refusal wrote nothing: it can be said at once.
            Err(error) => {
                let _ = reply.send(Err(error));
            }
        }
    }

    fn accept_for(&mut self, execution_id: &str, event: InboxEvent) -> Result<(), ServiceError> {
        match self.status(execution_id) {
            Some(_) => {
                self.deliver_inbox(execution_id, event);
                Ok(())
            }
            None if self.ended.contains_key(execution_id)
                || self
                    .stored(execution_id)
                    .is_some_and(|row| row.status.is_terminal()) =>
            {
                Err(ServiceError::Ended(execution_id.to_owned()))
            }
            None => Err(ServiceError::NotFound(execution_id.to_owned())),
        }
    }

    /// The workflow of the execution that holds `execution_id`, if any. A named execution
    /// may exist only on disk (it ended before a restart): starting it again would append a
    /// second history to it, which the commit refuses (fail-stop). Fresh ids carry this
    /// process's prefix, so only named starts need the disk.
    fn holder(&self, execution_id: &str, named: bool) -> Option<String> {
        if let Some(live) = self.executions.get(execution_id) {
            return Some(live.workflow.name.to_owned());
        }
        if let Some((workflow, _)) = self.ended.get(execution_id) {
            return Some((*workflow).to_owned());
        }
        named
            .then(|| self.stored(execution_id))
            .flatten()
            .map(|row| row.workflow)
    }

    /// Unique across restarts: this process's prefix (its start time) and a counter.
    fn unique(&mut self) -> String {
        self.next_id += 1;
        format!("{}-{}", self.id_prefix, self.next_id)
    }

    fn fresh_id(&mut self, prefix: &str) -> String {
        format!("{prefix}-{}", self.unique())
    }

    fn start_execution(
        &mut self,
        request: StartExecution,
        parent: Option<ParentRef>,
    ) -> Result<Started, ServiceError> {
        let workflow = registry::workflow(&request.workflow)
            .ok_or_else(|| ServiceError::UnknownWorkflow(request.workflow.clone()))?;
        let (execution_id, named) = match request.execution_name {
            Some(name) => (name, true),
            None => {
                let unique = self.unique();
                (fresh_execution_id(workflow.name, &unique), false)
            }
        };
        let holder = self.holder(&execution_id, named);
        if let Some(existing) =
            decide_start(workflow.name, holder.as_deref()).answer(execution_id.clone())?
        {
            return Ok(existing);
        }
        let now = now();
        let start = StartRequest {
            execution_id: execution_id.clone(),
            input: request.input,
            correlation_id: request.correlation_id,
            parent: parent.clone(),
            ..StartRequest::new(execution_id.clone(), Value::Null)
        };
        let stepping = Instant::now();
        let (executor, output) = WorkflowExecutor::start(workflow, start, now)
            .map_err(|error| ServiceError::InvalidInput(error.to_string()))?;
        self.metrics.step(stepping.elapsed());
        self.metrics.execution_started(workflow.name);
        let correlation_id = executor.context().correlation_id();
        self.ops.push(WriteOp::InsertExecution {
            id: execution_id.clone(),
            workflow: workflow.name.to_owned(),
            correlation_id: correlation_id.clone(),
            parent: parent.clone(),
            at: now,
        });
        self.count_resident(false, true);
        self.executions.insert(
            execution_id.clone(),
            Live {
                workflow,
                executor: Some(Box::new(executor)),
                history_len: 0,
                status: ExecutionStatus::Running,
                correlation_id: correlation_id.into(),
                parent: parent.map(Box::new),
                last_batch: 0,
                touched: 0,
                evicted: false,
            },
        );
        self.record_step(&execution_id, output.new_events, output.commands);
        Ok(Started {
            execution_id,
            created: true,
        })
    }

    /// Steps an execution with one inbox event. A blocked execution keeps the event in the
    /// database until its code is fixed and the engine restarts.
    fn deliver_inbox(&mut self, execution_id: &str, event: InboxEvent) {
        let Some(live) = self.executions.get_mut(execution_id) else {
            debug!(
                execution = execution_id,
                ?event,
                "event for an ended or unknown execution dropped"
            );
            return;
        };
        if live.status == ExecutionStatus::Blocked {
            self.ops.push(WriteOp::InsertInbox {
                execution_id: execution_id.to_owned(),
                event,
            });
            return;
        }
        if live.executor.is_none() && !live.evicted {
            // Its last step ended it; the end is being carried out (a child's result, say,
            // arrives while the parent closes).
            debug!(
                execution = execution_id,
                ?event,
                "event for an ending execution dropped"
            );
            return;
        }
        live.evicted = false;
        let span = info_span!("step", execution = execution_id, correlation = %live.correlation_id);
        let _entered = span.enter();
        let kept = event.clone();
        let reader = &self.reader;
        let was_resident = live.executor.is_some();
        let stepping = Instant::now();
        let stepped = step_execution(
            &mut live.executor,
            live.workflow,
            // An evicted execution's writes had all committed: its history on disk is whole.
            || {
                super::store::history(reader, execution_id).unwrap_or_else(|error| {
                    warn!(%error, "cannot read the history of an evicted execution");
                    Vec::new()
                })
            },
            now(),
            vec![event],
        );
        let is_resident = live.executor.is_some();
        self.metrics.step(stepping.elapsed());
        match stepped {
            Ok(output) => self.record_step(execution_id, output.new_events, output.commands),
            Err(error) => {
                self.block(execution_id, error.to_string());
                self.ops.push(WriteOp::InsertInbox {
                    execution_id: execution_id.to_owned(),
                    event: kept,
                });
            }
        }
        self.count_resident(was_resident, is_resident);
    }

    fn count_resident(&mut self, before: bool, after: bool) {
        match (before, after) {
            (false, true) => self.resident_count += 1,
            (true, false) => self.resident_count = self.resident_count.saturating_sub(1),
            _ => {}
        }
    }

    /// Drops the executors of the least recently stepped executions beyond the cap, as long as
    /// their writes have all committed (so that their history on disk is whole).
    fn evict(&mut self) {
        while self.resident_count > self.max_resident {
            let Some((execution_id, touched)) = self.resident.front().cloned() else {
                return;
            };
            let Some(live) = self.executions.get_mut(&execution_id) else {
                self.resident.pop_front();
                continue;
            };
            if live.touched != touched || live.executor.is_none() {
                // A later step queued it again, or it is already out.
                self.resident.pop_front();
                continue;
            }
            if live.last_batch > self.committed_batch {
                // Its last step is still on its way to disk: try again after the next commit.
                return;
            }
            self.resident.pop_front();
            live.executor = None;
            live.evicted = true;
            self.resident_count -= 1;
        }
    }

    /// Marks a live execution blocked by `error` (its code and history disagree, or its next
    /// run cannot start): it takes no more steps until the code is fixed and the engine
    /// restarts.
    fn block(&mut self, execution_id: &str, error: String) {
        warn!(execution = execution_id, %error, "execution blocked");
        if let Some(live) = self.executions.get_mut(execution_id) {
            live.status = ExecutionStatus::Blocked;
            live.executor = None;
        }
        self.ops.push(WriteOp::SetStatus {
            execution_id: execution_id.to_owned(),
            status: ExecutionStatus::Blocked,
            outcome: None,
            error: Some(error),
            at: now(),
        });
    }

    fn record_step(
        &mut self,
        execution_id: &str,
        events: Vec<HistoryEvent>,
        commands: Vec<crate::workflow::Command>,
    ) {
        let Some(live) = self.executions.get_mut(execution_id) else {
            return;
        };
        self.touches += 1;
        live.touched = self.touches;
        live.last_batch = self.next_batch + 1;
        if live.executor.is_some() {
            self.resident
                .push_back((execution_id.to_owned(), self.touches));
        }
        let first_index = live.history_len;
        live.history_len += events.len();
        for (update_id, status) in update::verdicts(&events) {
            self.after.push(AfterCommit::UpdateDecided(
                execution_id.to_owned(),
                update_id,
                status,
            ));
        }
        let parent = live.parent.clone();
        let correlation_id = live.correlation_id.clone();
        if !events.is_empty() {
            self.ops.push(WriteOp::AppendHistory {
                execution_id: execution_id.to_owned(),
                first_index,
                events,
            });
        }
        carry_out(
            self,
            execution_id,
            parent.as_deref(),
            &correlation_id,
            commands,
        );
    }

    /// A caller's wait for an update's verdict is over: it hears `Pending` (the update stays
    /// with the execution; the caller asks again by id).
    fn end_update_wait(&mut self, key: UpdateKey, number: u64) {
        let Some(watchers) = self.update_watchers.get_mut(&key) else {
            return;
        };
        if let Some(index) = watchers.iter().position(|(n, _)| *n == number) {
            let (_, watcher) = watchers.swap_remove(index);
            let _ = watcher.send(Ok(UpdateStatus::Pending));
        }
        if watchers.is_empty() {
            self.update_watchers.remove(&key);
        }
    }

    fn push_timer(&mut self, at: Timestamp, job: TimerJob) {
        self.timer_order += 1;
        self.timers.push(Reverse(TimerEntry {
            at,
            order: self.timer_order,
            job,
        }));
    }

    fn fire_due_timers(&mut self) {
        let now = now();
        while self
            .timers
            .peek()
            .is_some_and(|Reverse(entry)| entry.at <= now)
        {
            let Some(Reverse(entry)) = self.timers.pop() else {
                break;
            };
            match entry.job {
                TimerJob::Inbox(timer) => {
                    let InboxTimer {
                        execution_id,
                        key,
                        event,
                    } = *timer;
                    if self.executions.contains_key(&execution_id) {
                        if matches!(event, InboxEvent::TimerFired { .. }) {
                            let late = now.as_millis().saturating_sub(entry.at.as_millis());
                            self.metrics.timer_fired(Duration::from_millis(late));
                        }
                        self.ops.push(WriteOp::DeleteTimer {
                            execution_id: execution_id.clone(),
                            key,
                        });
                        self.deliver_inbox(&execution_id, event);
                    }
                }
                TimerJob::StartAttempt(row) => self.start_attempt_when_durable(*row),
                TimerJob::AttemptTimeout(key) => {
                    self.attempt_done(key, AttemptEnd::Finished(Err(attempt::timed_out())));
                }
                TimerJob::Delivery(row) => self.after.push(AfterCommit::Deliver(*row)),
                TimerJob::Sweep => self.sweep(now),
                TimerJob::Schedule { name, at } => self.fire_schedule(&name, at),
                TimerJob::UpdateWaitOver { key, number } => self.end_update_wait(key, number),
            }
        }
    }

    fn start_or_defer_attempt(&mut self, row: TaskRow) {
        match row.delayed_until(now()) {
            Some(at) => self.push_timer(at, TimerJob::StartAttempt(Box::new(row))),
            None => self.start_attempt_when_durable(row),
        }
    }

    /// Strict: the attempt waits for the commit of the round that holds (or follows) the
    /// write that scheduled it; batches commit in order, so its step is on disk by then.
    fn start_attempt_when_durable(&mut self, row: TaskRow) {
        match self.durability {
            Durability::Strict => self.after.push(AfterCommit::StartAttempt(row)),
            Durability::Speculative => self.dispatch_attempt(row),
        }
    }

    /// Starts an attempt unless it already runs here: the in-process task lock.
    fn dispatch_attempt(&mut self, row: TaskRow) {
        let key = row.key();
        if self.open_attempts.contains_key(&key) || !self.executions.contains_key(&row.execution_id)
        {
            return;
        }
        self.metrics.attempt_started(&row.name, row.attempt);
        self.open_attempts
            .insert(key, OpenAttempt { row: row.clone() });
        self.workers.run_attempt(row, self.signer.clone());
    }

    fn attempt_done(&mut self, key: AttemptKey, result: AttemptEnd) {
        let result = match result {
            AttemptEnd::Finished(result) => result,
            AttemptEnd::Deferred { started } => {
                // The body handed out a token: the attempt stays open until it is used or the
                // timeout passes.
                if let Some(at) = self
                    .open_attempts
                    .get(&key)
                    .and_then(|open| open.row.times_out_at(started))
                {
                    self.push_timer(at, TimerJob::AttemptTimeout(key));
                }
                return;
            }
        };
        if self.open_attempts.remove(&key).is_none() {
            return;
        }
        self.ops.push(WriteOp::DeleteTask {
            execution_id: key.0.clone(),
            seq: key.1,
            attempt: key.2,
        });
        self.deliver_inbox(&key.0, attempt::completed(&key, result));
    }

    fn delivery_done(
        &mut self,
        row: DeliveryRow,
        result: Result<(), HandlerFailure>,
        effects: Vec<Effect>,
    ) {
        self.metrics.delivery_ended(&row.subscription);
        if let Some(subscription) = registry::subscription(&row.subscription) {
            settle(self, subscription, row, result, effects, now());
        }
    }

    /// Deletes executions that ended longer ago than their retention, a bounded number per
    /// sweep, then schedules the next sweep.
    fn sweep(&mut self, now: Timestamp) {
        const PER_SWEEP: u32 = 1_000;
        if let Some(oldest_kept) = self.retention.shortest().map(|shortest| now - shortest) {
            let candidates = super::store::ended_before(&self.reader, oldest_kept, PER_SWEEP)
                .unwrap_or_else(|error| {
                    warn!(%error, "cannot look for executions past their retention");
                    Vec::new()
                });
            for (execution_id, workflow, ended_at) in candidates {
                let expired = self.retention.expired(&workflow, ended_at, now);
                if expired && !self.executions.contains_key(&execution_id) {
                    self.ended.remove(&execution_id);
                    self.ops.push(WriteOp::DeleteExecution { execution_id });
                }
            }
        }
        if let Some(every) = self.retention.sweep_every() {
            self.push_timer(now + every, TimerJob::Sweep);
        }
    }

    /// Appends an entity command's writes and publishes its events in the same batch, so one
    /// transaction holds both (the outbox); refuses it if the entity moved.
    fn append_entity(&mut self, mut append: Append, reply: Reply<Result<(), u64>>) {
        let key = (append.entity_type.clone(), append.id.clone());
        let current = match self.entity_versions.get(&key) {
            Some(version) => *version,
            None => match super::store::entity_version(&self.reader, &key.0, &key.1) {
                Ok(version) => version,
                Err(error) => {
                    let _ = reply.send(Err(error.into()));
                    return;
                }
            },
        };
        if current != append.expected_version {
            let _ = reply.send(Ok(Err(current)));
            return;
        }
        self.entity_versions
            .insert(key, append.expected_version + append.events.len() as u64);
        let outbox = std::mem::take(&mut append.outbox);
        self.ops.push(WriteOp::AppendEntity(Box::new(append)));
        self.publish(outbox);
        self.reply_after_commit(reply, Ok(Ok(())));
    }

    /// A delivery ended for good (every final verdict settles it): the next event of the same
    /// entity may go to its subscriber.
    fn delivery_finished(&mut self, delivery: &DeliveryRow) {
        if let Some(next) = self.ordered.finished(delivery) {
            self.push_timer(next.due_at, TimerJob::Delivery(Box::new(next)));
        }
    }

    fn remember_end(&mut self, execution_id: &str, workflow: &'static str, outcome: &Outcome) {
        self.ended
            .insert(execution_id.to_owned(), (workflow, outcome.clone()));
        self.ended_order.push_back(execution_id.to_owned());
        while self.ended_order.len() > ENDED_KEPT {
            if let Some(old) = self.ended_order.pop_front() {
                self.ended.remove(&old);
            }
        }
    }
}

impl DeliveryHost for Core {
    fn settled(&mut self, delivery: &DeliveryRow) {
        self.ops.push(WriteOp::DeleteDelivery {
            event_id: delivery.event.id.clone(),
            subscription: delivery.subscription.clone(),
        });
        self.delivery_finished(delivery);
    }

    fn retry(&mut self, retry: DeliveryRow) {
        self.ops.push(WriteOp::UpsertDelivery(retry.clone()));
        self.push_timer(retry.due_at, TimerJob::Delivery(Box::new(retry)));
    }

    fn dead_letter(&mut self, letter: DeadLetter) {
        self.metrics.dead_lettered(&letter.subscription);
        self.ops.push(WriteOp::InsertDeadLetter(letter));
    }

    fn dropped(&mut self, letter: DeadLetter) {
        warn!(subscription = %letter.subscription, event = %letter.event.id, failure = %letter.error, "event dropped after its last attempt");
    }
}

impl EffectHost for Core {
    fn start_for_handler(&mut self, request: StartExecution) {
        if let Err(error) = self.start_execution(request, None) {
            warn!(%error, "a handler's start failed");
        }
    }
}

impl Host for Core {
    fn schedule_attempt(&mut self, row: Attempt) {
        self.ops.push(WriteOp::InsertTask(row.clone()));
        self.start_or_defer_attempt(row);
    }

    fn schedule_inbox(
        &mut self,
        execution_id: &str,
        at: Timestamp,
        key: TimerKey,
        event: InboxEvent,
    ) {
        let key = key.to_key();
        self.ops.push(WriteOp::UpsertTimer {
            execution_id: execution_id.to_owned(),
            key: key.clone(),
            due_at: at,
            event: event.clone(),
        });
        self.push_timer(
            at,
            TimerJob::Inbox(Box::new(InboxTimer {
                execution_id: execution_id.to_owned(),
                key,
                event,
            })),
        );
    }

    fn deliver(&mut self, execution_id: &str, event: InboxEvent) {
        self.deliver_inbox(execution_id, event);
    }

    fn publish(&mut self, events: Vec<EventEnvelope>) {
        let now = now();
        for event in events {
            for subscription in self.router.route(&event) {
                let row = DeliveryRow::first(subscription.name, event.clone(), now);
                self.ops.push(WriteOp::UpsertDelivery(row.clone()));
                self.after.push(AfterCommit::DeliverOrdered(row));
            }
        }
    }

    fn start_child(&mut self, child: ChildStart) -> Result<(), Failure> {
        let request = StartExecution {
            workflow: child.workflow,
            execution_name: Some(child.execution_id),
            input: child.input,
            correlation_id: Some(child.correlation_id),
        };
        self.start_execution(request, Some(child.parent))
            .map(drop)
            .map_err(|error| {
                let unknown = matches!(error, ServiceError::UnknownWorkflow(_));
                child_start_failure(unknown, error.to_string())
            })
    }

    fn continue_as_new(&mut self, next: StartRequest) {
        let execution_id = next.execution_id.clone();
        let Some(live) = self.executions.get_mut(&execution_id) else {
            return;
        };
        let ended_run = RunLink {
            number: next.run.number - 1,
            first_seq: 0,
        }
        .run_id();
        match WorkflowExecutor::start(live.workflow, next, now()) {
            Ok((executor, output)) => {
                live.executor = Some(Box::new(executor));
                live.history_len = 0;
                // In the batch of the step that ended the old run: the switch is atomic.
                self.ops.push(WriteOp::ArchiveRun {
                    execution_id: execution_id.clone(),
                    run_id: ended_run,
                });
                self.record_step(&execution_id, output.new_events, output.commands);
            }
            Err(error) => self.block(
                &execution_id,
                format!("the run after {ended_run} cannot start: {error}"),
            ),
        }
    }

    fn finished(&mut self, execution_id: &str, outcome: &Outcome) {
        let status = ExecutionStatus::of(outcome);
        let now = now();
        self.ops.push(WriteOp::SetStatus {
            execution_id: execution_id.to_owned(),
            status,
            outcome: Some(outcome.clone()),
            error: None,
            at: now,
        });
        if let Some(live) = self.executions.remove(execution_id) {
            self.count_resident(live.executor.is_some(), false);
            self.remember_end(execution_id, live.workflow.name, outcome);
            self.metrics.execution_ended(live.workflow.name, status);
        }
        self.after
            .push(AfterCommit::Ended(execution_id.to_owned(), outcome.clone()));
    }

    fn discard_pending(&mut self, execution_id: &str) {
        self.ops.push(WriteOp::DeleteTimersOf {
            execution_id: execution_id.to_owned(),
        });
        self.ops.push(WriteOp::DeleteTasksOf {
            execution_id: execution_id.to_owned(),
        });
        self.open_attempts.retain(|key, _| key.0 != execution_id);
    }
}
