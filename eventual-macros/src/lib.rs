//! Procedural macros of eventual-rs: `#[workflow]`, `#[task]`, `#[on_event]`, `#[api]` and
//! `#[entity]`.
//!
//! Use them through `eventual_runtime` (`use eventual_runtime::prelude::*;`); the expansions
//! refer to `::eventual_runtime::__private`.
//!
//! Each attribute parses its options and the function into a typed model (`model`), checks it
//! (`check`), and only then generates code from the model (`expand`). Errors are collected in a
//! [`ctxt::Ctxt`] so that every mistake in an item is reported at once.

mod attr;
mod check;
mod ctxt;
mod duration;
mod entity;
mod expand;
mod flow;
mod model;
mod route;

use proc_macro::TokenStream;

/// Turns an `async fn(ctx: WorkflowContext, input: I) -> Result<O, E>` into a durable,
/// replayable workflow.
///
/// Options: `name = "..."` (default: the function's name), `timeout = "1h"`,
/// `retention = "30d"` (how long an ended execution and its history are kept; default: the
/// engine's),
/// `crate = "path"` (where `eventual_runtime` is, when renamed).
///
/// Scheduling: `schedule = "rate(5 minutes)"` or `schedule = "cron(0 12 * * ? *)"`
/// (EventBridge Scheduler's syntax, UTC, checked at compile time) starts the workflow on that
/// schedule with `Input::default()` (so the input, if any, implements `Default`);
/// `overlap = "skip" | "allow"` (default `skip`: a firing is skipped while the previous
/// execution runs) and `catch_up = "once" | "all" | "none"` (default `once`: what a restart
/// does with the firings missed while the engine was down).
///
/// The body may not read the wall clock, sleep, spawn, draw random numbers or read the
/// environment: each such call is a compile error naming the `ctx` replacement.
///
/// The registry entry also carries the body's flow, read from its syntax: the durable steps
/// in the order the body runs them (awaited calls, which the build keeps when they name a
/// `#[task]`; timers, signal waits, children, emitted events, saga compensations), inside the
/// `if` / `match` branches, loops, joins (`all`, `join!`) and races (`race`, `any`) around
/// them. `cargo build` draws it as `target/eventual/<service>/<workflow>.mmd`.
#[proc_macro_attribute]
pub fn workflow(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::dispatch(model::Kind::Workflow, args.into(), item.into()).into()
}

/// Turns an `async fn(input…) -> Result<O, E>` into a task: retried, timed out, run at most
/// once per attempt. Called inside a workflow, the function schedules the task.
///
/// Options: `name`, `timeout = "30s"`, `heartbeat = "10s"`,
/// `retry(max_attempts = 5, backoff = "exponential" | "fixed", initial = "1s", max = "1m",
/// multiplier = 2.0, jitter = 0.1)`, `crate`.
#[proc_macro_attribute]
pub fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::dispatch(model::Kind::Task, args.into(), item.into()).into()
}

/// Serves an `async fn` as one of the service's own HTTP routes: `#[api(POST "/orders")]`,
/// `#[api(GET "/orders/{id}")]`.
///
/// The fn takes path parameters by name (`{id}` → `id: T`, `T: FromStr`), `Json<T>` (the
/// body), `Query<T>` (the query string), `Headers` and `ApiContext` (the service client), in
/// any order, and returns `Result<T, E>` or `Result<ApiResponse<T>, E>` with
/// `E: Into<ApiError>`. Body, query and response types implement `schemars::JsonSchema` (the
/// OpenAPI document is built from them).
///
/// Options: `auth = "none" | "iam" | "jwt"` (who may call it on AWS; default `none`),
/// `name`, `crate`. The path is checked at compile time: segments of letters, digits, `-`,
/// `.`, `_`, `~` or whole `{param}` segments, nothing under the engine's `/_eventual`.
#[proc_macro_attribute]
pub fn api(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::dispatch(model::Kind::Api, args.into(), item.into()).into()
}

/// Subscribes an `async fn(event: Event<T>) -> Result<(), E>` to bus events matching an
/// Amazon EventBridge pattern, which is checked at compile time.
///
/// Options: `pattern = r#"{...}"#` (required), `name`, `retry(...)` as for `#[task]`,
/// `dead_letter = true | false` (default `true`), `crate`.
#[proc_macro_attribute]
pub fn on_event(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::dispatch(model::Kind::OnEvent, args.into(), item.into()).into()
}

/// Makes the `impl` block of a state type an event-sourced entity.
///
/// The block holds a pure `fn apply(&mut self, event: &Event)` that folds one event into the
/// state, and command methods `async fn name(&self, ctx: EntityContext, args...) ->
/// Result<Vec<Event>, Error>` that decide, from the current state, which events to append.
/// Methods without a receiver are left alone; a method may be renamed with
/// `#[command(name = "...")]`.
///
/// The state implements `Default + Serialize + DeserializeOwned`, events and command
/// arguments `Serialize + DeserializeOwned`. The macro generates `<State>Ref`, whose methods
/// send the commands (`ctx.entity::<Account>(id).withdraw(10).await`).
///
/// Options: `name = "..."` (the entity type; default: the type's name in snake_case),
/// `snapshot_every = N` (store a snapshot of the state every N events; default: never),
/// `crate`.
#[proc_macro_attribute]
pub fn entity(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::entity::dispatch(args.into(), item.into()).into()
}
