//! Handlers: per subscription its queue (fed by its rule, see [`bus`](super::bus)), a
//! dead-letter queue when `dead_letter` is on, and the function the queue feeds.

use super::lambda::{event_source, function, payload_env};
use super::resource::{dead_letter_queue, queue, reference};
use super::Resources;
use crate::manifest::inventory::{Inventory, SubscriptionInfo};
use crate::manifest::names::{self, env, id, role};
use serde_json::json;

/// Seconds one batch of deliveries may take.
const TIMEOUT_S: u64 = 60;

/// Adds every subscription's queues, function and event source.
pub(super) fn add(service: &str, inventory: &Inventory, resources: &mut Resources) {
    for subscription in &inventory.subscriptions {
        handler(service, subscription, resources);
    }
}

fn handler(service: &str, subscription: &SubscriptionInfo, resources: &mut Resources) {
    let name = &subscription.name;
    let queue_id = id::handler_queue(name);
    let dlq_id = id::handler_dlq(name);
    let function_id = id::handler_function(name);
    // The queue's redrive policy is the backstop: the handler dead-letters an event itself
    // after its last attempt.
    let dlq = subscription
        .dead_letter
        .then(|| (dlq_id.as_str(), subscription.retry.max_attempts.max(1)));
    resources.insert(
        queue_id.clone(),
        queue(
            &names::handler_queue(service, name),
            TIMEOUT_S * 6,
            dlq,
            false,
        ),
    );
    if subscription.dead_letter {
        resources.insert(
            dlq_id.clone(),
            dead_letter_queue(&names::handler_dlq(service, name), false),
        );
    }
    let mut vars = vec![
        (env::ROLE, json!(role::HANDLER)),
        (env::HANDLER, json!(name)),
        (
            env::ORCHESTRATOR_QUEUE_URL,
            reference(id::ORCHESTRATOR_QUEUE),
        ),
        (env::EVENT_BUS, json!(names::bus(service))),
        (env::HANDLER_QUEUE_URL, reference(&queue_id)),
        payload_env(),
    ];
    if subscription.dead_letter {
        vars.push((env::DEAD_LETTER_QUEUE_URL, reference(&dlq_id)));
    }
    resources.insert(
        function_id.clone(),
        function(
            service,
            &names::handler_function(service, name),
            &id::handler_role(name),
            TIMEOUT_S,
            &format!("Handler {name}"),
            vars,
        ),
    );
    resources.insert(
        id::handler_event_source(name),
        event_source(&queue_id, &function_id, 10),
    );
}
