//! Workflow timeouts, cancellation and saga compensations.

use eventual_runtime::engine::ExecutionStatus;
use eventual_runtime::prelude::*;
use eventual_runtime::testing::TestEnvironment;
use eventual_runtime::workflow::{HistoryEventKind, Outcome};
use eventual_tests::*;
use serde_json::json;

#[workflow(timeout = "1h")]
async fn slowpoke(ctx: WorkflowContext, sleep_s: u64) -> Result<u64, WorkflowError> {
    ctx.sleep(Duration::from_secs(sleep_s)).await;
    Ok(sleep_s)
}

#[tokio::test]
async fn workflow_timeout_ends_the_execution() {
    let env = TestEnvironment::new();
    let run = env.start::<slowpoke>(7200).unwrap();
    match &env.history(run.id())[0].kind {
        HistoryEventKind::WorkflowStarted { deadline, .. } => {
            assert_eq!(*deadline, Some(at(secs(3600))))
        }
        other => panic!("unexpected {other:?}"),
    }
    env.advance(millis(3_599_999)).await;
    assert_eq!(env.status(run.id()), Some(ExecutionStatus::Running));
    env.advance(millis(1)).await;
    assert_eq!(env.status(run.id()), Some(ExecutionStatus::TimedOut));
    assert_eq!(env.outcome(run.id()), Some(Outcome::TimedOut));
    let error = env.result::<slowpoke>(&run).unwrap().unwrap_err();
    assert_eq!(error.name, "StepError");
    assert!(error.message.starts_with("timed out"), "{error}");
    let expected = [
        ("WorkflowStarted".to_owned(), 0),
        ("TimerScheduled@0".to_owned(), 0),
        ("WorkflowTimedOut".to_owned(), 3_600_000),
    ];
    assert_eq!(timeline(&env.history(run.id())), expected);
    // The timer firing later records nothing more.
    env.advance(secs(7200)).await;
    assert_eq!(timeline(&env.history(run.id())), expected);
}

#[tokio::test]
async fn workflow_that_ends_before_its_timeout_is_unaffected() {
    let env = TestEnvironment::new();
    let run = env.start::<slowpoke>(60).unwrap();
    env.advance(secs(7200)).await;
    assert_eq!(env.result::<slowpoke>(&run).unwrap().unwrap(), 60);
    assert_eq!(env.status(run.id()), Some(ExecutionStatus::Succeeded));
    assert_eq!(
        shape(&env.history(run.id())),
        [
            "WorkflowStarted",
            "TimerScheduled@0",
            "TimerFired@0",
            "WorkflowSucceeded"
        ]
    );
}

// ---- sagas ---------------------------------------------------------------------------------------

#[task]
async fn reserve(item: String) -> Result<String, StepError> {
    Ok(format!("res-{item}"))
}

#[task]
async fn release(reservation: String) -> Result<(), StepError> {
    let _ = reservation;
    Ok(())
}

#[task]
async fn charge(amount: u64) -> Result<String, StepError> {
    Ok(format!("rcpt-{amount}"))
}

#[task]
async fn refund(receipt: String) -> Result<(), StepError> {
    let _ = receipt;
    Ok(())
}

#[task]
async fn ship(item: String) -> Result<String, StepError> {
    Ok(format!("parcel-{item}"))
}

#[workflow]
async fn buy(ctx: WorkflowContext, item: String) -> Result<String, WorkflowError> {
    let saga = ctx.saga();
    saga.run(reserve(item.clone()), release).await?;
    saga.run(charge(100), refund).await?;
    if item == "wait" {
        let _: () = ctx.wait_for_signal("go").await?;
    }
    match ship(item).await {
        Ok(parcel) => Ok(parcel),
        Err(error) => {
            let errors = saga.compensate().await;
            assert!(errors.is_empty(), "{errors:?}");
            Err(error.into())
        }
    }
}

fn inputs_of(
    history: &[eventual_runtime::workflow::HistoryEvent],
) -> Vec<(String, serde_json::Value)> {
    history
        .iter()
        .filter_map(|e| match &e.kind {
            HistoryEventKind::TaskScheduled { name, input, .. } => {
                Some((name.clone(), input.clone()))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn saga_succeeds_without_compensating() {
    let env = TestEnvironment::new();
    let run = env.start::<buy>("book".into()).unwrap();
    env.run_until_idle().await;
    assert_eq!(env.result::<buy>(&run).unwrap().unwrap(), "parcel-book");
    assert_eq!(
        scheduled_tasks(&env.history(run.id())),
        ["reserve", "charge", "ship"]
    );
}

#[tokio::test]
async fn failing_step_compensates_in_reverse_order() {
    let env = TestEnvironment::new();
    env.mock_task("ship")
        .fail(StepError::new(StepErrorKind::Failed, "no courier"));
    let run = env.start::<buy>("book".into()).unwrap();
    env.run_until_idle().await;
    let error = env.result::<buy>(&run).unwrap().unwrap_err();
    assert_eq!(error.message, "failed: no courier");
    let history = env.history(run.id());
    assert_eq!(
        inputs_of(&history),
        [
            ("reserve".to_owned(), json!("book")),
            ("charge".to_owned(), json!(100)),
            ("ship".to_owned(), json!("book")),
            ("refund".to_owned(), json!("rcpt-100")),
            ("release".to_owned(), json!("res-book")),
        ]
    );
    // Each compensation ran after the previous one ended.
    let order: Vec<String> = shape(&history);
    assert_eq!(
        order[6..],
        [
            "TaskFailed@2",
            "TaskScheduled@3",
            "TaskSucceeded@3",
            "TaskScheduled@4",
            "TaskSucceeded@4",
            "WorkflowFailed"
        ]
    );
}

#[tokio::test]
async fn cancel_runs_registered_compensations_in_reverse_order() {
    let env = TestEnvironment::new();
    let run = env.start::<buy>("wait".into()).unwrap();
    env.advance(secs(30)).await;
    assert_eq!(env.status(run.id()), Some(ExecutionStatus::Running));
    env.cancel(run.id(), Some("customer changed their mind"));
    env.cancel(run.id(), Some("twice"));
    env.run_until_idle().await;
    assert_eq!(env.status(run.id()), Some(ExecutionStatus::Cancelled));
    assert_eq!(
        env.outcome(run.id()),
        Some(Outcome::Cancelled {
            reason: Some("customer changed their mind".into())
        })
    );
    let error = env.result::<buy>(&run).unwrap().unwrap_err();
    assert!(
        error.message.contains("customer changed their mind"),
        "{error}"
    );
    let history = env.history(run.id());
    assert_eq!(
        inputs_of(&history),
        [
            ("reserve".to_owned(), json!("wait")),
            ("charge".to_owned(), json!(100)),
            ("refund".to_owned(), json!("rcpt-100")),
            ("release".to_owned(), json!("res-wait")),
        ]
    );
    assert_eq!(
        timeline(&history)[5..],
        [
            ("CancelRequested".to_owned(), 30_000),
            ("TaskScheduled@2".to_owned(), 30_000),
            ("TaskSucceeded@2".to_owned(), 30_000),
            ("TaskScheduled@3".to_owned(), 30_000),
            ("TaskSucceeded@3".to_owned(), 30_000),
            ("WorkflowCancelled".to_owned(), 30_000),
        ]
    );
    // The body stopped: a signal now does not ship anything.
    env.signal(run.id(), "go", ());
    env.run_until_idle().await;
    assert_eq!(env.task_runs("ship"), 0);
}

#[workflow]
async fn plain_waiter(ctx: WorkflowContext, _x: ()) -> Result<(), WorkflowError> {
    ctx.sleep(Duration::from_secs(3600)).await;
    Ok(())
}

#[tokio::test]
async fn cancel_without_compensations() {
    let env = TestEnvironment::new();
    let run = env.start::<plain_waiter>(()).unwrap();
    env.advance(secs(1)).await;
    env.cancel(run.id(), None);
    env.run_until_idle().await;
    assert_eq!(
        env.outcome(run.id()),
        Some(Outcome::Cancelled { reason: None })
    );
    assert_eq!(
        shape(&env.history(run.id())),
        [
            "WorkflowStarted",
            "TimerScheduled@0",
            "CancelRequested",
            "WorkflowCancelled"
        ]
    );
    env.advance(secs(3600)).await;
    assert_eq!(env.history(run.id()).len(), 4);
}
