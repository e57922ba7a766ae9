use eventual_runtime::prelude::*;
use eventual_runtime::testing::TestEnvironment;

#[task]
async fn add_one(n: u64) -> Result<u64, StepError> {
    Ok(n + 1)
}

#[workflow]
async fn count(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let a = add_one(n).await?;
    ctx.sleep(Duration::from_secs(5)).await;
    let b = add_one(a).await?;
    Ok(b)
}

#[tokio::test]
async fn smoke() {
    let env = TestEnvironment::new();
    let run = env.start::<count>(1).unwrap();
    env.run_until_idle().await;
    assert!(env.result::<count>(&run).is_none());
    env.advance(Duration::from_secs(5)).await;
    assert_eq!(env.result::<count>(&run).unwrap().unwrap(), 3);
    for e in env.history(run.id()) {
        println!("{}", serde_json::to_string(&e).unwrap());
    }
}
