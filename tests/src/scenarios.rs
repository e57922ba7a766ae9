//! The engine-neutral scenario suite: each scenario drives an [`Engine`] and returns the
//! shapes of the histories it produced. `tests/scenarios.rs` runs every scenario on every
//! engine and requires the same shapes everywhere.

use crate::{scheduled_tasks, shape};
use eventual_runtime::engine::client::StartExecution;
use eventual_runtime::engine::Engine;
use eventual_runtime::engine::ServiceError;
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
        $crate::every_scenario!($runner: retries, signals, timers, children, cancellation, order_saga, events,
            cancel_during_compensation, parent_close, terminate, names, handler_ids, versioning,
            queries, updates, continue_as_new);
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
    start_named(engine, workflow, None, input)
        .await
        .unwrap_or_else(|error| panic!("{workflow} did not start: {error}"))
}

async fn start_named(
    engine: &dyn Engine,
    workflow: &str,
    name: Option<&str>,
    input: Value,
) -> Result<String, ServiceError> {
    engine
        .start(StartExecution {
            workflow: workflow.to_owned(),
            execution_name: name.map(str::to_owned),
            input,
            correlation_id: None,
        })
        .await
}

/// A number unique to this process, so runs of a scenario on several engines use fresh names.
fn fresh_run() -> String {
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        .to_string()
}

fn has(history: &[HistoryEvent], type_name: &str) -> bool {
    history.iter().any(|e| e.kind.type_name() == type_name)
}

/// Cancels `id` with `reason` once its history has an event of type `after`; its history
/// once it has ended cancelled.
async fn cancelled_once(
    engine: &dyn Engine,
    id: &str,
    after: &str,
    reason: &str,
) -> Vec<HistoryEvent> {
    until(engine, id, after, |h| has(h, after)).await;
    engine
        .cancel(id, Some(reason.into()))
        .await
        .expect("cancel");
    let (outcome, history) = ended(engine, id).await;
    assert_eq!(
        outcome,
        Outcome::Cancelled {
            reason: Some(reason.into())
        }
    );
    history
}

/// Waits for an execution someone else starts, then for its end.
async fn started_then_ended(engine: &dyn Engine, id: &str) -> (Outcome, Vec<HistoryEvent>) {
    let deadline = Instant::now() + PATIENCE;
    while engine.history(id).await.is_err() {
        assert!(Instant::now() < deadline, "{id} never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    ended(engine, id).await
}

/// Waits for an execution's end; its outcome and history.
pub async fn ended(engine: &dyn Engine, id: &str) -> (Outcome, Vec<HistoryEvent>) {
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
    let history = cancelled_once(engine, &id, "TaskSucceeded", "changed my mind").await;
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
    start_ponger(
        Some(format!("pong-{}", event.detail.run)),
        &event.detail.run,
    )
}

/// Starts `sc_ponger` from a handler.
fn start_ponger(name: Option<String>, run: &str) -> Result<(), WorkflowError> {
    let client = eventual_runtime::engine::client::Client::current()
        .ok_or_else(|| WorkflowError::new("NoClient", "outside a handler"))?;
    client
        .start::<sc_ponger>(name, &run.to_owned())
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
    let run = fresh_run();
    let id = start(engine, "sc_pinger", json!(run)).await;
    let (_, history) = ended(engine, &id).await;
    let pong = format!("pong-{run}");
    let (outcome, pong_history) = started_then_ended(engine, &pong).await;
    assert_eq!(
        outcome,
        Outcome::Succeeded {
            result: json!(format!("pong {run}"))
        }
    );
    vec![shape(&history), shape(&pong_history)]
}

// ---- cancellation during compensation -----------------------------------------------------------

/// How long the newest compensation of `sc_slow_undo` takes: a cancel lands in between.
const SLOW_UNDO: Duration = Duration::from_secs(2);

/// Does a step.
#[task]
pub async fn sc_do(step: u64) -> Result<u64, StepError> {
    Ok(step)
}

/// Undoes a step.
#[task]
pub async fn sc_undo(step: u64) -> Result<u64, StepError> {
    Ok(step)
}

/// Always fails.
#[task]
pub async fn sc_fail(step: u64) -> Result<u64, StepError> {
    Err(StepError::new(
        StepErrorKind::Failed,
        format!("step {step} fails"),
    ))
}

/// Three steps with compensations, then a failing fourth: it compensates, and the newest
/// compensation waits on a timer first.
#[workflow]
pub async fn sc_slow_undo(ctx: WorkflowContext, _n: u64) -> Result<(), WorkflowError> {
    let saga = ctx.saga();
    for step in 1..=3 {
        let timer = ctx.clone();
        saga.run(sc_do(step), move |done| async move {
            if done == 3 {
                timer.sleep(SLOW_UNDO).await;
            }
            sc_undo(done).await
        })
        .await?;
    }
    if let Err(error) = sc_fail(4).await {
        saga.compensate().await;
        return Err(error.into());
    }
    Ok(())
}

/// A cancel that arrives while compensations run lets every compensation run, newest first.
pub async fn cancel_during_compensation(engine: &dyn Engine) -> Trace {
    let id = start(engine, "sc_slow_undo", json!(0)).await;
    let history = cancelled_once(engine, &id, "TimerScheduled", "stop").await;
    assert_eq!(
        scheduled_tasks(&history),
        ["sc_do", "sc_do", "sc_do", "sc_fail", "sc_undo", "sc_undo", "sc_undo"]
    );
    let undone: Vec<Value> = history
        .iter()
        .filter_map(|e| match &e.kind {
            HistoryEventKind::TaskScheduled { name, input, .. } if name == "sc_undo" => {
                Some(input.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(undone, [json!(3), json!(2), json!(1)]);
    vec![shape(&history)]
}

// ---- parent-close policy ------------------------------------------------------------------------

/// Waits for signal `finish` and returns its payload.
#[workflow]
pub async fn sc_waiting_child(ctx: WorkflowContext, _n: u64) -> Result<String, WorkflowError> {
    let text: String = ctx.wait_for_signal("finish").await?;
    Ok(text)
}

/// Starts an abandoned child and a child it cancels when it closes, then waits forever.
#[workflow]
pub async fn sc_guardian(ctx: WorkflowContext, _n: u64) -> Result<(), WorkflowError> {
    let abandon = ChildOptions::new().parent_close(ParentClosePolicy::Abandon);
    let _kept = ctx.child_with::<sc_waiting_child>(1, abandon);
    let _cancelled = ctx.child::<sc_waiting_child>(2);
    let () = ctx.wait_for_signal("go").await?;
    Ok(())
}

/// Cancelling a parent cancels its running child (recorded in both histories); an abandoned
/// child runs on and can still finish.
pub async fn parent_close(engine: &dyn Engine) -> Trace {
    let id = start(engine, "sc_guardian", json!(0)).await;
    let (kept, cancelled) = (format!("{id}/child-0"), format!("{id}/child-1"));
    for child in [&kept, &cancelled] {
        until(engine, child, "the child's start", |h| !h.is_empty()).await;
    }
    engine.cancel(&id, None).await.expect("cancel");
    let (outcome, history) = ended(engine, &id).await;
    assert_eq!(outcome, Outcome::Cancelled { reason: None });
    let cancel_requests: Vec<&str> = history
        .iter()
        .filter_map(|e| match &e.kind {
            HistoryEventKind::ChildCancelRequested { execution_id, .. } => {
                Some(execution_id.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(cancel_requests, [cancelled.as_str()]);
    let (child_outcome, cancelled_history) = ended(engine, &cancelled).await;
    assert_eq!(
        child_outcome,
        Outcome::Cancelled {
            reason: Some(format!("parent `{id}` was cancelled"))
        }
    );
    engine
        .signal(&kept, "finish", json!("done"))
        .await
        .expect("the abandoned child still runs");
    let (kept_outcome, kept_history) = ended(engine, &kept).await;
    assert_eq!(
        kept_outcome,
        Outcome::Succeeded {
            result: json!("done")
        }
    );
    vec![
        shape(&history),
        shape(&kept_history),
        shape(&cancelled_history),
    ]
}

// ---- terminate ----------------------------------------------------------------------------------

/// Terminating ends an execution at once: no compensation runs, the end is recorded, and its
/// running children are cancelled.
pub async fn terminate(engine: &dyn Engine) -> Trace {
    let id = start(engine, "sc_buy", json!("lamp")).await;
    until(engine, &id, "the reservation", |h| has(h, "TaskSucceeded")).await;
    engine
        .terminate(&id, Some("operator".into()))
        .await
        .expect("terminate");
    let (outcome, history) = ended(engine, &id).await;
    assert_eq!(
        outcome,
        Outcome::Terminated {
            reason: Some("operator".into())
        }
    );
    assert_eq!(scheduled_tasks(&history), ["sc_reserve"]);
    assert!(
        engine.cancel(&id, None).await.is_err()
            || engine.history(&id).await.is_ok_and(|h| h == history),
        "a terminated execution takes no cancel"
    );

    let parent = start(engine, "sc_guardian", json!(0)).await;
    let child = format!("{parent}/child-1");
    until(engine, &child, "the child's start", |h| !h.is_empty()).await;
    engine.terminate(&parent, None).await.expect("terminate");
    let (_, parent_history) = ended(engine, &parent).await;
    let (child_outcome, _) = ended(engine, &child).await;
    assert_eq!(
        child_outcome,
        Outcome::Cancelled {
            reason: Some(format!("parent `{parent}` was terminated"))
        }
    );
    vec![shape(&history), shape(&parent_history)]
}

// ---- execution names ----------------------------------------------------------------------------

/// A name held by an execution of one workflow is refused to another workflow, naming the
/// holder; the same workflow under the same name is the same execution.
pub async fn names(engine: &dyn Engine) -> Trace {
    let name = format!("held-{}", fresh_run());
    let id = start_named(engine, "sc_ponger", Some(&name), json!("first"))
        .await
        .expect("the first start");
    assert_eq!(id, name);
    let (_, history) = ended(engine, &id).await;
    let refused = start_named(engine, "sc_child", Some(&name), json!(2)).await;
    assert_eq!(
        refused,
        Err(ServiceError::AlreadyStarted {
            execution_id: name.clone(),
            held_by: "sc_ponger".to_owned()
        })
    );
    let again = start_named(engine, "sc_ponger", Some(&name), json!("second")).await;
    assert_eq!(
        again,
        Ok(name.clone()),
        "the same workflow and name is idempotent"
    );
    assert_eq!(
        engine.history(&name).await.expect("history"),
        history,
        "neither start touched the execution"
    );
    vec![shape(&history)]
}

// ---- ids of what handlers start -----------------------------------------------------------------

/// Announces something nobody names.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ScenarioAnonymous {
    /// Names the run.
    pub run: String,
}

/// Emits a `ScenarioAnonymous`.
#[workflow]
pub async fn sc_announcer(ctx: WorkflowContext, run: String) -> Result<(), WorkflowError> {
    ctx.emit(ScenarioAnonymous { run }).await?;
    Ok(())
}

/// Starts `sc_ponger` without a name: the engine derives its id from the delivery.
#[on_event(pattern = r#"{"detail-type": ["ScenarioAnonymous"]}"#)]
pub async fn sc_on_anonymous(event: Event<ScenarioAnonymous>) -> Result<(), WorkflowError> {
    start_ponger(None, &event.detail.run)
}

/// An execution a handler starts without a name gets the id the kernel derives from the
/// event and the subscription, on every engine.
pub async fn handler_ids(engine: &dyn Engine) -> Trace {
    let run = fresh_run();
    let id = start_named(
        engine,
        "sc_announcer",
        Some(&format!("announce-{run}")),
        json!(run),
    )
    .await
    .expect("start");
    let (_, history) = ended(engine, &id).await;
    let event_id = history
        .iter()
        .find_map(|e| match &e.kind {
            HistoryEventKind::EventsEmitted { events, .. } => Some(events[0].id.clone()),
            _ => None,
        })
        .expect("an emitted event");
    assert_eq!(event_id, format!("{id}/0/0"));
    let started = format!("sc_ponger-{event_id}.sc_on_anonymous/0");
    let (outcome, started_history) = started_then_ended(engine, &started).await;
    assert_eq!(
        outcome,
        Outcome::Succeeded {
            result: json!(format!("pong {run}"))
        }
    );
    vec![shape(&history), shape(&started_history)]
}

// ---- versioning and attributes -------------------------------------------------------------

/// A patched branch and attributes, around a task: new runs take the new branch.
#[workflow]
pub async fn sc_versioned(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    ctx.set_attribute("input", n);
    let squared = if ctx.patched("square-first") {
        sc_square(n).await?
    } else {
        n
    };
    ctx.deprecate_patch("obsolete");
    ctx.set_attribute("stage", "done");
    Ok(squared + 1)
}

/// Patch markers and attributes are recorded alike on every engine.
pub async fn versioning(engine: &dyn Engine) -> Trace {
    let id = start(engine, "sc_versioned", json!(7)).await;
    let (outcome, history) = ended(engine, &id).await;
    assert_eq!(outcome, Outcome::Succeeded { result: json!(50) });
    let marked: Vec<&str> = history
        .iter()
        .filter_map(|e| match &e.kind {
            HistoryEventKind::PatchMarked { patch, .. } => Some(patch.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(marked, ["square-first", "obsolete"]);
    vec![shape(&history)]
}

// ---- continue-as-new -----------------------------------------------------------------------

/// The state `sc_counter` hands from run to run.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CounterState {
    /// This run's number, from 0.
    pub n: u64,
    /// The sum of the squares of the earlier runs' numbers.
    pub total: u64,
    /// The `note` signals, taken by the last run.
    pub notes: Vec<String>,
}

/// Runs it makes: 0, 1, 2 continue as new, 3 ends.
const COUNTER_RUNS: u64 = 4;

/// Each run squares its number (a task) and continues as new with the sum; the first run
/// waits for `go` first, and only the last run takes the `note` signals, so they must be
/// handed on from run to run.
#[workflow]
pub async fn sc_counter(
    ctx: WorkflowContext,
    state: CounterState,
) -> Result<CounterState, WorkflowError> {
    if state.n == 0 {
        let _: String = ctx.wait_for_signal("go").await?;
    }
    let total = state.total + sc_square(state.n).await?;
    if state.n + 1 < COUNTER_RUNS {
        return ctx
            .continue_as_new(CounterState {
                n: state.n + 1,
                total,
                notes: state.notes,
            })
            .await;
    }
    let mut notes = state.notes;
    for _ in 0..2 {
        notes.push(ctx.wait_for_signal("note").await?);
    }
    Ok(CounterState {
        n: state.n,
        total,
        notes,
    })
}

/// Continue-as-new: the execution keeps its id across runs, the caller sees the last run's
/// outcome only, its history is the last run's (begun with `WorkflowStarted` naming the run
/// and the one before), and signals the first run received but never took reach the last.
pub async fn continue_as_new(engine: &dyn Engine) -> Trace {
    let id = start(engine, "sc_counter", json!(CounterState::default())).await;
    for signal in [("note", "x"), ("note", "y"), ("go", "now")] {
        engine
            .signal(&id, signal.0, json!(signal.1))
            .await
            .expect("signal");
    }
    let (outcome, history) = ended(engine, &id).await;
    let expected = CounterState {
        n: COUNTER_RUNS - 1,
        total: (0..COUNTER_RUNS).map(|n| n * n).sum(),
        notes: vec!["x".into(), "y".into()],
    };
    assert_eq!(
        outcome,
        Outcome::Succeeded {
            result: json!(expected)
        }
    );
    let Some(HistoryEventKind::WorkflowStarted {
        execution_id,
        input,
        run_id,
        continued_from,
        ..
    }) = history.first().map(|e| &e.kind)
    else {
        panic!("the last run's history does not begin with WorkflowStarted: {history:?}")
    };
    assert_eq!(execution_id, &id);
    assert_eq!(input["n"], json!(COUNTER_RUNS - 1));
    assert_eq!(run_id.as_deref(), Some("run-4"));
    assert_eq!(continued_from.as_deref(), Some("run-3"));
    vec![shape(&history)]
}

// ---- queries ----------------------------------------------------------------------------------

/// Answers "progress" as it squares `0..n`, then "stage" once told to finish.
#[workflow]
pub async fn sc_progress(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    ctx.answer_query("progress", 0);
    for i in 0..n {
        sc_square(i).await?;
        ctx.answer_query("progress", i + 1);
    }
    let _: String = ctx.wait_for_signal("finish").await?;
    ctx.answer_query("stage", "finished");
    Ok(n)
}

/// A query is answered from the replayed state, before and after the end, and writes nothing;
/// a query the execution has not answered (yet) is `unknown_query`.
pub async fn queries(engine: &dyn Engine) -> Trace {
    let id = start(engine, "sc_progress", json!(3)).await;
    let deadline = Instant::now() + PATIENCE;
    while engine.query(&id, "progress").await != Ok(json!(3)) {
        assert!(Instant::now() < deadline, "progress never reached 3");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let unknown = engine.query(&id, "stage").await;
    assert_eq!(
        unknown,
        Err(ServiceError::UnknownQuery {
            execution_id: id.clone(),
            query: "stage".into()
        })
    );
    let before = engine.history(&id).await.expect("a history");
    engine
        .signal(&id, "finish", json!("now"))
        .await
        .expect("signal finish");
    let (outcome, history) = ended(engine, &id).await;
    assert_eq!(outcome, Outcome::Succeeded { result: json!(3) });
    assert_eq!(engine.query(&id, "stage").await, Ok(json!("finished")));
    assert_eq!(
        history[..before.len()],
        before[..],
        "queries wrote nothing to history"
    );
    vec![shape(&history)]
}

// ---- updates ----------------------------------------------------------------------------------

/// Adds items to a cart of at most `limit` items (update `add`, answered with the count), and
/// answers query `items`; rejects an empty addition and one that does not fit.
#[workflow]
pub async fn sc_cart(ctx: WorkflowContext, limit: u64) -> Result<u64, WorkflowError> {
    let mut items = 0;
    ctx.answer_query("items", items);
    while items < limit {
        let add = ctx.next_update::<u64>("add").await;
        if *add.input() == 0 {
            add.reject("add at least one item");
            continue;
        }
        if items + add.input() > limit {
            add.reject(format!("only {} more fit", limit - items));
            continue;
        }
        items += add.input();
        ctx.answer_query("items", items);
        add.accept(json!(items));
    }
    Ok(items)
}

/// The typed form of `sc_cart`'s update.
pub struct AddToCart;

impl eventual_runtime::workflow::Update for AddToCart {
    const NAME: &'static str = "add";
    type Input = u64;
    type Output = u64;
}

/// The typed form of `sc_cart`'s query.
pub struct CartItems;

impl eventual_runtime::workflow::Query for CartItems {
    const NAME: &'static str = "items";
    type Output = u64;
}

fn update_events(history: &[HistoryEvent], update_id: &str) -> Vec<String> {
    history
        .iter()
        .filter(|event| match &event.kind {
            HistoryEventKind::UpdateReceived { update_id: id, .. }
            | HistoryEventKind::UpdateAccepted { update_id: id, .. }
            | HistoryEventKind::UpdateRejected { update_id: id, .. } => id == update_id,
            _ => false,
        })
        .map(|event| crate::label(&event.kind))
        .collect()
}

/// An update is answered to its caller; a rejected one leaves the workflow's progress (its
/// steps and state) as it was; the same update id is answered once and recorded once, even
/// after the end; an update to an ended execution is an error.
pub async fn updates(engine: &dyn Engine) -> Trace {
    use eventual_runtime::engine::kernel::update::{SendUpdate, UpdateStatus};
    use eventual_runtime::engine::TypedClient;
    let id = start(engine, "sc_cart", json!(5)).await;
    let first = SendUpdate::new("add", json!(2)).with_id("add-two");
    let reply = engine
        .update(&id, first.clone())
        .await
        .expect("update add 2");
    assert_eq!(reply.update_id, "add-two");
    assert_eq!(reply.status, UpdateStatus::Accepted { answer: json!(2) });

    let before_rejection = engine.history(&id).await.expect("a history");
    let empty = SendUpdate::new("add", json!(0)).with_id("add-none");
    let rejected = engine.update(&id, empty).await.expect("update add 0");
    assert_eq!(
        rejected.status,
        UpdateStatus::Rejected {
            reason: "add at least one item".into()
        }
    );
    assert_eq!(engine.query_of::<CartItems>(&id).await, Ok(2));
    let after_rejection = engine.history(&id).await.expect("a history");
    assert_eq!(
        shape(&after_rejection[before_rejection.len()..]),
        ["UpdateReceived", "UpdateRejected"],
        "a rejection takes no step"
    );
    let too_many = engine.update_of::<AddToCart>(&id, 4).await;
    assert!(
        matches!(&too_many, Err(ServiceError::UpdateRejected { reason, .. }) if reason == "only 3 more fit"),
        "{too_many:?}"
    );

    let again = engine
        .update(&id, first.clone())
        .await
        .expect("add-two again");
    assert_eq!(again.status, UpdateStatus::Accepted { answer: json!(2) });
    let history = engine.history(&id).await.expect("a history");
    assert_eq!(
        update_events(&history, "add-two"),
        ["UpdateReceived", "UpdateAccepted@0"],
        "a repeated update id is recorded once"
    );

    assert_eq!(engine.update_of::<AddToCart>(&id, 3).await, Ok(5));
    let (outcome, history) = ended(engine, &id).await;
    assert_eq!(outcome, Outcome::Succeeded { result: json!(5) });
    let late = engine.update(&id, SendUpdate::new("add", json!(1))).await;
    assert_eq!(late, Err(ServiceError::Ended(id.clone())));
    let repeated = engine
        .update(&id, first)
        .await
        .expect("add-two after the end");
    assert_eq!(repeated.status, UpdateStatus::Accepted { answer: json!(2) });
    let status = engine
        .update_status(&id, "add-none")
        .await
        .expect("status of add-none");
    assert!(matches!(status.status, UpdateStatus::Rejected { .. }));
    assert!(matches!(
        engine.update_status(&id, "never-sent").await,
        Err(ServiceError::UnknownUpdate { .. })
    ));
    vec![shape(&history)]
}
