use eventual_runtime::prelude::*;

struct Service;

impl Service {
    #[task]
    async fn add_one(&self, n: u64) -> Result<u64, StepError> {
        Ok(n + 1)
    }
}

fn main() {}
