//! Workloads shared by the example binaries in `examples/`.
//!
//! `steps(n)` is the workload of the Restate peer benchmark: `n` sequential task calls where
//! task `i` returns `i`, and the result is their sum.

use eventual_runtime::prelude::*;

/// Returns its input: one durable step of the benchmark.
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

/// Waits on a timer for `seconds`: the idle executions of the memory benchmark.
#[workflow]
pub async fn wait_for(ctx: WorkflowContext, seconds: u64) -> Result<(), WorkflowError> {
    ctx.sleep(Duration::from_secs(seconds)).await;
    Ok(())
}

/// Links this crate's registrations into a binary.
pub fn link() {}
