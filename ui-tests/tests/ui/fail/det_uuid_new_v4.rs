use eventual_runtime::prelude::*;

// Stands in for the uuid crate: the check is syntactic, on the path.
mod uuid {
    pub struct Uuid;
    impl Uuid {
        pub fn new_v4() -> String {
            String::new()
        }
    }
}

#[workflow]
async fn make_id(ctx: WorkflowContext, prefix: String) -> Result<String, WorkflowError> {
    let id = uuid::Uuid::new_v4();
    let _ = ctx;
    Ok(format!("{prefix}-{id}"))
}

fn main() {}
