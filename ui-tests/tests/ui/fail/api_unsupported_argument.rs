use eventual_runtime::api::{ApiContext, ApiError, Json};
use eventual_runtime::prelude::*;

struct Session;

#[api(POST "/orders")]
async fn create(ctx: ApiContext, session: Session, body: Json<u64>) -> Result<u64, ApiError> {
    let _ = (ctx, session);
    Ok(body.0)
}

fn main() {}
