//! Properties of the replay executor: how inbox events are split into steps never changes the
//! history, and a full replay of any history rebuilds the same execution.

use eventual_runtime::prelude::*;
use eventual_runtime::registry;
use eventual_runtime::workflow::{
    Command, HistoryEvent, InboxEvent, StartRequest, StepOutput, WorkflowExecutor,
};
use eventual_runtime::{Failure, Timestamp};
use eventual_tests::*;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, Serialize, Deserialize)]
enum Op {
    Task(u64),
    Sleep(u64),
    Signal(u64),
    Pair(u64, u64),
}

#[task(retry(
    max_attempts = 3,
    backoff = "exponential",
    initial = "1s",
    jitter = 0.5
))]
async fn prop_task(n: u64) -> Result<u64, StepError> {
    Ok(n)
}

#[workflow]
async fn prop_flow(ctx: WorkflowContext, ops: Vec<Op>) -> Result<Vec<String>, WorkflowError> {
    let mut log = Vec::new();
    for op in ops {
        let entry = match op {
            Op::Task(n) => format!("task:{:?}", prop_task(n).await.map_err(|e| e.kind)),
            Op::Sleep(s) => {
                ctx.sleep(Duration::from_secs(s)).await;
                format!("slept:{}", ctx.now().as_millis())
            }
            Op::Signal(t) => format!(
                "signal:{:?}",
                ctx.expect_signal::<u64>("sig", Duration::from_secs(t))
                    .await
                    .map_err(|e| e.kind)
            ),
            Op::Pair(n, s) => {
                let (result, ()) = futures::join!(prop_task(n), ctx.sleep(Duration::from_secs(s)));
                format!("pair:{:?}", result.map_err(|e| e.kind))
            }
        };
        log.push(entry);
    }
    Ok(log)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..100).prop_map(Op::Task),
        (1u64..60).prop_map(Op::Sleep),
        (1u64..60).prop_map(Op::Signal),
        ((0u64..100), (1u64..60)).prop_map(|(n, s)| Op::Pair(n, s)),
    ]
}

/// One outside event to deliver: which kind, which pending item, success or not, time step.
#[derive(Clone, Debug)]
struct Choice {
    kind: u8,
    index: usize,
    ok: bool,
    later: bool,
}

fn choice() -> impl Strategy<Value = Choice> {
    (
        0u8..4,
        0usize..8,
        proptest::arbitrary::any::<bool>(),
        proptest::arbitrary::any::<bool>(),
    )
        .prop_map(|(kind, index, ok, later)| Choice {
            kind,
            index,
            ok,
            later,
        })
}

/// What the engine owes the execution: open task attempts and unfired timers.
#[derive(Default)]
struct Pending {
    tasks: BTreeMap<u32, u32>,
    timers: BTreeSet<u32>,
}

impl Pending {
    fn absorb(&mut self, commands: &[Command]) {
        for command in commands {
            match command {
                Command::ScheduleTask(attempt) => {
                    self.tasks.insert(attempt.seq, attempt.attempt);
                }
                Command::StartTimer { seq, .. } => {
                    self.timers.insert(*seq);
                }
                _ => {}
            }
        }
    }
}

fn start(ops: &[Op]) -> (WorkflowExecutor, StepOutput) {
    let descriptor = registry::workflow("prop_flow").unwrap();
    WorkflowExecutor::start(
        descriptor,
        StartRequest::new("prop-1", serde_json::to_value(ops).unwrap()),
        at(secs(0)),
    )
    .unwrap()
}

/// What a one-by-one run delivered and recorded: the timed inbox events, the history, the
/// commands and the live executor.
type OneByOne = (
    Vec<(Timestamp, InboxEvent)>,
    Vec<HistoryEvent>,
    Vec<Command>,
    WorkflowExecutor,
);

/// Runs the workflow delivering one event per step, choosing events from what is pending.
/// Returns the timed events delivered and everything recorded.
fn one_by_one(ops: &[Op], choices: &[Choice]) -> OneByOne {
    let (mut executor, output) = start(ops);
    let mut history = output.new_events;
    let mut commands = output.commands;
    let mut pending = Pending::default();
    pending.absorb(&commands);
    let mut delivered: Vec<(Timestamp, InboxEvent)> = Vec::new();
    let mut now = at(secs(0));
    for (n, choice) in choices.iter().enumerate() {
        if executor.outcome().is_some() {
            break;
        }
        if choice.later {
            now = now + secs(1);
        }
        let mut kind = choice.kind;
        if kind == 0 && pending.tasks.is_empty() {
            kind = 1;
        }
        if kind == 1 && pending.timers.is_empty() {
            kind = 2;
        }
        if kind == 3 && delivered.is_empty() {
            kind = 2;
        }
        let event = match kind {
            0 => {
                let (&seq, &attempt) = pending
                    .tasks
                    .iter()
                    .nth(choice.index % pending.tasks.len())
                    .unwrap();
                pending.tasks.remove(&seq);
                let result = if choice.ok {
                    Ok(json!(seq))
                } else {
                    Err(Failure::new(
                        StepErrorKind::Failed,
                        format!("attempt {attempt}"),
                    ))
                };
                InboxEvent::TaskCompleted {
                    seq,
                    attempt,
                    result,
                }
            }
            1 => {
                let &seq = pending
                    .timers
                    .iter()
                    .nth(choice.index % pending.timers.len())
                    .unwrap();
                pending.timers.remove(&seq);
                InboxEvent::TimerFired { seq }
            }
            2 => InboxEvent::Signal {
                name: "sig".into(),
                payload: json!(n),
                id: Some(format!("s{}", choice.index)),
            },
            // A duplicate delivery of an earlier event.
            _ => delivered[choice.index % delivered.len()].1.clone(),
        };
        let output = executor.step(now, vec![event.clone()]).unwrap();
        pending.absorb(&output.commands);
        history.extend(output.new_events);
        commands.extend(output.commands);
        delivered.push((now, event));
    }
    (delivered, history, commands, executor)
}

/// Delivers the same timed events, events of the same time split into steps at `cuts`.
fn batched(
    ops: &[Op],
    delivered: &[(Timestamp, InboxEvent)],
    cuts: &[bool],
) -> (Vec<HistoryEvent>, Vec<Command>, WorkflowExecutor) {
    let (mut executor, output) = start(ops);
    let mut history = output.new_events;
    let mut commands = output.commands;
    let mut batch: Vec<InboxEvent> = Vec::new();
    let mut batch_time = None;
    for (i, (time, event)) in delivered.iter().enumerate() {
        let cut = cuts.get(i).copied().unwrap_or(false);
        if batch_time.is_some_and(|t| t != *time) || (cut && !batch.is_empty()) {
            let output = executor
                .step(batch_time.unwrap(), std::mem::take(&mut batch))
                .unwrap();
            history.extend(output.new_events);
            commands.extend(output.commands);
        }
        batch_time = Some(*time);
        batch.push(event.clone());
    }
    if let Some(time) = batch_time {
        let output = executor.step(time, batch).unwrap();
        history.extend(output.new_events);
        commands.extend(output.commands);
    }
    (history, commands, executor)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn batching_never_changes_the_history_and_replay_rebuilds_the_execution(
        ops in prop::collection::vec(op(), 0..8),
        choices in prop::collection::vec(choice(), 0..40),
        cuts in prop::collection::vec(proptest::arbitrary::any::<bool>(), 40),
    ) {
        let (delivered, history, commands, mut live) = one_by_one(&ops, &choices);
        let (batched_history, batched_commands, _) = batched(&ops, &delivered, &cuts);
        prop_assert_eq!(&batched_history, &history);
        prop_assert_eq!(&batched_commands, &commands);
        // Every delivered event is in one step: the whole sequence as a single step (per time).
        let (single_history, _, _) = batched(&ops, &delivered, &[]);
        prop_assert_eq!(&single_history, &history);

        // Full replay of the final history.
        let descriptor = registry::workflow("prop_flow").unwrap();
        let mut replayed = WorkflowExecutor::replay(descriptor, &history)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(replayed.outcome(), live.outcome());
        prop_assert!(!replayed.context().is_replaying());
        // ... which then behaves exactly as the live executor.
        let mut pending = Pending::default();
        pending.absorb(&commands);
        let mut next = vec![InboxEvent::Signal { name: "sig".into(), payload: json!(1000), id: None }];
        if let Some((&seq, &attempt)) = pending.tasks.iter().next_back() {
            next.push(InboxEvent::TaskCompleted { seq, attempt, result: Ok(json!(1)) });
        }
        if let Some(&seq) = pending.timers.iter().next_back() {
            next.push(InboxEvent::TimerFired { seq });
        }
        let t = delivered.last().map(|(t, _)| *t).unwrap_or(at(secs(0))) + secs(1);
        let live_next = live.step(t, next.clone()).unwrap();
        let replayed_next = replayed.step(t, next).unwrap();
        prop_assert_eq!(live_next, replayed_next);
    }
}

#[test]
fn the_property_driver_covers_retries_timeouts_and_completion() {
    // A fixed case to check the driver exercises what the property is about.
    let ops = vec![Op::Task(1), Op::Signal(5), Op::Pair(2, 3), Op::Sleep(1)];
    let choices: Vec<Choice> = [
        // Task results carry their seq as the value.
        (0, 0, false, false), // task attempt 1 fails -> retry
        (0, 0, true, true),   // attempt 2 succeeds
        (1, 0, true, true),   // signal timeout fires
        (0, 0, true, false),  // pair's task
        (3, 1, true, false),  // duplicate of attempt 2's result: dropped
        (1, 0, true, true),   // pair's timer
        (1, 0, true, true),   // sleep
    ]
    .into_iter()
    .map(|(kind, index, ok, later)| Choice {
        kind,
        index,
        ok,
        later,
    })
    .collect();
    let (delivered, history, _, live) = one_by_one(&ops, &choices);
    assert_eq!(delivered.len(), 7);
    assert_eq!(
        shape(&history),
        [
            "WorkflowStarted",
            "TaskScheduled@0",
            "TaskAttemptFailed@0",
            "TaskSucceeded@0",
            "TimerScheduled@1",
            "TimerFired@1",
            "TimerScheduled@2",
            "TaskScheduled@3",
            "TaskSucceeded@3",
            "TimerFired@2",
            "TimerScheduled@4",
            "TimerFired@4",
            "ValueRecorded@5",
            "WorkflowSucceeded"
        ]
    );
    assert_eq!(
        live.outcome().cloned().unwrap().into_result().unwrap(),
        json!([
            "task:Ok(0)",
            "signal:Err(SignalTimedOut)",
            "pair:Ok(3)",
            format!("slept:{}", at(secs(4)).as_millis())
        ])
    );
}
