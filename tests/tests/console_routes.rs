//! The console's routes on the local engine's listener: its files (public even when the API
//! requires a token), and the workflow catalogue and diagrams it reads.

use eventual_runtime::engine::local::ServeOptions;
use eventual_tests::local::{assert_error, InProcess};
use serde_json::Value;

// The order service's workflows are linked through the tests crate.
use order_service as _;

#[test]
fn the_console_is_served_without_the_token_the_api_requires() {
    let options = ServeOptions::default().with_api_token("s3cret");
    let server = InProcess::start_serving(axum::Router::new(), &options);
    let api = &server.api;
    let page = api.get("/console/");
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let policy = page.header("content-security-policy").unwrap();
    assert!(policy.contains("default-src 'self'"), "{policy}");
    let script = api.get("/console/console.js");
    assert_eq!(script.status, 200);
    assert!(script
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    // Without its final `/`, the page is redirected to (and the client follows).
    let bare = api.get("/console");
    assert_eq!(bare.status, 200);
    assert!(bare
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert_error(&api.get("/console/nope.js"), 404, "no_route", "nope.js");
    // The API itself still wants the token.
    assert_eq!(api.get("/executions").status, 401);
    assert_eq!(api.get("/workflows").status, 401);
    let authorized = api.clone().with_bearer_token("s3cret");
    assert_eq!(authorized.get("/workflows").status, 200);
}

#[test]
fn workflows_and_their_diagrams_are_listed() {
    let server = InProcess::start();
    let api = &server.api;
    let workflows = api.get("/workflows");
    assert_eq!(workflows.status, 200);
    let place_order = workflows.body["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "place_order")
        .cloned()
        .expect("place_order is listed");
    let tasks: Vec<&str> = place_order["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(tasks.contains(&"charge_card"), "{tasks:?}");
    assert_eq!(place_order["events"][0], "OrderPlaced");

    let diagram = api.get("/workflows/place_order/diagram");
    assert_eq!(diagram.status, 200);
    assert_eq!(diagram.body["format"], "mermaid");
    let source = diagram.body["source"].as_str().unwrap();
    assert!(source.starts_with("%% workflow place_order"), "{source}");
    assert!(source.contains("flowchart TD"), "{source}");
    assert!(source.contains("task: charge_card"), "{source}");
    assert_error(
        &api.get("/workflows/no_such_flow/diagram"),
        404,
        "unknown_workflow",
        "no_such_flow",
    );
}
