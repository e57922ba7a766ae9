//! The web console in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, which `.ci/run` installs) driven over WebDriver with fantoccini, against
//! the order service's engine served in-process.
//!
//! The test loads the executions list, opens an execution waiting for a signal, finds its
//! timeline rows (task attempts with a retry, a timer, a child order linked to its own page),
//! cancels it and sees its status change, follows the child to its page, shows an unknown
//! execution as a message, draws a workflow's diagram, and checks that no page logged a
//! JavaScript error. Screenshots go to `target/console-screenshots/*.png`.
//!
//! Without Chromium the test fails and says how to install it; `EVENTUAL_SKIP_BROWSER=1` skips
//! it with a notice instead.

use eventual_runtime::prelude::*;
use eventual_tests::local::{free_port, poll, InProcess};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Fails its first attempt, so that the timeline shows a retry.
#[task(retry(max_attempts = 3, backoff = "fixed", initial = "300ms", jitter = 0.0))]
async fn console_check_stock(sku: String) -> Result<u32, StepError> {
    let attempt = eventual_runtime::task::TaskContext::current()
        .expect("inside a task")
        .attempt;
    if attempt == 1 {
        return Err(StepError::new(
            StepErrorKind::Failed,
            "the stock service timed out",
        ));
    }
    Ok(sku.len() as u32)
}

/// Checks the stock (retried once), naps, places the order as a child, then waits for a
/// reviewer's signal: the waiting execution the console cancels.
#[workflow]
async fn console_review(
    ctx: WorkflowContext,
    order: order_service::Order,
) -> Result<String, WorkflowError> {
    console_check_stock(order.id.clone()).await?;
    ctx.sleep(Duration::from_millis(200)).await;
    let placed = ctx.child::<order_service::place_order>(order).await?;
    let verdict: String = ctx.wait_for_signal("approve").await?;
    Ok(format!("{verdict}: {placed:?}"))
}

/// The chromedriver process, killed with the test.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The first of `names` on the `PATH`.
fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Chromium's WebDriver command `goog/cdp/execute`: a DevTools call in the session's page.
#[derive(Debug)]
struct DevTools {
    method: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for DevTools {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({"cmd": self.method, "params": self.params});
        (http::Method::POST, Some(body.to_string()))
    }
}

/// Installed before any script of every page: collects uncaught errors, unhandled
/// rejections, `console.error` calls, failed resource loads and CSP violations.
const ERROR_COLLECTOR: &str = r#"
window.__consoleErrors = [];
window.addEventListener("error", (e) => window.__consoleErrors.push(
  e.message ? `${e.message} at ${e.filename}:${e.lineno}` : `failed to load ${e.target && (e.target.src || e.target.href)}`), true);
window.addEventListener("unhandledrejection", (e) => window.__consoleErrors.push(`unhandled rejection: ${e.reason}`));
window.addEventListener("securitypolicyviolation", (e) => window.__consoleErrors.push(`CSP: ${e.violatedDirective} ${e.blockedURI}`));
const originalError = console.error;
console.error = (...args) => { window.__consoleErrors.push(args.map(String).join(" ")); originalError(...args); };
"#;

const WAIT: Duration = Duration::from_secs(20);

fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot dir");
    dir
}

#[test]
fn the_console_lists_shows_and_cancels_an_execution_without_javascript_errors() {
    if std::env::var("EVENTUAL_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("NOTICE: EVENTUAL_SKIP_BROWSER=1: the console's browser test is skipped");
        return;
    }
    let (Some(chromium), Some(chromedriver)) = (
        find_program(&["chromium", "chromium-browser", "google-chrome"]),
        find_program(&["chromedriver"]),
    ) else {
        panic!(
            "the console's browser test needs Chromium and its WebDriver on the PATH: \
             `apt-get install -y chromium chromium-driver` (as .ci/run does), or set \
             EVENTUAL_SKIP_BROWSER=1 to skip it"
        );
    };

    let server = InProcess::start();
    let api = &server.api;
    let order = json!({"id": "o-console", "customer": "ada@example.com",
        "items": [{"sku": "BOOK-42", "quantity": 1}], "total_cents": 2500, "region": "eu-west-1"});
    let started = api.post(
        "/executions",
        &json!({"workflow": "console_review", "input": order, "name": "review-1"}),
    );
    assert_eq!(started.status, 201, "{:?}", started.body);
    let id = started.body["execution_id"].as_str().unwrap().to_owned();
    // Waiting for its signal: the child has succeeded, so nothing else will happen.
    poll(WAIT, "the review to wait for its signal", || {
        let history = api.history(&id);
        history
            .iter()
            .any(|e| e["type"] == "ChildWorkflowSucceeded")
            .then_some(())
    });
    let child_id = api
        .history(&id)
        .iter()
        .find(|e| e["type"] == "ChildWorkflowScheduled")
        .and_then(|e| e["execution_id"].as_str().map(str::to_owned))
        .expect("the child's id");

    let port = free_port();
    let driver = Driver(
        Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    let profile = tempfile::tempdir().expect("a profile dir");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let origin = format!("http://{}", server.address);
    // `console --url <origin>`: the CLI's console, forwarding through the HTTP transport (it
    // serves until the process ends).
    let forwarder: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let transport = eventual_runtime::cli::HttpTransport::new(&origin);
    std::thread::spawn(move || eventual_runtime::cli::console::serve(forwarder, &transport));
    runtime.block_on(async {
        let client = connect(port, &chromium, profile.path()).await;
        drive(&client, &origin, &id, &child_id).await;
        let outcome = through_the_cli(&client, &format!("http://{forwarder}"), &id).await;
        let _ = client.close().await;
        outcome
    });
    drop(driver);
    // The cancel reached the engine (the page saw it; the API agrees).
    assert_eq!(
        api.get(&format!("/executions/{id}")).body["status"],
        "cancelled"
    );
}

/// A WebDriver session in headless Chromium with a fresh profile, errors collected on every
/// page.
async fn connect(port: u16, chromium: &Path, profile: &Path) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1400,1400",
                format!("--user-data-dir={}", profile.display())],
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let mut attempts = 0;
    let client = loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&url)
            .await
        {
            Ok(client) => break client,
            // chromedriver may not listen yet.
            Err(error) if attempts < 100 => {
                attempts += 1;
                let _ = error;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("no WebDriver session with chromedriver: {error}"),
        }
    };
    client
        .issue_cmd(DevTools {
            method: "Page.addScriptToEvaluateOnNewDocument",
            params: json!({"source": ERROR_COLLECTOR}),
        })
        .await
        .expect("the error collector is installed");
    client
}

/// Waits until `script` (a function body returning a value) returns something truthy, and
/// returns it; fails with `what` and the page's text after a while.
async fn wait_for(client: &Client, what: &str, script: &str) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let value = client
            .execute(script, vec![])
            .await
            .expect("the script runs");
        let truthy = !matches!(&value, Value::Null | Value::Bool(false))
            && value != json!("")
            && value != json!(0)
            && value != json!([]);
        if truthy {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            let text = client
                .execute("return document.body.innerText", vec![])
                .await
                .unwrap_or_default();
            panic!("timed out waiting for {what}; the page shows:\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("a screenshot");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png)
        .expect("the screenshot is saved");
}

/// The errors the page collected since it loaded.
async fn page_errors(client: &Client) -> Vec<String> {
    let errors = client
        .execute(
            "return window.__consoleErrors || ['the error collector is missing']",
            vec![],
        )
        .await
        .expect("the errors are read");
    serde_json::from_value(errors).expect("a list of strings")
}

async fn assert_no_errors(client: &Client, page: &str) {
    let errors = page_errors(client).await;
    assert!(
        errors.is_empty(),
        "the {page} logged JavaScript errors: {errors:#?}"
    );
}

/// The same console served by the CLI's `console` command shows the same execution, read
/// through its transport.
async fn through_the_cli(client: &Client, forwarder: &str, id: &str) {
    client
        .goto(&format!("{forwarder}/_eventual/console/#/executions/{id}"))
        .await
        .expect("the CLI's console loads");
    wait_for(
        client,
        "the cancelled status through the CLI's console",
        "const s = document.querySelector('#execution-status [data-status]'); return s && s.dataset.status === 'cancelled'",
    )
    .await;
    let rows = wait_for(
        client,
        "the timeline through the CLI's console",
        "return document.querySelectorAll('.timeline-row').length",
    )
    .await;
    assert_eq!(rows, json!(4));
    screenshot(client, "cli-console").await;
    assert_no_errors(client, "CLI's console").await;
}

async fn drive(client: &Client, origin: &str, id: &str, child_id: &str) {
    // The list, with the waiting review and its child.
    client
        .goto(&format!("{origin}/_eventual/console/"))
        .await
        .expect("the console loads");
    let listed = wait_for(
        client,
        "the executions list",
        &format!("return [...document.querySelectorAll('tr.execution-row')].map(r => r.dataset.id).includes({})", json!(id)),
    )
    .await;
    assert_eq!(listed, json!(true));
    let statuses = client
        .execute(
            "return Object.fromEntries([...document.querySelectorAll('tr.execution-row')].map(r => [r.dataset.id, r.querySelector('[data-status]').dataset.status]))",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(statuses[id], "running", "{statuses}");
    assert_eq!(statuses[child_id], "succeeded", "{statuses}");
    screenshot(client, "executions").await;
    assert_no_errors(client, "executions list").await;

    // Filtering by status leaves out the child.
    client
        .goto(&format!(
            "{origin}/_eventual/console/#/executions?status=running"
        ))
        .await
        .unwrap();
    let running = wait_for(
        client,
        "the running executions",
        "const ids = [...document.querySelectorAll('tr.execution-row')].map(r => r.dataset.id); return ids.length ? ids : null",
    )
    .await;
    assert_eq!(running, json!([id]));

    // Open the execution from the list.
    client
        .goto(&format!("{origin}/_eventual/console/#/executions"))
        .await
        .unwrap();
    let link = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&format!("tr.execution-row[data-id='{id}'] a")))
        .await
        .expect("the execution's link");
    link.click().await.unwrap();
    wait_for(
        client,
        "the execution's status",
        "const s = document.querySelector('#execution-status [data-status]'); return s && s.dataset.status",
    )
    .await;
    let rows = wait_for(
        client,
        "the timeline",
        "const rows = [...document.querySelectorAll('.timeline-row')]; return rows.length ? rows.map(r => [r.dataset.kind, r.querySelectorAll('.bar').length, r.innerText.trim()]) : null",
    )
    .await;
    let rows: Vec<(String, usize, String)> = serde_json::from_value(rows).unwrap();
    let kinds: Vec<&str> = rows.iter().map(|(kind, ..)| kind.as_str()).collect();
    assert_eq!(kinds, ["workflow", "task", "timer", "child"], "{rows:?}");
    // The task's row: the failed attempt, its backoff, the attempt that succeeded.
    assert_eq!(rows[1].1, 3, "{rows:?}");
    assert!(rows[1].2.contains("console_check_stock"), "{rows:?}");
    assert!(rows[3].2.contains(child_id), "{rows:?}");
    let input = client
        .find(Locator::Id("execution-input"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(input.contains("o-console"), "{input}");
    screenshot(client, "execution-waiting").await;
    assert_no_errors(client, "execution page").await;

    // Cancel it: the page shows the new status.
    client
        .find(Locator::Id("cancel"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(
        client,
        "the cancelled status",
        "const s = document.querySelector('#execution-status [data-status]'); return s && s.dataset.status === 'cancelled'",
    )
    .await;
    let output = client
        .find(Locator::Id("execution-output"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(output.contains("Cancelled"), "{output}");
    screenshot(client, "execution-cancelled").await;
    assert_no_errors(client, "execution page after the cancel").await;

    // The child's row links to the child's page, which shows its emitted events.
    client
        .find(Locator::Css(".timeline-row[data-kind='child'] a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let child_rows = wait_for(
        client,
        "the child's timeline",
        "const rows = [...document.querySelectorAll('.timeline-row')].map(r => r.dataset.kind); return rows.includes('emit') ? rows : null",
    )
    .await;
    assert!(child_rows.to_string().contains("task"), "{child_rows}");
    let heading = client
        .execute("return document.querySelector('h1').textContent", vec![])
        .await
        .unwrap();
    assert!(heading.as_str().unwrap().contains(child_id), "{heading}");
    screenshot(client, "child-execution").await;
    assert_no_errors(client, "child's page").await;

    // An unknown execution is a message, not a blank page.
    client
        .goto(&format!(
            "{origin}/_eventual/console/#/executions/no-such-id"
        ))
        .await
        .unwrap();
    let message = wait_for(
        client,
        "the not-found message",
        "const m = document.getElementById('message'); return !m.hidden && m.textContent",
    )
    .await;
    assert!(
        message.as_str().unwrap().contains("no-such-id"),
        "{message}"
    );
    screenshot(client, "unknown-execution").await;
    assert_no_errors(client, "unknown execution's page").await;

    // The workflow's diagram is drawn from its Mermaid source.
    client
        .goto(&format!(
            "{origin}/_eventual/console/#/workflows/place_order"
        ))
        .await
        .unwrap();
    let nodes = wait_for(
        client,
        "the diagram",
        "const nodes = [...document.querySelectorAll('#diagram g.node')].map(n => n.textContent); return nodes.length ? nodes : null",
    )
    .await;
    let nodes = nodes.to_string();
    for expected in ["place_order", "charge_card", "OrderShipped"] {
        assert!(nodes.contains(expected), "{expected} not in {nodes}");
    }
    screenshot(client, "workflow-diagram").await;
    assert_no_errors(client, "workflow page").await;

    // The dead-letter queue page.
    client
        .goto(&format!("{origin}/_eventual/console/#/dlq"))
        .await
        .unwrap();
    wait_for(
        client,
        "the dead letters",
        "const r = document.getElementById('redrive-result'); return r && r.textContent",
    )
    .await;
    screenshot(client, "dead-letters").await;
    assert_no_errors(client, "dead-letter page").await;
}
