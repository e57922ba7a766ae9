use eventual_runtime::prelude::*;

#[task]
async fn add_one(ctx: WorkflowContext, n: u64) -> Result<u64, StepError> {
    let _ = ctx;
    Ok(n + 1)
}

fn main() {}
