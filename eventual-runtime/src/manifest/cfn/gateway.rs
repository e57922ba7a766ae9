//! Shapes of API Gateway's HTTP API that its builders share: an integration that proxies to
//! a function, a route, and the permission letting the HTTP API invoke a function.

use super::resource::{arn, reference};
use crate::manifest::names::id;
use serde_json::{json, Value};

/// Seconds one request may take: API Gateway's integration timeout, and the API functions'.
pub(super) const TIMEOUT_S: u64 = 30;

/// An `AWS_PROXY` integration of the HTTP API with `function_id`, payload format 2.0 (what
/// the functions' handlers read).
pub(super) fn function_integration(function_id: &str) -> Value {
    json!({
        "Type": "AWS::ApiGatewayV2::Integration",
        "Properties": {
            "ApiId": reference(id::HTTP_API),
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": arn(function_id),
            "PayloadFormatVersion": "2.0",
            "TimeoutInMillis": TIMEOUT_S * 1000,
        },
    })
}

/// How API Gateway authorizes a route's callers.
pub(super) enum RouteAuthorization<'a> {
    /// Anyone.
    None,
    /// A SigV4 signature by credentials allowed to invoke the API.
    Iam,
    /// A JWT the authorizer `authorizer_id` accepts.
    Jwt { authorizer_id: &'a str },
}

/// The HTTP API's route `route_key` to the integration `integration_id`.
pub(super) fn route(
    route_key: &str,
    authorization: RouteAuthorization<'_>,
    integration_id: &str,
) -> Value {
    let mut properties = json!({
        "ApiId": reference(id::HTTP_API),
        "RouteKey": route_key,
        "Target": { "Fn::Sub": format!("integrations/${{{integration_id}}}") },
    });
    properties["AuthorizationType"] = json!(match authorization {
        RouteAuthorization::None => "NONE",
        RouteAuthorization::Iam => "AWS_IAM",
        RouteAuthorization::Jwt { .. } => "JWT",
    });
    if let RouteAuthorization::Jwt { authorizer_id } = authorization {
        properties["AuthorizerId"] = reference(authorizer_id);
    }
    json!({ "Type": "AWS::ApiGatewayV2::Route", "Properties": properties })
}

/// The permission letting the HTTP API, and only it, invoke `function_id`.
pub(super) fn invoked_by_http_api(function_id: &str) -> Value {
    json!({
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": reference(function_id),
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": { "Fn::Sub": format!(
                "arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{{}}}/*",
                id::HTTP_API
            ) },
        },
    })
}
