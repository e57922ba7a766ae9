//! The orchestrator: the FIFO orchestrator queue (+ FIFO DLQ) feeding the function that runs
//! workflow steps.

use super::lambda::{event_source, function, scheduler_env, state_env};
use super::resource::{dead_letter_queue, queue, reference};
use super::Resources;
use crate::manifest::names::{self, env, id, parameter, role};
use serde_json::json;

/// Seconds one batch of steps may take.
const TIMEOUT_S: u64 = 60;
/// Receives before a step message is dead-lettered.
const MAX_RECEIVES: u32 = 5;

/// Adds the queues, the function and its event source.
pub(super) fn add(service: &str, resources: &mut Resources) {
    resources.insert(
        id::ORCHESTRATOR_QUEUE.into(),
        queue(
            &names::orchestrator_queue(service),
            TIMEOUT_S * 6,
            Some((id::ORCHESTRATOR_DLQ, MAX_RECEIVES)),
            true,
        ),
    );
    resources.insert(
        id::ORCHESTRATOR_DLQ.into(),
        dead_letter_queue(&names::orchestrator_dlq(service), true),
    );
    let mut vars = state_env();
    vars.push((env::ROLE, json!(role::ORCHESTRATOR)));
    vars.push((env::TIMER_QUEUE_URL, reference(id::TIMER_QUEUE)));
    vars.extend(scheduler_env());
    vars.push((env::EVENT_BUS, json!(names::bus(service))));
    // The orchestrator writes an ended execution's expiry. (A variable is a string: `Sub`
    // makes one of the number on every CloudFormation.)
    vars.push((
        env::RETENTION_DAYS,
        json!({ "Fn::Sub": format!("${{{}}}", parameter::RETENTION_DAYS) }),
    ));
    resources.insert(
        id::ORCHESTRATOR_FUNCTION.into(),
        function(
            service,
            &names::orchestrator_function(service),
            id::ORCHESTRATOR_ROLE,
            TIMEOUT_S,
            "Runs workflow steps from the FIFO orchestrator queue",
            vars,
        ),
    );
    resources.insert(
        id::ORCHESTRATOR_EVENT_SOURCE.into(),
        event_source(id::ORCHESTRATOR_QUEUE, id::ORCHESTRATOR_FUNCTION, 10),
    );
}
