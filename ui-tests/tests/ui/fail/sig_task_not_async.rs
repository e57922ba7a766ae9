use eventual_runtime::prelude::*;

#[task]
fn add_one(n: u64) -> Result<u64, StepError> {
    Ok(n + 1)
}

fn main() {}
