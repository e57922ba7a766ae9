//! `WorkflowExecutor`: one live execution, stepped by inbox events (sticky) or rebuilt from
//! history (full replay).

use super::state::{ExecutionInfo, RecordedStep, ReplayState};
use super::{Catalog, ReplayError};
use crate::registry::WorkflowDescriptor;
use crate::time::Timestamp;
use crate::workflow::command::{Command, Continuation, InboxEvent, Outcome};
use crate::workflow::context::{CurrentWorkflow, WorkflowContext};
use crate::workflow::history::{HistoryEvent, HistoryEventKind, ParentRef, RunLink};
use crate::workflow::saga::RunCompensations;
use crate::workflow::WorkflowFuture;
use futures::future::BoxFuture;
use futures::task::{waker, ArcWake};
use futures::FutureExt;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

/// What one step produced: history to append and commands to carry out, in that order, once
/// the history is durable.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepOutput {
    /// Events to append to the execution's history.
    pub new_events: Vec<HistoryEvent>,
    /// Commands for the engine.
    pub commands: Vec<Command>,
    /// Set when the execution ended in this step.
    pub outcome: Option<Outcome>,
}

/// How to start an execution.
#[derive(Clone, Debug)]
pub struct StartRequest {
    /// The new execution's id.
    pub execution_id: String,
    /// The input, as JSON.
    pub input: Value,
    /// The caller's correlation id; the execution id when `None`.
    pub correlation_id: Option<String>,
    /// The parent, for a child workflow.
    pub parent: Option<ParentRef>,
    /// Which run of the execution this starts: `RunLink::FIRST`, or the run a
    /// continue-as-new asked for.
    pub run: RunLink,
    /// Events delivered right after the start, in the same step: the signals a previous run
    /// handed on ([`Continuation::carried`]).
    pub inbox: Vec<InboxEvent>,
}

impl StartRequest {
    /// A top-level execution with `input`.
    pub fn new(execution_id: impl Into<String>, input: Value) -> Self {
        StartRequest {
            execution_id: execution_id.into(),
            input,
            correlation_id: None,
            parent: None,
            run: RunLink::FIRST,
            inbox: Vec::new(),
        }
    }

    /// The next run of an execution whose run ended with `continuation`: same id, parent
    /// and correlation id, the continuation's input, then the signals it carried.
    pub fn continued(
        execution_id: impl Into<String>,
        correlation_id: String,
        parent: Option<ParentRef>,
        continuation: Continuation,
    ) -> Self {
        StartRequest {
            execution_id: execution_id.into(),
            input: continuation.input,
            correlation_id: Some(correlation_id),
            parent,
            run: continuation.run,
            inbox: continuation.carried,
        }
    }
}

#[derive(Default)]
struct WakeFlag(AtomicBool);

impl ArcWake for WakeFlag {
    fn wake_by_ref(this: &Arc<Self>) {
        this.0.store(true, Ordering::Release);
    }
}

/// A running execution of one workflow.
///
/// Engines keep executors in memory between steps (sticky execution: a step costs what its new
/// events cost) and rebuild one with [`WorkflowExecutor::replay`] after a restart or eviction.
/// Both paths give the same history and commands.
pub struct WorkflowExecutor {
    ctx: WorkflowContext,
    main: Option<WorkflowFuture>,
    cleanup: Option<BoxFuture<'static, ()>>,
    wake: Arc<WakeFlag>,
    outcome: Option<Outcome>,
    /// The run ended with `ctx.continue_as_new`: the execution goes on in another executor.
    continued: bool,
    /// The continuation to hand to the engine with this step's commands (it collects the
    /// step's unused inbox events first).
    continuation: Option<Continuation>,
    /// Replay of a history that already holds the end: the end is not recorded again.
    end_recorded: bool,
    /// Replay of a history whose end is a continue-as-new (not the execution's end).
    end_continued: bool,
    /// Events the executor has seen, for error positions.
    history_len: usize,
}

impl WorkflowExecutor {
    fn new(state: ReplayState) -> Self {
        let wake = Arc::new(WakeFlag::default());
        wake.0.store(true, Ordering::Release);
        WorkflowExecutor {
            ctx: WorkflowContext::new(state),
            main: None,
            cleanup: None,
            wake,
            outcome: None,
            continued: false,
            continuation: None,
            end_recorded: false,
            end_continued: false,
            history_len: 0,
        }
    }

    /// Starts a new execution of `workflow` at `now`, its task lookups answered by
    /// `catalog`. Fails, writing nothing, when the input does not deserialize.
    pub fn start_in(
        catalog: &'static dyn Catalog,
        workflow: &WorkflowDescriptor,
        request: StartRequest,
        now: Timestamp,
    ) -> Result<(Self, StepOutput), ReplayError> {
        let correlation_id = request
            .correlation_id
            .unwrap_or_else(|| request.execution_id.clone());
        let deadline = workflow
            .timeout_ms
            .map(|ms| now + std::time::Duration::from_millis(ms));
        let info = ExecutionInfo {
            workflow: workflow.name.to_owned(),
            execution_id: request.execution_id.clone(),
            correlation_id: correlation_id.clone(),
            catalog,
            run: request.run,
        };
        let mut executor = Self::new(ReplayState::new(
            info,
            now,
            Vec::new(),
            super::machines::Updates::default(),
        ));
        executor.begin(workflow, request.input.clone())?;
        executor.ctx.with_state(|state| {
            state.new_events.push(HistoryEvent {
                at: now,
                kind: HistoryEventKind::WorkflowStarted {
                    workflow: workflow.name.to_owned(),
                    execution_id: request.execution_id,
                    input: request.input,
                    correlation_id,
                    deadline,
                    parent: request.parent,
                    run_id: request.run.continued_from().map(|_| request.run.run_id()),
                    continued_from: request.run.continued_from(),
                    first_seq: request.run.first_seq,
                },
            });
            if let Some(at) = deadline {
                state.commands.push(Command::ScheduleDeadline { at });
            }
        });
        executor.history_len = 1;
        executor.drive()?;
        executor.feed(now, request.inbox)?;
        let output = executor.take_output();
        Ok((executor, output))
    }

    /// Rebuilds an execution by replaying its whole history through the code, its task
    /// lookups answered by `catalog`.
    pub fn replay_in(
        catalog: &'static dyn Catalog,
        workflow: &WorkflowDescriptor,
        history: &[HistoryEvent],
    ) -> Result<Self, ReplayError> {
        let corrupt = |index: usize, reason: String| ReplayError::CorruptHistory {
            workflow: workflow.name.to_owned(),
            index,
            reason,
        };
        let Some(HistoryEvent {
            at,
            kind:
                HistoryEventKind::WorkflowStarted {
                    workflow: recorded_workflow,
                    execution_id,
                    input,
                    correlation_id,
                    run_id,
                    first_seq,
                    ..
                },
        }) = history.first()
        else {
            return Err(corrupt(
                0,
                "a history must begin with WorkflowStarted".to_owned(),
            ));
        };
        if recorded_workflow != workflow.name {
            return Err(ReplayError::WrongWorkflow {
                expected: workflow.name.to_owned(),
                found: recorded_workflow.clone(),
            });
        }
        let run = RunLink::from_started(run_id.as_deref(), *first_seq)
            .map_err(|reason| corrupt(0, reason))?;
        let mut recorded = Vec::new();
        let mut end = None;
        for (index, event) in history.iter().enumerate() {
            if let Some(index) = end {
                return Err(corrupt(
                    index + 1,
                    "events after the end of the execution".to_owned(),
                ));
            }
            if event.kind.is_terminal() {
                end = Some(index);
            }
            if let Some((seq, step)) = RecordedStep::from_event(&event.kind) {
                let expected = run.first_seq + recorded.len() as u32;
                if seq != expected {
                    return Err(corrupt(
                        index,
                        format!("step {seq} is out of order: expected step {expected}"),
                    ));
                }
                recorded.push(step);
            }
        }
        let info = ExecutionInfo {
            workflow: workflow.name.to_owned(),
            execution_id: execution_id.clone(),
            correlation_id: correlation_id.clone(),
            catalog,
            run,
        };
        let updates = super::machines::Updates::with_recorded(
            super::machines::Updates::verdicts_of(history.iter().map(|event| &event.kind)),
        );
        let mut executor = Self::new(ReplayState::new(info, *at, recorded, updates));
        executor.end_recorded = end.is_some();
        executor.end_continued = end.is_some_and(|index| {
            matches!(
                history[index].kind,
                HistoryEventKind::WorkflowContinuedAsNew { .. }
            )
        });
        executor.begin(workflow, input.clone())?;
        executor.history_len = 1;
        executor.drive()?;
        for (index, event) in history.iter().enumerate().skip(1) {
            executor.history_len = index + 1;
            if executor.is_closed() {
                break;
            }
            executor.ctx.with_state(|state| {
                state.now = event.at;
                state.apply(&event.kind, index)
            })?;
            executor.drive()?;
        }
        executor.check_replay_caught_up()?;
        executor.ctx.with_state(|state| state.finish_replay());
        Ok(executor)
    }

    fn check_replay_caught_up(&self) -> Result<(), ReplayError> {
        let (unreached, beyond, workflow, next_seq) = self.ctx.with_state(|state| {
            (
                state.unreached_recorded_step(),
                state.step_beyond_history(),
                state.info.workflow.clone(),
                state.next_seq(),
            )
        });
        if let Some((seq, recorded)) = unreached {
            return Err(ReplayError::NonDeterminism {
                workflow,
                seq,
                recorded,
                attempted: if self.is_closed() {
                    "the end of the workflow".to_owned()
                } else {
                    "nothing: the workflow waits without reaching this step".to_owned()
                },
            });
        }
        let rejection = self
            .ctx
            .with_state(|state| state.updates.rejection_not_given());
        if let Some((update_id, name)) = rejection {
            return Err(ReplayError::NonDeterminism {
                workflow,
                seq: next_seq,
                recorded: super::machines::describe_verdict(false, &name, &update_id),
                attempted: "nothing: the workflow never gave this update a verdict".to_owned(),
            });
        }
        if self.end_recorded && self.is_closed() && self.end_continued != self.continued {
            // Both ended, one by continuing as new and the other for good.
            let name = |continued: bool| {
                if continued {
                    "a continue-as-new".to_owned()
                } else {
                    "the end of the workflow".to_owned()
                }
            };
            return Err(ReplayError::NonDeterminism {
                workflow,
                seq: next_seq,
                recorded: name(self.end_continued),
                attempted: name(self.continued),
            });
        }
        if self.end_recorded && !self.is_closed() {
            // The code went on where history ended: name the first step it asked for.
            let (seq, attempted) = beyond.unwrap_or_else(|| {
                (
                    next_seq,
                    "nothing more: it waits for something history never delivers".to_owned(),
                )
            });
            return Err(ReplayError::NonDeterminism {
                workflow,
                seq,
                recorded: "the end of the workflow".to_owned(),
                attempted,
            });
        }
        Ok(())
    }

    fn begin(&mut self, workflow: &WorkflowDescriptor, input: Value) -> Result<(), ReplayError> {
        let future = (workflow.start)(self.ctx.clone(), input).map_err(|reason| {
            ReplayError::InvalidInput {
                workflow: workflow.name.to_owned(),
                reason,
            }
        })?;
        self.main = Some(future);
        Ok(())
    }

    /// Feeds new inbox events at time `now`: each is recorded, applied, and the workflow runs
    /// until it blocks before the next one, so how events are split into steps never changes
    /// the result. Events for an ended execution are dropped.
    pub fn step(
        &mut self,
        now: Timestamp,
        inbox: Vec<InboxEvent>,
    ) -> Result<StepOutput, ReplayError> {
        self.feed(now, inbox)?;
        Ok(self.take_output())
    }

    /// Records and applies inbox events one by one, running the workflow after each.
    fn feed(&mut self, now: Timestamp, inbox: Vec<InboxEvent>) -> Result<(), ReplayError> {
        for event in inbox {
            if self.is_closed() {
                self.hand_on(event);
                continue;
            }
            let kinds = self.ctx.with_state(|state| {
                state.now = now;
                state.accept(event)
            })?;
            for kind in kinds {
                let index = self.history_len;
                // An end forced from outside (deadline, terminate) is recorded by `finish`,
                // after what closing does to running children.
                let recorded_by_finish = kind.is_terminal();
                if !recorded_by_finish {
                    self.history_len += 1;
                }
                self.ctx.with_state(|state| {
                    if !recorded_by_finish {
                        state.new_events.push(HistoryEvent {
                            at: now,
                            kind: kind.clone(),
                        });
                    }
                    state.apply(&kind, index)
                })?;
                self.drive()?;
            }
        }
        Ok(())
    }

    /// Whether update `update_id` was received and still waits for the workflow's verdict.
    pub fn update_is_open(&self, update_id: &str) -> bool {
        self.ctx
            .with_state(|state| state.updates.is_open(update_id))
    }

    /// The answer to query `name`, as the code last set it (`ctx.answer_query`), if it did.
    pub fn query(&self, name: &str) -> Option<Value> {
        self.ctx
            .with_state(|state| state.query_answers.get(name).cloned())
    }

    /// An inbox event that came after the run closed: outside events for the execution
    /// (signals, cancel, terminate) go on to the next run when this one continued as new;
    /// answers to this run's steps, and anything after the execution's end, are dropped.
    fn hand_on(&mut self, event: InboxEvent) {
        let Some(continuation) = self.continuation.as_mut() else {
            return;
        };
        if matches!(
            event,
            InboxEvent::Signal { .. }
                | InboxEvent::Update { .. }
                | InboxEvent::Cancel { .. }
                | InboxEvent::Terminate { .. }
        ) {
            continuation.carried.push(event);
        }
    }

    /// How the execution ended, once it has (never set by a continue-as-new, which ends
    /// only the run).
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// Whether this executor is done: the execution ended, or its run continued as new.
    /// Engines drop a closed executor.
    pub fn is_closed(&self) -> bool {
        self.outcome.is_some() || self.continued
    }

    /// The context handle of the execution.
    pub fn context(&self) -> &WorkflowContext {
        &self.ctx
    }

    fn take_output(&mut self) -> StepOutput {
        let (new_events, commands) = self.ctx.with_state(|state| {
            (
                std::mem::take(&mut state.new_events),
                std::mem::take(&mut state.commands),
            )
        });
        let mut commands = commands;
        if let Some(continuation) = self.continuation.take() {
            commands.push(Command::ContinueAsNew(continuation));
        }
        self.history_len = self.history_len.max(1);
        let outcome = commands.iter().find_map(|command| match command {
            Command::Finish { outcome } => Some(outcome.clone()),
            _ => None,
        });
        StepOutput {
            new_events,
            commands,
            outcome,
        }
    }

    /// Polls the workflow until nothing it waits on is ready.
    fn drive(&mut self) -> Result<(), ReplayError> {
        while !self.is_closed() {
            self.handle_interrupts();
            if self.is_closed() || !self.wake.0.swap(false, Ordering::AcqRel) {
                break;
            }
            let waker = waker(self.wake.clone());
            let mut cx = Context::from_waker(&waker);
            let finished = {
                let _current = CurrentWorkflow::enter(self.ctx.clone());
                if let Some(main) = self.main.as_mut() {
                    match main.as_mut().poll(&mut cx) {
                        Poll::Ready(result) => Some(match result {
                            Ok(result) => Outcome::Succeeded { result },
                            Err(error) => Outcome::Failed { error },
                        }),
                        Poll::Pending => None,
                    }
                } else if let Some(cleanup) = self.cleanup.as_mut() {
                    match cleanup.as_mut().poll(&mut cx) {
                        Poll::Ready(()) => Some(Outcome::Cancelled {
                            reason: self.cancel_reason(),
                        }),
                        Poll::Pending => None,
                    }
                } else {
                    None
                }
            };
            if let Some(error) = self.ctx.with_state(|state| state.failure.take()) {
                return Err(error);
            }
            if let Some(outcome) = finished {
                self.finish(outcome);
            } else if let Some(input) = self.ctx.with_state(|state| state.continue_requested.take())
            {
                // Only the body may continue as new: compensations running after a cancel
                // finish the cancellation.
                if self.main.is_some() {
                    self.continue_as_new(input);
                }
            }
        }
        // Closing the run drops the body's futures and rejects unanswered updates: a verdict
        // there that disagrees with history is reported like any other.
        match self.ctx.with_state(|state| state.failure.take()) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    fn cancel_reason(&self) -> Option<String> {
        self.ctx
            .with_state(|state| state.cancel_requested.clone().flatten())
    }

    /// A timeout or a terminate ends the execution at once; a cancellation stops the body and
    /// runs the compensations as cleanup: those under way first, then every other one.
    fn handle_interrupts(&mut self) {
        let (timed_out, terminated, cancelled) = self.ctx.with_state(|state| {
            (
                state.timed_out,
                state.terminated.clone(),
                state.cancel_requested.is_some(),
            )
        });
        if let Some(reason) = terminated {
            self.finish(Outcome::Terminated { reason });
        } else if timed_out {
            self.finish(Outcome::TimedOut);
        } else if cancelled && self.main.is_some() {
            // Dropped outside the state lock: dropping futures may touch the state.
            self.main = None;
            let run = self.ctx.with_state(|state| state.sagas.begin_cleanup_run());
            self.cleanup = Some(
                RunCompensations::new(self.ctx.clone(), run)
                    .map(drop)
                    .boxed(),
            );
            self.wake.0.store(true, Ordering::Release);
        }
    }

    /// Ends the execution: running children whose policy says so are asked to cancel, then
    /// the end is recorded (unless replay found it in history already).
    fn finish(&mut self, outcome: Outcome) {
        let recorded_now = self.close_run(outcome.verb());
        self.reject_unanswered_updates(outcome.verb());
        if recorded_now {
            self.ctx.with_state(|state| {
                let at = state.now;
                state.new_events.push(HistoryEvent {
                    at,
                    kind: outcome.to_history(),
                });
                state.commands.push(Command::Finish {
                    outcome: outcome.clone(),
                });
            });
        }
        self.outcome = Some(outcome);
    }

    /// Ends the run because the body called `ctx.continue_as_new(input)`: as at the
    /// execution's end, the body stops and running children whose policy says so are asked
    /// to cancel; then the run's end is recorded and the next run is asked for, handing on
    /// the signals no wait took (the body's dropped waits gave theirs back first).
    fn continue_as_new(&mut self, input: Value) {
        if self.close_run("continued as new") {
            let continuation =
                self.ctx.with_state(|state| {
                    let at = state.now;
                    state.new_events.push(HistoryEvent {
                        at,
                        kind: HistoryEventKind::WorkflowContinuedAsNew {
                            input: input.clone(),
                        },
                    });
                    let signals = state
                        .signals
                        .take_unclaimed()
                        .into_iter()
                        .map(|(name, payload, id)| InboxEvent::Signal { name, payload, id });
                    // Updates keep their ids: the caller waits on them in the next run.
                    let updates = state.updates.take_unclaimed().into_iter().map(|update| {
                        InboxEvent::Update {
                            name: update.name,
                            update_id: update.update_id,
                            input: update.input,
                        }
                    });
                    let carried = signals.chain(updates).collect();
                    Continuation {
                        input,
                        run: state.info.run.next(state.next_seq()),
                        carried,
                    }
                });
            self.continuation = Some(continuation);
        }
        self.continued = true;
    }

    /// The execution ended: every update it received and never answered is rejected, so that
    /// no caller waits for an answer that cannot come.
    fn reject_unanswered_updates(&mut self, verb: &str) {
        let failure = self.ctx.with_state(|state| {
            let reason = format!("the execution {verb} before the workflow answered the update");
            for update in state.updates.take_unclaimed() {
                if let Err(error) =
                    state.reject_update(&update.name, &update.update_id, reason.clone())
                {
                    return Some(error);
                }
            }
            None
        });
        if let Some(error) = failure {
            self.ctx.with_state(|state| state.fail(error));
        }
    }

    /// Stops the body and its cleanup and asks running children to cancel as their policy
    /// says (`verb` tells them why: "parent `id` <verb>"). Returns whether the run's end is
    /// to be recorded (not when replay found it in history already).
    fn close_run(&mut self, verb: &str) -> bool {
        // Dropped outside the state lock: dropping futures touches the state.
        let main = self.main.take();
        let cleanup = self.cleanup.take();
        drop((main, cleanup));
        let unfinished = self.ctx.with_state(|state| state.sagas.take_work());
        drop(unfinished);
        if !self.end_recorded {
            let execution_id = self.ctx.with_state(|state| state.info.execution_id.clone());
            let reason = format!("parent `{execution_id}` {verb}");
            self.ctx.with_state(|state| {
                let at = state.now;
                for (seq, child) in state.children_to_cancel() {
                    state.new_events.push(HistoryEvent {
                        at,
                        kind: HistoryEventKind::ChildCancelRequested {
                            seq,
                            execution_id: child.clone(),
                        },
                    });
                    state.commands.push(Command::CancelChild {
                        seq,
                        execution_id: child,
                        reason: reason.clone(),
                    });
                }
            });
        }
        !self.end_recorded
    }
}
