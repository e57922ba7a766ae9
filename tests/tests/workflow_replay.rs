//! Replay: non-determinism after a code change, corrupt histories, and sticky execution giving
//! the same histories as full replay.

use eventual_runtime::prelude::*;
use eventual_runtime::registry;
use eventual_runtime::testing::{ReplayMode, TestEnvironment};
use eventual_runtime::workflow::{
    History, HistoryEvent, HistoryEventKind, ReplayError, WorkflowExecutor, HISTORY_FORMAT_VERSION,
};
use eventual_tests::*;
use serde_json::json;

#[task]
async fn first(n: u64) -> Result<u64, StepError> {
    Ok(n + 1)
}

#[task]
async fn x(n: u64) -> Result<u64, StepError> {
    Ok(n * 10)
}

#[task]
async fn y(n: u64) -> Result<u64, StepError> {
    Ok(n * 100)
}

/// Version A of the code.
#[workflow]
async fn a(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let one = first(n).await?;
    let two = x(one).await?;
    ctx.sleep(Duration::from_secs(60)).await;
    Ok(two)
}

/// Version B: calls another task at seq 1.
#[workflow]
async fn b(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let one = first(n).await?;
    let two = y(one).await?;
    ctx.sleep(Duration::from_secs(60)).await;
    Ok(two)
}

/// Version C: returns after seq 0.
#[workflow]
async fn c(_ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    Ok(first(n).await?)
}

/// Version D: a timer where A had a task.
#[workflow]
async fn d(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let one = first(n).await?;
    ctx.sleep(Duration::from_secs(60)).await;
    Ok(one)
}

async fn history_of_a(finished: bool) -> Vec<HistoryEvent> {
    let env = TestEnvironment::new();
    let run = env.start::<a>(1).unwrap();
    env.run_until_idle().await;
    if finished {
        env.advance(secs(60)).await;
        assert_eq!(env.result::<a>(&run).unwrap().unwrap(), 20);
    }
    env.history(run.id())
}

#[tokio::test]
async fn same_code_replays_cleanly() {
    for finished in [false, true] {
        let history = history_of_a(finished).await;
        let executor =
            WorkflowExecutor::replay(registry::workflow("a").unwrap(), &history).unwrap();
        assert_eq!(executor.outcome().is_some(), finished);
        assert!(!executor.context().is_replaying());
    }
}

#[tokio::test]
async fn different_task_at_seq_1_is_non_determinism() {
    for finished in [false, true] {
        let history = history_of_a(finished).await;
        let error = WorkflowExecutor::replay(&changed_code("a", "b"), &history)
            .err()
            .expect("replay must fail");
        match &error {
            ReplayError::NonDeterminism {
                workflow,
                seq,
                recorded,
                attempted,
            } => {
                assert_eq!(workflow, "a");
                assert_eq!(*seq, 1);
                assert_eq!(recorded, "task `x`");
                assert_eq!(attempted, "task `y`");
            }
            other => panic!("unexpected {other:?}"),
        }
        let text = error.to_string();
        assert!(
            text.contains("task `x`") && text.contains("task `y`"),
            "{text}"
        );
        assert!(text.contains("sequence 1"), "{text}");
        assert_eq!(error.code(), "EVT1100");
        assert!(error.is_non_determinism());
    }
}

#[tokio::test]
async fn timer_where_history_has_a_task_is_non_determinism() {
    let history = history_of_a(false).await;
    let error = WorkflowExecutor::replay(&changed_code("a", "d"), &history)
        .err()
        .unwrap();
    assert_eq!(
        error,
        ReplayError::NonDeterminism {
            workflow: "a".into(),
            seq: 1,
            recorded: "task `x`".into(),
            attempted: "a timer".into(),
        }
    );
}

#[tokio::test]
async fn code_that_stops_early_is_non_determinism() {
    for finished in [false, true] {
        let history = history_of_a(finished).await;
        let error = WorkflowExecutor::replay(&changed_code("a", "c"), &history)
            .err()
            .unwrap();
        match &error {
            ReplayError::NonDeterminism {
                seq,
                recorded,
                attempted,
                ..
            } => {
                assert_eq!(*seq, 1);
                assert_eq!(recorded, "task `x`");
                assert_eq!(attempted, "the end of the workflow");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn code_that_goes_further_than_a_finished_history_is_non_determinism() {
    // C's history ends after seq 0; A asks for task `x` at seq 1.
    let env = TestEnvironment::new();
    let run = env.start::<c>(1).unwrap();
    env.run_until_idle().await;
    let history = env.history(run.id());
    let error = WorkflowExecutor::replay(&changed_code("c", "a"), &history)
        .err()
        .unwrap();
    match &error {
        ReplayError::NonDeterminism {
            seq,
            recorded,
            attempted,
            ..
        } => {
            assert_eq!(*seq, 1, "{error}");
            assert_eq!(recorded, "the end of the workflow");
            assert_eq!(attempted, "task `x`");
        }
        other => panic!("unexpected {other:?}"),
    }
}

// ---- corrupt histories ---------------------------------------------------------------------------

fn replay_a(history: &[HistoryEvent]) -> ReplayError {
    WorkflowExecutor::replay(registry::workflow("a").unwrap(), history)
        .err()
        .expect("replay must fail")
}

#[tokio::test]
async fn gap_in_sequence_numbers_is_corrupt() {
    let mut history = history_of_a(true).await;
    // Renumber the second task's steps from 1 to 2.
    for event in &mut history {
        match &mut event.kind {
            HistoryEventKind::TaskScheduled { seq, .. }
            | HistoryEventKind::TaskSucceeded { seq, .. }
                if *seq == 1 =>
            {
                *seq = 2
            }
            _ => {}
        }
    }
    match replay_a(&history) {
        ReplayError::CorruptHistory { index, reason, .. } => {
            assert_eq!(index, 3);
            assert!(reason.contains("out of order"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn completion_for_an_unknown_seq_is_corrupt() {
    let mut history = history_of_a(false).await;
    let t = history.last().unwrap().at;
    history.push(HistoryEvent {
        at: t,
        kind: HistoryEventKind::TaskSucceeded {
            seq: 7,
            attempt: 1,
            result: json!(1),
        },
    });
    let error = replay_a(&history);
    assert!(
        matches!(&error, ReplayError::CorruptHistory { index, .. } if *index == history.len() - 1),
        "{error:?}"
    );
}

#[tokio::test]
async fn completion_of_the_wrong_kind_is_corrupt() {
    // A timer fired at the sequence number of a task.
    let mut history = history_of_a(false).await;
    let t = history.last().unwrap().at;
    history.insert(
        2,
        HistoryEvent {
            at: t,
            kind: HistoryEventKind::TimerFired { seq: 0 },
        },
    );
    assert!(matches!(
        replay_a(&history),
        ReplayError::CorruptHistory { index: 2, .. }
    ));
    // A task result at the sequence number of a timer.
    let mut history = history_of_a(true).await;
    for event in &mut history {
        if let HistoryEventKind::TimerFired { seq } = event.kind {
            event.kind = HistoryEventKind::TaskSucceeded {
                seq,
                attempt: 1,
                result: json!(null),
            };
        }
    }
    let error = replay_a(&history);
    assert!(
        matches!(&error, ReplayError::CorruptHistory { reason, .. } if reason.contains("not a task")),
        "{error:?}"
    );
}

#[tokio::test]
async fn duplicate_completion_is_corrupt() {
    let mut history = history_of_a(false).await;
    let duplicate = history[2].clone();
    assert_eq!(label(&duplicate.kind), "TaskSucceeded@0");
    history.insert(3, duplicate);
    match replay_a(&history) {
        ReplayError::CorruptHistory { index, reason, .. } => {
            assert_eq!(index, 3);
            assert!(reason.contains("already completed"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn history_without_start_or_with_events_after_the_end_is_corrupt() {
    let history = history_of_a(true).await;
    assert!(matches!(
        replay_a(&history[1..]),
        ReplayError::CorruptHistory { index: 0, .. }
    ));
    assert!(matches!(replay_a(&[]), ReplayError::CorruptHistory { .. }));
    let mut extended = history.clone();
    extended.push(history[history.len() - 2].clone());
    assert!(matches!(
        replay_a(&extended),
        ReplayError::CorruptHistory { .. }
    ));
}

#[tokio::test]
async fn history_of_another_workflow_is_refused() {
    let history = history_of_a(true).await;
    let error = WorkflowExecutor::replay(registry::workflow("b").unwrap(), &history)
        .err()
        .unwrap();
    assert_eq!(
        error,
        ReplayError::WrongWorkflow {
            expected: "b".into(),
            found: "a".into()
        }
    );
    assert_eq!(error.code(), "EVT1101");
}

#[tokio::test]
async fn history_json_round_trips_and_refuses_unknown_versions() {
    let history = History::new(history_of_a(true).await);
    let text = history.to_json();
    assert_eq!(History::from_json(&text).unwrap(), history);
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["format_version"] = json!(HISTORY_FORMAT_VERSION + 1);
    assert_eq!(
        History::from_json(&value.to_string()).unwrap_err(),
        ReplayError::UnsupportedFormat {
            found: HISTORY_FORMAT_VERSION + 1,
            supported: HISTORY_FORMAT_VERSION
        }
    );
    value["format_version"] = json!(HISTORY_FORMAT_VERSION);
    value["events"][1]["type"] = json!("NoSuchEvent");
    assert!(matches!(
        History::from_json(&value.to_string()).unwrap_err(),
        ReplayError::CorruptHistory { index: 1, .. }
    ));
    assert!(matches!(
        History::from_json("not json").unwrap_err(),
        ReplayError::CorruptHistory { .. }
    ));
}

// ---- sticky and full replay agree ------------------------------------------------------------------

#[task(retry(
    max_attempts = 3,
    backoff = "exponential",
    initial = "2s",
    jitter = 0.3
))]
async fn shaky(n: u64) -> Result<u64, StepError> {
    Ok(n)
}

#[task]
async fn undo(n: u64) -> Result<(), StepError> {
    let _ = n;
    Ok(())
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct ReplayEvent {
    n: u64,
}

#[workflow]
async fn scenario_child(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    ctx.sleep(Duration::from_secs(n)).await;
    Ok(n + ctx.random().to_bits() % 2)
}

#[workflow(timeout = "1d")]
async fn scenario(ctx: WorkflowContext, n: u64) -> Result<serde_json::Value, WorkflowError> {
    let saga = ctx.saga();
    let a = saga.run(shaky(n), undo).await?;
    let (b, c) = futures::join!(
        ctx.child::<scenario_child>(3),
        ctx.expect_signal::<u64>("s", Duration::from_secs(20))
    );
    let started = ctx.now().as_millis();
    let id = ctx.uuid().to_string();
    ctx.emit(ReplayEvent { n: a }).await?;
    let mut stream = ctx.signals::<u64>("s");
    let first_seen = stream.next().await.transpose()?;
    let (winner, index) = race(vec![
        ctx.call_task::<shaky>(n + 1),
        ctx.call_task::<shaky>(n + 2),
    ])
    .await;
    let all_done = all(vec![ctx.call_task::<shaky>(7), ctx.call_task::<shaky>(8)]).await?;
    let last: Result<u64, StepError> = ctx.expect_signal("t", Duration::from_secs(5)).await;
    ctx.sleep(Duration::from_secs(30)).await;
    Ok(json!({
        "a": a, "b": b?, "c": c.map_err(|e| e.kind), "started": started, "id": id,
        "first_seen": first_seen, "winner": winner?, "index": index, "all": all_done,
        "last": last.map_err(|e| e.kind),
    }))
}

/// Drives the same scenario, with the same mocks and outside events, in a mode.
async fn run_scenario(mode: ReplayMode, cancel: bool) -> Vec<(String, Vec<HistoryEvent>)> {
    let env = TestEnvironment::with_replay_mode(mode);
    env.mock_task("shaky").fail_times_then_succeed(
        2,
        StepError::new(StepErrorKind::Failed, "shaky"),
        11,
    );
    let run = env.start::<scenario>(5).unwrap();
    env.run_until_idle().await;
    env.advance(secs(2)).await;
    env.signal(run.id(), "s", 42);
    env.advance(secs(10)).await;
    if cancel {
        env.cancel(run.id(), Some("stop"));
    }
    env.signal(run.id(), "t", 1);
    env.advance(secs(60)).await;
    assert!(env.error(run.id()).is_none(), "{:?}", env.error(run.id()));
    assert!(env.status(run.id()).unwrap().is_terminal());
    env.executions()
        .into_iter()
        .map(|id| {
            let history = env.history(&id);
            (id, history)
        })
        .collect()
}

#[tokio::test]
async fn sticky_and_full_replay_record_identical_histories() {
    for cancel in [false, true] {
        let sticky = run_scenario(ReplayMode::Sticky, cancel).await;
        let full = run_scenario(ReplayMode::FullReplay, cancel).await;
        assert_eq!(sticky.len(), 2);
        assert!(sticky[0].1.len() > 20, "{:?}", shape(&sticky[0].1));
        assert_eq!(sticky, full);
        let last = sticky[0].1.last().unwrap();
        assert_eq!(
            last.kind.type_name(),
            if cancel {
                "WorkflowCancelled"
            } else {
                "WorkflowSucceeded"
            }
        );
        // Every history replays cleanly from scratch.
        for (_, history) in &sticky {
            let name = match &history[0].kind {
                HistoryEventKind::WorkflowStarted { workflow, .. } => workflow.clone(),
                _ => unreachable!(),
            };
            let executor =
                WorkflowExecutor::replay(registry::workflow(&name).unwrap(), history).unwrap();
            assert!(executor.outcome().is_some());
        }
    }
}
