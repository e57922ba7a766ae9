//! The template's parameters (the Lambda package, the completion-token secret) and outputs
//! (what the CLI and operators need to reach the stack).

use super::resource::reference;
use crate::manifest::names::{self, id, output, parameter};
use serde_json::{json, Value};

/// `Parameters`.
pub(super) fn parameters() -> Value {
    json!({
        parameter::ARTIFACT_BUCKET: {
            "Type": "String",
            "Description": "S3 bucket holding the Lambda package (cargo lambda build --release --output-format zip)",
        },
        parameter::ARTIFACT_KEY: {
            "Type": "String",
            "Description": "S3 key of the Lambda package zip",
        },
        parameter::COMPLETION_TOKEN_KEY: {
            "Type": "String",
            "NoEcho": true,
            "MinLength": 32,
            "Description": "Secret signing the completion tokens of tasks that complete later (ctx.complete_later), for example `openssl rand -hex 32`",
        },
    })
}

/// `Outputs`.
pub(super) fn outputs(service: &str) -> Value {
    json!({
        output::EVENT_BUS_NAME: { "Value": names::bus(service) },
        output::ORCHESTRATOR_QUEUE_URL: { "Value": reference(id::ORCHESTRATOR_QUEUE) },
        output::API_FUNCTION_NAME: { "Value": reference(id::API_FUNCTION) },
        output::API_URL: { "Value": { "Fn::GetAtt": [id::HTTP_API, "ApiEndpoint"] } },
        output::HISTORY_BUCKET_NAME: { "Value": reference(id::HISTORY_BUCKET) },
    })
}
