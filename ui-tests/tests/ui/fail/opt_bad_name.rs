use eventual_runtime::prelude::*;

#[workflow(name = "has space")]
async fn spaced(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let _ = ctx;
    Ok(n)
}

fn main() {}
