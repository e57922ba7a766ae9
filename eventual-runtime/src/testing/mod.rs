//! `TestEnvironment`: an in-memory engine on a virtual clock, for testing services.
//!
//! Time moves only when the test says so ([`TestEnvironment::advance`]); work that is due runs
//! when the test calls [`TestEnvironment::run_until_idle`]. Nothing sleeps in real time. Tasks
//! run their real bodies unless mocked ([`TestEnvironment::mock_task`]); events go through the
//! same routing, retry and dead-letter rules as on the engines.
//!
//! ```
//! use eventual_runtime::prelude::*;
//! use eventual_runtime::testing::TestEnvironment;
//!
//! #[task(retry(max_attempts = 3, backoff = "fixed", initial = "10s", jitter = 0.0))]
//! async fn fetch(url: String) -> Result<String, StepError> { Ok(url) }
//!
//! #[workflow]
//! async fn crawl(ctx: WorkflowContext, url: String) -> Result<String, WorkflowError> {
//!     Ok(fetch(url).await?)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let env = TestEnvironment::new();
//! env.mock_task("fetch").fail_once_then_succeed(StepError::new(StepErrorKind::Failed, "503"), "page");
//! let run = env.start::<crawl>("https://example.com".into()).unwrap();
//! env.run_until_idle().await;
//! assert!(env.result::<crawl>(&run).is_none()); // waiting 10 s for the retry
//! env.advance(Duration::from_secs(10)).await;
//! assert_eq!(env.result::<crawl>(&run).unwrap().unwrap(), "page");
//! # }
//! ```

mod engine;
mod mock;
mod schedules;

pub use mock::MockBuilder;

use crate::engine::api::ListFilter;
use crate::engine::client::{Client, Effect, EffectBuffer, StartExecution, WithClient};
use crate::engine::kernel::attempt::{self, Attempt, AttemptKey};
use crate::engine::kernel::delivery::{settle, DeadLetter, Delivery, DeliveryHost, EffectHost};
use crate::engine::kernel::retention::Retention;
use crate::engine::kernel::signal::outside_signal;
use crate::engine::kernel::start::{decide_start, fresh_execution_id};
use crate::engine::kernel::step::{
    carry_out, child_start_failure, step_execution, ChildStart, Host, TimerKey,
};
use crate::engine::router::Router;
use crate::engine::ExecutionStatus;
use crate::engine::ServiceError;
use crate::error::{Failure, StepError, StepErrorKind};
use crate::event::{EventEnvelope, OutgoingEvent};
use crate::registry::{self, HandlerFailure, WorkflowDescriptor};
use crate::task::{
    token_claims, AttemptControl, CompletionToken, TaskContext, TokenError, TokenSigner,
    WithTaskContext,
};
use crate::time::Timestamp;
use crate::workflow::command::{InboxEvent, Outcome};
use crate::workflow::history::{attribute_text, HistoryEvent, HistoryEventKind, ParentRef};
use crate::workflow::replay::{ReplayError, StartRequest, StepOutput, WorkflowExecutor};
use crate::workflow::Workflow;
use mock::{MockPlan, TaskMock};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Whether executors stay in memory between steps or are rebuilt from history every step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayMode {
    /// Keep the live execution between steps (what engines do).
    Sticky,
    /// Replay the whole history before every step (what engines do after a restart).
    FullReplay,
}

/// A started execution of workflow `W`.
#[derive(Debug)]
pub struct ExecutionHandle<W> {
    id: String,
    _workflow: PhantomData<fn() -> W>,
}

impl<W> Clone for ExecutionHandle<W> {
    fn clone(&self) -> Self {
        ExecutionHandle {
            id: self.id.clone(),
            _workflow: PhantomData,
        }
    }
}

impl<W> ExecutionHandle<W> {
    /// The execution id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// One call of an event handler, for assertions on retries.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryRecord {
    /// The subscription.
    pub subscription: String,
    /// The event's id.
    pub event_id: String,
    /// The attempt (1-based).
    pub attempt: u32,
    /// When it ran (virtual time).
    pub at: Timestamp,
    /// What the handler returned.
    pub result: Result<(), HandlerFailure>,
}

/// One entry of the environment's journal: when history became durable and when side effects
/// began, in order. The environment is always [strict](crate::engine::Durability::Strict): a
/// side effect begins only after the step that scheduled it is recorded, which tests can
/// check on [`TestEnvironment::journal`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JournalEntry {
    /// The execution's history is recorded (durable) through its first `length` events.
    Recorded {
        /// The execution.
        execution_id: String,
        /// How many events of its history are recorded.
        length: usize,
    },
    /// A task attempt began (a real body or a mock).
    AttemptStarted {
        /// The execution that scheduled it.
        execution_id: String,
        /// The step's sequence number.
        seq: u32,
        /// The attempt (1-based).
        attempt: u32,
    },
    /// A handler began a delivery of an event.
    DeliveryStarted {
        /// The subscription.
        subscription: String,
        /// The event.
        event_id: String,
    },
}

/// The in-memory engine. See the [module documentation](self).
#[derive(Clone)]
pub struct TestEnvironment {
    state: Arc<Mutex<EnvState>>,
    /// Entities, in memory; their appends publish on this environment's bus.
    entities: Arc<crate::entity::EntityRunner>,
    entity_store: Arc<crate::entity::MemoryEntityStore>,
}

impl Default for TestEnvironment {
    fn default() -> Self {
        Self::new()
    }
}

struct ExecutionRecord {
    workflow: &'static WorkflowDescriptor,
    /// The current run's history.
    history: Vec<HistoryEvent>,
    /// The histories of the runs that continued as new, oldest first.
    earlier_runs: Vec<Vec<HistoryEvent>>,
    executor: Option<Box<WorkflowExecutor>>,
    inbox: Vec<InboxEvent>,
    status: ExecutionStatus,
    outcome: Option<Outcome>,
    parent: Option<ParentRef>,
    correlation_id: String,
    error: Option<ReplayError>,
}

struct OpenAttempt {
    last_heartbeat: Timestamp,
    heartbeat_ms: Option<u64>,
    mock_beats: Option<(Duration, u32, Result<Value, Failure>)>,
}

enum Job {
    Inbox(String, InboxEvent),
    StartAttempt(Attempt),
    AttemptTimeout(AttemptKey),
    HeartbeatCheck(AttemptKey),
    MockBeat(AttemptKey),
    Deliver(Delivery),
    /// Firing `at` of a schedule; stale once the schedule was paused, resumed or deleted.
    Schedule {
        name: String,
        at: Timestamp,
    },
}

struct EnvState {
    now: Timestamp,
    mode: ReplayMode,
    executions: BTreeMap<String, ExecutionRecord>,
    ready: VecDeque<String>,
    timers: BTreeMap<(Timestamp, u64), Job>,
    next_job: u64,
    attempts: VecDeque<Attempt>,
    open: HashMap<AttemptKey, OpenAttempt>,
    claimed: HashSet<AttemptKey>,
    runs: BTreeMap<String, u32>,
    mocks: HashMap<String, TaskMock>,
    router: Option<Router>,
    deliveries: VecDeque<Delivery>,
    delivered: HashSet<(String, &'static str)>,
    delivery_log: Vec<DeliveryRecord>,
    dead_letters: Vec<DeadLetter>,
    bus: Vec<EventEnvelope>,
    signer: TokenSigner,
    tokens: Vec<(String, CompletionToken)>,
    next_id: u64,
    warnings: Vec<String>,
    journal: Vec<JournalEntry>,
    retention: Retention,
    schedules: BTreeMap<String, crate::schedule::ScheduleInfo>,
    schedule_log: Vec<crate::schedule::FiringRecord>,
}

/// 2026-01-01T00:00:00Z: a fixed start so that histories are the same on every run.
const EPOCH: Timestamp = Timestamp::from_millis(1_767_225_600_000);

/// A limit on work per `run_until_idle`, so a workflow that never blocks fails the test
/// instead of hanging it.
const MAX_ROUNDS: usize = 1_000_000;

impl TestEnvironment {
    /// An environment with sticky executions, its clock at 2026-01-01T00:00:00Z.
    pub fn new() -> Self {
        Self::with_replay_mode(ReplayMode::Sticky)
    }

    /// An environment with the given replay mode.
    pub fn with_replay_mode(mode: ReplayMode) -> Self {
        let router = match Router::from_registry() {
            Ok(router) => Some(router),
            Err((name, error)) => panic!("subscription `{name}` has an invalid pattern: {error}"),
        };
        let state = Arc::new(Mutex::new(EnvState {
            now: EPOCH,
            mode,
            executions: BTreeMap::new(),
            ready: VecDeque::new(),
            timers: BTreeMap::new(),
            next_job: 0,
            attempts: VecDeque::new(),
            open: HashMap::new(),
            claimed: HashSet::new(),
            runs: BTreeMap::new(),
            mocks: HashMap::new(),
            router,
            deliveries: VecDeque::new(),
            delivered: HashSet::new(),
            delivery_log: Vec::new(),
            dead_letters: Vec::new(),
            bus: Vec::new(),
            signer: TokenSigner::new(b"eventual-test-environment"),
            tokens: Vec::new(),
            next_id: 0,
            warnings: Vec::new(),
            journal: Vec::new(),
            retention: Retention::default(),
            schedules: BTreeMap::new(),
            schedule_log: Vec::new(),
        }));
        let (bus, clock) = (Arc::downgrade(&state), Arc::downgrade(&state));
        let entity_store = Arc::new(crate::entity::MemoryEntityStore::new(
            Box::new(move |events| {
                if let Some(state) = bus.upgrade() {
                    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
                    state.publish_envelopes(events);
                }
            }),
            Box::new(move || {
                clock.upgrade().map_or(EPOCH, |state| {
                    state.lock().unwrap_or_else(|p| p.into_inner()).now
                })
            }),
        ));
        TestEnvironment {
            state,
            entities: crate::entity::EntityRunner::new(entity_store.clone()),
            entity_store,
        }
        .with_static_schedules()
    }

    fn lock(&self) -> MutexGuard<'_, EnvState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The virtual time.
    pub fn now(&self) -> Timestamp {
        self.lock().now
    }

    // ---- executions --------------------------------------------------------------------------

    /// Starts workflow `W` with `input`. It runs up to its first wait at once; due work
    /// (tasks, events) runs on [`run_until_idle`](Self::run_until_idle).
    pub fn start<W: Workflow>(&self, input: W::Input) -> Result<ExecutionHandle<W>, ServiceError> {
        self.start_named::<W>(None, input)
    }

    /// Starts workflow `W` under a caller-chosen execution id; a second start with the same id
    /// returns the same execution.
    pub fn start_named<W: Workflow>(
        &self,
        execution_id: Option<&str>,
        input: W::Input,
    ) -> Result<ExecutionHandle<W>, ServiceError> {
        let input =
            serde_json::to_value(&input).map_err(|e| ServiceError::InvalidInput(e.to_string()))?;
        let id = self.start_by_name(W::NAME, execution_id, input)?;
        Ok(ExecutionHandle {
            id,
            _workflow: PhantomData,
        })
    }

    /// Starts a workflow by registered name with JSON input.
    pub fn start_by_name(
        &self,
        workflow: &str,
        execution_id: Option<&str>,
        input: Value,
    ) -> Result<String, ServiceError> {
        self.start_with_correlation(workflow, execution_id, input, None)
    }

    /// Starts a workflow by registered name, carrying a caller's correlation id.
    pub fn start_with_correlation(
        &self,
        workflow: &str,
        execution_id: Option<&str>,
        input: Value,
        correlation_id: Option<String>,
    ) -> Result<String, ServiceError> {
        self.lock().start_execution(
            workflow,
            execution_id.map(str::to_owned),
            input,
            correlation_id,
            None,
        )
    }

    /// When the next timer, retry or delayed delivery falls due, if any is scheduled.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.lock().timers.keys().next().map(|(at, _)| *at)
    }

    /// Sends signal `name` to an execution.
    pub fn signal(&self, execution_id: &str, name: &str, payload: impl Serialize) {
        let payload = serde_json::to_value(payload).unwrap_or(Value::Null);
        let mut state = self.lock();
        let event = outside_signal(name, payload, None, || state.fresh_id("s"));
        state.deliver_inbox(execution_id, event);
    }

    /// Asks an execution to cancel: its body stops and its saga compensations run.
    pub fn cancel(&self, execution_id: &str, reason: Option<&str>) {
        self.lock().deliver_inbox(
            execution_id,
            InboxEvent::Cancel {
                reason: reason.map(str::to_owned),
            },
        );
    }

    /// Ends an execution at once: no compensations run; it is recorded as terminated, and its
    /// children are cancelled as their parent-close policy says.
    pub fn terminate(&self, execution_id: &str, reason: Option<&str>) {
        self.lock().deliver_inbox(
            execution_id,
            InboxEvent::Terminate {
                reason: reason.map(str::to_owned),
            },
        );
    }

    /// Where an execution stands.
    pub fn status(&self, execution_id: &str) -> Option<ExecutionStatus> {
        self.lock().executions.get(execution_id).map(|e| e.status)
    }

    /// How an execution ended.
    pub fn outcome(&self, execution_id: &str) -> Option<Outcome> {
        self.lock()
            .executions
            .get(execution_id)
            .and_then(|e| e.outcome.clone())
    }

    /// The typed result of an ended execution.
    pub fn result<W: Workflow>(
        &self,
        handle: &ExecutionHandle<W>,
    ) -> Option<Result<W::Output, W::Error>>
    where
        W::Error: From<StepError>,
    {
        let outcome = self.outcome(&handle.id)?;
        Some(crate::workflow::futures::decode_result(
            outcome.into_result(),
        ))
    }

    /// The history of every run of an execution, oldest first: one history unless it
    /// continued as new (the last is [`history`](Self::history)).
    pub fn run_histories(&self, execution_id: &str) -> Vec<Vec<HistoryEvent>> {
        self.lock()
            .executions
            .get(execution_id)
            .map(|e| {
                let mut runs = e.earlier_runs.clone();
                runs.push(e.history.clone());
                runs
            })
            .unwrap_or_default()
    }

    /// The history of an execution's current run (its only run unless it continued as new;
    /// see [`run_histories`](Self::run_histories)).
    pub fn history(&self, execution_id: &str) -> Vec<HistoryEvent> {
        self.lock()
            .executions
            .get(execution_id)
            .map(|e| e.history.clone())
            .unwrap_or_default()
    }

    /// The replay error that blocked an execution, if any.
    pub fn error(&self, execution_id: &str) -> Option<ReplayError> {
        self.lock()
            .executions
            .get(execution_id)
            .and_then(|e| e.error.clone())
    }

    /// Ids of all executions, in id order.
    pub fn executions(&self) -> Vec<String> {
        self.lock().executions.keys().cloned().collect()
    }

    // ---- tasks ---------------------------------------------------------------------------------

    /// Mocks task `name`: its body no longer runs; the builder says what attempts do.
    pub fn mock_task(&self, name: &str) -> MockBuilder<'_> {
        MockBuilder {
            env: self,
            task: name.to_owned(),
        }
    }

    fn set_mock(&self, task: String, mock: TaskMock) {
        self.lock().mocks.insert(task, mock);
    }

    /// How many attempts of task `name` have run (mocked or real).
    pub fn task_runs(&self, name: &str) -> u32 {
        self.lock().runs.get(name).copied().unwrap_or_default()
    }

    /// Tokens handed out by attempts of task `name` that complete later, oldest first.
    pub fn completion_tokens(&self, name: &str) -> Vec<CompletionToken> {
        self.lock()
            .tokens
            .iter()
            .filter(|(task, _)| task == name)
            .map(|(_, token)| token.clone())
            .collect()
    }

    /// Completes an attempt by its token. A forged token is refused; a token of an attempt
    /// that already ended (timed out, say) is accepted and ignored, returning `Ok(false)`.
    pub fn complete_task(
        &self,
        token: &CompletionToken,
        result: Result<Value, Failure>,
    ) -> Result<bool, TokenError> {
        let mut state = self.lock();
        let claims = state.signer.verify(token)?;
        Ok(state.finish_attempt(&(claims.execution_id, claims.seq, claims.attempt), result))
    }

    // ---- entities ------------------------------------------------------------------------------

    /// Entity `id` of type `E`: its methods send commands, applied in memory; their events go
    /// on this environment's bus with the append.
    pub fn entity<E: crate::entity::Entity>(&self, id: impl Into<String>) -> E::Ref {
        crate::entity::Entities::<E>::new(Arc::new(self.entities.clone()), "test").get(id)
    }

    /// The runner of this environment's entity commands.
    pub fn entity_runner(&self) -> Arc<crate::entity::EntityRunner> {
        self.entities.clone()
    }

    /// Every stored event of entity `entity_type/id`, in version order.
    pub fn entity_events(&self, entity_type: &str, id: &str) -> Vec<crate::entity::StoredEvent> {
        self.entity_store.events(entity_type, id)
    }

    // ---- events --------------------------------------------------------------------------------

    /// Publishes an event on the bus, as an outside producer would.
    pub fn publish(&self, event: OutgoingEvent) -> String {
        let mut state = self.lock();
        let id = state.fresh_id("evt");
        let envelope = EventEnvelope::outgoing(id.clone(), event, state.now, None);
        state.publish_envelopes(vec![envelope]);
        id
    }

    /// Every event that went on the bus, in order.
    pub fn published_events(&self) -> Vec<EventEnvelope> {
        self.lock().bus.clone()
    }

    /// Every handler call, in order.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.lock().delivery_log.clone()
    }

    /// The dead-letter queue.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.lock().dead_letters.clone()
    }

    /// Takes a dead letter out of the queue and delivers its event again, with fresh retries.
    /// Returns `false` when there is no such entry.
    pub fn redrive(&self, dead_letter_id: &str) -> bool {
        let mut state = self.lock();
        let Some(index) = state
            .dead_letters
            .iter()
            .position(|d| d.id == dead_letter_id)
        else {
            return false;
        };
        let entry = state.dead_letters.remove(index);
        if registry::subscription(&entry.subscription).is_none() {
            state.dead_letters.insert(index, entry);
            return false;
        }
        let now = state.now;
        let delivery = Delivery::first(&entry.subscription, entry.event, now);
        state.deliveries.push_back(delivery);
        true
    }

    /// Keeps ended executions for `retention` unless their workflow says otherwise (`None`,
    /// the default: forever). Moving the clock deletes what has been kept long enough, as the
    /// engines do.
    pub fn set_retention(&self, retention: Option<Duration>) {
        self.lock().retention = Retention::new(retention);
    }

    /// The executions a list with `filter` finds (workflow, status and attributes; no
    /// paging), in id order.
    pub fn find_executions(&self, filter: &ListFilter) -> Vec<String> {
        let state = self.lock();
        state
            .executions
            .iter()
            .filter(|(_, execution)| {
                filter
                    .workflow
                    .as_deref()
                    .is_none_or(|workflow| workflow == execution.workflow.name)
                    && filter
                        .status
                        .is_none_or(|status| status == execution.status)
                    && filter.attributes.iter().all(|(key, value)| {
                        attribute_of(&execution.history, key).as_deref() == Some(value.as_str())
                    })
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The order in which history was recorded and side effects began.
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.lock().journal.clone()
    }

    /// Things the engine dropped with a reason (a signal to an unknown execution, say).
    pub fn warnings(&self) -> Vec<String> {
        self.lock().warnings.clone()
    }

    // ---- time ----------------------------------------------------------------------------------

    /// Runs everything that is due now, until nothing is.
    pub async fn run_until_idle(&self) {
        for _ in 0..MAX_ROUNDS {
            let progressed = {
                let mut state = self.lock();
                state.fire_due_timer() || state.step_ready_execution()
            };
            if progressed || self.run_next_attempt().await || self.run_next_delivery().await {
                continue;
            }
            return;
        }
        panic!("run_until_idle did not settle after {MAX_ROUNDS} rounds: does a workflow loop without waiting?");
    }

    /// Moves the clock forward by `duration`, running everything that falls due on the way at
    /// its own time.
    pub async fn advance(&self, duration: Duration) {
        let target = self.now() + duration;
        loop {
            self.run_until_idle().await;
            let mut state = self.lock();
            match state.timers.keys().next() {
                Some((at, _)) if *at <= target => {
                    let at = *at;
                    state.now = state.now.max(at);
                }
                _ => {
                    state.now = target;
                    break;
                }
            }
        }
        self.run_until_idle().await;
        self.lock().sweep();
    }

    async fn run_next_attempt(&self) -> bool {
        let (job, plan) = {
            let mut state = self.lock();
            let Some(job) = state.next_attempt() else {
                return false;
            };
            let plan = state
                .mocks
                .get(&job.name)
                .map(|mock| mock.plan_for(job.attempt));
            (job, plan)
        };
        match plan {
            Some(plan) => self.lock().run_mock(&job, plan),
            None => {
                let result = self.run_real_attempt(&job).await;
                if let Some(result) = result {
                    self.lock().finish_attempt(&job.key(), result);
                }
            }
        }
        true
    }

    /// Runs a real task body with the environment's lock released (the body may heartbeat).
    /// `None` when the body deferred its result to a completion token.
    async fn run_real_attempt(&self, job: &Attempt) -> Option<Result<Value, Failure>> {
        let Some(task) = registry::task(&job.name) else {
            return Some(Err(Failure::new(
                StepErrorKind::NotRegistered,
                format!("no task named `{}` is registered", job.name),
            )));
        };
        let body = match (task.run)(job.input.clone()) {
            Ok(body) => body,
            Err(reason) => return Some(Err(Failure::new(StepErrorKind::InvalidInput, reason))),
        };
        let control = Arc::new(EnvAttemptControl {
            env: self.clone(),
            key: job.key(),
            task: task.name,
            deferred: AtomicBool::new(false),
        });
        let context = TaskContext::new(
            task.name,
            job.execution_id.clone(),
            job.seq,
            job.attempt,
            control.clone(),
        );
        let result = crate::entity::with_entities(
            Arc::new(self.entities.clone()),
            WithTaskContext::new(context, body),
        )
        .await;
        (!control.deferred.load(Ordering::Acquire)).then_some(result)
    }

    async fn run_next_delivery(&self) -> bool {
        let delivery = {
            let mut state = self.lock();
            let Some(delivery) = state.deliveries.pop_front() else {
                return false;
            };
            state.journal.push(JournalEntry::DeliveryStarted {
                subscription: delivery.subscription.clone(),
                event_id: delivery.event.id.clone(),
            });
            delivery
        };
        let Some(subscription) = registry::subscription(&delivery.subscription) else {
            return true;
        };
        let buffer = EffectBuffer::new(delivery.scope(), delivery.event.correlation_id.clone());
        let body = (subscription.handle)(delivery.event.clone());
        let result = crate::entity::with_entities(
            Arc::new(self.entities.clone()),
            WithClient::new(Client::new(buffer.clone()), body),
        )
        .await;
        self.lock().finish_delivery(delivery, result, buffer.take());
        true
    }
}

struct EnvAttemptControl {
    env: TestEnvironment,
    key: AttemptKey,
    task: &'static str,
    deferred: AtomicBool,
}

impl AttemptControl for EnvAttemptControl {
    fn heartbeat(&self) {
        let mut state = self.env.lock();
        let now = state.now;
        if let Some(open) = state.open.get_mut(&self.key) {
            open.last_heartbeat = now;
        }
    }

    fn completion_token(&self) -> CompletionToken {
        let mut state = self.env.lock();
        state.issue_token(self.task, &self.key)
    }

    fn defer(&self) {
        self.deferred.store(true, Ordering::Release);
    }
}

/// The value attribute `key` was last set to in `history`, as the engines index it.
fn attribute_of(history: &[HistoryEvent], key: &str) -> Option<String> {
    history.iter().rev().find_map(|event| match &event.kind {
        HistoryEventKind::AttributeSet {
            key: set, value, ..
        } if set == key => Some(attribute_text(value)),
        _ => None,
    })
}

impl EnvState {
    /// Deletes the ended executions kept longer than their retention.
    fn sweep(&mut self) {
        let (now, retention) = (self.now, self.retention);
        self.executions.retain(|_, execution| {
            let ended_at = execution.history.last().map(|event| event.at);
            match ended_at {
                Some(at) if execution.status.is_terminal() => {
                    !retention.expired(execution.workflow.name, at, now)
                }
                _ => true,
            }
        });
    }

    fn schedule(&mut self, at: Timestamp, job: Job) {
        self.next_job += 1;
        self.timers.insert((at, self.next_job), job);
    }

    /// A number unique in this environment, in order: ids are the same on every run.
    fn unique(&mut self) -> String {
        self.next_id += 1;
        self.next_id.to_string()
    }

    fn fresh_id(&mut self, prefix: &str) -> String {
        format!("{prefix}-{}", self.unique())
    }

    fn start_execution(
        &mut self,
        workflow: &str,
        execution_id: Option<String>,
        input: Value,
        correlation_id: Option<String>,
        parent: Option<ParentRef>,
    ) -> Result<String, ServiceError> {
        let descriptor = registry::workflow(workflow)
            .ok_or_else(|| ServiceError::UnknownWorkflow(workflow.to_owned()))?;
        let id = match execution_id {
            Some(id) => id,
            None => {
                let unique = self.unique();
                fresh_execution_id(workflow, &unique)
            }
        };
        let holder = self.executions.get(&id).map(|e| e.workflow.name);
        if let Some(existing) = decide_start(descriptor.name, holder).answer(id.clone())? {
            return Ok(existing.execution_id);
        }
        let request = StartRequest {
            execution_id: id.clone(),
            input,
            correlation_id,
            parent: parent.clone(),
            ..StartRequest::new(id.clone(), Value::Null)
        };
        let (executor, output) = WorkflowExecutor::start(descriptor, request, self.now)
            .map_err(|error| ServiceError::InvalidInput(error.to_string()))?;
        let correlation_id = executor.context().correlation_id();
        self.executions.insert(
            id.clone(),
            ExecutionRecord {
                workflow: descriptor,
                history: Vec::new(),
                earlier_runs: Vec::new(),
                executor: (self.mode == ReplayMode::Sticky).then_some(Box::new(executor)),
                inbox: Vec::new(),
                status: ExecutionStatus::Running,
                outcome: None,
                parent,
                correlation_id,
                error: None,
            },
        );
        self.apply_output(&id, output);
        Ok(id)
    }

    fn deliver_inbox(&mut self, execution_id: &str, event: InboxEvent) {
        match self.executions.get_mut(execution_id) {
            // An ended execution takes nothing more (a late child result, say), as on every
            // engine.
            Some(execution) if execution.status.is_terminal() => {}
            Some(execution) => {
                execution.inbox.push(event);
                if execution.inbox.len() == 1 {
                    self.ready.push_back(execution_id.to_owned());
                }
            }
            None => self.warnings.push(format!(
                "dropped {event:?}: execution `{execution_id}` does not exist"
            )),
        }
    }

    fn step_ready_execution(&mut self) -> bool {
        let Some(id) = self.ready.pop_front() else {
            return false;
        };
        let now = self.now;
        let mode = self.mode;
        let Some(execution) = self.executions.get_mut(&id) else {
            return true;
        };
        let inbox = std::mem::take(&mut execution.inbox);
        if inbox.is_empty() || execution.error.is_some() {
            return true;
        }
        let history = &execution.history;
        let stepped = step_execution(
            &mut execution.executor,
            execution.workflow,
            || history.clone(),
            now,
            inbox,
        );
        if mode == ReplayMode::FullReplay {
            execution.executor = None;
        }
        match stepped {
            Ok(output) => self.apply_output(&id, output),
            Err(error) => {
                execution.status = ExecutionStatus::Blocked;
                execution.error = Some(error);
            }
        }
        true
    }

    /// Appends the step's history, then carries out its commands (the outbox order).
    fn apply_output(&mut self, id: &str, output: StepOutput) {
        let Some(execution) = self.executions.get_mut(id) else {
            return;
        };
        execution.history.extend(output.new_events);
        self.journal.push(JournalEntry::Recorded {
            execution_id: id.to_owned(),
            length: execution.history.len(),
        });
        let correlation_id = execution.correlation_id.clone();
        let parent = execution.parent.clone();
        carry_out(self, id, parent.as_ref(), &correlation_id, output.commands);
    }

    fn fire_due_timer(&mut self) -> bool {
        let Some(entry) = self.timers.first_entry() else {
            return false;
        };
        if entry.key().0 > self.now {
            return false;
        }
        let job = entry.remove();
        let now = self.now;
        match job {
            Job::Inbox(id, event) => self.deliver_inbox(&id, event),
            Job::StartAttempt(job) => self.attempts.push_back(job),
            Job::Deliver(delivery) => self.deliveries.push_back(delivery),
            Job::Schedule { name, at } => self.fire_schedule(&name, at),
            Job::AttemptTimeout(key) => {
                self.finish_attempt(&key, Err(attempt::timed_out()));
            }
            Job::HeartbeatCheck(key) => {
                if let Some(open) = self.open.get(&key) {
                    let interval = open.heartbeat_ms.unwrap_or_default();
                    match attempt::heartbeat_check(open.last_heartbeat, interval, now) {
                        Ok(next) => self.schedule(next, Job::HeartbeatCheck(key)),
                        Err(missed) => {
                            self.finish_attempt(&key, Err(missed));
                        }
                    }
                }
            }
            Job::MockBeat(key) => {
                let mut finished = None;
                if let Some(open) = self.open.get_mut(&key) {
                    open.last_heartbeat = now;
                    if let Some((every, beats, then)) = open.mock_beats.as_mut() {
                        *beats = beats.saturating_sub(1);
                        if *beats == 0 {
                            finished = Some(then.clone());
                        } else {
                            let every = *every;
                            self.schedule(now + every, Job::MockBeat(key.clone()));
                        }
                    }
                }
                if let Some(result) = finished {
                    self.finish_attempt(&key, result);
                }
            }
        }
        true
    }

    /// The next attempt to run, claimed (the task lock: a duplicate of a claimed attempt is
    /// skipped) and opened with its timeout and heartbeat deadlines.
    fn next_attempt(&mut self) -> Option<Attempt> {
        while let Some(job) = self.attempts.pop_front() {
            let key = job.key();
            if !self.claimed.insert(key.clone()) {
                continue;
            }
            *self.runs.entry(job.name.clone()).or_default() += 1;
            self.journal.push(JournalEntry::AttemptStarted {
                execution_id: job.execution_id.clone(),
                seq: job.seq,
                attempt: job.attempt,
            });
            let now = self.now;
            self.open.insert(
                key.clone(),
                OpenAttempt {
                    last_heartbeat: now,
                    heartbeat_ms: job.heartbeat_ms,
                    mock_beats: None,
                },
            );
            if let Some(at) = job.times_out_at(now) {
                self.schedule(at, Job::AttemptTimeout(key.clone()));
            }
            if let Some(ms) = job.heartbeat_ms {
                self.schedule(now + Duration::from_millis(ms), Job::HeartbeatCheck(key));
            }
            return Some(job);
        }
        None
    }

    fn run_mock(&mut self, job: &Attempt, plan: MockPlan) {
        let key = job.key();
        match plan {
            MockPlan::Finish(result) => {
                self.finish_attempt(&key, result);
            }
            MockPlan::TimeOut if job.timeout_ms.is_none() => {
                self.finish_attempt(&key, Err(attempt::timed_out()));
            }
            MockPlan::TimeOut | MockPlan::Hang => {}
            MockPlan::CompleteLater => {
                self.issue_token(&job.name, &key);
            }
            MockPlan::Heartbeat { every, beats, then } => {
                if let Some(open) = self.open.get_mut(&key) {
                    open.mock_beats = Some((every, beats.max(1), then));
                }
                let at = self.now + every;
                self.schedule(at, Job::MockBeat(key));
            }
        }
    }

    fn issue_token(&mut self, task: &str, key: &AttemptKey) -> CompletionToken {
        let token = self.signer.sign(&token_claims(&key.0, key.1, key.2));
        self.tokens.push((task.to_owned(), token.clone()));
        token
    }

    /// Closes an open attempt with its result; `false` if it had already ended.
    fn finish_attempt(&mut self, key: &AttemptKey, result: Result<Value, Failure>) -> bool {
        if self.open.remove(key).is_none() {
            return false;
        }
        self.deliver_inbox(&key.0, attempt::completed(key, result));
        true
    }

    fn publish_envelopes(&mut self, events: Vec<EventEnvelope>) {
        for event in events {
            self.bus.push(event.clone());
            let routed = self
                .router
                .as_ref()
                .map(|r| r.route(&event))
                .unwrap_or_default();
            for subscription in routed {
                if self.delivered.insert((event.id.clone(), subscription.name)) {
                    let delivery = Delivery::first(subscription.name, event.clone(), self.now);
                    self.deliveries.push_back(delivery);
                }
            }
        }
    }

    fn finish_delivery(
        &mut self,
        delivery: Delivery,
        result: Result<(), HandlerFailure>,
        effects: Vec<Effect>,
    ) {
        let now = self.now;
        self.delivery_log.push(DeliveryRecord {
            subscription: delivery.subscription.clone(),
            event_id: delivery.event.id.clone(),
            attempt: delivery.attempt,
            at: now,
            result: result.clone(),
        });
        if let Some(subscription) = registry::subscription(&delivery.subscription) {
            settle(self, subscription, delivery, result, effects, now);
        }
    }
}

impl DeliveryHost for EnvState {
    fn settled(&mut self, _delivery: &Delivery) {}

    fn retry(&mut self, retry: Delivery) {
        self.schedule(retry.due_at, Job::Deliver(retry));
    }

    fn dead_letter(&mut self, letter: DeadLetter) {
        self.dead_letters.push(letter);
    }

    fn dropped(&mut self, letter: DeadLetter) {
        self.warnings.push(format!(
            "dropped event `{}` for `{}` after {} attempts: {}",
            letter.event.id, letter.subscription, letter.attempts, letter.error
        ));
    }
}

impl EffectHost for EnvState {
    fn start_for_handler(&mut self, request: StartExecution) {
        let StartExecution {
            workflow,
            execution_name,
            input,
            correlation_id,
        } = request;
        if let Err(error) =
            self.start_execution(&workflow, execution_name, input, correlation_id, None)
        {
            self.warnings
                .push(format!("a handler's start failed: {error}"));
        }
    }
}

impl Host for EnvState {
    fn schedule_attempt(&mut self, attempt: Attempt) {
        match attempt.delayed_until(self.now) {
            Some(at) => self.schedule(at, Job::StartAttempt(attempt)),
            None => self.attempts.push_back(attempt),
        }
    }

    fn schedule_inbox(
        &mut self,
        execution_id: &str,
        at: Timestamp,
        _key: TimerKey,
        event: InboxEvent,
    ) {
        self.schedule(at, Job::Inbox(execution_id.to_owned(), event));
    }

    fn deliver(&mut self, execution_id: &str, event: InboxEvent) {
        self.deliver_inbox(execution_id, event);
    }

    fn publish(&mut self, events: Vec<EventEnvelope>) {
        self.publish_envelopes(events);
    }

    fn start_child(&mut self, child: ChildStart) -> Result<(), Failure> {
        self.start_execution(
            &child.workflow,
            Some(child.execution_id),
            child.input,
            Some(child.correlation_id),
            Some(child.parent),
        )
        .map(drop)
        .map_err(|error| {
            child_start_failure(
                matches!(error, ServiceError::UnknownWorkflow(_)),
                error.to_string(),
            )
        })
    }

    fn discard_pending(&mut self, execution_id: &str) {
        let of_execution = |job: &Job| match job {
            Job::Inbox(id, _) => id == execution_id,
            Job::StartAttempt(attempt) => attempt.execution_id == execution_id,
            Job::AttemptTimeout(key) | Job::HeartbeatCheck(key) | Job::MockBeat(key) => {
                key.0 == execution_id
            }
            Job::Deliver(_) | Job::Schedule { .. } => false,
        };
        self.timers.retain(|_, job| !of_execution(job));
        self.attempts.retain(|a| a.execution_id != execution_id);
        self.open.retain(|key, _| key.0 != execution_id);
    }

    fn continue_as_new(&mut self, next: StartRequest) {
        let id = next.execution_id.clone();
        let (now, mode) = (self.now, self.mode);
        let Some(execution) = self.executions.get_mut(&id) else {
            return;
        };
        match WorkflowExecutor::start(execution.workflow, next, now) {
            Ok((executor, output)) => {
                let ended = std::mem::take(&mut execution.history);
                execution.earlier_runs.push(ended);
                execution.executor = (mode == ReplayMode::Sticky).then_some(Box::new(executor));
                self.apply_output(&id, output);
            }
            // The next run's input does not fit the workflow: the execution cannot go on.
            Err(error) => {
                execution.status = ExecutionStatus::Blocked;
                execution.executor = None;
                execution.error = Some(error);
            }
        }
    }

    fn finished(&mut self, execution_id: &str, outcome: &Outcome) {
        if let Some(execution) = self.executions.get_mut(execution_id) {
            execution.status = ExecutionStatus::of(outcome);
            execution.outcome = Some(outcome.clone());
            execution.executor = None;
        }
    }
}
