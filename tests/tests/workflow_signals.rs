//! Signals: buffering, races with timers (both orders), duplicate ids.

use eventual_runtime::prelude::*;
use eventual_runtime::registry;
use eventual_runtime::testing::TestEnvironment;
use eventual_runtime::workflow::{
    Command, HistoryEventKind, InboxEvent, Outcome, StartRequest, WorkflowExecutor,
};
use eventual_tests::*;
use serde_json::json;
use std::future::Future;
use std::pin::Pin;

#[workflow]
async fn late_listener(ctx: WorkflowContext, _x: ()) -> Result<Vec<String>, WorkflowError> {
    ctx.sleep(Duration::from_secs(10)).await;
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(
            ctx.expect_signal::<String>("item", Duration::from_secs(5))
                .await?,
        );
    }
    Ok(got)
}

#[tokio::test]
async fn signals_sent_before_the_wait_are_buffered_in_order() {
    let env = TestEnvironment::new();
    let run = env.start::<late_listener>(()).unwrap();
    env.advance(secs(2)).await;
    env.signal(run.id(), "item", "a");
    env.signal(run.id(), "item", "b");
    env.signal(run.id(), "item", "c");
    env.run_until_idle().await;
    assert!(env.result::<late_listener>(&run).is_none());
    env.advance(secs(8)).await;
    assert_eq!(
        env.result::<late_listener>(&run).unwrap().unwrap(),
        ["a", "b", "c"]
    );
    // Buffered signals were taken at once: no timeout timer was started for them.
    assert_eq!(
        timeline(&env.history(run.id())),
        [
            ("WorkflowStarted".to_owned(), 0),
            ("TimerScheduled@0".to_owned(), 0),
            ("SignalReceived".to_owned(), 2_000),
            ("SignalReceived".to_owned(), 2_000),
            ("SignalReceived".to_owned(), 2_000),
            ("TimerFired@0".to_owned(), 10_000),
            ("WorkflowSucceeded".to_owned(), 10_000),
        ]
    );
}

#[tokio::test]
async fn buffered_and_live_signals_mix() {
    let env = TestEnvironment::new();
    let run = env.start::<late_listener>(()).unwrap();
    env.signal(run.id(), "item", "early");
    env.advance(secs(12)).await;
    env.signal(run.id(), "item", "live");
    env.run_until_idle().await;
    assert!(env.result::<late_listener>(&run).is_none());
    // The third wait started at +12 s, so it times out at +17 s.
    env.advance(millis(4_999)).await;
    assert!(env.result::<late_listener>(&run).is_none());
    env.advance(millis(1)).await;
    let error = env.result::<late_listener>(&run).unwrap().unwrap_err();
    assert!(error.message.contains("signal timed out"), "{error}");
    let history = env.history(run.id());
    let timers: Vec<(u32, u64, u64)> = history
        .iter()
        .filter_map(|e| match e.kind {
            HistoryEventKind::TimerScheduled { seq, until } => {
                Some((seq, since_epoch(e.at), since_epoch(until)))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        timers,
        [(0, 0, 10_000), (1, 10_000, 15_000), (2, 12_000, 17_000)]
    );
}

#[workflow]
async fn signal_or_timeout(
    ctx: WorkflowContext,
    _x: (),
) -> Result<(String, String), WorkflowError> {
    let first = match ctx
        .expect_signal::<String>("s", Duration::from_secs(10))
        .await
    {
        Ok(value) => format!("got:{value}"),
        Err(error) => format!("{:?}", error.kind),
    };
    let second: String = ctx.wait_for_signal("s").await?;
    Ok((first, second))
}

#[tokio::test]
async fn signal_just_before_the_timeout_wins() {
    let env = TestEnvironment::new();
    let run = env.start::<signal_or_timeout>(()).unwrap();
    env.advance(millis(9_999)).await;
    env.signal(run.id(), "s", "one");
    env.advance(millis(1)).await;
    env.signal(run.id(), "s", "two");
    env.run_until_idle().await;
    assert_eq!(
        env.result::<signal_or_timeout>(&run).unwrap().unwrap(),
        ("got:one".to_owned(), "two".to_owned())
    );
}

#[tokio::test]
async fn signal_after_the_timeout_goes_to_the_next_wait() {
    let env = TestEnvironment::new();
    let run = env.start::<signal_or_timeout>(()).unwrap();
    env.advance(secs(10)).await;
    env.signal(run.id(), "s", "late");
    env.run_until_idle().await;
    assert_eq!(
        env.result::<signal_or_timeout>(&run).unwrap().unwrap(),
        ("SignalTimedOut".to_owned(), "late".to_owned())
    );
}

/// Runs `signal_or_timeout` on a bare executor and delivers a signal and the timeout timer in
/// the same step, in the order given.
fn same_instant(signal_first: bool) -> (Vec<String>, Option<Outcome>) {
    let descriptor = registry::workflow("signal_or_timeout").unwrap();
    let t0 = at(secs(0));
    let (mut executor, output) =
        WorkflowExecutor::start(descriptor, StartRequest::new("same", json!(null)), t0).unwrap();
    let mut history = output.new_events;
    let until = output
        .commands
        .iter()
        .find_map(|c| match c {
            Command::StartTimer { seq: 0, until } => Some(*until),
            _ => None,
        })
        .expect("a timeout timer");
    assert_eq!(until, at(secs(10)));
    let signal = InboxEvent::Signal {
        name: "s".into(),
        payload: json!("x"),
        id: None,
    };
    let timer = InboxEvent::TimerFired { seq: 0 };
    let inbox = if signal_first {
        vec![signal, timer]
    } else {
        vec![timer, signal]
    };
    let output = executor.step(until, inbox).unwrap();
    history.extend(output.new_events);
    // Replaying what was recorded agrees with the live run.
    let replayed = WorkflowExecutor::replay(descriptor, &history).unwrap();
    assert_eq!(replayed.outcome(), executor.outcome());
    (shape(&history), executor.outcome().cloned())
}

#[tokio::test]
async fn signal_and_timeout_in_the_same_step_signal_first() {
    let (history, outcome) = same_instant(true);
    assert_eq!(
        history,
        [
            "WorkflowStarted",
            "TimerScheduled@0",
            "SignalReceived",
            "TimerFired@0"
        ]
    );
    // The signal was taken; the second wait is still waiting.
    assert_eq!(outcome, None);
}

#[tokio::test]
async fn signal_and_timeout_in_the_same_step_timer_first() {
    let (history, outcome) = same_instant(false);
    assert_eq!(
        history,
        [
            "WorkflowStarted",
            "TimerScheduled@0",
            "TimerFired@0",
            "SignalReceived",
            "WorkflowSucceeded"
        ]
    );
    assert_eq!(
        outcome,
        Some(Outcome::Succeeded {
            result: json!(["SignalTimedOut", "x"])
        })
    );
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[workflow]
async fn race_signal(ctx: WorkflowContext, _x: ()) -> Result<(String, String), WorkflowError> {
    let candidates: Vec<Boxed<'_, String>> = vec![
        Box::pin(async {
            match ctx.wait_for_signal::<String>("s").await {
                Ok(value) => format!("signal:{value}"),
                Err(error) => format!("error:{error}"),
            }
        }),
        Box::pin(async {
            ctx.sleep(Duration::from_secs(10)).await;
            "timer".to_owned()
        }),
    ];
    let (first, _) = race(candidates).await;
    // The losing signal wait was dropped: a later signal is not lost.
    let second: String = ctx.wait_for_signal("s").await?;
    Ok((first, second))
}

#[tokio::test]
async fn race_of_a_signal_and_a_timer_timer_wins() {
    let env = TestEnvironment::new();
    let run = env.start::<race_signal>(()).unwrap();
    env.advance(secs(20)).await;
    env.signal(run.id(), "s", "after");
    env.run_until_idle().await;
    assert_eq!(
        env.result::<race_signal>(&run).unwrap().unwrap(),
        ("timer".to_owned(), "after".to_owned())
    );
}

#[tokio::test]
async fn race_of_a_signal_and_a_timer_signal_wins() {
    let env = TestEnvironment::new();
    let run = env.start::<race_signal>(()).unwrap();
    env.advance(secs(3)).await;
    env.signal(run.id(), "s", "first");
    env.signal(run.id(), "s", "second");
    env.run_until_idle().await;
    assert_eq!(
        env.result::<race_signal>(&run).unwrap().unwrap(),
        ("signal:first".to_owned(), "second".to_owned())
    );
    assert_eq!(
        timeline(&env.history(run.id())).last().unwrap(),
        &("WorkflowSucceeded".to_owned(), 3_000)
    );
}

#[workflow]
async fn collector(ctx: WorkflowContext, _x: ()) -> Result<Vec<String>, WorkflowError> {
    let mut got = Vec::new();
    loop {
        let value: String = ctx.wait_for_signal("x").await?;
        if value == "stop" {
            return Ok(got);
        }
        got.push(value);
    }
}

fn signal(payload: &str, id: Option<&str>) -> InboxEvent {
    InboxEvent::Signal {
        name: "x".into(),
        payload: json!(payload),
        id: id.map(str::to_owned),
    }
}

#[tokio::test]
async fn duplicate_signal_ids_are_dropped() {
    let descriptor = registry::workflow("collector").unwrap();
    let t0 = at(secs(0));
    let (mut executor, output) =
        WorkflowExecutor::start(descriptor, StartRequest::new("dup", json!(null)), t0).unwrap();
    let mut history = output.new_events;
    let out = executor
        .step(
            at(secs(1)),
            vec![
                signal("a", Some("id-1")),
                signal("a", Some("id-1")),
                signal("b", Some("id-2")),
            ],
        )
        .unwrap();
    history.extend(out.new_events);
    let out = executor
        .step(at(secs(2)), vec![signal("a", Some("id-1"))])
        .unwrap();
    assert!(out.new_events.is_empty(), "{:?}", out.new_events);
    // Signals without an id are never de-duplicated.
    let out = executor
        .step(at(secs(3)), vec![signal("c", None), signal("c", None)])
        .unwrap();
    history.extend(out.new_events);
    assert_eq!(of_type(&history, "SignalReceived").len(), 4);

    // The ids seen survive a full replay.
    let mut replayed = WorkflowExecutor::replay(descriptor, &history).unwrap();
    let out = replayed
        .step(at(secs(4)), vec![signal("b", Some("id-2"))])
        .unwrap();
    assert!(out.new_events.is_empty(), "{:?}", out.new_events);

    for executor in [&mut executor, &mut replayed] {
        let out = executor
            .step(at(secs(5)), vec![signal("stop", Some("id-3"))])
            .unwrap();
        assert_eq!(
            out.outcome,
            Some(Outcome::Succeeded {
                result: json!(["a", "b", "c", "c"])
            })
        );
    }
}
