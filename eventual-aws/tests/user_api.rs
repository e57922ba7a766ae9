//! The `user-api` role: the order service's `#[api]` routes answer the payload-format-2.0
//! events API Gateway sends for their routes (the template's `ApiRoute*`), on the engine that
//! the harness plays on moto: `POST /orders` really starts `place_order`, `GET /orders/{id}`
//! reads it, a bad body is a 400 naming the field and starts nothing, a route key no route has
//! is a JSON 404 `no_route`.

mod harness;

extern crate order_service;

use aws_lambda_events::event::apigw::ApiGatewayV2httpRequest;
use base64::Engine as _;
use eventual_runtime::engine::api::ServiceApi;
use eventual_runtime::engine::ServiceError;
use eventual_runtime::workflow::Outcome;
use harness::{Harness, Options};
use serde_json::{json, Value};
use std::sync::Arc;

/// What API Gateway sends the integration of `route_key` for a request to `path`.
fn event(route_key: &str, path: &str, path_parameters: Value, body: Option<Body>) -> Value {
    let (method, _) = route_key.split_once(' ').unwrap_or(("GET", ""));
    let (body, is_base64_encoded) = match body {
        Some(Body::Text(text)) => (Some(text), false),
        Some(Body::Base64(text)) => (Some(text), true),
        None => (None, false),
    };
    json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "cookies": ["session=s-1"],
        "headers": {
            "content-type": "application/json",
            "x-correlation-id": "corr-user-api",
        },
        "pathParameters": path_parameters,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-1",
            "domainName": "api-1.execute-api.us-east-1.amazonaws.com",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "test",
            },
            "requestId": "request-1",
            "routeKey": route_key,
            "stage": "$default",
            "timeEpoch": 0,
        },
        "body": body,
        "isBase64Encoded": is_base64_encoded,
    })
}

/// A request body as API Gateway passes it: text, or base64 (`isBase64Encoded`).
enum Body {
    Text(String),
    Base64(String),
}

/// The integration response, as Lambda returns it to API Gateway: status, headers and the
/// JSON body.
struct Answer {
    status: u64,
    headers: Value,
    body: Value,
}

/// Runs the `user-api` role's handler on `event`, through the JSON Lambda carries.
async fn answer(service: &Arc<dyn ServiceApi>, event: Value) -> Answer {
    let event: ApiGatewayV2httpRequest = serde_json::from_value(event).expect("a 2.0 event");
    let response = eventual_aws::api::routes::handle(service.clone(), event).await;
    let wire = serde_json::to_value(&response).unwrap();
    assert_eq!(wire["isBase64Encoded"], false, "{wire}");
    let body = wire["body"].as_str().unwrap_or_default();
    Answer {
        status: wire["statusCode"].as_u64().unwrap(),
        headers: wire["headers"].clone(),
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_routes_answer_api_gateway_events_on_the_engine() {
    order_service::link();
    let harness = Harness::start(&[], Options::default()).await;
    let service: Arc<dyn ServiceApi> = Arc::new(harness.api());
    let order = order_service::sample_order("o-aws-1", 20_000, "eu");
    let order_text = serde_json::to_string(&order).unwrap();

    // POST /orders: 202 with where to follow the order, and `place_order` runs to its end on
    // the engine (orchestrator and task functions played by the harness).
    let placed = answer(
        &service,
        event(
            "POST /orders",
            "/orders",
            json!({}),
            Some(Body::Text(order_text.clone())),
        ),
    )
    .await;
    assert_eq!(placed.status, 202, "{}", placed.body);
    assert_eq!(placed.headers["location"], "/orders/o-aws-1");
    assert_eq!(placed.headers["content-type"], "application/json");
    assert_eq!(
        placed.body,
        json!({"order_id": "o-aws-1", "execution_id": "order-o-aws-1", "created": true})
    );
    let outcome = service.wait("order-o-aws-1").await.unwrap();
    assert!(matches!(outcome, Outcome::Succeeded { .. }), "{outcome:?}");
    let row = service.execution("order-o-aws-1").await.unwrap();
    assert_eq!(row.workflow, "place_order");
    // The request's headers reach the route: it starts with their correlation id.
    assert_eq!(row.correlation_id, "corr-user-api");

    // The same order again, its body base64-encoded: the same execution.
    let encoded = base64::engine::general_purpose::STANDARD.encode(&order_text);
    let again = answer(
        &service,
        event(
            "POST /orders",
            "/orders",
            json!({}),
            Some(Body::Base64(encoded)),
        ),
    )
    .await;
    assert_eq!(again.status, 202, "{}", again.body);
    assert_eq!(again.body["created"], false);

    // GET /orders/{id}: where the order stands, read through the engine.
    let status = answer(
        &service,
        event(
            "GET /orders/{id}",
            "/orders/o-aws-1",
            json!({"id": "o-aws-1"}),
            None,
        ),
    )
    .await;
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(status.body["status"], "succeeded");
    assert_eq!(status.body["execution_id"], "order-o-aws-1");
    assert_eq!(status.body["confirmation"]["charged_cents"], 20_000);
    let unknown = answer(
        &service,
        event(
            "GET /orders/{id}",
            "/orders/nobody",
            json!({"id": "nobody"}),
            None,
        ),
    )
    .await;
    assert_eq!(
        (unknown.status, &unknown.body["error"]["kind"]),
        (404, &json!("not_found"))
    );

    // A body of the wrong shape: a 400 naming the field, and nothing starts.
    let mut bad = serde_json::to_value(order_service::sample_order("o-bad", 1, "eu")).unwrap();
    bad["customer"] = json!(1);
    let refused = answer(
        &service,
        event(
            "POST /orders",
            "/orders",
            json!({}),
            Some(Body::Text(bad.to_string())),
        ),
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.body["error"]["kind"], "bad_request");
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("body.customer: "), "{message}");
    assert!(matches!(
        service.execution("order-o-bad").await,
        Err(ServiceError::NotFound(_))
    ));
    let garbled = answer(
        &service,
        event(
            "POST /orders",
            "/orders",
            json!({}),
            Some(Body::Base64("***".to_owned())),
        ),
    )
    .await;
    assert_eq!(garbled.status, 400, "{}", garbled.body);
    assert!(garbled.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("base64"));

    // A route key that no linked #[api] route has.
    let stray = answer(
        &service,
        event(
            "DELETE /orders/{id}",
            "/orders/o-aws-1",
            json!({"id": "o-aws-1"}),
            None,
        ),
    )
    .await;
    assert_eq!(stray.status, 404, "{}", stray.body);
    assert_eq!(stray.body["error"]["kind"], "no_route");
    assert!(stray.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("DELETE /orders/{id}"));
}
