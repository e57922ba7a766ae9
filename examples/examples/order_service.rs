//! The order service on the embedded engine.
//!
//! ```text
//! cargo run --example order_service                      # serve on 127.0.0.1:8080
//! cargo run --example order_service -- start place_order '{"id":"o-1",...}' --follow
//! ```

use std::process::ExitCode;

const BANNER: &str = r#"
Place an order, then see where it stands:
  curl -s -i -X POST http://127.0.0.1:8080/orders \
       -H 'content-type: application/json' \
       -d '{"id":"o-1","customer":"ada@example.com","items":[{"sku":"BOOK-42","quantity":1}],"total_cents":25000,"region":"eu-west-1"}'
  curl -s http://127.0.0.1:8080/orders/o-1
or with the CLI:
  cargo run --example order_service -- start place_order \
       '{"id":"o-2","customer":"ada@example.com","items":[{"sku":"BOOK-42","quantity":1}],"total_cents":900,"region":"mars"}' --follow
"#;

fn main() -> ExitCode {
    // The handlers live in the order-service crate; naming it keeps its registrations linked.
    order_service::link();
    eventual_runtime::engine::local::cli::main_with_banner(BANNER)
}
