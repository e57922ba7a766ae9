use eventual_runtime::prelude::*;

// Stands in for the rand crate: the check is syntactic, on the path.
mod rand {
    pub struct ThreadRng;
    pub fn thread_rng() -> ThreadRng {
        ThreadRng
    }
}

#[workflow]
async fn roll(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let rng = rand::thread_rng();
    let _ = (ctx, rng);
    Ok(n)
}

fn main() {}
