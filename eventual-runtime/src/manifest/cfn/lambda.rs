//! A Lambda function of the service's one binary, its queue event source, and the environment
//! fragments several roles share.

use super::resource::{arn, reference};
use crate::manifest::names::{env, id, parameter};
use serde_json::{json, Map, Value};

/// One environment variable: name and value.
pub(super) type Var = (&'static str, Value);

/// A function running the service's binary from the artifact package; `vars` come after
/// `EVENTUAL_SERVICE`, which every function has.
pub(super) fn function(
    service: &str,
    name: &str,
    role_id: &str,
    timeout_s: u64,
    description: &str,
    vars: Vec<Var>,
) -> Value {
    let mut variables = Map::new();
    variables.insert(env::SERVICE.to_owned(), json!(service));
    for (key, value) in vars {
        variables.insert(key.to_owned(), value);
    }
    json!({
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "FunctionName": name,
            "Description": description,
            "Runtime": "provided.al2023",
            "Handler": "bootstrap",
            "Architectures": ["x86_64"],
            "MemorySize": 256,
            "Timeout": timeout_s,
            "Code": {
                "S3Bucket": reference(parameter::ARTIFACT_BUCKET),
                "S3Key": reference(parameter::ARTIFACT_KEY),
            },
            "Role": arn(role_id),
            "Environment": { "Variables": variables },
        },
    })
}

/// The mapping that feeds `queue_id`'s messages to `function_id` in batches, reporting
/// failed items.
pub(super) fn event_source(queue_id: &str, function_id: &str, batch: u32) -> Value {
    json!({
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {
            "EventSourceArn": arn(queue_id),
            "FunctionName": reference(function_id),
            "BatchSize": batch,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    })
}

/// What the roles that keep execution state read: the tables, the bucket, the orchestrator
/// queue.
pub(super) fn state_env() -> Vec<Var> {
    vec![
        (env::EXECUTIONS_TABLE, reference(id::EXECUTIONS_TABLE)),
        (env::HISTORY_TABLE, reference(id::HISTORY_TABLE)),
        (env::ATTRIBUTES_TABLE, reference(id::ATTRIBUTES_TABLE)),
        (env::HISTORY_BUCKET, reference(id::HISTORY_BUCKET)),
        (
            env::ORCHESTRATOR_QUEUE_URL,
            reference(id::ORCHESTRATOR_QUEUE),
        ),
    ]
}

/// Where payloads too large for a message go.
pub(super) fn payload_env() -> Var {
    (env::HISTORY_BUCKET, reference(id::HISTORY_BUCKET))
}

/// What scheduling a long timer needs: the timer queue's ARN and Scheduler's role.
pub(super) fn scheduler_env() -> [Var; 2] {
    [
        (env::TIMER_QUEUE_ARN, arn(id::TIMER_QUEUE)),
        (env::SCHEDULER_ROLE_ARN, arn(id::TIMER_SCHEDULER_ROLE)),
    ]
}

/// The completion-token key (task and API functions).
pub(super) fn token_env() -> Var {
    (env::TOKEN_KEY, reference(parameter::COMPLETION_TOKEN_KEY))
}
