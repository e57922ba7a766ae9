//! The engine-neutral driver of a command: per-id serialization, the idempotency check, load,
//! decide, append with optimistic concurrency, and a bounded retry on conflict.

use super::{CommandFailure, CommandReply, CommandRequest, EntityContext, Invoke, Loaded};
use crate::engine::kernel::entity::{plan_append, Append, AppendError, Origin, MAX_TRIES};
use crate::registry::{self, EntityDescriptor};
use crate::time::Timestamp;
use futures::future::BoxFuture;
use futures::lock::Mutex as AsyncMutex;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

/// What an engine stores entities in.
pub trait EntityStore: Send + Sync + 'static {
    /// The latest snapshot of `entity_type/id` and the events after it.
    fn load<'a>(
        &'a self,
        entity_type: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Loaded, String>>;

    /// The answer recorded for idempotency key `key` of `entity_type/id`, if a command with
    /// that key was applied.
    fn recorded<'a>(
        &'a self,
        entity_type: &'a str,
        id: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<CommandReply>, String>>;

    /// Stores the events, the snapshot, the record and the outbox of `append` atomically, if
    /// the entity is still at `append.expected_version`.
    fn append(&self, append: Append) -> BoxFuture<'_, Result<(), AppendError>>;

    /// The time the events' envelopes carry.
    fn now(&self) -> Timestamp;
}

type Lock = Arc<AsyncMutex<()>>;

/// The lock of each entity (type and id) that a command holds or waits for.
type Locks = Mutex<HashMap<(String, String), Weak<AsyncMutex<()>>>>;

/// Runs commands against a store. Commands to one entity are serialized (one at a time, in
/// arrival order), commands to different entities run in parallel; a command whose append
/// conflicts (another process appended first) runs again on the reloaded state, at most
/// [`MAX_TRIES`] times.
pub struct EntityRunner {
    store: Arc<dyn EntityStore>,
    locks: Locks,
}

impl EntityRunner {
    /// A runner over `store`.
    pub fn new(store: Arc<dyn EntityStore>) -> Arc<Self> {
        Arc::new(EntityRunner {
            store,
            locks: Mutex::new(HashMap::new()),
        })
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn EntityStore> {
        &self.store
    }

    fn lock_of(&self, entity_type: &str, id: &str) -> Lock {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        let key = (entity_type.to_owned(), id.to_owned());
        if let Some(lock) = locks.get(&key).and_then(Weak::upgrade) {
            return lock;
        }
        // Entities nobody waits for any more leave the map now and then.
        if locks.len() > 1_024 {
            locks.retain(|_, lock| lock.strong_count() > 0);
        }
        let lock = Lock::default();
        locks.insert(key, Arc::downgrade(&lock));
        lock
    }

    /// Applies one command.
    pub async fn execute(&self, request: CommandRequest) -> Result<CommandReply, CommandFailure> {
        let entity = registry::entity(&request.entity_type).ok_or_else(|| {
            CommandFailure::failed(format!(
                "no entity type `{}` is registered",
                request.entity_type
            ))
        })?;
        if !entity.commands.contains(&request.command.as_str()) {
            return Err(CommandFailure::failed(format!(
                "entity `{}` has no command `{}`; its commands: {}",
                entity.name,
                request.command,
                entity.commands.join(", ")
            )));
        }
        let lock = self.lock_of(entity.name, &request.id);
        let _serialized = lock.lock().await;
        self.execute_locked(entity, &request).await
    }

    async fn execute_locked(
        &self,
        entity: &'static EntityDescriptor,
        request: &CommandRequest,
    ) -> Result<CommandReply, CommandFailure> {
        let key = request.idempotency_key.as_deref();
        let origin = Origin {
            correlation_id: request.correlation_id.clone(),
            created_by: request.created_by.clone(),
        };
        for attempt in 1..=MAX_TRIES {
            if let Some(key) = key {
                if let Some(reply) = self
                    .store
                    .recorded(entity.name, &request.id, key)
                    .await
                    .map_err(CommandFailure::failed)?
                {
                    return Ok(reply);
                }
            }
            let loaded = self
                .store
                .load(entity.name, &request.id)
                .await
                .map_err(CommandFailure::failed)?;
            let version = loaded.version();
            let state = loaded.state(entity).map_err(CommandFailure::failed)?;
            let ctx = EntityContext {
                entity_type: entity.name.to_owned(),
                id: request.id.clone(),
                version,
                attempt,
                correlation_id: request.correlation_id.clone(),
            };
            let decided =
                (entity.decide)(state.clone(), &request.command, request.args.clone(), ctx)
                    .map_err(CommandFailure::failed)?
                    .await
                    .map_err(CommandFailure::failed)?;
            let events = decided.map_err(|error| CommandFailure::Rejected { error })?;
            let (append, reply) = plan_append(
                entity,
                &request.id,
                version,
                state,
                events,
                key,
                &origin,
                self.store.now(),
            )
            .map_err(CommandFailure::failed)?;
            if append.events.is_empty() && append.recorded.is_none() {
                return Ok(reply);
            }
            match self.store.append(append).await {
                Ok(()) => return Ok(reply),
                Err(AppendError::Conflict { .. }) => continue,
                Err(AppendError::Store(message)) => return Err(CommandFailure::failed(message)),
            }
        }
        Err(CommandFailure::Conflict {
            entity_type: entity.name.to_owned(),
            id: request.id.clone(),
            attempts: MAX_TRIES,
        })
    }
}

/// A runner as the [`Invoke`] behind entity clients.
impl Invoke for Arc<EntityRunner> {
    fn invoke(
        &self,
        request: CommandRequest,
    ) -> BoxFuture<'static, Result<CommandReply, CommandFailure>> {
        let runner = self.clone();
        Box::pin(async move { runner.execute(request).await })
    }
}
