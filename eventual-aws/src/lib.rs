//! # eventual-aws
//!
//! The AWS engine of eventual: the serverless architecture of the design, as Lambda handlers
//! around the sans-IO replay core of `eventual-runtime`.
//!
//! - [`orchestrator`]: consumes the FIFO orchestrator queue (`MessageGroupId` = execution id),
//!   replays each execution from its history in S3, steps it, commits the new history with a
//!   conditional write on the execution's version in DynamoDB, then carries out the step's
//!   commands (the transactional outbox: a step's commands go out only after its history
//!   committed, and are carried out again after a crash).
//! - [`task`]: the task worker: claims an attempt in the task-lock table, runs the body,
//!   sends the result to the orchestrator queue.
//! - [`timer`]: the timer forwarder (waits longer than SQS's 15-minute delay are EventBridge
//!   Scheduler schedules, see [`outbound`]).
//! - [`events`]: the subscription handler.
//! - [`outbound`]: everything the engine sends (queue messages, schedules, invokes,
//!   `PutEvents` with failed-entry retry), from the actions the kernel decides.
//! - [`api`]: the service API (the local engine's HTTP routes) behind API Gateway.
//! - [`listing`]: the execution list, by queries of the list indexes and the attribute index.
//! - [`retention`]: when an ended execution's item, index entries and history documents expire.
//! - [`payload`]: messages too large for SQS or an invoke, stored in S3 and referenced.
//! - [`lambda`]: one entry point per service binary that dispatches on `EVENTUAL_ROLE`.
//! - `cli` (feature `cli`): the service's command line, reaching the API function by invoke.
//!
//! Layers, each using only those above it: wire types, ids and time ([`message`]); storage
//! ([`store`], [`payload`]); sends ([`outbound`]); the role handlers.
//!
//! The engine is its own crate because it depends on `eventual-runtime` (the runtime cannot
//! depend back on it); the runtime's `aws` feature only names this choice.

pub mod api;
#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
pub mod error;
pub mod events;
pub mod lambda;
pub mod listing;
pub mod message;
pub mod orchestrator;
pub mod outbound;
pub mod payload;
pub mod retention;
pub mod store;
pub mod task;
pub mod timer;

pub use config::{Aws, Faults, Resources};
pub use error::AwsError;
pub use message::{InboxMessage, TaskInvoke, TimerAction, TimerMessage};

/// Re-exported so tests and services build the same Lambda payloads.
pub use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
