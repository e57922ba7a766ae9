use eventual_runtime::prelude::*;

pub struct Order {
    pub id: String,
}

#[workflow]
async fn place_order(ctx: WorkflowContext, order: Order) -> Result<String, WorkflowError> {
    let _ = ctx;
    Ok(order.id)
}

fn main() {}
