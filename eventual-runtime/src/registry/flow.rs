//! The shape of a workflow body, read from its syntax by `#[workflow]`: its durable steps in
//! the order the body runs them, with the branches, loops, joins and races around them.
//!
//! The macro cannot tell a `#[task]` call from a call of any other `async fn`, so it records
//! every awaited call as a [`FlowStep::Call`]; the manifest draws only those that name a
//! registered task. Code that takes no durable step is not recorded.

/// One element of a workflow's flow. A sequence is a slice: `&[FlowNode]` runs in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowNode {
    /// A durable step.
    Step(FlowStep),
    /// An `if` / `else if` / `else` chain or a `match`: one arm runs.
    Branch {
        /// `if`, or `match <scrutinee>`.
        label: &'static str,
        /// The arms, in source order. An `if` without `else` has an empty `else` arm.
        arms: &'static [FlowArm],
    },
    /// A `for`, `while` or `loop`.
    Loop {
        /// The loop's header as written (`for item in order.items`), shortened.
        label: &'static str,
        /// The loop's label (`'outer`), which `break` and `continue` may name.
        name: Option<&'static str>,
        /// Whether the loop ends on its own (`for`, `while`); a `loop` ends only by `break`.
        exits: bool,
        /// Steps its condition takes on every round (`while let Some(s) = signals.next().await`).
        head: &'static [FlowNode],
        /// The body.
        body: &'static [FlowNode],
    },
    /// Steps waited for together, until all end: `all`, `all_settled`, `join!`.
    Parallel {
        /// The combinator (`all`, `join!`, ...).
        label: &'static str,
        /// One arm per future; a single `each` arm when the futures come from an iterator.
        arms: &'static [FlowArm],
    },
    /// Steps waited for together, until the first ends: `race`, `any`, `select_biased!`.
    Race {
        /// The combinator.
        label: &'static str,
        /// One arm per future.
        arms: &'static [FlowArm],
    },
    /// `return`: the execution ends here.
    Return,
    /// `break`, of the innermost loop or of the one named.
    Break(Option<&'static str>),
    /// `continue`, of the innermost loop or of the one named.
    Continue(Option<&'static str>),
}

/// An arm of a [`FlowNode::Branch`], [`FlowNode::Parallel`] or [`FlowNode::Race`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowArm {
    /// The `if` condition or `match` pattern, shortened; empty for a join's arm.
    pub label: &'static str,
    /// What the arm runs.
    pub body: &'static [FlowNode],
}

/// A durable step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowStep {
    /// A call of fn `name`, awaited: a task if a `#[task]` of that name is registered.
    Call(&'static str),
    /// `ctx.call_task_by_name("name", ..)`.
    TaskByName(&'static str),
    /// `ctx.sleep(..)` / `ctx.sleep_until(..)`, with its argument as written.
    Timer(&'static str),
    /// A wait for signal `name`: `wait_for_signal`, `expect_signal` (with its timeout as
    /// written), or the next item of `ctx.signals(name)`.
    Signal {
        /// The signal's name.
        name: &'static str,
        /// How long it waits, as written, when it may time out.
        timeout: Option<&'static str>,
    },
    /// `ctx.send_signal(execution, "name", ..)`.
    SendSignal(&'static str),
    /// A child workflow: its Rust type (`ctx.child::<W>`) or registered name
    /// (`ctx.child_by_name`).
    Child(&'static str),
    /// `ctx.emit(..)`: the event's type name, or `event` when the syntax does not say.
    Emit(&'static str),
    /// `saga.run(step, compensation)` or `saga.add_compensation(..)` registered `compensation`
    /// (a fn name, or `compensation` when it is not one) on saga `saga`.
    Compensation {
        /// The saga, as its receiver is written.
        saga: &'static str,
        /// What undoes the step.
        name: &'static str,
    },
    /// `saga.compensate()`: runs saga `saga`'s compensations, newest first.
    Compensate(&'static str),
    /// `ctx.continue_as_new(..)`: the run ends and the execution starts afresh.
    ContinueAsNew,
}
