//! Every `WorkflowContext` operation, through `TestEnvironment` on its virtual clock.

use eventual_runtime::prelude::*;
use eventual_runtime::registry;
use eventual_runtime::testing::TestEnvironment;
use eventual_runtime::workflow::{HistoryEventKind, Outcome, WorkflowExecutor};
use eventual_runtime::Timestamp;
use eventual_tests::*;
use futures::FutureExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::future::Future;
use std::pin::Pin;

// ---- tasks -------------------------------------------------------------------------------------

#[task]
async fn add(a: u64, b: u64) -> Result<u64, StepError> {
    Ok(a + b)
}

#[task]
async fn forty_two() -> Result<u64, StepError> {
    Ok(42)
}

#[task]
async fn double(n: u64) -> Result<u64, StepError> {
    if n == 13 {
        return Err(StepError::new(StepErrorKind::Failed, "unlucky 13"));
    }
    Ok(n * 2)
}

#[task]
async fn slow(n: u64) -> Result<u64, StepError> {
    Ok(n)
}

#[workflow]
async fn arithmetic(_ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let x = add(n, 10).await?;
    let y = forty_two().await?;
    Ok(x + y)
}

#[tokio::test]
async fn task_calls_with_several_and_zero_parameters() {
    let env = TestEnvironment::new();
    let run = env.start::<arithmetic>(5).unwrap();
    // Nothing runs before the environment is asked to.
    assert_eq!(env.task_runs("add"), 0);
    env.run_until_idle().await;
    assert_eq!(env.result::<arithmetic>(&run).unwrap().unwrap(), 57);
    let history = env.history(run.id());
    assert_eq!(
        shape(&history),
        [
            "WorkflowStarted",
            "TaskScheduled@0",
            "TaskSucceeded@0",
            "TaskScheduled@1",
            "TaskSucceeded@1",
            "WorkflowSucceeded"
        ]
    );
    match &history[1].kind {
        HistoryEventKind::TaskScheduled { name, input, .. } => {
            assert_eq!(name, "add");
            assert_eq!(input, &json!([5, 10]));
        }
        other => panic!("unexpected {other:?}"),
    }
    match &history[3].kind {
        HistoryEventKind::TaskScheduled { name, input, .. } => {
            assert_eq!(name, "forty_two");
            assert_eq!(input, &json!(null));
        }
        other => panic!("unexpected {other:?}"),
    }
    match &history[2].kind {
        HistoryEventKind::TaskSucceeded {
            attempt, result, ..
        } => {
            assert_eq!(*attempt, 1);
            assert_eq!(result, &json!(15));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!((env.task_runs("add"), env.task_runs("forty_two")), (1, 1));
    // All of it happened at the start time: tasks take no virtual time.
    assert!(history.iter().all(|e| e.at == at(secs(0))));
    assert_eq!(env.now(), at(secs(0)));
}

// ---- timers ------------------------------------------------------------------------------------

#[workflow]
async fn sleeper(ctx: WorkflowContext, until_ms: u64) -> Result<u64, WorkflowError> {
    ctx.sleep(Duration::from_secs(90)).await;
    ctx.sleep_until(Timestamp::from_millis(until_ms)).await;
    Ok(ctx.now().as_millis())
}

#[tokio::test]
async fn sleep_and_sleep_until_fire_at_their_virtual_times() {
    let env = TestEnvironment::new();
    assert_eq!(env.now(), at(secs(0)));
    let run = env.start::<sleeper>(at(secs(3600)).as_millis()).unwrap();
    env.advance(millis(89_999)).await;
    assert!(env.result::<sleeper>(&run).is_none());
    env.advance(millis(1)).await;
    assert!(env.result::<sleeper>(&run).is_none());
    env.advance(secs(3600 - 90 - 1)).await;
    assert!(env.result::<sleeper>(&run).is_none());
    env.advance(secs(1)).await;
    assert_eq!(
        env.result::<sleeper>(&run).unwrap().unwrap(),
        at(secs(3600)).as_millis()
    );
    let history = env.history(run.id());
    assert_eq!(
        timeline(&history),
        [
            ("WorkflowStarted".to_owned(), 0),
            ("TimerScheduled@0".to_owned(), 0),
            ("TimerFired@0".to_owned(), 90_000),
            ("TimerScheduled@1".to_owned(), 90_000),
            ("TimerFired@1".to_owned(), 3_600_000),
            ("ValueRecorded@2".to_owned(), 3_600_000),
            ("WorkflowSucceeded".to_owned(), 3_600_000),
        ]
    );
    let untils: Vec<u64> = history
        .iter()
        .filter_map(|e| match e.kind {
            HistoryEventKind::TimerScheduled { until, .. } => Some(since_epoch(until)),
            _ => None,
        })
        .collect();
    assert_eq!(untils, [90_000, 3_600_000]);
}

#[tokio::test]
async fn sleep_until_a_past_time_fires_at_once() {
    let env = TestEnvironment::new();
    let past = Timestamp::from_millis(EPOCH_MS - 1_000);
    let run = env.start::<sleeper>(past.as_millis()).unwrap();
    env.advance(secs(90)).await;
    // The second timer is in the past: it fires without the clock moving.
    assert_eq!(
        env.result::<sleeper>(&run).unwrap().unwrap(),
        at(secs(90)).as_millis()
    );
    assert_eq!(env.now(), at(secs(90)));
}

// ---- signals -----------------------------------------------------------------------------------

#[workflow]
async fn approval(ctx: WorkflowContext, timeout_s: u64) -> Result<String, StepError> {
    ctx.expect_signal::<String>("approve", Duration::from_secs(timeout_s))
        .await
}

#[tokio::test]
async fn expect_signal_that_arrives_in_time() {
    let env = TestEnvironment::new();
    let run = env.start::<approval>(60).unwrap();
    env.advance(secs(30)).await;
    assert!(env.result::<approval>(&run).is_none());
    env.signal(run.id(), "other", "ignored");
    env.signal(run.id(), "approve", "yes");
    env.run_until_idle().await;
    assert_eq!(env.result::<approval>(&run).unwrap().unwrap(), "yes");
    let history = env.history(run.id());
    assert_eq!(
        timeline(&history),
        [
            ("WorkflowStarted".to_owned(), 0),
            ("TimerScheduled@0".to_owned(), 0),
            ("SignalReceived".to_owned(), 30_000),
            ("SignalReceived".to_owned(), 30_000),
            ("WorkflowSucceeded".to_owned(), 30_000),
        ]
    );
    assert!(matches!(
        &history[1].kind,
        HistoryEventKind::TimerScheduled { until, .. } if *until == at(secs(60))
    ));
    // The timeout timer firing later changes nothing.
    env.advance(secs(60)).await;
    assert_eq!(env.history(run.id()).len(), history.len());
}

#[tokio::test]
async fn expect_signal_times_out() {
    let env = TestEnvironment::new();
    let run = env.start::<approval>(60).unwrap();
    env.advance(millis(59_999)).await;
    assert!(env.result::<approval>(&run).is_none());
    env.advance(millis(1)).await;
    let error = env.result::<approval>(&run).unwrap().unwrap_err();
    assert_eq!(error.kind, StepErrorKind::SignalTimedOut);
    assert!(error.message.contains("approve"), "{error}");
    assert_eq!(
        timeline(&env.history(run.id())),
        [
            ("WorkflowStarted".to_owned(), 0),
            ("TimerScheduled@0".to_owned(), 0),
            ("TimerFired@0".to_owned(), 60_000),
            ("WorkflowFailed".to_owned(), 60_000),
        ]
    );
    // A late signal is recorded nowhere: the execution has ended.
    env.signal(run.id(), "approve", "too late");
    env.run_until_idle().await;
    assert_eq!(env.history(run.id()).len(), 4);
}

#[workflow]
async fn patient(ctx: WorkflowContext, _x: ()) -> Result<u32, WorkflowError> {
    let value: u32 = ctx.wait_for_signal("go").await?;
    Ok(value)
}

#[tokio::test]
async fn wait_for_signal_has_no_timeout() {
    let env = TestEnvironment::new();
    let run = env.start::<patient>(()).unwrap();
    env.advance(secs(30 * 24 * 3600)).await;
    assert!(env.result::<patient>(&run).is_none());
    // No timer was scheduled for the wait.
    assert_eq!(shape(&env.history(run.id())), ["WorkflowStarted"]);
    env.signal(run.id(), "go", 7);
    env.run_until_idle().await;
    assert_eq!(env.result::<patient>(&run).unwrap().unwrap(), 7);
    assert_eq!(
        timeline(&env.history(run.id())),
        [
            ("WorkflowStarted".to_owned(), 0),
            ("SignalReceived".to_owned(), 30 * 24 * 3600 * 1000),
            ("WorkflowSucceeded".to_owned(), 30 * 24 * 3600 * 1000),
        ]
    );
}

#[workflow]
async fn stream_reader(ctx: WorkflowContext, _x: ()) -> Result<(u32, Vec<u32>), WorkflowError> {
    let first: u32 = ctx.wait_for_signal("n").await?;
    ctx.sleep(Duration::from_secs(10)).await;
    let mut stream = ctx.signals::<u32>("n");
    let mut seen = Vec::new();
    while seen.len() < 4 {
        match stream.next().await {
            Some(value) => seen.push(value?),
            None => break,
        }
    }
    Ok((first, seen))
}

#[tokio::test]
async fn signal_stream_sees_every_signal_including_earlier_and_taken_ones() {
    let env = TestEnvironment::new();
    let run = env.start::<stream_reader>(()).unwrap();
    env.signal(run.id(), "n", 1);
    env.run_until_idle().await;
    env.signal(run.id(), "n", 2);
    env.signal(run.id(), "other", 99);
    env.signal(run.id(), "n", 3);
    env.advance(secs(10)).await;
    assert!(env.result::<stream_reader>(&run).is_none());
    env.signal(run.id(), "n", 4);
    env.run_until_idle().await;
    assert_eq!(
        env.result::<stream_reader>(&run).unwrap().unwrap(),
        (1, vec![1, 2, 3, 4])
    );
}

#[workflow]
async fn pinger(ctx: WorkflowContext, target: String) -> Result<(), WorkflowError> {
    ctx.send_signal(&target, "ping", 7u32).await?;
    Ok(())
}

#[workflow]
async fn ponger(ctx: WorkflowContext, _x: ()) -> Result<u32, WorkflowError> {
    Ok(ctx.wait_for_signal::<u32>("ping").await?)
}

#[tokio::test]
async fn send_signal_reaches_another_execution() {
    let env = TestEnvironment::new();
    let receiver = env.start::<ponger>(()).unwrap();
    let sender = env.start::<pinger>(receiver.id().to_owned()).unwrap();
    env.run_until_idle().await;
    assert_eq!(env.result::<ponger>(&receiver).unwrap().unwrap(), 7);
    assert!(env.result::<pinger>(&sender).unwrap().is_ok());
    let sent = env.history(sender.id());
    assert_eq!(
        shape(&sent),
        ["WorkflowStarted", "SignalSent@0", "WorkflowSucceeded"]
    );
    match &sent[1].kind {
        HistoryEventKind::SignalSent {
            execution_id,
            name,
            payload,
            ..
        } => {
            assert_eq!(execution_id, receiver.id());
            assert_eq!(name, "ping");
            assert_eq!(payload, &json!(7));
        }
        other => panic!("unexpected {other:?}"),
    }
    let received = env.history(receiver.id());
    match &received[1].kind {
        HistoryEventKind::SignalReceived { name, payload, id } => {
            assert_eq!(name, "ping");
            assert_eq!(payload, &json!(7));
            assert_eq!(id.as_deref(), Some(format!("{}/0", sender.id()).as_str()));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn send_signal_to_an_unknown_execution_is_a_warning() {
    let env = TestEnvironment::new();
    let sender = env.start::<pinger>("nobody".to_owned()).unwrap();
    env.run_until_idle().await;
    assert!(env.result::<pinger>(&sender).unwrap().is_ok());
    let warnings = env.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("nobody"), "{warnings:?}");
}

// ---- events ------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct CtxOrderPlaced {
    id: String,
    amount: u64,
}

#[workflow]
async fn emitter(ctx: WorkflowContext, amount: u64) -> Result<(), WorkflowError> {
    ctx.sleep(Duration::from_secs(1)).await;
    ctx.emit(CtxOrderPlaced {
        id: "o-1".into(),
        amount,
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn emit_puts_an_event_on_the_bus() {
    let env = TestEnvironment::new();
    let run = env.start::<emitter>(120).unwrap();
    env.advance(secs(1)).await;
    assert!(env.result::<emitter>(&run).unwrap().is_ok());
    let events = env.published_events();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.id, format!("{}/1/0", run.id()));
    assert_eq!(event.detail_type, "CtxOrderPlaced");
    assert_eq!(event.source, "emitter");
    assert_eq!(event.correlation_id.as_deref(), Some(run.id()));
    assert_eq!(event.detail, json!({"id": "o-1", "amount": 120}));
    assert_eq!(event.time, at(secs(1)).to_rfc3339());
    let history = env.history(run.id());
    let emitted = of_type(&history, "EventsEmitted");
    assert_eq!(emitted.len(), 1);
    assert_eq!(emitted[0].at, at(secs(1)));
    match &emitted[0].kind {
        HistoryEventKind::EventsEmitted {
            seq,
            events: recorded,
        } => {
            assert_eq!(*seq, 1);
            assert_eq!(recorded, &events);
        }
        other => panic!("unexpected {other:?}"),
    }
}

// ---- recorded values ---------------------------------------------------------------------------

#[workflow]
async fn values(ctx: WorkflowContext, _x: ()) -> Result<(u64, f64, String), WorkflowError> {
    ctx.sleep(Duration::from_secs(5)).await;
    let now = ctx.now().as_millis();
    let random = ctx.random();
    let uuid = ctx.uuid().to_string();
    Ok((now, random, uuid))
}

#[tokio::test]
async fn now_random_and_uuid_are_recorded_and_replayed() {
    let env = TestEnvironment::new();
    let run = env.start::<values>(()).unwrap();
    env.advance(secs(5)).await;
    let (now, random, uuid) = env.result::<values>(&run).unwrap().unwrap();
    assert_eq!(now, at(secs(5)).as_millis());
    assert!((0.0..1.0).contains(&random), "{random}");
    let parsed = uuid::Uuid::parse_str(&uuid).unwrap();
    assert_eq!(parsed.get_version_num(), 4);

    let history = env.history(run.id());
    let recorded: Vec<(String, serde_json::Value)> = history
        .iter()
        .filter_map(|e| match &e.kind {
            HistoryEventKind::ValueRecorded { seq, source, value } => {
                Some((format!("{seq}:{source:?}"), value.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        recorded,
        [
            ("1:Now".to_owned(), json!(now)),
            ("2:Random".to_owned(), json!(random)),
            ("3:Uuid".to_owned(), json!(uuid)),
        ]
    );

    // A full replay, long after, reads the same values.
    let descriptor = registry::workflow("values").unwrap();
    let replayed = WorkflowExecutor::replay(descriptor, &history).unwrap();
    assert_eq!(
        replayed.outcome(),
        Some(&Outcome::Succeeded {
            result: json!([now, random, uuid])
        })
    );

    // Replay reads values from history, not afresh: tampered values come back as recorded.
    let mut tampered = history.clone();
    tampered.pop(); // WorkflowSucceeded
    for event in &mut tampered {
        if let HistoryEventKind::ValueRecorded { source, value, .. } = &mut event.kind {
            *value = match source {
                eventual_runtime::workflow::history::RecordedValue::Now => json!(1234),
                eventual_runtime::workflow::history::RecordedValue::Random => json!(0.25),
                eventual_runtime::workflow::history::RecordedValue::Uuid => {
                    json!("00000000-0000-4000-8000-000000000000")
                }
            };
        }
    }
    let replayed = WorkflowExecutor::replay(descriptor, &tampered).unwrap();
    assert_eq!(
        replayed.outcome(),
        Some(&Outcome::Succeeded {
            result: json!([1234, 0.25, "00000000-0000-4000-8000-000000000000"])
        })
    );
}

#[tokio::test]
async fn random_values_differ_between_executions() {
    let env = TestEnvironment::new();
    let a = env.start::<values>(()).unwrap();
    let b = env.start::<values>(()).unwrap();
    env.advance(secs(5)).await;
    let (_, random_a, uuid_a) = env.result::<values>(&a).unwrap().unwrap();
    let (_, random_b, uuid_b) = env.result::<values>(&b).unwrap().unwrap();
    assert_ne!(random_a, random_b);
    assert_ne!(uuid_a, uuid_b);
}

// ---- combinators -------------------------------------------------------------------------------

#[workflow]
async fn all_of(_ctx: WorkflowContext, inputs: Vec<u64>) -> Result<Vec<u64>, StepError> {
    all(inputs.into_iter().map(double)).await
}

#[tokio::test]
async fn all_waits_for_every_step_in_order() {
    let env = TestEnvironment::new();
    let run = env.start::<all_of>(vec![1, 2, 3]).unwrap();
    env.run_until_idle().await;
    assert_eq!(env.result::<all_of>(&run).unwrap().unwrap(), [2, 4, 6]);
    let history = env.history(run.id());
    // All three were scheduled in the first step, in call order, before any result.
    assert_eq!(
        shape(&history)[..4],
        [
            "WorkflowStarted",
            "TaskScheduled@0",
            "TaskScheduled@1",
            "TaskScheduled@2"
        ]
    );
    let inputs: Vec<serde_json::Value> = history
        .iter()
        .filter_map(|e| match &e.kind {
            HistoryEventKind::TaskScheduled { input, .. } => Some(input.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(inputs, [json!(1), json!(2), json!(3)]);
}

#[tokio::test]
async fn all_fails_with_the_first_error() {
    let env = TestEnvironment::new();
    let run = env.start::<all_of>(vec![1, 13, 3]).unwrap();
    env.run_until_idle().await;
    let error = env.result::<all_of>(&run).unwrap().unwrap_err();
    assert_eq!(error.kind, StepErrorKind::Failed);
    assert_eq!(error.message, "unlucky 13");
}

#[workflow]
async fn settled(
    _ctx: WorkflowContext,
    inputs: Vec<u64>,
) -> Result<Vec<Result<u64, String>>, WorkflowError> {
    let results = all_settled(inputs.into_iter().map(double)).await;
    Ok(results
        .into_iter()
        .map(|r| r.map_err(|e| e.message))
        .collect())
}

#[tokio::test]
async fn all_settled_returns_every_result() {
    let env = TestEnvironment::new();
    let run = env.start::<settled>(vec![13, 2, 13]).unwrap();
    env.run_until_idle().await;
    assert_eq!(
        env.result::<settled>(&run).unwrap().unwrap(),
        [
            Err("unlucky 13".to_owned()),
            Ok(4),
            Err("unlucky 13".to_owned())
        ]
    );
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[workflow]
async fn race_timer(ctx: WorkflowContext, timer_s: u64) -> Result<(String, usize), WorkflowError> {
    let candidates: Vec<Boxed<'_, String>> = vec![
        Box::pin(async { format!("slow:{:?}", slow(1).await) }),
        Box::pin(async {
            ctx.sleep(Duration::from_secs(timer_s)).await;
            "timer".to_owned()
        }),
    ];
    let (winner, index) = race(candidates).await;
    // The loser keeps running in the engine; the workflow goes on.
    ctx.sleep(Duration::from_secs(1)).await;
    Ok((winner, index))
}

#[tokio::test]
async fn race_returns_the_first_to_finish() {
    // The task hangs: the timer wins at +10 s.
    let env = TestEnvironment::new();
    env.mock_task("slow").never_finish();
    let run = env.start::<race_timer>(10).unwrap();
    env.advance(millis(9_999)).await;
    assert!(env.result::<race_timer>(&run).is_none());
    env.advance(millis(1)).await;
    env.advance(secs(1)).await;
    assert_eq!(
        env.result::<race_timer>(&run).unwrap().unwrap(),
        ("timer".to_owned(), 1)
    );
    // The task succeeds at once: it wins.
    let env = TestEnvironment::new();
    env.mock_task("slow").succeed(5);
    let run = env.start::<race_timer>(10).unwrap();
    env.advance(secs(1)).await;
    assert_eq!(
        env.result::<race_timer>(&run).unwrap().unwrap(),
        ("slow:Ok(5)".to_owned(), 0)
    );
    assert_eq!(env.now(), at(secs(1)));
}

#[workflow]
async fn any_of(
    ctx: WorkflowContext,
    _x: (),
) -> Result<Result<u64, Vec<StepError>>, WorkflowError> {
    let candidates = vec![
        ctx.call_task::<double>(13),
        ctx.call_task::<slow>(7),
        ctx.call_task::<double>(4),
    ];
    Ok(any(candidates).await)
}

#[tokio::test]
async fn any_returns_the_first_success() {
    let env = TestEnvironment::new();
    env.mock_task("slow").complete_later();
    let run = env.start::<any_of>(()).unwrap();
    env.run_until_idle().await;
    // double(13) fails, double(4) succeeds while slow is still open.
    assert_eq!(env.result::<any_of>(&run).unwrap().unwrap(), Ok(8));
}

#[tokio::test]
async fn any_fails_with_every_error_when_all_fail() {
    let env = TestEnvironment::new();
    env.mock_task("slow")
        .fail(StepError::new(StepErrorKind::Failed, "slow failed"));
    env.mock_task("double")
        .fail(StepError::new(StepErrorKind::Failed, "double failed"));
    let run = env.start::<any_of>(()).unwrap();
    env.run_until_idle().await;
    let errors = env.result::<any_of>(&run).unwrap().unwrap().unwrap_err();
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages, ["double failed", "slow failed", "double failed"]);
}

#[workflow]
async fn joined(ctx: WorkflowContext, n: u64) -> Result<(u64, u64, u64), WorkflowError> {
    let (a, (), b) = futures::join!(double(n), ctx.sleep(Duration::from_secs(30)), add(n, 1));
    Ok((a?, ctx.now().as_millis(), b?))
}

#[tokio::test]
async fn futures_join_over_durable_steps() {
    let env = TestEnvironment::new();
    let run = env.start::<joined>(4).unwrap();
    env.run_until_idle().await;
    assert!(env.result::<joined>(&run).is_none());
    env.advance(secs(30)).await;
    assert_eq!(
        env.result::<joined>(&run).unwrap().unwrap(),
        (8, at(secs(30)).as_millis(), 5)
    );
    let history = env.history(run.id());
    // `ctx.sleep` takes its sequence number when called; a `#[task]` call when first polled,
    // so the timer (built before `join!` polls anything) comes first.
    assert_eq!(
        shape(&history)[..4],
        [
            "WorkflowStarted",
            "TimerScheduled@0",
            "TaskScheduled@1",
            "TaskScheduled@2"
        ]
    );
    assert_eq!(scheduled_tasks(&history), ["double", "add"]);
}

#[workflow]
async fn selected(ctx: WorkflowContext, timeout_s: u64) -> Result<String, WorkflowError> {
    let task = slow(3).fuse();
    let timer = ctx.sleep(Duration::from_secs(timeout_s)).fuse();
    futures::pin_mut!(task, timer);
    let winner = futures::select_biased! {
        result = task => format!("task:{}", result?),
        () = timer => "timer".to_owned(),
    };
    Ok(winner)
}

#[tokio::test]
async fn select_biased_over_durable_steps() {
    let env = TestEnvironment::new();
    env.mock_task("slow").complete_later();
    let run = env.start::<selected>(20).unwrap();
    env.advance(secs(20)).await;
    assert_eq!(env.result::<selected>(&run).unwrap().unwrap(), "timer");
    // The task completes first.
    let env = TestEnvironment::new();
    env.mock_task("slow").complete_later();
    let run = env.start::<selected>(20).unwrap();
    env.advance(secs(5)).await;
    let tokens = env.completion_tokens("slow");
    assert_eq!(tokens.len(), 1);
    assert_eq!(env.complete_task(&tokens[0], Ok(json!(3))), Ok(true));
    env.run_until_idle().await;
    assert_eq!(env.result::<selected>(&run).unwrap().unwrap(), "task:3");
    assert_eq!(
        of_type(&env.history(run.id()), "WorkflowSucceeded")[0].at,
        at(secs(5))
    );
}
