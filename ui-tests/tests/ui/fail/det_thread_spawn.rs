use eventual_runtime::prelude::*;

#[workflow]
async fn fan_out(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let handle = std::thread::spawn(move || n + 1);
    let _ = (ctx, handle);
    Ok(n)
}

fn main() {}
