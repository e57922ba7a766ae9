//! Every workflow, task and subscription of the linked program, collected at link time.
//!
//! The macros add one descriptor per item to a linkme distributed slice; engines, the build
//! script and the CLI look handlers up here, so there is no hand-written registration list.

use crate::api::{ApiAuth, ApiReply, ApiRequest};
use crate::error::Failure;
use crate::event::EventEnvelope;
use crate::schedule::StaticSchedule;
use crate::task::{RetryPolicy, TaskOptions};
use crate::workflow::replay::{Catalog, ReplayError, StartRequest, StepOutput, WorkflowExecutor};
use crate::workflow::{WorkflowContext, WorkflowFuture};
use futures::future::BoxFuture;
use linkme::distributed_slice;
use serde_json::Value;

mod flow;

pub use flow::{FlowArm, FlowNode, FlowStep};

/// Starts a workflow body: deserializes the input (an error names the field) and returns the
/// body's future.
pub type StartFn = fn(WorkflowContext, Value) -> Result<WorkflowFuture, String>;

/// Runs one attempt of a task body on JSON input.
pub type TaskRunFn = fn(Value) -> Result<BoxFuture<'static, Result<Value, Failure>>, String>;

/// Runs an event handler on one event.
pub type HandlerFn = fn(EventEnvelope) -> BoxFuture<'static, Result<(), HandlerFailure>>;

/// Where an item is defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceLocation {
    /// The Rust path (`crate::module::item`).
    pub rust_path: &'static str,
    /// The source file.
    pub file: &'static str,
    /// The line.
    pub line: u32,
}

/// A `#[workflow]`.
#[derive(Debug)]
pub struct WorkflowDescriptor {
    /// The registered name.
    pub name: &'static str,
    /// Where it is defined.
    pub location: SourceLocation,
    /// The execution timeout, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// How long an ended execution and its history are kept, in milliseconds; `None` takes the
    /// engine's default.
    pub retention_ms: Option<u64>,
    /// Functions the body calls that may be tasks (checked against the task registry).
    pub calls: &'static [&'static str],
    /// Tasks the body calls by name (`ctx.call_task_by_name("...")`): each must be registered.
    pub named_tasks: &'static [&'static str],
    /// Child workflows the body starts by type.
    pub children: &'static [&'static str],
    /// Signal names the body waits for or reads.
    pub signals: &'static [&'static str],
    /// Event types the body emits.
    pub events: &'static [&'static str],
    /// Durable timers the body starts, as written (`sleep(Duration::from_secs(60))`).
    pub timers: &'static [&'static str],
    /// The body's durable steps in the order it runs them (what its diagram draws).
    pub flow: &'static [FlowNode],
    /// Starts the body.
    pub start: StartFn,
    /// The static schedule that starts it (`#[workflow(schedule = "...")]`), if any.
    pub schedule: Option<StaticSchedule>,
}

/// A `#[task]`.
#[derive(Debug)]
pub struct TaskDescriptor {
    /// The registered name.
    pub name: &'static str,
    /// Where it is defined.
    pub location: SourceLocation,
    /// Timeout, heartbeat, retry.
    pub options: TaskOptions,
    /// Runs the body.
    pub run: TaskRunFn,
}

/// An `#[on_event]` subscription.
#[derive(Debug)]
pub struct SubscriptionDescriptor {
    /// The registered name.
    pub name: &'static str,
    /// Where it is defined.
    pub location: SourceLocation,
    /// The EventBridge pattern, as JSON text (validated at compile time).
    pub pattern: &'static str,
    /// The Rust type of `detail`.
    pub event_type: &'static str,
    /// Retries of failed deliveries.
    pub retry: RetryPolicy,
    /// Whether deliveries that used up their retries go to the dead-letter queue.
    pub dead_letter: bool,
    /// Runs the handler.
    pub handle: HandlerFn,
}

/// Why a handler did not take an event.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum HandlerFailure {
    /// `detail` did not deserialize into the handler's type: retrying cannot help.
    #[error("the event does not fit the handler: {0}")]
    InvalidEvent(String),
    /// The handler returned an error.
    #[error("the handler failed: {0}")]
    Failed(String),
    /// The handler panicked.
    #[error("the handler panicked: {0}")]
    Panicked(String),
}

impl HandlerFailure {
    /// Whether a retry might succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, HandlerFailure::InvalidEvent(_))
    }
}

/// Answers one request to an `#[api]` route.
pub type ApiHandlerFn = fn(ApiRequest) -> BoxFuture<'static, ApiReply>;

/// The JSON Schema of a route's body, query or response type (for the OpenAPI document).
pub type SchemaFn = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

/// An `#[api]` route.
#[derive(Debug)]
pub struct ApiRouteDescriptor {
    /// The registered name (the function's, unless renamed).
    pub name: &'static str,
    /// Where it is defined.
    pub location: SourceLocation,
    /// The method, upper case (`GET`, `POST`, ...).
    pub method: &'static str,
    /// The path, with `{param}` segments (checked at compile time).
    pub path: &'static str,
    /// Who may call it on AWS.
    pub auth: ApiAuth,
    /// The path parameters, in path order.
    pub path_params: &'static [&'static str],
    /// The schema of each path parameter, in path order: its type's when the type implements
    /// `JsonSchema`, a string's otherwise.
    pub path_param_schemas: &'static [SchemaFn],
    /// The schema of the `Json<T>` body, if the route takes one.
    pub body: Option<SchemaFn>,
    /// The schema of the `Query<T>` parameters, if the route takes them.
    pub query: Option<SchemaFn>,
    /// The schema of the success body.
    pub response: SchemaFn,
    /// Whether the function returns `ApiResponse<T>` and so chooses its success status
    /// (`201`, `202`, ...); otherwise it always answers `200`.
    pub chooses_status: bool,
    /// Answers a request.
    pub handle: ApiHandlerFn,
}

impl ApiRouteDescriptor {
    /// `METHOD /path`, as API Gateway names a route.
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Folds a snapshot (or the default state) and events, all JSON, into the state.
pub type FoldFn = fn(Option<Value>, &[Value]) -> Result<Value, String>;

/// What a command's future gives: its events or its error, serialized; `Err` for a fault
/// (events that do not serialize, a panic).
pub type CommandOutcome = Result<Result<Vec<Value>, Value>, String>;

/// Starts command `command` with JSON arguments on a JSON state; `Err` names what does not
/// fit (the state, the arguments, the command).
pub type DecideFn = fn(
    Value,
    &str,
    Value,
    crate::entity::EntityContext,
) -> Result<BoxFuture<'static, CommandOutcome>, String>;

/// An `#[entity]`.
#[derive(Debug)]
pub struct EntityDescriptor {
    /// The entity type's registered name.
    pub name: &'static str,
    /// Where its state type is defined.
    pub location: SourceLocation,
    /// A snapshot is stored every this many events.
    pub snapshot_every: Option<u64>,
    /// Its commands' names.
    pub commands: &'static [&'static str],
    /// The Rust type of its events, as written.
    pub event_type: &'static str,
    /// Folds events into the state.
    pub fold: FoldFn,
    /// Runs a command.
    pub decide: DecideFn,
}

/// Every `#[entity]` of the program.
#[distributed_slice]
pub static ENTITIES: [EntityDescriptor];

/// The entity type registered as `name`.
pub fn entity(name: &str) -> Option<&'static EntityDescriptor> {
    ENTITIES.iter().find(|e| e.name == name)
}

/// Every `#[api]` route of the program.
#[distributed_slice]
pub static API_ROUTES: [ApiRouteDescriptor];

/// Every workflow of the program.
#[distributed_slice]
pub static WORKFLOWS: [WorkflowDescriptor];

/// Every task of the program.
#[distributed_slice]
pub static TASKS: [TaskDescriptor];

/// Every subscription of the program.
#[distributed_slice]
pub static SUBSCRIPTIONS: [SubscriptionDescriptor];

/// The workflow registered as `name`.
pub fn workflow(name: &str) -> Option<&'static WorkflowDescriptor> {
    WORKFLOWS.iter().find(|w| w.name == name)
}

/// The task registered as `name`.
pub fn task(name: &str) -> Option<&'static TaskDescriptor> {
    TASKS.iter().find(|t| t.name == name)
}

/// The subscription registered as `name`.
pub fn subscription(name: &str) -> Option<&'static SubscriptionDescriptor> {
    SUBSCRIPTIONS.iter().find(|s| s.name == name)
}

/// The registered tasks as the replay core's [`Catalog`].
pub struct Registered;

impl Catalog for Registered {
    fn task(&self, name: &str) -> Option<(&'static str, crate::task::TaskOptions)> {
        task(name).map(|task| (task.name, task.options))
    }
}

/// Executors of the registered service: what engines and tests run.
impl WorkflowExecutor {
    /// Starts a new execution of `workflow` at `now`, with the registered tasks (see
    /// [`WorkflowExecutor::start_in`]).
    pub fn start(
        workflow: &WorkflowDescriptor,
        request: StartRequest,
        now: crate::time::Timestamp,
    ) -> Result<(Self, StepOutput), ReplayError> {
        Self::start_in(&Registered, workflow, request, now)
    }

    /// Rebuilds an execution from its history, with the registered tasks (see
    /// [`WorkflowExecutor::replay_in`]).
    pub fn replay(
        workflow: &WorkflowDescriptor,
        history: &[crate::workflow::HistoryEvent],
    ) -> Result<Self, ReplayError> {
        Self::replay_in(&Registered, workflow, history)
    }
}
