//! What macro expansions call. Paths here may change without notice.

pub use crate::api::{ApiAuth, ApiReply, ApiRequest, ApiResponse, FromApiRequest};
pub use crate::entity::EntityTarget;
pub use crate::registry::{
    ApiRouteDescriptor, FlowArm, FlowNode, FlowStep, HandlerFailure, SourceLocation,
    SubscriptionDescriptor, TaskDescriptor, WorkflowDescriptor, API_ROUTES, SUBSCRIPTIONS, TASKS,
    WORKFLOWS,
};
pub use crate::registry::{CommandOutcome, EntityDescriptor, ENTITIES};
pub use crate::schedule::{CatchUpPolicy, OverlapPolicy, StaticSchedule};
pub use crate::task::{Backoff, RetryPolicy, Task, TaskOptions};
pub use crate::workflow::{current_workflow, Workflow, WorkflowContext, WorkflowFuture};
pub use futures::future::BoxFuture;
pub use linkme;
pub use schemars;
pub use serde_json::Value;

use crate::error::{Failure, StepErrorKind};
use crate::event::{Event, EventEnvelope};
use futures::FutureExt;
use serde::de::DeserializeOwned;
use std::fmt::Display;
use std::future::Future;
use std::panic::AssertUnwindSafe;

/// Deserializes the input and starts the body of workflow `W`.
pub fn start_workflow<W, F, Fut>(
    ctx: WorkflowContext,
    input: Value,
    body: F,
) -> Result<WorkflowFuture, String>
where
    W: Workflow,
    F: FnOnce(WorkflowContext, W::Input) -> Fut,
    Fut: Future<Output = Result<W::Output, W::Error>> + Send + 'static,
{
    let input: W::Input = serde_json::from_value(input).map_err(|error| error.to_string())?;
    let future = body(ctx, input);
    Ok(Box::pin(async move {
        match future.await {
            Ok(output) => serde_json::to_value(&output).map_err(|error| {
                Failure::new(
                    StepErrorKind::InvalidOutput,
                    format!("the output did not serialize: {error}"),
                )
            }),
            Err(error) => Err(Failure::from_error(&error)),
        }
    }))
}

/// The input of a scheduled start: `T::default()` as JSON. A scheduled workflow's input type
/// must implement `Default` (the expansion calls this spanned on that type).
pub fn scheduled_input<T: Default + serde::Serialize>() -> Value {
    // A default that does not serialize (a map with non-string keys) becomes `null`, which
    // the workflow's own input check then refuses, naming the field, at the firing.
    serde_json::to_value(T::default()).unwrap_or(Value::Null)
}

/// Deserializes the input and runs one attempt of task `T`'s body, turning a panic into a
/// `Panicked` failure.
pub fn run_task<T, F, Fut>(
    input: Value,
    body: F,
) -> Result<BoxFuture<'static, Result<Value, Failure>>, String>
where
    T: crate::task::Task,
    F: FnOnce(T::Input) -> Fut,
    Fut: Future<Output = Result<T::Output, T::Error>> + Send + 'static,
{
    let input: T::Input = serde_json::from_value(input).map_err(|error| error.to_string())?;
    let future = body(input);
    Ok(Box::pin(async move {
        match AssertUnwindSafe(future).catch_unwind().await {
            Ok(Ok(output)) => serde_json::to_value(&output).map_err(|error| {
                Failure::new(
                    StepErrorKind::InvalidOutput,
                    format!("the output did not serialize: {error}"),
                )
            }),
            Ok(Err(error)) => Err(Failure::from_error(&error)),
            Err(panic) => Err(Failure::new(
                StepErrorKind::Panicked,
                panic_message(&*panic),
            )),
        }
    }))
}

/// Decodes the event for a handler and runs it; a `detail` that does not fit is an
/// `InvalidEvent` failure (it goes to the dead-letter queue), never a panic.
pub fn run_handler<T, E, F, Fut>(
    event: EventEnvelope,
    body: F,
) -> BoxFuture<'static, Result<(), HandlerFailure>>
where
    T: DeserializeOwned,
    E: Display,
    F: FnOnce(Event<T>) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
{
    let event: Event<T> = match event.decode() {
        Ok(event) => event,
        Err(error) => {
            return Box::pin(std::future::ready(Err(HandlerFailure::InvalidEvent(
                error.to_string(),
            ))))
        }
    };
    let future = body(event);
    Box::pin(async move {
        match AssertUnwindSafe(future).catch_unwind().await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(HandlerFailure::Failed(error.to_string())),
            Err(panic) => Err(HandlerFailure::Panicked(panic_message(&*panic))),
        }
    })
}

/// The JSON Schema of `T`, for a route's registry entry.
pub fn schema_of<T: schemars::JsonSchema>(
    generator: &mut schemars::SchemaGenerator,
) -> schemars::Schema {
    generator.subschema_for::<T>()
}

/// The schema of a path parameter of type `T`, chosen at expansion by autoref
/// specialization: a path parameter is any `FromStr` type, so its type's own schema when it
/// implements `JsonSchema` ([`PathParamOwnSchema`]), a string's otherwise
/// ([`PathParamStringSchema`]). The expansion calls `(&PathParamSchema::<T>::new()).schema_fn()`
/// with both traits in scope: method lookup tries the receiver `&PathParamSchema<T>` before
/// borrowing it again, so the first trait wins whenever its bound holds.
pub struct PathParamSchema<T>(std::marker::PhantomData<T>);

impl<T> PathParamSchema<T> {
    /// The probe of `T`.
    pub const fn new() -> Self {
        PathParamSchema(std::marker::PhantomData)
    }
}

impl<T> Default for PathParamSchema<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A path parameter whose type has a JSON Schema: that schema.
pub trait PathParamOwnSchema {
    /// The schema function of the parameter.
    fn schema_fn(&self) -> crate::registry::SchemaFn;
}

impl<T: schemars::JsonSchema> PathParamOwnSchema for PathParamSchema<T> {
    fn schema_fn(&self) -> crate::registry::SchemaFn {
        schema_of::<T>
    }
}

/// A path parameter whose type has no JSON Schema: the text it is parsed from.
pub trait PathParamStringSchema {
    /// The schema function of the parameter.
    fn schema_fn(&self) -> crate::registry::SchemaFn;
}

impl<T> PathParamStringSchema for &PathParamSchema<T> {
    fn schema_fn(&self) -> crate::registry::SchemaFn {
        schema_of::<String>
    }
}

/// Runs a route, turning a panic into a JSON 500 so that the server goes on serving.
pub fn run_route<F>(route: F) -> BoxFuture<'static, ApiReply>
where
    F: Future<Output = ApiReply> + Send + 'static,
{
    Box::pin(async move {
        match AssertUnwindSafe(route).catch_unwind().await {
            Ok(reply) => reply,
            Err(panic) => ApiReply::from(crate::api::ApiError::internal(format!(
                "the route panicked: {}",
                panic_message(&*panic)
            ))),
        }
    })
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-string payload".to_owned())
}

macro_rules! serde_assertions {
    ($($name:ident: $what:literal),* $(,)?) => {$(
        #[doc = concat!("Compile-time check, spanned on the type, that ", $what, " serializes both ways.")]
        pub fn $name<T: serde::Serialize + DeserializeOwned>() {}
    )*};
}

serde_assertions! {
    assert_workflow_input: "a workflow's input",
    assert_workflow_output: "a workflow's output",
    assert_workflow_error: "a workflow's error",
    assert_task_input: "a task's input",
    assert_task_output: "a task's output",
    assert_task_error: "a task's error",
    assert_event_detail: "an event's detail",
}

// ---- entities ------------------------------------------------------------------------------

/// Requires an entity's state to be what the runtime stores (spanned on the state type).
pub fn assert_entity_state<T: Default + serde::Serialize + DeserializeOwned>() {}

/// Requires an entity's events to serialize both ways (spanned on the event type).
pub fn assert_entity_event<T: serde::Serialize + DeserializeOwned>() {}

/// Requires a command argument to serialize both ways (spanned on its type).
pub fn assert_command_arg<T: serde::Serialize + DeserializeOwned>() {}

/// Requires a command's error to serialize both ways (spanned on its type).
pub fn assert_command_error<T: serde::Serialize + DeserializeOwned>() {}

/// A command's arguments (a tuple) as the JSON array it travels as.
pub fn command_args_to_json<T: serde::Serialize>(args: &T) -> Result<Value, String> {
    serde_json::to_value(args).map_err(|error| error.to_string())
}

/// A command's arguments from JSON; the error names the command.
pub fn command_args_from_json<T: DeserializeOwned>(
    command: &str,
    args: Value,
) -> Result<T, String> {
    serde_path_to_error::deserialize(args).map_err(|error| {
        format!(
            "the arguments of command `{command}` do not fit its parameters (at `{}`): {}",
            error.path(),
            error.inner()
        )
    })
}

/// An entity's state from JSON; the error names the field.
pub fn entity_state_from_json<T: DeserializeOwned>(state: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(state).map_err(|error| {
        format!(
            "the stored state does not fit the state type (at `{}`): {}",
            error.path(),
            error.inner()
        )
    })
}

/// The error for a command the entity does not have.
pub fn unknown_command(entity: &str, command: &str) -> String {
    format!("entity `{entity}` has no command `{command}`")
}

/// Folds a JSON snapshot (or the default state) and JSON events into the state of `E`.
pub fn fold_entity<E: crate::entity::Entity>(
    state: Option<Value>,
    events: &[Value],
) -> Result<Value, String> {
    let mut state: E = match state {
        Some(state) => entity_state_from_json(state)?,
        None => E::default(),
    };
    for (index, event) in events.iter().enumerate() {
        let event: E::Event = serde_path_to_error::deserialize(event).map_err(|error| {
            format!(
                "event {index} of entity type `{}` does not fit its event type (at `{}`): {}",
                E::TYPE,
                error.path(),
                error.inner()
            )
        })?;
        state.apply(&event);
    }
    serde_json::to_value(&state).map_err(|error| format!("the state does not serialize: {error}"))
}

/// Runs a command's future: its events or error as JSON, a panic as a fault.
pub fn run_command<Ev, E, Fut>(future: Fut) -> BoxFuture<'static, CommandOutcome>
where
    Ev: serde::Serialize,
    E: serde::Serialize,
    Fut: Future<Output = Result<Vec<Ev>, E>> + Send + 'static,
{
    Box::pin(async move {
        match AssertUnwindSafe(future).catch_unwind().await {
            Ok(Ok(events)) => events
                .iter()
                .map(serde_json::to_value)
                .collect::<Result<Vec<_>, _>>()
                .map(Ok)
                .map_err(|error| format!("an event does not serialize: {error}")),
            Ok(Err(error)) => serde_json::to_value(&error)
                .map(Err)
                .map_err(|e| format!("the command's error does not serialize: {e}")),
            Err(panic) => Err(format!("the command panicked: {}", panic_message(&panic))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{PathParamOwnSchema as _, PathParamSchema, PathParamStringSchema as _};
    use serde_json::json;

    /// A path parameter type with no JSON Schema (any `FromStr` type may be one).
    struct Sku;

    #[test]
    // The borrow is the specialization: it makes the own-schema impl the first candidate.
    #[allow(clippy::needless_borrow)]
    fn a_path_parameter_has_its_type_schema_or_a_string() {
        let mut generator = schemars::SchemaGenerator::default();
        let number = (&PathParamSchema::<u64>::new()).schema_fn()(&mut generator);
        assert_eq!(number.to_value()["type"], "integer");
        let text = (&PathParamSchema::<Sku>::new()).schema_fn()(&mut generator);
        assert_eq!(text.to_value(), json!({ "type": "string" }));
    }
}
