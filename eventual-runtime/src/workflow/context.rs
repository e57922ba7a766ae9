//! `WorkflowContext`: the durable operations a workflow body may use.

use crate::error::{short_type_name, Failure, StepError, StepErrorKind};
use crate::event::{EventEnvelope, OutgoingEvent};
use crate::task::{Task, TaskOptions};
use crate::time::Timestamp;
use crate::workflow::futures::{
    decode_raw, decode_result, decode_unit, ContinueAsNew, NextUpdate, SignalFuture, SignalState,
    SignalStream, StepFuture,
};
use crate::workflow::history::{ParentClosePolicy, RecordedValue, Seq};
use crate::workflow::replay::machines::SignalClaim;
use crate::workflow::replay::state::{stable_hash, ExecutionInfo, ReplayState};
use crate::workflow::replay::ReplayError;
use crate::workflow::saga::Saga;
use crate::workflow::{Query, Update, Workflow};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::cell::RefCell;
use std::future::{ready, Ready};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The handle a workflow body uses for every durable step.
///
/// Each operation becomes a command with the next sequence number; on replay the same call
/// reads its result from history instead. Cloning is cheap (it is a shared handle).
///
/// ```
/// use eventual_runtime::prelude::*;
/// use std::time::Duration;
///
/// #[workflow]
/// async fn remind(ctx: WorkflowContext, who: String) -> Result<String, WorkflowError> {
///     ctx.sleep(Duration::from_secs(3600)).await;
///     let answer: String = ctx.expect_signal("answer", Duration::from_secs(60)).await?;
///     Ok(format!("{who} said {answer}"))
/// }
/// ```
#[derive(Clone)]
pub struct WorkflowContext {
    state: Arc<Mutex<ReplayState>>,
}

impl WorkflowContext {
    pub(crate) fn new(state: ReplayState) -> Self {
        WorkflowContext {
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// Runs `f` on the replay state. Never called while user code runs, so the lock is never
    /// held across an await or a user callback.
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut ReplayState) -> R) -> R {
        let mut guard: MutexGuard<'_, ReplayState> = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }

    fn info(&self) -> ExecutionInfo {
        self.with_state(|state| state.info.clone())
    }

    /// This execution's id.
    pub fn execution_id(&self) -> String {
        self.info().execution_id
    }

    /// The registered name of the running workflow.
    pub fn workflow_name(&self) -> String {
        self.info().workflow
    }

    /// The correlation id that flows into this execution's events, tasks and children.
    pub fn correlation_id(&self) -> String {
        self.info().correlation_id
    }

    /// Whether the code is re-running steps already in history (useful to silence logs).
    pub fn is_replaying(&self) -> bool {
        self.with_state(|state| state.is_replaying())
    }

    /// Runs a context operation that starts a step; a disagreement with history poisons the
    /// execution (the executor reports it) and yields `None`.
    fn start_step<R>(
        &self,
        f: impl FnOnce(&mut ReplayState) -> Result<R, ReplayError>,
    ) -> Option<R> {
        self.with_state(|state| match f(state) {
            Ok(value) => Some(value),
            Err(error) => {
                state.fail(error);
                None
            }
        })
    }

    fn recorded_value(
        &self,
        source: RecordedValue,
        fresh: impl FnOnce(&ExecutionInfo, Seq, Timestamp) -> Value,
    ) -> Value {
        self.start_step(|state| state.record_value(source, fresh))
            .unwrap_or_default()
    }

    /// Sets the answer to query `name`: what `POST /_eventual/executions/{id}/queries/{name}`
    /// (or `query <id> <name>`, or `ApiContext::query`) returns from now on. Queries are
    /// read-only: the answer is rebuilt by replaying history and never written to it, so it
    /// costs no step. A value that does not serialize answers `null`.
    ///
    /// ```
    /// # use eventual_runtime::prelude::*;
    /// # #[task] async fn copy(n: u32) -> Result<u32, StepError> { Ok(n) }
    /// #[workflow]
    /// async fn batch(ctx: WorkflowContext, files: u32) -> Result<u32, WorkflowError> {
    ///     for done in 0..files {
    ///         ctx.answer_query("progress", serde_json::json!({"done": done, "of": files}));
    ///         copy(done).await?;
    ///     }
    ///     Ok(files)
    /// }
    /// ```
    pub fn answer_query(&self, name: &str, answer: impl serde::Serialize) {
        let answer = serde_json::to_value(answer).unwrap_or(Value::Null);
        self.with_state(|state| state.query_answers.insert(name.to_owned(), answer));
    }

    /// Sets the answer to the typed query `Q` (see [`Query`]), as
    /// [`answer_query`](Self::answer_query) does for `Q::NAME`.
    pub fn answer_query_of<Q: Query>(&self, answer: &Q::Output) {
        self.answer_query(Q::NAME, answer);
    }

    /// Waits for the next update `name` not yet taken by another wait: a durable message whose
    /// caller waits for the answer (`POST /_eventual/executions/{id}/updates/{name}`, `update
    /// <id> <name>`, `client.update_of::<U>`). Updates that arrived earlier are buffered and
    /// taken first, in order; an update id the execution received before is the same update.
    ///
    /// Validate the input, then [`accept`](crate::workflow::UpdateRequest::accept) with an answer or
    /// [`reject`](crate::workflow::UpdateRequest::reject). A rejection takes no step, so validate before
    /// anything durable and a rejected update leaves the workflow's progress as it was. An
    /// input that does not deserialize as `I` is rejected for you, saying why.
    ///
    /// ```
    /// # use eventual_runtime::prelude::*;
    /// #[workflow]
    /// async fn cart(ctx: WorkflowContext, limit: u32) -> Result<u32, WorkflowError> {
    ///     let mut items = 0;
    ///     while items < limit {
    ///         let add = ctx.next_update::<u32>("add").await;
    ///         if *add.input() == 0 || items + add.input() > limit {
    ///             add.reject(format!("add 1 to {} items", limit - items));
    ///             continue;
    ///         }
    ///         items += add.input();
    ///         add.accept(serde_json::json!({ "items": items }));
    ///     }
    ///     Ok(items)
    /// }
    /// ```
    pub fn next_update<I: DeserializeOwned>(&self, name: &str) -> NextUpdate<I> {
        NextUpdate::new(self.clone(), name.to_owned())
    }

    /// Waits for the next typed update `U` (see [`Update`]): its input is a `U::Input` and it
    /// is accepted with a `U::Output`.
    pub fn next_update_of<U: Update>(&self) -> NextUpdate<U::Input, U::Output> {
        NextUpdate::new(self.clone(), U::NAME.to_owned())
    }

    /// Sets a searchable attribute of the execution (`customer`, `region`, ...), recorded in
    /// history and indexed by the engine: `GET /executions?attr.customer=ada` (or
    /// `list --attr customer=ada`) finds it without scanning. Setting a key again replaces its
    /// value. A value that does not serialize is recorded as `null`.
    pub fn set_attribute(&self, key: &str, value: impl serde::Serialize) {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.start_step(|state| state.set_attribute(key, value));
    }

    /// Whether this execution runs the code of patch `patch`: changing a workflow's steps
    /// while executions of it are running, without breaking their replay.
    ///
    /// `true` when the code runs this point for the first time (a marker is recorded in
    /// history) and when it replays a history that recorded the marker; `false` when it
    /// replays a history from before the patch, which then takes the old branch. Once no
    /// execution from before the patch is left, replace the call with
    /// [`deprecate_patch`](Self::deprecate_patch) and delete the old branch; later, delete the
    /// call too (recorded markers nobody asks for are passed over).
    ///
    /// ```
    /// # use eventual_runtime::prelude::*;
    /// # #[task] async fn charge(n: u64) -> Result<u64, StepError> { Ok(n) }
    /// # #[task] async fn charge_with_fraud_check(n: u64) -> Result<u64, StepError> { Ok(n) }
    /// #[workflow]
    /// async fn pay(ctx: WorkflowContext, amount: u64) -> Result<u64, WorkflowError> {
    ///     let receipt = if ctx.patched("fraud-check") {
    ///         charge_with_fraud_check(amount).await?
    ///     } else {
    ///         charge(amount).await?
    ///     };
    ///     Ok(receipt)
    /// }
    /// ```
    pub fn patched(&self, patch: &str) -> bool {
        self.start_step(|state| state.patched(patch))
            .unwrap_or(false)
    }

    /// Marks where patch `patch` was, once its old branch has been deleted: new runs still
    /// record the marker, so that code that still calls [`patched`](Self::patched) (an older
    /// deployment) replays their histories alike.
    pub fn deprecate_patch(&self, patch: &str) {
        let _ = self.patched(patch);
    }

    /// The current time of the workflow, recorded so replay sees the same value.
    pub fn now(&self) -> Timestamp {
        let value =
            self.recorded_value(RecordedValue::Now, |_, _, now| Value::from(now.as_millis()));
        Timestamp::from_millis(value.as_u64().unwrap_or_default())
    }

    /// A random number in `0.0..1.0`, recorded so replay sees the same value.
    pub fn random(&self) -> f64 {
        let value = self.recorded_value(RecordedValue::Random, |info, seq, _| {
            Value::from(unit_interval(random_bits(info, seq)))
        });
        value.as_f64().unwrap_or_default()
    }

    /// A random (version 4) UUID, recorded so replay sees the same value.
    pub fn uuid(&self) -> uuid::Uuid {
        let value = self.recorded_value(RecordedValue::Uuid, |info, seq, _| {
            let high = random_bits(info, seq);
            let low = stable_hash(&[&high.to_le_bytes(), b"uuid"]);
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&high.to_le_bytes());
            bytes[8..].copy_from_slice(&low.to_le_bytes());
            Value::from(
                uuid::Builder::from_random_bytes(bytes)
                    .into_uuid()
                    .to_string(),
            )
        });
        value
            .as_str()
            .and_then(|text| uuid::Uuid::parse_str(text).ok())
            .unwrap_or_default()
    }

    /// A durable timer that fires `duration` after the workflow's current time.
    pub fn sleep(&self, duration: Duration) -> StepFuture<()> {
        let until = self.with_state(|state| state.now) + duration;
        self.sleep_until(until)
    }

    /// A durable timer that fires at `until` (at once if that has passed).
    pub fn sleep_until(&self, until: impl Into<Timestamp>) -> StepFuture<()> {
        let until = until.into();
        match self.start_step(|state| {
            state.start_timer(until, super::replay::machines::TimerOwner::Sleep)
        }) {
            Some(seq) => StepFuture::waiting(self.clone(), seq, decode_unit),
            None => StepFuture::poisoned(self.clone(), decode_unit),
        }
    }

    /// Waits for the next signal `name` not yet taken by another wait, up to `timeout`.
    /// Signals that arrived earlier are buffered and taken first.
    pub fn expect_signal<T: DeserializeOwned>(
        &self,
        name: &str,
        timeout: Duration,
    ) -> SignalFuture<T> {
        let until = self.with_state(|state| state.now) + timeout;
        self.signal_wait(name, Some(until))
    }

    /// Waits, without a timeout, for the next signal `name` not yet taken by another wait.
    pub fn wait_for_signal<T: DeserializeOwned>(&self, name: &str) -> SignalFuture<T> {
        self.signal_wait(name, None)
    }

    fn signal_wait<T>(&self, name: &str, until: Option<Timestamp>) -> SignalFuture<T> {
        let state = match self.start_step(|state| state.expect_signal(name, until)) {
            Some(SignalClaim::Ready(payload)) => SignalState::Ready(Some(payload)),
            Some(SignalClaim::Waiting(id)) => SignalState::Waiting(id),
            None => SignalState::Poisoned,
        };
        SignalFuture::new(self.clone(), state)
    }

    /// Ends this run and starts the execution afresh with `input`, so that a workflow that
    /// loops for ever keeps a bounded history: Temporal's continue-as-new.
    ///
    /// The next run has the same execution id, name, parent and correlation id, a new run id
    /// (`run-2`, `run-3`, ...) and an empty history beginning with `WorkflowStarted` (the new
    /// input, `run_id`, `continued_from`); this run's history ends with
    /// `WorkflowContinuedAsNew`. The execution stays running across runs: callers and
    /// parents see only the last run's outcome. Signals this run received but never took,
    /// and signals that arrive while the engine switches runs, go to the next run. This run's
    /// timers and pending tasks are discarded, as at the execution's end, and children whose
    /// parent-close policy says so are cancelled. A timeout counts per run.
    ///
    /// The returned future never resolves (the run ends when it is awaited), and its output
    /// is whatever the body returns, so write it as the body's last word:
    ///
    /// ```
    /// use eventual_runtime::prelude::*;
    /// use std::time::Duration;
    ///
    /// #[workflow]
    /// async fn count(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    ///     ctx.sleep(Duration::from_secs(60)).await;
    ///     if n % 100 == 99 {
    ///         return ctx.continue_as_new(n + 1).await;
    ///     }
    ///     Ok(n)
    /// }
    /// ```
    ///
    /// `input` must deserialize as the workflow's input; if it does not even serialize, the
    /// execution is blocked with an error naming the workflow.
    pub fn continue_as_new<T>(&self, input: impl Serialize) -> ContinueAsNew<T> {
        let input = serde_json::to_value(input).unwrap_or_else(|error| {
            self.with_state(|state| {
                state.fail(ReplayError::InvalidInput {
                    workflow: state.info.workflow.clone(),
                    reason: format!("the input of `continue_as_new` did not serialize: {error}"),
                })
            });
            Value::Null
        });
        ContinueAsNew::new(self.clone(), input)
    }

    /// Every signal `name` of this execution, from the first one on, whether or not an
    /// `expect_signal` took it.
    pub fn signals<T: DeserializeOwned>(&self, name: &str) -> SignalStream<T> {
        SignalStream::new(self.clone(), name.to_owned())
    }

    /// Sends signal `name` to another execution.
    pub fn send_signal(
        &self,
        execution_id: &str,
        name: &str,
        payload: impl Serialize,
    ) -> Ready<Result<(), StepError>> {
        ready(to_json(&payload).and_then(|payload| {
            self.start_step(|state| state.send_signal(execution_id, name, payload))
                .map(drop)
                .ok_or_else(poisoned)
        }))
    }

    /// Emits `detail` onto the bus with `detail-type` = its type's name and `source` = this
    /// workflow's name. Events leave only once the step is durable (transactional outbox).
    pub fn emit<T: Serialize>(&self, detail: T) -> Ready<Result<(), StepError>> {
        let source = self.workflow_name();
        ready(to_json(&detail).and_then(|detail| {
            self.emit_all(vec![OutgoingEvent::new(
                source,
                short_type_name::<T>(),
                detail,
            )])
        }))
    }

    /// Emits events with explicit `source` and `detail-type`.
    pub fn emit_events(&self, events: Vec<OutgoingEvent>) -> Ready<Result<(), StepError>> {
        ready(self.emit_all(events))
    }

    fn emit_all(&self, events: Vec<OutgoingEvent>) -> Result<(), StepError> {
        // Refused before it takes a step: the size depends on the payload only, so a replay
        // refuses it at the same point.
        for event in &events {
            event
                .check_size()
                .map_err(|error| StepError::new(StepErrorKind::InvalidInput, error.to_string()))?;
        }
        self.start_step(|state| {
            state.emit(|info, seq, now| {
                events
                    .into_iter()
                    .enumerate()
                    .map(|(index, event)| {
                        let id = format!("{}/{seq}/{index}", info.execution_id);
                        EventEnvelope::outgoing(id, event, now, Some(info.correlation_id.clone()))
                    })
                    .collect()
            })
        })
        .map(drop)
        .ok_or_else(poisoned)
    }

    /// Starts child workflow `W` and waits for its result. If this execution closes first,
    /// the child is cancelled (the default [`ParentClosePolicy`]; see
    /// [`child_with`](Self::child_with)).
    pub fn child<W: Workflow>(&self, input: W::Input) -> StepFuture<Result<W::Output, W::Error>>
    where
        W::Error: From<StepError>,
    {
        self.child_with::<W>(input, ChildOptions::default())
    }

    /// Starts child workflow `W` with `options` and waits for its result.
    ///
    /// ```
    /// use eventual_runtime::prelude::*;
    /// # #[workflow] async fn audit(ctx: WorkflowContext, id: String) -> Result<(), WorkflowError> { Ok(()) }
    /// #[workflow]
    /// async fn close_account(ctx: WorkflowContext, id: String) -> Result<(), WorkflowError> {
    ///     // The audit goes on even if closing the account fails or is cancelled.
    ///     let audit = ctx.child_with::<audit>(id, ChildOptions::new().parent_close(ParentClosePolicy::Abandon));
    ///     audit.await?;
    ///     Ok(())
    /// }
    /// ```
    pub fn child_with<W: Workflow>(
        &self,
        input: W::Input,
        options: ChildOptions,
    ) -> StepFuture<Result<W::Output, W::Error>>
    where
        W::Error: From<StepError>,
    {
        match to_json(&input) {
            Ok(input) => match self
                .start_step(|state| state.start_child(W::NAME, input, options.parent_close))
            {
                Some(seq) => {
                    StepFuture::waiting(self.clone(), seq, decode_result::<W::Output, W::Error>)
                }
                None => StepFuture::poisoned(self.clone(), decode_result::<W::Output, W::Error>),
            },
            Err(error) => StepFuture::early(
                self.clone(),
                invalid_input(error),
                decode_result::<W::Output, W::Error>,
            ),
        }
    }

    /// Starts a child workflow by registered name, with JSON input and output.
    pub fn child_by_name(&self, name: &str, input: Value) -> StepFuture<Result<Value, Failure>> {
        self.child_by_name_with(name, input, ChildOptions::default())
    }

    /// Starts a child workflow by registered name with `options`.
    pub fn child_by_name_with(
        &self,
        name: &str,
        input: Value,
        options: ChildOptions,
    ) -> StepFuture<Result<Value, Failure>> {
        match self.start_step(|state| state.start_child(name, input, options.parent_close)) {
            Some(seq) => StepFuture::waiting(self.clone(), seq, decode_raw),
            None => StepFuture::poisoned(self.clone(), decode_raw),
        }
    }

    /// Schedules task `T`. Calling a `#[task]` function inside a workflow does this.
    pub fn call_task<T: Task>(&self, input: T::Input) -> StepFuture<Result<T::Output, T::Error>>
    where
        T::Error: From<StepError>,
    {
        let decode = decode_result::<T::Output, T::Error>;
        match to_json(&input) {
            Ok(input) => self.schedule(T::NAME, input, T::OPTIONS, decode),
            Err(error) => StepFuture::early(self.clone(), invalid_input(error), decode),
        }
    }

    /// Schedules a registered task by name, with JSON input and output.
    pub fn call_task_by_name(
        &self,
        name: &str,
        input: Value,
    ) -> StepFuture<Result<Value, Failure>> {
        let task = self.with_state(|state| state.info.catalog.task(name));
        match task {
            Some((name, options)) => self.schedule(name, input, options, decode_raw),
            None => StepFuture::early(
                self.clone(),
                Failure::new(
                    StepErrorKind::NotRegistered,
                    format!("no task named `{name}` is registered"),
                ),
                decode_raw,
            ),
        }
    }

    fn schedule<R>(
        &self,
        name: &'static str,
        input: Value,
        options: TaskOptions,
        decode: fn(Result<Value, Failure>) -> R,
    ) -> StepFuture<R> {
        match self.start_step(|state| state.schedule_task(name, input, options)) {
            Some(seq) => StepFuture::waiting(self.clone(), seq, decode),
            None => StepFuture::poisoned(self.clone(), decode),
        }
    }

    /// A saga: compensations registered on it run in reverse order on `compensate()`, and also
    /// when the execution is cancelled.
    pub fn saga(&self) -> Saga {
        let id = self.with_state(|state| state.sagas.new_saga());
        Saga::new(self.clone(), id)
    }
}

fn to_json(value: &impl Serialize) -> Result<Value, StepError> {
    serde_json::to_value(value)
        .map_err(|error| StepError::new(StepErrorKind::InvalidInput, error.to_string()))
}

fn invalid_input(error: StepError) -> Failure {
    Failure::new(StepErrorKind::InvalidInput, error.message)
}

fn poisoned() -> StepError {
    StepError::new(
        StepErrorKind::Failed,
        "the workflow diverged from its history; the executor reports the non-determinism",
    )
}

fn random_bits(info: &ExecutionInfo, seq: Seq) -> u64 {
    stable_hash(&[info.execution_id.as_bytes(), &seq.to_le_bytes(), b"random"])
}

fn unit_interval(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

thread_local! {
    static CURRENT: RefCell<Option<WorkflowContext>> = const { RefCell::new(None) };
}

/// Marks the workflow being polled on this thread, so `#[task]` functions called in its body
/// schedule the task instead of running it. Restores the previous one when dropped.
pub(crate) struct CurrentWorkflow {
    previous: Option<WorkflowContext>,
}

impl CurrentWorkflow {
    pub(crate) fn enter(ctx: WorkflowContext) -> Self {
        let previous = CURRENT.with(|current| current.replace(Some(ctx)));
        CurrentWorkflow { previous }
    }
}

impl Drop for CurrentWorkflow {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|current| *current.borrow_mut() = previous);
    }
}

/// The workflow being polled on this thread, if any.
pub fn current_workflow() -> Option<WorkflowContext> {
    CURRENT.with(|current| current.borrow().clone())
}

/// How a child workflow is started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChildOptions {
    /// What happens to the child when its parent closes first.
    pub parent_close: ParentClosePolicy,
}

impl ChildOptions {
    /// The defaults: the child is cancelled when its parent closes first.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets what happens to the child when its parent closes first.
    pub fn parent_close(mut self, policy: ParentClosePolicy) -> Self {
        self.parent_close = policy;
        self
    }
}
