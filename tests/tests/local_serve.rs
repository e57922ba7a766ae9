//! One listener for a whole service (`engine::api::serve`): the service's routes beside the
//! internal API, the guards of both (body limit, panics, the internal API's bearer token) and
//! the legacy proxy for what no route serves. In-process on 127.0.0.1, except the `serve`
//! command line, run as a child process of the order service on 0.0.0.0 (reached on
//! 127.0.0.1): 127.0.0.0/8 is all loopback, so only a wildcard address stands for "exposed".

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::routing::{get, post};
use eventual_runtime::engine::api::serve::{ServeOptions, DEFAULT_BODY_LIMIT};
use eventual_runtime::prelude::*;
use eventual_tests::local::{
    assert_error, cargo_binary, free_port, Api, InProcess, Reply, ServeCommand,
};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[workflow]
async fn serve_noop(_ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    Ok(n)
}

/// A client of the whole listener (not only the internal API).
fn origin(server: &InProcess) -> Api {
    Api::new(
        format!("http://{}", server.address),
        Duration::from_secs(20),
    )
}

/// Routes of a service, by hand (the macro's routes are one such router): `POST /orders`
/// counts its calls and answers the body's length, `GET /boom` panics, and a route that tries
/// to take an internal path.
fn user_routes(calls: Arc<AtomicUsize>) -> axum::Router {
    axum::Router::new()
        .route(
            "/orders",
            post(move |body: Bytes| async move {
                calls.fetch_add(1, Ordering::SeqCst);
                axum::Json(json!({"route": "orders", "length": body.len()}))
            }),
        )
        .route(
            "/boom",
            get(|| async {
                panic!("the route broke");
                #[allow(unreachable_code)]
                ""
            }),
        )
        .route(
            "/_eventual/health",
            get(|| async { axum::Json(json!({"status": "hijacked"})) }),
        )
}

/// A JSON body of exactly `size` bytes (padded with whitespace): a start request for
/// `serve_noop` named `name`.
fn start_body(name: &str, size: usize) -> String {
    let request = json!({"workflow": "serve_noop", "input": 1, "name": name}).to_string();
    let padding = " ".repeat(size - request.len());
    request + &padding
}

/// `POST path` with a body sent in chunks of unknown total length (no `Content-Length`).
fn post_chunked(api: &Api, path: &str, body: Vec<u8>) -> Reply {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into();
    let mut reader = std::io::Cursor::new(body);
    let mut response = agent
        .post(format!("{}{path}", api.base))
        .send(ureq::SendBody::from_reader(&mut reader))
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    let text = response.body_mut().read_to_string().unwrap_or_default();
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

/// Past the body limit (declared or streamed) the answer is a JSON 413 and no route runs: no
/// execution starts, the service's handler is not called. Up to the limit is served.
#[test]
fn an_oversized_body_is_refused_before_any_route_runs() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = InProcess::start_serving(user_routes(calls.clone()), &ServeOptions::default());
    let api = &server.api;
    let limit = DEFAULT_BODY_LIMIT.to_string();

    let too_big = api.post_raw(
        "/executions",
        &start_body("too-big", DEFAULT_BODY_LIMIT + 1),
    );
    assert_error(&too_big, 413, "payload_too_large", &limit);
    let streamed = post_chunked(
        api,
        "/executions",
        start_body("streamed", DEFAULT_BODY_LIMIT + 1).into_bytes(),
    );
    assert_error(&streamed, 413, "payload_too_large", &limit);
    assert_eq!(api.all_executions(None), Vec::<Value>::new());
    assert_error(&api.get("/executions/too-big"), 404, "not_found", "too-big");
    // At the limit exactly: served.
    let fits = api.post_raw("/executions", &start_body("fits", DEFAULT_BODY_LIMIT));
    assert_eq!(fits.status, 201, "{:?}", fits.body);

    let service = origin(&server);
    let oversized = vec![b'a'; DEFAULT_BODY_LIMIT + 1];
    let refused = service.request("POST", "/orders", &[], Some(&oversized));
    assert_error(&refused, 413, "payload_too_large", &limit);
    let streamed = post_chunked(&service, "/orders", oversized);
    assert_error(&streamed, 413, "payload_too_large", &limit);
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the route ran");
    let served = service.request("POST", "/orders", &[], Some(&[b'a'; 1000]));
    assert_eq!(
        (served.status, served.body),
        (200, json!({"route": "orders", "length": 1000}))
    );

    // The limit is an option, below or above axum's own default (2 MB).
    let small = InProcess::start_serving(
        user_routes(Arc::default()),
        &ServeOptions::default().with_body_limit(10),
    );
    let refused = origin(&small).request("POST", "/orders", &[], Some(b"eleven byte"));
    assert_error(&refused, 413, "payload_too_large", "10 bytes");
    let large = InProcess::start_serving(
        user_routes(Arc::default()),
        &ServeOptions::default().with_body_limit(3 * DEFAULT_BODY_LIMIT),
    );
    let body = vec![b'a'; 5 * DEFAULT_BODY_LIMIT / 2];
    let served = origin(&large).request("POST", "/orders", &[], Some(&body));
    assert_eq!(served.status, 200, "{:?}", served.body);
    assert_eq!(served.body["length"], body.len());
}

/// A route that panics answers a JSON 500, and the server goes on serving, on the same
/// connection too.
#[test]
fn a_panicking_route_answers_500_and_the_server_goes_on() {
    let server = InProcess::start_serving(user_routes(Arc::default()), &ServeOptions::default());
    let service = origin(&server);
    for _ in 0..2 {
        let broken = service.get("/boom");
        assert_error(&broken, 500, "internal", "panicked");
        assert!(
            !broken.body.to_string().contains("the route broke"),
            "the panic's message is for the log only: {:?}",
            broken.body
        );
        let next = service.request("POST", "/orders", &[], Some(b"{}"));
        assert_eq!(next.status, 200, "{:?}", next.body);
        assert_eq!(service.get("/_eventual/health").status, 200);
    }
}

/// The service's routes and the internal API answer on one listener; the internal paths stay
/// the internal API's whatever the service declares; a path nothing serves is a JSON 404, a
/// route's path with another method a JSON 405.
#[test]
fn service_routes_and_the_internal_api_share_one_listener() {
    let server = InProcess::start_serving(user_routes(Arc::default()), &ServeOptions::default());
    let service = origin(&server);
    let orders = service.request("POST", "/orders", &[], Some(b"abc"));
    assert_eq!(
        (orders.status, orders.body),
        (200, json!({"route": "orders", "length": 3}))
    );
    let health = service.get("/_eventual/health");
    assert_eq!((health.status, health.body), (200, json!({"status": "ok"})));
    for (method, path) in [
        ("GET", "/nope"),
        ("GET", "/_eventual/nope"),
        ("GET", "/_eventual"),
    ] {
        let reply = service.request(method, path, &[], None);
        assert_error(&reply, 404, "no_route", &format!("{method} {path}"));
    }
    let wrong_method = service.request("GET", "/orders", &[], None);
    assert_error(&wrong_method, 405, "method_not_allowed", "GET /orders");
}

/// A legacy service on 127.0.0.1 that echoes what it got, with a status and a header of its
/// own; it counts the requests that reach it.
struct Legacy {
    address: SocketAddr,
    hits: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl Legacy {
    fn start() -> Self {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        let echo = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            counted.fetch_add(1, Ordering::SeqCst);
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|value| value.to_str().ok())
                        .map(str::to_owned)
                };
                let seen = json!({
                    "method": method.as_str(),
                    "path": uri.path(),
                    "query": uri.query(),
                    "x-test": header("x-test"),
                    "host": header("host"),
                    "x-forwarded-host": header("x-forwarded-host"),
                    "body": String::from_utf8_lossy(&body),
                });
                (
                    StatusCode::NON_AUTHORITATIVE_INFORMATION,
                    [("x-legacy", "yes")],
                    axum::Json(seen),
                )
            }
        };
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a port for the legacy service");
        let address = listener.local_addr().expect("an address");
        runtime.spawn(async move {
            let _ = axum::serve(listener, axum::Router::new().fallback(echo)).await;
        });
        Legacy {
            address,
            hits,
            _runtime: runtime,
        }
    }
}

/// What no route serves goes to the legacy service as it came (method, path under the base
/// path, query, headers, body), and its answer comes back as it is; the service's routes and
/// the internal API never reach it.
#[test]
fn what_no_route_serves_goes_to_the_legacy_service() {
    let legacy = Legacy::start();
    let options = ServeOptions::default().with_legacy(format!("http://{}/v1", legacy.address));
    let calls = Arc::new(AtomicUsize::new(0));
    let server = InProcess::start_serving(user_routes(calls.clone()), &options);
    let service = origin(&server);

    let proxied = service.request(
        "PUT",
        "/old/thing?x=1&y=%20z",
        &[("x-test", "abc"), ("content-type", "text/plain")],
        Some(b"raw bytes"),
    );
    assert_eq!(proxied.status, 203, "{:?}", proxied.body);
    assert_eq!(proxied.headers["x-legacy"], "yes");
    assert_eq!(
        proxied.body,
        json!({
            "method": "PUT",
            "path": "/v1/old/thing",
            "query": "x=1&y=%20z",
            "x-test": "abc",
            "host": legacy.address.to_string(),
            "x-forwarded-host": server.address.to_string(),
            "body": "raw bytes",
        })
    );
    // A path the service serves, with a method it does not: the legacy service's.
    let other_method = service.get("/orders");
    assert_eq!(other_method.status, 203, "{:?}", other_method.body);
    assert_eq!(
        (&other_method.body["method"], &other_method.body["path"]),
        (&json!("GET"), &json!("/v1/orders"))
    );
    assert_eq!(legacy.hits.load(Ordering::SeqCst), 2);

    // The service's routes and the internal API (even paths it does not serve) stay here.
    let orders = service.request("POST", "/orders", &[], Some(b"{}"));
    assert_eq!(orders.body["route"], "orders", "{:?}", orders.body);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        service.get("/_eventual/health").body,
        json!({"status": "ok"})
    );
    assert_error(
        &service.get("/_eventual/old/thing"),
        404,
        "no_route",
        "GET /_eventual/old/thing",
    );
    // Past the body limit nothing is forwarded.
    let oversized = vec![b'a'; DEFAULT_BODY_LIMIT + 1];
    let refused = service.request("POST", "/old/upload", &[], Some(&oversized));
    assert_error(&refused, 413, "payload_too_large", "bytes");
    assert_eq!(
        legacy.hits.load(Ordering::SeqCst),
        2,
        "the legacy service was reached"
    );
}

/// A legacy service that does not answer is a JSON 502 naming it.
#[test]
fn an_unreachable_legacy_service_is_a_bad_gateway() {
    // A port that was free a moment ago, on which nothing listens.
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let options = ServeOptions::default().with_legacy(nowhere.clone());
    let server = InProcess::start_serving(axum::Router::new(), &options);
    let reply = origin(&server).get("/anything?x=1");
    assert_error(&reply, 502, "bad_gateway", &nowhere);
    assert_error(&reply, 502, "bad_gateway", "GET /anything");
}

// --- `serve` of a service binary: who may reach the internal API -------------------------

fn order_service() -> std::path::PathBuf {
    cargo_binary("eventual-examples", "example", "order_service")
}

/// The order service's CLI against `url`, with the given extra arguments and environment,
/// and no token from the test's own environment.
fn cli(url: &str, args: &[&str], envs: &[(&str, &str)]) -> Output {
    Command::new(order_service())
        .args(args)
        .args(["--url", url])
        .env_remove("EVENTUAL_API_TOKEN")
        .envs(envs.iter().copied())
        .output()
        .expect("the CLI runs")
}

/// Off loopback, `serve` refuses an open internal API before opening its database, naming the
/// two ways out; `--insecure` is one.
#[test]
fn serve_off_loopback_requires_a_token_or_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("orders.db");
    let port = free_port();
    let refused = ServeCommand::new(&order_service(), &db, port)
        .listen_on("0.0.0.0")
        .refused();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    for names in [
        "refusing to serve the internal API",
        &format!("0.0.0.0:{port}"),
        "--api-token",
        "EVENTUAL_API_TOKEN",
        "--insecure",
    ] {
        assert!(
            stderr.contains(names),
            "stderr does not name {names}: {stderr}"
        );
    }
    assert!(!db.exists(), "the database was opened");

    let open = ServeCommand::new(&order_service(), &db, port)
        .listen_on("0.0.0.0")
        .arg("--insecure")
        .start();
    let health = open.api.get("/health");
    assert_eq!(health.status, 200, "{:?}", health.body);
}

/// With `--api-token` every internal route needs that bearer token (off loopback and on it);
/// the service's own URL space does not; the CLI sends the token from `--api-token` or
/// `EVENTUAL_API_TOKEN`, and without it fails saying why.
#[test]
fn an_api_token_guards_every_internal_route() {
    const TOKEN: &str = "t0ken-for-tests";
    let dir = tempfile::tempdir().unwrap();
    for host in ["0.0.0.0", "127.0.0.1"] {
        let server = ServeCommand::new(
            &order_service(),
            &dir.path().join(format!("{host}.db")),
            free_port(),
        )
        .listen_on(host)
        .api_token(TOKEN)
        .start();
        let url = server.api.origin().to_owned();
        let anonymous = Api::internal(&url, Duration::from_secs(10));
        for path in ["/health", "/executions", "/dlq", "/nope"] {
            let reply = anonymous.get(path);
            assert_error(&reply, 401, "unauthorized", "requires a bearer token");
            assert_eq!(reply.headers["www-authenticate"], "Bearer", "{host}{path}");
            let wrong = anonymous.clone().with_bearer_token("t0ken-for-test");
            assert_error(&wrong.get(path), 401, "unauthorized", "not the API's token");
        }
        let start = anonymous.post("/executions", &json!({"workflow": "place_order"}));
        assert_error(&start, 401, "unauthorized", "bearer token");
        assert_eq!(server.api.get("/health").status, 200, "{host}");
        assert_eq!(server.api.get("/executions").body["executions"], json!([]));
        // The service's own URL space is not the token's.
        // The service's own routes answer without the token.
        let outside = Api::new(url.clone(), Duration::from_secs(10)).get("/orders/nope");
        assert_error(&outside, 404, "not_found", "no order `nope`");

        let with_flag = cli(&url, &["list", "--json", "--api-token", TOKEN], &[]);
        assert!(
            with_flag.status.success(),
            "{}",
            String::from_utf8_lossy(&with_flag.stderr)
        );
        let with_env = cli(&url, &["list", "--json"], &[("EVENTUAL_API_TOKEN", TOKEN)]);
        assert!(
            with_env.status.success(),
            "{}",
            String::from_utf8_lossy(&with_env.stderr)
        );
        let without = cli(&url, &["list"], &[]);
        assert!(
            !without.status.success(),
            "the CLI succeeded without the token"
        );
        let stderr = String::from_utf8_lossy(&without.stderr);
        assert!(
            stderr.contains("401") && stderr.contains("--api-token"),
            "the CLI does not say why: {stderr}"
        );
    }
}
