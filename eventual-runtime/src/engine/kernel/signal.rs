//! Signals from outside an execution (the API, the CLI, a test).

use crate::workflow::command::InboxEvent;
use serde_json::Value;

/// The inbox event of a signal sent from outside. A signal without the sender's id gets one
/// the engine makes unique at acceptance (`signal-<unique>`), so a redelivery of it (an engine
/// on an at-least-once queue) is recorded once, and every engine records the same kind of id.
pub fn outside_signal(
    name: &str,
    payload: Value,
    id: Option<String>,
    unique: impl FnOnce() -> String,
) -> InboxEvent {
    InboxEvent::Signal {
        name: name.to_owned(),
        payload,
        id: Some(id.unwrap_or_else(|| format!("signal-{}", unique()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outside_signal_keeps_its_id_or_gets_a_unique_one() {
        let given = outside_signal("go", Value::Null, Some("s-1".into()), || unreachable!());
        assert!(matches!(given, InboxEvent::Signal { id: Some(id), .. } if id == "s-1"));
        let fresh = outside_signal("go", Value::Null, None, || "42".into());
        assert!(matches!(fresh, InboxEvent::Signal { id: Some(id), .. } if id == "signal-42"));
    }
}
