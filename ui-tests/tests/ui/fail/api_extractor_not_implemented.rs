use eventual_runtime::api::ApiError;
use eventual_runtime::prelude::*;

struct Session;

// A parameter named like a path parameter must still parse from text.
#[api(GET "/sessions/{session}")]
async fn session(session: Session) -> Result<u64, ApiError> {
    let _ = session;
    Ok(1)
}

fn main() {}
