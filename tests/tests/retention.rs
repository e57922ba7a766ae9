//! Retention: an ended execution and its history are deleted once kept for their workflow's
//! retention (or the engine's default); running executions and longer-kept ones stay.

use eventual_runtime::engine::client::StartExecution;
use eventual_runtime::engine::local::{EngineConfig, LocalEngine};
use eventual_runtime::engine::ServiceError;
use eventual_runtime::prelude::*;
use eventual_runtime::testing::TestEnvironment;
use eventual_tests::local::poll;
use serde_json::json;
use std::time::Duration as StdDuration;

/// Ends at once; kept for the engine's default.
#[workflow]
async fn brief(_ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    Ok(n)
}

/// Ends at once; kept for an hour whatever the default.
#[workflow(retention = "1h")]
async fn audited(_ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    Ok(n)
}

/// Runs until told to stop: never deleted while it runs.
#[workflow]
async fn lingering(ctx: WorkflowContext, _n: u64) -> Result<(), WorkflowError> {
    let _: () = ctx.wait_for_signal("stop").await?;
    Ok(())
}

#[tokio::test]
async fn the_test_environment_deletes_what_was_kept_long_enough() {
    let env = TestEnvironment::new();
    env.set_retention(Some(StdDuration::from_secs(600)));
    let brief = env.start::<brief>(1).unwrap();
    let audited = env.start::<audited>(2).unwrap();
    let lingering = env.start::<lingering>(3).unwrap();
    env.run_until_idle().await;

    env.advance(StdDuration::from_secs(599)).await;
    assert!(env.status(brief.id()).is_some(), "kept until its retention");
    env.advance(StdDuration::from_secs(1)).await;
    assert_eq!(env.status(brief.id()), None, "deleted at its retention");
    assert!(
        env.status(audited.id()).is_some(),
        "its workflow keeps it an hour"
    );
    assert!(env.status(lingering.id()).is_some(), "running: kept");

    env.advance(StdDuration::from_secs(3_000)).await;
    assert_eq!(env.status(audited.id()), None);
    assert!(env.status(lingering.id()).is_some(), "running: still kept");
}

#[test]
fn the_local_engine_sweeps_ended_executions_past_their_retention() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig::new(dir.path().join("engine.db"))
        .with_retention(StdDuration::from_millis(300));
    let engine = LocalEngine::open(config).expect("the engine opens");
    let handle = engine.handle();
    let caller = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let start = |workflow: &str, name: &str| {
        let request = StartExecution {
            workflow: workflow.to_owned(),
            execution_name: Some(name.to_owned()),
            input: json!(1),
            correlation_id: None,
        };
        caller.block_on(handle.start(request)).expect("a start");
    };
    start("brief", "r-brief");
    start("audited", "r-audited");
    start("lingering", "r-lingering");
    caller.block_on(handle.wait("r-brief")).expect("brief ends");
    caller
        .block_on(handle.wait("r-audited"))
        .expect("audited ends");

    poll(
        StdDuration::from_secs(20),
        "the brief execution is deleted",
        || matches!(handle.execution("r-brief"), Err(ServiceError::NotFound(_))).then_some(()),
    );
    assert!(matches!(
        handle.history("r-brief"),
        Err(ServiceError::NotFound(_))
    ));
    handle
        .execution("r-audited")
        .expect("its workflow keeps it an hour");
    handle
        .execution("r-lingering")
        .expect("running: never deleted");
    assert!(!handle.history("r-audited").unwrap().is_empty());
}
