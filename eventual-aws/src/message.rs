//! What travels on the queues and in task invokes, as JSON.

use eventual_runtime::time::Timestamp;
use eventual_runtime::workflow::history::ParentRef;
use eventual_runtime::workflow::InboxEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};

/// A message on the FIFO orchestrator queue, grouped by execution id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InboxMessage {
    /// Start an execution (a second start of the same id is ignored).
    Start {
        /// The workflow's registered name.
        workflow: String,
        /// The new execution's id.
        execution_id: String,
        /// Its input.
        input: Value,
        /// The correlation id to carry on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        correlation_id: Option<String>,
        /// The parent, for a child workflow.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent: Option<ParentRef>,
    },
    /// An inbox event for a running execution.
    Event {
        /// The receiver.
        execution_id: String,
        /// The event.
        event: InboxEvent,
    },
}

impl InboxMessage {
    /// The execution the message is for: its FIFO message group.
    pub fn execution_id(&self) -> &str {
        match self {
            InboxMessage::Start { execution_id, .. } | InboxMessage::Event { execution_id, .. } => {
                execution_id
            }
        }
    }
}

/// The payload of a task function's invoke: one attempt, the kernel's attempt record.
pub type TaskInvoke = eventual_runtime::task::Attempt;

/// A message on the timer queue: what to do once `due_at` has passed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimerMessage {
    /// When the action is due (never earlier).
    pub due_at: Timestamp,
    /// The action.
    pub action: TimerAction,
}

/// What a due timer does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimerAction {
    /// Put an inbox event on the orchestrator queue (timers, deadlines, attempt timeouts).
    Inbox {
        /// The receiver.
        execution_id: String,
        /// The event.
        event: InboxEvent,
    },
    /// Invoke a task attempt (a retry after its backoff).
    Invoke {
        /// The attempt.
        invoke: TaskInvoke,
    },
}

/// The `Resources` entry of a `PutEvents` entry that carries the engine's event id.
pub(crate) const ID_PREFIX: &str = "eventual:id:";
/// The `Resources` entry that carries the event's correlation id.
pub(crate) const CORRELATION_PREFIX: &str = "eventual:correlation-id:";

/// The longest per-message delay of SQS.
pub const MAX_DELAY_SECONDS: u64 = 900;

/// A stable hex digest of `body`: the FIFO de-duplication id, so a message re-sent after a
/// crash within SQS's five-minute window is dropped by SQS itself.
pub fn digest(body: &str) -> String {
    Sha256::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh id, unique across processes (time, process id and a counter, digested).
pub fn unique_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let unique = digest(&format!(
        "{nanos}/{}/{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    unique[..16].to_owned()
}

/// Whole seconds until `due_at`, rounded up (so nothing is due early).
pub fn seconds_until(due_at: Timestamp, now: Timestamp) -> u64 {
    due_at
        .as_millis()
        .saturating_sub(now.as_millis())
        .div_ceil(1000)
}

/// [`seconds_until`], capped at [`MAX_DELAY_SECONDS`].
pub fn delay_seconds(due_at: Timestamp, now: Timestamp) -> i32 {
    seconds_until(due_at, now).min(MAX_DELAY_SECONDS) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_round_up_and_cap_at_fifteen_minutes() {
        let now = Timestamp::from_millis(10_000);
        assert_eq!(delay_seconds(Timestamp::from_millis(9_000), now), 0);
        assert_eq!(delay_seconds(Timestamp::from_millis(10_001), now), 1);
        assert_eq!(delay_seconds(Timestamp::from_millis(12_000), now), 2);
        assert_eq!(delay_seconds(Timestamp::from_millis(10_000_000), now), 900);
    }

    #[test]
    fn inbox_messages_round_trip_and_name_their_group() {
        let message = InboxMessage::Event {
            execution_id: "order-1".into(),
            event: InboxEvent::TimerFired { seq: 2 },
        };
        let text = serde_json::to_string(&message).unwrap();
        assert_eq!(
            serde_json::from_str::<InboxMessage>(&text).unwrap(),
            message
        );
        assert_eq!(message.execution_id(), "order-1");
        assert_eq!(digest(&text), digest(&text.clone()));
        assert_eq!(digest(&text).len(), 64);
    }
}
