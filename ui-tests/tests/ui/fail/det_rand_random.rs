use eventual_runtime::prelude::*;

// Stands in for the rand crate: the check is syntactic, on the path.
mod rand {
    pub fn random() -> u64 {
        4
    }
}

#[workflow]
async fn roll(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let dice = rand::random();
    let _ = ctx;
    Ok(n + dice)
}

fn main() {}
