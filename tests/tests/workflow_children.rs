//! Child workflows: results, failures, timeouts and correlation.

use eventual_runtime::engine::ExecutionStatus;
use eventual_runtime::prelude::*;
use eventual_runtime::testing::TestEnvironment;
use eventual_runtime::workflow::history::ParentRef;
use eventual_runtime::workflow::HistoryEventKind;
use eventual_tests::*;
use serde_json::json;

#[workflow]
async fn doubler(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    ctx.sleep(Duration::from_secs(5)).await;
    if n == 0 {
        return Err(WorkflowError::new("Zero", "zero cannot be doubled"));
    }
    Ok(n * 2)
}

#[workflow(timeout = "1m")]
async fn dawdler(ctx: WorkflowContext, _x: ()) -> Result<u64, WorkflowError> {
    ctx.sleep(Duration::from_secs(3600)).await;
    Ok(1)
}

#[workflow]
async fn parent(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let doubled = ctx.child::<doubler>(n).await?;
    Ok(doubled + 1)
}

#[workflow]
async fn forgiving_parent(ctx: WorkflowContext, n: u64) -> Result<String, WorkflowError> {
    Ok(match ctx.child::<doubler>(n).await {
        Ok(value) => format!("ok:{value}"),
        Err(error) => format!("recovered:{error}"),
    })
}

#[workflow]
async fn impatient_parent(ctx: WorkflowContext, _x: ()) -> Result<String, WorkflowError> {
    Ok(match ctx.child::<dawdler>(()).await {
        Ok(value) => format!("ok:{value}"),
        Err(error) => format!("{}|{}", error.name, error.message),
    })
}

#[workflow]
async fn orphan_parent(ctx: WorkflowContext, _x: ()) -> Result<String, WorkflowError> {
    Ok(
        match ctx.child_by_name("no_such_workflow", json!(1)).await {
            Ok(value) => format!("ok:{value}"),
            Err(failure) => format!("{:?}", failure.kind),
        },
    )
}

#[tokio::test]
async fn child_success_comes_back_to_the_parent() {
    let env = TestEnvironment::new();
    let run = env.start::<parent>(21).unwrap();
    env.run_until_idle().await;
    let child_id = format!("{}/child-0", run.id());
    assert_eq!(env.executions(), [run.id().to_owned(), child_id.clone()]);
    assert_eq!(env.status(&child_id), Some(ExecutionStatus::Running));
    env.advance(millis(4_999)).await;
    assert!(env.result::<parent>(&run).is_none());
    env.advance(millis(1)).await;
    assert_eq!(env.result::<parent>(&run).unwrap().unwrap(), 43);
    assert_eq!(env.status(&child_id), Some(ExecutionStatus::Succeeded));

    let history = env.history(run.id());
    assert_eq!(
        timeline(&history),
        [
            ("WorkflowStarted".to_owned(), 0),
            ("ChildWorkflowScheduled@0".to_owned(), 0),
            ("ChildWorkflowSucceeded@0".to_owned(), 5_000),
            ("WorkflowSucceeded".to_owned(), 5_000),
        ]
    );
    match &history[1].kind {
        HistoryEventKind::ChildWorkflowScheduled {
            name,
            execution_id,
            input,
            ..
        } => {
            assert_eq!(name, "doubler");
            assert_eq!(execution_id, &child_id);
            assert_eq!(input, &json!(21));
        }
        other => panic!("unexpected {other:?}"),
    }
    match &env.history(&child_id)[0].kind {
        HistoryEventKind::WorkflowStarted {
            workflow,
            parent,
            correlation_id,
            ..
        } => {
            assert_eq!(workflow, "doubler");
            assert_eq!(
                parent,
                &Some(ParentRef {
                    execution_id: run.id().to_owned(),
                    seq: 0
                })
            );
            // The parent's correlation id flows into the child.
            assert_eq!(correlation_id, run.id());
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn child_failure_is_the_parents_error() {
    let env = TestEnvironment::new();
    let run = env.start::<parent>(0).unwrap();
    env.advance(secs(5)).await;
    assert_eq!(
        env.result::<parent>(&run).unwrap().unwrap_err(),
        WorkflowError::new("Zero", "zero cannot be doubled")
    );
    assert_eq!(env.status(run.id()), Some(ExecutionStatus::Failed));
    let child_id = format!("{}/child-0", run.id());
    assert_eq!(env.status(&child_id), Some(ExecutionStatus::Failed));
    let history = env.history(run.id());
    assert_eq!(
        shape(&history),
        [
            "WorkflowStarted",
            "ChildWorkflowScheduled@0",
            "ChildWorkflowFailed@0",
            "WorkflowFailed"
        ]
    );
    match &history[2].kind {
        HistoryEventKind::ChildWorkflowFailed { error, .. } => {
            assert_eq!(error.kind, StepErrorKind::Failed);
            assert_eq!(
                error.error,
                Some(json!({"name": "Zero", "message": "zero cannot be doubled"}))
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn child_failure_can_be_handled() {
    let env = TestEnvironment::new();
    let ok = env.start::<forgiving_parent>(4).unwrap();
    let failed = env.start::<forgiving_parent>(0).unwrap();
    env.advance(secs(5)).await;
    assert_eq!(
        env.result::<forgiving_parent>(&ok).unwrap().unwrap(),
        "ok:8"
    );
    assert_eq!(
        env.result::<forgiving_parent>(&failed).unwrap().unwrap(),
        "recovered:Zero: zero cannot be doubled"
    );
}

#[tokio::test]
async fn child_timeout_reaches_the_parent_as_a_step_error() {
    let env = TestEnvironment::new();
    let run = env.start::<impatient_parent>(()).unwrap();
    env.advance(secs(59)).await;
    assert!(env.result::<impatient_parent>(&run).is_none());
    env.advance(secs(1)).await;
    assert_eq!(
        env.result::<impatient_parent>(&run).unwrap().unwrap(),
        "StepError|timed out: workflow timed out"
    );
    let child_id = format!("{}/child-0", run.id());
    assert_eq!(env.status(&child_id), Some(ExecutionStatus::TimedOut));
}

#[tokio::test]
async fn unknown_child_workflow_is_not_registered() {
    let env = TestEnvironment::new();
    let run = env.start::<orphan_parent>(()).unwrap();
    env.run_until_idle().await;
    assert_eq!(
        env.result::<orphan_parent>(&run).unwrap().unwrap(),
        "NotRegistered"
    );
}

/// Starts a `doubler` with the default policy and returns as soon as it started.
#[workflow]
async fn hasty_parent(ctx: WorkflowContext, n: u64) -> Result<(), WorkflowError> {
    drop(ctx.child::<doubler>(n));
    Ok(())
}

#[tokio::test]
async fn a_parent_that_closes_first_cancels_its_child_with_the_policy_history_recorded() {
    use eventual_runtime::workflow::{
        Command, HistoryEvent, ParentClosePolicy, StartRequest, WorkflowExecutor,
    };
    let workflow = eventual_runtime::registry::workflow("hasty_parent").unwrap();
    let (_, started) =
        WorkflowExecutor::start(workflow, StartRequest::new("hasty", json!(2)), at(secs(0)))
            .unwrap();
    // The code's default policy: the child is cancelled when the parent returns.
    let cancels = |commands: &[Command]| {
        commands
            .iter()
            .filter(|c| matches!(c, Command::CancelChild { .. }))
            .count()
    };
    assert_eq!(cancels(&started.commands), 1, "{:?}", started.commands);
    let kinds: Vec<_> = started.new_events.iter().map(|e| label(&e.kind)).collect();
    assert_eq!(
        kinds,
        [
            "WorkflowStarted",
            "ChildWorkflowScheduled@0",
            "ChildCancelRequested@0",
            "WorkflowSucceeded"
        ]
    );

    // A history whose child was started with `abandon` keeps it on replay: the recorded end
    // has no cancel, and replay agrees.
    let mut recorded: Vec<HistoryEvent> = started
        .new_events
        .into_iter()
        .filter(|e| e.kind.type_name() != "ChildCancelRequested")
        .collect();
    if let HistoryEventKind::ChildWorkflowScheduled { parent_close, .. } = &mut recorded[1].kind {
        *parent_close = ParentClosePolicy::Abandon;
    }
    let replayed = WorkflowExecutor::replay(workflow, &recorded).expect("the replay agrees");
    assert!(replayed.outcome().is_some());

    // Without the recorded policy, replay would ask for a cancel history never recorded.
    recorded.truncate(2);
    let mut live = WorkflowExecutor::replay(workflow, &recorded).unwrap();
    let output = live.step(at(secs(1)), Vec::new()).unwrap();
    assert_eq!(cancels(&output.commands), 0, "{:?}", output.commands);
}
