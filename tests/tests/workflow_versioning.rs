//! Versioning: `ctx.patched` lets new code replay histories recorded by old code (the old
//! branch) and record new ones (the new branch); the same change without it is a
//! non-determinism error that names the step and suggests `patched`. Deprecating, then
//! deleting the call keeps histories with the marker replayable.

use eventual_runtime::prelude::*;
use eventual_runtime::testing::{ReplayMode, TestEnvironment};
use eventual_runtime::workflow::{
    HistoryEvent, HistoryEventKind, InboxEvent, Outcome, ReplayError, WorkflowExecutor,
};
use eventual_tests::{changed_code, shape};
use serde_json::{json, Value};

#[task]
async fn v_reserve(n: u64) -> Result<u64, StepError> {
    Ok(n + 1)
}

#[task]
async fn v_fraud_check(n: u64) -> Result<u64, StepError> {
    Ok(n * 10)
}

#[task]
async fn v_charge(n: u64) -> Result<u64, StepError> {
    Ok(n + 100)
}

/// Version 1: reserve, charge, then wait for "ship" (in flight when version 2 is deployed).
#[workflow]
async fn pay_v1(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let reserved = v_reserve(n).await?;
    let charged = v_charge(reserved).await?;
    ctx.expect_signal::<()>("ship", Duration::from_secs(3600))
        .await?;
    Ok(charged)
}

/// Version 2: a fraud check before the charge, for new executions only.
#[workflow]
async fn pay_v2(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let reserved = v_reserve(n).await?;
    let checked = if ctx.patched("fraud-check") {
        v_fraud_check(reserved).await?
    } else {
        reserved
    };
    let charged = v_charge(checked).await?;
    ctx.expect_signal::<()>("ship", Duration::from_secs(3600))
        .await?;
    Ok(charged)
}

/// Version 2 as it should not be written: the new step for every execution.
#[workflow]
async fn pay_v2_unpatched(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let reserved = v_reserve(n).await?;
    let checked = v_fraud_check(reserved).await?;
    let charged = v_charge(checked).await?;
    ctx.expect_signal::<()>("ship", Duration::from_secs(3600))
        .await?;
    Ok(charged)
}

/// Version 3: no execution of version 1 is left; the old branch is gone.
#[workflow]
async fn pay_v3(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let reserved = v_reserve(n).await?;
    ctx.deprecate_patch("fraud-check");
    let checked = v_fraud_check(reserved).await?;
    let charged = v_charge(checked).await?;
    ctx.expect_signal::<()>("ship", Duration::from_secs(3600))
        .await?;
    Ok(charged)
}

/// Version 4: the call is gone too.
#[workflow]
async fn pay_v4(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let reserved = v_reserve(n).await?;
    let checked = v_fraud_check(reserved).await?;
    let charged = v_charge(checked).await?;
    ctx.expect_signal::<()>("ship", Duration::from_secs(3600))
        .await?;
    Ok(charged)
}

/// The history of `W` on input 1, waiting for "ship" after its charge, replayed from scratch
/// at every step (so the marker logic runs on replay, not only live).
async fn waiting_history<W: eventual_runtime::workflow::Workflow<Input = u64>>() -> Vec<HistoryEvent>
{
    let env = TestEnvironment::with_replay_mode(ReplayMode::FullReplay);
    let run = env.start::<W>(1).unwrap();
    env.run_until_idle().await;
    env.history(run.id())
}

/// Replays `history` (recorded by `name`) on `code`, sends "ship" and returns the outcome and
/// the events the rest of the run added.
fn finish_on(name: &'static str, code: &str, history: &[HistoryEvent]) -> (Outcome, Vec<String>) {
    let descriptor = changed_code(name, code);
    let mut executor = WorkflowExecutor::replay(&descriptor, history)
        .unwrap_or_else(|error| panic!("{code} replays {name}'s history: {error}"));
    let ship = InboxEvent::Signal {
        name: "ship".into(),
        payload: Value::Null,
        id: Some("ship-1".into()),
    };
    let now = history.last().unwrap().at;
    let output = executor.step(now, vec![ship]).unwrap();
    let outcome = executor.outcome().cloned().expect("the run ends");
    (outcome, shape(&output.new_events))
}

fn succeeded_with(outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Succeeded { result } => result.clone(),
        other => panic!("expected success, got {other:?}"),
    }
}

#[tokio::test]
async fn a_v1_history_replays_on_v2_through_the_old_branch_and_completes() {
    let history = waiting_history::<pay_v1>().await;
    assert_eq!(
        shape(&history)[1..],
        [
            "TaskScheduled@0",
            "TaskSucceeded@0",
            "TaskScheduled@1",
            "TaskSucceeded@1",
            "TimerScheduled@2",
        ]
    );
    let (outcome, added) = finish_on("pay_v1", "pay_v2", &history);
    // (1 + 1) + 100: no fraud check, as when the execution started.
    assert_eq!(succeeded_with(&outcome), json!(102));
    assert_eq!(added, ["SignalReceived", "WorkflowSucceeded"]);
}

#[tokio::test]
async fn the_same_change_without_patched_is_non_determinism_naming_the_step() {
    let history = waiting_history::<pay_v1>().await;
    let error = WorkflowExecutor::replay(&changed_code("pay_v1", "pay_v2_unpatched"), &history)
        .err()
        .expect("the replay fails");
    assert_eq!(
        error,
        ReplayError::NonDeterminism {
            workflow: "pay_v1".into(),
            seq: 1,
            recorded: "task `v_charge`".into(),
            attempted: "task `v_fraud_check`".into(),
        }
    );
    let message = error.to_string();
    assert!(
        message.contains("ctx.patched(\"<change-id>\")"),
        "{message}"
    );
}

#[tokio::test]
async fn a_new_run_records_the_marker_and_takes_the_new_branch() {
    let history = waiting_history::<pay_v2>().await;
    assert_eq!(
        shape(&history)[1..],
        [
            "TaskScheduled@0",
            "TaskSucceeded@0",
            "PatchMarked@1",
            "TaskScheduled@2",
            "TaskSucceeded@2",
            "TaskScheduled@3",
            "TaskSucceeded@3",
            "TimerScheduled@4",
        ]
    );
    assert!(history.iter().any(|event| event.kind
        == HistoryEventKind::PatchMarked {
            seq: 1,
            patch: "fraud-check".into()
        }));
    let (outcome, _) = finish_on("pay_v2", "pay_v2", &history);
    // (1 + 1) * 10 + 100.
    assert_eq!(succeeded_with(&outcome), json!(120));
}

#[tokio::test]
async fn marked_histories_replay_once_the_patch_is_deprecated_and_then_deleted() {
    let history = waiting_history::<pay_v2>().await;
    for code in ["pay_v3", "pay_v4"] {
        let (outcome, _) = finish_on("pay_v2", code, &history);
        assert_eq!(succeeded_with(&outcome), json!(120), "{code}");
    }
    // Deprecated, the call still records the marker, so version 2 replays version 3's runs.
    let history = waiting_history::<pay_v3>().await;
    assert!(shape(&history).contains(&"PatchMarked@1".to_owned()));
    let (outcome, _) = finish_on("pay_v3", "pay_v2", &history);
    assert_eq!(succeeded_with(&outcome), json!(120));
}
