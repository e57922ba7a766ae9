use eventual_runtime::api::ApiError;
use eventual_runtime::prelude::*;

#[api(GET "/orders/{id}")]
async fn order(order_id: String) -> Result<String, ApiError> {
    Ok(order_id)
}

fn main() {}
