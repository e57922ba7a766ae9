//! The command line of a service binary on the embedded engine: `serve` runs the engine with
//! the service's handlers (the default without a command); the other commands are
//! [`crate::cli`]'s, talking to a running engine over HTTP (`--url`, `EVENTUAL_URL`).
//!
//! `--api-token` (`EVENTUAL_API_TOKEN`) is one option for both sides: the token `serve`
//! requires on the internal API, and the token the other commands send.
//!
//! A service's `main` is one line:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     eventual_runtime::engine::local::cli::main()
//! }
//! ```

use super::{EngineConfig, LocalEngine, ServeOptions};
use crate::cli::{self, ApiCommand, Target};
use crate::engine::api::INTERNAL_PREFIX;
use crate::engine::Durability;
use crate::registry;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Run and operate an eventual-rs service on the embedded engine.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// Where the API is, for every command but `serve`; its token, for every command.
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

/// Where `serve` keeps its database and listens, and how it guards its listener (the bearer
/// token is the global `--api-token`).
#[derive(Debug, Parser)]
pub struct Serve {
    /// The database file.
    #[arg(long, env = "EVENTUAL_DB", default_value = "eventual.db")]
    pub db: PathBuf,
    /// Where the service and its API listen. On an address other than loopback the internal
    /// API requires `--api-token`, or `--insecure`.
    #[arg(long, env = "EVENTUAL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Serve the internal API without a token on an address other than loopback: anyone who
    /// can reach it may start, signal, cancel and terminate executions.
    #[arg(long)]
    pub insecure: bool,
    /// A legacy service (`http://host[:port][/path]`) that gets every request no route
    /// serves, as it came (the strangler fig).
    #[arg(long, env = "EVENTUAL_LEGACY_URL")]
    pub legacy_url: Option<String>,
    /// `strict`: a task attempt starts only once the step that scheduled it is on disk;
    /// `speculative`: it may start before, and may run again after a crash (default: the
    /// service's, which is `strict` unless it says otherwise).
    #[arg(long, env = "EVENTUAL_DURABILITY")]
    pub durability: Option<Durability>,
}

/// What a service binary chooses for `serve` when neither the command line nor the
/// environment does.
#[derive(Clone, Debug, Default)]
pub struct ServiceDefaults {
    /// Printed when serving, for example how to call the service.
    pub banner: String,
    /// The engine's durability.
    pub durability: Durability,
}

/// Parses the process's arguments and runs the command.
pub fn main() -> ExitCode {
    main_with(ServiceDefaults::default())
}

/// Like [`main`], printing `banner` (for example how to start something) when serving.
pub fn main_with_banner(banner: &str) -> ExitCode {
    main_with(ServiceDefaults {
        banner: banner.to_owned(),
        ..ServiceDefaults::default()
    })
}

/// Like [`main`], with the service's own defaults.
pub fn main_with(defaults: ServiceDefaults) -> ExitCode {
    run(Cli::parse(), &defaults)
}

/// Runs a parsed command line; commands other than `serve` reach the API over HTTP.
pub fn run(cli: Cli, defaults: &ServiceDefaults) -> ExitCode {
    let api_token = cli.target.api_token.clone();
    match cli.command {
        // `serve` with its options from the environment or their defaults.
        None => cli::exit_code(serve(Serve::parse_from(["serve"]), api_token, defaults)),
        Some(Command::Serve(options)) => cli::exit_code(serve(options, api_token, defaults)),
        Some(Command::Api(command)) => cli::execute(&cli.target, command, &cli::http),
    }
}

fn serve(
    options: Serve,
    api_token: Option<String>,
    defaults: &ServiceDefaults,
) -> Result<(), String> {
    let Serve {
        db,
        listen,
        insecure,
        legacy_url,
        durability,
    } = options;
    let serve_options = ServeOptions {
        api_token,
        insecure,
        legacy: legacy_url,
        ..ServeOptions::default()
    };
    // Refused before the database opens: nothing to undo.
    serve_options
        .check(listen)
        .map_err(|refused| refused.to_string())?;
    let durability = durability.unwrap_or(defaults.durability);
    let banner = defaults.banner.as_str();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .try_init();
    let config = EngineConfig::new(&db).with_durability(durability);
    let engine = LocalEngine::open(config).map_err(|e| e.to_string())?;
    println!(
        "eventual engine on http://{listen} (database {}, durability {durability})",
        db.display()
    );
    for workflow in registry::WORKFLOWS.iter() {
        println!("  workflow  {}", workflow.name);
    }
    for task in registry::TASKS
        .iter()
        .filter(|t| t.name != crate::entity::ENTITY_COMMAND_TASK)
    {
        println!("  task      {}", task.name);
    }
    for subscription in registry::SUBSCRIPTIONS.iter() {
        println!(
            "  handler   {}  {}",
            subscription.name, subscription.pattern
        );
    }
    let access = match (&serve_options.api_token, serve_options.insecure) {
        (Some(_), _) => "bearer token required",
        (None, true) => "open: --insecure",
        (None, false) => "open on loopback",
    };
    println!("  internal API  http://{listen}{INTERNAL_PREFIX} ({access})");
    if let Some(legacy) = &serve_options.legacy {
        println!("  legacy        {legacy} (what no route serves)");
    }
    if !banner.is_empty() {
        println!("{banner}");
    }
    let user_routes = crate::api::routes::routes(std::sync::Arc::new(engine.handle()));
    let runtime = engine.runtime().clone();
    runtime.block_on(async {
        tokio::select! {
            served = engine.serve_with(listen, user_routes, &serve_options) => served.map_err(|e| format!("cannot serve on {listen}: {e}")),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}
