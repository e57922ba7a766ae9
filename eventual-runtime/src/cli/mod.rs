//! The command line of a service, over any engine (feature `cli`): the commands that operate
//! a running service through its API (`start`, `status`, `list`, `history`, `signal`,
//! `publish`, `dlq`, `cancel`, `replay`, `timeline`, `schedule`), how they reach it
//! ([`Transport`]) and how
//! they print.
//!
//! `--url` (`EVENTUAL_URL`) names the API, `--api-token` (`EVENTUAL_API_TOKEN`) the bearer
//! token it may require; [`Connect`] turns them into a transport. Plain HTTP is
//! [`HttpTransport`]; the AWS engine adds its own (Lambda invoke, SigV4) and calls
//! [`main_with`]. A binary without an engine of its own is one line:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     eventual_runtime::cli::main()
//! }
//! ```
//!
//! The embedded engine's command line (`engine::local::cli`, feature `local`) adds `serve` to
//! these commands.

mod commands;
mod format;
mod transport;

pub use commands::replay_history;
pub use format::timeline;
pub use transport::{encode, http, Connect, HttpTransport, Transport};

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// The variable naming the API when `--url` is not given.
pub const URL_ENV: &str = "EVENTUAL_URL";
/// The API when neither `--url` nor [`URL_ENV`] is given: the local engine's default.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";
/// The variable holding the API's bearer token when `--api-token` is not given.
pub const API_TOKEN_ENV: &str = "EVENTUAL_API_TOKEN";

/// Operate an eventual-rs service through its API.
#[derive(Debug, Parser)]
#[command(version, about, arg_required_else_help = true)]
pub struct Cli {
    /// Where the API is.
    #[command(flatten)]
    pub target: Target,
    /// What to do.
    #[command(subcommand)]
    pub command: ApiCommand,
}

/// Where the service's API is.
#[derive(Debug, Args)]
pub struct Target {
    /// The service's API, which the commands talk to (`replay --history-file` reads a file).
    #[arg(long, global = true, env = URL_ENV, default_value = DEFAULT_URL)]
    pub url: String,
    /// The API's bearer token, sent as `Authorization: Bearer <token>` over plain HTTP; the
    /// local engine's `serve` requires it on every internal route.
    #[arg(long, global = true, env = API_TOKEN_ENV, hide_env_values = true)]
    pub api_token: Option<String>,
}

/// The commands that talk to a service's API.
#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Start an execution.
    Start {
        /// The workflow.
        workflow: String,
        /// The input, as JSON.
        input: String,
        /// An execution name: starting the same name again returns the same execution.
        #[arg(long)]
        name: Option<String>,
        /// Print the history as it grows, until the execution ends.
        #[arg(long)]
        follow: bool,
    },
    /// Show an execution's status and result.
    Status {
        /// The execution.
        execution: String,
    },
    /// List executions.
    List {
        /// Only this workflow.
        #[arg(long)]
        workflow: Option<String>,
        /// Only this status (running, succeeded, failed, timed_out, cancelled, blocked).
        #[arg(long)]
        status: Option<String>,
        /// Page size.
        #[arg(long)]
        limit: Option<u32>,
        /// The page after this token.
        #[arg(long)]
        next_token: Option<String>,
        /// Only executions whose attribute has this value (`ctx.set_attribute`), as
        /// `key=value`; repeat for several.
        #[arg(long = "attr", value_name = "KEY=VALUE", value_parser = attribute_filter)]
        attributes: Vec<(String, String)>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show an execution's history.
    History {
        /// The execution.
        execution: String,
        /// Print the history document as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Ask an execution a query (`ctx.answer_query`): prints its answer as JSON.
    Query {
        /// The execution.
        execution: String,
        /// The query.
        name: String,
    },
    /// Send an update (`ctx.next_update`) and wait for the workflow's answer: prints the
    /// answer as JSON; a rejection is an error that gives the workflow's reason.
    Update {
        /// The execution.
        execution: String,
        /// The update's name.
        name: String,
        /// The input, as JSON.
        #[arg(long, default_value = "null")]
        input: String,
        /// The update's id: sending the same id again is the same update (answered once).
        #[arg(long = "id")]
        id: Option<String>,
        /// How long to wait for the answer, in seconds.
        #[arg(long = "wait", value_name = "SECS")]
        wait: Option<f64>,
    },
    /// Send a signal.
    Signal {
        /// The execution.
        execution: String,
        /// The signal's name.
        name: String,
        /// The payload, as JSON.
        #[arg(default_value = "null")]
        payload: String,
    },
    /// Publish an event.
    Publish {
        /// `source` of the event.
        source: String,
        /// `detail-type` of the event.
        detail_type: String,
        /// `detail`, as JSON.
        detail: String,
    },
    /// The dead-letter queue.
    Dlq {
        /// list or redrive.
        #[command(subcommand)]
        action: DlqAction,
    },
    /// Cancel an execution: its body stops and its compensations run.
    Cancel {
        /// The execution.
        execution: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Terminate an execution: it ends at once, without compensations.
    Terminate {
        /// The execution.
        execution: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Replay recorded histories against this binary's code: reports each non-determinism with
    /// its step. With `--all`, every history of the engine (or of `--dir`) is replayed and the
    /// command fails if any does not: the check to run before a deploy.
    Replay {
        /// The execution (its history is fetched from the API).
        execution: Option<String>,
        /// Read the history document from this file instead.
        #[arg(long)]
        history_file: Option<PathBuf>,
        /// Replay every recorded history.
        #[arg(long, conflicts_with_all = ["execution", "history_file"])]
        all: bool,
        /// With `--all`: only the histories of this workflow.
        #[arg(long, requires = "all")]
        workflow: Option<String>,
        /// With `--all`: the history documents (`*.json`, as `history --json` writes them) in
        /// this directory instead of the engine's.
        #[arg(long, requires = "all")]
        dir: Option<PathBuf>,
    },
    /// Show an execution's steps on a timeline with durations.
    Timeline {
        /// The execution.
        execution: String,
    },
    /// Schedules: workflows started on a `rate(...)` or `cron(...)` expression.
    Schedule {
        /// create, list, pause, resume or delete.
        #[command(subcommand)]
        action: ScheduleAction,
    },
}

/// Schedule actions.
#[derive(Debug, Subcommand)]
pub enum ScheduleAction {
    /// Create a schedule.
    Create {
        /// The schedule's name (its executions are named `<name>-schedule-<firing millis>`).
        name: String,
        /// The workflow it starts.
        workflow: String,
        /// `rate(5 minutes)` or `cron(0 12 * * ? *)`, in EventBridge Scheduler's syntax (UTC).
        expression: String,
        /// The input of every execution, as JSON.
        #[arg(long, default_value = "null")]
        input: String,
        /// `skip` (default) or `allow`: whether a firing starts while the previous execution
        /// still runs.
        #[arg(long)]
        overlap: Option<String>,
        /// `once` (default), `all` or `none`: what happens to firings missed while the engine
        /// was down.
        #[arg(long)]
        catch_up: Option<String>,
    },
    /// List schedules with their next firing.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Pause a schedule.
    Pause {
        /// The schedule.
        name: String,
    },
    /// Resume a paused schedule (the firings missed while paused are not caught up).
    Resume {
        /// The schedule.
        name: String,
    },
    /// Delete a schedule created at runtime.
    Delete {
        /// The schedule.
        name: String,
    },
}

/// `key=value` of `--attr`.
fn attribute_filter(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("`{text}` is not `key=value`")),
    }
}

/// Dead-letter queue actions.
#[derive(Debug, Subcommand)]
pub enum DlqAction {
    /// List dead letters.
    List,
    /// Deliver dead letters again (all, or one by id).
    Redrive {
        /// The entry; all when omitted.
        id: Option<String>,
    },
}

/// Parses the process's arguments and runs the command against the API over HTTP.
pub fn main() -> ExitCode {
    main_with(&http)
}

/// Like [`main`], reaching the API through the transport `connect` makes of the [`Target`].
pub fn main_with(connect: &Connect) -> ExitCode {
    run_with(Cli::parse(), connect)
}

/// Runs a parsed command line, reaching the API through the transport `connect` makes of the
/// [`Target`].
pub fn run_with(cli: Cli, connect: &Connect) -> ExitCode {
    execute(&cli.target, cli.command, connect)
}

/// Runs `command` against the API at `target`, reached through `connect`; prints an error and
/// fails when it does.
pub fn execute(target: &Target, command: ApiCommand, connect: &Connect) -> ExitCode {
    exit_code(connect(target).and_then(|transport| commands::call(command, transport)))
}

/// Success, or the error printed to stderr and failure.
pub fn exit_code(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
