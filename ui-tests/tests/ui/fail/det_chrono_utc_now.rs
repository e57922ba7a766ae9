use eventual_runtime::prelude::*;

// Stands in for the chrono crate: the check is syntactic, on the path.
mod chrono {
    pub struct Utc;
    impl Utc {
        pub fn now() {}
    }
}

#[workflow]
async fn stamp(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    chrono::Utc::now();
    let _ = ctx;
    Ok(n)
}

fn main() {}
