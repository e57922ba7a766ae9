//! The service API over HTTP (axum): the local engine serves it on its listener beside the
//! service's own routes ([`serve`](super::serve)), the AWS engine's API function behind API
//! Gateway.
//!
//! Every route lives under [`INTERNAL_PREFIX`] (`/_eventual`), so that a service's own routes
//! own the rest of the URL space. A path that matches no route is a JSON 404.
//!
//! | route (under `/_eventual`) | what |
//! |---|---|
//! | `GET /health` | liveness |
//! | `POST /executions` | start `{workflow, input, name?, correlation_id?}` (idempotent with `name`) |
//! | `GET /executions?workflow=&status=&limit=&next_token=` | list, paginated |
//! | `GET /executions/{id}` | status and result |
//! | `GET /executions/{id}/history?run=` | history document: the current run's, or run `run` (`run-1`, ...) of an execution that continued as new |
//! | `POST /executions/{id}/signals` | signal `{name, payload, id?}` |
//! | `POST /executions/{id}/queries/{name}` | the answer the workflow last set (`ctx.answer_query`): `{result}`; writes nothing |
//! | `POST /executions/{id}/updates/{name}` | update `{input?, update_id?, wait_ms?}`: waits for the workflow's verdict (`ctx.next_update`); 200 `{update_id, status: "accepted", answer}`, 202 `{update_id, status: "pending"}` when the wait ends first, 422 `update_rejected`, 409 `ended` |
//! | `GET /executions/{id}/updates/{update_id}` | where an update stands, answered as above; 404 `unknown_update` |
//! | `POST /executions/{id}/cancel` | cancel `{reason?}` |
//! | `POST /executions/{id}/terminate` | end at once, no compensations `{reason?}` |
//! | `POST /events` | publish `[{source, detail-type, detail}]` (or one event) |
//! | `GET /dlq` | dead letters |
//! | `POST /dlq/redrive`, `POST /dlq/{id}/redrive` | deliver again |
//! | `POST /tasks/complete` | complete a deferred attempt `{token, result}` or `{token, error}` |
//! | `POST /workflows/{name}/execute` | run to the end: body = input, response = output (202 `{execution_id, status: "running"}` when the engine stops waiting first) |
//! | `POST /schedules` | create `{name, workflow, expression, input?, overlap?, catch_up?}` (201) |
//! | `GET /schedules` | list, each with its `next_firing` |
//! | `POST /schedules/{name}/pause`, `POST /schedules/{name}/resume` | pause, resume (no catch-up) |
//! | `DELETE /schedules/{name}` | delete one created at runtime |
//!
//! Errors are `{"error": {"kind", "message"}}` with a 4xx/5xx status; a bad body names the
//! field (serde's message). Ids that contain `/` are sent percent-encoded.

pub use super::INTERNAL_PREFIX;
use super::{ListFilter, ServiceApi};
use crate::engine::client::StartExecution;
use crate::engine::kernel::update::{SendUpdate, UpdateReply, UpdateStatus};
use crate::engine::ServiceError;
use crate::error::{Failure, StepErrorKind};
use crate::event::OutgoingEvent;
use crate::schedule::{CatchUpPolicy, OverlapPolicy, ScheduleSpec};
use crate::task::CompletionToken;
use crate::workflow::command::Outcome;
use crate::workflow::history::History;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({"error": {"kind": self.kind(), "message": self.to_string()}});
        (status, Json(body)).into_response()
    }
}

/// The engine behind the routes.
type Api = State<Arc<dyn ServiceApi>>;

type RouteResult = Result<Response, ServiceError>;

/// Parses a JSON body; the error names the field, as serde reports it.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ServiceError> {
    serde_json::from_slice(bytes)
        .map_err(|error| ServiceError::BadRequest(format!("invalid request body: {error}")))
}

/// The API's routes over `engine`, under [`INTERNAL_PREFIX`], with a JSON 404 for any other
/// path.
pub fn router(engine: Arc<dyn ServiceApi>) -> Router {
    Router::new()
        .nest(INTERNAL_PREFIX, internal_routes(engine))
        .fallback(no_route)
}

/// A path that no route serves: a JSON 404 in the API's error shape.
pub async fn no_route(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    ServiceError::NoRoute(format!("{method} {}", uri.path())).into_response()
}

fn internal_routes(engine: Arc<dyn ServiceApi>) -> Router {
    Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/executions", post(start).get(list))
        .route("/executions/{id}", get(execution))
        .route("/executions/{id}/history", get(history))
        .route("/executions/{id}/signals", post(signal))
        .route("/executions/{id}/queries/{name}", post(query))
        .route(
            "/executions/{id}/updates/{name}",
            post(update).get(update_status),
        )
        .route("/executions/{id}/cancel", post(cancel))
        .route("/executions/{id}/terminate", post(terminate))
        .route("/events", post(publish))
        .route("/dlq", get(dead_letters))
        .route("/dlq/redrive", post(redrive_all))
        .route("/dlq/{id}/redrive", post(redrive_one))
        .route("/tasks/complete", post(complete_task))
        .route("/workflows/{name}/execute", post(execute))
        .route("/schedules", post(create_schedule).get(schedules))
        .route("/schedules/{name}", delete(delete_schedule))
        .route("/schedules/{name}/pause", post(pause_schedule))
        .route("/schedules/{name}/resume", post(resume_schedule))
        .route("/metrics", get(metrics))
        .with_state(engine)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    workflow: String,
    #[serde(default)]
    input: Value,
    name: Option<String>,
    correlation_id: Option<String>,
}

async fn start(State(engine): Api, bytes: Bytes) -> RouteResult {
    let request: StartBody = body(&bytes)?;
    if request.name.as_deref() == Some("") {
        return Err(ServiceError::BadRequest(
            "`name` must not be empty".to_owned(),
        ));
    }
    let started = engine
        .start(StartExecution {
            workflow: request.workflow,
            execution_name: request.name,
            input: request.input,
            correlation_id: request.correlation_id,
        })
        .await?;
    let status = if started.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(started)).into_response())
}

async fn list(State(engine): Api, Query(filter): Query<ListFilter>) -> RouteResult {
    Ok(Json(engine.list(&filter).await?).into_response())
}

async fn execution(State(engine): Api, Path(id): Path<String>) -> RouteResult {
    Ok(Json(engine.execution(&id).await?).into_response())
}

/// The query of a history request.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    /// A run id (`run-1`, ...); the current run when absent.
    run: Option<String>,
}

async fn history(
    State(engine): Api,
    Path(id): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> RouteResult {
    let events = match query.run {
        Some(run_id) => engine.run_history(&id, &run_id).await?,
        None => engine.history(&id).await?,
    };
    Ok(Json(History::new(events)).into_response())
}

async fn query(State(engine): Api, Path((id, name)): Path<(String, String)>) -> RouteResult {
    let answer = engine.query(&id, &name).await?;
    Ok(Json(json!({ "result": answer })).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    #[serde(default)]
    input: Value,
    update_id: Option<String>,
    /// How long to wait for the verdict, in milliseconds.
    wait_ms: Option<u64>,
}

async fn update(
    State(engine): Api,
    Path((id, name)): Path<(String, String)>,
    bytes: Bytes,
) -> RouteResult {
    let request: UpdateBody = if bytes.is_empty() {
        UpdateBody::default()
    } else {
        body(&bytes)?
    };
    let update = SendUpdate {
        name,
        input: request.input,
        update_id: request.update_id,
        wait: request.wait_ms.map(std::time::Duration::from_millis),
    };
    update.check()?;
    let reply = engine.update(&id, update).await?;
    update_response(&id, reply)
}

/// The route's `{name}` segment is the update's id on a GET.
async fn update_status(
    State(engine): Api,
    Path((id, update_id)): Path<(String, String)>,
) -> RouteResult {
    let reply = engine.update_status(&id, &update_id).await?;
    update_response(&id, reply)
}

/// An accepted update is a 200 with its answer, a pending one a 202 with its id, a rejected
/// one an `update_rejected` error.
fn update_response(execution_id: &str, reply: UpdateReply) -> RouteResult {
    if let Some(rejection) = reply.rejection(execution_id) {
        return Err(rejection);
    }
    let status = match reply.status {
        UpdateStatus::Pending => StatusCode::ACCEPTED,
        _ => StatusCode::OK,
    };
    Ok((status, Json(reply)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignalBody {
    name: String,
    #[serde(default)]
    payload: Value,
    id: Option<String>,
}

async fn signal(State(engine): Api, Path(id): Path<String>, bytes: Bytes) -> RouteResult {
    let request: SignalBody = body(&bytes)?;
    engine
        .signal(&id, &request.name, request.payload, request.id)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(json!({}))).into_response())
}

/// The body of a cancel or terminate: an optional reason (an empty body is no reason).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    reason: Option<String>,
}

fn reason(bytes: &Bytes) -> Result<Option<String>, ServiceError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    body::<ReasonBody>(bytes).map(|request| request.reason)
}

async fn cancel(State(engine): Api, Path(id): Path<String>, bytes: Bytes) -> RouteResult {
    engine.cancel(&id, reason(&bytes)?).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({}))).into_response())
}

async fn terminate(State(engine): Api, Path(id): Path<String>, bytes: Bytes) -> RouteResult {
    engine.terminate(&id, reason(&bytes)?).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({}))).into_response())
}

#[derive(Deserialize)]
struct EventBody {
    source: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    #[serde(default)]
    detail: Value,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PublishBody {
    Many(Vec<EventBody>),
    One(EventBody),
}

async fn publish(State(engine): Api, bytes: Bytes) -> RouteResult {
    let events = match body::<PublishBody>(&bytes) {
        Ok(PublishBody::Many(events)) => events,
        Ok(PublishBody::One(event)) => vec![event],
        Err(_) => {
            // Untagged errors say nothing useful: parse again as one event for the field name.
            body::<EventBody>(&bytes)?;
            return Err(ServiceError::BadRequest(
                "expected an event or a list of events".to_owned(),
            ));
        }
    };
    if events.is_empty() {
        return Err(ServiceError::BadRequest("no events to publish".to_owned()));
    }
    let events: Vec<OutgoingEvent> = events
        .into_iter()
        .map(|e| OutgoingEvent::new(e.source, e.detail_type, e.detail))
        .collect();
    for event in &events {
        event
            .check_size()
            .map_err(|error| ServiceError::BadRequest(error.to_string()))?;
    }
    let ids = engine.publish(events).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"ids": ids}))).into_response())
}

async fn dead_letters(State(engine): Api) -> RouteResult {
    Ok(Json(engine.dead_letters().await?).into_response())
}

async fn redrive_all(State(engine): Api) -> RouteResult {
    let count = engine.redrive(None).await?;
    Ok(Json(json!({"redriven": count})).into_response())
}

async fn redrive_one(State(engine): Api, Path(id): Path<String>) -> RouteResult {
    let count = engine.redrive(Some(&id)).await?;
    Ok(Json(json!({"redriven": count})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompleteBody {
    token: CompletionToken,
    result: Option<Value>,
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorBody {
    message: String,
    /// The task's own error value.
    error: Option<Value>,
}

async fn complete_task(State(engine): Api, bytes: Bytes) -> RouteResult {
    let request: CompleteBody = body(&bytes)?;
    let result = match (request.result, request.error) {
        (Some(result), None) => Ok(result),
        (None, Some(error)) => Err(Failure {
            kind: StepErrorKind::Failed,
            message: error.message,
            error: error.error,
        }),
        _ => {
            return Err(ServiceError::BadRequest(
                "give exactly one of `result` and `error`".to_owned(),
            ))
        }
    };
    let accepted = engine.complete_task(request.token, result).await?;
    Ok(Json(json!({"accepted": accepted})).into_response())
}

/// Runs a workflow to its end: the output JSON itself on success; 202 with the execution id
/// when the engine stopped waiting first.
async fn execute(State(engine): Api, Path(name): Path<String>, bytes: Bytes) -> RouteResult {
    let input: Value = if bytes.is_empty() {
        Value::Null
    } else {
        body(&bytes)?
    };
    let started = engine
        .start(StartExecution {
            workflow: name,
            execution_name: None,
            input,
            correlation_id: None,
        })
        .await?;
    let outcome = match engine.wait(&started.execution_id).await {
        Ok(outcome) => outcome,
        // The engine stopped waiting (a Lambda's time is bounded): say where to look.
        Err(ServiceError::StillRunning(id)) => {
            let body = json!({"execution_id": id, "status": "running"});
            return Ok((StatusCode::ACCEPTED, Json(body)).into_response());
        }
        Err(error) => return Err(error),
    };
    let (status, body) = match outcome {
        Outcome::Succeeded { result } => return Ok(Json(result).into_response()),
        Outcome::Failed { error } => (StatusCode::INTERNAL_SERVER_ERROR, json!({"error": error})),
        Outcome::TimedOut => (
            StatusCode::GATEWAY_TIMEOUT,
            json!({"error": {"kind": "timed_out"}}),
        ),
        Outcome::Cancelled { reason } => (
            StatusCode::CONFLICT,
            json!({"error": {"kind": "cancelled", "message": reason}}),
        ),
        Outcome::Terminated { reason } => (
            StatusCode::CONFLICT,
            json!({"error": {"kind": "terminated", "message": reason}}),
        ),
    };
    let mut body = body;
    body["execution_id"] = Value::from(started.execution_id);
    Ok((status, Json(body)).into_response())
}

/// The body of `POST /schedules`: a [`ScheduleSpec`], with unknown fields refused so that a
/// misspelt policy is not silently the default.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleBody {
    name: String,
    workflow: String,
    expression: String,
    #[serde(default)]
    input: Value,
    #[serde(default)]
    overlap: OverlapPolicy,
    #[serde(default)]
    catch_up: CatchUpPolicy,
}

/// OpenMetrics text, which Prometheus scrapes.
async fn metrics(State(engine): Api) -> Response {
    match engine.metrics_text() {
        Some(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        None => ServiceError::NoRoute(
            "GET /_eventual/metrics: this engine reports its metrics elsewhere (the AWS \
             engine, to CloudWatch)"
                .to_owned(),
        )
        .into_response(),
    }
}

async fn create_schedule(State(engine): Api, bytes: Bytes) -> RouteResult {
    let request: ScheduleBody = body(&bytes)?;
    let spec = ScheduleSpec {
        name: request.name,
        workflow: request.workflow,
        expression: request.expression,
        input: request.input,
        overlap: request.overlap,
        catch_up: request.catch_up,
    };
    let created = engine.create_schedule(spec).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn schedules(State(engine): Api) -> RouteResult {
    Ok(Json(json!({"schedules": engine.schedules().await?})).into_response())
}

async fn pause_schedule(State(engine): Api, Path(name): Path<String>) -> RouteResult {
    Ok(Json(engine.pause_schedule(&name).await?).into_response())
}

async fn resume_schedule(State(engine): Api, Path(name): Path<String>) -> RouteResult {
    Ok(Json(engine.resume_schedule(&name).await?).into_response())
}

async fn delete_schedule(State(engine): Api, Path(name): Path<String>) -> RouteResult {
    engine.delete_schedule(&name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
