use eventual_runtime::prelude::*;

#[workflow(overlap = "allow", catch_up = "all")]
async fn unscheduled(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    let _ = ctx;
    Ok(())
}

fn main() {}
