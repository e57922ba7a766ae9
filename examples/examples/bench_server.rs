//! Serves the `steps(n)` benchmark workflow on the embedded engine, for an external HTTP load
//! driver: `POST /_eventual/workflows/steps/execute` with body `10` answers `45`.
//!
//! ```text
//! cargo run --release --example bench_server -- --listen 127.0.0.1:8080 [--db bench.db] [--durability strict|speculative]
//! ```
//!
//! Run it once per durability mode to compare them under the same driver.

use eventual_runtime::engine::local::{EngineConfig, LocalEngine};
use eventual_runtime::engine::Durability;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    eventual_examples::link();
    let mut listen: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let mut db =
        std::env::temp_dir().join(format!("eventual-bench-server-{}.db", std::process::id()));
    let mut durability = Durability::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        match (arg.as_str(), value) {
            ("--listen", Some(value)) => match value.parse() {
                Ok(address) => listen = address,
                Err(error) => return fail(&format!("--listen {value}: {error}")),
            },
            ("--db", Some(value)) => db = PathBuf::from(value),
            ("--durability", Some(value)) => match value.parse() {
                Ok(mode) => durability = mode,
                Err(error) => return fail(&error),
            },
            _ => return fail(
                "usage: bench_server [--listen ADDR] [--db FILE] [--durability strict|speculative]",
            ),
        }
    }
    let engine = match LocalEngine::open(EngineConfig::new(&db).with_durability(durability)) {
        Ok(engine) => engine,
        Err(error) => return fail(&error.to_string()),
    };
    println!(
        "serving steps(n) on http://{listen}/_eventual/workflows/steps/execute (database {}, durability {durability})",
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
