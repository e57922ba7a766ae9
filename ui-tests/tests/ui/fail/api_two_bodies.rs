use eventual_runtime::api::{ApiError, Json, Query};
use eventual_runtime::prelude::*;

#[api(POST "/orders")]
async fn create(first: Json<u64>, second: Json<u64>, query: Query<u64>) -> Result<u64, ApiError> {
    let _ = query;
    Ok(first.0 + second.0)
}

fn main() {}
