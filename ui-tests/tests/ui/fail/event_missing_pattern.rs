use eventual_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct OrderPlaced {
    total: u64,
}

#[on_event(retry(max_attempts = 3))]
async fn placed(event: Event<OrderPlaced>) -> Result<(), StepError> {
    let _ = event.detail.total;
    Ok(())
}

fn main() {}
