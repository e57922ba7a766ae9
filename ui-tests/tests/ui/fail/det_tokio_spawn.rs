use eventual_runtime::prelude::*;

// Stands in for the tokio crate: the check is syntactic, on the path.
mod tokio {
    pub fn spawn<F>(_: F) {}
}

#[workflow]
async fn fan_out(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    tokio::spawn(async move { n + 1 });
    let _ = ctx;
    Ok(n)
}

fn main() {}
