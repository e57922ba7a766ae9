//! Scheduled workflows: without input, and with an input that implements `Default`.
use eventual_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
struct ReportOptions {
    verbose: bool,
}

#[workflow(schedule = "cron(0 12 ? * MON-FRI *)", overlap = "allow", catch_up = "all")]
async fn weekday_report(ctx: WorkflowContext, options: ReportOptions) -> Result<(), WorkflowError> {
    let _ = (ctx, options.verbose);
    Ok(())
}

#[workflow(schedule = "rate(5 minutes)")]
async fn sweep(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    let _ = ctx;
    Ok(())
}

fn main() {
    let schedules = eventual_runtime::schedule::ScheduleSpec::all_static();
    assert_eq!(schedules.len(), 2, "{schedules:?}");
}
