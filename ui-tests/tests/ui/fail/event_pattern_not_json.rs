use eventual_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct OrderPlaced {
    total: u64,
}

#[on_event(pattern = "detail-type = OrderPlaced")]
async fn placed(event: Event<OrderPlaced>) -> Result<(), StepError> {
    let _ = event.detail.total;
    Ok(())
}

fn main() {}
