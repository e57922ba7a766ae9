//! `<workflow>.mmd`: a Mermaid flowchart of a workflow's durable steps.
//!
//! The macro records which tasks, signals, children and events a body uses, not their order,
//! so the chart is a star around the workflow: tasks it calls, timers it starts, signals it
//! waits for (each wait may time out), child workflows it starts and events it emits.

use super::inventory::{Inventory, WorkflowInfo};
use std::fmt::Write;

fn label(text: &str) -> String {
    text.replace('"', "#quot;")
}

/// The diagram of `workflow`.
pub fn diagram(workflow: &WorkflowInfo, inventory: &Inventory) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "%% workflow {} ({})",
        workflow.name, workflow.location.rust_path
    );
    let _ = writeln!(out, "flowchart LR");
    let timeout = workflow
        .timeout_ms
        .map_or_else(String::new, |ms| format!("<br/>timeout {ms} ms"));
    let _ = writeln!(out, "    wf([\"{}{timeout}\"])", label(&workflow.name));
    for (i, task) in inventory.tasks_of(workflow).iter().enumerate() {
        let retry = task.options.retry.max_attempts;
        let _ = writeln!(
            out,
            "    task{i}[\"task: {}<br/>attempts {retry}\"]",
            label(&task.name)
        );
        let _ = writeln!(out, "    wf -->|calls| task{i}");
    }
    for (i, signal) in workflow.signals.iter().enumerate() {
        let _ = writeln!(out, "    signal{i}>\"signal: {}\"]", label(signal));
        let _ = writeln!(out, "    signal{i} -.->|waits for| wf");
    }
    for (i, timer) in workflow.timers.iter().enumerate() {
        let _ = writeln!(out, "    timer{i}([\"timer: {}\"])", label(timer));
        let _ = writeln!(out, "    wf -->|waits| timer{i}");
    }
    for (i, child) in inventory.children_of(workflow).iter().enumerate() {
        let _ = writeln!(out, "    child{i}[[\"child workflow: {}\"]]", label(child));
        let _ = writeln!(out, "    wf -->|starts| child{i}");
    }
    for (i, event) in workflow.events.iter().enumerate() {
        let _ = writeln!(out, "    event{i}{{{{\"event: {}\"}}}}", label(event));
        let _ = writeln!(out, "    wf -.->|emits| event{i}");
        for (j, subscription) in inventory
            .subscriptions
            .iter()
            .filter(|s| s.event_type.rsplit("::").next().map(str::trim) == Some(event.as_str()))
            .enumerate()
        {
            let _ = writeln!(
                out,
                "    event{i}_handler{j}[/\"handler: {}\"/]",
                label(&subscription.name)
            );
            let _ = writeln!(out, "    event{i} -.->|may match| event{i}_handler{j}");
        }
    }
    out
}
