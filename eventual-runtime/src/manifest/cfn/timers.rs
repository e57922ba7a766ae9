//! Timers: the standard timer queue feeding the timer forwarder, which moves due timers to the
//! orchestrator queue and invokes the attempts of tasks retried after a backoff. Waits longer
//! than SQS's 15-minute delay are one-time EventBridge Scheduler schedules onto the timer
//! queue (their role is in [`iam`](super::iam)).

use super::lambda::{event_source, function, payload_env, scheduler_env};
use super::resource::{queue, reference};
use super::Resources;
use crate::manifest::names::{self, env, id, role};
use serde_json::json;

/// Seconds one batch of timers may take.
const TIMEOUT_S: u64 = 30;

/// Adds the queue, the forwarder and its event source.
pub(super) fn add(service: &str, resources: &mut Resources) {
    resources.insert(
        id::TIMER_QUEUE.into(),
        queue(&names::timer_queue(service), TIMEOUT_S * 6, None, false),
    );
    let mut vars = vec![
        (env::ROLE, json!(role::TIMER_FORWARDER)),
        (
            env::ORCHESTRATOR_QUEUE_URL,
            reference(id::ORCHESTRATOR_QUEUE),
        ),
        (env::TIMER_QUEUE_URL, reference(id::TIMER_QUEUE)),
        payload_env(),
    ];
    vars.extend(scheduler_env());
    resources.insert(
        id::TIMER_FORWARDER_FUNCTION.into(),
        function(
            service,
            &names::timer_forwarder_function(service),
            id::TIMER_FORWARDER_ROLE,
            TIMEOUT_S,
            "Forwards due timers to the orchestrator queue",
            vars,
        ),
    );
    resources.insert(
        id::TIMER_FORWARDER_EVENT_SOURCE.into(),
        event_source(id::TIMER_QUEUE, id::TIMER_FORWARDER_FUNCTION, 10),
    );
}
