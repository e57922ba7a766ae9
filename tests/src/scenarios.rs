//! The engine-neutral scenario suite: each scenario drives an [`Engine`] and returns the
//! shapes of the histories it produced. `tests/scenarios.rs` runs every scenario on every
//! engine and requires the same shapes everywhere.

use crate::{scheduled_tasks, shape};
use eventual_runtime::engine::client::StartExecution;
use eventual_runtime::engine::Engine;
use eventual_runtime::prelude::*;
use eventual_runtime::workflow::{HistoryEvent, HistoryEventKind, Outcome};
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

/// The history shapes of the executions a scenario ran, in a fixed order.
pub type Trace = Vec<Vec<String>>;

/// A scenario as a value, so that one runner serves them all.
pub type Scenario = for<'a> fn(&'a dyn Engine) -> Pin<Box<dyn Future<Output = Trace> + 'a>>;

/// Runs `scenario` on the in-memory `TestEnvironment` and on `engine` (named `engine_name` in
/// the failure message), and requires the same histories.
pub async fn agrees_with_test_environment(
    scenario: Scenario,
    engine: &dyn Engine,
    engine_name: &str,
) {
    let virtual_time = scenario(&eventual_runtime::testing::TestEnvironment::new()).await;
    let on_engine = scenario(engine).await;
    assert_eq!(
        on_engine, virtual_time,
        "{engine_name}'s histories differ from the TestEnvironment's"
    );
}

/// One `#[tokio::test]` per scenario of the suite, each handing the scenario to `$runner`, an
/// `async fn(Scenario)` that sets an engine up and calls [`agrees_with_test_environment`].
#[macro_export]
macro_rules! every_scenario {
    ($runner:ident) => {
        $crate::every_scenario!($runner: retries, signals, timers, children, cancellation, order_saga, events);
    };
    ($runner:ident: $($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            $runner(|engine| Box::pin($crate::scenarios::$name(engine))).await;
        }
    )*};
}

/// How long a scenario waits for a condition on an engine with real time.
const PATIENCE: Duration = Duration::from_secs(60);

async fn start(engine: &dyn Engine, workflow: &str, input: Value) -> String {
    engine
        .start(StartExecution {
            workflow: workflow.to_owned(),
            execution_name: None,
            input,
            correlation_id: None,
        })
        .await
        .unwrap_or_else(|error| panic!("{workflow} did not start: {error}"))
}

async fn ended(engine: &dyn Engine, id: &str) -> (Outcome, Vec<HistoryEvent>) {
    let outcome = engine
        .wait(id)
        .await
        .unwrap_or_else(|e| panic!("waiting for {id}: {e}"));
    let history = engine
        .history(id)
        .await
        .unwrap_or_else(|e| panic!("history of {id}: {e}"));
    (outcome, history)
}

/// Waits until `id`'s history satisfies `ready` (at once on a virtual clock, where a start or
/// signal runs everything that is due).
async fn until(engine: &dyn Engine, id: &str, what: &str, ready: impl Fn(&[HistoryEvent]) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let history = engine.history(id).await.unwrap_or_default();
        if ready(&history) {
            return;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---- task retries with backoff ------------------------------------------------------------------

/// Fails its first two attempts.
#[task(retry(
    max_attempts = 4,
    backoff = "exponential",
    initial = "50ms",
    multiplier = 2.0,
    jitter = 0.0
))]
pub async fn sc_flaky(n: u64) -> Result<u64, StepError> {
    match eventual_runtime::task::attempt() {
        Some(attempt) if attempt < 3 => Err(StepError::new(
            StepErrorKind::Failed,
            format!("attempt {attempt} fails"),
        )),
        _ => Ok(n * 10),
    }
}

/// Calls `sc_flaky` once.
#[workflow]
pub async fn sc_retrying(_ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    Ok(sc_flaky(n).await?)
}

/// A task fails twice and succeeds on its third attempt, each retry after its backoff.
pub async fn retries(engine: &dyn Engine) -> Trace {
    let id = start(engine, "sc_retrying", json!(4)).await;
    let (outcome, history) = ended(engine, &id).await;
    assert_eq!(outcome, Outcome::Succeeded { result: json!(40) });
    let retries: Vec<(u64, u64)> = history
        .iter()
        .filter_map(|event| match &event.kind {
            HistoryEventKind::TaskAttemptFailed { retry_at, .. } => {
                Some((event.at.as_millis(), retry_at.as_millis()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        retries
            .iter()
            .map(|(at, retry)| retry - at)
            .collect::<Vec<_>>(),
        [50, 100]
    );
    let succeeded = history
        .iter()
        .find(|e| e.kind.type_name() == "TaskSucceeded")
        .map(|e| e.at.as_millis());
    assert!(
        succeeded >= retries.last().map(|(_, retry)| *retry),
        "the last attempt ran before its retry time"
    );
    vec![shape(&history)]
}

// ---- signals ------------------------------------------------------------------------------------

/// Takes signals `a` and `b` in that order, then waits briefly for `c`.
#[workflow]
pub async fn sc_two_signals(ctx: WorkflowContext, _n: u64) -> Result<String, WorkflowError> {
    let a: String = ctx.wait_for_signal("a").await?;
    let b: String = ctx.wait_for_signal("b").await?;
    let late: Option<String> = ctx
        .expect_signal::<String>("c", Duration::from_millis(100))
        .await
        .ok();
    Ok(format!("{a}{b}{late:?}"))
}

/// Signals sent out of order are buffered until taken; a wait with a timeout times out.
pub async fn signals(engine: &dyn Engine) -> Trace {
    let id = start(engine, "sc_two_signals", json!(0)).await;
    engine.signal(&id, "b", json!("B")).await.expect("signal b");
    engine.signal(&id, "a", json!("A")).await.expect("signal a");
    let (outcome, history) = ended(engine, &id).await;
    assert_eq!(
        outcome,
        Outcome::Succeeded {
            result: json!("ABNone")
        }
    );
    vec![shape(&history)]
}

// ---- timers -------------------------------------------------------------------------------------

/// Sleeps, then reads the clock.
#[workflow]
pub async fn sc_sleeper(ctx: WorkflowContext, millis: u64) -> Result<u64, WorkflowError> {
    let before = ctx.now();
    ctx.sleep(Duration::from_millis(millis)).await;
    Ok(ctx.now().duration_since(before).as_millis() as u64)
}

/// A durable timer fires at its time, never early.
pub async fn timers(engine: &dyn Engine) -> Trace {
    let id = start(engine, "sc_sleeper", json!(80)).await;
    let (outcome, history) = ended(engine, &id).await;
    let Outcome::Succeeded { result } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        result.as_u64().is_some_and(|slept| slept >= 80),
        "slept {result}"
    );
    let until = history.iter().find_map(|e| match &e.kind {
        HistoryEventKind::TimerScheduled { until, .. } => Some(*until),
        _ => None,
    });
    let fired = history
        .iter()
        .find(|e| e.kind.type_name() == "TimerFired")
        .map(|e| e.at);
    assert!(fired >= until, "the timer fired early");
    vec![shape(&history)]
}

// ---- child workflows ----------------------------------------------------------------------------

/// Squares a number.
#[task]
pub async fn sc_square(n: u64) -> Result<u64, StepError> {
    Ok(n * n)
}

/// Squares `n`, refusing zero.
#[workflow]
pub async fn sc_child(_ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    if n == 0 {
        return Err(WorkflowError::new("Zero", "no square of zero here"));
    }
    Ok(sc_square(n).await?)
}

/// Starts three children, the last of which fails.
#[workflow]
pub async fn sc_parent(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let a = ctx.child::<sc_child>(n).await?;
    let b = ctx.child::<sc_child>(n + 1).await?;
    let failed = ctx.child::<sc_child>(0).await.is_err();
    Ok(a + b + u64::from(failed))
}

/// Children report their results (and failures) to their parent.
pub async fn children(engine: &dyn Engine) -> Trace {
    let id = start(engine, "sc_parent", json!(3)).await;
    let (outcome, history) = ended(engine, &id).await;
    assert_eq!(
        outcome,
        Outcome::Succeeded {
            result: json!(9 + 16 + 1)
        }
    );
    let mut trace = vec![shape(&history)];
    for child in history.iter().filter_map(|e| match &e.kind {
        HistoryEventKind::ChildWorkflowScheduled { execution_id, .. } => Some(execution_id.clone()),
        _ => None,
    }) {
        let (_, child_history) = ended(engine, &child).await;
        let Some(HistoryEventKind::WorkflowStarted { parent, .. }) =
            child_history.first().map(|e| &e.kind)
        else {
            panic!("child {child} has no start")
        };
        assert_eq!(
            parent.as_ref().map(|p| p.execution_id.as_str()),
            Some(id.as_str())
        );
        trace.push(shape(&child_history));
    }
    assert_eq!(trace.len(), 4, "{trace:#?}");
    trace
}

// ---- sagas and cancellation ---------------------------------------------------------------------

/// Holds an item.
#[task]
pub async fn sc_reserve(item: String) -> Result<String, StepError> {
    Ok(format!("res-{item}"))
}

/// Gives an item back.
#[task]
pub async fn sc_release(reservation: String) -> Result<(), StepError> {
    let _ = reservation;
    Ok(())
}

/// Reserves, then waits for a go that never comes.
#[workflow]
pub async fn sc_buy(ctx: WorkflowContext, item: String) -> Result<String, WorkflowError> {
    let saga = ctx.saga();
    let reservation = saga.run(sc_reserve(item), sc_release).await?;
    let _: () = ctx.wait_for_signal("go").await?;
    Ok(reservation)
}

/// Cancelling runs the saga's compensations and ends the execution; it then refuses signals.
pub async fn cancellation(engine: &dyn Engine) -> Trace {
    let id = start(engine, "sc_buy", json!("book")).await;
    until(engine, &id, "the reservation", |h| {
        h.iter().any(|e| e.kind.type_name() == "TaskSucceeded")
    })
    .await;
    engine
        .cancel(&id, Some("changed my mind".into()))
        .await
        .expect("cancel");
    let (outcome, history) = ended(engine, &id).await;
    assert_eq!(
        outcome,
        Outcome::Cancelled {
            reason: Some("changed my mind".into())
        }
    );
    assert_eq!(scheduled_tasks(&history), ["sc_reserve", "sc_release"]);
    assert!(
        engine.signal(&id, "go", json!(null)).await.is_err()
            || engine.history(&id).await.is_ok_and(|h| h == history)
    );
    vec![shape(&history)]
}

/// The order saga: shipping to Mars fails, so the payment is refunded, then the inventory
/// released (compensations in reverse order).
pub async fn order_saga(engine: &dyn Engine) -> Trace {
    order_service::link();
    let order = order_service::sample_order("o-mars", 5_000, "mars");
    let id = start(
        engine,
        "place_order",
        serde_json::to_value(&order).unwrap_or_default(),
    )
    .await;
    let (outcome, history) = ended(engine, &id).await;
    let Outcome::Failed { error } = outcome else {
        panic!("expected a failure, got {outcome:?}")
    };
    assert!(error.message.contains("cannot ship to mars"), "{error:?}");
    assert_eq!(
        scheduled_tasks(&history),
        [
            "reserve_inventory",
            "charge_card",
            "ship_order",
            "refund_payment",
            "release_inventory"
        ]
    );
    vec![shape(&history)]
}

// ---- events -------------------------------------------------------------------------------------

/// Announces a number on the bus.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ScenarioPing {
    /// Names the run, so the handler starts a uniquely named execution.
    pub run: String,
}

/// Emits a `ScenarioPing`.
#[workflow]
pub async fn sc_pinger(ctx: WorkflowContext, run: String) -> Result<(), WorkflowError> {
    ctx.emit(ScenarioPing { run }).await?;
    Ok(())
}

/// Answers a ping by starting `sc_ponger` named `pong-<run>`.
#[on_event(pattern = r#"{"detail-type": ["ScenarioPing"]}"#)]
pub async fn sc_on_ping(event: Event<ScenarioPing>) -> Result<(), WorkflowError> {
    let client = eventual_runtime::engine::client::Client::current()
        .ok_or_else(|| WorkflowError::new("NoClient", "outside a handler"))?;
    client
        .start::<sc_ponger>(
            Some(format!("pong-{}", event.detail.run)),
            &event.detail.run,
        )
        .map_err(|e| WorkflowError::new("Start", e.to_string()))?;
    Ok(())
}

/// Started by the ping handler.
#[workflow]
pub async fn sc_ponger(_ctx: WorkflowContext, run: String) -> Result<String, WorkflowError> {
    Ok(format!("pong {run}"))
}

/// A workflow's event reaches a handler, which starts another workflow (after the emitting
/// step committed).
pub async fn events(engine: &dyn Engine) -> Trace {
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let run = RUNS
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        .to_string();
    let id = start(engine, "sc_pinger", json!(run)).await;
    let (_, history) = ended(engine, &id).await;
    let pong = format!("pong-{run}");
    let deadline = Instant::now() + PATIENCE;
    while engine.history(&pong).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the handler never started {pong}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (outcome, pong_history) = ended(engine, &pong).await;
    assert_eq!(
        outcome,
        Outcome::Succeeded {
            result: json!(format!("pong {run}"))
        }
    );
    vec![shape(&history), shape(&pong_history)]
}
