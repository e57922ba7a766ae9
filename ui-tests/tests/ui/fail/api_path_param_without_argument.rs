use eventual_runtime::api::ApiError;
use eventual_runtime::prelude::*;

#[api(GET "/customers/{customer}/orders/{id}")]
async fn order(id: String) -> Result<String, ApiError> {
    Ok(id)
}

fn main() {}
