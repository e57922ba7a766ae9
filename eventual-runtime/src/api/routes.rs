//! The registered `#[api]` routes as an axum router: what the local engine serves next to its
//! internal API.

use super::{ApiError, ApiReply, ApiRequest};
use crate::engine::api::ServiceApi;
use crate::registry::{ApiRouteDescriptor, API_ROUTES};
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Every registered route, answering with `service` as its [`ApiContext`](super::ApiContext).
pub fn routes(service: Arc<dyn ServiceApi>) -> Router {
    routes_of(API_ROUTES.iter(), service)
}

/// A router of `routes`; routes that share a path share one entry, each under its method.
pub fn routes_of(
    routes: impl IntoIterator<Item = &'static ApiRouteDescriptor>,
    service: Arc<dyn ServiceApi>,
) -> Router {
    let mut by_path: BTreeMap<&'static str, MethodRouter> = BTreeMap::new();
    for route in routes {
        let service = service.clone();
        let handler = move |method: Method,
                            path: Result<Path<Vec<(String, String)>>, PathRejection>,
                            RawQuery(query): RawQuery,
                            uri: axum::http::Uri,
                            headers: HeaderMap,
                            body: Bytes| async move {
            let path_params = match path {
                Ok(Path(params)) => params,
                Err(rejection) => {
                    let error = ApiError::bad_request(format!("path: {}", rejection.body_text()));
                    return reply_response(ApiReply::from(error));
                }
            };
            let request = ApiRequest {
                method: method.to_string(),
                path: uri.path().to_owned(),
                path_params,
                query: query.unwrap_or_default(),
                headers: headers
                    .iter()
                    .filter_map(|(name, value)| {
                        Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
                    })
                    .collect(),
                body: body.to_vec(),
                service,
            };
            reply_response((route.handle)(request).await)
        };
        let filter = method_filter(route.method);
        let entry = by_path.remove(route.path);
        let entry = match entry {
            Some(existing) => existing.on(filter, handler),
            None => on(filter, handler),
        };
        by_path.insert(route.path, entry);
    }
    by_path
        .into_iter()
        .fold(Router::new(), |router, (path, methods)| {
            router.route(path, methods)
        })
}

fn method_filter(method: &str) -> MethodFilter {
    match method {
        "GET" => MethodFilter::GET,
        "POST" => MethodFilter::POST,
        "PUT" => MethodFilter::PUT,
        "PATCH" => MethodFilter::PATCH,
        "DELETE" => MethodFilter::DELETE,
        "HEAD" => MethodFilter::HEAD,
        "OPTIONS" => MethodFilter::OPTIONS,
        other => unreachable!("the macro admits no method `{other}`"),
    }
}

/// The axum response of a route's reply.
pub fn reply_response(reply: ApiReply) -> Response {
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::try_from(name),
            axum::http::HeaderValue::try_from(value),
        ) {
            headers.append(name, value);
        }
    }
    response.into_response()
}
