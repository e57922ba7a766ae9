//! # eventual-runtime
//!
//! Durable, event-driven services written as plain `async fn`s:
//!
//! - `#[workflow]` turns an async function into a replayable state machine whose every
//!   durable step (task call, timer, signal wait, emitted event, child workflow) is recorded in
//!   a history and replayed deterministically;
//! - `#[task]` marks retried, timed-out units of side-effecting work; calling one inside a
//!   workflow schedules it;
//! - `#[on_event]` subscribes a handler to bus events with an Amazon EventBridge pattern,
//!   checked at compile time.
//!
//! ```
//! use eventual_runtime::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Clone, Serialize, Deserialize)]
//! struct Order { id: String, total: u64 }
//!
//! #[task(timeout = "30s", retry(max_attempts = 3))]
//! async fn charge_card(order: Order) -> Result<String, StepError> {
//!     Ok(format!("receipt-{}", order.id))
//! }
//!
//! #[workflow(timeout = "1h")]
//! async fn place_order(ctx: WorkflowContext, order: Order) -> Result<String, WorkflowError> {
//!     let receipt = charge_card(order.clone()).await?;
//!     ctx.sleep(Duration::from_secs(60)).await;
//!     Ok(receipt)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let env = eventual_runtime::testing::TestEnvironment::new();
//! let run = env.start::<place_order>(Order { id: "o-1".into(), total: 10 }).unwrap();
//! env.advance(Duration::from_secs(60)).await;
//! assert_eq!(env.result::<place_order>(&run).unwrap().unwrap(), "receipt-o-1");
//! # }
//! ```

pub mod api;
#[cfg(feature = "cli")]
pub mod cli;
pub mod engine;
pub mod entity;
pub mod error;
pub mod event;
pub mod manifest;
pub mod registry;
pub mod schedule;
mod scoped;
pub mod task;
pub mod testing;
pub mod time;
pub mod workflow;

/// The build-script helper: `eventual_runtime::build::emit(service, crates)`.
pub use manifest::build;

/// Amazon EventBridge event patterns: parser, matcher and `PatternSet`.
pub use eventual_pattern as pattern;

pub use error::{Failure, StepError, StepErrorKind, WorkflowError};
pub use event::{Event, EventEnvelope, OutgoingEvent};
/// `#[entity]` (the attribute, in the macro namespace beside the [`entity`](mod@entity) module).
pub use eventual_macros::entity;
pub use eventual_macros::{api, on_event, task, workflow};
pub use time::Timestamp;
pub use workflow::{Saga, WorkflowContext};

/// What a service module needs: `use eventual_runtime::prelude::*;`.
pub mod prelude {
    pub use crate::entity::{Entity, EntityContext, EntityError};
    pub use crate::error::{StepError, StepErrorKind, WorkflowError};
    pub use crate::event::Event;
    pub use crate::time::Timestamp;
    pub use crate::workflow::combinators::{all, all_settled, any, race};
    pub use crate::workflow::{ChildOptions, ParentClosePolicy, Saga, WorkflowContext};
    pub use crate::{api, entity, on_event, task, workflow};
    pub use futures::StreamExt as _;
    pub use std::time::Duration;
}

/// Support for the code the macros generate. Not public API.
#[doc(hidden)]
pub mod __private;
