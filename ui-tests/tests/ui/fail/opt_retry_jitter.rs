use eventual_runtime::prelude::*;

#[task(retry(jitter = 2.0))]
async fn add_one(n: u64) -> Result<u64, StepError> {
    Ok(n + 1)
}

fn main() {}
