//! The command line of a service binary (`order_service`), against its own `serve` run as a
//! child process on a free port.

use eventual_tests::local::{cargo_binary, free_port, poll, ChildServer};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

struct Cli {
    binary: PathBuf,
    url: String,
}

impl Cli {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.binary)
            .args(args)
            .arg("--url")
            .arg(&self.url)
            .output()
            .expect("the CLI runs")
    }

    /// Runs a command that must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{args:?} failed: {}\nstdout: {stdout}\nstderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    fn json(&self, args: &[&str]) -> Value {
        let stdout = self.ok(args);
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {stdout}"))
    }
}

fn order(id: &str, total_cents: u64, region: &str) -> String {
    json!({
        "id": id,
        "customer": "ada@example.com",
        "items": [{"sku": "BOOK-42", "quantity": 1}],
        "total_cents": total_cents,
        "region": region
    })
    .to_string()
}

fn serve() -> (ChildServer, Cli, tempfile::TempDir) {
    let binary = cargo_binary("eventual-examples", "example", "order_service");
    let dir = tempfile::tempdir().unwrap();
    let server = ChildServer::start(&binary, &dir.path().join("orders.db"), free_port(), &[]);
    let cli = Cli {
        binary,
        url: server.api.origin().to_owned(),
    };
    (server, cli, dir)
}

#[test]
fn every_command_against_a_served_engine() {
    let (mut server, cli, dir) = serve();

    // start --follow prints the id, then the history as it grows, and returns at the end.
    let followed = cli.ok(&[
        "start",
        "place_order",
        &order("o-1", 25_000, "eu-west-1"),
        "--name",
        "o-1",
        "--follow",
    ]);
    let mut lines = followed.lines();
    assert_eq!(lines.next(), Some("o-1"), "{followed}");
    let body: Vec<&str> = lines.collect();
    assert!(body[0].contains("WorkflowStarted"), "{followed}");
    for step in [
        "reserve_inventory",
        "charge_card",
        "ship_order",
        "OrderShipped",
    ] {
        assert!(
            followed.contains(step),
            "--follow does not show {step}: {followed}"
        );
    }
    assert!(
        body.last().unwrap().contains("WorkflowSucceeded"),
        "{followed}"
    );
    // The same name again: the same execution.
    assert_eq!(
        cli.ok(&[
            "start",
            "place_order",
            &order("o-1", 25_000, "eu-west-1"),
            "--name",
            "o-1"
        ])
        .trim(),
        "o-1"
    );

    // status
    // The order answers where it is, from its replayed state.
    assert_eq!(cli.json(&["query", "o-1", "stage"]), json!("shipped"));
    let unknown = cli.run(&["query", "o-1", "mood"]);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("answers no query `mood`"),
        "{unknown:?}"
    );
    let status = cli.json(&["status", "o-1"]);
    assert_eq!(status["status"], "succeeded");
    assert_eq!(status["outcome"]["result"]["tracking"], "trk-res-o-1");

    // A second order that cannot ship: it retries ship_order for a while, so it is running.
    let running = cli.ok(&["start", "place_order", &order("o-2", 900, "mars")]);
    let running = running.trim().to_owned();
    assert!(!running.is_empty());

    // list: table, JSON, filters.
    let table = cli.ok(&["list"]);
    assert!(
        table.lines().next().unwrap().contains("EXECUTION"),
        "{table}"
    );
    assert!(table.contains("o-1") && table.contains(&running), "{table}");
    let listed = cli.json(&["list", "--json", "--workflow", "place_order"]);
    assert_eq!(listed["executions"].as_array().unwrap().len(), 2);
    let only_running = cli.json(&["list", "--json", "--status", "running"]);
    let ids: Vec<&str> = only_running["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [running.as_str()]);
    let paged = cli.ok(&["list", "--limit", "1"]);
    assert!(paged.contains("(more: --next-token"), "{paged}");

    // history: table and JSON.
    let history = cli.ok(&["history", "o-1"]);
    let header = history.lines().next().unwrap();
    assert!(
        header.contains("event") && header.contains("seq"),
        "{history}"
    );
    assert!(history.contains("TaskScheduled") && history.contains("reserve_inventory"));
    assert!(history.contains("WorkflowSucceeded"), "{history}");
    let document = cli.json(&["history", "o-1", "--json"]);
    assert_eq!(document["format_version"], 1);
    let events = document["events"].as_array().unwrap();
    assert_eq!(events[0]["type"], "WorkflowStarted");
    assert_eq!(events.last().unwrap()["type"], "WorkflowSucceeded");
    assert_eq!(
        history.lines().count(),
        events.len() + 1,
        "one line per event"
    );
    std::fs::write(
        dir.path().join("o-1.json"),
        serde_json::to_string(&document).unwrap(),
    )
    .unwrap();

    // signal: recorded in the running execution's history.
    let sent = cli.ok(&["signal", &running, "poke", r#"{"why": "test"}"#]);
    assert!(sent.contains("signal `poke` sent"), "{sent}");
    let events = cli.json(&["history", &running, "--json"])["events"].clone();
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "SignalReceived"
                && e["name"] == "poke"
                && e["payload"]["why"] == "test"),
        "{events}"
    );

    // update: recorded and, while the workflow never takes it, pending under the given id;
    // an update to an ended execution is an error that says so.
    let pending = cli.ok(&[
        "update",
        &running,
        "note",
        "--input",
        r#""fragile""#,
        "--id",
        "note-1",
        "--wait",
        "0.2",
    ]);
    assert!(
        pending.contains("update `note-1`") && pending.contains("pending"),
        "{pending}"
    );
    let events = cli.json(&["history", &running, "--json"])["events"].clone();
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "UpdateReceived"
                && e["update_id"] == "note-1"
                && e["input"] == "fragile"),
        "{events}"
    );
    let late = cli.run(&["update", "o-1", "note", "--input", "1"]);
    assert!(!late.status.success());
    assert!(
        String::from_utf8_lossy(&late.stderr).contains("execution `o-1` has already ended"),
        "{late:?}"
    );

    // cancel: the execution ends cancelled, after its compensations.
    let cancelled = cli.ok(&["cancel", &running, "--reason", "customer called"]);
    assert!(cancelled.contains("cancellation"), "{cancelled}");
    poll(WAIT, "the cancellation", || {
        (cli.json(&["status", &running])["status"] == "cancelled").then_some(())
    });
    let after = cli.ok(&["history", &running]);
    assert!(
        after.contains("refund_payment") && after.contains("release_inventory"),
        "{after}"
    );
    assert!(after.contains("WorkflowCancelled"), "{after}");

    // terminate: the execution ends at once, without compensations, and says why.
    let doomed = cli.ok(&["start", "place_order", &order("o-3", 900, "mars")]);
    let doomed = doomed.trim().to_owned();
    let terminated = cli.ok(&["terminate", &doomed, "--reason", "operator"]);
    assert!(terminated.contains("terminated"), "{terminated}");
    assert_eq!(cli.json(&["status", &doomed])["status"], "terminated");
    let after = cli.ok(&["history", &doomed]);
    assert!(
        after
            .lines()
            .any(|line| line.contains("WorkflowTerminated") && line.ends_with("operator")),
        "{after}"
    );
    assert!(!after.contains("refund_payment"), "{after}");

    // timeline
    let timeline = cli.ok(&["timeline", "o-1"]);
    for step in [
        "task reserve_inventory: succeeded (attempt 1)",
        "task charge_card: succeeded",
        "task ship_order: succeeded",
    ] {
        assert!(
            timeline.contains(step),
            "timeline lacks `{step}`:\n{timeline}"
        );
    }

    // publish, and the dead-letter queue: an OrderPlaced whose detail the handler cannot read.
    let published = cli.json(&[
        "publish",
        "tests",
        "OrderPlaced",
        r#"{"total_cents": 20000}"#,
    ]);
    let event_id = published["ids"][0].as_str().unwrap().to_owned();
    let dead = poll(WAIT, "a dead letter", || {
        let dlq = cli.json(&["dlq", "list"]);
        let entries = dlq.as_array().unwrap().clone();
        (!entries.is_empty()).then_some(entries)
    });
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["event"]["id"], event_id.as_str());
    assert_eq!(dead[0]["subscription"], "flag_big_order");
    let entry = dead[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        cli.json(&["dlq", "redrive", &entry]),
        json!({"redriven": 1})
    );
    // The handler still cannot read it: it comes back, and a redrive of all takes it again.
    let back = poll(WAIT, "the dead letter to come back", || {
        let entries = cli.json(&["dlq", "list"]).as_array().unwrap().clone();
        (entries.len() == 1 && entries[0]["id"] != entry.as_str()).then_some(entries)
    });
    assert_eq!(back[0]["event"]["id"], event_id.as_str());
    assert_eq!(cli.json(&["dlq", "redrive"]), json!({"redriven": 1}));
    // A good OrderPlaced is handled and leaves nothing behind.
    cli.json(&[
        "publish",
        "tests",
        "OrderPlaced",
        r#"{"order_id": "x", "customer": "c", "total_cents": 50000, "region": "eu"}"#,
    ]);

    // replay of a recorded execution agrees with the code.
    let replayed = cli.ok(&["replay", "o-1"]);
    assert!(replayed.contains("replay ok"), "{replayed}");

    // Errors: unknown execution, bad JSON; non-zero exit and a message.
    let unknown = cli.run(&["status", "nope"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("404"));
    let bad = cli.run(&["start", "place_order", "{oops"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not valid JSON"));

    server.assert_alive();
}

/// Makes an order's history disagree with the code: step 1 names `reserve_stock` where
/// `place_order` calls `reserve_inventory`.
fn rename_task_of_step_1(document: &mut Value) {
    let events = document["events"].as_array_mut().unwrap();
    let scheduled = events
        .iter_mut()
        .find(|e| e["type"] == "TaskScheduled" && e["seq"] == 1)
        .expect("step 1 is a task");
    assert_eq!(scheduled["name"], "reserve_inventory");
    scheduled["name"] = json!("reserve_stock");
}

fn replay_file(cli: &Cli, file: &Path) -> Output {
    cli.run(&["replay", "--history-file", file.to_str().unwrap()])
}

#[test]
fn replay_of_a_history_that_disagrees_with_the_code_names_the_step() {
    let (_server, cli, dir) = serve();
    cli.ok(&[
        "start",
        "place_order",
        &order("o-9", 900, "eu-west-1"),
        "--name",
        "o-9",
        "--follow",
    ]);
    let mut document = cli.json(&["history", "o-9", "--json"]);

    // Unchanged, the file replays.
    let good = dir.path().join("good.json");
    std::fs::write(&good, document.to_string()).unwrap();
    let output = replay_file(&cli, &good);
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("replay ok"));

    // Step 1 now names another task than the code calls there.
    rename_task_of_step_1(&mut document);
    let changed = dir.path().join("changed.json");
    std::fs::write(&changed, document.to_string()).unwrap();
    let output = replay_file(&cli, &changed);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "a non-determinism must fail: {output:?}"
    );
    assert!(stderr.contains("non-determinism"), "{stderr}");
    assert!(stderr.contains("sequence 1"), "{stderr}");
    assert!(
        stderr.contains("reserve_stock") && stderr.contains("reserve_inventory"),
        "both steps are named: {stderr}"
    );

    // A file that is not a history document.
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"events\": 3}").unwrap();
    assert!(!replay_file(&cli, &junk).status.success());
}

/// `replay --all`, the check before a deploy: every history of the engine, or of exported
/// files, against this binary's code; one line each, and a failure if any disagrees.
#[test]
fn replay_all_checks_every_history_of_the_engine_or_a_directory() {
    let (_server, cli, dir) = serve();
    for id in ["o-10", "o-11"] {
        cli.ok(&[
            "start",
            "place_order",
            &order(id, 900, "eu-west-1"),
            "--name",
            id,
            "--follow",
        ]);
    }
    let stdout = cli.ok(&["replay", "--all"]);
    assert!(
        stdout.contains("ok      o-10") && stdout.contains("ok      o-11"),
        "{stdout}"
    );
    assert!(
        stdout.contains("replayed 2 histories: 0 failed"),
        "{stdout}"
    );
    let stdout = cli.ok(&["replay", "--all", "--workflow", "no_such_workflow"]);
    assert!(
        stdout.contains("replayed 0 histories: 0 failed"),
        "{stdout}"
    );

    let exported = dir.path().join("exported");
    std::fs::create_dir(&exported).unwrap();
    let mut document = cli.json(&["history", "o-10", "--json"]);
    std::fs::write(exported.join("o-10.json"), document.to_string()).unwrap();
    rename_task_of_step_1(&mut document);
    std::fs::write(exported.join("o-10-changed.json"), document.to_string()).unwrap();

    let output = cli.run(&["replay", "--all", "--dir", exported.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !output.status.success(),
        "a disagreeing history fails the check: {stdout}"
    );
    assert!(
        stdout.contains("o-10.json") && stdout.contains("ok "),
        "{stdout}"
    );
    let failed = stdout
        .lines()
        .find(|line| line.starts_with("FAILED"))
        .unwrap_or_else(|| panic!("no failure line: {stdout}"));
    assert!(
        failed.contains("o-10-changed.json") && failed.contains("sequence 1"),
        "{failed}"
    );
    assert!(
        stdout.contains("replayed 2 histories: 1 failed"),
        "{stdout}"
    );
}
