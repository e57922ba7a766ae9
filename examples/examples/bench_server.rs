//! Serves the `steps(n)` benchmark workflow on the embedded engine, for an external HTTP load
//! driver: `POST /_eventual/workflows/steps/execute` with body `10` answers `45`.
//!
//! ```text
//! cargo run --release --example bench_server -- --listen 127.0.0.1:8080 [--db bench.db]
//! ```

use eventual_runtime::engine::local::{EngineConfig, LocalEngine};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    eventual_examples::link();
    let mut listen: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let mut db =
        std::env::temp_dir().join(format!("eventual-bench-server-{}.db", std::process::id()));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        match (arg.as_str(), value) {
            ("--listen", Some(value)) => match value.parse() {
                Ok(address) => listen = address,
                Err(error) => return fail(&format!("--listen {value}: {error}")),
            },
            ("--db", Some(value)) => db = PathBuf::from(value),
            _ => return fail("usage: bench_server [--listen ADDR] [--db FILE]"),
        }
    }
    let engine = match LocalEngine::open(EngineConfig::new(&db)) {
        Ok(engine) => engine,
        Err(error) => return fail(&error.to_string()),
    };
    println!(
        "serving steps(n) on http://{listen}/_eventual/workflows/steps/execute (database {})",
        db.display()
    );
    let runtime = engine.runtime().clone();
    match runtime.block_on(engine.serve(listen)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&format!("cannot serve on {listen}: {error}")),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}
