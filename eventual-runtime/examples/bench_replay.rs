//! Replay cost of long histories: records `steps(n)` histories of 1,000 and 10,000 sequential
//! task steps, then times full `WorkflowExecutor::replay`s of each from scratch.
//!
//! `cargo run --release --example bench_replay`
//!
//! Prints per size `steps= events= runs= replay_ms= median_ms= best_ms= us_per_step=`, then
//! `ratio_10k_over_1k=`. Every figure but `best_ms` is a median over the runs: `replay_ms`,
//! `us_per_step` and the ratio used to be best times and now are medians (one lucky run says
//! little on a shared machine). Each replay is checked after its clock stopped: it must end
//! with the workflow's result, the outcome history records, and leave nothing to do.

use eventual_runtime::prelude::*;
use eventual_runtime::registry;
use eventual_runtime::workflow::{
    Command, HistoryEvent, InboxEvent, Outcome, StartRequest, StepOutput, WorkflowExecutor,
};
use eventual_runtime::Timestamp;
use std::time::Instant;

#[task]
async fn step_task(i: u64) -> Result<u64, StepError> {
    Ok(i + 1)
}

#[workflow]
async fn steps(_ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let mut total = 0;
    for i in 0..n {
        total += step_task(i).await?;
    }
    Ok(total)
}

/// Runs `steps(n)` to the end through `start`/`step`, feeding each task its result.
fn record(n: u64) -> Vec<HistoryEvent> {
    let descriptor = registry::workflow("steps").expect("registered");
    let mut now = Timestamp::from_millis(1_767_225_600_000);
    let (mut executor, output) = WorkflowExecutor::start(
        descriptor,
        StartRequest::new(format!("bench-{n}"), serde_json::json!(n)),
        now,
    )
    .expect("start");
    let mut history = output.new_events;
    let mut commands = output.commands;
    while executor.outcome().is_none() {
        let inbox: Vec<InboxEvent> = commands
            .iter()
            .filter_map(|command| match command {
                Command::ScheduleTask(attempt) => Some(InboxEvent::TaskCompleted {
                    seq: attempt.seq,
                    attempt: attempt.attempt,
                    result: Ok(serde_json::json!(attempt.input.as_u64().unwrap_or(0) + 1)),
                }),
                _ => None,
            })
            .collect();
        assert!(!inbox.is_empty(), "the workflow waits for nothing");
        now = now + std::time::Duration::from_millis(1);
        let output = executor.step(now, inbox).expect("step");
        history.extend(output.new_events);
        commands = output.commands;
    }
    history
}

/// What replaying a finished `steps(n)` must give: the sum of `i + 1` for `i` below `n`,
/// which is also the outcome its history ends with.
fn expected_outcome(n: u64, history: &[HistoryEvent]) -> Outcome {
    let expected = Outcome::Succeeded {
        result: serde_json::json!(n * (n + 1) / 2),
    };
    let recorded = history.last().and_then(|event| event.kind.outcome());
    assert_eq!(recorded.as_ref(), Some(&expected), "the recorded outcome");
    expected
}

/// A replayed executor ended as `expected` and, its end being in history already, has no
/// events to append and no commands to carry out.
fn check_replayed(mut executor: WorkflowExecutor, expected: &Outcome, at: Timestamp) {
    assert_eq!(executor.outcome(), Some(expected), "the replayed outcome");
    let leftover = executor.step(at, Vec::new()).expect("an empty step");
    assert_eq!(leftover, StepOutput::default(), "a replay left work to do");
}

/// The median and best time of `runs` full replays, in milliseconds. Only the replay is
/// timed; each one is checked once its clock stopped.
fn time_replay(history: &[HistoryEvent], expected: &Outcome, runs: usize) -> (f64, f64) {
    let descriptor = registry::workflow("steps").expect("registered");
    let end = history.last().expect("a recorded history").at;
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let executor = WorkflowExecutor::replay(descriptor, history).expect("replay");
            let elapsed = start.elapsed().as_secs_f64() * 1_000.0;
            check_replayed(executor, expected, end);
            elapsed
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    (times[times.len() / 2], times[0])
}

fn main() {
    // Extra sizes on the command line (for profiling): `bench_replay 20000 40000`.
    let extra: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let mut medians = Vec::new();
    let sizes: Vec<(u64, usize)> = if extra.is_empty() {
        vec![(1_000, 101), (10_000, 21)]
    } else {
        extra.iter().map(|&n| (n, 5)).collect()
    };
    for (n, runs) in sizes {
        let history = record(n);
        assert_eq!(history.len() as u64, 2 * n + 2);
        let expected = expected_outcome(n, &history);
        let (median, best) = time_replay(&history, &expected, runs);
        println!(
            "steps={n} events={} runs={runs} replay_ms={median:.3} median_ms={median:.3} \
             best_ms={best:.3} us_per_step={:.3}",
            history.len(),
            median * 1_000.0 / n as f64
        );
        medians.push(median);
    }
    if extra.is_empty() {
        println!("ratio_10k_over_1k={:.2}", medians[1] / medians[0]);
    }
}
