use eventual_runtime::prelude::*;

#[workflow]
async fn wait(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    std::thread::sleep(Duration::from_secs(1));
    let _ = ctx;
    Ok(n)
}

fn main() {}
