use eventual_runtime::prelude::*;

#[workflow]
async fn input_first(n: u64, ctx: WorkflowContext) -> Result<u64, WorkflowError> {
    let _ = ctx;
    Ok(n)
}

fn main() {}
