use eventual_runtime::prelude::*;

#[workflow(timeout = "1h", timeout = "2h")]
async fn twice(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let _ = ctx;
    Ok(n)
}

fn main() {}
