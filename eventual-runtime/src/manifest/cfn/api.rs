//! The service API: its function (start, signal, query, redrive dead letters) and API
//! Gateway's HTTP API in front of it, where callers sign with SigV4 (IAM authorization). The
//! CLI can also invoke the function itself (`--url lambda://<function>`).

use super::gateway::{
    function_integration, invoked_by_http_api, route, RouteAuthorization, TIMEOUT_S,
};
use super::lambda::{function, state_env, token_env};
use super::resource::reference;
use super::Resources;
use crate::engine::api::INTERNAL_PREFIX;
use crate::manifest::names::{self, env, id, role};
use serde_json::json;

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
        function_integration(id::API_FUNCTION),
    );
    resources.insert(
        id::HTTP_API_ROUTE.into(),
        route(
            &format!("ANY {INTERNAL_PREFIX}/{{proxy+}}"),
            RouteAuthorization::Iam,
            id::HTTP_API_INTEGRATION,
        ),
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
        invoked_by_http_api(id::API_FUNCTION),
    );
}
