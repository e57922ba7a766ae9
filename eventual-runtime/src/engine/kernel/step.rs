//! Carrying out a step's commands: what a step's commands mean for the engine, the same
//! everywhere.
//!
//! An engine implements [`Host`] over its own storage and calls [`carry_out`] with the
//! commands of a step whose history it has (or will have, in the same transaction) stored.

use crate::error::{Failure, StepErrorKind};
use crate::event::EventEnvelope;
use crate::registry::WorkflowDescriptor;
use crate::task::Attempt;
use crate::time::Timestamp;
use crate::workflow::command::{Command, Continuation, InboxEvent, Outcome};
use crate::workflow::history::{HistoryEvent, ParentRef, Seq};
use crate::workflow::replay::{ReplayError, StartRequest, StepOutput, WorkflowExecutor};
use serde_json::Value;

/// A child execution to start.
#[derive(Clone, Debug, PartialEq)]
pub struct ChildStart {
    /// The child's workflow.
    pub workflow: String,
    /// The child's execution id.
    pub execution_id: String,
    /// Its input.
    pub input: Value,
    /// The parent's correlation id, carried on.
    pub correlation_id: String,
    /// The parent.
    pub parent: ParentRef,
}

/// What an engine offers to carry out commands.
pub trait Host {
    /// Run a task attempt (at its `not_before` at the earliest).
    fn schedule_attempt(&mut self, attempt: Attempt);
    /// Deliver `event` to `execution_id` at `at` (timers and deadlines).
    fn schedule_inbox(
        &mut self,
        execution_id: &str,
        at: Timestamp,
        key: TimerKey,
        event: InboxEvent,
    );
    /// Deliver `event` to `execution_id` now (signals, child results, cancels).
    fn deliver(&mut self, execution_id: &str, event: InboxEvent);
    /// Put events on the bus (route them to subscriptions).
    fn publish(&mut self, events: Vec<EventEnvelope>);
    /// Start a child execution; an error is reported back to the parent.
    fn start_child(&mut self, child: ChildStart) -> Result<(), Failure>;
    /// The execution ended with `outcome`: record it.
    fn finished(&mut self, execution_id: &str, outcome: &Outcome);
    /// The execution's run ended with a continue-as-new: start its next run from `next`
    /// (same execution id, a fresh history; the engine starts it with
    /// [`WorkflowExecutor::start`], stores its history as the execution's current one and
    /// carries out its step), keeping the old run's history as the engine documents. The
    /// execution stays running. Events that reach the execution from now on go to the new
    /// run; the old run's pending timers and attempts were discarded just before.
    fn continue_as_new(&mut self, next: StartRequest);
    /// The execution ended: drop its timers and task attempts that have not run (their
    /// results could only be ignored). An engine that cannot recall what it has sent relies
    /// on executions ignoring events after their end.
    fn discard_pending(&mut self, execution_id: &str);
}

/// Names a scheduled inbox delivery of an execution, so engines can store and cancel it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKey {
    /// `TimerFired { seq }`.
    Timer(Seq),
    /// `DeadlineReached`.
    Deadline,
}

impl TimerKey {
    /// A short text form for storage (`t3`, `deadline`).
    pub fn to_key(self) -> String {
        match self {
            TimerKey::Timer(seq) => format!("t{seq}"),
            TimerKey::Deadline => "deadline".to_owned(),
        }
    }
}

/// Carries out a step's commands for execution `execution_id` through `host`.
pub fn carry_out(
    host: &mut impl Host,
    execution_id: &str,
    parent: Option<&ParentRef>,
    correlation_id: &str,
    commands: Vec<Command>,
) {
    for command in commands {
        match command {
            Command::ScheduleTask(attempt) => host.schedule_attempt(attempt),
            Command::StartTimer { seq, until } => host.schedule_inbox(
                execution_id,
                until,
                TimerKey::Timer(seq),
                InboxEvent::TimerFired { seq },
            ),
            Command::ScheduleDeadline { at } => host.schedule_inbox(
                execution_id,
                at,
                TimerKey::Deadline,
                InboxEvent::DeadlineReached,
            ),
            Command::SendSignal {
                execution_id: target,
                name,
                payload,
                signal_id,
                ..
            } => host.deliver(
                &target,
                InboxEvent::Signal {
                    name,
                    payload,
                    id: Some(signal_id),
                },
            ),
            Command::EmitEvents { events, .. } => host.publish(events),
            Command::StartChildWorkflow {
                seq,
                name,
                execution_id: child_id,
                input,
            } => {
                let child = ChildStart {
                    workflow: name,
                    execution_id: child_id,
                    input,
                    correlation_id: correlation_id.to_owned(),
                    parent: ParentRef {
                        execution_id: execution_id.to_owned(),
                        seq,
                    },
                };
                if let Err(failure) = host.start_child(child) {
                    host.deliver(
                        execution_id,
                        InboxEvent::ChildCompleted {
                            seq,
                            result: Err(failure),
                        },
                    );
                }
            }
            Command::CancelChild {
                execution_id: child,
                reason,
                ..
            } => host.deliver(
                &child,
                InboxEvent::Cancel {
                    reason: Some(reason),
                },
            ),
            Command::ContinueAsNew(continuation) => {
                host.discard_pending(execution_id);
                host.continue_as_new(StartRequest::continued(
                    execution_id,
                    correlation_id.to_owned(),
                    parent.cloned(),
                    continuation,
                ));
            }
            Command::Finish { outcome } => {
                host.finished(execution_id, &outcome);
                host.discard_pending(execution_id);
                if let Some(parent) = parent {
                    host.deliver(
                        &parent.execution_id,
                        InboxEvent::ChildCompleted {
                            seq: parent.seq,
                            result: outcome.into_result(),
                        },
                    );
                }
            }
        }
    }
}

/// Takes the continue-as-new out of a step's commands, if the step ended its run with one.
///
/// For an engine that switches runs inside the commit of the step that ended the old run
/// (the AWS engine: one conditional commit, so no message can reach the ended run): it starts
/// the next run itself with [`StartRequest::continued`] and carries out the remaining commands
/// with the new run's. Engines that switch through [`Host::continue_as_new`] never call this.
pub fn take_continuation(commands: &mut Vec<Command>) -> Option<Continuation> {
    let position = commands
        .iter()
        .position(|command| matches!(command, Command::ContinueAsNew(_)))?;
    match commands.remove(position) {
        Command::ContinueAsNew(continuation) => Some(continuation),
        _ => None,
    }
}

/// Steps an execution: with its live executor when there is one (sticky), otherwise by
/// replaying `history` first. The executor stays in `slot` while the execution runs.
pub fn step_execution(
    slot: &mut Option<Box<WorkflowExecutor>>,
    workflow: &WorkflowDescriptor,
    history: impl FnOnce() -> Vec<HistoryEvent>,
    now: Timestamp,
    inbox: Vec<InboxEvent>,
) -> Result<StepOutput, ReplayError> {
    let mut executor = match slot.take() {
        Some(executor) => executor,
        None => Box::new(WorkflowExecutor::replay(workflow, &history())?),
    };
    let output = executor.step(now, inbox)?;
    if !executor.is_closed() {
        *slot = Some(executor);
    }
    Ok(output)
}

/// The failure a parent sees when its child could not start.
pub fn child_start_failure(unknown_workflow: bool, message: String) -> Failure {
    let kind = if unknown_workflow {
        StepErrorKind::NotRegistered
    } else {
        StepErrorKind::InvalidInput
    };
    Failure::new(kind, message)
}
