use eventual_runtime::prelude::*;

// Stands in for the tokio crate: the check is syntactic, on the path.
mod tokio {
    pub mod time {
        pub async fn sleep(_: std::time::Duration) {}
    }
}

#[workflow]
async fn wait(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    tokio::time::sleep(Duration::from_secs(60)).await;
    let _ = ctx;
    Ok(n)
}

fn main() {}
