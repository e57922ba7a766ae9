use eventual_runtime::api::ApiError;
use eventual_runtime::prelude::*;

#[api(GET "/_eventual/orders")]
async fn shadow() -> Result<String, ApiError> {
    Ok(String::new())
}

fn main() {}
