use eventual_runtime::prelude::*;

#[workflow]
async fn configured(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let region = std::env::var("AWS_REGION").unwrap_or_default();
    let _ = (ctx, region);
    Ok(n)
}

fn main() {}
