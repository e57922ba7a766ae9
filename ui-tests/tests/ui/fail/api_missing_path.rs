use eventual_runtime::api::ApiError;
use eventual_runtime::prelude::*;

#[api(GET)]
async fn fetch() -> Result<u64, ApiError> {
    Ok(1)
}

fn main() {}
