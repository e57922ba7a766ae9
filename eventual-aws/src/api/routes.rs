//! The service's own `#[api]` routes behind API Gateway: the `user-api` role's handler.
//!
//! API Gateway has already matched the request to a route (one per `#[api]`, see the
//! template), so the event names it: its `routeKey` is `METHOD /path` exactly as
//! [`ApiRouteDescriptor::route_key`] spells it, and its `pathParameters` are decoded. The
//! handler turns the event (payload format 2.0) into the engine-neutral [`ApiRequest`] with the
//! AWS engine's [`ServiceApi`], runs the route, and turns its [`ApiReply`] into the integration
//! response. A route key that no linked route has is a JSON 404 `no_route`, as the local
//! engine answers a path it does not serve.

use super::gateway::{body_bytes, integration_response};
use aws_lambda_events::event::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use eventual_runtime::api::{ApiError, ApiReply, ApiRequest};
use eventual_runtime::engine::api::ServiceApi;
use eventual_runtime::engine::ServiceError;
use eventual_runtime::registry::{ApiRouteDescriptor, API_ROUTES};
use std::sync::Arc;

/// Answers one API Gateway event with the linked route its `routeKey` names.
pub async fn handle(
    service: Arc<dyn ServiceApi>,
    event: ApiGatewayV2httpRequest,
) -> ApiGatewayV2httpResponse {
    let reply = match route_of(&event) {
        Ok(route) => match request(route, event, service) {
            Ok(request) => (route.handle)(request).await,
            Err(error) => ApiReply::from(error),
        },
        Err(error) => ApiReply::from(error),
    };
    response(reply)
}

/// The linked route the event's `routeKey` names.
fn route_of(event: &ApiGatewayV2httpRequest) -> Result<&'static ApiRouteDescriptor, ApiError> {
    let route_key = event
        .route_key
        .as_deref()
        .or(event.request_context.route_key.as_deref())
        .unwrap_or_default();
    API_ROUTES
        .iter()
        .find(|route| route.route_key() == route_key)
        .ok_or_else(|| ServiceError::NoRoute(route_key.to_owned()).into())
}

/// The request `event` makes to `route`; a body that is not valid base64 is a 400.
fn request(
    route: &ApiRouteDescriptor,
    event: ApiGatewayV2httpRequest,
    service: Arc<dyn ServiceApi>,
) -> Result<ApiRequest, ApiError> {
    let body = body_bytes(event.body, event.is_base64_encoded)
        .map_err(|message| ApiError::bad_request(format!("body: {message}")))?;
    let path_params = route
        .path_params
        .iter()
        .filter_map(|name| {
            let value = event.path_parameters.get(*name)?;
            Some(((*name).to_owned(), value.clone()))
        })
        .collect();
    let mut headers: Vec<(String, String)> = event
        .headers
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    // Payload format 2.0 moves the cookies out of the headers.
    if let Some(cookies) = event.cookies.filter(|cookies| !cookies.is_empty()) {
        headers.push(("cookie".to_owned(), cookies.join("; ")));
    }
    Ok(ApiRequest {
        method: event.request_context.http.method.to_string(),
        path: event
            .raw_path
            .or(event.request_context.http.path)
            .unwrap_or_else(|| route.path.to_owned()),
        path_params,
        query: event.raw_query_string.unwrap_or_default(),
        headers,
        body,
        service,
    })
}

/// The integration response of a route's reply; a header that HTTP cannot carry is left out.
fn response(reply: ApiReply) -> ApiGatewayV2httpResponse {
    let mut headers = HeaderMap::new();
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            headers.append(name, value);
        }
    }
    integration_response(reply.status, headers, &reply.body)
}
