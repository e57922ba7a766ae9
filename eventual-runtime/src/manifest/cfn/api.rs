//! The service API: its function (start, signal, query, redrive dead letters) and API
//! Gateway's HTTP API in front of it, where callers sign with SigV4 (IAM authorization). The
//! CLI can also invoke the function itself (`--url lambda://<function>`).

use super::lambda::{function, state_env, token_env};
use super::resource::{arn, reference};
use super::Resources;
use crate::engine::api::INTERNAL_PREFIX;
use crate::manifest::names::{self, env, id, role};
use serde_json::json;

/// Seconds one request may take (also API Gateway's integration timeout).
const TIMEOUT_S: u64 = 30;

/// Adds the function, the HTTP API, its integration, route and stage, and the permission
/// letting API Gateway invoke the function.
pub(super) fn add(service: &str, resources: &mut Resources) {
    let api_fn = names::api_function(service);
    let mut vars = state_env();
    vars.push((env::ROLE, json!(role::API)));
    vars.push((env::EVENT_BUS, json!(names::bus(service))));
    vars.push(token_env());
    resources.insert(
        id::API_FUNCTION.into(),
        function(
            service,
            &api_fn,
            id::API_ROLE,
            TIMEOUT_S,
            "Service API",
            vars,
        ),
    );
    resources.insert(
        id::HTTP_API.into(),
        json!({
            "Type": "AWS::ApiGatewayV2::Api",
            "Properties": {
                "Name": api_fn,
                "Description": format!("Service API of {service}"),
                "ProtocolType": "HTTP",
            },
        }),
    );
    resources.insert(
        id::HTTP_API_INTEGRATION.into(),
        json!({
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {
                "ApiId": reference(id::HTTP_API),
                "IntegrationType": "AWS_PROXY",
                "IntegrationUri": arn(id::API_FUNCTION),
                "PayloadFormatVersion": "2.0",
                "TimeoutInMillis": TIMEOUT_S * 1000,
            },
        }),
    );
    resources.insert(
        id::HTTP_API_ROUTE.into(),
        json!({
            "Type": "AWS::ApiGatewayV2::Route",
            "Properties": {
                "ApiId": reference(id::HTTP_API),
                "RouteKey": format!("ANY {INTERNAL_PREFIX}/{{proxy+}}"),
                "AuthorizationType": "AWS_IAM",
                "Target": { "Fn::Sub": format!("integrations/${{{}}}", id::HTTP_API_INTEGRATION) },
            },
        }),
    );
    resources.insert(
        id::HTTP_API_STAGE.into(),
        json!({
            "Type": "AWS::ApiGatewayV2::Stage",
            "Properties": {
                "ApiId": reference(id::HTTP_API),
                "StageName": "$default",
                "AutoDeploy": true,
            },
        }),
    );
    resources.insert(
        id::HTTP_API_INVOKES_API_FUNCTION.into(),
        json!({
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": reference(id::API_FUNCTION),
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": { "Fn::Sub": format!(
                    "arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{{}}}/*",
                    id::HTTP_API
                ) },
            },
        }),
    );
}
