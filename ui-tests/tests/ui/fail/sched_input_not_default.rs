use eventual_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Order {
    id: String,
}

// A schedule starts the workflow with `Input::default()`: an input without `Default` cannot
// be scheduled.
#[workflow(schedule = "rate(1 hour)")]
async fn hourly(ctx: WorkflowContext, order: Order) -> Result<(), WorkflowError> {
    let _ = (ctx, order);
    Ok(())
}

fn main() {}
