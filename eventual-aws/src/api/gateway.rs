//! API Gateway (HTTP API, payload format 2.0) in front of the service API's routes: each
//! request event becomes an HTTP request to the same axum router the local engine serves,
//! and its response becomes the integration's response.

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use axum::Router;
use base64::Engine as _;
use tower::ServiceExt;

/// Answers one API Gateway request with `router`.
pub async fn handle(router: Router, event: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    match request(event) {
        Ok(request) => {
            let response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            respond(response).await
        }
        Err(message) => error_response(400, &message),
    }
}

/// The HTTP request an API Gateway event describes.
fn request(
    event: ApiGatewayV2httpRequest,
) -> Result<axum::http::Request<axum::body::Body>, String> {
    let path = event
        .raw_path
        .or(event.request_context.http.path)
        .unwrap_or_else(|| "/".to_owned());
    let uri = match event.raw_query_string.as_deref() {
        Some(query) if !query.is_empty() => format!("{path}?{query}"),
        _ => path,
    };
    let body = body_bytes(event.body, event.is_base64_encoded)?;
    let mut request = axum::http::Request::builder()
        .method(event.request_context.http.method)
        .uri(&uri)
        .body(axum::body::Body::from(body))
        .map_err(|error| format!("cannot build the request for `{uri}`: {error}"))?;
    *request.headers_mut() = event.headers;
    Ok(request)
}

/// An event's body as bytes: API Gateway base64-encodes a body that is not text
/// (`isBase64Encoded`).
pub(crate) fn body_bytes(body: Option<String>, is_base64_encoded: bool) -> Result<Vec<u8>, String> {
    match body {
        Some(body) if is_base64_encoded => base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|error| format!("the body is not valid base64: {error}")),
        Some(body) => Ok(body.into_bytes()),
        None => Ok(Vec::new()),
    }
}

/// The integration response of an HTTP response (the API's bodies are JSON text).
async fn respond(response: axum::response::Response) -> ApiGatewayV2httpResponse {
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => integration_response(parts.status.as_u16(), parts.headers, &bytes),
        Err(error) => error_response(500, &format!("cannot read the response: {error}")),
    }
}

/// The integration response with `status`, `headers` and `body`: text as it is, other bytes
/// base64-encoded (`isBase64Encoded`), as API Gateway expects them.
pub(crate) fn integration_response(
    status: u16,
    headers: axum::http::HeaderMap,
    body: &[u8],
) -> ApiGatewayV2httpResponse {
    let (body, is_base64_encoded) = match std::str::from_utf8(body) {
        Ok(text) => (Body::Text(text.to_owned()), false),
        Err(_) => (
            Body::Text(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        ),
    };
    ApiGatewayV2httpResponse {
        status_code: i64::from(status),
        headers,
        body: Some(body),
        is_base64_encoded,
        ..Default::default()
    }
}

fn error_response(status: u16, message: &str) -> ApiGatewayV2httpResponse {
    let body = serde_json::json!({"error": {"kind": "bad_request", "message": message}});
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    ApiGatewayV2httpResponse {
        status_code: i64::from(status),
        headers,
        body: Some(Body::Text(body.to_string())),
        ..Default::default()
    }
}

/// An API Gateway request event for `method path` with a JSON body: what API Gateway sends
/// for an HTTP request, and what the CLI sends when it invokes the API function directly.
pub fn request_event(
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> serde_json::Value {
    let (raw_path, raw_query) = path.split_once('?').unwrap_or((path, ""));
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1"},
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": 0,
        },
        "body": body.map(|body| body.to_string()),
        "isBase64Encoded": false,
    })
}

/// The status and JSON body of an integration response.
pub fn response_parts(response: &ApiGatewayV2httpResponse) -> (u16, serde_json::Value) {
    let text = match &response.body {
        Some(Body::Text(text)) if response.is_base64_encoded => {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .unwrap_or_default()
        }
        Some(Body::Text(text)) => text.clone(),
        Some(Body::Binary(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
        Some(Body::Empty) | None => String::new(),
    };
    let status = u16::try_from(response.status_code).unwrap_or(500);
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::post;

    #[tokio::test]
    async fn a_request_event_reaches_the_route_with_its_query_and_body() {
        let router = Router::new().route(
            "/echo/{id}",
            post(
                |axum::extract::Path(id): axum::extract::Path<String>,
                 axum::extract::RawQuery(query): axum::extract::RawQuery,
                 body: String| async move {
                    axum::Json(serde_json::json!({"id": id, "query": query, "body": body}))
                },
            ),
        );
        let event = request_event(
            "POST",
            "/echo/a%2Fb?x=1",
            Some(&serde_json::json!({"k": 2})),
        );
        let event: ApiGatewayV2httpRequest = serde_json::from_value(event).unwrap();
        let response = handle(router, event).await;
        let (status, body) = response_parts(&response);
        assert_eq!(status, 200);
        assert_eq!(body["id"], "a/b");
        assert_eq!(body["query"], "x=1");
        assert_eq!(body["body"], r#"{"k":2}"#);
    }

    #[tokio::test]
    async fn a_body_that_is_not_base64_is_a_bad_request() {
        let mut event: ApiGatewayV2httpRequest =
            serde_json::from_value(request_event("POST", "/x", Some(&serde_json::json!(1))))
                .unwrap();
        event.is_base64_encoded = true;
        event.body = Some("***".into());
        let (status, body) = response_parts(&handle(Router::new(), event).await);
        assert_eq!(status, 400);
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("base64"));
    }
}
