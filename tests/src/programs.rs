//! The differential suite: small workflow programs, generated at random, run on the in-memory
//! `TestEnvironment` and on another engine. Histories, outcomes, the ids and histories of the
//! executions that handlers start, and dead letters must be identical.
//!
//! A program is data interpreted by one workflow, [`dp_program`]: task calls that succeed,
//! fail, retry or time out; timers; signals sent before and after the wait, or never; children
//! that succeed, fail, are cancelled, or are left running for the parent-close policy; saga
//! steps; emitted events whose handler starts a workflow or fails into the dead-letter queue;
//! and an end by return, cancel or terminate. The driver acts only when history shows the
//! program waiting for it, so every engine sees the same order of events, however fast its
//! clock runs; on an engine that can, it also restarts the engine at such a point.

use crate::scenarios::ended;
use eventual_runtime::engine::client::StartExecution;
use eventual_runtime::engine::Engine;
use eventual_runtime::prelude::*;
use eventual_runtime::workflow::{HistoryEvent, HistoryEventKind, Outcome};
use futures::future::BoxFuture;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

// ---- programs -----------------------------------------------------------------------------------

/// A program for [`dp_program`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Program {
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// How the program ends.
    pub end: End,
    /// Whether the driver restarts the engine at its first action (where the engine can).
    pub restart: bool,
}

/// One step of a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    /// Calls `dp_task`.
    Task(TaskPlan),
    /// Calls `dp_task` in the program's saga, with `dp_undo` as its compensation.
    SagaTask(TaskPlan),
    /// Sleeps this many milliseconds.
    Sleep(u64),
    /// Waits for a signal.
    Signal(SignalPlan),
    /// Starts `dp_child`.
    Child(ChildPlan),
    /// Emits a `DpEvent`; its handler starts `dp_echo`, or fails for good.
    Emit {
        /// Whether the handler fails (and dead-letters the event).
        handler_fails: bool,
    },
}

/// What the attempts of a `dp_task` call do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskPlan {
    /// The first attempt succeeds.
    Succeed,
    /// The first attempt fails, the retry succeeds.
    FailThenSucceed,
    /// Every attempt fails.
    FailForGood,
    /// The first attempt never answers (it defers to a token nobody uses) and times out.
    TimeOutOnce,
}

/// When the signal a step waits for is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignalPlan {
    /// Before the program waits: it is buffered.
    BeforeWait,
    /// While the program waits.
    AfterWait,
    /// Never: the wait times out.
    Never,
}

/// What a child does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChildPlan {
    /// Runs a task and succeeds; the parent awaits it.
    Succeed,
    /// Fails; the parent awaits it.
    Fail,
    /// Waits until the driver cancels it; the parent awaits it.
    CancelledByDriver,
    /// Waits forever, not awaited: the parent-close policy cancels it.
    Detached,
}

/// How a program ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum End {
    /// It returns.
    Return,
    /// It waits, and the driver cancels it.
    Cancel,
    /// It waits, and the driver terminates it.
    Terminate,
}

/// A wait marker: the driver recognizes a wait by the length of its timer. Markers are far
/// longer than any real wait of a program, so a virtual clock never fires them first.
const GATE: Duration = Duration::from_secs(20 * 60);
const AWAITED_SIGNAL: Duration = Duration::from_secs(10 * 60);
const HOLD: Duration = Duration::from_secs(24 * 3600);
/// The timeout of a signal that never comes.
const NEVER: Duration = Duration::from_millis(50);

/// A `dp_task` call.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct TaskCall {
    /// What its attempts do.
    pub plan: TaskPlan,
    /// The step that calls it.
    pub index: usize,
}

/// Does what its plan says.
#[task(
    timeout = "300ms",
    retry(max_attempts = 3, backoff = "fixed", initial = "20ms", jitter = 0.0)
)]
pub async fn dp_task(call: TaskCall) -> Result<String, StepError> {
    let attempt = eventual_runtime::task::attempt().unwrap_or(1);
    let fail = |why: &str| Err(StepError::new(StepErrorKind::Failed, why));
    match call.plan {
        TaskPlan::FailThenSucceed if attempt == 1 => fail("flaky"),
        TaskPlan::FailForGood => fail("broken"),
        TaskPlan::TimeOutOnce if attempt == 1 => eventual_runtime::task::complete_later(),
        _ => Ok(format!("t{}", call.index)),
    }
}

/// Undoes a saga step.
#[task]
pub async fn dp_undo(done: String) -> Result<String, StepError> {
    Ok(format!("undo {done}"))
}

/// What a child does, by its plan.
#[workflow]
pub async fn dp_child(ctx: WorkflowContext, plan: ChildPlan) -> Result<String, WorkflowError> {
    match plan {
        ChildPlan::Succeed => {
            let call = TaskCall {
                plan: TaskPlan::Succeed,
                index: 0,
            };
            Ok(dp_task(call).await?)
        }
        ChildPlan::Fail => Err(WorkflowError::new("ChildFailed", "as planned")),
        ChildPlan::CancelledByDriver | ChildPlan::Detached => {
            let () = ctx.expect_signal("hold", HOLD).await?;
            Ok("released".to_owned())
        }
    }
}

/// The event a program emits.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DpEvent {
    /// The emitting step.
    pub index: usize,
    /// Whether the handler fails.
    pub fails: bool,
}

/// Starts `dp_echo` without a name (its id derives from the delivery), or fails for good.
#[on_event(
    pattern = r#"{"detail-type": ["DpEvent"]}"#,
    retry(max_attempts = 2, backoff = "fixed", initial = "20ms", jitter = 0.0)
)]
pub async fn dp_on_event(event: Event<DpEvent>) -> Result<(), String> {
    if event.detail.fails {
        return Err(format!("step {} refuses", event.detail.index));
    }
    let client = eventual_runtime::engine::client::Client::current()
        .ok_or_else(|| "outside a handler".to_owned())?;
    client
        .start::<dp_echo>(None, &event.detail.index)
        .map_err(|error| error.to_string())?;
    Ok(())
}

/// Started by `dp_on_event`.
#[workflow]
pub async fn dp_echo(_ctx: WorkflowContext, index: usize) -> Result<usize, WorkflowError> {
    Ok(index)
}

fn entry<T: ToString>(result: Result<T, impl std::fmt::Display>) -> String {
    match result {
        Ok(value) => value.to_string(),
        Err(error) => format!("error: {error}"),
    }
}

/// Interprets a program: what each step gave, in order. A program with saga steps that saw a
/// failure compensates and fails.
#[workflow]
pub async fn dp_program(ctx: WorkflowContext, program: Program) -> Result<String, WorkflowError> {
    let saga = ctx.saga();
    let mut log = Vec::new();
    for (index, step) in program.steps.iter().copied().enumerate() {
        let call = |plan| TaskCall { plan, index };
        log.push(match step {
            Step::Task(plan) => entry(dp_task(call(plan)).await),
            Step::SagaTask(plan) => entry(saga.run(dp_task(call(plan)), dp_undo).await),
            Step::Sleep(ms) => {
                ctx.sleep(Duration::from_millis(ms)).await;
                "slept".to_owned()
            }
            Step::Signal(plan) => {
                if plan == SignalPlan::BeforeWait {
                    let _gate: String = ctx.expect_signal(&format!("g{index}"), GATE).await?;
                }
                let timeout = if plan == SignalPlan::Never {
                    NEVER
                } else {
                    AWAITED_SIGNAL
                };
                entry(
                    ctx.expect_signal::<String>(&format!("s{index}"), timeout)
                        .await,
                )
            }
            Step::Child(ChildPlan::Detached) => {
                drop(ctx.child::<dp_child>(ChildPlan::Detached));
                "detached".to_owned()
            }
            Step::Child(plan) => entry(ctx.child::<dp_child>(plan).await),
            Step::Emit { handler_fails } => {
                ctx.emit(DpEvent {
                    index,
                    fails: handler_fails,
                })
                .await?;
                "emitted".to_owned()
            }
        });
    }
    if program.end != End::Return {
        let () = ctx.expect_signal("hold", HOLD).await?;
    }
    let failed = log.iter().any(|entry| entry.starts_with("error"));
    let saga_steps = program.steps.iter().any(|s| matches!(s, Step::SagaTask(_)));
    if failed && saga_steps {
        saga.compensate().await;
        return Err(WorkflowError::new("ProgramFailed", log.join("; ")));
    }
    Ok(log.join("; "))
}

// ---- generation ---------------------------------------------------------------------------------

fn task_plan() -> impl Strategy<Value = TaskPlan> {
    prop_oneof![
        3 => Just(TaskPlan::Succeed),
        2 => Just(TaskPlan::FailThenSucceed),
        1 => Just(TaskPlan::FailForGood),
        1 => Just(TaskPlan::TimeOutOnce),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => task_plan().prop_map(Step::Task),
        2 => task_plan().prop_map(Step::SagaTask),
        1 => (1u64..40).prop_map(Step::Sleep),
        2 => prop_oneof![
            Just(SignalPlan::BeforeWait),
            Just(SignalPlan::AfterWait),
            Just(SignalPlan::Never)
        ]
        .prop_map(Step::Signal),
        2 => prop_oneof![
            Just(ChildPlan::Succeed),
            Just(ChildPlan::Fail),
            Just(ChildPlan::CancelledByDriver),
            Just(ChildPlan::Detached)
        ]
        .prop_map(Step::Child),
        1 => proptest::arbitrary::any::<bool>().prop_map(|handler_fails| Step::Emit { handler_fails }),
    ]
}

/// Programs of one to five steps.
pub fn program() -> impl Strategy<Value = Program> {
    let end = prop_oneof![
        3 => Just(End::Return),
        1 => Just(End::Cancel),
        1 => Just(End::Terminate)
    ];
    (
        prop::collection::vec(step(), 1..=5),
        end,
        proptest::arbitrary::any::<bool>(),
    )
        .prop_map(|(steps, end, restart)| Program {
            steps,
            end,
            restart,
        })
}

// ---- the driver ---------------------------------------------------------------------------------

/// An engine under test: [`Subject::engine`] reaches it (anew after a restart).
pub trait Subject: Send + Sync {
    /// The engine as it is now.
    fn engine(&self) -> Arc<dyn Engine>;
    /// Restarts the engine on its storage, if it has any; what it had accepted goes on.
    fn restart(&self) {}
    /// Lets a little time pass while the driver waits for the program.
    fn pass_time(&self) -> BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(Duration::from_millis(10)))
    }
}

/// How far the virtual clock may jump while the driver waits: past every real wait of a
/// program, short of every wait marker.
const VIRTUAL_STEP: Duration = Duration::from_secs(60);

impl Subject for Arc<eventual_runtime::testing::TestEnvironment> {
    fn engine(&self) -> Arc<dyn Engine> {
        self.clone()
    }

    fn pass_time(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let now = self.now();
            match self.next_due() {
                Some(at) if at <= now + VIRTUAL_STEP => self.advance(at.duration_since(now)).await,
                _ => tokio::task::yield_now().await,
            }
        })
    }
}

/// How long the driver waits for a program to reach a point.
const PATIENCE: Duration = Duration::from_secs(60);

/// Polls `check` until it gives a value, letting the subject's time pass in between.
async fn eventually<T>(
    subject: &dyn Subject,
    what: &str,
    mut check: impl AsyncFnMut(&dyn Engine) -> Option<T>,
) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check(&*subject.engine()).await {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        subject.pass_time().await;
    }
}

async fn history_of(engine: &dyn Engine, execution: &str) -> Vec<HistoryEvent> {
    engine.history(execution).await.unwrap_or_default()
}

/// Counts the timers of history whose length is `marker`.
fn markers(history: &[HistoryEvent], marker: Duration) -> usize {
    history
        .iter()
        .filter(|e| match &e.kind {
            HistoryEventKind::TimerScheduled { until, .. } => {
                until.duration_since(e.at).as_millis() == marker.as_millis()
            }
            _ => false,
        })
        .count()
}

/// Waits until `execution` has `count` wait markers of length `marker`.
async fn waiting(subject: &dyn Subject, execution: &str, marker: Duration, count: usize) {
    eventually(subject, "a wait", async |engine| {
        (markers(&history_of(engine, execution).await, marker) >= count).then_some(())
    })
    .await;
}

/// The driver's actions happen one after another; the first restarts the engine if the
/// program says so.
struct Driver<'a> {
    subject: &'a dyn Subject,
    restart: bool,
}

impl Driver<'_> {
    fn before_acting(&mut self) {
        if std::mem::take(&mut self.restart) {
            self.subject.restart();
        }
    }

    fn engine(&self) -> Arc<dyn Engine> {
        self.subject.engine()
    }
}

/// Runs `program` under the root execution name `root` and returns its trace: everything an
/// engine must agree on, with times left out and `root` replaced by `ROOT`.
pub async fn run(subject: &dyn Subject, program: &Program, root: &str) -> Value {
    let engine = subject.engine();
    let input = serde_json::to_value(program).expect("a program serializes");
    engine
        .start(StartExecution {
            workflow: "dp_program".to_owned(),
            execution_name: Some(root.to_owned()),
            input,
            correlation_id: None,
        })
        .await
        .expect("the program starts");
    let mut driver = Driver {
        subject,
        restart: program.restart,
    };
    let (mut gates, mut awaited, mut cancelled_children) = (0, 0, 0);
    for (index, step) in program.steps.iter().enumerate() {
        match step {
            Step::Signal(SignalPlan::BeforeWait) => {
                gates += 1;
                waiting(subject, root, GATE, gates).await;
                driver.before_acting();
                let engine = driver.engine();
                for name in [format!("s{index}"), format!("g{index}")] {
                    engine
                        .signal(root, &name, json!(name))
                        .await
                        .expect("signal");
                }
            }
            Step::Signal(SignalPlan::AfterWait) => {
                awaited += 1;
                waiting(subject, root, AWAITED_SIGNAL, awaited).await;
                driver.before_acting();
                let name = format!("s{index}");
                driver
                    .engine()
                    .signal(root, &name, json!(name))
                    .await
                    .expect("signal");
            }
            Step::Child(ChildPlan::CancelledByDriver) => {
                cancelled_children += 1;
                let child = nth_child(
                    subject,
                    root,
                    ChildPlan::CancelledByDriver,
                    cancelled_children,
                )
                .await;
                waiting(subject, &child, HOLD, 1).await;
                driver.before_acting();
                driver.engine().cancel(&child, None).await.expect("cancel");
            }
            _ => {}
        }
    }
    if program.end != End::Return {
        waiting(subject, root, HOLD, 1).await;
        driver.before_acting();
        let engine = driver.engine();
        let interrupted = match program.end {
            End::Cancel => engine.cancel(root, Some("driver".into())).await,
            _ => engine.terminate(root, Some("driver".into())).await,
        };
        interrupted.expect("the interrupt");
    }
    let engine = subject.engine();
    let (outcome, history) = ended(&*engine, root).await;
    let mut children = Vec::new();
    for child in scheduled_children(&history) {
        // On an engine with queues, a child starts a little after its parent asked.
        let (outcome, history) = started_then_ended(subject, &child).await;
        children.push(json!({"id": child, "outcome": outcome, "history": history}));
    }
    let mut echoes = Vec::new();
    let mut failing_events = Vec::new();
    for event in emitted(&history) {
        if event.detail["fails"] == true {
            failing_events.push(event.id.clone());
            continue;
        }
        let echo = format!("dp_echo-{}.dp_on_event/0", event.id);
        let (outcome, history) = started_then_ended(subject, &echo).await;
        echoes.push(json!({"id": echo, "outcome": outcome, "history": history}));
    }
    let dead_letters = dead_letters_of(subject, &failing_events).await;
    let trace = json!({
        "outcome": outcome,
        "history": history,
        "children": children,
        "echoes": echoes,
        "dead_letters": dead_letters,
    });
    normalize(trace, root)
}

/// Waits for an execution someone else starts, then for its end.
async fn started_then_ended(
    subject: &dyn Subject,
    execution: &str,
) -> (Outcome, Vec<HistoryEvent>) {
    eventually(subject, execution, async |engine| {
        engine.history(execution).await.ok()
    })
    .await;
    ended(&*subject.engine(), execution).await
}

/// The id of the `n`-th child of `parent` with `plan`, once the parent has started it.
async fn nth_child(subject: &dyn Subject, parent: &str, plan: ChildPlan, n: usize) -> String {
    let plan = serde_json::to_value(plan).expect("a plan serializes");
    let of_plan = move |history: &[HistoryEvent]| -> Vec<String> {
        history
            .iter()
            .filter_map(|e| match &e.kind {
                HistoryEventKind::ChildWorkflowScheduled {
                    execution_id,
                    input,
                    ..
                } if *input == plan => Some(execution_id.clone()),
                _ => None,
            })
            .collect()
    };
    eventually(subject, "a child", async |engine| {
        of_plan(&history_of(engine, parent).await)
            .get(n - 1)
            .cloned()
    })
    .await
}

fn scheduled_children(history: &[HistoryEvent]) -> Vec<String> {
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

fn emitted(history: &[HistoryEvent]) -> Vec<eventual_runtime::event::EventEnvelope> {
    history
        .iter()
        .flat_map(|e| match &e.kind {
            HistoryEventKind::EventsEmitted { events, .. } => events.clone(),
            _ => Vec::new(),
        })
        .collect()
}

/// The dead letters of `events`, once each has one, in event order: subscription, event,
/// attempts and error (ids and times are the engine's).
async fn dead_letters_of(subject: &dyn Subject, events: &[String]) -> Vec<Value> {
    eventually(subject, "the dead letters", async |engine| {
        let letters = engine.dead_letters().await.expect("dead letters");
        let found: Vec<Value> = events
            .iter()
            .filter_map(|id| letters.iter().find(|letter| letter.event.id == *id))
            .map(|letter| {
                json!({
                    "subscription": letter.subscription,
                    "event": letter.event.id,
                    "attempts": letter.attempts,
                    "error": letter.error,
                })
            })
            .collect();
        (found.len() == events.len()).then_some(found)
    })
    .await
}

/// Leaves out what differs by nature between engines (times, the ids engines give outside
/// signals), and names the root `ROOT`.
fn normalize(value: Value, root: &str) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(key, _)| {
                    !matches!(
                        key.as_str(),
                        "at" | "until" | "retry_at" | "time" | "deadline" | "failed_at"
                    )
                })
                .map(|(key, value)| (key, normalize(value, root)))
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| normalize(v, root)).collect())
        }
        // An outside signal's id is unique per engine by nature, as a fresh execution id is.
        Value::String(text) if text.starts_with("signal-") => Value::String("signal-*".into()),
        Value::String(text) => Value::String(text.replace(root, "ROOT")),
        other => other,
    }
}

/// Runs `cases` generated programs on a fresh `TestEnvironment` and on a subject from `make`,
/// and requires the same traces; a failure shrinks to a smallest program. `tag` keeps the
/// root names of the subject's runs apart from other tests'.
pub fn differential(
    runtime: &tokio::runtime::Runtime,
    cases: u32,
    tag: &str,
    make: impl Fn() -> Box<dyn Subject>,
) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let counter = std::sync::atomic::AtomicU64::new(0);
    let result = runner.run(&program(), |program| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let root = format!("dp-{tag}-{n}");
        let reference = Arc::new(eventual_runtime::testing::TestEnvironment::new());
        let expected = runtime.block_on(run(&reference, &program, &root));
        let subject = make();
        let actual = runtime.block_on(run(&*subject, &program, &root));
        prop_assert_eq!(
            &actual,
            &expected,
            "the engine disagrees with the TestEnvironment on {:?}",
            program
        );
        Ok::<(), TestCaseError>(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}

// ---- continue-as-new ----------------------------------------------------------------------------

/// What [`dp_loop`] hands from run to run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoopState {
    /// This run's index, from 0.
    pub run: usize,
    /// What the earlier runs got.
    pub done: Vec<String>,
}

/// The runs of [`dp_loop`]: every run but the last continues as new.
pub const LOOP_RUNS: usize = 4;
/// The run that continues as new as soon as `go` comes, while the driver sends `note`.
const SWITCH_RUN: usize = 1;

/// A loop over runs: each run but the last calls `dp_task` and continues as new; run
/// [`SWITCH_RUN`] first waits for `go`, and the driver sends `note` right after it, so `note`
/// arrives while that run continues as new; only the last run takes `note`, so it must be
/// handed on from run to run whenever it arrived.
#[workflow]
pub async fn dp_loop(ctx: WorkflowContext, state: LoopState) -> Result<String, WorkflowError> {
    let mut done = state.done;
    if state.run + 1 == LOOP_RUNS {
        done.push(ctx.wait_for_signal("note").await?);
        return Ok(done.join("; "));
    }
    let call = TaskCall {
        plan: TaskPlan::Succeed,
        index: state.run,
    };
    done.push(dp_task(call).await?);
    if state.run == SWITCH_RUN {
        done.push(ctx.expect_signal("go", GATE).await?);
    }
    ctx.continue_as_new(LoopState {
        run: state.run + 1,
        done,
    })
    .await
}

/// Runs [`dp_loop`] under the root name `root`, sending `go` and then at once `note` when run
/// [`SWITCH_RUN`] waits, and returns its trace: the outcome and every run's history. Where
/// `note` is recorded before the run that takes it depends on when it arrived (in the run that
/// was switching, then carried on, or in a later one), so the ended runs' traces leave it out;
/// the last run's history and the outcome show that it got there.
pub async fn run_continue_as_new(subject: &dyn Subject, root: &str) -> Value {
    let engine = subject.engine();
    engine
        .start(StartExecution {
            workflow: "dp_loop".to_owned(),
            execution_name: Some(root.to_owned()),
            input: json!(LoopState::default()),
            correlation_id: None,
        })
        .await
        .expect("the loop starts");
    waiting(subject, root, GATE, 1).await;
    for name in ["go", "note"] {
        engine
            .signal(root, name, json!(name))
            .await
            .expect("signal");
    }
    let (outcome, _) = ended(&*subject.engine(), root).await;
    let mut runs = Vec::new();
    for number in 1..=LOOP_RUNS {
        let run_id = format!("run-{number}");
        let mut history = subject
            .engine()
            .run_history(root, &run_id)
            .await
            .unwrap_or_else(|error| panic!("{run_id} of {root}: {error}"));
        if number < LOOP_RUNS {
            history.retain(|event| {
                !matches!(&event.kind, HistoryEventKind::SignalReceived { name, .. } if name == "note")
            });
        }
        runs.push(history);
    }
    normalize(json!({ "outcome": outcome, "runs": runs }), root)
}

/// Runs [`run_continue_as_new`] on a fresh `TestEnvironment` and on a subject from `make`, and
/// requires the same traces. `tag` keeps the subject's root name apart from other tests'.
pub fn differential_continue_as_new(
    runtime: &tokio::runtime::Runtime,
    tag: &str,
    make: impl Fn() -> Box<dyn Subject>,
) {
    let root = format!("dp-loop-{tag}");
    let reference = Arc::new(eventual_runtime::testing::TestEnvironment::new());
    let expected = runtime.block_on(run_continue_as_new(&reference, &root));
    assert_eq!(
        expected["outcome"]["result"],
        json!("t0; t1; go; t2; note"),
        "{expected:#}"
    );
    let subject = make();
    let actual = runtime.block_on(run_continue_as_new(&*subject, &root));
    assert_eq!(
        actual, expected,
        "the engine disagrees with the TestEnvironment on continue-as-new"
    );
}
