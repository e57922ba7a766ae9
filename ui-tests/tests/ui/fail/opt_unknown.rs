use eventual_runtime::prelude::*;

#[task(timeout = "30s", retries = 3)]
async fn add_one(n: u64) -> Result<u64, StepError> {
    Ok(n + 1)
}

fn main() {}
