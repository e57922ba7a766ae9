//! Schedules on the local engine: stored in the engine's database, fired durably, caught up
//! after downtime by each schedule's policy, managed through the HTTP API.
//!
//! The wall clock cannot be moved, and the shortest schedule fires once a minute. So the
//! downtime tests close the engine, move a schedule's stored next firing into the past (as a
//! long downtime would have left it) and reopen; the on-time test moves it a second into the
//! future and watches the engine's own timer fire it.

use eventual_runtime::engine::api::ListFilter;
use eventual_runtime::engine::local::{EngineConfig, EngineHandle, LocalEngine};
use eventual_runtime::prelude::*;
use eventual_runtime::schedule::{CatchUpPolicy, OverlapPolicy, ScheduleInfo, ScheduleSpec};
use eventual_tests::local::{poll, InProcess};
use serde_json::json;
use std::path::Path;
use std::time::Duration as StdDuration;

/// Every missed firing starts its own execution.
#[workflow(schedule = "rate(1 day)", catch_up = "all", overlap = "allow")]
async fn catch_up_all(_ctx: WorkflowContext) -> Result<(), WorkflowError> {
    Ok(())
}

/// One execution stands for all missed firings (the default policy).
#[workflow(schedule = "rate(1 day)")]
async fn catch_up_once(_ctx: WorkflowContext) -> Result<(), WorkflowError> {
    Ok(())
}

/// Missed firings are dropped.
#[workflow(schedule = "rate(1 day)", catch_up = "none")]
async fn catch_up_none(_ctx: WorkflowContext) -> Result<(), WorkflowError> {
    Ok(())
}

/// Catches up every firing but skips those that find the previous execution still running:
/// it runs until signalled.
#[workflow(schedule = "rate(1 day)", catch_up = "all")]
async fn runs_until_told(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    ctx.wait_for_signal::<()>("done").await?;
    Ok(())
}

/// Started by the schedules created through the API.
#[workflow]
async fn greet(_ctx: WorkflowContext, name: String) -> Result<String, WorkflowError> {
    Ok(format!("hello {name}"))
}

const DAY_MS: u64 = 86_400_000;
const WAIT: StdDuration = StdDuration::from_secs(20);

fn open(path: &Path) -> LocalEngine {
    LocalEngine::open(EngineConfig::new(path)).expect("the engine opens")
}

fn block<F: std::future::Future>(future: F) -> F::Output {
    futures::executor::block_on(future)
}

fn schedules(handle: &EngineHandle) -> Vec<ScheduleInfo> {
    block(handle.schedules()).expect("the schedules")
}

fn schedule(handle: &EngineHandle, name: &str) -> ScheduleInfo {
    schedules(handle)
        .into_iter()
        .find(|info| info.spec.name == name)
        .unwrap_or_else(|| panic!("no schedule `{name}`"))
}

/// The names of `workflow`'s executions, sorted.
fn executions_of(handle: &EngineHandle, workflow: &str) -> Vec<String> {
    let filter = ListFilter {
        workflow: Some(workflow.to_owned()),
        ..ListFilter::default()
    };
    let mut names: Vec<String> = handle
        .list(&filter)
        .expect("the list")
        .executions
        .into_iter()
        .map(|row| row.id)
        .collect();
    names.sort();
    names
}

fn firing_name(schedule: &str, at_ms: u64) -> String {
    format!("{schedule}-schedule-{at_ms}")
}

/// Sets a schedule's stored next firing while the engine is closed.
fn store_next_firing(database: &Path, schedule: &str, at_ms: u64) {
    let connection = rusqlite::Connection::open(database).expect("the database opens");
    let changed = connection
        .execute(
            "UPDATE schedules SET next_firing = ?1 WHERE name = ?2",
            rusqlite::params![at_ms as i64, schedule],
        )
        .expect("the update");
    assert_eq!(changed, 1, "schedule `{schedule}` is stored");
}

/// A schedule's stored next firing and last execution, read while the engine is closed.
fn stored_state(database: &Path, schedule: &str) -> (Option<u64>, Option<String>) {
    let connection = rusqlite::Connection::open(database).expect("the database opens");
    connection
        .query_row(
            "SELECT next_firing, last_execution FROM schedules WHERE name = ?1",
            [schedule],
            |row| {
                Ok((
                    row.get::<_, Option<i64>>(0)?.map(|at| at as u64),
                    row.get(1)?,
                ))
            },
        )
        .expect("the schedule is stored")
}

/// The last UTC midnight, in milliseconds.
fn last_midnight() -> u64 {
    Timestamp::wall_clock().as_millis() / DAY_MS * DAY_MS
}

#[test]
fn after_downtime_each_catch_up_policy_decides_which_missed_firings_start() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("engine.db");
    let engine = open(&database);
    let handle = engine.handle();
    let next_midnight = last_midnight() + DAY_MS;
    for name in [
        "catch_up_all",
        "catch_up_once",
        "catch_up_none",
        "runs_until_told",
    ] {
        let info = schedule(&handle, name);
        assert!(info.declared_in_code);
        assert_eq!(
            info.next_firing.map(Timestamp::as_millis),
            Some(next_midnight)
        );
    }
    drop(engine);

    // Down since before the midnight two days ago: three daily firings were missed.
    let midnight = last_midnight();
    let missed = [midnight - 2 * DAY_MS, midnight - DAY_MS, midnight];
    for name in [
        "catch_up_all",
        "catch_up_once",
        "catch_up_none",
        "runs_until_told",
    ] {
        store_next_firing(&database, name, missed[0]);
    }
    let engine = open(&database);
    let handle = engine.handle();
    let all: Vec<String> = missed
        .iter()
        .map(|at| firing_name("catch_up_all", *at))
        .collect();
    poll(WAIT, "the catch-up executions", || {
        (executions_of(&handle, "catch_up_all").len() == 3).then_some(())
    });
    assert_eq!(executions_of(&handle, "catch_up_all"), all);
    assert_eq!(
        executions_of(&handle, "catch_up_once"),
        vec![firing_name("catch_up_once", midnight)],
        "once: the latest missed firing stands for all"
    );
    assert_eq!(
        executions_of(&handle, "catch_up_none"),
        Vec::<String>::new()
    );
    let first_long = firing_name("runs_until_told", missed[0]);
    assert_eq!(
        executions_of(&handle, "runs_until_told"),
        vec![first_long.clone()],
        "overlap skip: the later firings found the first execution running"
    );
    let long = schedule(&handle, "runs_until_told");
    assert_eq!(long.last_execution.as_deref(), Some(first_long.as_str()));
    for info in schedules(&handle) {
        if info.declared_in_code {
            assert_eq!(
                info.next_firing.map(Timestamp::as_millis),
                Some(midnight + DAY_MS),
                "{}",
                info.spec.name
            );
        }
    }
    drop(engine);
    // The firings' bookkeeping committed with their starts.
    assert_eq!(
        stored_state(&database, "catch_up_all"),
        (Some(midnight + DAY_MS), all.last().cloned())
    );

    // A crash that lost the schedule's bookkeeping but kept the starts: the same firings
    // come due again, find their executions by name, and start nothing new.
    store_next_firing(&database, "catch_up_all", missed[0]);
    let engine = open(&database);
    let handle = engine.handle();
    poll(WAIT, "the schedule's bookkeeping", || {
        let info = schedule(&handle, "catch_up_all");
        (info.next_firing.map(Timestamp::as_millis) == Some(midnight + DAY_MS)).then_some(())
    });
    assert_eq!(executions_of(&handle, "catch_up_all"), all);
}

#[test]
fn a_firing_due_while_the_engine_runs_starts_on_time() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("engine.db");
    drop(open(&database));
    // `none` drops missed firings only: one that falls due while the engine runs fires.
    let soon = Timestamp::wall_clock().as_millis() + 1_500;
    store_next_firing(&database, "catch_up_none", soon);
    let engine = open(&database);
    let handle = engine.handle();
    assert_eq!(
        executions_of(&handle, "catch_up_none"),
        Vec::<String>::new()
    );
    let expected = vec![firing_name("catch_up_none", soon)];
    poll(WAIT, "the on-time firing", || {
        (executions_of(&handle, "catch_up_none") == expected).then_some(())
    });
    let started = handle
        .execution(&expected[0])
        .expect("the execution is stored");
    assert!(started.created_at.as_millis() >= soon, "fired early");
    assert_eq!(
        schedule(&handle, "catch_up_none")
            .next_firing
            .map(Timestamp::as_millis),
        Some(last_midnight() + DAY_MS)
    );
}

#[test]
fn schedules_created_at_runtime_survive_a_restart_with_their_state() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("engine.db");
    let engine = open(&database);
    let handle = engine.handle();
    let spec = ScheduleSpec {
        name: "greeter".to_owned(),
        workflow: "greet".to_owned(),
        expression: "cron(0 12 * * ? *)".to_owned(),
        input: json!("ada"),
        overlap: OverlapPolicy::Allow,
        catch_up: CatchUpPolicy::None,
    };
    let created = block(handle.create_schedule(spec.clone())).unwrap();
    assert!(!created.declared_in_code);
    block(handle.pause_schedule("greeter")).unwrap();
    drop(engine);

    let engine = open(&database);
    let handle = engine.handle();
    let stored = schedule(&handle, "greeter");
    assert_eq!(stored.spec, spec);
    assert!(stored.paused);
    let resumed = block(handle.resume_schedule("greeter")).unwrap();
    assert!(!resumed.paused);
    assert!(resumed.next_firing.is_some());
    block(handle.delete_schedule("greeter")).unwrap();
    drop(engine);

    let engine = open(&database);
    assert!(schedules(&engine.handle())
        .iter()
        .all(|info| info.spec.name != "greeter"));
}

#[test]
fn the_http_api_creates_lists_pauses_resumes_and_deletes_schedules() {
    let service = InProcess::start();
    let api = &service.api;
    let created = api.post(
        "/schedules",
        &json!({
            "name": "greeter",
            "workflow": "greet",
            "expression": "rate(5 minutes)",
            "input": "ada",
            "overlap": "allow",
        }),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["name"], "greeter");
    assert_eq!(created.body["overlap"], "allow");
    assert_eq!(created.body["catch_up"], "once");
    assert_eq!(created.body["paused"], false);
    let next = created.body["next_firing"].as_u64().expect("a next firing");
    assert_eq!(
        next % 300_000,
        0,
        "rate(5 minutes) fires on 5-minute boundaries"
    );

    let listed = api.get("/schedules");
    assert_eq!(listed.status, 200);
    let names: Vec<&str> = listed.body["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|info| info["name"].as_str())
        .collect();
    assert!(
        names.contains(&"greeter") && names.contains(&"catch_up_all"),
        "{names:?}"
    );

    let paused = api.post("/schedules/greeter/pause", &json!({}));
    assert_eq!((paused.status, &paused.body["paused"]), (200, &json!(true)));
    let resumed = api.post("/schedules/greeter/resume", &json!({}));
    assert_eq!(
        (resumed.status, &resumed.body["paused"]),
        (200, &json!(false))
    );

    let deleted = api.request("DELETE", "/schedules/greeter", &[], None);
    assert_eq!(deleted.status, 204, "{:?}", deleted.body);
    let again = api.request("DELETE", "/schedules/greeter", &[], None);
    assert_eq!(again.status, 404, "{:?}", again.body);
    assert_eq!(
        again.body["error"]["message"],
        "schedule `greeter` does not exist"
    );
    let declared = api.request("DELETE", "/schedules/catch_up_all", &[], None);
    assert_eq!(declared.status, 409, "{:?}", declared.body);
}

#[test]
fn the_http_api_refuses_bad_schedules_naming_what_is_wrong() {
    let service = InProcess::start();
    let api = &service.api;
    let refused = |body: serde_json::Value, status: u16, message: &str| {
        let reply = api.post("/schedules", &body);
        assert_eq!(reply.status, status, "{body}: {:?}", reply.body);
        let text = reply.body["error"]["message"].as_str().unwrap_or_default();
        assert!(text.contains(message), "{body}: {text}");
    };
    let schedule = |expression: &str| json!({"name": "s", "workflow": "greet", "expression": expression, "input": "x"});
    refused(
        schedule("rate(5 minute)"),
        400,
        "schedule expression `rate(5 minute)` is not valid: write `rate(5 minutes)`",
    );
    refused(
        schedule("cron(0 12 * * *)"),
        400,
        "schedule expression `cron(0 12 * * *)` is not valid: a cron has six fields",
    );
    refused(
        json!({"name": "s", "workflow": "nope", "expression": "rate(1 day)"}),
        400,
        "schedule `s`: no workflow is registered as `nope`",
    );
    refused(
        json!({"name": "s", "workflow": "greet", "expression": "rate(1 day)", "catchup": "all"}),
        400,
        "unknown field `catchup`",
    );
    refused(
        json!({"name": "s", "workflow": "greet", "expression": "rate(1 day)", "overlap": "queue"}),
        400,
        "unknown variant `queue`",
    );
    refused(
        json!({"name": "a b", "workflow": "greet", "expression": "rate(1 day)"}),
        400,
        "schedule name `a b` must be 1 to 64 characters",
    );
    refused(
        json!({"name": "catch_up_all", "workflow": "greet", "expression": "rate(1 day)"}),
        409,
        "a schedule named `catch_up_all` already exists",
    );
    let missing = api.post("/schedules/missing/pause", &json!({}));
    assert_eq!(missing.status, 404, "{:?}", missing.body);
}

/// Runs `schedule ...` as a service binary's command line would, against `service`; returns
/// whether it succeeded.
fn cli(service: &InProcess, args: &[&str]) -> bool {
    use clap::Parser;
    let url = format!("http://{}", service.address);
    let line = ["service", "--url", url.as_str(), "schedule"]
        .into_iter()
        .chain(args.iter().copied());
    let parsed = eventual_runtime::cli::Cli::try_parse_from(line)
        .unwrap_or_else(|error| panic!("{args:?} does not parse: {error}"));
    let code = eventual_runtime::cli::run_with(parsed, &eventual_runtime::cli::http);
    code == std::process::ExitCode::SUCCESS
}

#[test]
fn the_cli_creates_lists_pauses_resumes_and_deletes_schedules() {
    let service = InProcess::start();
    let handle = service.handle();
    assert!(cli(
        &service,
        &[
            "create",
            "nightly-greeting",
            "greet",
            "cron(0 3 ? * MON-FRI *)",
            "--input",
            "\"ada\"",
            "--catch-up",
            "none",
        ]
    ));
    let created = schedule(&handle, "nightly-greeting");
    assert_eq!(created.spec.input, json!("ada"));
    assert_eq!(created.spec.catch_up, CatchUpPolicy::None);
    assert_eq!(created.spec.overlap, OverlapPolicy::Skip);
    assert!(cli(&service, &["list"]));
    assert!(cli(&service, &["list", "--json"]));
    assert!(cli(&service, &["pause", "nightly-greeting"]));
    assert!(schedule(&handle, "nightly-greeting").paused);
    assert!(cli(&service, &["resume", "nightly-greeting"]));
    assert!(!schedule(&handle, "nightly-greeting").paused);
    assert!(cli(&service, &["delete", "nightly-greeting"]));
    assert!(schedules(&handle)
        .iter()
        .all(|info| info.spec.name != "nightly-greeting"));

    // Refusals fail the command (the API's message goes to stderr).
    assert!(!cli(&service, &["create", "s", "greet", "rate(0 minutes)"]));
    assert!(!cli(&service, &["delete", "nightly-greeting"]));
    assert!(!cli(&service, &["delete", "catch_up_all"]));
}
