//! Updates on the TestEnvironment and in replay: verdicts are recorded so replay agrees, and a
//! replay that gives another verdict is a non-determinism error naming the update; bad input
//! is rejected saying why; an update the workflow drops, or never takes before its end, is
//! rejected; a caller that stops waiting gets the id and can ask again.

use eventual_runtime::engine::kernel::update::{SendUpdate, UpdateStatus};
use eventual_runtime::engine::{Engine, ServiceError};
use eventual_runtime::prelude::*;
use eventual_runtime::testing::TestEnvironment;
use eventual_runtime::workflow::{HistoryEventKind, Outcome, ReplayError, WorkflowExecutor};
use eventual_tests::{changed_code, shape};
use serde_json::json;

/// Accepts every `add` until the total reaches `target`.
#[workflow]
async fn up_total(ctx: WorkflowContext, target: u64) -> Result<u64, WorkflowError> {
    let mut total = 0;
    while total < target {
        let add = ctx.next_update::<u64>("add").await;
        total += add.input();
        add.accept(json!(total));
    }
    Ok(total)
}

/// `up_total` as a changed deployment would run it: it rejects every `add`.
#[workflow]
async fn up_total_refusing(ctx: WorkflowContext, target: u64) -> Result<u64, WorkflowError> {
    loop {
        let add = ctx.next_update::<u64>("add").await;
        add.reject("closed");
        if target == 0 {
            return Ok(0);
        }
    }
}

/// Takes one update and returns without a verdict on it.
#[workflow]
async fn up_forgetful(ctx: WorkflowContext, _n: u64) -> Result<u64, WorkflowError> {
    let update = ctx.next_update::<u64>("add").await;
    let value = *update.input();
    drop(update);
    Ok(value)
}

/// Sleeps an hour, then answers one `add` and ends.
#[workflow]
async fn up_late(ctx: WorkflowContext, _n: u64) -> Result<u64, WorkflowError> {
    ctx.sleep(Duration::from_secs(3600)).await;
    let add = ctx.next_update::<u64>("add").await;
    let value = *add.input();
    add.accept(json!(value));
    Ok(value)
}

fn started(env: &TestEnvironment, workflow: &str, input: serde_json::Value) -> String {
    env.start_by_name(workflow, None, input)
        .unwrap_or_else(|error| panic!("{workflow} did not start: {error}"))
}

#[tokio::test]
async fn an_update_is_answered_and_its_history_replays() {
    let env = TestEnvironment::new();
    let id = started(&env, "up_total", json!(5));
    assert_eq!(env.update(&id, "add", 2).await, Ok(json!(2)));
    assert_eq!(env.update(&id, "add", 3).await, Ok(json!(5)));
    assert_eq!(
        env.outcome(&id),
        Some(Outcome::Succeeded { result: json!(5) })
    );
    let history = env.history(&id);
    assert_eq!(
        shape(&history),
        [
            "WorkflowStarted",
            "UpdateReceived",
            "UpdateAccepted@0",
            "UpdateReceived",
            "UpdateAccepted@1",
            "WorkflowSucceeded"
        ]
    );
    let descriptor = eventual_runtime::registry::workflow("up_total").unwrap();
    let replayed = WorkflowExecutor::replay(descriptor, &history).expect("the history replays");
    assert_eq!(
        replayed.outcome(),
        Some(&Outcome::Succeeded { result: json!(5) })
    );
}

#[tokio::test]
async fn rejecting_where_history_accepted_is_non_determinism_naming_the_step() {
    let env = TestEnvironment::new();
    let id = started(&env, "up_total", json!(5));
    let update = SendUpdate::new("add", json!(2)).with_id("u-1");
    Engine::update(&env, &id, update).await.expect("accepted");
    let history = env.history(&id);
    let refusing = changed_code("up_total", "up_total_refusing");
    let error = WorkflowExecutor::replay(&refusing, &history)
        .err()
        .expect("a replay that rejects what history accepted fails");
    assert_eq!(
        error,
        ReplayError::NonDeterminism {
            workflow: "up_total".into(),
            seq: 0,
            recorded: "accepting update `add` (id `u-1`)".into(),
            attempted: "rejecting update `add` (id `u-1`)".into(),
        }
    );
}

#[tokio::test]
async fn accepting_where_history_rejected_is_non_determinism_naming_the_update() {
    let env = TestEnvironment::new();
    let id = started(&env, "up_total_refusing", json!(5));
    let update = SendUpdate::new("add", json!(2)).with_id("u-1");
    let reply = Engine::update(&env, &id, update).await.expect("answered");
    assert_eq!(
        reply.status,
        UpdateStatus::Rejected {
            reason: "closed".into()
        }
    );
    let history = env.history(&id);
    let accepting = changed_code("up_total_refusing", "up_total");
    let error = WorkflowExecutor::replay(&accepting, &history)
        .err()
        .expect("a replay that accepts what history rejected fails");
    assert_eq!(
        error,
        ReplayError::NonDeterminism {
            workflow: "up_total_refusing".into(),
            seq: 0,
            recorded: "rejecting update `add` (id `u-1`)".into(),
            attempted: "accepting update `add` (id `u-1`)".into(),
        }
    );
}

#[tokio::test]
async fn an_input_that_does_not_fit_is_rejected_saying_why() {
    let env = TestEnvironment::new();
    let id = started(&env, "up_total", json!(5));
    let error = env.update(&id, "add", "two").await.unwrap_err();
    let ServiceError::UpdateRejected { reason, .. } = &error else {
        panic!("expected a rejection, got {error:?}");
    };
    assert!(
        reason.contains("update `add`") && reason.contains("u64"),
        "{reason}"
    );
    assert_eq!(env.update(&id, "add", 5).await, Ok(json!(5)));
}

#[tokio::test]
async fn an_update_dropped_without_a_verdict_is_rejected() {
    let env = TestEnvironment::new();
    let id = started(&env, "up_forgetful", json!(0));
    let error = env.update(&id, "add", 1).await.unwrap_err();
    assert!(
        matches!(&error, ServiceError::UpdateRejected { reason, .. }
            if reason == "the workflow did not answer update `add`"),
        "{error:?}"
    );
    assert_eq!(
        env.outcome(&id),
        Some(Outcome::Succeeded { result: json!(1) })
    );
}

#[tokio::test]
async fn a_caller_that_stops_waiting_asks_again_and_the_end_rejects_what_is_left() {
    let env = TestEnvironment::new();
    let id = started(&env, "up_late", json!(0));
    let wait = Duration::from_secs(60);
    let first = Engine::update(
        &env,
        &id,
        SendUpdate::new("add", json!(7))
            .with_id("first")
            .with_wait(wait),
    )
    .await
    .expect("sent");
    assert_eq!(first.status, UpdateStatus::Pending);
    let second = Engine::update(
        &env,
        &id,
        SendUpdate::new("add", json!(8))
            .with_id("second")
            .with_wait(wait),
    )
    .await
    .expect("sent");
    assert_eq!(second.status, UpdateStatus::Pending);
    // The same id again while it waits: the same update, not a second one.
    let repeated = Engine::update(
        &env,
        &id,
        SendUpdate::new("add", json!(7))
            .with_id("first")
            .with_wait(wait),
    )
    .await
    .expect("sent");
    assert_eq!(repeated.status, UpdateStatus::Pending);
    env.advance(Duration::from_secs(3600)).await;
    let first = Engine::update_status(&env, &id, "first").await.unwrap();
    assert_eq!(first.status, UpdateStatus::Accepted { answer: json!(7) });
    let second = Engine::update_status(&env, &id, "second").await.unwrap();
    assert_eq!(
        second.status,
        UpdateStatus::Rejected {
            reason: "the execution succeeded before the workflow answered the update".into()
        }
    );
    let history = env.history(&id);
    let received: Vec<&str> = history
        .iter()
        .filter_map(|event| match &event.kind {
            HistoryEventKind::UpdateReceived { update_id, .. } => Some(update_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        received,
        ["first", "second"],
        "an update id is received once"
    );
    assert!(matches!(
        history.last().map(|event| &event.kind),
        Some(HistoryEventKind::WorkflowSucceeded { .. })
    ));
    let descriptor = eventual_runtime::registry::workflow("up_late").unwrap();
    WorkflowExecutor::replay(descriptor, &history).expect("the history replays");
}

/// Round 0 sleeps a minute and continues as new; round 1 answers one `add` with its input
/// plus the round.
#[workflow]
async fn up_rounds(ctx: WorkflowContext, round: u64) -> Result<u64, WorkflowError> {
    if round == 0 {
        ctx.sleep(Duration::from_secs(60)).await;
        return ctx.continue_as_new(1).await;
    }
    let add = ctx.next_update::<u64>("add").await;
    let value = *add.input();
    add.accept(json!(value + round));
    Ok(value)
}

#[tokio::test]
async fn an_update_a_run_never_took_goes_on_to_the_next_run_under_its_id() {
    let env = TestEnvironment::new();
    let id = started(&env, "up_rounds", json!(0));
    let update = SendUpdate::new("add", json!(5))
        .with_id("carried")
        .with_wait(Duration::from_secs(1));
    let reply = Engine::update(&env, &id, update).await.expect("sent");
    assert_eq!(reply.status, UpdateStatus::Pending);
    env.advance(Duration::from_secs(60)).await;
    let runs = env.run_histories(&id);
    assert_eq!(runs.len(), 2, "the execution continued as new");
    let answered = Engine::update_status(&env, &id, "carried").await.unwrap();
    assert_eq!(answered.status, UpdateStatus::Accepted { answer: json!(6) });
    assert_eq!(
        shape(&runs[1]),
        [
            "WorkflowStarted",
            "UpdateReceived",
            "UpdateAccepted@1",
            "WorkflowSucceeded"
        ]
    );
}
