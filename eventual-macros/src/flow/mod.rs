//! The flow of a workflow body: its durable steps in the order the body runs them, with the
//! branches, loops, joins and races around them, read from the fn's syntax (`read.rs`).
//!
//! The expansion writes it into the workflow's registry entry as the runtime's
//! `FlowNode` tree; the build-time manifest draws it as a Mermaid flowchart. Code that takes
//! no durable step is left out.

mod read;

pub(crate) use read::read;

/// One element of a flow; a sequence is a `Vec<Flow>`.
#[derive(Debug, PartialEq)]
pub(crate) enum Flow {
    Step(Step),
    /// `if` chains and `match`: one arm runs.
    Branch {
        label: String,
        arms: Vec<Arm>,
    },
    Loop {
        /// The header as written, shortened.
        label: String,
        /// The loop's `'label`, without the quote.
        name: Option<String>,
        /// `false` for `loop`, which ends only by `break`.
        exits: bool,
        /// Steps of a `while` condition, taken every round.
        head: Vec<Flow>,
        body: Vec<Flow>,
    },
    /// Every arm runs; the flow goes on when all have ended.
    Parallel {
        label: String,
        arms: Vec<Arm>,
    },
    /// Every arm runs; the flow goes on when the first has ended.
    Race {
        label: String,
        arms: Vec<Arm>,
    },
    Return,
    Break(Option<String>),
    Continue(Option<String>),
}

/// An arm of a branch, join or race.
#[derive(Debug, PartialEq)]
pub(crate) struct Arm {
    pub(crate) label: String,
    pub(crate) body: Vec<Flow>,
}

/// A durable step; see the runtime's `FlowStep` for each kind.
#[derive(Debug, PartialEq)]
pub(crate) enum Step {
    Call(String),
    TaskByName(String),
    Timer(String),
    Signal {
        name: String,
        timeout: Option<String>,
    },
    SendSignal(String),
    Child(String),
    Emit(String),
    Compensation {
        saga: String,
        name: String,
    },
    Compensate(String),
    ContinueAsNew,
}

impl Flow {
    /// Whether drawing it shows anything: a step, or a jump that changes where the flow
    /// goes.
    pub(crate) fn is_drawn(&self) -> bool {
        match self {
            Flow::Step(_) | Flow::Return | Flow::Break(_) | Flow::Continue(_) => true,
            Flow::Branch { arms, .. } | Flow::Parallel { arms, .. } | Flow::Race { arms, .. } => {
                arms.iter().any(|arm| arm.body.iter().any(Flow::is_drawn))
            }
            Flow::Loop { head, body, .. } => head.iter().chain(body).any(Flow::has_step),
        }
    }

    /// Whether it holds a durable step at any depth.
    pub(crate) fn has_step(&self) -> bool {
        match self {
            Flow::Step(_) => true,
            Flow::Return | Flow::Break(_) | Flow::Continue(_) => false,
            Flow::Branch { arms, .. } | Flow::Parallel { arms, .. } | Flow::Race { arms, .. } => {
                arms.iter().any(|arm| arm.body.iter().any(Flow::has_step))
            }
            Flow::Loop { head, body, .. } => head.iter().chain(body).any(Flow::has_step),
        }
    }
}
