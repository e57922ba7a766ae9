// Tasks with no parameter and with three, called from a workflow.
use eventual_runtime::prelude::*;
use eventual_runtime::testing::TestEnvironment;

#[task]
async fn next_id() -> Result<u64, StepError> {
    Ok(7)
}

#[task]
async fn sum3(a: u64, b: u64, label: String) -> Result<String, StepError> {
    Ok(format!("{label}={}", a + b))
}

#[workflow]
async fn combine(ctx: WorkflowContext) -> Result<String, WorkflowError> {
    let _ = ctx;
    let id = next_id().await?;
    Ok(sum3(id, 3, "total".to_owned()).await?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // Outside a workflow, a task function runs its body.
    assert_eq!(next_id().await.unwrap(), 7);
    assert_eq!(sum3(1, 2, "x".into()).await.unwrap(), "x=3");

    let env = TestEnvironment::new();
    let run = env.start::<combine>(()).unwrap();
    env.run_until_idle().await;
    assert_eq!(env.result::<combine>(&run).unwrap().unwrap(), "total=10");
}
