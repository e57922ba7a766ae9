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

/// Waits for signal `go`: the signal-waiting idle executions of `bench_idle`.
#[workflow]
pub async fn wait_for_go(ctx: WorkflowContext, _n: u64) -> Result<(), WorkflowError> {
    let _: () = ctx.wait_for_signal("go").await?;
    Ok(())
}

/// Sleeps `millis` milliseconds: the timer-waiting idle executions of `bench_idle`.
#[workflow]
pub async fn sleep_millis(ctx: WorkflowContext, millis: u64) -> Result<(), WorkflowError> {
    ctx.sleep(Duration::from_millis(millis)).await;
    Ok(())
}

/// The peak resident set of this process (Linux `VmHWM`), in MiB.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Links this crate's registrations into a binary.
pub fn link() {}
