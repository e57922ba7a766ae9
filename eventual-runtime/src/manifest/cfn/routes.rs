//! The service's own `#[api]` routes: the user-API function that runs them, its integration
//! with the HTTP API, one route per `#[api]` (route key `METHOD /path`, API Gateway's own
//! `{param}` syntax) with the route's authorization, and the JWT authorizer when a route asks
//! for one. The function is not the internal API's: its role has only what `ApiContext` does
//! (start, signal, cancel and read executions, publish events; see [`iam`](super::iam)).

use super::gateway::{
    function_integration, invoked_by_http_api, route, RouteAuthorization, TIMEOUT_S,
};
use super::lambda::function;
use super::resource::reference;
use super::Resources;
use crate::api::ApiAuth;
use crate::manifest::inventory::Inventory;
use crate::manifest::names::{self, env, id, parameter, role};
use serde_json::json;

/// Adds the user-API function, its integration and invoke permission, the routes and the JWT
/// authorizer; nothing when the service has no route.
pub(super) fn add(service: &str, inventory: &Inventory, resources: &mut Resources) {
    if inventory.routes.is_empty() {
        return;
    }
    // What `ApiContext` reaches, and nothing the internal API alone needs (the history table,
    // the completion-token key).
    let vars = vec![
        (env::ROLE, json!(role::USER_API)),
        (env::EXECUTIONS_TABLE, reference(id::EXECUTIONS_TABLE)),
        (env::HISTORY_BUCKET, reference(id::HISTORY_BUCKET)),
        (
            env::ORCHESTRATOR_QUEUE_URL,
            reference(id::ORCHESTRATOR_QUEUE),
        ),
        (env::EVENT_BUS, json!(names::bus(service))),
    ];
    resources.insert(
        id::USER_API_FUNCTION.into(),
        function(
            service,
            &names::user_api_function(service),
            id::USER_API_ROLE,
            TIMEOUT_S,
            "The service's #[api] routes",
            vars,
        ),
    );
    resources.insert(
        id::HTTP_API_USER_INTEGRATION.into(),
        function_integration(id::USER_API_FUNCTION),
    );
    resources.insert(
        id::HTTP_API_INVOKES_USER_API_FUNCTION.into(),
        invoked_by_http_api(id::USER_API_FUNCTION),
    );
    if inventory.uses_jwt() {
        resources.insert(
            id::HTTP_API_JWT_AUTHORIZER.into(),
            json!({
                "Type": "AWS::ApiGatewayV2::Authorizer",
                "Properties": {
                    "ApiId": reference(id::HTTP_API),
                    "Name": names::jwt_authorizer(service),
                    "AuthorizerType": "JWT",
                    "IdentitySource": ["$request.header.Authorization"],
                    "JwtConfiguration": {
                        "Issuer": reference(parameter::JWT_ISSUER),
                        "Audience": reference(parameter::JWT_AUDIENCE),
                    },
                },
            }),
        );
    }
    for api_route in &inventory.routes {
        let authorization = match api_route.auth {
            ApiAuth::None => RouteAuthorization::None,
            ApiAuth::Iam => RouteAuthorization::Iam,
            ApiAuth::Jwt => RouteAuthorization::Jwt {
                authorizer_id: id::HTTP_API_JWT_AUTHORIZER,
            },
        };
        resources.insert(
            id::route(&api_route.name),
            route(
                &api_route.route_key(),
                authorization,
                id::HTTP_API_USER_INTEGRATION,
            ),
        );
    }
}
