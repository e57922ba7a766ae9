//! `steps(n)`, the workload of the Restate peer benchmark (as in `eventual-examples`): `n`
//! sequential task calls where task `i` returns `i`, and the result is their sum. Shared by
//! the history-cost test and the `bench_aws_cost` example.

use eventual_runtime::prelude::*;

/// Returns its input: one durable step.
#[task]
pub async fn step(i: u32) -> Result<u64, StepError> {
    Ok(u64::from(i))
}

/// Runs `n` sequential `step` tasks and returns the sum of `0..n`.
#[workflow]
pub async fn steps(_ctx: WorkflowContext, n: u32) -> Result<u64, WorkflowError> {
    let mut sum = 0;
    for i in 0..n {
        sum += step(i).await?;
    }
    Ok(sum)
}
