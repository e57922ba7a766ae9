//! What each command asks the API, and the replay of a history against this binary.

use super::format::{self, print_json};
use super::transport::{encode, Api, Transport};
use super::{ApiCommand, DlqAction, ScheduleAction};
use crate::engine::api::ATTRIBUTE_FILTER_PREFIX;
use crate::registry;
use crate::workflow::history::{History, HistoryEvent, HistoryEventKind};
use crate::workflow::replay::WorkflowExecutor;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Runs `command` against the API `transport` reaches.
pub(super) fn call(command: ApiCommand, transport: Box<dyn Transport>) -> Result<(), String> {
    let api = &Api::new(transport);
    match command {
        ApiCommand::Start {
            workflow,
            input,
            name,
            follow,
        } => start(api, &workflow, &input, name, follow),
        ApiCommand::Status { execution } => api
            .get(&format!("/executions/{}", encode(&execution)))
            .map(|row| print_json(&row)),
        ApiCommand::List {
            workflow,
            status,
            limit,
            next_token,
            attributes,
            json,
        } => {
            let mut filters = vec![
                ("workflow".to_owned(), workflow),
                ("status".to_owned(), status),
                ("limit".to_owned(), limit.map(|l| l.to_string())),
                ("next_token".to_owned(), next_token),
            ];
            filters.extend(attributes.into_iter().map(|(key, value)| {
                (format!("{ATTRIBUTE_FILTER_PREFIX}{key}"), Some(value))
            }));
            list(api, filters, json)
        }
        ApiCommand::History { execution, json } => history(api, &execution, json),
        ApiCommand::Query { execution, name } => api
            .post(
                &format!(
                    "/executions/{}/queries/{}",
                    encode(&execution),
                    encode(&name)
                ),
                &Value::Null,
            )
            .map(|answer| print_json(&answer["result"])),
        ApiCommand::Update {
            execution,
            name,
            input,
            id,
            wait,
        } => send_update(api, &execution, &name, &input, id, wait),
        ApiCommand::Signal {
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
        ApiCommand::Publish {
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
        ApiCommand::Dlq {
            action: DlqAction::List,
        } => api.get("/dlq").map(|answer| print_json(&answer)),
        ApiCommand::Dlq {
            action: DlqAction::Redrive { id },
        } => {
            let path = match id {
                Some(id) => format!("/dlq/{}/redrive", encode(&id)),
                None => "/dlq/redrive".to_owned(),
            };
            api.post(&path, &Value::Null)
                .map(|answer| print_json(&answer))
        }
        ApiCommand::Cancel { execution, reason } => api
            .post(
                &format!("/executions/{}/cancel", encode(&execution)),
                &serde_json::json!({"reason": reason}),
            )
            .map(|_| println!("cancellation of {execution} requested")),
        ApiCommand::Terminate { execution, reason } => api
            .post(
                &format!("/executions/{}/terminate", encode(&execution)),
                &serde_json::json!({"reason": reason}),
            )
            .map(|_| println!("{execution} terminated")),
        ApiCommand::Replay {
            all: true,
            workflow,
            dir,
            ..
        } => replay_all(api, workflow.as_deref(), dir.as_deref()),
        ApiCommand::Replay {
            execution,
            history_file,
            ..
        } => replay(api, execution, history_file),
        ApiCommand::Timeline { execution } => fetch_history(api, &execution)
            .map(|history| print!("{}", format::timeline(&history.events))),
        ApiCommand::Schedule { action } => schedule(api, action),
    }
}

/// The `schedule` commands. Policies go to the API as written: it checks them, and the
/// expression, and names what is wrong.
fn schedule(api: &Api, action: ScheduleAction) -> Result<(), String> {
    let path = |name: &str, action: &str| format!("/schedules/{}{action}", encode(name));
    match action {
        ScheduleAction::Create {
            name,
            workflow,
            expression,
            input,
            overlap,
            catch_up,
        } => {
            let mut body = serde_json::json!({
                "name": name,
                "workflow": workflow,
                "expression": expression,
                "input": parse_json(&input, "input")?,
            });
            for (key, value) in [("overlap", overlap), ("catch_up", catch_up)] {
                if let Some(value) = value {
                    body[key] = Value::String(value);
                }
            }
            api.post("/schedules", &body)
                .map(|created| println!("{}", format::schedule_line(&created)))
        }
        ScheduleAction::List { json: true } => {
            api.get("/schedules").map(|answer| print_json(&answer))
        }
        ScheduleAction::List { json: false } => api.get("/schedules").map(|answer| {
            for schedule in answer["schedules"].as_array().into_iter().flatten() {
                println!("{}", format::schedule_line(schedule));
            }
        }),
        ScheduleAction::Pause { name } => api
            .post(&path(&name, "/pause"), &Value::Null)
            .map(|paused| println!("{}", format::schedule_line(&paused))),
        ScheduleAction::Resume { name } => api
            .post(&path(&name, "/resume"), &Value::Null)
            .map(|resumed| println!("{}", format::schedule_line(&resumed))),
        ScheduleAction::Delete { name } => api
            .delete(&path(&name, ""))
            .map(|_| println!("schedule {name} deleted")),
    }
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
    let mut run_start = None;
    loop {
        let history = fetch_history(api, &id)?;
        // A continue-as-new replaces the served history with the next run's: show it whole.
        let first = history.events.first().cloned();
        if run_start.is_some() && first != run_start {
            shown = 0;
        }
        run_start = first;
        for event in history.events.iter().skip(shown) {
            println!("  {}", format::describe(event));
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

fn list(api: &Api, filters: Vec<(String, Option<String>)>, json: bool) -> Result<(), String> {
    let page = api.get(&executions_path(filters))?;
    if json {
        print_json(&page);
    } else {
        print!("{}", format::executions(&page));
    }
    Ok(())
}

/// `/executions?` with the given filters, encoded.
fn executions_path(filters: Vec<(String, Option<String>)>) -> String {
    let query: Vec<String> = filters
        .into_iter()
        .filter_map(|(key, value)| Some(format!("{}={}", encode(&key), encode(&value?))))
        .collect();
    format!("/executions?{}", query.join("&"))
}

fn history(api: &Api, execution: &str, json: bool) -> Result<(), String> {
    let history = fetch_history(api, execution)?;
    if json {
        println!("{}", history.to_json());
    } else {
        print!("{}", format::history(&history.events));
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

/// Replays every history of the engine or of `dir` (of `workflow` only, if given); prints one
/// line per history and fails if any does not replay.
fn replay_all(api: &Api, workflow: Option<&str>, dir: Option<&Path>) -> Result<(), String> {
    let mut tally = ReplayTally::default();
    match dir {
        Some(dir) => {
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
                .collect();
            files.sort();
            for file in files {
                let history = std::fs::read_to_string(&file)
                    .map_err(|e| e.to_string())
                    .and_then(|text| History::from_json(&text).map_err(|e| e.to_string()));
                tally.replay(&file.display().to_string(), history, workflow);
            }
        }
        None => {
            let mut next_token: Option<String> = None;
            loop {
                let page = api.get(&executions_path(vec![
                    ("workflow".to_owned(), workflow.map(str::to_owned)),
                    ("limit".to_owned(), Some("100".to_owned())),
                    ("next_token".to_owned(), next_token.take()),
                ]))?;
                for row in page["executions"].as_array().into_iter().flatten() {
                    let id = row["id"].as_str().unwrap_or_default();
                    tally.replay(id, fetch_history(api, id), workflow);
                }
                match page["next_token"].as_str() {
                    Some(token) => next_token = Some(token.to_owned()),
                    None => break,
                }
            }
        }
    }
    println!(
        "replayed {} histories: {} failed",
        tally.total, tally.failed
    );
    if tally.failed > 0 {
        return Err(format!(
            "{} of {} histories do not replay on this code",
            tally.failed, tally.total
        ));
    }
    Ok(())
}

/// What `replay --all` has seen so far.
#[derive(Default)]
struct ReplayTally {
    total: usize,
    failed: usize,
}

impl ReplayTally {
    fn replay(&mut self, label: &str, history: Result<History, String>, workflow: Option<&str>) {
        let result = history.and_then(|history| {
            if workflow.is_some_and(|wanted| workflow_of(&history.events) != Some(wanted)) {
                return Ok(None);
            }
            replay_history(&history.events).map(Some)
        });
        match result {
            Ok(None) => return,
            Ok(Some(_)) => println!("ok      {label}"),
            Err(error) => {
                self.failed += 1;
                println!("FAILED  {label}: {error}");
            }
        }
        self.total += 1;
    }
}

fn workflow_of(events: &[HistoryEvent]) -> Option<&str> {
    match events.first().map(|event| &event.kind) {
        Some(HistoryEventKind::WorkflowStarted { workflow, .. }) => Some(workflow),
        _ => None,
    }
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

fn parse_json(text: &str, what: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("the {what} is not valid JSON: {e}"))
}

/// `update`: sends the update, prints the answer (or that it is still pending, with the id to
/// send it again under).
fn send_update(
    api: &Api,
    execution: &str,
    name: &str,
    input: &str,
    id: Option<String>,
    wait: Option<f64>,
) -> Result<(), String> {
    let input = parse_json(input, "input")?;
    let mut body = serde_json::json!({ "input": input });
    if let Some(id) = id {
        body["update_id"] = Value::from(id);
    }
    if let Some(seconds) = wait {
        if !seconds.is_finite() || seconds < 0.0 {
            return Err(format!("--wait takes a number of seconds, not `{seconds}`"));
        }
        body["wait_ms"] = Value::from((seconds * 1000.0).round() as u64);
    }
    let reply = api.post(
        &format!("/executions/{}/updates/{}", encode(execution), encode(name)),
        &body,
    )?;
    match reply["status"].as_str() {
        Some("accepted") => {
            print_json(&reply["answer"]);
            Ok(())
        }
        _ => {
            let update_id = reply["update_id"].as_str().unwrap_or_default();
            println!(
                "update `{update_id}` to {execution} is pending: send it again with \
                 `--id {update_id}` to wait for its answer"
            );
            Ok(())
        }
    }
}
