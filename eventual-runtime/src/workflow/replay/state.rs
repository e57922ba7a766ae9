//! The replay state of one execution: steps by sequence number, buffered signals, the new
//! history events and commands of the current step.
//!
//! Replay and live steps share one path: a live inbox event is first turned into history
//! events ([`ReplayState::accept`]), and every history event, old or new, moves the machines
//! through [`ReplayState::apply`].

use super::machines::{
    describe_verdict, ChildMachine, InstantMachine, ReceivedUpdate, RecordedVerdict, Sagas,
    SignalClaim, Signals, StepKind, StepMachine, StepSignature, TaskMachine, TimerMachine,
    TimerOwner, Updates,
};
use super::ReplayError;
use crate::error::Failure;
use crate::event::EventEnvelope;
use crate::task::{Attempt, TaskOptions};
use crate::time::Timestamp;
use crate::workflow::command::{Command, InboxEvent};
use crate::workflow::history::{
    HistoryEvent, HistoryEventKind, ParentClosePolicy, RecordedValue, Seq,
};
use serde_json::Value;
use std::task::Waker;

/// What history recorded when a step was scheduled, kept during replay to compare with what the
/// code asks for and to read back recorded values.
#[derive(Clone, Debug)]
pub(crate) struct RecordedStep {
    pub(crate) signature: StepSignature,
    /// The recorded value of a timer (`until`), child (its parent-close policy) or
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
            // The policy the child was started with holds on replay, even if the code's
            // changed since.
            HistoryEventKind::ChildWorkflowScheduled {
                seq,
                name,
                parent_close,
                ..
            } => (
                *seq,
                StepSignature::Child(name.clone()),
                serde_json::to_value(parent_close).unwrap_or_default(),
            ),
            HistoryEventKind::ValueRecorded { seq, source, value } => (
                *seq,
                StepSignature::Value(value_source_name(*source)),
                value.clone(),
            ),
            HistoryEventKind::PatchMarked { seq, patch } => {
                (*seq, StepSignature::Patch(patch.clone()), Value::Null)
            }
            HistoryEventKind::AttributeSet { seq, key, .. } => {
                (*seq, StepSignature::Attribute(key.clone()), Value::Null)
            }
            HistoryEventKind::UpdateAccepted {
                seq,
                name,
                update_id,
                ..
            } => (
                *seq,
                StepSignature::UpdateAccepted {
                    name: name.clone(),
                    update_id: update_id.clone(),
                },
                Value::Null,
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

/// Identity of the execution, fixed at start, and the catalog it was started with.
#[derive(Clone)]
pub(crate) struct ExecutionInfo {
    pub(crate) workflow: String,
    pub(crate) execution_id: String,
    pub(crate) correlation_id: String,
    pub(crate) catalog: &'static dyn super::Catalog,
    /// Which run of the execution this is (see [`RunLink`](super::RunLink)).
    pub(crate) run: crate::workflow::history::RunLink,
}

pub(crate) struct ReplayState {
    pub(crate) info: ExecutionInfo,
    /// The time of the event being applied: the clock the workflow sees.
    pub(crate) now: Timestamp,
    /// Scheduling events of history not yet asked for again by the code (replay only).
    recorded: Vec<RecordedStep>,
    steps: Vec<StepMachine>,
    pub(crate) signals: Signals,
    pub(crate) updates: Updates,
    pub(crate) cancel_requested: Option<Option<String>>,
    pub(crate) timed_out: bool,
    /// Set by a terminate, with its reason.
    pub(crate) terminated: Option<Option<String>>,
    pub(crate) sagas: Sagas,
    /// The first error found while the workflow ran; the executor reports it.
    pub(crate) failure: Option<ReplayError>,
    /// The input of the next run, once the body has asked to continue as new.
    pub(crate) continue_requested: Option<Value>,
    pub(crate) new_events: Vec<HistoryEvent>,
    pub(crate) commands: Vec<Command>,
    /// The answers of queries, as the code last set them: rebuilt by replay, never recorded.
    pub(crate) query_answers: std::collections::BTreeMap<String, Value>,
}

impl ReplayState {
    pub(crate) fn new(
        info: ExecutionInfo,
        now: Timestamp,
        recorded: Vec<RecordedStep>,
        updates: Updates,
    ) -> Self {
        ReplayState {
            updates,
            info,
            now,
            // Replay asks for every recorded step again: room for them all up front.
            steps: Vec::with_capacity(recorded.len()),
            recorded,
            signals: Signals::default(),
            cancel_requested: None,
            timed_out: false,
            terminated: None,
            sagas: Sagas::default(),
            failure: None,
            continue_requested: None,
            new_events: Vec::new(),
            commands: Vec::new(),
            query_answers: std::collections::BTreeMap::new(),
        }
    }

    pub(crate) fn is_replaying(&self) -> bool {
        self.steps.len() < self.recorded.len()
    }

    /// The sequence number of this run's first step: runs after a continue-as-new go on
    /// numbering where the previous run stopped, so that everything keyed by (execution,
    /// step) (task attempts, timers, signal and event ids, child ids) never collides across
    /// runs, and a late result for an old run's step is recognised as stale.
    pub(crate) fn first_seq(&self) -> Seq {
        self.info.run.first_seq
    }

    /// Where step `seq` sits in this run's `steps` and `recorded`, if it belongs to this run.
    fn index_of(&self, seq: Seq) -> Option<usize> {
        seq.checked_sub(self.first_seq())
            .map(|index| index as usize)
    }

    fn seq_at(&self, index: usize) -> Seq {
        self.first_seq() + index as Seq
    }

    fn step(&self, seq: Seq) -> Option<&StepMachine> {
        self.index_of(seq).and_then(|index| self.steps.get(index))
    }

    pub(crate) fn next_seq(&self) -> Seq {
        self.seq_at(self.steps.len())
    }

    /// The first step the code asked for beyond the steps history holds, if any.
    pub(crate) fn step_beyond_history(&self) -> Option<(Seq, String)> {
        let index = self.recorded.len();
        self.steps
            .get(index)
            .map(|step| (self.seq_at(index), step.signature().to_string()))
    }

    /// The first scheduled step of history the code has not asked for again, if any (patch
    /// markers nobody asks for any more do not count).
    pub(crate) fn unreached_recorded_step(&self) -> Option<(Seq, String)> {
        self.recorded
            .iter()
            .enumerate()
            .skip(self.steps.len())
            .find(|(_, step)| !matches!(step.signature, StepSignature::Patch(_)))
            .map(|(index, step)| (self.seq_at(index), step.signature.to_string()))
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
        self.pass_unasked_patches(&machine.signature());
        let seq = self.next_seq();
        let recorded = match self.recorded.get_mut(self.steps.len()) {
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

    /// Passes over recorded patch markers the code does not ask for (their `patched` call was
    /// removed once no execution needed the old branch), so that the steps after them line up.
    fn pass_unasked_patches(&mut self, asked: &StepSignature) {
        while let Some(recorded) = self.recorded.get(self.steps.len()) {
            match &recorded.signature {
                StepSignature::Patch(_) if recorded.signature != *asked => {
                    let signature = recorded.signature.clone();
                    self.steps
                        .push(StepMachine::Instant(InstantMachine { signature }));
                }
                _ => break,
            }
        }
    }

    /// `ctx.patched(patch)`: `true` on a first run (the marker is recorded) and on a replay of
    /// a history that recorded the marker here; `false` on a replay of a history from before
    /// the patch, which then goes on with the old branch's steps.
    pub(crate) fn patched(&mut self, patch: &str) -> Result<bool, ReplayError> {
        let asked = StepSignature::Patch(patch.to_owned());
        self.pass_unasked_patches(&asked);
        match self.recorded.get(self.steps.len()) {
            Some(recorded) if recorded.signature != asked => Ok(false),
            _ => {
                let machine = StepMachine::Instant(InstantMachine { signature: asked });
                let (seq, recorded) = self.begin_step(machine)?;
                if recorded.is_none() {
                    self.record_new(HistoryEventKind::PatchMarked {
                        seq,
                        patch: patch.to_owned(),
                    });
                }
                Ok(true)
            }
        }
    }

    /// `ctx.set_attribute(key, value)`: a step, so replay checks it like any other.
    pub(crate) fn set_attribute(&mut self, key: &str, value: Value) -> Result<(), ReplayError> {
        let machine = StepMachine::Instant(InstantMachine {
            signature: StepSignature::Attribute(key.to_owned()),
        });
        let (seq, recorded) = self.begin_step(machine)?;
        if recorded.is_none() {
            self.record_new(HistoryEventKind::AttributeSet {
                seq,
                key: key.to_owned(),
                value,
            });
        }
        Ok(())
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
        self.pass_unasked_patches(&StepSignature::Task(name.to_owned()));
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
        if let Some(recorded) = recorded {
            let recorded = serde_json::from_value(recorded).unwrap_or_default();
            if let Some(StepMachine::Child(child)) = self.steps.last_mut() {
                child.parent_close = recorded;
            }
        } else {
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
        let claim = self.signals.claim(name);
        if let (SignalClaim::Waiting(id), Some(until)) = (&claim, timeout_until) {
            self.start_timer(until, TimerOwner::SignalTimeout(*id))?;
        }
        Ok(claim)
    }

    // ---- updates ------------------------------------------------------------------------

    /// Accepts update `update` with `answer`: a step, checked on replay like any other, and
    /// against the verdict history holds for the update.
    pub(crate) fn accept_update(
        &mut self,
        update: &ReceivedUpdate,
        answer: Value,
    ) -> Result<(), ReplayError> {
        let attempted = StepSignature::UpdateAccepted {
            name: update.name.clone(),
            update_id: update.update_id.clone(),
        };
        if let Some(RecordedVerdict::Rejected { name }) = self.updates.recorded(&update.update_id) {
            let recorded = describe_verdict(false, name, &update.update_id);
            return Err(self.non_determinism(self.next_seq(), recorded, &attempted));
        }
        let machine = StepMachine::Instant(InstantMachine {
            signature: attempted,
        });
        let (seq, recorded) = self.begin_step(machine)?;
        if recorded.is_none() {
            self.record_new(HistoryEventKind::UpdateAccepted {
                seq,
                name: update.name.clone(),
                update_id: update.update_id.clone(),
                answer,
            });
        }
        self.updates.close(
            &update.update_id,
            RecordedVerdict::Accepted {
                name: update.name.clone(),
                seq,
            },
        );
        Ok(())
    }

    /// Rejects update `update_id` (named `name`) with `reason`. No step: a rejected update
    /// leaves the workflow's progress as it was. On replay, history must hold the same
    /// rejection.
    pub(crate) fn reject_update(
        &mut self,
        name: &str,
        update_id: &str,
        reason: String,
    ) -> Result<(), ReplayError> {
        if !self.updates.is_open(update_id) {
            return Ok(());
        }
        match self.updates.recorded(update_id) {
            Some(RecordedVerdict::Accepted { name, seq }) => {
                return Err(ReplayError::NonDeterminism {
                    workflow: self.info.workflow.clone(),
                    seq: *seq,
                    recorded: describe_verdict(true, name, update_id),
                    attempted: describe_verdict(false, name, update_id),
                });
            }
            Some(RecordedVerdict::Rejected { .. }) => {}
            None => self.record_new(HistoryEventKind::UpdateRejected {
                name: name.to_owned(),
                update_id: update_id.to_owned(),
                reason,
            }),
        }
        self.updates.close(
            update_id,
            RecordedVerdict::Rejected {
                name: name.to_owned(),
            },
        );
        Ok(())
    }

    // ---- polling steps ---------------------------------------------------------------------

    pub(crate) fn poll_step(&mut self, seq: Seq, waker: &Waker) -> Option<Result<Value, Failure>> {
        self.step_mut(seq)
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
        if event_seq(&event).is_some_and(|seq| seq < self.first_seq()) {
            // A late answer to a step of an earlier run (an engine that cannot recall what it
            // sent before a continue-as-new): that run is over, the answer means nothing now.
            return Ok(Vec::new());
        }
        Ok(match event {
            InboxEvent::TaskCompleted {
                seq,
                attempt,
                result,
            } => {
                let Some(StepMachine::Task(task)) = self.step(seq) else {
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
            InboxEvent::TimerFired { seq } => match self.step(seq) {
                Some(StepMachine::Timer(timer)) => timer.on_due(seq),
                _ => {
                    return Err(invalid(
                        self,
                        format!("no timer was started at sequence {seq}"),
                    ))
                }
            },
            InboxEvent::Signal { name, payload, id } => self.signals.on_arrived(name, payload, id),
            InboxEvent::Update {
                name,
                update_id,
                input,
            } => self.updates.on_arrived(ReceivedUpdate {
                name,
                update_id,
                input,
            }),
            InboxEvent::ChildCompleted { seq, result } => match self.step(seq) {
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
            let index = self.index_of(seq);
            if index.is_none_or(|index| index >= self.steps.len())
                && RecordedStep::from_event(kind).is_none()
            {
                // History answers a step it never scheduled: the history is broken.
                let Some(recorded) = index.and_then(|index| self.recorded.get(index)) else {
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
                    TimerOwner::SignalTimeout(waiter) => self.signals.time_out(waiter, *seq),
                }
            }
            HistoryEventKind::SignalReceived { name, payload, id } => {
                self.signals.on_received(name, payload, id.as_deref())
            }
            HistoryEventKind::UpdateReceived {
                name,
                update_id,
                input,
            } => self.updates.on_received(ReceivedUpdate {
                name: name.clone(),
                update_id: update_id.clone(),
                input: input.clone(),
            }),
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
            | HistoryEventKind::PatchMarked { .. }
            | HistoryEventKind::AttributeSet { .. }
            | HistoryEventKind::UpdateAccepted { .. }
            | HistoryEventKind::UpdateRejected { .. }
            | HistoryEventKind::WorkflowContinuedAsNew { .. }
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
            .filter_map(|(index, step)| match step {
                StepMachine::Child(child) if child.cancelled_by_parent_close() => {
                    Some((self.seq_at(index), child.execution_id.clone()))
                }
                _ => None,
            })
            .collect()
    }

    fn step_mut(&mut self, seq: Seq) -> Option<&mut StepMachine> {
        let index = self.index_of(seq)?;
        self.steps.get_mut(index)
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
        let fits = self.step(seq).is_some_and(|step| step.kind() == expected);
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
}

/// The step an inbox event answers, if any.
fn event_seq(event: &InboxEvent) -> Option<Seq> {
    match event {
        InboxEvent::TaskCompleted { seq, .. }
        | InboxEvent::TimerFired { seq }
        | InboxEvent::ChildCompleted { seq, .. } => Some(*seq),
        InboxEvent::Signal { .. }
        | InboxEvent::Update { .. }
        | InboxEvent::Cancel { .. }
        | InboxEvent::DeadlineReached
        | InboxEvent::Terminate { .. } => None,
    }
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
