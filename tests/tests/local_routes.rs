//! The service's own `#[api]` routes on the local engine: the order service's `POST /orders`
//! and `GET /orders/{id}`, and routes of this test for every kind of input and failure. Each
//! bad input is a 4xx that names what is wrong and writes nothing.

use eventual_runtime::api::{ApiContext, ApiError, ApiResponse, Headers, Query};
use eventual_runtime::prelude::*;
use eventual_tests::local::{assert_error, poll, Api, InProcess};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Deserialize, schemars::JsonSchema)]
struct Page {
    limit: u32,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Echo {
    n: u32,
    limit: u32,
    agent: Option<String>,
}

/// Echoes a typed path parameter, a typed query and a header.
#[api(GET "/echo/{n}")]
async fn echo(n: u32, Query(page): Query<Page>, headers: Headers) -> Result<Echo, ApiError> {
    Ok(Echo {
        n,
        limit: page.limit,
        agent: headers.get("x-agent").map(str::to_owned),
    })
}

#[derive(Debug)]
enum ShelfError {
    Empty(String),
}

impl From<ShelfError> for ApiError {
    fn from(error: ShelfError) -> Self {
        match error {
            ShelfError::Empty(shelf) => {
                ApiError::new(409, "shelf_empty", format!("shelf `{shelf}` is empty"))
                    .with_details(json!({"shelf": shelf}))
            }
        }
    }
}

/// Fails with the service's own error type.
#[api(DELETE "/shelves/{shelf}")]
async fn clear_shelf(shelf: String) -> Result<(), ShelfError> {
    Err(ShelfError::Empty(shelf))
}

/// Panics on request.
#[api(POST "/panic")]
async fn panic_route() -> Result<(), ApiError> {
    panic!("the route broke")
}

/// Starts a workflow with the request's correlation id.
#[api(POST "/greetings/{name}")]
async fn greet(ctx: ApiContext, name: String) -> Result<ApiResponse<Value>, ApiError> {
    let started = ctx.start::<route_greeting>(name).await?;
    Ok(ApiResponse::accepted(
        json!({"execution_id": started.execution_id}),
    ))
}

#[workflow]
async fn route_greeting(_ctx: WorkflowContext, name: String) -> Result<String, WorkflowError> {
    Ok(format!("hello, {name}"))
}

fn origin(server: &InProcess) -> Api {
    Api::new(
        format!("http://{}", server.address),
        Duration::from_secs(30),
    )
}

fn order(id: &str) -> Value {
    json!({
        "id": id,
        "customer": "ada@example.com",
        "items": [{"sku": "BOOK-42", "quantity": 1}],
        "total_cents": 25000,
        "region": "eu-west-1",
    })
}

#[test]
fn orders_are_placed_and_followed_through_the_service_routes() {
    let server = InProcess::start();
    let api = origin(&server);
    let placed = api.post("/orders", &order("o-1"));
    assert_eq!(placed.status, 202, "{:?}", placed.body);
    assert_eq!(placed.header("location"), Some("/orders/o-1"));
    assert_eq!(
        placed.body,
        json!({"order_id": "o-1", "execution_id": "order-o-1", "created": true})
    );
    let again = api.post("/orders", &order("o-1"));
    assert_eq!((again.status, &again.body["created"]), (202, &json!(false)));

    let status = poll(Duration::from_secs(30), "the order succeeds", || {
        let reply = api.get("/orders/o-1");
        (reply.body["status"] == "succeeded").then_some(reply)
    });
    assert_eq!(status.status, 200);
    assert_eq!(
        status.body["confirmation"],
        json!({"order_id": "o-1", "charged_cents": 25000, "tracking": "trk-res-o-1"})
    );
    // The route started the very execution the internal API shows.
    assert_eq!(
        server.api.get("/executions/order-o-1").body["status"],
        "succeeded"
    );

    let mut sold_out = order("o-2");
    sold_out["items"][0]["sku"] = json!("OUT-7");
    let failed = api.post("/orders", &sold_out);
    assert_eq!(failed.status, 202);
    let status = poll(Duration::from_secs(30), "the order fails", || {
        let reply = api.get("/orders/o-2");
        (reply.body["status"] == "failed").then_some(reply)
    });
    assert_eq!(status.body["error"], "OUT-7 is out of stock");

    assert_error(
        &api.get("/orders/nope"),
        404,
        "not_found",
        "no order `nope`",
    );
}

#[test]
fn bad_input_is_a_400_that_names_it_and_writes_nothing() {
    let server = InProcess::start();
    let api = origin(&server);
    let mut wrong_type = order("o-3");
    wrong_type["total_cents"] = json!("lots");
    let mut wrong_item = order("o-4");
    wrong_item["items"][0]["quantity"] = json!(-1);
    let mut missing = order("o-5");
    missing.as_object_mut().unwrap().remove("customer");
    let cases: Vec<(String, &str)> = vec![
        ("{\"id\": \"o-6\"".to_owned(), "body: EOF"),
        (String::new(), "body: a JSON body is required"),
        (wrong_type.to_string(), "body.total_cents: invalid type"),
        (
            wrong_item.to_string(),
            "body.items[0].quantity: invalid value",
        ),
        (missing.to_string(), "missing field `customer`"),
        (order("").to_string(), "body: `id` must not be empty"),
        (
            format!("{} trailing", order("o-7")),
            "body: trailing characters",
        ),
    ];
    for (body, names) in cases {
        let reply = api.request(
            "POST",
            "/orders",
            &[("content-type", "application/json")],
            Some(body.as_bytes()),
        );
        assert_error(&reply, 400, "bad_request", names);
    }
    assert_error(
        &api.get("/echo/seven?limit=3"),
        400,
        "bad_request",
        "path parameter `n`: invalid digit found in string (got `seven`)",
    );
    assert_error(
        &api.get("/echo/7?limit=many"),
        400,
        "bad_request",
        "query.limit: invalid digit",
    );
    assert_error(
        &api.get("/echo/7"),
        400,
        "bad_request",
        "query: missing field `limit`",
    );
    assert_eq!(
        server.api.get("/executions").body["executions"],
        json!([]),
        "a refused request started nothing"
    );
}

#[test]
fn routes_answer_typed_inputs_errors_panics_and_unknown_paths() {
    let server = InProcess::start();
    let api = origin(&server);
    let echoed = api.request("GET", "/echo/7?limit=3", &[("x-agent", "curl")], None);
    assert_eq!(
        (echoed.status, echoed.body),
        (200, json!({"n": 7, "limit": 3, "agent": "curl"}))
    );
    let cleared = api.request("DELETE", "/shelves/top", &[], None);
    assert_error(&cleared, 409, "shelf_empty", "shelf `top` is empty");
    assert_eq!(cleared.body["error"]["details"], json!({"shelf": "top"}));

    // A panic is a JSON 500, and the server goes on serving.
    assert_error(
        &api.post("/panic", &json!({})),
        500,
        "internal",
        "the route broke",
    );
    assert_eq!(api.get("/echo/1?limit=1").status, 200);

    assert_error(
        &api.get("/nothing/here"),
        404,
        "no_route",
        "GET /nothing/here",
    );
    // A route's path with another method is not that route.
    assert_error(
        &api.request("PUT", "/echo/7", &[], None),
        405,
        "method_not_allowed",
        "PUT /echo/7",
    );
}

#[test]
fn a_route_starts_executions_with_the_request_correlation_id() {
    let server = InProcess::start();
    let api = origin(&server);
    let reply = api.request(
        "POST",
        "/greetings/ada",
        &[("x-correlation-id", "req-42")],
        None,
    );
    assert_eq!(reply.status, 202, "{:?}", reply.body);
    let id = reply.body["execution_id"].as_str().unwrap().to_owned();
    let ended = server.api.wait_ended(&id, Duration::from_secs(30));
    assert_eq!(ended["correlation_id"], "req-42");
    assert_eq!(ended["outcome"]["result"], "hello, ada");
}
