use eventual_runtime::prelude::*;

pub struct OrderPlaced {
    pub total: u64,
}

#[on_event(pattern = r#"{"detail-type": ["OrderPlaced"]}"#)]
async fn placed(event: Event<OrderPlaced>) -> Result<(), StepError> {
    let _ = event.detail.total;
    Ok(())
}

fn main() {}
