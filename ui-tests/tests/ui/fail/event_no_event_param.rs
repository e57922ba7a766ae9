use eventual_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct OrderPlaced {
    total: u64,
}

#[on_event(pattern = r#"{"detail-type": ["OrderPlaced"]}"#)]
async fn placed(order: OrderPlaced) -> Result<(), StepError> {
    let _ = order.total;
    Ok(())
}

fn main() {}
