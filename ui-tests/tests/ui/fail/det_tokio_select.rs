use eventual_runtime::prelude::*;

// Stands in for the tokio crate: the check is syntactic, on the macro's path.
mod tokio {
    #[macro_export]
    macro_rules! select {
        ($($tokens:tt)*) => {};
    }
    pub use select;
}

#[workflow]
async fn first(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    tokio::select! {
        _ = ctx.sleep(Duration::from_secs(1)) => {}
    }
    let _ = ctx;
    Ok(n)
}

fn main() {}
