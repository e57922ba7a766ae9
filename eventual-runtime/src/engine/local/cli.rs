//! The command line of a service binary on the embedded engine: `serve` runs the engine with
//! the service's handlers (the default without a command); the other commands are
//! [`crate::cli`]'s, talking to a running engine over HTTP (`--url`, `EVENTUAL_URL`).
//!
//! A service's `main` is one line:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     eventual_runtime::engine::local::cli::main()
//! }
//! ```

use super::{EngineConfig, LocalEngine};
use crate::cli::{self, ApiCommand, Target};
use crate::registry;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Run and operate an eventual-rs service on the embedded engine.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// Where the API is, for every command but `serve`.
    #[command(flatten)]
    pub target: Target,
    /// What to do (default: `serve`).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the engine and its HTTP API.
    Serve(Serve),
    /// The commands that talk to a running engine.
    #[command(flatten)]
    Api(ApiCommand),
}

/// Where `serve` keeps its database and listens.
#[derive(Debug, Parser)]
pub struct Serve {
    /// The database file.
    #[arg(long, env = "EVENTUAL_DB", default_value = "eventual.db")]
    pub db: PathBuf,
    /// Where the API listens.
    #[arg(long, env = "EVENTUAL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

/// Parses the process's arguments and runs the command.
pub fn main() -> ExitCode {
    run(Cli::parse(), "")
}

/// Like [`main`], printing `banner` (for example how to start something) when serving.
pub fn main_with_banner(banner: &str) -> ExitCode {
    run(Cli::parse(), banner)
}

/// Runs a parsed command line; commands other than `serve` reach the API over HTTP.
pub fn run(cli: Cli, banner: &str) -> ExitCode {
    match cli.command {
        // `serve` with its options from the environment or their defaults.
        None => cli::exit_code(serve(Serve::parse_from(["serve"]), banner)),
        Some(Command::Serve(options)) => cli::exit_code(serve(options, banner)),
        Some(Command::Api(command)) => cli::execute(&cli.target.url, command, &cli::http),
    }
}

fn serve(Serve { db, listen }: Serve, banner: &str) -> Result<(), String> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .try_init();
    let engine = LocalEngine::open(EngineConfig::new(&db)).map_err(|e| e.to_string())?;
    println!(
        "eventual engine on http://{listen} (database {})",
        db.display()
    );
    for workflow in registry::WORKFLOWS.iter() {
        println!("  workflow  {}", workflow.name);
    }
    for task in registry::TASKS.iter() {
        println!("  task      {}", task.name);
    }
    for subscription in registry::SUBSCRIPTIONS.iter() {
        println!(
            "  handler   {}  {}",
            subscription.name, subscription.pattern
        );
    }
    if !banner.is_empty() {
        println!("{banner}");
    }
    let runtime = engine.runtime().clone();
    runtime.block_on(async {
        tokio::select! {
            served = engine.serve(listen) => served.map_err(|e| format!("cannot serve on {listen}: {e}")),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}
