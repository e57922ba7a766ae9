//! Core scenarios on the local engine (real time, SQLite), checked against the histories that
//! `TestEnvironment` records for the same workflows: the sequences of event types agree.

use eventual_runtime::engine::client::StartExecution;
use eventual_runtime::engine::local::{EngineConfig, EngineHandle, LocalEngine};
use eventual_runtime::prelude::*;
use eventual_runtime::testing::TestEnvironment;
use eventual_runtime::workflow::{HistoryEvent, HistoryEventKind, Outcome};
use eventual_tests::local::poll;
use eventual_tests::shape;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);

/// An engine on a fresh temp-dir database.
struct Local {
    engine: Option<LocalEngine>,
    _dir: tempfile::TempDir,
}

impl Local {
    fn open() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let engine = LocalEngine::open(EngineConfig::new(dir.path().join("engine.db"))).unwrap();
        Local {
            engine: Some(engine),
            _dir: dir,
        }
    }

    fn handle(&self) -> EngineHandle {
        self.engine.as_ref().unwrap().handle()
    }

    async fn start(&self, workflow: &str, input: Value) -> String {
        self.handle()
            .start(StartExecution {
                workflow: workflow.to_owned(),
                execution_name: None,
                input,
                correlation_id: None,
            })
            .await
            .unwrap()
            .execution_id
    }

    /// Polls the database until `id` has ended.
    fn ended(&self, id: &str) -> (Outcome, Vec<HistoryEvent>) {
        let handle = self.handle();
        let outcome = poll(WAIT, &format!("{id} to end"), || {
            let row = handle.execution(id).unwrap();
            row.status.is_terminal().then(|| row.outcome.unwrap())
        });
        (outcome, handle.history(id).unwrap())
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        // Stop the engine (its threads and runtime) before the temp dir goes.
        drop(self.engine.take());
    }
}

// ---- task retries with backoff ------------------------------------------------------------------

#[task(retry(
    max_attempts = 4,
    backoff = "exponential",
    initial = "50ms",
    multiplier = 2.0,
    jitter = 0.0
))]
async fn sc_flaky(n: u64) -> Result<u64, StepError> {
    match eventual_runtime::task::attempt() {
        Some(attempt) if attempt < 3 => Err(StepError::new(
            StepErrorKind::Failed,
            format!("attempt {attempt} fails"),
        )),
        _ => Ok(n * 10),
    }
}

#[workflow]
async fn sc_retrying(_ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    Ok(sc_flaky(n).await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn task_retries_with_backoff_in_real_time() {
    let env = TestEnvironment::new();
    let run = env.start::<sc_retrying>(4).unwrap();
    env.advance(Duration::from_secs(10)).await;
    let expected = shape(&env.history(run.id()));
    assert_eq!(
        expected,
        [
            "WorkflowStarted",
            "TaskScheduled@0",
            "TaskAttemptFailed@0",
            "TaskAttemptFailed@0",
            "TaskSucceeded@0",
            "WorkflowSucceeded"
        ]
    );

    let local = Local::open();
    let id = local.start("sc_retrying", json!(4)).await;
    let (outcome, history) = local.ended(&id);
    assert_eq!(outcome, Outcome::Succeeded { result: json!(40) });
    assert_eq!(shape(&history), expected);
    // Each retry waited its backoff: 50 ms, then 100 ms, measured on the recorded clock.
    let mut previous_retry = None;
    for (event, backoff) in history
        .iter()
        .filter(|e| e.kind.type_name() == "TaskAttemptFailed")
        .zip([50u64, 100])
    {
        let HistoryEventKind::TaskAttemptFailed { retry_at, .. } = &event.kind else {
            unreachable!()
        };
        assert_eq!(retry_at.as_millis() - event.at.as_millis(), backoff);
        if let Some(previous) = previous_retry {
            assert!(event.at >= previous, "attempt 2 ran before its retry time");
        }
        previous_retry = Some(*retry_at);
    }
    let succeeded = &history[4];
    assert!(
        succeeded.at >= previous_retry.unwrap(),
        "attempt 3 ran early"
    );
    assert!(
        succeeded.at.as_millis() - history[1].at.as_millis() < 5_000,
        "the retries took far longer than their backoff"
    );
}

// ---- signals ------------------------------------------------------------------------------------

#[workflow]
async fn sc_two_signals(ctx: WorkflowContext, _n: u64) -> Result<String, WorkflowError> {
    let a: String = ctx.wait_for_signal("a").await?;
    let b: String = ctx.wait_for_signal("b").await?;
    let late: Option<String> = ctx
        .expect_signal::<String>("c", Duration::from_millis(100))
        .await
        .ok();
    Ok(format!("{a}{b}{late:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn signals_are_buffered_until_taken_and_a_wait_times_out() {
    let env = TestEnvironment::new();
    let run = env.start::<sc_two_signals>(0).unwrap();
    env.run_until_idle().await;
    env.signal(run.id(), "b", "B");
    env.signal(run.id(), "a", "A");
    env.advance(Duration::from_secs(1)).await;
    let expected = shape(&env.history(run.id()));
    assert_eq!(
        env.outcome(run.id()),
        Some(Outcome::Succeeded {
            result: json!("ABNone")
        })
    );

    let local = Local::open();
    let id = local.start("sc_two_signals", json!(0)).await;
    let handle = local.handle();
    handle.signal(&id, "b", json!("B"), None).await.unwrap();
    handle.signal(&id, "a", json!("A"), None).await.unwrap();
    let (outcome, history) = local.ended(&id);
    assert_eq!(
        outcome,
        Outcome::Succeeded {
            result: json!("ABNone")
        }
    );
    assert_eq!(shape(&history), expected);
}

// ---- child workflows ----------------------------------------------------------------------------

#[task]
async fn sc_square(n: u64) -> Result<u64, StepError> {
    Ok(n * n)
}

#[workflow]
async fn sc_child(_ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    if n == 0 {
        return Err(WorkflowError::new("Zero", "no square of zero here"));
    }
    Ok(sc_square(n).await?)
}

#[workflow]
async fn sc_parent(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let a = ctx.child::<sc_child>(n).await?;
    let b = ctx.child::<sc_child>(n + 1).await?;
    let failed = ctx.child::<sc_child>(0).await.is_err();
    Ok(a + b + u64::from(failed))
}

fn child_ids(history: &[HistoryEvent]) -> Vec<String> {
    history
        .iter()
        .filter_map(|e| match &e.kind {
            HistoryEventKind::ChildWorkflowScheduled { execution_id, .. } => {
                Some(execution_id.clone())
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn child_workflows_report_to_their_parent() {
    let env = TestEnvironment::new();
    let run = env.start::<sc_parent>(3).unwrap();
    env.run_until_idle().await;
    assert_eq!(
        env.outcome(run.id()),
        Some(Outcome::Succeeded {
            result: json!(9 + 16 + 1)
        })
    );
    let expected_parent = shape(&env.history(run.id()));
    let expected_children: Vec<Vec<String>> = child_ids(&env.history(run.id()))
        .iter()
        .map(|id| shape(&env.history(id)))
        .collect();

    let local = Local::open();
    let id = local.start("sc_parent", json!(3)).await;
    let (outcome, history) = local.ended(&id);
    assert_eq!(outcome, Outcome::Succeeded { result: json!(26) });
    assert_eq!(shape(&history), expected_parent);
    let children = child_ids(&history);
    assert_eq!(children.len(), 3);
    for (child, expected) in children.iter().zip(&expected_children) {
        let (_, child_history) = local.ended(child);
        assert_eq!(&shape(&child_history), expected, "child {child}");
        let row = local.handle().execution(child).unwrap();
        assert_eq!(row.parent.unwrap().execution_id, id);
    }
}

// ---- the order service's saga -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn order_saga_compensates_when_shipping_to_mars_fails() {
    order_service::link();
    let order = order_service::sample_order("o-mars", 5_000, "mars");
    let env = TestEnvironment::new();
    let run = env
        .start::<order_service::place_order>(order.clone())
        .unwrap();
    env.advance(Duration::from_secs(120)).await;
    let expected = env.history(run.id());
    assert!(matches!(
        env.outcome(run.id()),
        Some(Outcome::Failed { .. })
    ));

    let local = Local::open();
    let id = local
        .start("place_order", serde_json::to_value(&order).unwrap())
        .await;
    // ship_order retries twice (5 s, then 10 s, ± 10 %) before it fails for good.
    let (outcome, history) = local.ended(&id);
    let Outcome::Failed { error } = outcome else {
        panic!("expected a failure, got {outcome:?}")
    };
    assert!(error.message.contains("cannot ship to mars"), "{error:?}");
    assert_eq!(shape(&history), shape(&expected));
    assert_eq!(
        eventual_tests::scheduled_tasks(&history),
        [
            "reserve_inventory",
            "charge_card",
            "ship_order",
            "refund_payment",
            "release_inventory"
        ]
    );
}

// ---- cancellation -------------------------------------------------------------------------------

#[task]
async fn sc_reserve(item: String) -> Result<String, StepError> {
    Ok(format!("res-{item}"))
}

#[task]
async fn sc_release(reservation: String) -> Result<(), StepError> {
    let _ = reservation;
    Ok(())
}

#[workflow]
async fn sc_buy(ctx: WorkflowContext, item: String) -> Result<String, WorkflowError> {
    let saga = ctx.saga();
    let reservation = saga.run(sc_reserve(item), sc_release).await?;
    let _: () = ctx.wait_for_signal("go").await?;
    Ok(reservation)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn cancellation_runs_the_compensations_and_ends_the_execution() {
    let env = TestEnvironment::new();
    let run = env.start::<sc_buy>("book".into()).unwrap();
    env.run_until_idle().await;
    env.cancel(run.id(), Some("changed my mind"));
    env.run_until_idle().await;
    let expected = shape(&env.history(run.id()));
    assert_eq!(
        env.outcome(run.id()),
        Some(Outcome::Cancelled {
            reason: Some("changed my mind".into())
        })
    );

    let local = Local::open();
    let id = local.start("sc_buy", json!("book")).await;
    let handle = local.handle();
    poll(WAIT, "the reservation to succeed", || {
        let history = handle.history(&id).unwrap();
        history
            .iter()
            .any(|e| e.kind.type_name() == "TaskSucceeded")
            .then_some(())
    });
    handle
        .cancel(&id, Some("changed my mind".into()))
        .await
        .unwrap();
    let (outcome, history) = local.ended(&id);
    assert_eq!(
        outcome,
        Outcome::Cancelled {
            reason: Some("changed my mind".into())
        }
    );
    assert_eq!(shape(&history), expected);
    assert_eq!(
        eventual_tests::scheduled_tasks(&history),
        ["sc_reserve", "sc_release"]
    );
    // Ended: a signal or a second cancel is refused.
    assert!(handle.signal(&id, "go", json!(null), None).await.is_err());
    assert!(handle.cancel(&id, None).await.is_err());
}
