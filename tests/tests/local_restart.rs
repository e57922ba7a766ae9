//! The local engine across restarts, in-process: open an engine on a file, act, drop it, open
//! another on the same file. Timers, signals, starts and blocked executions survive.

use eventual_runtime::engine::client::StartExecution;
use eventual_runtime::engine::local::{EngineConfig, EngineHandle, LocalEngine};
use eventual_runtime::engine::ExecutionStatus;
use eventual_runtime::prelude::*;
use eventual_runtime::workflow::{HistoryEvent, HistoryEventKind, Outcome};
use eventual_tests::local::poll;
use eventual_tests::shape;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

const WAIT: Duration = Duration::from_secs(20);

#[workflow]
async fn rs_sleeper(ctx: WorkflowContext, ms: u64) -> Result<u64, WorkflowError> {
    ctx.sleep(Duration::from_millis(ms)).await;
    Ok(ms)
}

#[workflow]
async fn rs_sleep_then_signal(ctx: WorkflowContext, ms: u64) -> Result<String, WorkflowError> {
    ctx.sleep(Duration::from_millis(ms)).await;
    let payload: String = ctx.wait_for_signal("go").await?;
    Ok(payload)
}

#[workflow]
async fn rs_expect(ctx: WorkflowContext, _n: u64) -> Result<String, WorkflowError> {
    let answer: String = ctx
        .expect_signal("approve", Duration::from_secs(60))
        .await?;
    Ok(format!("approved: {answer}"))
}

#[task]
async fn rs_task_a(n: u64) -> Result<u64, StepError> {
    Ok(n + 1)
}

#[task]
async fn rs_task_b(n: u64) -> Result<u64, StepError> {
    Ok(n + 2)
}

/// Which task `rs_shifty` calls first: flipping it between runs of the engine makes the code
/// disagree with recorded histories (a non-deterministic change of code).
static SHIFTED: AtomicBool = AtomicBool::new(false);

fn shifted() -> bool {
    SHIFTED.load(Ordering::SeqCst)
}

#[workflow]
async fn rs_shifty(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let first = if shifted() {
        rs_task_b(n).await?
    } else {
        rs_task_a(n).await?
    };
    let extra: u64 = ctx.wait_for_signal("go").await?;
    Ok(first + extra)
}

fn open(path: &Path) -> LocalEngine {
    LocalEngine::open(EngineConfig::new(path)).expect("the engine opens")
}

fn block<F: std::future::Future>(future: F) -> F::Output {
    futures::executor::block_on(future)
}

fn start(handle: &EngineHandle, workflow: &str, input: Value, name: &str) -> (String, bool) {
    let started = block(handle.start(StartExecution {
        workflow: workflow.to_owned(),
        execution_name: Some(name.to_owned()),
        input,
        correlation_id: None,
    }))
    .expect("the start is accepted");
    (started.execution_id, started.created)
}

/// Polls the database until the execution has ended; returns its outcome.
fn ended(handle: &EngineHandle, id: &str) -> Outcome {
    poll(WAIT, &format!("{id} to end"), || {
        let row = handle.execution(id).expect("the execution exists");
        row.status
            .is_terminal()
            .then(|| row.outcome.expect("an outcome"))
    })
}

fn succeeded_with(handle: &EngineHandle, id: &str) -> Value {
    match ended(handle, id) {
        Outcome::Succeeded { result } => result,
        other => panic!("{id} ended with {other:?}"),
    }
}

fn timer_until(history: &[HistoryEvent]) -> Timestamp {
    history
        .iter()
        .find_map(|e| match &e.kind {
            HistoryEventKind::TimerScheduled { until, .. } => Some(*until),
            _ => None,
        })
        .expect("a timer was scheduled")
}

#[test]
fn a_timer_started_before_a_restart_fires_after_it_never_early() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("engine.db");
    let engine = open(&db);
    let (id, created) = start(&engine.handle(), "rs_sleeper", json!(1500), "timer-1");
    assert!(created);
    // A second timer that will be overdue when the engine is back.
    let (overdue, _) = start(&engine.handle(), "rs_sleeper", json!(200), "timer-2");
    let history = engine.handle().history(&id).unwrap();
    let until = timer_until(&history);
    let overdue_until = timer_until(&engine.handle().history(&overdue).unwrap());
    drop(engine);
    // Stay down until the short timer is due.
    poll(WAIT, "the short timer to be due", || {
        (Timestamp::wall_clock() >= overdue_until).then_some(())
    });

    let engine = open(&db);
    let reopened = Timestamp::wall_clock();
    assert!(
        reopened < until,
        "the long timer must still be pending at the restart"
    );
    assert_eq!(
        shape(&engine.handle().history(&id).unwrap()),
        ["WorkflowStarted", "TimerScheduled@0"]
    );
    for (id, until, ms) in [(&id, until, 1500), (&overdue, overdue_until, 200)] {
        assert_eq!(succeeded_with(&engine.handle(), id), json!(ms));
        let history = engine.handle().history(id).unwrap();
        assert_eq!(
            shape(&history),
            [
                "WorkflowStarted",
                "TimerScheduled@0",
                "TimerFired@0",
                "WorkflowSucceeded"
            ]
        );
        let fired = history[2].at;
        assert!(fired >= until, "{id}: fired at {fired:?}, before {until:?}");
        assert!(history[3].at >= until);
    }
}

#[test]
fn a_signal_sent_before_a_restart_is_delivered_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("engine.db");
    let engine = open(&db);
    let handle = engine.handle();
    let (id, _) = start(&handle, "rs_sleep_then_signal", json!(800), "sig-early");
    block(handle.signal(&id, "go", json!("early bird"), Some("s-1".into()))).unwrap();
    let before = handle.history(&id).unwrap();
    assert_eq!(
        shape(&before),
        ["WorkflowStarted", "TimerScheduled@0", "SignalReceived"]
    );
    drop(engine);

    let engine = open(&db);
    let handle = engine.handle();
    assert_eq!(succeeded_with(&handle, &id), json!("early bird"));
    let after = handle.history(&id).unwrap();
    assert_eq!(
        &after[..3],
        &before[..],
        "the recorded history is kept as it was"
    );
    assert_eq!(
        shape(&after),
        [
            "WorkflowStarted",
            "TimerScheduled@0",
            "SignalReceived",
            "TimerFired@0",
            "WorkflowSucceeded"
        ]
    );
}

#[test]
fn a_workflow_waiting_on_expect_signal_across_a_restart_receives_a_later_signal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("engine.db");
    let engine = open(&db);
    let (id, _) = start(&engine.handle(), "rs_expect", json!(0), "expect-1");
    poll(WAIT, "the wait to be recorded", || {
        (engine.handle().history(&id).unwrap().len() >= 2).then_some(())
    });
    drop(engine);

    let engine = open(&db);
    let handle = engine.handle();
    assert_eq!(
        handle.execution(&id).unwrap().status,
        ExecutionStatus::Running
    );
    block(handle.signal(&id, "approve", json!("yes"), None)).unwrap();
    assert_eq!(succeeded_with(&handle, &id), json!("approved: yes"));
    let history = handle.history(&id).unwrap();
    let types: Vec<&str> = history.iter().map(|e| e.kind.type_name()).collect();
    assert_eq!(types.first(), Some(&"WorkflowStarted"));
    assert!(types.contains(&"SignalReceived"), "{types:?}");
    assert_eq!(types.last(), Some(&"WorkflowSucceeded"));
    assert!(
        !types.contains(&"TimerFired"),
        "the 60 s timeout did not fire: {types:?}"
    );
}

/// More waiting executions than executors kept in memory: recovery replays every history but
/// keeps only the first two executors; the others step by replaying from disk.
#[test]
fn executions_recovered_beyond_the_resident_cap_still_receive_their_signals() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("engine.db");
    let capped = || {
        LocalEngine::open(EngineConfig::new(&db).with_max_resident_executions(2))
            .expect("the engine opens")
    };
    let engine = capped();
    let ids: Vec<String> = (0..6)
        .map(|i| {
            start(
                &engine.handle(),
                "rs_expect",
                json!(i),
                &format!("capped-{i}"),
            )
            .0
        })
        .collect();
    for id in &ids {
        poll(WAIT, "the wait to be recorded", || {
            (engine.handle().history(id).unwrap().len() >= 2).then_some(())
        });
    }
    drop(engine);

    let engine = capped();
    let handle = engine.handle();
    for id in &ids {
        block(handle.signal(id, "approve", json!(id), None)).unwrap();
    }
    for id in &ids {
        assert_eq!(
            succeeded_with(&handle, id),
            json!(format!("approved: {id}"))
        );
    }
}

#[test]
fn a_duplicate_start_after_a_restart_returns_the_same_execution() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("engine.db");
    let engine = open(&db);
    let handle = engine.handle();
    let (running, created) = start(&handle, "rs_expect", json!(0), "dup-running");
    assert!(created);
    let (finished, _) = start(&handle, "rs_sleeper", json!(0), "dup-ended");
    assert_eq!(succeeded_with(&handle, &finished), json!(0));
    let running_history = handle.history(&running).unwrap();
    let finished_history = handle.history(&finished).unwrap();
    drop(engine);

    let engine = open(&db);
    let handle = engine.handle();
    assert_eq!(
        start(&handle, "rs_expect", json!(0), "dup-running"),
        (running.clone(), false)
    );
    assert_eq!(
        start(&handle, "rs_sleeper", json!(0), "dup-ended"),
        (finished.clone(), false),
        "an execution that ended before the restart is the same execution"
    );
    // The engine is still up and nothing was written to either execution.
    let (fresh, created) = start(&handle, "rs_sleeper", json!(0), "dup-fresh");
    assert!(created);
    assert_eq!(succeeded_with(&handle, &fresh), json!(0));
    assert_eq!(handle.history(&running).unwrap(), running_history);
    assert_eq!(handle.history(&finished).unwrap(), finished_history);
    assert_eq!(
        handle.execution(&finished).unwrap().status,
        ExecutionStatus::Succeeded
    );
    // Waiting for an execution that ended before the restart answers with its outcome.
    assert_eq!(
        block(handle.wait(&finished)).unwrap(),
        Outcome::Succeeded { result: json!(0) }
    );
    // A signal to it is refused as ended, not as unknown.
    let refused = block(handle.signal(&finished, "go", json!(1), None)).unwrap_err();
    assert!(refused.to_string().contains("ended"), "{refused}");
    block(handle.signal(&running, "approve", json!("ok"), None)).unwrap();
    assert_eq!(succeeded_with(&handle, &running), json!("approved: ok"));
}

#[test]
fn a_blocked_execution_keeps_its_history_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("engine.db");
    SHIFTED.store(false, Ordering::SeqCst);
    let engine = open(&db);
    let (id, _) = start(&engine.handle(), "rs_shifty", json!(10), "shifty-1");
    poll(WAIT, "the first task to succeed", || {
        let history = engine.handle().history(&id).unwrap();
        (shape(&history) == ["WorkflowStarted", "TaskScheduled@0", "TaskSucceeded@0"]).then_some(())
    });
    let recorded = engine.handle().history(&id).unwrap();
    drop(engine);

    // The code changes: step 0 is now another task.
    SHIFTED.store(true, Ordering::SeqCst);
    let engine = open(&db);
    let handle = engine.handle();
    let row = poll(WAIT, "the execution to be blocked", || {
        let row = handle.execution(&id).unwrap();
        (row.status == ExecutionStatus::Blocked).then_some(row)
    });
    let error = row.error.expect("the reason is kept");
    assert!(
        error.contains("rs_task_a") && error.contains("rs_task_b"),
        "the error names both steps: {error}"
    );
    // A signal is accepted and kept, but the history does not move.
    block(handle.signal(&id, "go", json!(5), None)).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(handle.history(&id).unwrap(), recorded);
    assert_eq!(
        handle.execution(&id).unwrap().status,
        ExecutionStatus::Blocked
    );
    drop(engine);

    // Still the changed code: still blocked, still untouched.
    let engine = open(&db);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(engine.handle().history(&id).unwrap(), recorded);
    assert_eq!(
        engine.handle().execution(&id).unwrap().status,
        ExecutionStatus::Blocked
    );
    drop(engine);

    // The code is fixed: the execution resumes and takes the kept signal.
    SHIFTED.store(false, Ordering::SeqCst);
    let engine = open(&db);
    let handle = engine.handle();
    assert_eq!(succeeded_with(&handle, &id), json!(16));
    let history = handle.history(&id).unwrap();
    assert_eq!(&history[..recorded.len()], &recorded[..]);
    assert_eq!(
        shape(&history),
        [
            "WorkflowStarted",
            "TaskScheduled@0",
            "TaskSucceeded@0",
            "SignalReceived",
            "WorkflowSucceeded"
        ]
    );
}

/// Accepts `add` updates until the total reaches `target`.
#[workflow]
async fn rs_total(ctx: WorkflowContext, target: u64) -> Result<u64, WorkflowError> {
    let mut total = 0;
    while total < target {
        let add = ctx.next_update::<u64>("add").await;
        total += add.input();
        add.accept(json!(total));
    }
    Ok(total)
}

#[test]
fn an_accepted_update_survives_a_restart_and_is_answered_again_not_applied_again() {
    use eventual_runtime::engine::kernel::update::{SendUpdate, UpdateStatus};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("engine.db");
    let engine = open(&db);
    let (id, _) = start(&engine.handle(), "rs_total", json!(10), "total-1");
    let first = SendUpdate::new("add", json!(4)).with_id("four");
    let reply = block(engine.handle().update(&id, first.clone())).expect("answered");
    assert_eq!(reply.status, UpdateStatus::Accepted { answer: json!(4) });
    drop(engine);

    let engine = open(&db);
    let again = block(engine.handle().update(&id, first)).expect("answered again");
    assert_eq!(again.status, UpdateStatus::Accepted { answer: json!(4) });
    let more = SendUpdate::new("add", json!(6)).with_id("six");
    let reply = block(engine.handle().update(&id, more)).expect("answered");
    assert_eq!(
        reply.status,
        UpdateStatus::Accepted { answer: json!(10) },
        "the total kept the update accepted before the restart, once"
    );
    assert_eq!(succeeded_with(&engine.handle(), &id), json!(10));
    assert_eq!(
        shape(&engine.handle().history(&id).unwrap()),
        [
            "WorkflowStarted",
            "UpdateReceived",
            "UpdateAccepted@0",
            "UpdateReceived",
            "UpdateAccepted@1",
            "WorkflowSucceeded"
        ]
    );
}
