//! The local engine's HTTP API, route by route (the table in `engine/api/http.rs`): the engine
//! runs in-process on a temp-dir database, its API on a free port of 127.0.0.1.

use eventual_runtime::engine::client::Client;
use eventual_runtime::prelude::*;
use eventual_tests::local::{assert_error, event_types, poll, Api, InProcess};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Mutex;

const WAIT: Duration = Duration::from_secs(20);

#[task]
async fn api_double_task(n: u64) -> Result<u64, StepError> {
    Ok(n * 2)
}

#[workflow]
async fn api_double(_ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    Ok(api_double_task(n).await?)
}

#[workflow]
async fn api_fail(_ctx: WorkflowContext, reason: String) -> Result<u64, WorkflowError> {
    Err(WorkflowError::new("Refused", reason))
}

#[workflow]
async fn api_wait(ctx: WorkflowContext, _n: u64) -> Result<String, WorkflowError> {
    let greeting: String = ctx.wait_for_signal("go").await?;
    Ok(format!("got {greeting}"))
}

/// Tokens handed out by `api_approval`, by execution.
static TOKENS: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

#[task(timeout = "1m")]
async fn api_approval(order: String) -> Result<String, StepError> {
    let token = eventual_runtime::task::completion_token().expect("inside a task");
    let context = eventual_runtime::task::TaskContext::current().expect("inside a task");
    let _ = order;
    TOKENS
        .lock()
        .unwrap()
        .insert(context.execution_id.clone(), token.0);
    eventual_runtime::task::complete_later()
}

#[workflow]
async fn api_approve(_ctx: WorkflowContext, order: String) -> Result<String, WorkflowError> {
    Ok(api_approval(order).await?)
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct ApiPing {
    n: u64,
}

/// Events seen by `api_ping_handler`.
static PINGED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Records the event and starts `api_double` named `ping-<n>`: an effect visible in the API.
#[on_event(pattern = r#"{"detail-type": ["ApiPing"]}"#)]
async fn api_ping_handler(event: Event<ApiPing>) -> Result<(), String> {
    PINGED.lock().unwrap().push(event.id.clone());
    Client::current()
        .ok_or("no client")?
        .start_by_name(
            "api_double",
            Some(format!("ping-{}", event.detail.n)),
            json!(event.detail.n),
        )
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Event ids the flaky handler accepts; it fails every other one.
static HEALED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
/// Event ids the flaky handler succeeded on.
static FLAKY_OK: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[on_event(
    pattern = r#"{"detail-type": ["ApiFlaky"]}"#,
    retry(max_attempts = 2, backoff = "fixed", initial = "20ms", jitter = 0.0)
)]
async fn api_flaky_handler(event: Event<Value>) -> Result<(), String> {
    if HEALED.lock().unwrap().contains(&event.id) {
        FLAKY_OK.lock().unwrap().push(event.id.clone());
        Ok(())
    } else {
        Err(format!("downstream unavailable for {}", event.id))
    }
}

fn start(api: &Api, workflow: &str, input: Value, name: Option<&str>) -> (u16, String) {
    let mut body = json!({"workflow": workflow, "input": input});
    if let Some(name) = name {
        body["name"] = json!(name);
    }
    let reply = api.post("/executions", &body);
    assert!(
        matches!(reply.status, 200 | 201),
        "start {workflow}: {} {:?}",
        reply.status,
        reply.body
    );
    (
        reply.status,
        reply.body["execution_id"].as_str().unwrap().to_owned(),
    )
}

fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|row| row["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The internal API lives under `/_eventual`; the rest of the URL space belongs to the
/// service, and a path nothing serves is a JSON 404 that names it.
#[test]
fn internal_routes_live_under_the_reserved_prefix() {
    let server = InProcess::start();
    let origin = Api::new(
        format!("http://{}", server.address),
        Duration::from_secs(10),
    );
    let health = origin.get("/_eventual/health");
    assert_eq!((health.status, health.body), (200, json!({"status": "ok"})));
    let listed = origin.get("/_eventual/executions");
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    for (method, path) in [
        ("GET", "/executions"),
        ("POST", "/events"),
        ("GET", "/_eventual/nope"),
    ] {
        let reply = match method {
            "GET" => origin.get(path),
            _ => origin.post(path, &json!({})),
        };
        assert_error(&reply, 404, "no_route", &format!("{method} {path}"));
    }
}

#[test]
fn health_start_restart_status_result_and_history() {
    let server = InProcess::start();
    let api = &server.api;
    let health = api.get("/health");
    assert_eq!(
        (health.status, health.body.clone()),
        (200, json!({"status": "ok"}))
    );

    let first = api.post(
        "/executions",
        &json!({"workflow": "api_double", "input": 21, "name": "dbl-1"}),
    );
    assert_eq!(first.status, 201, "{:?}", first.body);
    assert_eq!(
        first.body,
        json!({"execution_id": "dbl-1", "created": true})
    );
    let again = api.post(
        "/executions",
        &json!({"workflow": "api_double", "input": 21, "name": "dbl-1"}),
    );
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(
        again.body,
        json!({"execution_id": "dbl-1", "created": false})
    );
    // The name is taken by an execution of another workflow: a conflict naming it.
    let taken = api.post(
        "/executions",
        &json!({"workflow": "api_fail", "input": "no", "name": "dbl-1"}),
    );
    assert_error(&taken, 409, "already_started", "api_double");

    let row = api.wait_ended("dbl-1", WAIT);
    assert_eq!(row["id"], "dbl-1");
    assert_eq!(row["workflow"], "api_double");
    assert_eq!(row["status"], "succeeded");
    assert_eq!(row["outcome"]["result"], 42);
    // Started once: the restart did not run it twice.
    let history = api.get("/executions/dbl-1/history");
    assert_eq!(history.status, 200);
    assert_eq!(history.body["format_version"], 1);
    let events = history.body["events"].as_array().unwrap();
    assert_eq!(
        event_types(events),
        [
            "WorkflowStarted",
            "TaskScheduled",
            "TaskSucceeded",
            "WorkflowSucceeded"
        ]
    );
    assert_eq!(events[0]["execution_id"], "dbl-1");
    assert_eq!(events[0]["input"], 21);
    assert_eq!(events[1]["name"], "api_double_task");
    assert_eq!(events[2]["result"], 42);
    assert!(events
        .iter()
        .all(|e| e["at"].is_u64() || e["at"].is_string()));

    // Without a name every start is a new execution.
    let (status, other) = start(api, "api_double", json!(1), None);
    assert_eq!(status, 201);
    assert_ne!(other, "dbl-1");
    assert_eq!(api.wait_ended(&other, WAIT)["outcome"]["result"], 2);

    assert_error(&api.get("/executions/nope"), 404, "not_found", "nope");
    assert_error(
        &api.get("/executions/nope/history"),
        404,
        "not_found",
        "nope",
    );
}

#[test]
fn list_filters_by_workflow_and_status_and_pages_cover_every_row_once() {
    let server = InProcess::start();
    let api = &server.api;
    let mut doubles = Vec::new();
    for i in 0..7 {
        doubles.push(start(api, "api_double", json!(i), Some(&format!("l-d{i}"))).1);
    }
    let mut waits = Vec::new();
    for i in 0..3 {
        waits.push(start(api, "api_wait", json!(i), Some(&format!("l-w{i}"))).1);
    }
    for id in &doubles {
        api.wait_ended(id, WAIT);
    }

    let set = |rows: Vec<Value>| ids(&rows).into_iter().collect::<BTreeSet<_>>();
    let by_workflow = api.get("/executions?workflow=api_double");
    assert_eq!(by_workflow.status, 200);
    assert_eq!(
        set(by_workflow.body["executions"].as_array().unwrap().clone()),
        doubles.iter().cloned().collect()
    );
    let running = api.get("/executions?status=running");
    assert_eq!(
        set(running.body["executions"].as_array().unwrap().clone()),
        waits.iter().cloned().collect()
    );
    let succeeded = api.get("/executions?status=succeeded&workflow=api_double");
    assert_eq!(succeeded.body["executions"].as_array().unwrap().len(), 7);
    let none = api.get("/executions?status=succeeded&workflow=api_wait");
    assert_eq!(none.body["executions"], json!([]));
    assert!(none.body.get("next_token").is_none());

    // Pages of 3: 10 rows in 4 pages, each row exactly once, in creation order.
    let everything = ids(&api.all_executions(None));
    assert_eq!(everything.len(), 10);
    let mut walked = Vec::new();
    let mut pages = 0;
    let mut token: Option<String> = None;
    loop {
        let path = match &token {
            Some(token) => format!(
                "/executions?limit=3&next_token={}",
                eventual_tests::local::encode(token)
            ),
            None => "/executions?limit=3".to_owned(),
        };
        let page = api.get(&path);
        assert_eq!(page.status, 200, "{:?}", page.body);
        let rows = page.body["executions"].as_array().unwrap();
        assert!(rows.len() <= 3);
        pages += 1;
        walked.extend(ids(rows));
        match page.body["next_token"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 4);
    assert_eq!(walked, everything);
    assert_eq!(walked.iter().collect::<HashSet<_>>().len(), 10);
    // The same walk with a filter.
    let first = api.get("/executions?workflow=api_double&limit=5");
    let token = first.body["next_token"].as_str().unwrap().to_owned();
    let second = api.get(&format!(
        "/executions?workflow=api_double&limit=5&next_token={}",
        eventual_tests::local::encode(&token)
    ));
    let mut both = ids(first.body["executions"].as_array().unwrap());
    both.extend(ids(second.body["executions"].as_array().unwrap()));
    assert!(second.body.get("next_token").is_none());
    assert_eq!(
        both.iter().collect::<BTreeSet<_>>(),
        doubles.iter().collect()
    );
    assert_eq!(both.len(), 7);

    // A status that does not exist is refused.
    assert_eq!(api.get("/executions?status=sleeping").status, 400);
}

#[test]
fn signal_delivers_and_cancel_ends_an_execution() {
    let server = InProcess::start();
    let api = &server.api;
    let (_, waiting) = start(api, "api_wait", json!(0), Some("sig-1"));
    let sent = api.post(
        "/executions/sig-1/signals",
        &json!({"name": "go", "payload": "hello", "id": "s-1"}),
    );
    assert_eq!(sent.status, 202, "{:?}", sent.body);
    let row = api.wait_ended(&waiting, WAIT);
    assert_eq!(row["status"], "succeeded");
    assert_eq!(row["outcome"]["result"], "got hello");
    let events = api.history(&waiting);
    assert_eq!(
        event_types(&events),
        ["WorkflowStarted", "SignalReceived", "WorkflowSucceeded"]
    );
    assert_eq!(events[1]["name"], "go");
    assert_eq!(events[1]["payload"], "hello");
    // Signals to an ended execution are refused.
    let late = api.post("/executions/sig-1/signals", &json!({"name": "go"}));
    assert_error(&late, 409, "ended", "sig-1");

    let (_, doomed) = start(api, "api_wait", json!(1), Some("cancel-1"));
    let cancelled = api.post(
        "/executions/cancel-1/cancel",
        &json!({"reason": "changed my mind"}),
    );
    assert_eq!(cancelled.status, 202, "{:?}", cancelled.body);
    let row = api.wait_ended(&doomed, WAIT);
    assert_eq!(row["status"], "cancelled");
    let types = event_types(&api.history(&doomed));
    assert_eq!(types.first().unwrap(), "WorkflowStarted");
    assert!(types.contains(&"CancelRequested".to_owned()), "{types:?}");
    assert_eq!(types.last().unwrap(), "WorkflowCancelled");
    // A cancel without a body is fine too.
    let (_, other) = start(api, "api_wait", json!(2), Some("cancel-2"));
    assert_eq!(api.post_raw("/executions/cancel-2/cancel", "").status, 202);
    assert_eq!(api.wait_ended(&other, WAIT)["status"], "cancelled");

    assert_error(
        &api.post("/executions/nope/cancel", &json!({})),
        404,
        "not_found",
        "nope",
    );
}

#[test]
fn publish_one_and_many_events_reaches_the_handler_and_its_effects() {
    let server = InProcess::start();
    let api = &server.api;
    let one = api.post(
        "/events",
        &json!({"source": "tests", "detail-type": "ApiPing", "detail": {"n": 1}}),
    );
    assert_eq!(one.status, 202, "{:?}", one.body);
    assert_eq!(one.body["ids"].as_array().unwrap().len(), 1);
    let many = api.post(
        "/events",
        &json!([
            {"source": "tests", "detail-type": "ApiPing", "detail": {"n": 2}},
            {"source": "tests", "detail-type": "ApiPing", "detail": {"n": 3}},
            {"source": "tests", "detail-type": "NobodyListens", "detail": {}}
        ]),
    );
    assert_eq!(many.status, 202, "{:?}", many.body);
    let mut published: Vec<String> = one.body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .chain(many.body["ids"].as_array().unwrap())
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(published.len(), 4);
    assert_eq!(
        published.iter().collect::<HashSet<_>>().len(),
        4,
        "ids are unique"
    );
    let unrouted = published.pop().unwrap();
    poll(WAIT, "the handler to see the three pings", || {
        let seen = PINGED.lock().unwrap().clone();
        published.iter().all(|id| seen.contains(id)).then_some(())
    });
    assert!(!PINGED.lock().unwrap().contains(&unrouted));
    // The handler's effect: it started `api_double` once per event.
    for n in 1..=3u64 {
        let row = api.wait_ended(&format!("ping-{n}"), WAIT);
        assert_eq!(row["outcome"]["result"], n * 2);
    }
    assert_eq!(
        PINGED
            .lock()
            .unwrap()
            .iter()
            .filter(|id| published.contains(id))
            .count(),
        3,
        "each event delivered once"
    );
}

#[test]
fn failing_deliveries_are_dead_lettered_listed_and_redriven() {
    let server = InProcess::start();
    let api = &server.api;
    let published = api.post(
        "/events",
        &json!([
            {"source": "tests", "detail-type": "ApiFlaky", "detail": {"n": 1}},
            {"source": "tests", "detail-type": "ApiFlaky", "detail": {"n": 2}}
        ]),
    );
    assert_eq!(published.status, 202);
    let event_ids: Vec<String> = published.body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    let entries = poll(WAIT, "two dead letters", || {
        let dlq = api.get("/dlq");
        assert_eq!(dlq.status, 200);
        let entries = dlq.body.as_array().cloned().unwrap_or_default();
        (entries.len() == 2).then_some(entries)
    });
    let mut by_event = BTreeMap::new();
    for entry in &entries {
        assert_eq!(entry["subscription"], "api_flaky_handler");
        assert_eq!(entry["attempts"], 2);
        assert!(entry["error"]
            .to_string()
            .contains("downstream unavailable"));
        by_event.insert(
            entry["event"]["id"].as_str().unwrap().to_owned(),
            entry["id"].as_str().unwrap().to_owned(),
        );
    }
    assert_eq!(by_event.keys().cloned().collect::<Vec<_>>(), {
        let mut sorted = event_ids.clone();
        sorted.sort();
        sorted
    });

    // Redrive one by id once its downstream is healed.
    let (first_event, second_event) = (&event_ids[0], &event_ids[1]);
    HEALED.lock().unwrap().insert(first_event.clone());
    let one = api.post_raw(&format!("/dlq/{}/redrive", by_event[first_event]), "");
    assert_eq!(one.status, 200, "{:?}", one.body);
    assert_eq!(one.body, json!({"redriven": 1}));
    poll(WAIT, "the redriven event to be handled", || {
        FLAKY_OK.lock().unwrap().contains(first_event).then_some(())
    });
    let left = api.get("/dlq").body;
    assert_eq!(left.as_array().unwrap().len(), 1, "{left:?}");
    assert_eq!(left[0]["event"]["id"], second_event.as_str());

    assert_error(
        &api.post_raw("/dlq/no-such-entry/redrive", ""),
        404,
        "not_found",
        "no-such-entry",
    );

    // Redrive all.
    HEALED.lock().unwrap().insert(second_event.clone());
    let all = api.post_raw("/dlq/redrive", "");
    assert_eq!(all.body, json!({"redriven": 1}));
    poll(WAIT, "the second event to be handled", || {
        FLAKY_OK
            .lock()
            .unwrap()
            .contains(second_event)
            .then_some(())
    });
    assert_eq!(api.get("/dlq").body, json!([]));
}

#[test]
fn tasks_complete_with_a_real_token_and_refuse_a_forged_one() {
    let server = InProcess::start();
    let api = &server.api;
    let (_, id) = start(api, "api_approve", json!("order-7"), Some("approve-1"));
    let token = poll(WAIT, "the task's completion token", || {
        TOKENS.lock().unwrap().get(&id).cloned()
    });
    assert_eq!(api.get("/executions/approve-1").body["status"], "running");

    // A forged token: another signature, or another claim under the same signature.
    let forged = format!("{token}x");
    assert_error(
        &api.post(
            "/tasks/complete",
            &json!({"token": forged, "result": "approved"}),
        ),
        403,
        "invalid_token",
        "",
    );
    assert_error(
        &api.post(
            "/tasks/complete",
            &json!({"token": "garbage", "result": "approved"}),
        ),
        403,
        "invalid_token",
        "",
    );
    assert_error(
        &api.post("/tasks/complete", &json!({"token": token})),
        400,
        "bad_request",
        "result",
    );
    assert_eq!(api.get("/executions/approve-1").body["status"], "running");

    let done = api.post(
        "/tasks/complete",
        &json!({"token": token, "result": "approved by ada"}),
    );
    assert_eq!(done.status, 200, "{:?}", done.body);
    assert_eq!(done.body, json!({"accepted": true}));
    let row = api.wait_ended(&id, WAIT);
    assert_eq!(row["outcome"]["result"], "approved by ada");
    // The attempt has ended: the same token is no longer accepted.
    let again = api.post(
        "/tasks/complete",
        &json!({"token": token, "result": "twice"}),
    );
    assert_eq!(again.body, json!({"accepted": false}));
    assert_eq!(
        event_types(&api.history(&id)),
        [
            "WorkflowStarted",
            "TaskScheduled",
            "TaskSucceeded",
            "WorkflowSucceeded"
        ]
    );

    // An error completion fails the task, and so the workflow.
    let (_, failing) = start(api, "api_approve", json!("order-8"), Some("approve-2"));
    let token = poll(WAIT, "the second token", || {
        TOKENS.lock().unwrap().get(&failing).cloned()
    });
    let refused = api.post(
        "/tasks/complete",
        &json!({"token": token, "error": {"message": "rejected by bob"}}),
    );
    assert_eq!(refused.body, json!({"accepted": true}));
    let row = api.wait_ended(&failing, WAIT);
    assert_eq!(row["status"], "failed");
    assert!(
        row["outcome"].to_string().contains("rejected by bob"),
        "{row}"
    );
}

#[test]
fn execute_returns_the_output_itself_or_the_error() {
    let server = InProcess::start();
    let api = &server.api;
    let ok = api.post_raw("/workflows/api_double/execute", "5");
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(ok.body, json!(10));
    let failed = api.post("/workflows/api_fail/execute", &json!("no stock"));
    assert_eq!(failed.status, 500, "{:?}", failed.body);
    assert!(
        failed.body["error"].to_string().contains("no stock"),
        "{:?}",
        failed.body
    );
    let execution = failed.body["execution_id"].as_str().unwrap();
    assert_eq!(
        api.get(&format!("/executions/{execution}")).body["status"],
        "failed"
    );
    assert_error(
        &api.post_raw("/workflows/nope/execute", "1"),
        404,
        "unknown_workflow",
        "nope",
    );
    assert_error(
        &api.post_raw("/workflows/api_double/execute", "\"five\""),
        400,
        "invalid_input",
        "",
    );
}

#[test]
fn bad_requests_are_refused_and_write_nothing() {
    let server = InProcess::start();
    let api = &server.api;
    let (_, waiting) = start(api, "api_wait", json!(0), Some("bad-1"));
    let snapshot = |api: &Api| {
        (
            api.all_executions(None),
            api.history(&waiting),
            api.get("/dlq").body,
        )
    };
    let before = snapshot(api);

    let cases: Vec<(&str, &str, u16, &str, &str)> = vec![
        (
            "/executions",
            "{not json",
            400,
            "bad_request",
            "invalid request body",
        ),
        (
            "/executions",
            r#"{"input": 1}"#,
            400,
            "bad_request",
            "workflow",
        ),
        (
            "/executions",
            r#"{"workflow": "api_double", "input": 1, "nmae": "x"}"#,
            400,
            "bad_request",
            "nmae",
        ),
        (
            "/executions",
            r#"{"workflow": "nope", "input": 1}"#,
            404,
            "unknown_workflow",
            "nope",
        ),
        (
            "/executions",
            r#"{"workflow": "api_double", "input": "not a number"}"#,
            400,
            "invalid_input",
            "",
        ),
        (
            "/executions",
            r#"{"workflow": "api_double", "input": 1, "name": ""}"#,
            400,
            "bad_request",
            "name",
        ),
        (
            "/executions/nope/signals",
            r#"{"name": "go"}"#,
            404,
            "not_found",
            "nope",
        ),
        (
            "/executions/bad-1/signals",
            r#"{"payload": 1}"#,
            400,
            "bad_request",
            "name",
        ),
        (
            "/executions/bad-1/signals",
            "[1,",
            400,
            "bad_request",
            "invalid request body",
        ),
        (
            "/events",
            r#"{"source": "tests", "detail": {}}"#,
            400,
            "bad_request",
            "detail-type",
        ),
        ("/events", "[]", 400, "bad_request", "no events"),
        (
            "/tasks/complete",
            r#"{"result": 1}"#,
            400,
            "bad_request",
            "token",
        ),
        (
            "/workflows/api_double/execute",
            "{oops",
            400,
            "bad_request",
            "invalid request body",
        ),
        (
            "/workflows/nope/execute",
            "1",
            404,
            "unknown_workflow",
            "nope",
        ),
    ];
    for (path, body, status, kind, names) in cases {
        let reply = api.post_raw(path, body);
        assert_eq!(reply.status, status, "POST {path} {body}: {:?}", reply.body);
        assert_error(&reply, status, kind, names);
        assert_eq!(snapshot(api), before, "POST {path} {body} wrote something");
    }
    assert_eq!(api.get("/executions/bad-1").body["status"], "running");
}

/// Answers query "doubled" once its task is done, then waits for "done".
#[workflow]
async fn api_queried(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let doubled = api_double_task(n).await?;
    ctx.answer_query("doubled", doubled);
    let _: () = ctx.wait_for_signal("done").await?;
    Ok(doubled)
}

/// `POST /executions/{id}/queries/{name}` answers from the replayed state and writes nothing;
/// a query not answered is a 404 that names it, an unknown execution a 404 too.
#[test]
fn queries_answer_from_the_replayed_state() {
    let server = InProcess::start();
    let api = &server.api;
    let body = json!({"workflow": "api_queried", "input": 21, "name": "q-1"});
    assert_eq!(api.post("/executions", &body).status, 201);
    let answer = poll(Duration::from_secs(30), "the query is answered", || {
        let reply = api.post("/executions/q-1/queries/doubled", &json!(null));
        (reply.status == 200).then_some(reply.body)
    });
    assert_eq!(answer, json!({"result": 42}));
    let history = api.history("q-1");
    let again = api.post("/executions/q-1/queries/doubled", &json!(null));
    assert_eq!(again.body, json!({"result": 42}));
    assert_eq!(api.history("q-1"), history, "a query writes nothing");
    assert_error(
        &api.post("/executions/q-1/queries/tripled", &json!(null)),
        404,
        "unknown_query",
        "query `tripled`",
    );
    assert_error(
        &api.post("/executions/nope/queries/doubled", &json!(null)),
        404,
        "not_found",
        "nope",
    );
}

/// Fails its first attempt, so that the metrics count a retry.
#[task(retry(max_attempts = 2, backoff = "fixed", initial = "10ms", jitter = 0.0))]
async fn api_second_try(n: u64) -> Result<u64, StepError> {
    let attempt = eventual_runtime::task::TaskContext::current()
        .expect("inside a task")
        .attempt;
    if attempt == 1 {
        return Err(StepError::new(StepErrorKind::Failed, "first attempt fails"));
    }
    Ok(n)
}

#[workflow]
async fn api_nap_then_retry(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    ctx.sleep(Duration::from_millis(20)).await;
    Ok(api_second_try(n).await?)
}

/// The value of the sample `name` (with its labels) in OpenMetrics text, if present.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn metrics_count_executions_steps_attempts_deliveries_timers_and_commits() {
    let server = InProcess::start();
    let api = &server.api;
    let (_, napper) = start(api, "api_nap_then_retry", json!(7), None);
    let (_, failer) = start(api, "api_fail", json!("no"), None);
    let published = api.post(
        "/events",
        &json!([{"source": "tests", "detail-type": "ApiFlaky", "detail": {"n": 3}}]),
    );
    assert_eq!(published.status, 202);
    assert_eq!(api.wait_ended(&napper, WAIT)["status"], "succeeded");
    assert_eq!(api.wait_ended(&failer, WAIT)["status"], "failed");
    poll(WAIT, "a dead letter", || {
        (api.get("/dlq").body.as_array().map(Vec::len) == Some(1)).then_some(())
    });

    let url = format!("http://{}/_eventual/metrics", server.address);
    let mut response = ureq::get(&url).call().expect("GET /_eventual/metrics");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.body_mut().read_to_string().unwrap();
    for (name, expected) in [
        (
            "eventual_executions_started_total{workflow=\"api_nap_then_retry\"}",
            1.0,
        ),
        (
            "eventual_executions_completed_total{workflow=\"api_nap_then_retry\"}",
            1.0,
        ),
        (
            "eventual_executions_started_total{workflow=\"api_fail\"}",
            1.0,
        ),
        (
            "eventual_executions_failed_total{workflow=\"api_fail\",status=\"failed\"}",
            1.0,
        ),
        ("eventual_task_attempts_total{task=\"api_second_try\"}", 2.0),
        ("eventual_task_retries_total{task=\"api_second_try\"}", 1.0),
        (
            "eventual_deliveries_total{subscription=\"api_flaky_handler\"}",
            2.0,
        ),
        (
            "eventual_dead_letters_total{subscription=\"api_flaky_handler\"}",
            1.0,
        ),
        ("eventual_timer_lateness_seconds_count", 1.0),
    ] {
        assert_eq!(sample(&text, name), Some(expected), "{name} in:\n{text}");
    }
    for name in [
        "eventual_step_duration_seconds_count",
        "eventual_commit_writes_count",
        "eventual_commit_fsync_duration_seconds_count",
    ] {
        assert!(
            sample(&text, name).is_some_and(|n| n >= 1.0),
            "{name} in:\n{text}"
        );
    }
    assert!(text.ends_with("# EOF\n"), "{text}");
}

/// Sleeps `ms`, then accepts `add` updates (rejecting 0) until the total reaches `target`.
#[workflow]
async fn api_updated(ctx: WorkflowContext, target: u64) -> Result<u64, WorkflowError> {
    let mut total = 0;
    while total < target {
        let add = ctx.next_update::<u64>("add").await;
        if *add.input() == 0 {
            add.reject("add more than nothing");
            continue;
        }
        total += add.input();
        add.accept(json!({ "total": total }));
    }
    let _: () = ctx.wait_for_signal("done").await?;
    Ok(total)
}

/// Sleeps before it takes updates, so a short wait ends first.
#[workflow]
async fn api_slow_updated(ctx: WorkflowContext, ms: u64) -> Result<u64, WorkflowError> {
    ctx.sleep(Duration::from_millis(ms)).await;
    let add = ctx.next_update::<u64>("add").await;
    let value = *add.input();
    add.accept(json!(value));
    Ok(value)
}

/// `POST /executions/{id}/updates/{name}` waits for the verdict: 200 with the answer, 422
/// with the reason, the same answer for the same id, 202 with the id when the wait ends first
/// (then `GET .../updates/{update_id}`), 409 once the execution ended; bad bodies are 400.
#[test]
fn updates_are_answered_over_http() {
    let server = InProcess::start();
    let api = &server.api;
    let body = json!({"workflow": "api_updated", "input": 5, "name": "up-1"});
    assert_eq!(api.post("/executions", &body).status, 201);
    let accepted = api.post(
        "/executions/up-1/updates/add",
        &json!({"input": 2, "update_id": "two"}),
    );
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    assert_eq!(
        accepted.body,
        json!({"update_id": "two", "status": "accepted", "answer": {"total": 2}})
    );
    let history = api.history("up-1");
    let again = api.post(
        "/executions/up-1/updates/add",
        &json!({"input": 2, "update_id": "two"}),
    );
    assert_eq!(again.body, accepted.body);
    assert_eq!(
        api.history("up-1"),
        history,
        "a repeated update writes nothing"
    );
    assert_error(
        &api.post("/executions/up-1/updates/add", &json!({"input": 0})),
        422,
        "update_rejected",
        "add more than nothing",
    );
    assert_eq!(api.get("/executions/up-1/updates/two").body, accepted.body);
    assert_error(
        &api.get("/executions/up-1/updates/never"),
        404,
        "unknown_update",
        "never",
    );
    assert_error(
        &api.post_raw("/executions/up-1/updates/add", "{\"inptu\": 1}"),
        400,
        "bad_request",
        "inptu",
    );
    assert_error(
        &api.post("/executions/nope/updates/add", &json!({"input": 1})),
        404,
        "not_found",
        "nope",
    );
    let done = api.post("/executions/up-1/updates/add", &json!({"input": 3}));
    assert_eq!(done.body["answer"], json!({"total": 5}));
    api.post("/executions/up-1/signals", &json!({"name": "done"}));
    poll(Duration::from_secs(30), "up-1 to end", || {
        (api.get("/executions/up-1").body["status"] == "succeeded").then_some(())
    });
    assert_error(
        &api.post("/executions/up-1/updates/add", &json!({"input": 1})),
        409,
        "ended",
        "up-1",
    );

    let body = json!({"workflow": "api_slow_updated", "input": 1500, "name": "up-2"});
    assert_eq!(api.post("/executions", &body).status, 201);
    let pending = api.post(
        "/executions/up-2/updates/add",
        &json!({"input": 9, "wait_ms": 50}),
    );
    assert_eq!(pending.status, 202, "{:?}", pending.body);
    assert_eq!(pending.body["status"], "pending");
    let update_id = pending.body["update_id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let path = format!("/executions/up-2/updates/{update_id}");
    let answered = poll(Duration::from_secs(30), "the update to be answered", || {
        let reply = api.get(&path);
        (reply.status == 200).then_some(reply.body)
    });
    assert_eq!(answered["answer"], json!(9));
}
