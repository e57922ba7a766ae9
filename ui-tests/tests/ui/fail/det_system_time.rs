use eventual_runtime::prelude::*;

#[workflow]
async fn stamp(ctx: WorkflowContext, id: String) -> Result<String, WorkflowError> {
    let now = std::time::SystemTime::now();
    let _ = ctx;
    Ok(format!("{id}@{now:?}"))
}

fn main() {}
