use eventual_runtime::prelude::*;

#[workflow]
async fn measure(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let started = std::time::Instant::now();
    let _ = (ctx, started);
    Ok(n)
}

fn main() {}
