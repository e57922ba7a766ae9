//! Shared helpers of the integration tests.

use eventual_runtime::registry::{self, WorkflowDescriptor};
use eventual_runtime::workflow::{HistoryEvent, HistoryEventKind};
use eventual_runtime::Timestamp;
use std::time::Duration;

/// The virtual clock's start in `TestEnvironment`: 2026-01-01T00:00:00Z.
pub const EPOCH_MS: u64 = 1_767_225_600_000;

/// `EPOCH + offset`.
pub fn at(offset: Duration) -> Timestamp {
    Timestamp::from_millis(EPOCH_MS + offset.as_millis() as u64)
}

/// Milliseconds since the test epoch.
pub fn since_epoch(t: Timestamp) -> u64 {
    t.as_millis() - EPOCH_MS
}

/// `Type` or `Type@seq` of every event, in order.
pub fn shape(history: &[HistoryEvent]) -> Vec<String> {
    history.iter().map(|e| label(&e.kind)).collect()
}

/// `Type` or `Type@seq` of one event.
pub fn label(kind: &HistoryEventKind) -> String {
    match kind.seq() {
        Some(seq) => format!("{}@{seq}", kind.type_name()),
        None => kind.type_name().to_owned(),
    }
}

/// `(label, ms since epoch)` of every event.
pub fn timeline(history: &[HistoryEvent]) -> Vec<(String, u64)> {
    history
        .iter()
        .map(|e| (label(&e.kind), since_epoch(e.at)))
        .collect()
}

/// Names of the tasks scheduled, in history order.
pub fn scheduled_tasks(history: &[HistoryEvent]) -> Vec<String> {
    history
        .iter()
        .filter_map(|e| match &e.kind {
            HistoryEventKind::TaskScheduled { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect()
}

/// The events of a type, in order.
pub fn of_type<'a>(history: &'a [HistoryEvent], type_name: &str) -> Vec<&'a HistoryEvent> {
    history
        .iter()
        .filter(|e| e.kind.type_name() == type_name)
        .collect()
}

/// Seconds, as a `Duration`.
pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Milliseconds, as a `Duration`.
pub fn millis(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub mod crash;
pub mod local;
pub mod manifest;
pub mod mermaid;
pub mod programs;
pub mod scenarios;

/// `name`'s descriptor with `code`'s body: what a deploy of new code under an old name does.
pub fn changed_code(name: &'static str, code: &str) -> WorkflowDescriptor {
    let recorded = registry::workflow(name).unwrap();
    WorkflowDescriptor {
        name: recorded.name,
        location: recorded.location,
        timeout_ms: recorded.timeout_ms,
        retention_ms: recorded.retention_ms,
        calls: recorded.calls,
        named_tasks: recorded.named_tasks,
        children: recorded.children,
        signals: recorded.signals,
        events: recorded.events,
        timers: recorded.timers,
        flow: recorded.flow,
        start: registry::workflow(code).unwrap().start,
        schedule: None,
    }
}
