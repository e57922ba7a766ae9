//! `ctx.continue_as_new`: a long loop keeps every run's history under a bound, signals are
//! never lost while an execution switches runs, and each run's history replays, on the
//! TestEnvironment (sticky and full replay) and on the local engine.

use eventual_runtime::engine::client::StartExecution;
use eventual_runtime::prelude::*;
use eventual_runtime::registry;
use eventual_runtime::testing::{ReplayMode, TestEnvironment};
use eventual_runtime::time::Timestamp;
use eventual_runtime::workflow::{
    Command, HistoryEvent, HistoryEventKind, InboxEvent, Outcome, StartRequest, WorkflowExecutor,
};
use eventual_tests::local::{encode, InProcess};
use serde::{Deserialize, Serialize};
use serde_json::json;

// ---- a loop of one task or timer per iteration --------------------------------------------

/// Iterations per run: the run continues as new when it has done this many.
const PER_RUN: u64 = 100;

/// The most events a run's history holds: `WorkflowStarted`, two events per iteration (a
/// task's `TaskScheduled` + `TaskSucceeded`, or a timer's `TimerScheduled` + `TimerFired`),
/// and the run's end.
const RUN_HISTORY_BOUND: usize = 2 * PER_RUN as usize + 2;

/// Where the loop stands, handed from run to run.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct LoopState {
    /// The next iteration.
    next: u64,
    /// The iteration the loop stops at.
    until: u64,
    /// The sum of the iterations so far.
    sum: u64,
}

impl LoopState {
    fn start(until: u64) -> Self {
        LoopState {
            next: 0,
            until,
            sum: 0,
        }
    }
}

/// Returns its input: the durable step of an even iteration.
#[task]
pub async fn cn_identity(n: u64) -> Result<u64, StepError> {
    Ok(n)
}

/// Adds 0, 1, ... up to `until` (exclusive): even iterations through a task, odd ones after
/// a 1 ms timer; continues as new every `PER_RUN` iterations.
#[workflow]
pub async fn cn_loop(ctx: WorkflowContext, state: LoopState) -> Result<u64, WorkflowError> {
    let LoopState {
        mut next,
        until,
        mut sum,
    } = state;
    let run_ends_at = next + PER_RUN;
    while next < until {
        if next == run_ends_at {
            return ctx.continue_as_new(LoopState { next, until, sum }).await;
        }
        if next % 2 == 0 {
            sum += cn_identity(next).await?;
        } else {
            ctx.sleep(Duration::from_millis(1)).await;
            sum += next;
        }
        next += 1;
    }
    Ok(sum)
}

fn sum_below(until: u64) -> u64 {
    until * (until - 1) / 2
}

/// Runs the environment until `id` ends, moving the clock to each timer.
async fn run_to_end(env: &TestEnvironment, id: &str) -> Outcome {
    env.run_until_idle().await;
    while env.outcome(id).is_none() {
        let Some(due) = env.next_due() else {
            panic!("{id} waits for nothing: {:?}", env.error(id))
        };
        env.advance(due.duration_since(env.now())).await;
    }
    env.outcome(id).expect("ended")
}

/// Every run but the last ends `WorkflowContinuedAsNew`, each under the bound; the last
/// ends the execution; run ids and links count up.
/// Runs `cn_loop` over `iterations` to its end on `env`; checks its sum; its id and outcome.
async fn loop_to_end(env: &TestEnvironment, iterations: u64) -> (String, Outcome) {
    let run = env
        .start::<cn_loop>(LoopState::start(iterations))
        .expect("start");
    let outcome = run_to_end(env, run.id()).await;
    assert_eq!(
        outcome,
        Outcome::Succeeded {
            result: json!(sum_below(iterations))
        }
    );
    (run.id().to_owned(), outcome)
}

fn check_runs(runs: &[Vec<HistoryEvent>], expected_runs: usize) {
    assert_eq!(runs.len(), expected_runs, "runs");
    for (index, run) in runs.iter().enumerate() {
        assert!(
            run.len() <= RUN_HISTORY_BOUND,
            "run {} holds {} events, over the bound of {RUN_HISTORY_BOUND}",
            index + 1,
            run.len()
        );
        let Some(HistoryEventKind::WorkflowStarted {
            run_id,
            continued_from,
            ..
        }) = run.first().map(|e| &e.kind)
        else {
            panic!("run {} does not begin with WorkflowStarted", index + 1)
        };
        let number = index + 1;
        let expected_id = (number > 1).then(|| format!("run-{number}"));
        let expected_from = (number > 1).then(|| format!("run-{}", number - 1));
        assert_eq!((run_id, continued_from), (&expected_id, &expected_from));
        let last = &run.last().expect("an end").kind;
        if number < expected_runs {
            assert_eq!(last.type_name(), "WorkflowContinuedAsNew", "run {number}");
        } else {
            assert_eq!(last.type_name(), "WorkflowSucceeded", "run {number}");
        }
    }
}

/// Replays each run's history of a `cn_loop` execution through the code.
fn replay_every_run(runs: &[Vec<HistoryEvent>], outcome: &Outcome) {
    replay_every_run_of("cn_loop", runs, outcome)
}

/// Replays each run's history through the code of `workflow`: every run comes back closed,
/// without a non-determinism error, and the last one with the execution's outcome.
fn replay_every_run_of(workflow: &str, runs: &[Vec<HistoryEvent>], outcome: &Outcome) {
    let workflow = registry::workflow(workflow).expect("registered");
    for (index, run) in runs.iter().enumerate() {
        let executor = WorkflowExecutor::replay(workflow, run)
            .unwrap_or_else(|error| panic!("run {} does not replay: {error}", index + 1));
        assert!(executor.is_closed(), "run {} replays open", index + 1);
        if index + 1 == runs.len() {
            assert_eq!(executor.outcome(), Some(outcome));
        } else {
            assert_eq!(executor.outcome(), None, "a continued run has no outcome");
        }
    }
}

#[tokio::test]
async fn ten_thousand_iterations_keep_every_run_under_the_bound_on_the_test_environment() {
    let iterations = 10_000;
    let env = TestEnvironment::new();
    let (id, outcome) = loop_to_end(&env, iterations).await;
    let runs = env.run_histories(&id);
    check_runs(&runs, (iterations / PER_RUN) as usize);
    replay_every_run(&runs, &outcome);
}

/// Sticky and full-replay environments write the same histories, run by run.
#[tokio::test]
async fn full_replay_reproduces_every_run_of_a_sticky_execution() {
    let iterations = 1_000;
    let mut histories = Vec::new();
    for mode in [ReplayMode::Sticky, ReplayMode::FullReplay] {
        let env = TestEnvironment::with_replay_mode(mode);
        let (id, _) = loop_to_end(&env, iterations).await;
        histories.push(env.run_histories(&id));
    }
    check_runs(&histories[0], (iterations / PER_RUN) as usize);
    assert_eq!(histories[0], histories[1]);
}

fn local_start(workflow: &str, input: serde_json::Value) -> StartExecution {
    StartExecution {
        workflow: workflow.to_owned(),
        execution_name: None,
        input,
        correlation_id: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_iterations_keep_every_run_under_the_bound_on_the_local_engine() {
    let iterations = 10_000;
    let local = InProcess::start();
    let engine = local.handle();
    let started = engine
        .start(local_start("cn_loop", json!(LoopState::start(iterations))))
        .await
        .expect("start");
    let outcome = engine.wait(&started.execution_id).await.expect("wait");
    assert_eq!(
        outcome,
        Outcome::Succeeded {
            result: json!(sum_below(iterations))
        }
    );
    let runs = engine
        .run_histories(&started.execution_id)
        .expect("run histories");
    check_runs(&runs, (iterations / PER_RUN) as usize);
    replay_every_run(&runs, &outcome);
    // The served history is the current (last) run's; `?run=` serves any run.
    let id = encode(&started.execution_id);
    let served = local.api.history(&started.execution_id);
    assert_eq!(served.len(), runs.last().map_or(0, Vec::len));
    for (number, run) in [(1, &runs[0]), (runs.len(), &runs[runs.len() - 1])] {
        let reply = local
            .api
            .get(&format!("/executions/{id}/history?run=run-{number}"));
        assert_eq!(reply.status, 200, "run-{number}: {:?}", reply.body);
        assert_eq!(reply.body["events"], json!(run), "run-{number}");
    }
    let missing = local
        .api
        .get(&format!("/executions/{id}/history?run=run-999"));
    assert_eq!(missing.status, 404);
    let message = missing.body["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("run `run-999`"), "{message}");
}

// ---- signals across the switch ------------------------------------------------------------

/// Signals `cn_sink` takes per run before it continues as new.
const TAKEN_PER_RUN: usize = 3;

/// Takes `tick` signals, `TAKEN_PER_RUN` a run, until it has `total`; returns them in order.
#[workflow]
pub async fn cn_sink(
    ctx: WorkflowContext,
    (taken, total): (Vec<u64>, usize),
) -> Result<Vec<u64>, WorkflowError> {
    let mut taken = taken;
    for _ in 0..TAKEN_PER_RUN {
        if taken.len() == total {
            return Ok(taken);
        }
        taken.push(ctx.wait_for_signal("tick").await?);
    }
    if taken.len() == total {
        return Ok(taken);
    }
    ctx.continue_as_new((taken, total)).await
}

fn tick(n: u64) -> InboxEvent {
    InboxEvent::Signal {
        name: "tick".into(),
        payload: json!(n),
        id: Some(format!("tick-{n}")),
    }
}

/// Signals that arrive in the very step where the run continues as new (after the signal
/// that ends the run) go to the next run, ahead of anything later.
#[test]
fn signals_in_the_step_that_continues_go_to_the_next_run() {
    let workflow = registry::workflow("cn_sink").expect("registered");
    let now = Timestamp::from_millis(1_767_225_600_000);
    let (mut first, _) =
        WorkflowExecutor::start(workflow, StartRequest::new("sink", json!([[], 5])), now)
            .expect("start");
    let output = first.step(now, (0..5).map(tick).collect()).expect("step");
    assert!(first.is_closed() && first.outcome().is_none());
    let continuation = output
        .commands
        .into_iter()
        .find_map(|command| match command {
            Command::ContinueAsNew(continuation) => Some(continuation),
            _ => None,
        })
        .expect("the step continues as new");
    assert_eq!(continuation.input, json!([[0, 1, 2], 5]));
    assert_eq!(continuation.carried, vec![tick(3), tick(4)]);
    let next = StartRequest::continued("sink", "sink".into(), None, continuation);
    let (second, started) = WorkflowExecutor::start(workflow, next, now).expect("next run");
    assert_eq!(
        second.outcome(),
        Some(&Outcome::Succeeded {
            result: json!([0, 1, 2, 3, 4])
        })
    );
    let received = started
        .new_events
        .iter()
        .filter(|e| e.kind.type_name() == "SignalReceived")
        .count();
    assert_eq!(received, 2, "the next run records the signals handed on");
}

/// The first run continues as new when `go` comes, leaving `note`s it received untaken; the
/// second run takes two `note`s.
#[workflow]
pub async fn cn_handover(ctx: WorkflowContext, run: u32) -> Result<String, WorkflowError> {
    if run == 0 {
        let _: String = ctx.wait_for_signal("go").await?;
        return ctx.continue_as_new(1).await;
    }
    let first: String = ctx.wait_for_signal("note").await?;
    let second: String = ctx.wait_for_signal("note").await?;
    Ok(format!("{first} {second}"))
}

fn note(text: &str, id: &str) -> InboxEvent {
    InboxEvent::Signal {
        name: "note".into(),
        payload: json!(text),
        id: Some(id.into()),
    }
}

/// A signal a run recorded but never took goes to the next run with its sender's id, so the
/// next run still drops a duplicate delivery of it.
#[test]
fn a_signal_handed_on_keeps_its_id_and_its_duplicates_are_dropped() {
    let workflow = registry::workflow("cn_handover").expect("registered");
    let now = Timestamp::from_millis(1_767_225_600_000);
    let (mut first, _) =
        WorkflowExecutor::start(workflow, StartRequest::new("handover", json!(0)), now)
            .expect("start");
    let recorded = first.step(now, vec![note("x", "n1")]).expect("step");
    assert_eq!(recorded.new_events.len(), 1, "{:?}", recorded.new_events);
    let go = InboxEvent::Signal {
        name: "go".into(),
        payload: json!("go"),
        id: None,
    };
    let output = first.step(now, vec![go]).expect("step");
    let continuation = output
        .commands
        .into_iter()
        .find_map(|command| match command {
            Command::ContinueAsNew(continuation) => Some(continuation),
            _ => None,
        })
        .expect("the step continues as new");
    assert_eq!(continuation.carried, vec![note("x", "n1")]);
    let next = StartRequest::continued("handover", "handover".into(), None, continuation);
    let (mut second, _) = WorkflowExecutor::start(workflow, next, now).expect("next run");
    let output = second
        .step(now, vec![note("x", "n1"), note("y", "n2")])
        .expect("step");
    assert_eq!(
        output.outcome,
        Some(Outcome::Succeeded {
            result: json!("x y")
        }),
        "the duplicate of the handed-on signal is dropped"
    );
}

/// A sender sends signals as fast as the engine takes them while the workflow continues as
/// new every three: every signal is taken once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_sent_while_the_local_engine_switches_runs_are_all_taken_in_order() {
    let total: usize = 300;
    let local = InProcess::start();
    let engine = local.handle();
    let started = engine
        .start(local_start("cn_sink", json!([[], total])))
        .await
        .expect("start");
    let id = started.execution_id;
    for n in 0..total as u64 {
        engine
            .signal(&id, "tick", json!(n), None)
            .await
            .expect("signal");
    }
    let outcome = engine.wait(&id).await.expect("wait");
    assert_eq!(
        outcome,
        Outcome::Succeeded {
            result: json!((0..total as u64).collect::<Vec<_>>())
        }
    );
    let runs = engine.run_histories(&id).expect("run histories");
    assert_eq!(runs.len(), total.div_ceil(TAKEN_PER_RUN));
}

/// The same on the TestEnvironment, where all the signals reach the execution in one step:
/// each run takes three and hands the rest, unrecorded, to the next run. (Signals a run
/// recorded but never took are handed on too: the `continue_as_new` scenario checks that on
/// every engine.)
#[tokio::test]
async fn signals_that_arrive_together_are_handed_from_run_to_run_on_the_test_environment() {
    let total: usize = 10;
    let env = TestEnvironment::new();
    let run = env.start::<cn_sink>((Vec::new(), total)).expect("start");
    for n in 0..total as u64 {
        env.signal(run.id(), "tick", n);
    }
    assert_eq!(
        run_to_end(&env, run.id()).await,
        Outcome::Succeeded {
            result: json!((0..total as u64).collect::<Vec<_>>())
        }
    );
    assert_eq!(
        env.run_histories(run.id()).len(),
        total.div_ceil(TAKEN_PER_RUN)
    );
}

/// Calls a task, then waits for `next`; continues as new with the task's result + 1 until
/// run `last`: each run has a step, so a later run's steps begin after the earlier runs'.
#[workflow]
pub async fn cn_stepper(
    ctx: WorkflowContext,
    (run, last): (u64, u64),
) -> Result<u64, WorkflowError> {
    let run = cn_identity(run).await?;
    let _: String = ctx.wait_for_signal("next").await?;
    if run == last {
        return Ok(run);
    }
    ctx.continue_as_new((run + 1, last)).await
}

/// An execution in its second run survives a restart of the local engine: the engine replays
/// the current run's history (whose steps begin after the first run's), and the signals sent
/// after the restart reach it.
#[test]
fn a_later_run_replays_after_a_restart_of_the_local_engine() {
    use eventual_runtime::engine::local::{EngineConfig, LocalEngine};
    use eventual_tests::local::poll;
    use futures::executor::block_on as block;
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("engine.db");
    let open = || LocalEngine::open(EngineConfig::new(&path)).expect("the engine opens");
    let patience = Duration::from_secs(20);
    let engine = open();
    let handle = engine.handle();
    let started = block(handle.start(local_start("cn_stepper", json!([0, 2])))).expect("start");
    let id = started.execution_id;
    block(handle.signal(&id, "next", json!("go"), None)).expect("signal");
    poll(patience, "run 2 to finish its task", || {
        let runs = handle.run_histories(&id).ok()?;
        let current = runs.last()?;
        (runs.len() == 2
            && current
                .iter()
                .any(|e| e.kind.type_name() == "TaskSucceeded"))
        .then_some(())
    });
    drop(engine);
    let engine = open();
    let handle = engine.handle();
    for _ in 0..2 {
        block(handle.signal(&id, "next", json!("go"), None)).expect("signal after the restart");
    }
    let outcome = poll(patience, "the execution to end", || {
        let row = handle.execution(&id).ok()?;
        assert!(row.error.is_none(), "blocked: {:?}", row.error);
        row.outcome
    });
    assert_eq!(outcome, Outcome::Succeeded { result: json!(2) });
    let runs = handle.run_histories(&id).expect("runs");
    assert_eq!(runs.len(), 3);
    replay_every_run_of("cn_stepper", &runs, &outcome);
}
