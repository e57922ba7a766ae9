//! Event-sourced entities, sans IO: what a command's append holds (its events, their bus
//! envelopes, a snapshot when one is due, the idempotency record), how a stored entity folds
//! back into its state, and how many times a conflicting command is tried.
//!
//! Engines store an [`Append`] atomically (events, snapshot, record and outbox together) and
//! refuse it when the entity's version moved ([`AppendError::Conflict`]); the driver in
//! [`crate::entity`] loads, decides, appends and retries through them.

use crate::event::EventEnvelope;
use crate::registry::EntityDescriptor;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How many times a command is run against a freshly loaded state when its append conflicts,
/// before the caller gets a `Conflict`.
pub const MAX_TRIES: u32 = 5;

/// The resource tag of an entity event's envelope that names the entity (`type/id`).
pub const ENTITY_RESOURCE: &str = "eventual:entity:";
/// The resource tag that carries the event's version.
pub const VERSION_RESOURCE: &str = "eventual:version:";
/// The resource tag that says who sent the command.
pub const CREATED_BY_RESOURCE: &str = "eventual:created-by:";

/// One stored event of an entity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Its version: the first event of an entity is version 1.
    pub version: u64,
    /// The event, as JSON.
    pub payload: Value,
}

/// A state stored at a version, so that loading does not fold every event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The version of the last event folded into it.
    pub version: u64,
    /// The state, as JSON.
    pub state: Value,
}

/// What an engine loads for an entity: its latest snapshot and the events after it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Loaded {
    /// The latest snapshot, if any.
    pub snapshot: Option<Snapshot>,
    /// The events after the snapshot (all of them without one), in version order.
    pub events: Vec<StoredEvent>,
}

impl Loaded {
    /// The entity's version: that of its last event, `0` for an entity without events.
    pub fn version(&self) -> u64 {
        self.events
            .last()
            .map(|event| event.version)
            .or(self.snapshot.as_ref().map(|snapshot| snapshot.version))
            .unwrap_or(0)
    }

    /// Folds the snapshot and the events into the state.
    pub fn state(&self, entity: &EntityDescriptor) -> Result<Value, String> {
        let first = self.snapshot.as_ref().map_or(0, |s| s.version) + 1;
        for (expected, event) in (first..).zip(&self.events) {
            if event.version != expected {
                return Err(format!(
                    "entity `{}`: stored event version {} follows version {} (a gap or a \
                     duplicate in the store)",
                    entity.name,
                    event.version,
                    expected - 1
                ));
            }
        }
        let payloads: Vec<Value> = self.events.iter().map(|e| e.payload.clone()).collect();
        (entity.fold)(self.snapshot.as_ref().map(|s| s.state.clone()), &payloads)
    }
}

/// The recorded answer of an applied command: the entity's version after it and the events
/// it appended. An idempotent command sent again answers this.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommandReply {
    /// The entity's version after the command.
    pub version: u64,
    /// The events it appended, in order (versions `version - len + 1 ..= version`).
    pub events: Vec<Value>,
}

/// An idempotency record: the key and the answer it keeps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    /// The caller's key.
    pub key: String,
    /// The answer.
    pub reply: CommandReply,
}

/// One command's writes, which an engine stores atomically or not at all.
#[derive(Clone, Debug, PartialEq)]
pub struct Append {
    /// The entity type.
    pub entity_type: String,
    /// The entity id.
    pub id: String,
    /// The version the command decided on: the append is refused if the entity moved past it.
    pub expected_version: u64,
    /// The new events, versions `expected_version + 1` on.
    pub events: Vec<StoredEvent>,
    /// A snapshot, when the append crosses a multiple of the entity's `snapshot_every`.
    pub snapshot: Option<Snapshot>,
    /// The idempotency record, when the caller gave a key.
    pub recorded: Option<Recorded>,
    /// The bus envelopes of the new events (the outbox): published with the append.
    pub outbox: Vec<EventEnvelope>,
}

/// Why an engine refused an append.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AppendError {
    /// The entity's version is no longer the expected one.
    #[error("the entity is at version {current}, not the expected one")]
    Conflict {
        /// The version the store holds.
        current: u64,
    },
    /// The store failed.
    #[error("{0}")]
    Store(String),
}

/// Who and what a command's events come from, for their envelopes.
#[derive(Clone, Debug, PartialEq)]
pub struct Origin {
    /// The correlation id the events carry on.
    pub correlation_id: Option<String>,
    /// Who sent the command (`workflow:<execution>`, `client`, ...).
    pub created_by: String,
}

/// Plans the append of `events`, decided at `loaded_version` on `state` (the loaded state):
/// their versions, envelopes, a due snapshot (`state` with the events folded in) and the
/// idempotency record.
#[allow(clippy::too_many_arguments)]
pub fn plan_append(
    entity: &EntityDescriptor,
    id: &str,
    loaded_version: u64,
    state: Value,
    events: Vec<Value>,
    key: Option<&str>,
    origin: &Origin,
    now: Timestamp,
) -> Result<(Append, CommandReply), String> {
    let stored: Vec<StoredEvent> = events
        .iter()
        .enumerate()
        .map(|(index, payload)| StoredEvent {
            version: loaded_version + 1 + index as u64,
            payload: payload.clone(),
        })
        .collect();
    let version = loaded_version + stored.len() as u64;
    let snapshot = match entity.snapshot_every {
        Some(every) if every > 0 && version / every > loaded_version / every => Some(Snapshot {
            version,
            state: (entity.fold)(Some(state), &events)?,
        }),
        _ => None,
    };
    let outbox = stored
        .iter()
        .map(|event| envelope(entity, id, event, origin, now))
        .collect();
    let reply = CommandReply { version, events };
    let append = Append {
        entity_type: entity.name.to_owned(),
        id: id.to_owned(),
        expected_version: loaded_version,
        events: stored,
        snapshot,
        recorded: key.map(|key| Recorded {
            key: key.to_owned(),
            reply: reply.clone(),
        }),
        outbox,
    };
    Ok((append, reply))
}

/// The bus envelope of one entity event. Its id is the entity and version, so a relay that
/// publishes it twice publishes the same event; `detail-type` is the event's variant (the tag
/// of an externally tagged enum), or the event type's name.
pub fn envelope(
    entity: &EntityDescriptor,
    id: &str,
    event: &StoredEvent,
    origin: &Origin,
    now: Timestamp,
) -> EventEnvelope {
    let detail_type = match &event.payload {
        Value::String(tag) => tag.clone(),
        Value::Object(map) if map.len() == 1 => map.keys().next().cloned().unwrap_or_default(),
        _ => entity
            .event_type
            .rsplit("::")
            .next()
            .unwrap_or(entity.event_type)
            .trim()
            .to_owned(),
    };
    let mut envelope = EventEnvelope::new(
        format!("{}/{}/{}", entity.name, id, event.version),
        entity.name,
        &detail_type,
        now.to_rfc3339(),
        event.payload.clone(),
    );
    envelope.resources = vec![
        format!("{ENTITY_RESOURCE}{}/{id}", entity.name),
        format!("{VERSION_RESOURCE}{}", event.version),
        format!("{CREATED_BY_RESOURCE}{}", origin.created_by),
    ];
    envelope.correlation_id = origin.correlation_id.clone();
    envelope
}

/// The entity, version and sender an entity event's envelope carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityOrigin {
    /// The entity type.
    pub entity_type: String,
    /// The entity id.
    pub id: String,
    /// The event's version.
    pub version: u64,
    /// Who sent the command.
    pub created_by: String,
}

/// Reads what [`envelope`] wrote; `None` for an event that no entity appended.
pub fn entity_origin(envelope: &EventEnvelope) -> Option<EntityOrigin> {
    let tagged = |prefix: &str| {
        envelope
            .resources
            .iter()
            .find_map(|resource| resource.strip_prefix(prefix))
    };
    let (entity_type, id) = tagged(ENTITY_RESOURCE)?.split_once('/')?;
    Some(EntityOrigin {
        entity_type: entity_type.to_owned(),
        id: id.to_owned(),
        version: tagged(VERSION_RESOURCE)?.parse().ok()?,
        created_by: tagged(CREATED_BY_RESOURCE)?.to_owned(),
    })
}

/// The idempotency key of the entity command a workflow sends at step `seq`: a replay or a
/// retry of that step sends the same key, so the command is applied once.
pub fn workflow_command_key(execution_id: &str, seq: u64) -> String {
    format!("workflow:{execution_id}/{seq}")
}

/// Keeps each subscriber's deliveries of one entity's events in version order: one at a time
/// per (subscription, entity), the next starting once the previous settled or was
/// dead-lettered. Deliveries of other events pass straight through.
#[derive(Debug, Default)]
pub struct OrderedDeliveries {
    queues: std::collections::HashMap<(String, String), std::collections::VecDeque<Delivery>>,
}

impl OrderedDeliveries {
    fn key(delivery: &Delivery) -> Option<((String, String), u64)> {
        let origin = entity_origin(&delivery.event)?;
        let entity = format!("{}/{}", origin.entity_type, origin.id);
        Some(((delivery.subscription.clone(), entity), origin.version))
    }

    /// Takes a new delivery; returns it if it may start now.
    pub fn enqueue(&mut self, delivery: Delivery) -> Option<Delivery> {
        let Some((key, version)) = Self::key(&delivery) else {
            return Some(delivery);
        };
        let queue = self.queues.entry(key).or_default();
        // Recovery hands deliveries over in any order: keep each queue sorted by version.
        let position = queue
            .iter()
            .position(|queued| Self::key(queued).is_some_and(|(_, v)| v > version))
            .unwrap_or(queue.len());
        let starts = queue.is_empty();
        queue.insert(position, delivery.clone());
        starts.then_some(delivery)
    }

    /// A delivery ended for good (settled, dead-lettered or dropped): returns the next one of
    /// the same subscription and entity, which may start now.
    pub fn finished(&mut self, delivery: &Delivery) -> Option<Delivery> {
        let (key, version) = Self::key(delivery)?;
        let queue = self.queues.get_mut(&key)?;
        if queue
            .front()
            .and_then(Self::key)
            .is_some_and(|(_, v)| v == version)
        {
            queue.pop_front();
        }
        let next = queue.front().cloned();
        if queue.is_empty() {
            self.queues.remove(&key);
        }
        next
    }
}

use crate::engine::kernel::delivery::Delivery;

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor() -> EntityDescriptor {
        fn fold(state: Option<Value>, events: &[Value]) -> Result<Value, String> {
            let mut total = state.and_then(|s| s.as_u64()).unwrap_or(0);
            for event in events {
                total += event.as_u64().ok_or("not a number")?;
            }
            Ok(Value::from(total))
        }
        fn decide(
            _: Value,
            _: &str,
            _: Value,
            _: crate::entity::EntityContext,
        ) -> Result<futures::future::BoxFuture<'static, crate::registry::CommandOutcome>, String>
        {
            Err("unused".to_owned())
        }
        EntityDescriptor {
            name: "counter",
            location: crate::registry::SourceLocation {
                rust_path: "tests::Counter",
                file: file!(),
                line: line!(),
            },
            snapshot_every: Some(3),
            commands: &[],
            event_type: "u64",
            fold,
            decide,
        }
    }

    fn origin() -> Origin {
        Origin {
            correlation_id: Some("c-1".to_owned()),
            created_by: "test".to_owned(),
        }
    }

    #[test]
    fn a_snapshot_is_planned_when_an_append_crosses_a_multiple() {
        let entity = descriptor();
        let now = Timestamp::from_millis(0);
        let plan = |version, events: Vec<u64>| {
            let events = events.into_iter().map(Value::from).collect();
            plan_append(
                &entity,
                "a",
                version,
                Value::from(10),
                events,
                None,
                &origin(),
                now,
            )
            .map(|(append, _)| append.snapshot)
        };
        assert_eq!(plan(0, vec![1]), Ok(None));
        assert_eq!(
            plan(2, vec![1]),
            Ok(Some(Snapshot {
                version: 3,
                state: Value::from(11)
            }))
        );
        assert_eq!(
            plan(1, vec![1, 2, 3, 4, 5]),
            Ok(Some(Snapshot {
                version: 6,
                state: Value::from(25)
            }))
        );
        assert_eq!(plan(3, vec![1, 1]), Ok(None));
    }

    #[test]
    fn envelopes_carry_entity_version_correlation_and_sender() {
        let entity = descriptor();
        let event = StoredEvent {
            version: 7,
            payload: serde_json::json!({"Withdrew": 5}),
        };
        let envelope = envelope(&entity, "a-1", &event, &origin(), Timestamp::from_millis(0));
        assert_eq!(envelope.id, "counter/a-1/7");
        assert_eq!(envelope.detail_type, "Withdrew");
        assert_eq!(envelope.correlation_id.as_deref(), Some("c-1"));
        assert_eq!(
            entity_origin(&envelope),
            Some(EntityOrigin {
                entity_type: "counter".to_owned(),
                id: "a-1".to_owned(),
                version: 7,
                created_by: "test".to_owned()
            })
        );
    }

    #[test]
    fn a_gap_in_stored_versions_is_an_error_naming_it() {
        let loaded = Loaded {
            snapshot: None,
            events: vec![
                StoredEvent {
                    version: 1,
                    payload: Value::from(1),
                },
                StoredEvent {
                    version: 3,
                    payload: Value::from(1),
                },
            ],
        };
        let error = loaded.state(&descriptor()).unwrap_err();
        assert!(error.contains("version 3 follows version 1"), "{error}");
    }

    #[test]
    fn deliveries_of_one_entity_start_one_at_a_time_in_version_order() {
        let entity = descriptor();
        let delivery = |version| {
            let event = StoredEvent {
                version,
                payload: Value::from(1),
            };
            let envelope = envelope(&entity, "a", &event, &origin(), Timestamp::from_millis(0));
            Delivery::first("sub", envelope, Timestamp::from_millis(0))
        };
        let mut ordered = OrderedDeliveries::default();
        assert_eq!(ordered.enqueue(delivery(2)), Some(delivery(2)));
        assert_eq!(ordered.enqueue(delivery(4)), None);
        assert_eq!(ordered.enqueue(delivery(3)), None);
        assert_eq!(ordered.finished(&delivery(2)), Some(delivery(3)));
        assert_eq!(ordered.finished(&delivery(3)), Some(delivery(4)));
        assert_eq!(ordered.finished(&delivery(4)), None);
        assert!(ordered.queues.is_empty());
    }
}
