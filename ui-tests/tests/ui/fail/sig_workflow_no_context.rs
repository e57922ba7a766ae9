use eventual_runtime::prelude::*;

#[workflow]
async fn no_context() -> Result<u64, WorkflowError> {
    Ok(1)
}

fn main() {}
