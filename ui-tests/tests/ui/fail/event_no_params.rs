use eventual_runtime::prelude::*;

#[on_event(pattern = r#"{"detail-type": ["OrderPlaced"]}"#)]
async fn placed() -> Result<(), StepError> {
    Ok(())
}

fn main() {}
