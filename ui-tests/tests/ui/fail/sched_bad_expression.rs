use eventual_runtime::prelude::*;

#[workflow(schedule = "cron(0 12 * * * *)")]
async fn both_days(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    let _ = ctx;
    Ok(())
}

#[workflow(schedule = "rate(5 minute)", overlap = "queue", catch_up = "latest")]
async fn singular_unit(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    let _ = ctx;
    Ok(())
}

fn main() {}
