//! Event-sourced entities: `#[entity]` state types, their commands, and the engine-neutral
//! driver that loads, decides, appends and retries.
//!
//! ```
//! use eventual_runtime::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Default, Serialize, Deserialize)]
//! pub struct Account { balance: u64 }
//!
//! #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
//! pub enum AccountEvent { Deposited(u64), Withdrew(u64) }
//!
//! #[derive(Debug, Serialize, Deserialize, thiserror::Error)]
//! #[error("insufficient funds")]
//! pub struct Insufficient;
//!
//! #[entity(snapshot_every = 100)]
//! impl Account {
//!     fn apply(&mut self, event: &AccountEvent) {
//!         match event {
//!             AccountEvent::Deposited(amount) => self.balance += amount,
//!             AccountEvent::Withdrew(amount) => self.balance -= amount,
//!         }
//!     }
//!
//!     async fn withdraw(&self, _ctx: EntityContext, amount: u64)
//!         -> Result<Vec<AccountEvent>, Insufficient> {
//!         if self.balance < amount { return Err(Insufficient); }
//!         Ok(vec![AccountEvent::Withdrew(amount)])
//!     }
//! }
//! assert_eq!(<Account as Entity>::TYPE, "account");
//! ```

mod callers;
mod memory;
mod runner;

pub use callers::{with_entities, EntityCommandTask, ENTITY_COMMAND_TASK};

pub use memory::MemoryEntityStore;
pub use runner::{EntityRunner, EntityStore};

pub use crate::engine::kernel::entity::{
    entity_origin, CommandReply, EntityOrigin, Loaded, Snapshot, StoredEvent, MAX_TRIES,
};

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// An event-sourced state type; `#[entity]` implements it.
pub trait Entity: Default + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// What its commands append and `apply` folds.
    type Event: Serialize + DeserializeOwned + Send + 'static;
    /// The generated client of its commands (`<State>Ref`).
    type Ref: From<EntityTarget>;
    /// The entity type's registered name.
    const TYPE: &'static str;
    /// A snapshot is stored every this many events.
    const SNAPSHOT_EVERY: Option<u64>;
    /// Folds one event into the state.
    fn apply(&mut self, event: &Self::Event);
}

/// What a command knows besides the state and its arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct EntityContext {
    pub(crate) entity_type: String,
    pub(crate) id: String,
    pub(crate) version: u64,
    pub(crate) attempt: u32,
    pub(crate) correlation_id: Option<String>,
}

impl EntityContext {
    /// The entity type.
    pub fn entity_type(&self) -> &str {
        &self.entity_type
    }

    /// The entity id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The version of the state the command decides on.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Which run of the command this is: a run whose append conflicted is run again on the
    /// reloaded state.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The correlation id the command's events carry on.
    pub fn correlation_id(&self) -> Option<&str> {
        self.correlation_id.as_deref()
    }
}

/// What an applied command gives its caller.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied<Ev> {
    /// The entity's version after the command.
    pub version: u64,
    /// The events it appended, in version order.
    pub events: Vec<Ev>,
}

/// Why a command was not applied.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum EntityError<E> {
    /// The command refused (it returned `Err`): nothing was appended.
    #[error("the command was rejected: {0}")]
    Rejected(E),
    /// The entity changed under the command every time it ran.
    #[error(
        "entity `{entity_type}/{id}` kept changing under the command: {attempts} runs conflicted"
    )]
    Conflict {
        /// The entity type.
        entity_type: String,
        /// The entity id.
        id: String,
        /// How many runs conflicted.
        attempts: u32,
    },
    /// Anything else: an unknown entity or command, arguments, state or events that do not
    /// (de)serialize, a panicking command, a failing store.
    #[error("{0}")]
    Failed(String),
}

/// A command request, as engines receive it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommandRequest {
    /// The entity type.
    pub entity_type: String,
    /// The entity id.
    pub id: String,
    /// The command's name.
    pub command: String,
    /// Its arguments, as a JSON array.
    pub args: Value,
    /// Applies the command once per key.
    pub idempotency_key: Option<String>,
    /// The correlation id the events carry on.
    pub correlation_id: Option<String>,
    /// Who sends it.
    pub created_by: String,
}

/// Why an engine did not apply a command, untyped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CommandFailure {
    /// The command returned `Err`, serialized.
    #[error("the command was rejected: {error}")]
    Rejected {
        /// The command's error.
        error: Value,
    },
    /// Every run conflicted.
    #[error(
        "entity `{entity_type}/{id}` kept changing under the command: {attempts} runs conflicted"
    )]
    Conflict {
        /// The entity type.
        entity_type: String,
        /// The entity id.
        id: String,
        /// Runs made.
        attempts: u32,
    },
    /// Anything else, with what and where.
    #[error("{message}")]
    Failed {
        /// What went wrong.
        message: String,
    },
}

impl CommandFailure {
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        CommandFailure::Failed {
            message: message.into(),
        }
    }
}

/// Where an engine applies commands.
pub trait Invoke: Send + Sync {
    /// Applies one command.
    fn invoke(
        &self,
        request: CommandRequest,
    ) -> BoxFuture<'static, Result<CommandReply, CommandFailure>>;
}

/// One entity, by type and id, and where its commands go; the generated `<State>Ref` wraps it.
#[derive(Clone)]
pub struct EntityTarget {
    entity_type: &'static str,
    id: String,
    idempotency_key: Option<String>,
    correlation_id: Option<String>,
    created_by: String,
    invoker: Arc<dyn Invoke>,
}

impl fmt::Debug for EntityTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntityTarget")
            .field("entity_type", &self.entity_type)
            .field("id", &self.id)
            .field("idempotency_key", &self.idempotency_key)
            .finish_non_exhaustive()
    }
}

impl EntityTarget {
    /// Entity `id` of type `E`, whose commands `invoker` applies on behalf of `created_by`.
    pub fn new<E: Entity>(
        id: impl Into<String>,
        invoker: Arc<dyn Invoke>,
        created_by: impl Into<String>,
    ) -> Self {
        EntityTarget {
            entity_type: E::TYPE,
            id: id.into(),
            idempotency_key: None,
            correlation_id: None,
            created_by: created_by.into(),
            invoker,
        }
    }

    /// The same entity, with commands applied once per `key`.
    pub fn with_idempotency_key(mut self, key: String) -> Self {
        self.idempotency_key = Some(key);
        self
    }

    /// The same entity, with events that carry `correlation_id` on.
    pub fn with_correlation_id(mut self, correlation_id: Option<String>) -> Self {
        self.correlation_id = correlation_id;
        self
    }

    /// The entity id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sends command `command` with JSON `args` (what the generated methods call).
    pub fn send<Ev, E>(
        &self,
        command: &'static str,
        args: Result<Value, String>,
    ) -> BoxFuture<'static, Result<Applied<Ev>, EntityError<E>>>
    where
        Ev: DeserializeOwned + Send + 'static,
        E: DeserializeOwned + Send + 'static,
    {
        let args = match args {
            Ok(args) => args,
            Err(error) => {
                let message = format!(
                    "the arguments of `{}.{command}` do not serialize: {error}",
                    self.entity_type
                );
                return Box::pin(async move { Err(EntityError::Failed(message)) });
            }
        };
        let request = CommandRequest {
            entity_type: self.entity_type.to_owned(),
            id: self.id.clone(),
            command: command.to_owned(),
            args,
            idempotency_key: self.idempotency_key.clone(),
            correlation_id: self.correlation_id.clone(),
            created_by: self.created_by.clone(),
        };
        let reply = self.invoker.invoke(request);
        Box::pin(async move { typed(reply.await) })
    }
}

/// The typed answer of an untyped one.
pub fn typed<Ev: DeserializeOwned, E: DeserializeOwned>(
    reply: Result<CommandReply, CommandFailure>,
) -> Result<Applied<Ev>, EntityError<E>> {
    match reply {
        Ok(reply) => {
            let events = reply
                .events
                .into_iter()
                .enumerate()
                .map(|(index, event)| {
                    serde_json::from_value(event).map_err(|error| {
                        EntityError::Failed(format!(
                            "event {index} of the answer does not fit the event type: {error}"
                        ))
                    })
                })
                .collect::<Result<_, _>>()?;
            Ok(Applied {
                version: reply.version,
                events,
            })
        }
        Err(CommandFailure::Rejected { error }) => match serde_json::from_value(error) {
            Ok(error) => Err(EntityError::Rejected(error)),
            Err(error) => Err(EntityError::Failed(format!(
                "the command's error does not fit its error type: {error}"
            ))),
        },
        Err(CommandFailure::Conflict {
            entity_type,
            id,
            attempts,
        }) => Err(EntityError::Conflict {
            entity_type,
            id,
            attempts,
        }),
        Err(CommandFailure::Failed { message }) => Err(EntityError::Failed(message)),
    }
}

/// A client of entities of one type for code outside workflows (tasks, handlers, tests):
/// `entities::<Account>(&runner).get("a-1").idempotency_key("k").withdraw(10)`.
pub struct Entities<E> {
    invoker: Arc<dyn Invoke>,
    created_by: String,
    _entity: PhantomData<fn() -> E>,
}

impl<E: Entity> Entities<E> {
    /// Entities of type `E` applied by `invoker`, on behalf of `created_by`.
    pub fn new(invoker: Arc<dyn Invoke>, created_by: impl Into<String>) -> Self {
        Entities {
            invoker,
            created_by: created_by.into(),
            _entity: PhantomData,
        }
    }

    /// Entity `id`.
    pub fn get(&self, id: impl Into<String>) -> E::Ref {
        EntityTarget::new::<E>(id, self.invoker.clone(), self.created_by.clone()).into()
    }
}
