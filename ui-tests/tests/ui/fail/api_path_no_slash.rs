use eventual_runtime::api::ApiError;
use eventual_runtime::prelude::*;

#[api(GET "orders")]
async fn list_orders() -> Result<Vec<String>, ApiError> {
    Ok(Vec::new())
}

fn main() {}
