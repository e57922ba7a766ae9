//! One small state machine per kind of durable step.
//!
//! The replay state keeps one [`StepMachine`] per sequence number. A machine knows its
//! signature (what the code asked for, compared against history for determinism) and how the
//! history events addressed to its sequence number move it forward.

mod child;
mod instant;
mod saga;
mod signal;
mod task;
mod timer;
mod update;

pub(crate) use child::ChildMachine;
pub(crate) use instant::InstantMachine;
pub(crate) use saga::{Compensation, NextCompensation, PendingCompensation, Sagas};
pub(crate) use signal::{SignalClaim, Signals};
pub(crate) use task::TaskMachine;
pub(crate) use timer::{TimerMachine, TimerOwner};
pub(crate) use update::{describe_verdict, ReceivedUpdate, RecordedVerdict, Updates};

use crate::error::Failure;
use serde_json::Value;
use std::fmt;
use std::task::Waker;

/// What the code asked for at a sequence number; history must agree on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StepSignature {
    Task(String),
    Timer,
    SignalSent(String),
    Emit,
    Child(String),
    Value(&'static str),
    Patch(String),
    Attribute(String),
    /// Accepting update `name` with id `update_id`.
    UpdateAccepted {
        name: String,
        update_id: String,
    },
}

impl fmt::Display for StepSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepSignature::Task(name) => write!(f, "task `{name}`"),
            StepSignature::Timer => f.write_str("a timer"),
            StepSignature::SignalSent(name) => write!(f, "sending signal `{name}`"),
            StepSignature::Emit => f.write_str("emitting events"),
            StepSignature::Child(name) => write!(f, "child workflow `{name}`"),
            StepSignature::Value(source) => write!(f, "a recorded `ctx.{source}()` value"),
            StepSignature::Patch(patch) => write!(f, "patch marker `{patch}`"),
            StepSignature::Attribute(key) => write!(f, "setting attribute `{key}`"),
            StepSignature::UpdateAccepted { name, update_id } => {
                f.write_str(&update::describe_verdict(true, name, update_id))
            }
        }
    }
}

/// The kind of a step that history answers with a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StepKind {
    Task,
    Timer,
    Child,
    Instant,
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StepKind::Task => "task",
            StepKind::Timer => "timer",
            StepKind::Child => "child",
            StepKind::Instant => "recorded step",
        })
    }
}

/// The result a waiting step resolves with, and the waker of the future awaiting it.
#[derive(Default)]
pub(crate) struct Resolution {
    result: Option<Result<Value, Failure>>,
    taken: bool,
    waker: Option<Waker>,
}

impl Resolution {
    pub(crate) fn is_resolved(&self) -> bool {
        self.result.is_some() || self.taken
    }

    pub(crate) fn resolve(&mut self, result: Result<Value, Failure>) {
        if self.is_resolved() {
            return;
        }
        self.result = Some(result);
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// The result if ready; otherwise remembers who to wake.
    pub(crate) fn poll_take(&mut self, waker: &Waker) -> Option<Result<Value, Failure>> {
        match self.result.take() {
            Some(result) => {
                self.taken = true;
                Some(result)
            }
            None => {
                if !self.taken {
                    self.waker = Some(waker.clone());
                }
                None
            }
        }
    }
}

/// The machine of one sequence number.
pub(crate) enum StepMachine {
    Task(TaskMachine),
    Timer(TimerMachine),
    Child(ChildMachine),
    Instant(InstantMachine),
}

impl StepMachine {
    pub(crate) fn kind(&self) -> StepKind {
        match self {
            StepMachine::Task(_) => StepKind::Task,
            StepMachine::Timer(_) => StepKind::Timer,
            StepMachine::Child(_) => StepKind::Child,
            StepMachine::Instant(_) => StepKind::Instant,
        }
    }

    pub(crate) fn signature(&self) -> StepSignature {
        match self {
            StepMachine::Task(m) => StepSignature::Task(m.name.to_owned()),
            StepMachine::Timer(_) => StepSignature::Timer,
            StepMachine::Child(m) => StepSignature::Child(m.name.clone()),
            StepMachine::Instant(m) => m.signature.clone(),
        }
    }

    /// Whether this step is what `signature` describes; unlike comparing with
    /// [`signature`](Self::signature), it allocates nothing (replay asks this once per step).
    pub(crate) fn has_signature(&self, signature: &StepSignature) -> bool {
        match (self, signature) {
            (StepMachine::Task(machine), StepSignature::Task(name)) => machine.name == name,
            (StepMachine::Timer(_), StepSignature::Timer) => true,
            (StepMachine::Child(machine), StepSignature::Child(name)) => &machine.name == name,
            (StepMachine::Instant(machine), signature) => &machine.signature == signature,
            _ => false,
        }
    }

    /// The resolution of a step that is awaited, if it is one.
    pub(crate) fn resolution(&mut self) -> Option<&mut Resolution> {
        match self {
            StepMachine::Task(m) => Some(&mut m.resolution),
            StepMachine::Timer(m) => Some(&mut m.resolution),
            StepMachine::Child(m) => Some(&mut m.resolution),
            StepMachine::Instant(_) => None,
        }
    }
}
