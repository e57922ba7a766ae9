//! The engine kernel: every lifecycle decision, sans IO.
//!
//! Given the stored state of an execution, an attempt or a delivery, an incoming message and
//! the time, the kernel says what to persist and what to do. Engines (the
//! [`TestEnvironment`](crate::testing::TestEnvironment), the local engine, the AWS engine)
//! only store, schedule and transport, through the traits here, so they agree by
//! construction:
//!
//! - [`step`]: what a step's commands mean ([`step::carry_out`] through a [`Host`]), and
//!   stepping an execution live or by replay;
//! - [`attempt`]: a task attempt's deadlines, timeouts, missed heartbeats and end;
//! - [`delivery`]: a handler delivery's effect scope, its effects, retries and dead letters;
//! - [`start`]: starting under an id that another execution may hold;
//! - [`signal`]: the id of a signal sent from outside;
//! - [`entity`]: an entity command's append (events, snapshot, idempotency record, outbox)
//!   and its bounded retries;
//! - [`query`]: answering a query from the state a history replays to;
//! - [`update`]: sending an update, and reading its verdict from history;
//! - [`retention`]: how long an ended execution is kept.

pub mod attempt;
pub mod delivery;
pub mod entity;
pub mod query;
pub mod retention;
pub mod signal;
pub mod start;
pub mod step;
pub mod update;

pub use delivery::{DeliveryHost, EffectHost};
pub use step::{carry_out, Host};
