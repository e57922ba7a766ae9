use eventual_runtime::prelude::*;

#[derive(Debug)]
struct LookupFailed;

#[api(GET "/orders")]
async fn orders() -> Result<u64, LookupFailed> {
    Ok(1)
}

fn main() {}
