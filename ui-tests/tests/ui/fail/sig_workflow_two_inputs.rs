use eventual_runtime::prelude::*;

#[workflow]
async fn two_inputs(ctx: WorkflowContext, a: u64, b: u64) -> Result<u64, WorkflowError> {
    let _ = ctx;
    Ok(a + b)
}

fn main() {}
