use eventual_runtime::api::ApiError;
use eventual_runtime::prelude::*;

// Every problem of the path is reported at once.
#[api(GET "/orders//{id}/{id}/items?{x+}/{1st}/{open")]
async fn order(id: String) -> Result<String, ApiError> {
    Ok(id)
}

fn main() {}
