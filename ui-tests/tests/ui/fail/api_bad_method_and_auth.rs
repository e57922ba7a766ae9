use eventual_runtime::api::ApiError;
use eventual_runtime::prelude::*;

#[api(FETCH "/orders", auth = "basic")]
async fn fetch() -> Result<u64, ApiError> {
    Ok(1)
}

fn main() {}
