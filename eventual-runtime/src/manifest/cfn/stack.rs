//! The template's parameters (the Lambda package, the legacy system, the JWT authorizer's
//! issuer and audience) and outputs (what the CLI and operators need to reach the stack).

use super::resource::reference;
use crate::manifest::inventory::Inventory;
use crate::manifest::names::{self, id, output, parameter};
use serde_json::{json, Value};

/// `Parameters`; the JWT authorizer's only when a route uses it.
pub(super) fn parameters(inventory: &Inventory) -> Value {
    let mut parameters = json!({
        parameter::ARTIFACT_BUCKET: {
            "Type": "String",
            "Description": "S3 bucket holding the Lambda package (cargo lambda build --release --output-format zip)",
        },
        parameter::ARTIFACT_KEY: {
            "Type": "String",
            "Description": "S3 key of the Lambda package zip",
        },
        parameter::ARCHITECTURE: {
            "Type": "String",
            "Default": "arm64",
            "AllowedValues": ["arm64", "x86_64"],
            "Description": "The instruction set of the Lambda package: arm64 (cargo lambda build --arm64; Graviton, cheaper per GB-second) or x86_64 (cargo lambda build --x86-64)",
        },
        parameter::LEGACY_BASE_URL: {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "^(https?://[^/?#]+)?$",
            "Description": "Strangler fig: the origin (scheme://host[:port], no path) of the legacy system that answers every request no route of the service matches, with its method, path, query, headers and body; empty: none",
        },
    });
    if inventory.uses_jwt() {
        parameters[parameter::JWT_ISSUER] = json!({
            "Type": "String",
            "AllowedPattern": "^https://.+$",
            "Description": "The issuer (iss) whose JWTs the routes with auth = \"jwt\" accept, an https URL with its OpenID configuration (for example https://cognito-idp.<region>.amazonaws.com/<user-pool-id>)",
        });
        parameters[parameter::JWT_AUDIENCE] = json!({
            "Type": "CommaDelimitedList",
            "Description": "The audiences (aud, or a Cognito client id) those JWTs must name, comma separated",
        });
    }
    parameters
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
