use eventual_runtime::prelude::*;

#[workflow]
async fn plain(ctx: WorkflowContext, n: u64) -> u64 {
    let _ = ctx;
    n
}

fn main() {}
