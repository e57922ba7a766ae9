//! The replay state of one execution: steps by sequence number, buffered signals, the new
//! history events and commands of the current step.
//!
//! Replay and live steps share one path: a live inbox event is first turned into history
//! events ([`ReplayState::accept`]), and every history event, old or new, moves the machines
//! through [`ReplayState::apply`].

use super::machines::{
    ChildMachine, InstantMachine, StepKind, StepMachine, StepSignature, TaskMachine, TimerMachine,
    TimerOwner,
};
use super::ReplayError;
use crate::error::{Failure, StepErrorKind};
use crate::event::EventEnvelope;
use crate::task::{Attempt, TaskOptions};
use crate::time::Timestamp;
use crate::workflow::command::{Command, InboxEvent};
use crate::workflow::history::{
    HistoryEvent, HistoryEventKind, ParentClosePolicy, RecordedValue, Seq,
};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::task::Waker;

/// What history recorded when a step was scheduled, kept during replay to compare with what the
/// code asks for and to read back recorded values.
#[derive(Clone, Debug)]
pub(crate) struct RecordedStep {
    pub(crate) signature: StepSignature,
    /// The recorded value of a timer (`until`), child (`execution_id`) or
    /// `ctx.now/random/uuid` call.
    pub(crate) value: Value,
}

impl RecordedStep {
    /// The record of a scheduling event, or `None` for events that are not a step's start.
    pub(crate) fn from_event(kind: &HistoryEventKind) -> Option<(Seq, RecordedStep)> {
        let (seq, signature, value) = match kind {
            HistoryEventKind::TaskScheduled { seq, name, .. } => {
                (*seq, StepSignature::Task(name.clone()), Value::Null)
            }
            HistoryEventKind::TimerScheduled { seq, until } => {
                (*seq, StepSignature::Timer, Value::from(until.as_millis()))
            }
            HistoryEventKind::SignalSent { seq, name, .. } => {
                (*seq, StepSignature::SignalSent(name.clone()), Value::Null)
            }
            // The code rebuilds nothing from an emit's events on replay.
            HistoryEventKind::EventsEmitted { seq, .. } => (*seq, StepSignature::Emit, Value::Null),
            HistoryEventKind::ChildWorkflowScheduled {
                seq,
                name,
                execution_id,
                ..
            } => (
                *seq,
                StepSignature::Child(name.clone()),
                Value::from(execution_id.clone()),
            ),
            HistoryEventKind::ValueRecorded { seq, source, value } => (
                *seq,
                StepSignature::Value(value_source_name(*source)),
                value.clone(),
            ),
            _ => return None,
        };
        Some((seq, RecordedStep { signature, value }))
    }
}

pub(crate) fn value_source_name(source: RecordedValue) -> &'static str {
    match source {
        RecordedValue::Now => "now",
        RecordedValue::Random => "random",
        RecordedValue::Uuid => "uuid",
    }
}

/// Signals of one name: every payload ever received (for streams) and the ones no
/// `expect_signal` has taken yet.
#[derive(Default)]
struct SignalChannel {
    log: Vec<Value>,
    unclaimed: VecDeque<Value>,
    waiters: VecDeque<u64>,
    stream_wakers: Vec<Waker>,
}

/// One `expect_signal` call that had to wait.
struct SignalWaiter {
    name: String,
    result: Option<Result<Value, Failure>>,
    waker: Option<Waker>,
}

pub(crate) type CompensationFn =
    Box<dyn FnOnce() -> futures::future::BoxFuture<'static, Result<(), String>> + Send>;

/// Compensations registered by sagas, in registration order.
pub(crate) struct Compensation {
    pub(crate) saga: u64,
    pub(crate) run: CompensationFn,
}

/// A compensation of a run: not begun, or begun and waiting for its steps.
pub(crate) enum PendingCompensation {
    NotBegun(CompensationFn),
    Begun(futures::future::BoxFuture<'static, Result<(), String>>),
}

/// Compensations under way, run one after the other. They live in the replay state rather
/// than in the future that runs them, so a cancel that drops the workflow body in the middle
/// of `saga.compensate()` hands the one in flight and the rest to the cleanup.
#[derive(Default)]
struct CompensationRun {
    queue: VecDeque<PendingCompensation>,
    errors: Vec<String>,
}

/// What a compensation run does next.
pub(crate) enum NextCompensation {
    Run(PendingCompensation),
    Done(Vec<String>),
}

/// Identity of the execution, fixed at start, and the catalog it was started with.
#[derive(Clone)]
pub(crate) struct ExecutionInfo {
    pub(crate) workflow: String,
    pub(crate) execution_id: String,
    pub(crate) correlation_id: String,
    pub(crate) catalog: &'static dyn super::Catalog,
}

pub(crate) struct ReplayState {
    pub(crate) info: ExecutionInfo,
    /// The time of the event being applied: the clock the workflow sees.
    pub(crate) now: Timestamp,
    /// Scheduling events of history not yet asked for again by the code (replay only).
    recorded: Vec<RecordedStep>,
    steps: Vec<StepMachine>,
    signals: BTreeMap<String, SignalChannel>,
    waiters: HashMap<u64, SignalWaiter>,
    next_waiter: u64,
    seen_signal_ids: HashSet<String>,
    pub(crate) cancel_requested: Option<Option<String>>,
    pub(crate) timed_out: bool,
    /// Set by a terminate, with its reason.
    pub(crate) terminated: Option<Option<String>>,
    pub(crate) compensations: Vec<Compensation>,
    next_saga: u64,
    compensation_runs: BTreeMap<u64, CompensationRun>,
    next_compensation_run: u64,
    /// The first error found while the workflow ran; the executor reports it.
    pub(crate) failure: Option<ReplayError>,
    pub(crate) new_events: Vec<HistoryEvent>,
    pub(crate) commands: Vec<Command>,
}

impl ReplayState {
    pub(crate) fn new(info: ExecutionInfo, now: Timestamp, recorded: Vec<RecordedStep>) -> Self {
        ReplayState {
            info,
            now,
            // Replay asks for every recorded step again: room for them all up front.
            steps: Vec::with_capacity(recorded.len()),
            recorded,
            signals: BTreeMap::new(),
            waiters: HashMap::new(),
            next_waiter: 0,
            seen_signal_ids: HashSet::new(),
            cancel_requested: None,
            timed_out: false,
            terminated: None,
            compensations: Vec::new(),
            next_saga: 0,
            compensation_runs: BTreeMap::new(),
            next_compensation_run: 0,
            failure: None,
            new_events: Vec::new(),
            commands: Vec::new(),
        }
    }

    pub(crate) fn is_replaying(&self) -> bool {
        self.steps.len() < self.recorded.len()
    }

    pub(crate) fn next_seq(&self) -> Seq {
        self.steps.len() as Seq
    }

    /// The first step the code asked for beyond the steps history holds, if any.
    pub(crate) fn step_beyond_history(&self) -> Option<(Seq, String)> {
        let seq = self.recorded.len();
        self.steps
            .get(seq)
            .map(|step| (seq as Seq, step.signature().to_string()))
    }

    /// The first scheduled step of history the code has not asked for again, if any.
    pub(crate) fn unreached_recorded_step(&self) -> Option<(Seq, String)> {
        self.recorded
            .get(self.steps.len())
            .map(|step| (self.steps.len() as Seq, step.signature.to_string()))
    }

    /// Forgets the recorded values once replay has caught up, so a long-lived execution does
    /// not keep its inputs twice.
    pub(crate) fn finish_replay(&mut self) {
        if !self.is_replaying() {
            self.recorded = Vec::new();
        }
    }

    fn record_new(&mut self, kind: HistoryEventKind) {
        self.new_events.push(HistoryEvent { at: self.now, kind });
    }

    /// Registers the next step. During replay, checks it against history and returns the
    /// recorded value; for a new step, returns `None` and the caller records it.
    fn begin_step(&mut self, machine: StepMachine) -> Result<(Seq, Option<Value>), ReplayError> {
        let seq = self.next_seq();
        let recorded = match self.recorded.get_mut(seq as usize) {
            Some(recorded) if !machine.has_signature(&recorded.signature) => {
                let recorded = recorded.signature.to_string();
                return Err(self.non_determinism(seq, recorded, &machine.signature()));
            }
            // Each recorded step is asked for once: its value can be moved out.
            Some(recorded) => Some(std::mem::take(&mut recorded.value)),
            None => None,
        };
        self.steps.push(machine);
        Ok((seq, recorded))
    }

    fn non_determinism(
        &self,
        seq: Seq,
        recorded: String,
        attempted: &StepSignature,
    ) -> ReplayError {
        ReplayError::NonDeterminism {
            workflow: self.info.workflow.clone(),
            seq,
            recorded,
            attempted: attempted.to_string(),
        }
    }

    /// Records a failure found inside a context call; the first one wins.
    pub(crate) fn fail(&mut self, error: ReplayError) {
        self.failure.get_or_insert(error);
    }

    // ---- steps the context starts -------------------------------------------------------

    pub(crate) fn schedule_task(
        &mut self,
        name: &'static str,
        input: Value,
        options: TaskOptions,
    ) -> Result<Seq, ReplayError> {
        // A replayed step only needs the input in its machine; a new one also records it.
        let kept = if self.is_replaying() {
            Value::Null
        } else {
            input.clone()
        };
        let machine = StepMachine::Task(TaskMachine::new(name, input, options));
        let (seq, recorded) = self.begin_step(machine)?;
        if recorded.is_none() {
            let input = kept;
            self.record_new(HistoryEventKind::TaskScheduled {
                seq,
                name: name.to_owned(),
                input: input.clone(),
            });
            self.commands.push(Command::ScheduleTask(Attempt {
                execution_id: self.info.execution_id.clone(),
                seq,
                attempt: 1,
                name: name.to_owned(),
                input,
                not_before: None,
                timeout_ms: options.timeout_ms,
                heartbeat_ms: options.heartbeat_ms,
            }));
        }
        Ok(seq)
    }

    pub(crate) fn start_timer(
        &mut self,
        until: Timestamp,
        owner: TimerOwner,
    ) -> Result<Seq, ReplayError> {
        let (seq, recorded) =
            self.begin_step(StepMachine::Timer(TimerMachine::new(until, owner)))?;
        match recorded {
            Some(value) => {
                let recorded_until = Timestamp::from_millis(value.as_u64().unwrap_or_default());
                if let Some(StepMachine::Timer(timer)) = self.steps.last_mut() {
                    timer.until = recorded_until;
                }
            }
            None => {
                self.record_new(HistoryEventKind::TimerScheduled { seq, until });
                self.commands.push(Command::StartTimer { seq, until });
            }
        }
        Ok(seq)
    }

    pub(crate) fn send_signal(
        &mut self,
        execution_id: &str,
        name: &str,
        payload: Value,
    ) -> Result<Seq, ReplayError> {
        let machine = StepMachine::Instant(InstantMachine {
            signature: StepSignature::SignalSent(name.to_owned()),
        });
        let (seq, recorded) = self.begin_step(machine)?;
        if recorded.is_none() {
            self.record_new(HistoryEventKind::SignalSent {
                seq,
                execution_id: execution_id.to_owned(),
                name: name.to_owned(),
                payload: payload.clone(),
            });
            self.commands.push(Command::SendSignal {
                seq,
                execution_id: execution_id.to_owned(),
                name: name.to_owned(),
                payload,
                signal_id: format!("{}/{seq}", self.info.execution_id),
            });
        }
        Ok(seq)
    }

    /// Emits events built by `build(seq)`; ids and times come from the step, so replay and
    /// de-duplication agree.
    pub(crate) fn emit(
        &mut self,
        build: impl FnOnce(&ExecutionInfo, Seq, Timestamp) -> Vec<EventEnvelope>,
    ) -> Result<Seq, ReplayError> {
        let machine = StepMachine::Instant(InstantMachine {
            signature: StepSignature::Emit,
        });
        let (seq, recorded) = self.begin_step(machine)?;
        if recorded.is_none() {
            let events = build(&self.info, seq, self.now);
            self.record_new(HistoryEventKind::EventsEmitted {
                seq,
                events: events.clone(),
            });
            self.commands.push(Command::EmitEvents { seq, events });
        }
        Ok(seq)
    }

    pub(crate) fn start_child(
        &mut self,
        name: &str,
        input: Value,
        parent_close: ParentClosePolicy,
    ) -> Result<Seq, ReplayError> {
        let execution_id = format!("{}/child-{}", self.info.execution_id, self.next_seq());
        let machine = ChildMachine::new(name.to_owned(), execution_id.clone(), parent_close);
        let (seq, recorded) = self.begin_step(StepMachine::Child(machine))?;
        if recorded.is_none() {
            self.record_new(HistoryEventKind::ChildWorkflowScheduled {
                seq,
                name: name.to_owned(),
                execution_id: execution_id.clone(),
                input: input.clone(),
                parent_close,
            });
            self.commands.push(Command::StartChildWorkflow {
                seq,
                name: name.to_owned(),
                execution_id,
                input,
            });
        }
        Ok(seq)
    }

    /// `ctx.now()`, `ctx.random()`, `ctx.uuid()`: the recorded value in replay, else
    /// `fresh(seq)`, recorded.
    pub(crate) fn record_value(
        &mut self,
        source: RecordedValue,
        fresh: impl FnOnce(&ExecutionInfo, Seq, Timestamp) -> Value,
    ) -> Result<Value, ReplayError> {
        let machine = StepMachine::Instant(InstantMachine {
            signature: StepSignature::Value(value_source_name(source)),
        });
        let (seq, recorded) = self.begin_step(machine)?;
        Ok(match recorded {
            Some(value) => value,
            None => {
                let value = fresh(&self.info, seq, self.now);
                self.record_new(HistoryEventKind::ValueRecorded {
                    seq,
                    source,
                    value: value.clone(),
                });
                value
            }
        })
    }

    // ---- signals ------------------------------------------------------------------------

    /// Starts an `expect_signal`: takes a buffered signal at once, or queues a waiter with an
    /// optional timeout timer.
    pub(crate) fn expect_signal(
        &mut self,
        name: &str,
        timeout_until: Option<Timestamp>,
    ) -> Result<SignalClaim, ReplayError> {
        let channel = self.signals.entry(name.to_owned()).or_default();
        if let Some(payload) = channel.unclaimed.pop_front() {
            return Ok(SignalClaim::Ready(payload));
        }
        let id = self.next_waiter;
        self.next_waiter += 1;
        channel.waiters.push_back(id);
        self.waiters.insert(
            id,
            SignalWaiter {
                name: name.to_owned(),
                result: None,
                waker: None,
            },
        );
        if let Some(until) = timeout_until {
            self.start_timer(until, TimerOwner::SignalTimeout(id))?;
        }
        Ok(SignalClaim::Waiting(id))
    }

    pub(crate) fn poll_waiter(&mut self, id: u64, waker: &Waker) -> Option<Result<Value, Failure>> {
        let waiter = self.waiters.get_mut(&id)?;
        match waiter.result.take() {
            Some(result) => {
                self.waiters.remove(&id);
                Some(result)
            }
            None => {
                waiter.waker = Some(waker.clone());
                None
            }
        }
    }

    /// A waiter's future was dropped (for example it lost a race): it stops waiting, and a
    /// signal it was handed but never saw goes to the next waiter or back to the buffer.
    pub(crate) fn drop_waiter(&mut self, id: u64) {
        let Some(waiter) = self.waiters.remove(&id) else {
            return;
        };
        let channel = self.signals.entry(waiter.name.clone()).or_default();
        channel.waiters.retain(|w| *w != id);
        if let Some(Ok(payload)) = waiter.result {
            self.hand_out_signal(&waiter.name, payload, true);
        }
    }

    fn hand_out_signal(&mut self, name: &str, payload: Value, to_front: bool) {
        let channel = self.signals.entry(name.to_owned()).or_default();
        match channel.waiters.pop_front() {
            Some(id) => {
                if let Some(waiter) = self.waiters.get_mut(&id) {
                    waiter.result = Some(Ok(payload));
                    if let Some(waker) = waiter.waker.take() {
                        waker.wake();
                    }
                }
            }
            None if to_front => channel.unclaimed.push_front(payload),
            None => channel.unclaimed.push_back(payload),
        }
    }

    /// The next signal of a stream at `cursor`, or registers the stream's waker.
    pub(crate) fn poll_stream(
        &mut self,
        name: &str,
        cursor: usize,
        waker: &Waker,
    ) -> Option<Value> {
        let channel = self.signals.entry(name.to_owned()).or_default();
        match channel.log.get(cursor) {
            Some(payload) => Some(payload.clone()),
            None => {
                channel.stream_wakers.push(waker.clone());
                None
            }
        }
    }

    // ---- sagas ---------------------------------------------------------------------------

    pub(crate) fn new_saga(&mut self) -> u64 {
        self.next_saga += 1;
        self.next_saga
    }

    /// Takes the registered compensations of `saga` (of every saga with `None`), newest first.
    fn take_compensations(
        &mut self,
        saga: Option<u64>,
    ) -> impl Iterator<Item = PendingCompensation> {
        let (taken, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.compensations)
            .into_iter()
            .partition(|c| saga.is_none_or(|s| c.saga == s));
        self.compensations = kept;
        taken
            .into_iter()
            .rev()
            .map(|c| PendingCompensation::NotBegun(c.run))
    }

    fn add_compensation_run(&mut self, queue: VecDeque<PendingCompensation>) -> u64 {
        self.next_compensation_run += 1;
        let run = CompensationRun {
            queue,
            errors: Vec::new(),
        };
        self.compensation_runs
            .insert(self.next_compensation_run, run);
        self.next_compensation_run
    }

    /// Begins running `saga`'s compensations, newest first; returns the run's id.
    pub(crate) fn begin_compensation_run(&mut self, saga: u64) -> u64 {
        let queue = self.take_compensations(Some(saga)).collect();
        self.add_compensation_run(queue)
    }

    /// The cleanup of a cancel: one run that finishes every run under way (newest first, the
    /// compensation in flight before the rest), then every compensation not yet begun, newest
    /// first.
    pub(crate) fn begin_cleanup_run(&mut self) -> u64 {
        let mut queue: VecDeque<_> = std::mem::take(&mut self.compensation_runs)
            .into_values()
            .rev()
            .flat_map(|run| run.queue)
            .collect();
        queue.extend(self.take_compensations(None));
        self.add_compensation_run(queue)
    }

    pub(crate) fn next_compensation(&mut self, run: u64) -> NextCompensation {
        let Some(entry) = self.compensation_runs.get_mut(&run) else {
            return NextCompensation::Done(Vec::new());
        };
        match entry.queue.pop_front() {
            Some(next) => NextCompensation::Run(next),
            None => NextCompensation::Done(
                self.compensation_runs
                    .remove(&run)
                    .map(|run| run.errors)
                    .unwrap_or_default(),
            ),
        }
    }

    /// The compensation `run` polled waits: it goes back to the front of its run.
    pub(crate) fn compensation_waits(
        &mut self,
        run: u64,
        future: futures::future::BoxFuture<'static, Result<(), String>>,
    ) {
        self.compensation_runs
            .entry(run)
            .or_default()
            .queue
            .push_front(PendingCompensation::Begun(future));
    }

    pub(crate) fn compensation_failed(&mut self, run: u64, error: String) {
        if let Some(run) = self.compensation_runs.get_mut(&run) {
            run.errors.push(error);
        }
    }

    /// Everything that could still run compensations, taken out so the caller drops it
    /// outside the state's lock (the futures hold the context).
    pub(crate) fn take_compensation_work(&mut self) -> impl Send + 'static {
        (
            std::mem::take(&mut self.compensations),
            std::mem::take(&mut self.compensation_runs),
        )
    }

    // ---- polling steps ---------------------------------------------------------------------

    pub(crate) fn poll_step(&mut self, seq: Seq, waker: &Waker) -> Option<Result<Value, Failure>> {
        self.steps
            .get_mut(seq as usize)
            .and_then(StepMachine::resolution)
            .and_then(|resolution| resolution.poll_take(waker))
    }

    // ---- inbox and history -----------------------------------------------------------------

    /// Turns a live inbox event into the history events it causes (none for a duplicate or a
    /// stale attempt), scheduling retries as the task's policy says.
    pub(crate) fn accept(
        &mut self,
        event: InboxEvent,
    ) -> Result<Vec<HistoryEventKind>, ReplayError> {
        let invalid = |state: &Self, reason: String| ReplayError::InvalidInbox {
            workflow: state.info.workflow.clone(),
            reason,
        };
        Ok(match event {
            InboxEvent::TaskCompleted {
                seq,
                attempt,
                result,
            } => {
                let Some(StepMachine::Task(task)) = self.steps.get(seq as usize) else {
                    return Err(invalid(
                        self,
                        format!("no task was scheduled at sequence {seq}"),
                    ));
                };
                let (events, retry) =
                    task.on_result(&self.info.execution_id, seq, attempt, result, self.now);
                if let Some(retry) = retry {
                    self.commands.push(Command::ScheduleTask(retry));
                }
                events
            }
            InboxEvent::TimerFired { seq } => match self.steps.get(seq as usize) {
                Some(StepMachine::Timer(timer)) => timer.on_due(seq),
                _ => {
                    return Err(invalid(
                        self,
                        format!("no timer was started at sequence {seq}"),
                    ))
                }
            },
            InboxEvent::Signal { name, payload, id } => {
                if id
                    .as_ref()
                    .is_some_and(|id| self.seen_signal_ids.contains(id))
                {
                    Vec::new()
                } else {
                    vec![HistoryEventKind::SignalReceived { name, payload, id }]
                }
            }
            InboxEvent::ChildCompleted { seq, result } => match self.steps.get(seq as usize) {
                Some(StepMachine::Child(child)) => child.on_ended(seq, result),
                _ => {
                    return Err(invalid(
                        self,
                        format!("no child workflow was started at sequence {seq}"),
                    ))
                }
            },
            InboxEvent::Cancel { reason } => {
                if self.cancel_requested.is_some() {
                    Vec::new()
                } else {
                    vec![HistoryEventKind::CancelRequested { reason }]
                }
            }
            InboxEvent::DeadlineReached => vec![HistoryEventKind::WorkflowTimedOut],
            InboxEvent::Terminate { reason } => {
                vec![HistoryEventKind::WorkflowTerminated { reason }]
            }
        })
    }

    /// Moves the machines by one history event (replayed or new). `index` locates the event
    /// in errors.
    pub(crate) fn apply(
        &mut self,
        kind: &HistoryEventKind,
        index: usize,
    ) -> Result<(), ReplayError> {
        let corrupt = |state: &Self, reason: String| ReplayError::CorruptHistory {
            workflow: state.info.workflow.clone(),
            index,
            reason,
        };
        if let Some(seq) = kind.seq() {
            if seq as usize >= self.steps.len() && RecordedStep::from_event(kind).is_none() {
                // History answers a step it never scheduled: the history is broken.
                let Some(recorded) = self.recorded.get(seq as usize) else {
                    return Err(corrupt(
                        self,
                        format!(
                            "a `{}` event for step {seq}, which history never scheduled",
                            kind.type_name()
                        ),
                    ));
                };
                // History answers a step the code never reached: the code changed.
                let recorded = recorded.signature.to_string();
                return Err(ReplayError::NonDeterminism {
                    workflow: self.info.workflow.clone(),
                    seq,
                    recorded,
                    attempted: "nothing: the workflow did not reach this step".to_owned(),
                });
            }
        }
        match kind {
            HistoryEventKind::TaskAttemptFailed { seq, attempt, .. } => match self.step_mut(*seq) {
                Some(StepMachine::Task(task)) => task
                    .on_attempt_failed(*attempt)
                    .map_err(|r| corrupt(self, r))?,
                _ => return Err(corrupt(self, format!("sequence {seq} is not a task"))),
            },
            HistoryEventKind::TaskSucceeded { seq, result, .. } => {
                self.resolve(*seq, Ok(result.clone()), StepKind::Task, index)?
            }
            HistoryEventKind::TaskFailed { seq, error, .. } => {
                self.resolve(*seq, Err(error.clone()), StepKind::Task, index)?
            }
            HistoryEventKind::ChildWorkflowSucceeded { seq, result } => {
                self.resolve(*seq, Ok(result.clone()), StepKind::Child, index)?
            }
            HistoryEventKind::ChildWorkflowFailed { seq, error } => {
                self.resolve(*seq, Err(error.clone()), StepKind::Child, index)?
            }
            HistoryEventKind::TimerFired { seq } => {
                let owner = match self.step_mut(*seq) {
                    Some(StepMachine::Timer(timer)) => {
                        timer.fired = true;
                        timer.owner
                    }
                    _ => return Err(corrupt(self, format!("sequence {seq} is not a timer"))),
                };
                match owner {
                    TimerOwner::Sleep => {
                        self.resolve(*seq, Ok(Value::Null), StepKind::Timer, index)?
                    }
                    TimerOwner::SignalTimeout(waiter) => self.time_out_waiter(waiter, *seq),
                }
            }
            HistoryEventKind::SignalReceived { name, payload, id } => {
                if let Some(id) = id {
                    self.seen_signal_ids.insert(id.clone());
                }
                let channel = self.signals.entry(name.clone()).or_default();
                channel.log.push(payload.clone());
                for waker in channel.stream_wakers.drain(..) {
                    waker.wake();
                }
                self.hand_out_signal(name, payload.clone(), false);
            }
            HistoryEventKind::CancelRequested { reason } => {
                self.cancel_requested = Some(reason.clone());
            }
            HistoryEventKind::WorkflowTimedOut => self.timed_out = true,
            HistoryEventKind::WorkflowTerminated { reason } => {
                self.terminated = Some(reason.clone())
            }
            HistoryEventKind::ChildCancelRequested { seq, .. } => match self.step_mut(*seq) {
                Some(StepMachine::Child(_)) => {}
                _ => return Err(corrupt(self, format!("sequence {seq} is not a child"))),
            },
            HistoryEventKind::WorkflowStarted { .. } => {
                return Err(corrupt(self, "a second WorkflowStarted event".to_owned()))
            }
            // Scheduling events are matched when the code asks for the step; terminal events
            // are compared by the executor.
            HistoryEventKind::TaskScheduled { .. }
            | HistoryEventKind::TimerScheduled { .. }
            | HistoryEventKind::SignalSent { .. }
            | HistoryEventKind::EventsEmitted { .. }
            | HistoryEventKind::ChildWorkflowScheduled { .. }
            | HistoryEventKind::ValueRecorded { .. }
            | HistoryEventKind::WorkflowSucceeded { .. }
            | HistoryEventKind::WorkflowFailed { .. }
            | HistoryEventKind::WorkflowCancelled { .. } => {}
        }
        Ok(())
    }

    /// The children that closing the execution now cancels (step, execution id).
    pub(crate) fn children_to_cancel(&self) -> Vec<(Seq, String)> {
        self.steps
            .iter()
            .enumerate()
            .filter_map(|(seq, step)| match step {
                StepMachine::Child(child) if child.cancelled_by_parent_close() => {
                    Some((seq as Seq, child.execution_id.clone()))
                }
                _ => None,
            })
            .collect()
    }

    fn step_mut(&mut self, seq: Seq) -> Option<&mut StepMachine> {
        self.steps.get_mut(seq as usize)
    }

    fn resolve(
        &mut self,
        seq: Seq,
        result: Result<Value, Failure>,
        expected: StepKind,
        index: usize,
    ) -> Result<(), ReplayError> {
        let workflow = self.info.workflow.clone();
        // A result must answer a step of its own kind (a task result never ends a timer).
        let fits = self
            .steps
            .get(seq as usize)
            .is_some_and(|step| step.kind() == expected);
        if !fits {
            return Err(ReplayError::CorruptHistory {
                workflow,
                index,
                reason: format!("sequence {seq} is not a {expected}"),
            });
        }
        match self.step_mut(seq).and_then(StepMachine::resolution) {
            Some(resolution) if !resolution.is_resolved() => {
                resolution.resolve(result);
                if let Some(StepMachine::Task(task)) = self.step_mut(seq) {
                    task.input = Value::Null;
                }
                Ok(())
            }
            Some(_) => Err(ReplayError::CorruptHistory {
                workflow,
                index,
                reason: format!("sequence {seq} was already completed"),
            }),
            None => Err(ReplayError::CorruptHistory {
                workflow,
                index,
                reason: format!("sequence {seq} is not a {expected}"),
            }),
        }
    }

    fn time_out_waiter(&mut self, id: u64, timer_seq: Seq) {
        let Some(waiter) = self.waiters.get_mut(&id) else {
            return;
        };
        if waiter.result.is_some() {
            return;
        }
        waiter.result = Some(Err(Failure::new(
            StepErrorKind::SignalTimedOut,
            format!(
                "signal `{}` did not arrive before timer {timer_seq} fired",
                waiter.name
            ),
        )));
        if let Some(waker) = waiter.waker.take() {
            waker.wake();
        }
        let name = waiter.name.clone();
        if let Some(channel) = self.signals.get_mut(&name) {
            channel.waiters.retain(|w| *w != id);
        }
    }
}

/// The result of starting an `expect_signal`.
pub(crate) enum SignalClaim {
    Ready(Value),
    Waiting(u64),
}

/// A number in `0.0..1.0` derived from the execution, step and attempt: the jitter of a retry
/// is random across executions yet the same on every replay.
pub(crate) fn jitter_unit(execution_id: &str, seq: Seq, attempt: u32) -> f64 {
    let hash = stable_hash(&[
        execution_id.as_bytes(),
        &seq.to_le_bytes(),
        &attempt.to_le_bytes(),
    ]);
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// FNV-1a followed by a SplitMix64 finaliser: stable across builds and platforms, unlike
/// `std`'s `DefaultHasher`.
pub(crate) fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.iter() {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}
