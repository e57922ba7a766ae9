use eventual_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct OrderPlaced {
    total: u64,
}

#[on_event(pattern = r#"{"detail-type": ["OrderPlaced"]}"#)]
async fn placed(event: Event<OrderPlaced>) -> Result<u32, StepError> {
    Ok(event.detail.total as u32)
}

fn main() {}
