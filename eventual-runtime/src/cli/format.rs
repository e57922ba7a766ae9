//! What the commands print: tables of executions and history events, a timeline of steps,
//! JSON.

use crate::time::Timestamp;
use crate::workflow::history::{HistoryEvent, HistoryEventKind};
use serde_json::Value;
use std::collections::BTreeMap;

/// Pretty JSON, printed on its own line.
pub(super) fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// A page of executions (as `GET /executions` answers) as a table, with the token of the next
/// page.
pub(super) fn executions(page: &Value) -> String {
    let mut out = format!(
        "{:<40} {:<24} {:<10} created\n",
        "EXECUTION", "WORKFLOW", "STATUS"
    );
    for row in page["executions"].as_array().into_iter().flatten() {
        let created = row["created_at"]
            .as_u64()
            .map(|ms| Timestamp::from_millis(ms).to_rfc3339())
            .unwrap_or_default();
        out += &format!(
            "{:<40} {:<24} {:<10} {created}\n",
            row["id"].as_str().unwrap_or_default(),
            row["workflow"].as_str().unwrap_or_default(),
            row["status"].as_str().unwrap_or_default()
        );
    }
    if let Some(token) = page["next_token"].as_str() {
        out += &format!("(more: --next-token {token})\n");
    }
    out
}

/// One schedule (as `GET /schedules` lists it) on a line: name, workflow, expression,
/// policies, next firing, and whether it is paused.
pub(super) fn schedule_line(schedule: &Value) -> String {
    let text = |key: &str| schedule[key].as_str().unwrap_or_default().to_owned();
    let next = match schedule["next_firing"].as_u64() {
        Some(ms) => format!("next {}", Timestamp::from_millis(ms).to_rfc3339()),
        None => "no next firing".to_owned(),
    };
    let paused = if schedule["paused"].as_bool() == Some(true) {
        " (paused)"
    } else {
        ""
    };
    format!(
        "{:<24} {:<24} {:<24} overlap={} catch_up={} {next}{paused}",
        text("name"),
        text("workflow"),
        text("expression"),
        text("overlap"),
        text("catch_up"),
    )
}

/// A history as a table: index, time, event, sequence number, detail.
pub(super) fn history(events: &[HistoryEvent]) -> String {
    let mut out = format!(
        "{:>4}  {:<24} {:<22} {:>4}  detail\n",
        "#", "time", "event", "seq"
    );
    for (index, event) in events.iter().enumerate() {
        let seq = event.kind.seq().map(|s| s.to_string()).unwrap_or_default();
        out += &format!(
            "{index:>4}  {:<24} {:<22} {seq:>4}  {}\n",
            event.at.to_rfc3339(),
            event.kind.type_name(),
            detail(&event.kind)
        );
    }
    out
}

/// A text timeline: each step with when it started, how long it took and how it ended.
pub fn timeline(events: &[HistoryEvent]) -> String {
    let Some(start) = events.first().map(|e| e.at) else {
        return String::new();
    };
    struct Step {
        index: usize,
        begun: Timestamp,
        label: String,
        ended: Option<(Timestamp, String)>,
    }
    let mut steps: BTreeMap<u32, Step> = BTreeMap::new();
    let mut lines = Vec::new();
    // Lines are ordered by the history index of the event that starts them.
    for (index, event) in events.iter().enumerate() {
        let offset = event.at.duration_since(start).as_secs_f64();
        let label = match &event.kind {
            HistoryEventKind::TaskScheduled { name, .. } => Some(format!("task {name}")),
            HistoryEventKind::TimerScheduled { until, .. } => {
                Some(format!("timer until {}", until.to_rfc3339()))
            }
            HistoryEventKind::ChildWorkflowScheduled { name, .. } => Some(format!("child {name}")),
            _ => None,
        };
        match (label, event.kind.seq()) {
            (Some(label), Some(seq)) => {
                steps.insert(
                    seq,
                    Step {
                        index,
                        begun: event.at,
                        label,
                        ended: None,
                    },
                );
            }
            (None, Some(seq)) => {
                let ending = match &event.kind {
                    HistoryEventKind::TaskSucceeded { attempt, .. } => {
                        Some(format!("succeeded (attempt {attempt})"))
                    }
                    HistoryEventKind::TaskFailed { attempt, error, .. } => {
                        Some(format!("failed (attempt {attempt}): {error}"))
                    }
                    HistoryEventKind::TimerFired { .. } => Some("fired".to_owned()),
                    HistoryEventKind::ChildWorkflowSucceeded { .. } => Some("succeeded".to_owned()),
                    HistoryEventKind::ChildWorkflowFailed { error, .. } => {
                        Some(format!("failed: {error}"))
                    }
                    HistoryEventKind::TaskAttemptFailed {
                        attempt, retry_at, ..
                    } => {
                        lines.push((
                            index,
                            format!(
                                "{offset:>9.3}s  #{seq:<4} attempt {attempt} failed, retry at {}",
                                retry_at.to_rfc3339()
                            ),
                        ));
                        None
                    }
                    other => {
                        lines.push((
                            index,
                            format!("{offset:>9.3}s  #{seq:<4} {}", other.type_name()),
                        ));
                        None
                    }
                };
                if let (Some(ending), Some(step)) = (ending, steps.get_mut(&seq)) {
                    step.ended = Some((event.at, ending));
                }
            }
            (_, None) => lines.push((index, format!("{offset:>9.3}s  {}", describe(event)))),
        }
    }
    for (seq, step) in &steps {
        let offset = step.begun.duration_since(start).as_secs_f64();
        let end = match &step.ended {
            Some((at, how)) => format!(
                "{how} after {} ms",
                at.duration_since(step.begun).as_millis()
            ),
            None => "still waiting".to_owned(),
        };
        lines.push((
            step.index,
            format!("{offset:>9.3}s  #{seq:<4} {}: {end}", step.label),
        ));
    }
    lines.sort_by_key(|(index, _)| *index);
    lines.into_iter().map(|(_, line)| line + "\n").collect()
}

/// One event on one line: its type, sequence number and detail.
pub(super) fn describe(event: &HistoryEvent) -> String {
    let seq = event
        .kind
        .seq()
        .map(|s| format!(" #{s}"))
        .unwrap_or_default();
    format!("{}{seq} {}", event.kind.type_name(), detail(&event.kind))
}

fn detail(kind: &HistoryEventKind) -> String {
    match kind {
        HistoryEventKind::WorkflowStarted {
            workflow,
            run_id: Some(run_id),
            continued_from,
            ..
        } => match continued_from {
            Some(previous) => format!("{workflow} {run_id} (continued from {previous})"),
            None => format!("{workflow} {run_id}"),
        },
        HistoryEventKind::WorkflowStarted { workflow, .. } => workflow.clone(),
        HistoryEventKind::WorkflowContinuedAsNew { input } => compact(input),
        HistoryEventKind::TaskScheduled { name, .. } => name.clone(),
        HistoryEventKind::TaskAttemptFailed { attempt, error, .. } => {
            format!("attempt {attempt}: {error}")
        }
        HistoryEventKind::TaskSucceeded { result, .. } => compact(result),
        HistoryEventKind::TaskFailed { error, .. }
        | HistoryEventKind::ChildWorkflowFailed { error, .. } => error.to_string(),
        HistoryEventKind::TimerScheduled { until, .. } => until.to_rfc3339(),
        HistoryEventKind::SignalReceived { name, .. }
        | HistoryEventKind::SignalSent { name, .. } => name.clone(),
        HistoryEventKind::EventsEmitted { events, .. } => events
            .iter()
            .map(|e| e.detail_type.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        HistoryEventKind::ChildWorkflowScheduled {
            name, execution_id, ..
        } => format!("{name} {execution_id}"),
        HistoryEventKind::ChildWorkflowSucceeded { result, .. }
        | HistoryEventKind::WorkflowSucceeded { result } => compact(result),
        HistoryEventKind::ValueRecorded { value, .. } => compact(value),
        HistoryEventKind::PatchMarked { patch, .. } => patch.clone(),
        HistoryEventKind::AttributeSet { key, value, .. } => format!("{key} = {}", compact(value)),
        HistoryEventKind::WorkflowFailed { error } => error.to_string(),
        HistoryEventKind::CancelRequested { reason }
        | HistoryEventKind::WorkflowCancelled { reason }
        | HistoryEventKind::WorkflowTerminated { reason } => reason.clone().unwrap_or_default(),
        HistoryEventKind::ChildCancelRequested { execution_id, .. } => execution_id.clone(),
        HistoryEventKind::UpdateReceived {
            name,
            update_id,
            input,
        } => format!("{name} {update_id}: {}", compact(input)),
        HistoryEventKind::UpdateAccepted {
            name,
            update_id,
            answer,
            ..
        } => format!("{name} {update_id}: {}", compact(answer)),
        HistoryEventKind::UpdateRejected {
            name,
            update_id,
            reason,
        } => format!("{name} {update_id}: {reason}"),
        HistoryEventKind::TimerFired { .. } | HistoryEventKind::WorkflowTimedOut => String::new(),
    }
}

/// A value's JSON, cut after 80 characters.
fn compact(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 80 {
        format!(
            "{}…",
            &text[..text.char_indices().nth(79).map_or(text.len(), |(i, _)| i)]
        )
    } else {
        text
    }
}
