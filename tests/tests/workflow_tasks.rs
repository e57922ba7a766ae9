//! Task outcomes (mocked and real), retries and backoff on the virtual clock, completion
//! tokens.

use eventual_runtime::prelude::*;
use eventual_runtime::task::{token_claims, CompletionToken, TokenError, TokenSigner};
use eventual_runtime::testing::TestEnvironment;
use eventual_runtime::workflow::HistoryEventKind;
use eventual_runtime::{Failure, Timestamp};
use eventual_tests::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::fmt;
use std::sync::Mutex;

/// A task's own error type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum PaymentError {
    Declined { code: u32 },
    Step(StepError),
}

impl fmt::Display for PaymentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PaymentError::Declined { code } => write!(f, "card declined ({code})"),
            PaymentError::Step(error) => write!(f, "{error}"),
        }
    }
}

impl From<StepError> for PaymentError {
    fn from(error: StepError) -> Self {
        PaymentError::Step(error)
    }
}

#[task]
async fn charge(amount: u64) -> Result<String, PaymentError> {
    Ok(format!("receipt-{amount}"))
}

#[task(retry(max_attempts = 3, backoff = "fixed", initial = "5s", jitter = 0.0))]
async fn flaky(n: u64) -> Result<u64, PaymentError> {
    Ok(n)
}

#[task(timeout = "30s")]
async fn bounded(n: u64) -> Result<u64, PaymentError> {
    Ok(n)
}

#[task(timeout = "1h", heartbeat = "10s")]
async fn beating(n: u64) -> Result<u64, PaymentError> {
    Ok(n)
}

#[workflow]
async fn pay(_ctx: WorkflowContext, amount: u64) -> Result<String, PaymentError> {
    charge(amount).await
}

#[workflow]
async fn pay_flaky(_ctx: WorkflowContext, n: u64) -> Result<u64, PaymentError> {
    flaky(n).await
}

#[workflow]
async fn pay_bounded(_ctx: WorkflowContext, n: u64) -> Result<u64, PaymentError> {
    bounded(n).await
}

#[workflow]
async fn pay_beating(_ctx: WorkflowContext, n: u64) -> Result<u64, PaymentError> {
    beating(n).await
}

fn step_kind(error: PaymentError) -> StepErrorKind {
    match error {
        PaymentError::Step(error) => error.kind,
        other => panic!("expected a step error, got {other:?}"),
    }
}

// ---- mock outcomes -----------------------------------------------------------------------------

#[tokio::test]
async fn mock_succeed() {
    let env = TestEnvironment::new();
    env.mock_task("charge").succeed("mocked-receipt");
    let run = env.start::<pay>(10).unwrap();
    env.run_until_idle().await;
    assert_eq!(env.result::<pay>(&run).unwrap().unwrap(), "mocked-receipt");
    assert_eq!(env.task_runs("charge"), 1);
}

#[tokio::test]
async fn real_body_runs_without_a_mock() {
    let env = TestEnvironment::new();
    let run = env.start::<pay>(10).unwrap();
    env.run_until_idle().await;
    assert_eq!(env.result::<pay>(&run).unwrap().unwrap(), "receipt-10");
}

#[tokio::test]
async fn mock_fail_gives_the_workflow_the_tasks_own_error() {
    let env = TestEnvironment::new();
    env.mock_task("charge")
        .fail(PaymentError::Declined { code: 51 });
    let run = env.start::<pay>(10).unwrap();
    env.run_until_idle().await;
    assert_eq!(
        env.result::<pay>(&run).unwrap().unwrap_err(),
        PaymentError::Declined { code: 51 }
    );
    let history = env.history(run.id());
    assert_eq!(
        shape(&history),
        [
            "WorkflowStarted",
            "TaskScheduled@0",
            "TaskFailed@0",
            "WorkflowFailed"
        ]
    );
    match &history[2].kind {
        HistoryEventKind::TaskFailed { attempt, error, .. } => {
            assert_eq!(*attempt, 1);
            assert_eq!(error.kind, StepErrorKind::Failed);
            assert_eq!(error.message, "card declined (51)");
            assert_eq!(error.error, Some(json!({"Declined": {"code": 51}})));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn mock_fail_once_then_succeed_with_retry() {
    let env = TestEnvironment::new();
    env.mock_task("flaky")
        .fail_once_then_succeed(PaymentError::Declined { code: 1 }, 99);
    let run = env.start::<pay_flaky>(1).unwrap();
    env.run_until_idle().await;
    assert!(env.result::<pay_flaky>(&run).is_none());
    env.advance(millis(4_999)).await;
    assert_eq!(env.task_runs("flaky"), 1);
    env.advance(millis(1)).await;
    assert_eq!(env.task_runs("flaky"), 2);
    assert_eq!(env.result::<pay_flaky>(&run).unwrap().unwrap(), 99);
    assert_eq!(
        timeline(&env.history(run.id())),
        [
            ("WorkflowStarted".to_owned(), 0),
            ("TaskScheduled@0".to_owned(), 0),
            ("TaskAttemptFailed@0".to_owned(), 0),
            ("TaskSucceeded@0".to_owned(), 5_000),
            ("WorkflowSucceeded".to_owned(), 5_000),
        ]
    );
}

#[tokio::test]
async fn fail_once_without_retry_fails_for_good() {
    let env = TestEnvironment::new();
    env.mock_task("charge")
        .fail_once_then_succeed(PaymentError::Declined { code: 2 }, "never");
    let run = env.start::<pay>(1).unwrap();
    env.advance(secs(3600)).await;
    assert_eq!(
        env.result::<pay>(&run).unwrap().unwrap_err(),
        PaymentError::Declined { code: 2 }
    );
    assert_eq!(env.task_runs("charge"), 1);
}

#[tokio::test]
async fn mock_time_out_with_a_task_timeout() {
    let env = TestEnvironment::new();
    env.mock_task("bounded").time_out();
    let run = env.start::<pay_bounded>(1).unwrap();
    env.advance(millis(29_999)).await;
    assert!(env.result::<pay_bounded>(&run).is_none());
    env.advance(millis(1)).await;
    assert_eq!(
        step_kind(env.result::<pay_bounded>(&run).unwrap().unwrap_err()),
        StepErrorKind::TimedOut
    );
    assert_eq!(
        timeline(&env.history(run.id()))[2],
        ("TaskFailed@0".to_owned(), 30_000)
    );
}

#[tokio::test]
async fn mock_time_out_without_a_timeout_fails_at_once() {
    let env = TestEnvironment::new();
    env.mock_task("charge").time_out();
    let run = env.start::<pay>(1).unwrap();
    env.run_until_idle().await;
    assert_eq!(
        step_kind(env.result::<pay>(&run).unwrap().unwrap_err()),
        StepErrorKind::TimedOut
    );
    assert_eq!(env.now(), at(secs(0)));
}

#[tokio::test]
async fn never_finish_without_timeout_waits_forever() {
    let env = TestEnvironment::new();
    env.mock_task("charge").never_finish();
    let run = env.start::<pay>(1).unwrap();
    env.advance(secs(365 * 24 * 3600)).await;
    assert!(env.result::<pay>(&run).is_none());
    assert_eq!(
        shape(&env.history(run.id())),
        ["WorkflowStarted", "TaskScheduled@0"]
    );
    assert_eq!(env.task_runs("charge"), 1);
}

#[tokio::test]
async fn never_finish_with_timeout_times_out() {
    let env = TestEnvironment::new();
    env.mock_task("bounded").never_finish();
    let run = env.start::<pay_bounded>(1).unwrap();
    env.advance(secs(29)).await;
    assert!(env.result::<pay_bounded>(&run).is_none());
    env.advance(secs(1)).await;
    assert_eq!(
        step_kind(env.result::<pay_bounded>(&run).unwrap().unwrap_err()),
        StepErrorKind::TimedOut
    );
}

#[tokio::test]
async fn never_finish_with_heartbeat_misses_it() {
    let env = TestEnvironment::new();
    env.mock_task("beating").never_finish();
    let run = env.start::<pay_beating>(1).unwrap();
    env.advance(millis(9_999)).await;
    assert!(env.result::<pay_beating>(&run).is_none());
    env.advance(millis(1)).await;
    assert_eq!(
        step_kind(env.result::<pay_beating>(&run).unwrap().unwrap_err()),
        StepErrorKind::HeartbeatMissed
    );
    assert_eq!(
        timeline(&env.history(run.id()))[2],
        ("TaskFailed@0".to_owned(), 10_000)
    );
}

#[tokio::test]
async fn heartbeats_below_the_limit_keep_the_attempt_alive() {
    let env = TestEnvironment::new();
    env.mock_task("beating")
        .heartbeat_then_succeed(secs(6), 5, 77);
    let run = env.start::<pay_beating>(1).unwrap();
    env.advance(secs(29)).await;
    assert!(env.result::<pay_beating>(&run).is_none());
    env.advance(secs(1)).await;
    assert_eq!(env.result::<pay_beating>(&run).unwrap().unwrap(), 77);
    assert_eq!(
        timeline(&env.history(run.id()))[2],
        ("TaskSucceeded@0".to_owned(), 30_000)
    );
}

#[tokio::test]
async fn heartbeats_above_the_limit_fail_the_attempt() {
    let env = TestEnvironment::new();
    env.mock_task("beating")
        .heartbeat_then_succeed(secs(11), 2, 77);
    let run = env.start::<pay_beating>(1).unwrap();
    env.advance(secs(60)).await;
    assert_eq!(
        step_kind(env.result::<pay_beating>(&run).unwrap().unwrap_err()),
        StepErrorKind::HeartbeatMissed
    );
    assert_eq!(
        timeline(&env.history(run.id()))[2],
        ("TaskFailed@0".to_owned(), 10_000)
    );
}

#[tokio::test]
async fn mock_panic_is_panicked() {
    let env = TestEnvironment::new();
    env.mock_task("charge").panic("boom");
    let run = env.start::<pay>(1).unwrap();
    env.run_until_idle().await;
    match env.result::<pay>(&run).unwrap().unwrap_err() {
        PaymentError::Step(error) => {
            assert_eq!(error.kind, StepErrorKind::Panicked);
            assert_eq!(error.message, "boom");
        }
        other => panic!("unexpected {other:?}"),
    }
}

// ---- completion tokens -------------------------------------------------------------------------

#[tokio::test]
async fn complete_later_by_token() {
    let env = TestEnvironment::new();
    env.mock_task("charge").complete_later();
    let run = env.start::<pay>(1).unwrap();
    env.advance(secs(3600)).await;
    assert!(env.result::<pay>(&run).is_none());
    let tokens = env.completion_tokens("charge");
    assert_eq!(tokens.len(), 1);
    assert!(env.completion_tokens("flaky").is_empty());
    assert_eq!(
        env.complete_task(&tokens[0], Ok(json!("by-token"))),
        Ok(true)
    );
    env.run_until_idle().await;
    assert_eq!(env.result::<pay>(&run).unwrap().unwrap(), "by-token");
    assert_eq!(
        timeline(&env.history(run.id()))[2],
        ("TaskSucceeded@0".to_owned(), 3_600_000)
    );
    // The attempt is closed: the same token completes nothing twice.
    assert_eq!(env.complete_task(&tokens[0], Ok(json!("again"))), Ok(false));
}

#[tokio::test]
async fn complete_later_by_token_with_an_error() {
    let env = TestEnvironment::new();
    env.mock_task("charge").complete_later();
    let run = env.start::<pay>(1).unwrap();
    env.run_until_idle().await;
    let token = env.completion_tokens("charge").remove(0);
    let failure = Failure::from_error(&PaymentError::Declined { code: 5 });
    assert_eq!(env.complete_task(&token, Err(failure)), Ok(true));
    env.run_until_idle().await;
    assert_eq!(
        env.result::<pay>(&run).unwrap().unwrap_err(),
        PaymentError::Declined { code: 5 }
    );
}

#[tokio::test]
async fn token_of_a_timed_out_attempt_is_ignored() {
    let env = TestEnvironment::new();
    env.mock_task("bounded").complete_later();
    let run = env.start::<pay_bounded>(1).unwrap();
    env.advance(secs(30)).await;
    assert_eq!(
        step_kind(env.result::<pay_bounded>(&run).unwrap().unwrap_err()),
        StepErrorKind::TimedOut
    );
    let token = env.completion_tokens("bounded").remove(0);
    assert_eq!(env.complete_task(&token, Ok(json!(1))), Ok(false));
}

#[tokio::test]
async fn forged_tokens_are_rejected() {
    let env = TestEnvironment::new();
    env.mock_task("charge").complete_later();
    let run = env.start::<pay>(1).unwrap();
    env.run_until_idle().await;
    let genuine = env.completion_tokens("charge").remove(0);
    // Signed with another key.
    let forged = TokenSigner::new(b"attacker").sign(&token_claims(run.id(), 0, 1));
    assert_eq!(
        env.complete_task(&forged, Ok(json!("forged"))),
        Err(TokenError::BadSignature)
    );
    // The genuine signature on other claims.
    let (_, signature) = genuine.0.split_once('.').unwrap();
    let other_claims = TokenSigner::new(b"x").sign(&token_claims(run.id(), 0, 2));
    let (payload, _) = other_claims.0.split_once('.').unwrap();
    let spliced = CompletionToken(format!("{payload}.{signature}"));
    assert_eq!(
        env.complete_task(&spliced, Ok(json!("forged"))),
        Err(TokenError::BadSignature)
    );
    assert_eq!(
        env.complete_task(&CompletionToken("garbage".into()), Ok(json!(1))),
        Err(TokenError::Malformed)
    );
    env.run_until_idle().await;
    assert!(env.result::<pay>(&run).is_none());
    assert_eq!(env.complete_task(&genuine, Ok(json!("real"))), Ok(true));
    env.run_until_idle().await;
    assert_eq!(env.result::<pay>(&run).unwrap().unwrap(), "real");
}

static HANDED_OUT: Mutex<Vec<CompletionToken>> = Mutex::new(Vec::new());

#[task]
async fn ask_approval(order: String) -> Result<String, StepError> {
    let token = eventual_runtime::task::completion_token().expect("inside a task");
    assert_eq!(eventual_runtime::task::attempt(), Some(1));
    HANDED_OUT.lock().unwrap().push(token);
    let _ = order;
    eventual_runtime::task::complete_later()
}

#[workflow]
async fn approve_order(_ctx: WorkflowContext, order: String) -> Result<String, StepError> {
    ask_approval(order).await
}

#[tokio::test]
async fn real_body_defers_with_complete_later() {
    let env = TestEnvironment::new();
    let run = env.start::<approve_order>("o-9".into()).unwrap();
    env.advance(secs(60)).await;
    assert!(env.result::<approve_order>(&run).is_none());
    let issued = env.completion_tokens("ask_approval");
    assert_eq!(issued.len(), 1);
    assert!(HANDED_OUT.lock().unwrap().contains(&issued[0]));
    assert_eq!(
        env.complete_task(&issued[0], Ok(json!("approved"))),
        Ok(true)
    );
    env.run_until_idle().await;
    assert_eq!(
        env.result::<approve_order>(&run).unwrap().unwrap(),
        "approved"
    );
    // Outside a task there is no token.
    assert!(eventual_runtime::task::completion_token().is_none());
}

#[task]
async fn explode(n: u64) -> Result<u64, StepError> {
    if n > 0 {
        panic!("exploded with {n}");
    }
    Ok(n)
}

#[workflow]
async fn run_explode(_ctx: WorkflowContext, n: u64) -> Result<u64, StepError> {
    explode(n).await
}

#[tokio::test]
async fn real_body_panicking_is_panicked() {
    let env = TestEnvironment::new();
    let run = env.start::<run_explode>(3).unwrap();
    env.run_until_idle().await;
    let error = env.result::<run_explode>(&run).unwrap().unwrap_err();
    assert_eq!(error.kind, StepErrorKind::Panicked);
    assert_eq!(error.message, "exploded with 3");
}

// ---- retries and backoff -----------------------------------------------------------------------

#[task(retry(
    max_attempts = 4,
    backoff = "exponential",
    initial = "1s",
    multiplier = 2.0,
    jitter = 0.0
))]
async fn exp_task(n: u64) -> Result<u64, PaymentError> {
    Ok(n)
}

#[task(retry(max_attempts = 4, backoff = "fixed", initial = "3s", jitter = 0.0))]
async fn fixed_task(n: u64) -> Result<u64, PaymentError> {
    Ok(n)
}

#[task(retry(
    max_attempts = 5,
    backoff = "exponential",
    initial = "1s",
    multiplier = 10.0,
    max = "5s",
    jitter = 0.0
))]
async fn capped_task(n: u64) -> Result<u64, PaymentError> {
    Ok(n)
}

#[task(retry(max_attempts = 2, backoff = "fixed", initial = "10s", jitter = 0.5))]
async fn jitter_task(n: u64) -> Result<u64, PaymentError> {
    Ok(n)
}

#[workflow]
async fn retrying(_ctx: WorkflowContext, which: String) -> Result<u64, PaymentError> {
    match which.as_str() {
        "exp" => exp_task(1).await,
        "fixed" => fixed_task(1).await,
        "capped" => capped_task(1).await,
        _ => jitter_task(1).await,
    }
}

/// `(attempt, at, retry_at)` of every failed attempt, in ms since the epoch.
fn attempt_failures(env: &TestEnvironment, id: &str) -> Vec<(u32, u64, u64)> {
    env.history(id)
        .iter()
        .filter_map(|e| match &e.kind {
            HistoryEventKind::TaskAttemptFailed {
                attempt, retry_at, ..
            } => Some((*attempt, since_epoch(e.at), since_epoch(*retry_at))),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn exponential_backoff_attempts_at_0_1_3_7_seconds() {
    let env = TestEnvironment::new();
    env.mock_task("exp_task")
        .fail(PaymentError::Declined { code: 7 });
    let run = env.start::<retrying>("exp".into()).unwrap();
    env.run_until_idle().await;
    let mut runs_at = Vec::new();
    for ms in [999, 1, 1_999, 1, 3_999, 1] {
        runs_at.push(env.task_runs("exp_task"));
        env.advance(millis(ms)).await;
    }
    runs_at.push(env.task_runs("exp_task"));
    // Attempt 2 runs at exactly +1 s, 3 at +3 s, 4 at +7 s.
    assert_eq!(runs_at, [1, 1, 2, 2, 3, 3, 4]);
    assert_eq!(
        attempt_failures(&env, run.id()),
        [(1, 0, 1_000), (2, 1_000, 3_000), (3, 3_000, 7_000)]
    );
    let history = env.history(run.id());
    assert_eq!(
        timeline(&history)[5..],
        [
            ("TaskFailed@0".to_owned(), 7_000),
            ("WorkflowFailed".to_owned(), 7_000)
        ]
    );
    assert!(matches!(
        &history[5].kind,
        HistoryEventKind::TaskFailed { attempt: 4, .. }
    ));
    // Attempts exhausted: the workflow sees the task's own error type.
    assert_eq!(
        env.result::<retrying>(&run).unwrap().unwrap_err(),
        PaymentError::Declined { code: 7 }
    );
    env.advance(secs(3600)).await;
    assert_eq!(env.task_runs("exp_task"), 4);
}

#[tokio::test]
async fn fixed_backoff() {
    let env = TestEnvironment::new();
    env.mock_task("fixed_task")
        .fail_times_then_succeed(3, PaymentError::Declined { code: 1 }, 5);
    let run = env.start::<retrying>("fixed".into()).unwrap();
    env.advance(secs(8)).await;
    assert!(env.result::<retrying>(&run).is_none());
    env.advance(secs(1)).await;
    assert_eq!(env.result::<retrying>(&run).unwrap().unwrap(), 5);
    assert_eq!(
        attempt_failures(&env, run.id()),
        [(1, 0, 3_000), (2, 3_000, 6_000), (3, 6_000, 9_000)]
    );
    assert_eq!(
        timeline(&env.history(run.id())).last().unwrap(),
        &("WorkflowSucceeded".to_owned(), 9_000)
    );
}

#[tokio::test]
async fn max_caps_the_backoff() {
    let env = TestEnvironment::new();
    env.mock_task("capped_task")
        .fail(PaymentError::Declined { code: 1 });
    let run = env.start::<retrying>("capped".into()).unwrap();
    env.advance(secs(60)).await;
    // Delays 1 s, then 10 s and 100 s capped to 5 s.
    assert_eq!(
        attempt_failures(&env, run.id()),
        [
            (1, 0, 1_000),
            (2, 1_000, 6_000),
            (3, 6_000, 11_000),
            (4, 11_000, 16_000)
        ]
    );
    assert_eq!(env.task_runs("capped_task"), 5);
    assert!(env.result::<retrying>(&run).unwrap().is_err());
}

#[tokio::test]
async fn jitter_stays_within_bounds_and_varies() {
    let env = TestEnvironment::new();
    env.mock_task("jitter_task")
        .fail(PaymentError::Declined { code: 1 });
    let runs: Vec<_> = (0..30)
        .map(|_| env.start::<retrying>("jitter".into()).unwrap())
        .collect();
    env.run_until_idle().await;
    let mut delays = Vec::new();
    for run in &runs {
        let failures = attempt_failures(&env, run.id());
        assert_eq!(failures.len(), 1);
        let (_, failed_at, retry_at) = failures[0];
        delays.push(retry_at - failed_at);
    }
    // 10 s ± 50 %.
    assert!(
        delays.iter().all(|d| (5_000..=15_000).contains(d)),
        "{delays:?}"
    );
    delays.sort();
    delays.dedup();
    assert!(delays.len() > 20, "jitter barely varies: {delays:?}");
    // Each retry runs at its own retry_at.
    env.advance(secs(15)).await;
    assert_eq!(env.task_runs("jitter_task"), 60);
    for run in &runs {
        let history = env.history(run.id());
        let retry_at = attempt_failures(&env, run.id())[0].2;
        let failed = of_type(&history, "TaskFailed");
        assert_eq!(since_epoch(failed[0].at), retry_at);
    }
}

#[tokio::test]
async fn non_retryable_failures_are_not_retried() {
    // A task whose input does not fit its type fails with InvalidInput, which no retry fixes.
    let env = TestEnvironment::new();
    let run = env.start::<bad_input>(()).unwrap();
    env.advance(secs(60)).await;
    let error = env.result::<bad_input>(&run).unwrap().unwrap_err();
    assert_eq!(error.kind, StepErrorKind::InvalidInput);
    assert_eq!(env.task_runs("exp_task"), 1);
    assert!(attempt_failures(&env, run.id()).is_empty());
}

#[workflow]
async fn bad_input(ctx: WorkflowContext, _x: ()) -> Result<serde_json::Value, StepError> {
    ctx.call_task_by_name("exp_task", json!("not a number"))
        .await
        .map_err(|failure| StepError::new(failure.kind, failure.message))
}

#[tokio::test]
async fn unknown_task_by_name_is_not_registered() {
    let env = TestEnvironment::new();
    let run = env.start::<unknown_task>(()).unwrap();
    env.run_until_idle().await;
    let error = env.result::<unknown_task>(&run).unwrap().unwrap_err();
    assert_eq!(error.kind, StepErrorKind::NotRegistered);
    // No step was scheduled.
    assert_eq!(
        shape(&env.history(run.id())),
        ["WorkflowStarted", "WorkflowFailed"]
    );
    let _ = Timestamp::from_millis(0);
}

#[workflow]
async fn unknown_task(ctx: WorkflowContext, _x: ()) -> Result<serde_json::Value, StepError> {
    ctx.call_task_by_name("no_such_task", json!(1))
        .await
        .map_err(|failure| StepError::new(failure.kind, failure.message))
}
