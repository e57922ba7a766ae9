//! Entities in memory: what the TestEnvironment stores them in.

use super::{CommandReply, EntityStore, Loaded, Snapshot, StoredEvent};
use crate::engine::kernel::entity::{Append, AppendError};
use crate::event::EventEnvelope;
use crate::time::Timestamp;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Mutex;

/// Where appended events' envelopes go, called while the append holds the store: nothing
/// else sees the append before its events are published.
pub type Publish = Box<dyn Fn(Vec<EventEnvelope>) + Send + Sync>;

/// Where the store's time comes from.
pub type Clock = Box<dyn Fn() -> Timestamp + Send + Sync>;

#[derive(Default)]
struct Stream {
    events: Vec<StoredEvent>,
    snapshot: Option<Snapshot>,
    recorded: HashMap<String, CommandReply>,
}

impl Stream {
    fn version(&self) -> u64 {
        self.events.last().map_or(0, |event| event.version)
    }
}

/// An in-memory [`EntityStore`]; appends and their outbox happen under one lock.
pub struct MemoryEntityStore {
    streams: Mutex<HashMap<(String, String), Stream>>,
    publish: Publish,
    clock: Clock,
}

impl MemoryEntityStore {
    /// A store that hands appended events to `publish` and stamps them with `clock`.
    pub fn new(publish: Publish, clock: Clock) -> Self {
        MemoryEntityStore {
            streams: Mutex::default(),
            publish,
            clock,
        }
    }

    fn streams(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Stream>> {
        self.streams.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every event of `entity_type/id`, in version order.
    pub fn events(&self, entity_type: &str, id: &str) -> Vec<StoredEvent> {
        self.streams()
            .get(&(entity_type.to_owned(), id.to_owned()))
            .map(|stream| stream.events.clone())
            .unwrap_or_default()
    }
}

impl EntityStore for MemoryEntityStore {
    fn load<'a>(
        &'a self,
        entity_type: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Loaded, String>> {
        let loaded = match self.streams().get(&(entity_type.to_owned(), id.to_owned())) {
            None => Loaded::default(),
            Some(stream) => {
                let after = stream.snapshot.as_ref().map_or(0, |s| s.version);
                Loaded {
                    snapshot: stream.snapshot.clone(),
                    events: stream
                        .events
                        .iter()
                        .filter(|event| event.version > after)
                        .cloned()
                        .collect(),
                }
            }
        };
        Box::pin(async move { Ok(loaded) })
    }

    fn recorded<'a>(
        &'a self,
        entity_type: &'a str,
        id: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<CommandReply>, String>> {
        let reply = self
            .streams()
            .get(&(entity_type.to_owned(), id.to_owned()))
            .and_then(|stream| stream.recorded.get(key).cloned());
        Box::pin(async move { Ok(reply) })
    }

    fn append(&self, append: Append) -> BoxFuture<'_, Result<(), AppendError>> {
        let mut streams = self.streams();
        let stream = streams
            .entry((append.entity_type.clone(), append.id.clone()))
            .or_default();
        let result = if stream.version() != append.expected_version {
            Err(AppendError::Conflict {
                current: stream.version(),
            })
        } else {
            stream.events.extend(append.events);
            if append.snapshot.is_some() {
                stream.snapshot = append.snapshot;
            }
            if let Some(recorded) = append.recorded {
                stream.recorded.insert(recorded.key, recorded.reply);
            }
            (self.publish)(append.outbox);
            Ok(())
        };
        drop(streams);
        Box::pin(async move { result })
    }

    fn now(&self) -> Timestamp {
        (self.clock)()
    }
}
