//! The command line of a service binary: `serve` runs the engine with the service's handlers;
//! the other commands talk to a running engine over HTTP (`--url`, `EVENTUAL_URL`).
//!
//! A service's `main` is one line:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     eventual_runtime::engine::local::cli::main()
//! }
//! ```

use super::{EngineConfig, LocalEngine};
use crate::registry;
use crate::workflow::history::{History, HistoryEvent, HistoryEventKind};
use crate::workflow::replay::WorkflowExecutor;
use clap::{Parser, Subcommand};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Run and operate an eventual-rs service on the embedded engine.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// The engine's API, for every command but `serve` and a local `replay`.
    #[arg(
        long,
        global = true,
        env = "EVENTUAL_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub url: String,
    /// What to do (default: `serve`).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the engine and its HTTP API.
    Serve {
        /// The database file.
        #[arg(long, env = "EVENTUAL_DB", default_value = "eventual.db")]
        db: PathBuf,
        /// Where the API listens.
        #[arg(long, env = "EVENTUAL_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
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
    /// Cancel an execution.
    Cancel {
        /// The execution.
        execution: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Replay a recorded history against this binary's code: reports a non-determinism with
    /// the step, or success.
    Replay {
        /// The execution (its history is fetched from the engine).
        execution: Option<String>,
        /// Read the history document from this file instead.
        #[arg(long)]
        history_file: Option<PathBuf>,
    },
    /// Show an execution's steps on a timeline with durations.
    Timeline {
        /// The execution.
        execution: String,
    },
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

/// Parses the process's arguments and runs the command.
pub fn main() -> ExitCode {
    run(Cli::parse(), "")
}

/// Like [`main`], reaching the API through the transport `connect` makes of `--url`.
pub fn main_with(connect: &Connect) -> ExitCode {
    run_with(Cli::parse(), "", connect)
}

/// Like [`main`], printing `banner` (for example how to start something) when serving.
pub fn main_with_banner(banner: &str) -> ExitCode {
    run(Cli::parse(), banner)
}

/// Runs a parsed command line against the API over HTTP.
pub fn run(cli: Cli, banner: &str) -> ExitCode {
    run_with(cli, banner, &|url| Ok(Box::new(HttpTransport::new(url))))
}

/// Runs a parsed command line, reaching the API through the transport `connect` makes of
/// `--url`.
pub fn run_with(cli: Cli, banner: &str, connect: &Connect) -> ExitCode {
    let command = cli.command.unwrap_or(Command::Serve {
        db: PathBuf::from(
            std::env::var("EVENTUAL_DB").unwrap_or_else(|_| "eventual.db".to_owned()),
        ),
        listen: std::env::var("EVENTUAL_LISTEN")
            .ok()
            .and_then(|text| text.parse().ok())
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
    });
    let result = match command {
        Command::Serve { db, listen } => serve(db, listen, banner),
        command => connect(&cli.url).and_then(|transport| call(command, &Api { transport })),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a command that talks to the API.
fn call(command: Command, api: &Api) -> Result<(), String> {
    match command {
        Command::Serve { .. } => Err("`serve` runs the engine; it does not call one".to_owned()),
        Command::Start {
            workflow,
            input,
            name,
            follow,
        } => start(api, &workflow, &input, name, follow),
        Command::Status { execution } => api
            .get(&format!("/executions/{}", encode(&execution)))
            .map(|row| print_json(&row)),
        Command::List {
            workflow,
            status,
            limit,
            next_token,
            json,
        } => list(api, workflow, status, limit, next_token, json),
        Command::History { execution, json } => history(api, &execution, json),
        Command::Signal {
            execution,
            name,
            payload,
        } => parse_json(&payload, "payload").and_then(|payload| {
            api.post(
                &format!("/executions/{}/signals", encode(&execution)),
                &serde_json::json!({"name": name, "payload": payload}),
            )
            .map(|_| println!("signal `{name}` sent to {execution}"))
        }),
        Command::Publish {
            source,
            detail_type,
            detail,
        } => parse_json(&detail, "detail").and_then(|detail| {
            api.post(
                "/events",
                &serde_json::json!({"source": source, "detail-type": detail_type, "detail": detail}),
            )
            .map(|answer| print_json(&answer))
        }),
        Command::Dlq { action: DlqAction::List } => api.get("/dlq").map(|answer| print_json(&answer)),
        Command::Dlq {
            action: DlqAction::Redrive { id },
        } => {
            let path = match id {
                Some(id) => format!("/dlq/{}/redrive", encode(&id)),
                None => "/dlq/redrive".to_owned(),
            };
            api.post(&path, &Value::Null).map(|answer| print_json(&answer))
        }
        Command::Cancel { execution, reason } => api
            .post(
                &format!("/executions/{}/cancel", encode(&execution)),
                &serde_json::json!({"reason": reason}),
            )
            .map(|_| println!("cancellation of {execution} requested")),
        Command::Replay {
            execution,
            history_file,
        } => replay(api, execution, history_file),
        Command::Timeline { execution } => fetch_history(api, &execution).map(|history| print!("{}", timeline(&history.events))),
    }
}

fn serve(db: PathBuf, listen: SocketAddr, banner: &str) -> Result<(), String> {
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

fn start(
    api: &Api,
    workflow: &str,
    input: &str,
    name: Option<String>,
    follow: bool,
) -> Result<(), String> {
    let input = parse_json(input, "input")?;
    let started = api.post(
        "/executions",
        &serde_json::json!({"workflow": workflow, "input": input, "name": name}),
    )?;
    let id = started["execution_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    println!("{id}");
    if !follow {
        return Ok(());
    }
    let mut shown = 0;
    loop {
        let history = fetch_history(api, &id)?;
        for event in history.events.iter().skip(shown) {
            println!("  {}", describe(event));
        }
        shown = history.events.len();
        if history
            .events
            .last()
            .is_some_and(|event| event.kind.is_terminal())
        {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn list(
    api: &Api,
    workflow: Option<String>,
    status: Option<String>,
    limit: Option<u32>,
    next_token: Option<String>,
    json: bool,
) -> Result<(), String> {
    let mut query = Vec::new();
    for (key, value) in [
        ("workflow", workflow),
        ("status", status),
        ("limit", limit.map(|l| l.to_string())),
        ("next_token", next_token),
    ] {
        if let Some(value) = value {
            query.push(format!("{key}={}", encode(&value)));
        }
    }
    let page = api.get(&format!("/executions?{}", query.join("&")))?;
    if json {
        print_json(&page);
        return Ok(());
    }
    println!(
        "{:<40} {:<24} {:<10} created",
        "EXECUTION", "WORKFLOW", "STATUS"
    );
    for row in page["executions"].as_array().into_iter().flatten() {
        let created = row["created_at"]
            .as_u64()
            .map(|ms| crate::time::Timestamp::from_millis(ms).to_rfc3339())
            .unwrap_or_default();
        println!(
            "{:<40} {:<24} {:<10} {created}",
            row["id"].as_str().unwrap_or_default(),
            row["workflow"].as_str().unwrap_or_default(),
            row["status"].as_str().unwrap_or_default()
        );
    }
    if let Some(token) = page["next_token"].as_str() {
        println!("(more: --next-token {token})");
    }
    Ok(())
}

fn history(api: &Api, execution: &str, json: bool) -> Result<(), String> {
    let history = fetch_history(api, execution)?;
    if json {
        println!("{}", history.to_json());
        return Ok(());
    }
    println!(
        "{:>4}  {:<24} {:<22} {:>4}  detail",
        "#", "time", "event", "seq"
    );
    for (index, event) in history.events.iter().enumerate() {
        let seq = event.kind.seq().map(|s| s.to_string()).unwrap_or_default();
        println!(
            "{index:>4}  {:<24} {:<22} {seq:>4}  {}",
            event.at.to_rfc3339(),
            event.kind.type_name(),
            detail(&event.kind)
        );
    }
    Ok(())
}

fn fetch_history(api: &Api, execution: &str) -> Result<History, String> {
    let document = api.get(&format!("/executions/{}/history", encode(execution)))?;
    History::from_json(&document.to_string()).map_err(|e| e.to_string())
}

fn replay(
    api: &Api,
    execution: Option<String>,
    history_file: Option<PathBuf>,
) -> Result<(), String> {
    let history = match (history_file, execution) {
        (Some(file), _) => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            History::from_json(&text).map_err(|e| e.to_string())?
        }
        (None, Some(execution)) => fetch_history(api, &execution)?,
        (None, None) => return Err("give an execution or --history-file".to_owned()),
    };
    let outcome = replay_history(&history.events)?;
    println!("{outcome}");
    Ok(())
}

/// Replays `events` against the workflows linked into this binary.
pub fn replay_history(events: &[HistoryEvent]) -> Result<String, String> {
    let Some(HistoryEventKind::WorkflowStarted {
        workflow,
        execution_id,
        ..
    }) = events.first().map(|e| &e.kind)
    else {
        return Err("the history does not begin with WorkflowStarted".to_owned());
    };
    let descriptor = registry::workflow(workflow)
        .ok_or_else(|| format!("workflow `{workflow}` is not in this binary"))?;
    WorkflowExecutor::replay(descriptor, events)
        .map(|_| {
            format!(
                "replay ok: {} events of {execution_id} ({workflow}) agree with the code",
                events.len()
            )
        })
        .map_err(|error| format!("replay failed [{}]: {error}", error.code()))
}

/// A text timeline: each step with when it started, how long it took and how it ended.
pub fn timeline(events: &[HistoryEvent]) -> String {
    let Some(start) = events.first().map(|e| e.at) else {
        return String::new();
    };
    struct Step {
        index: usize,
        begun: crate::time::Timestamp,
        label: String,
        ended: Option<(crate::time::Timestamp, String)>,
    }
    let mut steps: BTreeMap<u32, Step> = BTreeMap::new();
    let mut lines = Vec::new();
    // Lines are ordered by the history index of the event that starts them.
    for (index, event) in events.iter().enumerate() {
        let offset = event.at.duration_since(start).as_secs_f64();
        let label = match &event.kind {
            HistoryEventKind::TaskScheduled { name, .. } => Some(format!("task {name}")),
            HistoryEventKind::TimerScheduled { until, .. } => {
                Some(format!("timer until {}", until.to_rfc3339()))
            }
            HistoryEventKind::ChildWorkflowScheduled { name, .. } => Some(format!("child {name}")),
            _ => None,
        };
        match (label, event.kind.seq()) {
            (Some(label), Some(seq)) => {
                steps.insert(
                    seq,
                    Step {
                        index,
                        begun: event.at,
                        label,
                        ended: None,
                    },
                );
            }
            (None, Some(seq)) => {
                let ending = match &event.kind {
                    HistoryEventKind::TaskSucceeded { attempt, .. } => {
                        Some(format!("succeeded (attempt {attempt})"))
                    }
                    HistoryEventKind::TaskFailed { attempt, error, .. } => {
                        Some(format!("failed (attempt {attempt}): {error}"))
                    }
                    HistoryEventKind::TimerFired { .. } => Some("fired".to_owned()),
                    HistoryEventKind::ChildWorkflowSucceeded { .. } => Some("succeeded".to_owned()),
                    HistoryEventKind::ChildWorkflowFailed { error, .. } => {
                        Some(format!("failed: {error}"))
                    }
                    HistoryEventKind::TaskAttemptFailed {
                        attempt, retry_at, ..
                    } => {
                        lines.push((
                            index,
                            format!(
                                "{offset:>9.3}s  #{seq:<4} attempt {attempt} failed, retry at {}",
                                retry_at.to_rfc3339()
                            ),
                        ));
                        None
                    }
                    other => {
                        lines.push((
                            index,
                            format!("{offset:>9.3}s  #{seq:<4} {}", other.type_name()),
                        ));
                        None
                    }
                };
                if let (Some(ending), Some(step)) = (ending, steps.get_mut(&seq)) {
                    step.ended = Some((event.at, ending));
                }
            }
            (_, None) => lines.push((index, format!("{offset:>9.3}s  {}", describe(event)))),
        }
    }
    for (seq, step) in &steps {
        let offset = step.begun.duration_since(start).as_secs_f64();
        let end = match &step.ended {
            Some((at, how)) => format!(
                "{how} after {} ms",
                at.duration_since(step.begun).as_millis()
            ),
            None => "still waiting".to_owned(),
        };
        lines.push((
            step.index,
            format!("{offset:>9.3}s  #{seq:<4} {}: {end}", step.label),
        ));
    }
    lines.sort_by_key(|(index, _)| *index);
    lines.into_iter().map(|(_, line)| line + "\n").collect()
}

fn describe(event: &HistoryEvent) -> String {
    let seq = event
        .kind
        .seq()
        .map(|s| format!(" #{s}"))
        .unwrap_or_default();
    format!("{}{seq} {}", event.kind.type_name(), detail(&event.kind))
}

fn detail(kind: &HistoryEventKind) -> String {
    match kind {
        HistoryEventKind::WorkflowStarted { workflow, .. } => workflow.clone(),
        HistoryEventKind::TaskScheduled { name, .. } => name.clone(),
        HistoryEventKind::TaskAttemptFailed { attempt, error, .. } => {
            format!("attempt {attempt}: {error}")
        }
        HistoryEventKind::TaskSucceeded { result, .. } => compact(result),
        HistoryEventKind::TaskFailed { error, .. }
        | HistoryEventKind::ChildWorkflowFailed { error, .. } => error.to_string(),
        HistoryEventKind::TimerScheduled { until, .. } => until.to_rfc3339(),
        HistoryEventKind::SignalReceived { name, .. }
        | HistoryEventKind::SignalSent { name, .. } => name.clone(),
        HistoryEventKind::EventsEmitted { events, .. } => events
            .iter()
            .map(|e| e.detail_type.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        HistoryEventKind::ChildWorkflowScheduled {
            name, execution_id, ..
        } => format!("{name} {execution_id}"),
        HistoryEventKind::ChildWorkflowSucceeded { result, .. }
        | HistoryEventKind::WorkflowSucceeded { result } => compact(result),
        HistoryEventKind::ValueRecorded { value, .. } => compact(value),
        HistoryEventKind::WorkflowFailed { error } => error.to_string(),
        HistoryEventKind::CancelRequested { reason }
        | HistoryEventKind::WorkflowCancelled { reason }
        | HistoryEventKind::WorkflowTerminated { reason } => reason.clone().unwrap_or_default(),
        HistoryEventKind::ChildCancelRequested { execution_id, .. } => execution_id.clone(),
        HistoryEventKind::TimerFired { .. } | HistoryEventKind::WorkflowTimedOut => String::new(),
    }
}

fn compact(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 80 {
        format!(
            "{}…",
            &text[..text.char_indices().nth(79).map_or(text.len(), |(i, _)| i)]
        )
    } else {
        text
    }
}

fn parse_json(text: &str, what: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("the {what} is not valid JSON: {e}"))
}

fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// Percent-encodes a path segment or query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// How the CLI reaches a service's API: one request, answered with a status and a JSON body.
///
/// The CLI speaks HTTP to the local engine ([`HttpTransport`]); another engine plugs in its
/// own way in (the AWS engine invokes its API function) with [`run_with`].
pub trait Transport {
    /// Sends `method path` with a JSON `body`; returns the status and the JSON answer.
    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String>;
}

/// Makes the transport for a `--url`, or says why it cannot.
pub type Connect = dyn Fn(&str) -> Result<Box<dyn Transport>, String>;

/// The API over plain HTTP.
pub struct HttpTransport {
    base: String,
    agent: ureq::Agent,
}

impl HttpTransport {
    /// A transport to the API at `base` (`http://127.0.0.1:8080`).
    pub fn new(base: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        HttpTransport {
            base: base.trim_end_matches('/').to_owned(),
            agent,
        }
    }
}

impl Transport for HttpTransport {
    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let url = format!("{}{path}", self.base);
        let response = match body {
            Some(body) if method == "POST" => self.agent.post(url).send_json(body),
            _ => self.agent.get(url).call(),
        };
        let mut response = response.map_err(|e| format!("cannot reach the engine: {e}"))?;
        let body: Value = response.body_mut().read_json().unwrap_or(Value::Null);
        Ok((response.status().as_u16(), body))
    }
}

/// The commands' view of the API: a transport and the error convention of the routes.
struct Api {
    transport: Box<dyn Transport>,
}

impl Api {
    fn get(&self, path: &str) -> Result<Value, String> {
        Self::answer(self.transport.request("GET", path, None)?)
    }

    fn post(&self, path: &str, body: &Value) -> Result<Value, String> {
        Self::answer(self.transport.request("POST", path, Some(body))?)
    }

    fn answer((status, body): (u16, Value)) -> Result<Value, String> {
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            let message = body["error"]["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| body.to_string());
            Err(format!("{status}: {message}"))
        }
    }
}
