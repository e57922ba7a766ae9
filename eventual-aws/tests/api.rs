//! The service API on the AWS engine: the local engine's routes served by the `api` role
//! behind API Gateway (played by the harness: each HTTP request becomes the HTTP API's
//! payload-2.0 event), completion tokens of tasks that complete later, and the service
//! binary's CLI reaching the API function by Lambda invoke, through API Gateway's IAM route
//! (SigV4) and over plain HTTP.

mod harness;

use eventual_runtime::engine::api::ServiceApi;
use eventual_runtime::manifest::names;
use eventual_runtime::prelude::*;
use eventual_tests::local::{cargo_binary_with_features, event_types, poll, Api};
use harness::{serve_gateway, serve_gateway_with, Harness, Options};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

const WAIT: Duration = Duration::from_secs(30);

#[task]
async fn gw_double_task(n: u64) -> Result<u64, StepError> {
    Ok(n * 2)
}

#[workflow]
async fn gw_double(_ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    Ok(gw_double_task(n).await?)
}

#[workflow]
async fn gw_wait(ctx: WorkflowContext, _n: u64) -> Result<String, WorkflowError> {
    let greeting: String = ctx.wait_for_signal("go").await?;
    Ok(format!("got {greeting}"))
}

/// Searchable by its customer; waits for `go`.
#[workflow]
async fn gw_tagged(ctx: WorkflowContext, customer: String) -> Result<String, WorkflowError> {
    ctx.set_attribute("customer", customer);
    let () = ctx.wait_for_signal("go").await?;
    Ok("tagged".to_owned())
}

/// Tokens handed out by `gw_approval`, by execution.
static TOKENS: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

#[task(timeout = "1m")]
async fn gw_approval(_order: String) -> Result<String, StepError> {
    let token = eventual_runtime::task::completion_token().expect("inside a task");
    let context = eventual_runtime::task::TaskContext::current().expect("inside a task");
    TOKENS
        .lock()
        .unwrap()
        .insert(context.execution_id.clone(), token.0);
    eventual_runtime::task::complete_later()
}

#[workflow]
async fn gw_approve(_ctx: WorkflowContext, order: String) -> Result<String, WorkflowError> {
    Ok(gw_approval(order).await?)
}

/// The harness and an HTTP client of its API Gateway.
async fn gateway() -> (Harness, Api, tokio::task::JoinHandle<()>) {
    let harness = Harness::start(&[], Options::default()).await;
    let (url, server) = serve_gateway(harness.aws.clone()).await;
    (harness, Api::internal(&url, WAIT), server)
}

/// Runs blocking HTTP calls off the test's runtime.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work).await.unwrap()
}

fn error_kind(reply: &eventual_tests::local::Reply) -> (u16, String) {
    (
        reply.status,
        reply.body["error"]["kind"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_routes_answer_through_api_gateway() {
    let (_harness, api, _server) = gateway().await;
    blocking(move || {
        assert_eq!(api.get("/health").body, json!({"status": "ok"}));

        // Start, idempotent by name; status, list, history.
        let started = api.post(
            "/executions",
            &json!({"workflow": "gw_double", "input": 21, "name": "double-1"}),
        );
        assert_eq!(started.status, 201, "{:?}", started.body);
        assert_eq!(
            started.body,
            json!({"execution_id": "double-1", "created": true})
        );
        let again = api.post(
            "/executions",
            &json!({"workflow": "gw_double", "input": 21, "name": "double-1"}),
        );
        assert_eq!(again.status, 200);
        assert_eq!(again.body["created"], false);
        let row = api.wait_ended("double-1", WAIT);
        assert_eq!(row["status"], "succeeded");
        assert_eq!(row["outcome"]["result"], 42);
        assert_eq!(row["workflow"], "gw_double");
        assert_eq!(
            event_types(&api.history("double-1")),
            [
                "WorkflowStarted",
                "TaskScheduled",
                "TaskSucceeded",
                "WorkflowSucceeded"
            ]
        );
        let listed = api.get("/executions?workflow=gw_double&status=succeeded");
        let ids: Vec<&str> = listed.body["executions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["double-1"]);
        assert!(api.get("/executions?workflow=gw_wait").body["executions"]
            .as_array()
            .unwrap()
            .is_empty());

        // Signals reach a running execution; an ended one refuses signals and cancels.
        let waiting = api.post("/executions", &json!({"workflow": "gw_wait", "input": 1}));
        let waiting = waiting.body["execution_id"].as_str().unwrap().to_owned();
        assert_eq!(
            api.get(&format!("/executions/{waiting}")).body["status"],
            "running"
        );
        let sent = api.post(
            &format!("/executions/{waiting}/signals"),
            &json!({"name": "go", "payload": "hi"}),
        );
        assert_eq!(sent.status, 202, "{:?}", sent.body);
        assert_eq!(
            api.wait_ended(&waiting, WAIT)["outcome"]["result"],
            "got hi"
        );
        let late = api.post(
            &format!("/executions/{waiting}/signals"),
            &json!({"name": "go", "payload": "again"}),
        );
        assert_eq!(error_kind(&late), (409, "ended".to_owned()));
        let late = api.post(&format!("/executions/{waiting}/cancel"), &json!({}));
        assert_eq!(error_kind(&late), (409, "ended".to_owned()));

        // Cancel a running one.
        let cancelled = api.post("/executions", &json!({"workflow": "gw_wait", "input": 2}));
        let cancelled = cancelled.body["execution_id"].as_str().unwrap().to_owned();
        let asked = api.post(
            &format!("/executions/{cancelled}/cancel"),
            &json!({"reason": "changed my mind"}),
        );
        assert_eq!(asked.status, 202);
        let row = api.wait_ended(&cancelled, WAIT);
        assert_eq!(row["status"], "cancelled");
        assert_eq!(row["outcome"]["reason"], "changed my mind");

        // Execute: the output itself, or 202 with the id when the wait runs out.
        let output = api.post_raw("/workflows/gw_double/execute", "5");
        assert_eq!((output.status, output.body.clone()), (200, json!(10)));
        let pending = api.post_raw("/workflows/gw_wait/execute", "3");
        assert_eq!(pending.status, 202, "{:?}", pending.body);
        assert_eq!(pending.body["status"], "running");
        assert!(pending.body["execution_id"]
            .as_str()
            .unwrap()
            .starts_with("gw_wait-"));

        // Publish: ids back.
        let published = api.post(
            "/events",
            &json!([{"source": "test", "detail-type": "Nothing", "detail": {}}]),
        );
        assert_eq!(published.status, 202, "{:?}", published.body);
        assert_eq!(published.body["ids"].as_array().unwrap().len(), 1);

        // Errors name what is wrong.
        assert_eq!(
            error_kind(&api.get("/executions/nobody")),
            (404, "not_found".to_owned())
        );
        assert_eq!(
            error_kind(&api.get("/executions/nobody/history")),
            (404, "not_found".to_owned())
        );
        let unknown = api.post("/executions", &json!({"workflow": "nothing", "input": 1}));
        assert_eq!(error_kind(&unknown), (404, "unknown_workflow".to_owned()));
        let bad = api.post("/executions", &json!({"workflow": "gw_double", "inptu": 1}));
        assert_eq!(error_kind(&bad), (400, "bad_request".to_owned()));
        assert!(bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("inptu"));
        // No subscription with a dead-letter queue is deployed here: an empty list.
        assert_eq!(api.get("/dlq").body, json!([]));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_completes_later_by_its_token() {
    let (_harness, api, _server) = gateway().await;
    blocking(move || {
        let id = api.post(
            "/executions",
            &json!({"workflow": "gw_approve", "input": "o-7"}),
        );
        let id = id.body["execution_id"].as_str().unwrap().to_owned();
        let token = poll(WAIT, "the task's completion token", || {
            TOKENS.lock().unwrap().get(&id).cloned()
        });
        assert_eq!(
            api.get(&format!("/executions/{id}")).body["status"],
            "running"
        );

        for forged in [format!("{token}x"), "garbage".to_owned()] {
            let refused = api.post(
                "/tasks/complete",
                &json!({"token": forged, "result": "approved"}),
            );
            assert_eq!(error_kind(&refused), (403, "invalid_token".to_owned()));
        }
        let neither = api.post("/tasks/complete", &json!({"token": token}));
        assert_eq!(error_kind(&neither), (400, "bad_request".to_owned()));
        assert_eq!(
            api.get(&format!("/executions/{id}")).body["status"],
            "running"
        );

        let done = api.post(
            "/tasks/complete",
            &json!({"token": token, "result": "approved by ada"}),
        );
        assert_eq!(done.body, json!({"accepted": true}));
        assert_eq!(
            api.wait_ended(&id, WAIT)["outcome"]["result"],
            "approved by ada"
        );
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
        let failing = api.post(
            "/executions",
            &json!({"workflow": "gw_approve", "input": "o-8"}),
        );
        let failing = failing.body["execution_id"].as_str().unwrap().to_owned();
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
    })
    .await;
}

/// Runs the order service's AWS binary as a CLI with `args` and the secret key `secret`;
/// returns success, stdout and stderr.
fn cli(
    binary: &std::path::Path,
    harness_lambda: &str,
    secret: &str,
    args: &[&str],
) -> (bool, String, String) {
    let output = Command::new(binary)
        .args(args)
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("AWS_ENDPOINT_URL_LAMBDA", harness_lambda)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("the CLI runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_reaches_the_api_function_by_invoke_and_through_api_gateway() {
    let (harness, api, _server) = gateway().await;
    let lambda = harness.invoke_url.clone();
    let gateway_url = api.origin().to_owned();
    // API Gateway with the route's AWS_IAM authorization, for the CLI's credentials.
    let credentials = aws_credential_types::Credentials::new("test", "test", None, None, "test");
    let (signed_url, _signed) =
        serve_gateway_with(harness.aws.clone(), Some((credentials, "us-east-1".into()))).await;
    blocking(move || {
        let binary =
            cargo_binary_with_features("order-service", "bin", "order-service-aws", &["aws"]);
        let by_invoke = &format!(
            "{}{}",
            eventual_aws::cli::LAMBDA_SCHEME,
            names::api_function(harness::SERVICE)
        );
        let run_as = |secret: &str, url: &str, args: &[&str]| {
            let mut all = vec!["--url", url];
            all.extend_from_slice(args);
            cli(&binary, &lambda, secret, &all)
        };
        let run = |url: &str, args: &[&str]| run_as("test", url, args);

        let (ok, out, err) = run(by_invoke, &["start", "gw_wait", "1", "--name", "cli-1"]);
        assert!(ok, "{out}{err}");
        assert_eq!(out.trim(), "cli-1");
        let (ok, out, err) = run(by_invoke, &["status", "cli-1"]);
        assert!(ok, "{err}");
        let row: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            (row["id"].clone(), row["status"].clone()),
            (json!("cli-1"), json!("running"))
        );

        // The same API over HTTP (API Gateway's URL).
        let (ok, out, err) = run(&gateway_url, &["signal", "cli-1", "go", "\"from the cli\""]);
        assert!(ok, "{out}{err}");
        assert_eq!(
            api.wait_ended("cli-1", WAIT)["outcome"]["result"],
            "got from the cli"
        );

        // Through the IAM route: signed requests pass, unsigned or badly signed ones do not.
        let signed = format!("sigv4+{signed_url}");
        let (ok, out, err) = run(&signed, &["status", "cli-1"]);
        assert!(ok, "{out}{err}");
        assert_eq!(
            serde_json::from_str::<Value>(&out).unwrap()["status"],
            "succeeded"
        );
        let (ok, _, err) = run(&signed_url, &["status", "cli-1"]);
        assert!(!ok);
        assert!(
            err.contains("403") && err.contains("Missing Authentication Token"),
            "{err}"
        );
        let (ok, _, err) = run_as("wrong", &signed, &["status", "cli-1"]);
        assert!(!ok);
        assert!(err.contains("403") && err.contains("signature"), "{err}");
        let (ok, out, err) = run(&signed, &["start", "gw_double", "4", "--name", "signed-1"]);
        assert!(ok, "{out}{err}");
        assert_eq!(api.wait_ended("signed-1", WAIT)["outcome"]["result"], 8);

        let (ok, out, err) = run(by_invoke, &["history", "cli-1", "--json"]);
        assert!(ok, "{err}");
        let history: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            event_types(history["events"].as_array().unwrap()),
            ["WorkflowStarted", "SignalReceived", "WorkflowSucceeded"]
        );
        let (ok, out, _) = run(by_invoke, &["list", "--workflow", "gw_wait"]);
        assert!(ok);
        assert!(
            out.lines()
                .any(|line| line.starts_with("cli-1 ") && line.contains("succeeded")),
            "{out}"
        );
        // `list --attr` filters on the attribute index.
        for (name, customer) in [("tagged-ada", "\"ada\""), ("tagged-bob", "\"bob\"")] {
            let (ok, out, err) = run(by_invoke, &["start", "gw_tagged", customer, "--name", name]);
            assert!(ok, "{out}{err}");
        }
        let (ok, out, err) = run(by_invoke, &["list", "--attr", "customer=ada"]);
        assert!(ok, "{err}");
        let listed: Vec<&str> = out
            .lines()
            .filter_map(|line| line.split_whitespace().next())
            .filter(|id| id.starts_with("tagged-") || *id == "cli-1")
            .collect();
        assert_eq!(listed, ["tagged-ada"], "{out}");
        let (ok, out, err) = run(
            &gateway_url,
            &["list", "--attr", "customer=bob", "--status", "running"],
        );
        assert!(ok, "{err}");
        assert!(
            out.lines().any(|line| line.starts_with("tagged-bob ")) && !out.contains("tagged-ada"),
            "{out}"
        );

        // The CLI replays the fetched history against its own binary's code: `gw_wait` is not
        // linked into the order service, so it says so.
        let (ok, _, err) = run(by_invoke, &["replay", "cli-1"]);
        assert!(!ok);
        assert!(err.contains("gw_wait"), "{err}");

        // Failures are reported with the API's message and a failing exit status.
        let (ok, _, err) = run(by_invoke, &["status", "nobody"]);
        assert!(!ok);
        assert!(err.contains("404") && err.contains("nobody"), "{err}");
        let (ok, _, err) = run("lambda://", &["status", "cli-1"]);
        assert!(!ok);
        assert!(err.contains("names no function"), "{err}");
        let (ok, _, err) = run("lambda://no-such-function", &["status", "cli-1"]);
        assert!(!ok);
        assert!(err.contains("no-such-function"), "{err}");
    })
    .await;
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct GwFlaky {
    n: u64,
}

/// When each `GwFlaky` delivery happened, by `n`.
static FLAKY: Mutex<BTreeMap<u64, Vec<Instant>>> = Mutex::new(BTreeMap::new());

/// Fails `n = 1` twice, then takes it; fails `n = 2` always.
#[on_event(
    pattern = r#"{"detail-type": ["GwFlaky"]}"#,
    retry(
        max_attempts = 3,
        backoff = "exponential",
        initial = "1s",
        multiplier = 2.0,
        jitter = 0.0
    )
)]
async fn gw_flaky(event: Event<GwFlaky>) -> Result<(), String> {
    let mut calls = FLAKY.lock().unwrap();
    let calls = calls.entry(event.detail.n).or_default();
    calls.push(Instant::now());
    match event.detail.n {
        1 if calls.len() < 3 => Err(format!("not yet ({})", calls.len())),
        1 => Ok(()),
        _ => Err("never".to_owned()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_back_off_by_the_subscription_s_policy_then_are_dead_lettered() {
    let harness = Harness::start(&["gw_flaky"], Options::default()).await;
    let api = harness.api();
    let publish =
        |n: u64| eventual_runtime::OutgoingEvent::new("test", "GwFlaky", json!({ "n": n }));
    let ids = ServiceApi::publish(&api, vec![publish(1), publish(2)])
        .await
        .unwrap();
    let calls = |n: u64| FLAKY.lock().unwrap().get(&n).cloned().unwrap_or_default();

    // The retries wait 1 s, then 2 s (SQS hides the message until then): the local engine's
    // schedule, from the same rule.
    harness::eventually(WAIT, "the third delivery of n = 1", || {
        (calls(1).len() == 3).then_some(())
    })
    .await;
    let at = calls(1);
    let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps[0] >= Duration::from_millis(900), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(1900), "{gaps:?}");

    // n = 2 fails its three attempts and is dead-lettered with its failure.
    let dead_letters = |count: usize| {
        let api = api.clone();
        async move {
            let deadline = Instant::now() + WAIT;
            loop {
                let letters = ServiceApi::dead_letters(&api).await.unwrap();
                if letters.len() == count {
                    return letters;
                }
                assert!(
                    Instant::now() < deadline,
                    "{count} dead letters: {letters:?}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let letters = dead_letters(1).await;
    assert_eq!(calls(2).len(), 3);
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].subscription, "gw_flaky");
    assert_eq!(letters[0].event.id, ids[1]);
    assert_eq!(letters[0].attempts, 3);
    assert_eq!(
        letters[0].error,
        eventual_runtime::registry::HandlerFailure::Failed("never".into())
    );
    // Redriven, it gets three more deliveries and comes back.
    assert_eq!(ServiceApi::redrive(&api, None).await.unwrap(), 1);
    harness::eventually(WAIT, "three more deliveries of n = 2", || {
        (calls(2).len() == 6).then_some(())
    })
    .await;
    let again = dead_letters(1).await;
    assert_eq!(again[0].event.id, ids[1]);
    assert_eq!(
        calls(1).len(),
        3,
        "a delivery that succeeded is not repeated"
    );
}

/// Doubles `n` (a task), then continues as new with `n - 1`, down to 0.
#[workflow]
async fn gw_countdown(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    if n == 0 {
        return Ok(0);
    }
    gw_double_task(n).await?;
    ctx.continue_as_new(n - 1).await
}

/// Each run that continued as new keeps its own history document, served by run id; the
/// execution's history is the current run's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_that_continued_as_new_keep_their_history_documents() {
    use eventual_runtime::engine::client::StartExecution;
    use eventual_runtime::engine::{Engine, ServiceError};
    use eventual_runtime::workflow::{HistoryEventKind, Outcome};
    let harness = Harness::start(&[], Options::default()).await;
    let api = harness.api();
    let started = ServiceApi::start(
        &api,
        StartExecution {
            workflow: "gw_countdown".into(),
            execution_name: None,
            input: json!(2),
            correlation_id: None,
        },
    )
    .await
    .expect("start");
    let id = started.execution_id;
    let outcome = Engine::wait(&api, &id).await.expect("wait");
    assert_eq!(outcome, Outcome::Succeeded { result: json!(0) });
    let current = ServiceApi::history(&api, &id).await.expect("history");
    let last = ServiceApi::run_history(&api, &id, "run-3")
        .await
        .expect("run-3");
    assert_eq!(last, current);
    for (run_id, input, next_input) in [("run-1", 2, 1), ("run-2", 1, 0)] {
        let run = ServiceApi::run_history(&api, &id, run_id)
            .await
            .expect(run_id);
        let kinds: Vec<_> = [run.first(), run.last()]
            .into_iter()
            .map(|event| event.map(|e| e.kind.clone()))
            .collect();
        match (&kinds[0], &kinds[1]) {
            (
                Some(HistoryEventKind::WorkflowStarted { input: started, .. }),
                Some(HistoryEventKind::WorkflowContinuedAsNew { input: next }),
            ) => assert_eq!(
                (started, next),
                (&json!(input), &json!(next_input)),
                "{run_id}"
            ),
            other => panic!("{run_id} is not a continued run: {other:?}"),
        }
    }
    let missing = ServiceApi::run_history(&api, &id, "run-4").await;
    assert!(
        matches!(&missing, Err(ServiceError::NotFound(what)) if what.contains("run `run-4`")),
        "{missing:?}"
    );
}
