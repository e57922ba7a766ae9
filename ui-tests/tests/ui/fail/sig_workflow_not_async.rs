use eventual_runtime::prelude::*;

#[workflow]
fn sync_workflow(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let _ = ctx;
    Ok(n)
}

fn main() {}
