use eventual_runtime::prelude::*;

#[task]
async fn echo<T: serde::Serialize>(value: T) -> Result<T, StepError> {
    Ok(value)
}

fn main() {}
