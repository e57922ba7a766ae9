//! Task attempts on the local engine in real time: timeouts, heartbeats, completion by token.

use eventual_runtime::engine::client::StartExecution;
use eventual_runtime::engine::local::EngineHandle;
use eventual_runtime::prelude::*;
use eventual_runtime::workflow::{HistoryEventKind, Outcome};
use eventual_runtime::StepErrorKind;
use eventual_tests::local::InProcess;
use serde_json::{json, Value};

/// Works for `work_ms`, heartbeating every `beat_ms` (never, when 0).
#[task(heartbeat = "150ms", timeout = "2s")]
async fn lt_worker(work_ms: u64, beat_ms: u64) -> Result<u64, StepError> {
    let started = std::time::Instant::now();
    while (started.elapsed().as_millis() as u64) < work_ms {
        let pause = if beat_ms == 0 { work_ms } else { beat_ms };
        tokio::time::sleep(Duration::from_millis(pause)).await;
        if beat_ms > 0 {
            eventual_runtime::task::heartbeat();
        }
    }
    Ok(work_ms)
}

/// Runs one `lt_worker` attempt and reports how it ended.
#[workflow]
async fn lt_work(_ctx: WorkflowContext, plan: (u64, u64)) -> Result<u64, WorkflowError> {
    Ok(lt_worker(plan.0, plan.1).await?)
}

/// Sleeps longer than its timeout.
#[task(timeout = "100ms")]
async fn lt_slow() -> Result<(), StepError> {
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok(())
}

/// Calls `lt_slow` once.
#[workflow]
async fn lt_impatient(_ctx: WorkflowContext, _n: u32) -> Result<(), WorkflowError> {
    Ok(lt_slow().await?)
}

async fn run(
    handle: &EngineHandle,
    workflow: &str,
    input: Value,
) -> (Outcome, Vec<HistoryEventKind>) {
    let started = handle
        .start(StartExecution {
            workflow: workflow.to_owned(),
            execution_name: None,
            input,
            correlation_id: None,
        })
        .await
        .expect("started");
    let outcome = handle.wait(&started.execution_id).await.expect("ended");
    let history = handle.history(&started.execution_id).expect("history");
    (outcome, history.into_iter().map(|e| e.kind).collect())
}

fn task_failure(history: &[HistoryEventKind]) -> Option<StepErrorKind> {
    history.iter().find_map(|kind| match kind {
        HistoryEventKind::TaskFailed { error, .. } => Some(error.kind),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_keep_a_long_attempt_alive() {
    let engine = InProcess::start();
    // 600 ms of work, well past the 150 ms heartbeat limit, with a heartbeat every 40 ms.
    let (outcome, _) = run(&engine.handle(), "lt_work", json!([600, 40])).await;
    assert_eq!(outcome, Outcome::Succeeded { result: json!(600) });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_heartbeat_fails_the_attempt() {
    let engine = InProcess::start();
    let started = std::time::Instant::now();
    let (outcome, history) = run(&engine.handle(), "lt_work", json!([1_000, 0])).await;
    assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
    assert_eq!(task_failure(&history), Some(StepErrorKind::HeartbeatMissed));
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "the watchdog waited for the body"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_past_its_timeout_fails() {
    let engine = InProcess::start();
    let started = std::time::Instant::now();
    let (outcome, history) = run(&engine.handle(), "lt_impatient", json!(0)).await;
    assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
    assert_eq!(task_failure(&history), Some(StepErrorKind::TimedOut));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the timeout did not cut the body short"
    );
}
