//! `<workflow>.mmd`: a Mermaid flowchart of a workflow's durable steps, in the order its body
//! runs them.
//!
//! `#[workflow]` reads the flow from the fn's syntax ([`FlowNode`]); this module draws it:
//! one node per step (tasks, timers, signal waits, children, emitted events with the handlers
//! they may reach, saga compensations), a decision per `if` / `match` with the condition or
//! pattern on each arm's edge, a decision per loop with its back edges, and a fork and a join
//! node around the arms of `all` / `join!` (all done) and `race` / `any` (first done). Calls
//! the macro recorded that name no registered task are not drawn (some other `async fn`,
//! which takes no durable step), nor the branches, loops and joins around only such calls.
//!
//! Node ids are the node's kind and its position in drawing order, so the same flow gives
//! the same text.

use super::inventory::{Inventory, TaskInfo, WorkflowInfo};
use crate::registry::{FlowArm, FlowNode, FlowStep, WORKFLOWS};

/// The diagram of `workflow`, with the flow its `#[workflow]` registered in this program
/// (none for a workflow that is not linked, such as one built by hand in a test).
pub fn diagram(workflow: &WorkflowInfo, inventory: &Inventory) -> String {
    flowchart(workflow, registered_flow(workflow), inventory)
}

/// The flow registered for `workflow`: the linked workflow of that name and Rust path.
pub fn registered_flow(workflow: &WorkflowInfo) -> &'static [FlowNode] {
    WORKFLOWS
        .iter()
        .find(|w| w.name == workflow.name && w.location.rust_path == workflow.location.rust_path)
        .map_or(&[], |w| w.flow)
}

/// The diagram of `workflow` running `flow`; tasks, children and event handlers are looked
/// up in `inventory`.
pub fn flowchart(workflow: &WorkflowInfo, flow: &[FlowNode], inventory: &Inventory) -> String {
    let mut chart = Chart {
        inventory,
        lines: Vec::new(),
        count: 0,
        compensations: Vec::new(),
        loops: Vec::new(),
        returns: Vec::new(),
    };
    chart.lines.push(format!(
        "%% workflow {} ({})",
        workflow.name.replace('\n', " "),
        workflow.location.rust_path
    ));
    chart.lines.push("flowchart TD".to_owned());
    let timeout = workflow
        .timeout_ms
        .map_or_else(String::new, |ms| format!("<br/>timeout {ms} ms"));
    chart.declare(
        START,
        &format!("([\"{}{timeout}\"])", label(&workflow.name)),
    );
    let mut ends = chart.sequence(flow, vec![End::from(START)]);
    ends.append(&mut chart.returns);
    if !ends.is_empty() {
        chart.declare(FINISH, "([\"end\"])");
        chart.connect(ends, FINISH);
    }
    let mut out = chart.lines.join("\n");
    out.push('\n');
    out
}

/// The start node's id.
const START: &str = "start";
/// The end node's id (`end` is a Mermaid keyword).
const FINISH: &str = "finish";

/// Text for a quoted Mermaid label: entity codes for `#`, `"`, `<` and `>`, spaces for line
/// breaks, so that user text never closes the label or turns into markup.
fn label(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '\n' | '\r' => out.push(' '),
            other => out.push(other),
        }
    }
    out
}

/// Where the flow continues from: a node, and the label of the edge that leaves it.
struct End {
    from: String,
    label: Option<String>,
}

impl End {
    fn from(node: &str) -> End {
        End {
            from: node.to_owned(),
            label: None,
        }
    }

    fn labelled(node: &str, label: &str) -> End {
        End {
            from: node.to_owned(),
            label: (!label.is_empty()).then(|| label.to_owned()),
        }
    }
}

/// A loop being drawn: where `continue` goes and what `break` leaves from.
struct LoopFrame {
    name: Option<&'static str>,
    head: String,
    breaks: Vec<End>,
}

struct Chart<'a> {
    inventory: &'a Inventory,
    lines: Vec<String>,
    /// Nodes drawn so far: the number in the next node's id.
    count: usize,
    /// The compensation nodes drawn so far: the saga and the node.
    compensations: Vec<(&'static str, String)>,
    loops: Vec<LoopFrame>,
    /// The flow's ends at `return`s, which go to the end node.
    returns: Vec<End>,
}

impl Chart<'_> {
    fn id(&mut self, kind: &str) -> String {
        self.count += 1;
        format!("{kind}{}", self.count)
    }

    fn declare(&mut self, id: &str, shape: &str) {
        self.lines.push(format!("    {id}{shape}"));
    }

    fn edge(&mut self, from: &str, arrow: &str, edge_label: Option<&str>, to: &str) {
        match edge_label {
            Some(text) => self
                .lines
                .push(format!("    {from} {arrow}|\"{}\"| {to}", label(text))),
            None => self.lines.push(format!("    {from} {arrow} {to}")),
        }
    }

    fn connect(&mut self, ends: Vec<End>, to: &str) {
        for end in ends {
            self.edge(&end.from, "-->", end.label.as_deref(), to);
        }
    }

    /// A node of `kind` with `shape` (`["..."]`, the label already escaped), reached from
    /// `ends`; the flow goes on from it.
    fn node(&mut self, kind: &str, shape: String, ends: Vec<End>) -> Vec<End> {
        let id = self.id(kind);
        self.declare(&id, &shape);
        self.connect(ends, &id);
        vec![End::from(&id)]
    }

    fn sequence(&mut self, flow: &[FlowNode], mut ends: Vec<End>) -> Vec<End> {
        for node in flow {
            ends = self.flow_node(node, ends);
        }
        ends
    }

    /// Whether `node` draws anything: a step (a call only if it names a registered task),
    /// or a jump; a loop only if it takes a step. Branches, loops and joins around calls of
    /// plain fns are left out with them.
    fn draws(&self, node: &FlowNode) -> bool {
        match node {
            FlowNode::Step(step) => self.draws_step(step),
            FlowNode::Return | FlowNode::Break(_) | FlowNode::Continue(_) => true,
            FlowNode::Branch { arms, .. }
            | FlowNode::Parallel { arms, .. }
            | FlowNode::Race { arms, .. } => arms
                .iter()
                .any(|arm| arm.body.iter().any(|node| self.draws(node))),
            FlowNode::Loop { head, body, .. } => head
                .iter()
                .chain(body.iter())
                .any(|node| self.takes_step(node)),
        }
    }

    fn draws_step(&self, step: &FlowStep) -> bool {
        match step {
            FlowStep::Call(name) => self
                .inventory
                .tasks
                .iter()
                .any(|task| task.location.is_named(name)),
            _ => true,
        }
    }

    /// Whether `node` draws a step at any depth.
    fn takes_step(&self, node: &FlowNode) -> bool {
        match node {
            FlowNode::Step(step) => self.draws_step(step),
            FlowNode::Return | FlowNode::Break(_) | FlowNode::Continue(_) => false,
            FlowNode::Branch { arms, .. }
            | FlowNode::Parallel { arms, .. }
            | FlowNode::Race { arms, .. } => arms
                .iter()
                .any(|arm| arm.body.iter().any(|node| self.takes_step(node))),
            FlowNode::Loop { head, body, .. } => head
                .iter()
                .chain(body.iter())
                .any(|node| self.takes_step(node)),
        }
    }

    fn flow_node(&mut self, node: &FlowNode, ends: Vec<End>) -> Vec<End> {
        if !self.draws(node) {
            return ends;
        }
        match node {
            FlowNode::Step(step) => self.step(step, ends),
            FlowNode::Branch { label: text, arms } => {
                let id = self.id("if");
                self.declare(&id, &format!("{{\"{}\"}}", label(text)));
                self.connect(ends, &id);
                arms.iter()
                    .flat_map(|arm| self.sequence(arm.body, vec![End::labelled(&id, arm.label)]))
                    .collect()
            }
            FlowNode::Loop {
                label: text,
                name,
                exits,
                head,
                body,
            } => {
                let id = self.id("loop");
                self.declare(&id, &format!("{{\"{}\"}}", label(text)));
                self.connect(ends, &id);
                self.loops.push(LoopFrame {
                    name: *name,
                    head: id.clone(),
                    breaks: Vec::new(),
                });
                let after_head = self.sequence(head, vec![End::from(&id)]);
                let into_body = after_head
                    .iter()
                    .map(|end| End {
                        from: end.from.clone(),
                        label: end.label.clone().or_else(|| Some("next".to_owned())),
                    })
                    .collect();
                let back = self.sequence(body, into_body);
                self.connect(back, &id);
                let frame = self.loops.pop().map_or_else(Vec::new, |frame| frame.breaks);
                let mut out = frame;
                if *exits {
                    out.extend(after_head.into_iter().map(|end| End {
                        label: end.label.or_else(|| Some("done".to_owned())),
                        from: end.from,
                    }));
                }
                out
            }
            FlowNode::Parallel { label, arms } => self.concurrent(label, arms, "all done", ends),
            FlowNode::Race { label, arms } => self.concurrent(label, arms, "first done", ends),
            FlowNode::Return => {
                self.returns.extend(ends);
                Vec::new()
            }
            FlowNode::Break(name) => match self.frame(*name) {
                Some(frame) => {
                    frame.breaks.extend(ends);
                    Vec::new()
                }
                None => ends,
            },
            FlowNode::Continue(name) => match self.frame(*name).map(|frame| frame.head.clone()) {
                Some(head) => {
                    self.connect(ends, &head);
                    Vec::new()
                }
                None => ends,
            },
        }
    }

    /// The loop a `break` or `continue` leaves: the one named, else the innermost.
    fn frame(&mut self, name: Option<&str>) -> Option<&mut LoopFrame> {
        match name {
            Some(name) => self
                .loops
                .iter_mut()
                .rev()
                .find(|frame| frame.name == Some(name)),
            None => self.loops.last_mut(),
        }
    }

    /// A fork node, the arms, and a join node (`done` says when the flow goes on).
    fn concurrent(
        &mut self,
        combinator: &str,
        arms: &[FlowArm],
        done: &str,
        ends: Vec<End>,
    ) -> Vec<End> {
        let fork = self.id("fork");
        let join = fork.replacen("fork", "join", 1);
        self.declare(&fork, &format!("[/\"{}\"\\]", label(combinator)));
        self.connect(ends, &fork);
        let arm_ends: Vec<End> = arms
            .iter()
            .flat_map(|arm| self.sequence(arm.body, vec![End::labelled(&fork, arm.label)]))
            .collect();
        self.declare(&join, &format!("[\\\"{}\"/]", label(done)));
        self.connect(arm_ends, &join);
        vec![End::from(&join)]
    }

    fn step(&mut self, step: &FlowStep, ends: Vec<End>) -> Vec<End> {
        match step {
            FlowStep::Call(name) => match self.task_named(|task| task.location.is_named(name)) {
                Some(shape) => self.node("task", shape, ends),
                None => ends,
            },
            FlowStep::TaskByName(name) => {
                let shape = self
                    .task_named(|task| task.name == *name)
                    .unwrap_or_else(|| format!("[\"task: {}\"]", label(name)));
                self.node("task", shape, ends)
            }
            FlowStep::Timer(text) => {
                self.node("timer", format!("([\"timer: {}\"])", label(text)), ends)
            }
            FlowStep::Signal { name, timeout } => {
                let timeout = timeout.map_or_else(String::new, |timeout| {
                    format!("<br/>timeout {}", label(timeout))
                });
                self.node(
                    "signal",
                    format!(">\"signal: {}{timeout}\"]", label(name)),
                    ends,
                )
            }
            FlowStep::SendSignal(name) => self.node(
                "send",
                format!("[\\\"send signal: {}\"\\]", label(name)),
                ends,
            ),
            FlowStep::Child(child) => {
                let name = self
                    .inventory
                    .workflow_by_ident(child)
                    .map_or(*child, |workflow| workflow.name.as_str())
                    .to_owned();
                self.node(
                    "child",
                    format!("[[\"child workflow: {}\"]]", label(&name)),
                    ends,
                )
            }
            FlowStep::Emit(event) => {
                let out = self.node(
                    "event",
                    format!("{{{{\"event: {}\"}}}}", label(event)),
                    ends,
                );
                let id = out[0].from.clone();
                self.handlers(&id, event);
                out
            }
            FlowStep::Compensation { saga, name } => {
                let id = self.id("comp");
                self.declare(&id, &format!("[\"compensation: {}\"]", label(name)));
                for end in &ends {
                    self.edge(&end.from, "-.->", Some("on compensate"), &id);
                }
                self.compensations.push((*saga, id));
                ends
            }
            FlowStep::Compensate(saga) => {
                let out = self.node(
                    "undo",
                    format!("[\"compensate {}<br/>newest first\"]", label(saga)),
                    ends,
                );
                let id = out[0].from.clone();
                let registered: Vec<String> = self
                    .compensations
                    .iter()
                    .rev()
                    .filter(|(of, _)| of == saga)
                    .map(|(_, node)| node.clone())
                    .collect();
                for (order, node) in registered.iter().enumerate() {
                    self.edge(&id, "-.->", Some(&format!("undo {}", order + 1)), node);
                }
                out
            }
            FlowStep::ContinueAsNew => {
                let out = self.node("next", "([\"continue as new\"])".to_owned(), ends);
                self.connect(vec![End::labelled(&out[0].from, "new run")], START);
                Vec::new()
            }
        }
    }

    /// The shape of the task `matches` picks, if one is registered.
    fn task_named(&self, matches: impl Fn(&TaskInfo) -> bool) -> Option<String> {
        let task = self.inventory.tasks.iter().find(|task| matches(task))?;
        Some(format!(
            "[\"task: {}<br/>attempts {}\"]",
            label(&task.name),
            task.options.retry.max_attempts
        ))
    }

    /// Dashed edges from emit node `id` to the handlers whose event type is `event`.
    fn handlers(&mut self, id: &str, event: &str) {
        let names: Vec<String> = self
            .inventory
            .subscriptions
            .iter()
            .filter(|s| s.event_type.rsplit("::").next().map(str::trim) == Some(event))
            .map(|s| s.name.clone())
            .collect();
        for (j, name) in names.iter().enumerate() {
            let handler = format!("{id}_handler{}", j + 1);
            self.declare(&handler, &format!("[/\"handler: {}\"/]", label(name)));
            self.edge(id, "-.->", Some("may match"), &handler);
        }
    }
}
