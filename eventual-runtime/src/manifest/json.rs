//! `manifest.json` and `eventbridge-rules.json`.

use super::inventory::{Inventory, Location};
use super::names;
use crate::task::RetryPolicy;
use serde_json::{json, Value};

fn location(location: &Location) -> [(&'static str, Value); 3] {
    [
        ("rust_path", json!(location.rust_path)),
        ("file", json!(location.file)),
        ("line", json!(location.line)),
    ]
}

fn with_location(mut value: Value, at: &Location) -> Value {
    if let Value::Object(map) = &mut value {
        for (key, field) in location(at) {
            map.insert(key.to_owned(), field);
        }
    }
    value
}

pub(crate) fn retry(policy: &RetryPolicy) -> Value {
    serde_json::to_value(policy).unwrap_or(Value::Null)
}

/// A subscription's pattern as JSON (the compile-time check guarantees it parses).
pub(crate) fn pattern(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// `manifest.json` ⚑: `{ "service", "workflows", "tasks", "subscriptions", "routes" }`; each
/// route with its `method`, `path`, `auth` and `path_params`.
pub fn manifest(service: &str, inventory: &Inventory) -> Value {
    let workflows: Vec<Value> = inventory
        .workflows
        .iter()
        .map(|w| {
            let tasks: Vec<&str> = inventory
                .tasks_of(w)
                .iter()
                .map(|t| t.name.as_str())
                .collect();
            let mut entry = json!({
                "name": w.name,
                "timeout_ms": w.timeout_ms,
                "tasks": tasks,
                "children": inventory.children_of(w),
                "signals": w.signals,
                "timers": w.timers,
                "events": w.events,
            });
            // Only scheduled workflows carry the key, so other manifests stay as they were.
            if let Some(schedule) = &w.schedule {
                entry["schedule"] = json!({
                    "expression": schedule.expression,
                    "overlap": schedule.overlap,
                    "catch_up": schedule.catch_up,
                    "input": schedule.input,
                });
            }
            with_location(entry, &w.location)
        })
        .collect();
    let tasks: Vec<Value> = inventory
        .tasks
        .iter()
        .map(|t| {
            with_location(
                json!({
                    "name": t.name,
                    "timeout_ms": t.options.timeout_ms,
                    "heartbeat_ms": t.options.heartbeat_ms,
                    "retry": retry(&t.options.retry),
                }),
                &t.location,
            )
        })
        .collect();
    let subscriptions: Vec<Value> = inventory
        .subscriptions
        .iter()
        .map(|s| {
            with_location(
                json!({
                    "name": s.name,
                    "pattern": pattern(&s.pattern),
                    "event_type": s.event_type,
                    "retry": retry(&s.retry),
                    "dead_letter": s.dead_letter,
                }),
                &s.location,
            )
        })
        .collect();
    let routes: Vec<Value> = inventory
        .routes
        .iter()
        .map(|r| {
            with_location(
                json!({
                    "name": r.name,
                    "method": r.method,
                    "path": r.path,
                    "auth": r.auth.as_str(),
                    "path_params": r.path_params,
                }),
                &r.location,
            )
        })
        .collect();
    json!({
        "service": service,
        "workflows": workflows,
        "tasks": tasks,
        "subscriptions": subscriptions,
        "routes": routes,
    })
}

/// `eventbridge-rules.json` ⚑: one entry per subscription with `name` (the subscription's
/// name), `event_pattern` (exactly its pattern), `target` (the SQS queue feeding its handler),
/// `dead_letter_queue` when it has one, plus the deployed `rule_name` and `event_bus_name`.
pub fn eventbridge_rules(service: &str, inventory: &Inventory) -> Value {
    let rules: Vec<Value> = inventory
        .subscriptions
        .iter()
        .map(|s| {
            let mut rule = json!({
                "name": s.name,
                "rule_name": names::rule(service, &s.name),
                "event_bus_name": names::bus(service),
                "event_pattern": pattern(&s.pattern),
                "target": names::handler_queue(service, &s.name),
                "handler": names::handler_function(service, &s.name),
            });
            if s.dead_letter {
                rule["dead_letter_queue"] = json!(names::handler_dlq(service, &s.name));
            }
            rule
        })
        .collect();
    Value::Array(rules)
}
