use eventual_runtime::prelude::*;

#[task(retry(max_attempts = 3, backoff = "linear"))]
async fn add_one(n: u64) -> Result<u64, StepError> {
    Ok(n + 1)
}

fn main() {}
