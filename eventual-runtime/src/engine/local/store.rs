//! The SQLite database of the local engine: schema, the writes of a batch, recovery reads and
//! the queries of the HTTP API.
//!
//! One file holds executions, history, scheduled task attempts, timers, pending inbox events of
//! blocked executions, handler deliveries (the outbox), the dead-letter queue and the
//! schedules (each with its next firing). WAL mode with
//! `synchronous = FULL`: a commit is on disk when it returns.

use crate::engine::api::{ExecutionPage, ExecutionRow, ListFilter};
use crate::engine::kernel::delivery::DeadLetter;
use crate::engine::ExecutionStatus;
use crate::registry::HandlerFailure;
use crate::schedule::ScheduleInfo;
use crate::time::Timestamp;
use crate::workflow::command::{InboxEvent, Outcome};
use crate::workflow::history::{attribute_text, HistoryEvent, HistoryEventKind, ParentRef, Seq};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;
use std::path::Path;

/// A database error, with what was being done.
#[derive(Debug, thiserror::Error)]
#[error("{action}: {source}")]
pub struct StoreError {
    action: &'static str,
    #[source]
    source: rusqlite::Error,
}

impl StoreError {
    pub(crate) fn new(action: &'static str, source: rusqlite::Error) -> Self {
        StoreError { action, source }
    }

    /// Whether the same write may succeed later: the disk is full, an I/O error, the file is
    /// locked or busy. Other failures (a broken constraint, a corrupt file) will not pass.
    pub(crate) fn is_transient(&self) -> bool {
        use rusqlite::ErrorCode::*;
        matches!(
            self.source.sqlite_error_code(),
            Some(
                DiskFull
                    | SystemIoFailure
                    | DatabaseBusy
                    | DatabaseLocked
                    | CannotOpen
                    | OutOfMemory
            )
        )
    }
}

trait Context<T> {
    fn doing(self, action: &'static str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, rusqlite::Error> {
    fn doing(self, action: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError { action, source })
    }
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS executions (
    id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    status TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    parent_id TEXT,
    parent_seq INTEGER,
    outcome TEXT,
    error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS executions_by_created ON executions (created_at, id);
CREATE INDEX IF NOT EXISTS executions_by_status ON executions (status, created_at, id);
CREATE INDEX IF NOT EXISTS executions_by_update ON executions (updated_at);
CREATE TABLE IF NOT EXISTS history (
    execution_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (execution_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run_history (
    execution_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (execution_id, run_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS attributes (
    execution_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (execution_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS attributes_by_value ON attributes (key, value, execution_id);
CREATE TABLE IF NOT EXISTS tasks (
    execution_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    name TEXT NOT NULL,
    input TEXT NOT NULL,
    not_before INTEGER,
    timeout_ms INTEGER,
    heartbeat_ms INTEGER,
    PRIMARY KEY (execution_id, seq, attempt)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS timers (
    execution_id TEXT NOT NULL,
    key TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (execution_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id TEXT NOT NULL,
    event TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    event_id TEXT NOT NULL,
    subscription TEXT NOT NULL,
    event TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    PRIMARY KEY (event_id, subscription)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS schedules (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    declared_in_code INTEGER NOT NULL,
    paused INTEGER NOT NULL,
    next_firing INTEGER,
    last_execution TEXT
);
CREATE TABLE IF NOT EXISTS entity_events (
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (entity_type, entity_id, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entity_snapshots (
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (entity_type, entity_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entity_commands (
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    key TEXT NOT NULL,
    reply TEXT NOT NULL,
    PRIMARY KEY (entity_type, entity_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letters (
    id TEXT PRIMARY KEY,
    subscription TEXT NOT NULL,
    event TEXT NOT NULL,
    error TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    failed_at INTEGER NOT NULL
);
"#;

/// The schema version this build writes.
const SCHEMA_VERSION: &str = "1";

/// `PRAGMA application_id` of an eventual-rs database ("EvRs"), so that another program's
/// SQLite file is told apart from ours before anything is written to it.
const APPLICATION_ID: i32 = 0x4576_5273;

/// The most pages SQLite allows a database: what "no size limit" sets.
const UNLIMITED_PAGES: u64 = 4_294_967_294;

/// Whether the file at `path` may be opened as the engine's database: absent, empty, or an
/// eventual-rs database. Anything else is refused with what it is, before it is touched.
pub(crate) fn check_identity(path: &Path) -> Result<(), String> {
    let shown = path.display();
    match std::fs::metadata(path) {
        Err(_) => return Ok(()),
        Ok(metadata) if metadata.len() == 0 => return Ok(()),
        Ok(_) => {}
    }
    let connection = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|error| format!("cannot open `{shown}`: {error}"))?;
    let not_sqlite = |error: rusqlite::Error| {
        format!("`{shown}` is not an eventual-rs database: it is not a SQLite database ({error})")
    };
    let application_id: i32 = connection
        .query_row("PRAGMA application_id", [], |row| row.get(0))
        .map_err(not_sqlite)?;
    if application_id == APPLICATION_ID {
        return Ok(());
    }
    if application_id != 0 {
        return Err(format!(
            "`{shown}` is not an eventual-rs database: it belongs to another application (SQLite application id {application_id:#010x})"
        ));
    }
    // Before the application id was set, an eventual-rs database was known by its schema.
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .and_then(|mut statement| {
            statement
                .query_map([], |row| row.get(0))?
                .collect::<Result<_, _>>()
        })
        .map_err(not_sqlite)?;
    let ours = tables.iter().any(|table| table == "meta")
        && tables.iter().any(|table| table == "executions");
    if tables.is_empty() || ours {
        return Ok(());
    }
    Err(format!(
        "`{shown}` is not an eventual-rs database: it is another application's SQLite database (tables: {})",
        tables.join(", ")
    ))
}

/// Caps the database at `max_bytes` (or lifts the cap), as SQLite's `max_page_count`: a
/// commit that would grow it further fails with "database or disk is full" and is retried.
pub(crate) fn set_size_limit(
    connection: &Connection,
    max_bytes: Option<u64>,
) -> Result<(), StoreError> {
    let page_size: u64 = connection
        .query_row("PRAGMA page_size", [], |row| row.get(0))
        .doing("reading the page size")?;
    let pages = max_bytes.map_or(UNLIMITED_PAGES, |bytes| (bytes / page_size.max(1)).max(1));
    connection
        .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
        .doing("setting the size limit")
}

/// Opens (creating if needed) the database at `path` for writing.
pub(crate) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open(path).doing("opening the database")?;
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;",
        )
        .doing("setting WAL mode and synchronous = FULL")?;
    connection
        .execute_batch(SCHEMA)
        .doing("creating the schema")?;
    connection
        .execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID};"))
        .doing("marking the file as an eventual-rs database")?;
    let version: Option<String> = connection
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()
        .doing("reading the schema version")?;
    if version.is_none() {
        connection
            .execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
                [SCHEMA_VERSION],
            )
            .doing("writing the schema version")?;
    }
    Ok(connection)
}

/// Opens the database read-only, for queries of the HTTP API.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .doing("opening the database for reading")?;
    connection
        .execute_batch("PRAGMA busy_timeout = 5000;")
        .doing("setting the busy timeout")?;
    Ok(connection)
}

/// The engine's signing key for completion tokens, made on first start and kept.
pub(crate) fn token_key(connection: &Connection) -> Result<Vec<u8>, StoreError> {
    let existing: Option<String> = connection
        .query_row(
            "SELECT value FROM meta WHERE key = 'token_key'",
            [],
            |row| row.get(0),
        )
        .optional()
        .doing("reading the token key")?;
    if let Some(hex) = existing {
        return Ok(hex.into_bytes());
    }
    let mut bytes = [0u8; 32];
    // Without OS randomness, fall back to a key derived from the clock and the process: tokens
    // stay unforgeable by anyone who cannot read the database.
    if getrandom::fill(&mut bytes).is_err() {
        let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
        bytes[..8].copy_from_slice(
            &crate::workflow::replay::state::stable_hash(&[seed.as_bytes()]).to_le_bytes(),
        );
    }
    let key: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    connection
        .execute(
            "INSERT INTO meta (key, value) VALUES ('token_key', ?1)",
            [&key],
        )
        .doing("writing the token key")?;
    Ok(key.into_bytes())
}

/// One write of a batch. A batch's writes go into one transaction with the other batches that
/// are waiting (group commit).
#[derive(Debug)]
pub(crate) enum WriteOp {
    InsertExecution {
        id: String,
        workflow: String,
        correlation_id: String,
        parent: Option<ParentRef>,
        at: Timestamp,
    },
    AppendHistory {
        execution_id: String,
        first_index: usize,
        events: Vec<HistoryEvent>,
    },
    SetStatus {
        execution_id: String,
        status: ExecutionStatus,
        outcome: Option<Outcome>,
        error: Option<String>,
        at: Timestamp,
    },
    InsertTask(TaskRow),
    DeleteTask {
        execution_id: String,
        seq: Seq,
        attempt: u32,
    },
    UpsertTimer {
        execution_id: String,
        key: String,
        due_at: Timestamp,
        event: InboxEvent,
    },
    DeleteTimer {
        execution_id: String,
        key: String,
    },
    DeleteTimersOf {
        execution_id: String,
    },
    /// Retention: an ended execution and everything kept for it.
    DeleteExecution {
        execution_id: String,
    },
    DeleteTasksOf {
        execution_id: String,
    },
    InsertInbox {
        execution_id: String,
        event: InboxEvent,
    },
    DeleteInboxOf {
        execution_id: String,
    },
    /// The execution's current run continued as new: its history moves from `history` (which
    /// holds the current run only, so replay and recovery read one run) to `run_history`
    /// under `run_id`.
    ArchiveRun {
        execution_id: String,
        run_id: String,
    },
    UpsertDelivery(DeliveryRow),
    /// An entity command's events, snapshot and idempotency record (its outbox is the
    /// deliveries of the same batch). The core checked the version before.
    AppendEntity(Box<crate::engine::kernel::entity::Append>),
    DeleteDelivery {
        event_id: String,
        subscription: String,
    },
    InsertDeadLetter(DeadLetter),
    DeleteDeadLetter {
        id: String,
    },
    /// A schedule's whole state: written with the starts of its firings, in one commit.
    UpsertSchedule(ScheduleInfo),
    DeleteSchedule {
        name: String,
    },
}

/// A scheduled task attempt without a committed result, as stored.
pub(crate) type TaskRow = crate::engine::kernel::attempt::Attempt;

/// A handler delivery not yet settled, as stored.
pub(crate) type DeliveryRow = crate::engine::kernel::delivery::Delivery;

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn millis(at: Timestamp) -> i64 {
    i64::try_from(at.as_millis()).unwrap_or(i64::MAX)
}

fn opt_millis(value: Option<u64>) -> Option<i64> {
    value.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

/// Applies one batch's writes inside `tx`.
pub(crate) fn apply(tx: &Transaction<'_>, ops: &[WriteOp]) -> Result<(), StoreError> {
    for op in ops {
        apply_one(tx, op)?;
    }
    Ok(())
}

fn apply_one(tx: &Transaction<'_>, op: &WriteOp) -> Result<(), StoreError> {
    match op {
        WriteOp::InsertExecution {
            id,
            workflow,
            correlation_id,
            parent,
            at,
        } => tx
            .prepare_cached(
                "INSERT OR IGNORE INTO executions (id, workflow, status, correlation_id, parent_id, \
                 parent_seq, created_at, updated_at) VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    id,
                    workflow,
                    correlation_id,
                    parent.as_ref().map(|p| &p.execution_id),
                    parent.as_ref().map(|p| p.seq),
                    millis(*at)
                ])
            })
            .doing("inserting an execution")
            .map(drop),
        WriteOp::AppendHistory {
            execution_id,
            first_index,
            events,
        } => {
            let mut statement = tx
                .prepare_cached("INSERT INTO history (execution_id, idx, event) VALUES (?1, ?2, ?3)")
                .doing("preparing the history insert")?;
            for (offset, event) in events.iter().enumerate() {
                statement
                    .execute(params![execution_id, (first_index + offset) as i64, json(event)])
                    .doing("appending history (a duplicate index means two writers)")?;
            }
            // The index of searchable attributes follows history, in the same transaction.
            for event in events {
                if let HistoryEventKind::AttributeSet { key, value, .. } = &event.kind {
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO attributes (execution_id, key, value) VALUES (?1, ?2, ?3)",
                    )
                    .and_then(|mut s| s.execute(params![execution_id, key, attribute_text(value)]))
                    .doing("indexing an attribute")?;
                }
            }
            Ok(())
        }
        WriteOp::SetStatus {
            execution_id,
            status,
            outcome,
            error,
            at,
        } => tx
            .prepare_cached("UPDATE executions SET status = ?2, outcome = ?3, error = ?4, updated_at = ?5 WHERE id = ?1")
            .and_then(|mut s| {
                s.execute(params![
                    execution_id,
                    status.as_str(),
                    outcome.as_ref().map(json),
                    error,
                    millis(*at)
                ])
            })
            .doing("updating an execution's status")
            .map(drop),
        WriteOp::InsertTask(row) => tx
            .prepare_cached(
                "INSERT OR REPLACE INTO tasks (execution_id, seq, attempt, name, input, not_before, \
                 timeout_ms, heartbeat_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    row.execution_id,
                    row.seq,
                    row.attempt,
                    row.name,
                    json(&row.input),
                    row.not_before.map(millis),
                    opt_millis(row.timeout_ms),
                    opt_millis(row.heartbeat_ms)
                ])
            })
            .doing("scheduling a task attempt")
            .map(drop),
        WriteOp::DeleteTask {
            execution_id,
            seq,
            attempt,
        } => tx
            .prepare_cached("DELETE FROM tasks WHERE execution_id = ?1 AND seq = ?2 AND attempt = ?3")
            .and_then(|mut s| s.execute(params![execution_id, seq, attempt]))
            .doing("closing a task attempt")
            .map(drop),
        WriteOp::UpsertTimer {
            execution_id,
            key,
            due_at,
            event,
        } => tx
            .prepare_cached("INSERT OR REPLACE INTO timers (execution_id, key, due_at, event) VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut s| s.execute(params![execution_id, key, millis(*due_at), json(event)]))
            .doing("storing a timer")
            .map(drop),
        WriteOp::DeleteTimer { execution_id, key } => tx
            .prepare_cached("DELETE FROM timers WHERE execution_id = ?1 AND key = ?2")
            .and_then(|mut s| s.execute(params![execution_id, key]))
            .doing("removing a timer")
            .map(drop),
        WriteOp::DeleteTimersOf { execution_id } => tx
            .prepare_cached("DELETE FROM timers WHERE execution_id = ?1")
            .and_then(|mut s| s.execute(params![execution_id]))
            .doing("removing an ended execution's timers")
            .map(drop),
        WriteOp::DeleteExecution { execution_id } => {
            for table in [
                "history",
                "run_history",
                "attributes",
                "timers",
                "tasks",
                "inbox",
                "executions",
            ] {
                let column = if table == "executions" { "id" } else { "execution_id" };
                tx.prepare_cached(&format!("DELETE FROM {table} WHERE {column} = ?1"))
                    .and_then(|mut s| s.execute(params![execution_id]))
                    .doing("deleting an execution past its retention")?;
            }
            Ok(())
        }
        WriteOp::DeleteTasksOf { execution_id } => tx
            .prepare_cached("DELETE FROM tasks WHERE execution_id = ?1")
            .and_then(|mut s| s.execute(params![execution_id]))
            .doing("removing an ended execution's task attempts")
            .map(drop),
        WriteOp::InsertInbox { execution_id, event } => tx
            .prepare_cached("INSERT INTO inbox (execution_id, event) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![execution_id, json(event)]))
            .doing("keeping an inbox event")
            .map(drop),
        WriteOp::DeleteInboxOf { execution_id } => tx
            .prepare_cached("DELETE FROM inbox WHERE execution_id = ?1")
            .and_then(|mut s| s.execute(params![execution_id]))
            .doing("removing taken inbox events")
            .map(drop),
        WriteOp::ArchiveRun {
            execution_id,
            run_id,
        } => {
            tx.prepare_cached(
                "INSERT INTO run_history (execution_id, run_id, idx, event) \
                 SELECT execution_id, ?2, idx, event FROM history WHERE execution_id = ?1",
            )
            .and_then(|mut s| s.execute(params![execution_id, run_id]))
            .doing("keeping the history of a run that continued as new")?;
            tx.prepare_cached("DELETE FROM history WHERE execution_id = ?1")
                .and_then(|mut s| s.execute(params![execution_id]))
                .doing("clearing the history of a run that continued as new")
                .map(drop)
        }
        WriteOp::UpsertDelivery(row) => tx
            .prepare_cached(
                "INSERT INTO deliveries (event_id, subscription, event, attempt, due_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (event_id, subscription) DO UPDATE SET attempt = excluded.attempt, due_at = excluded.due_at",
            )
            .and_then(|mut s| {
                s.execute(params![row.event.id, row.subscription, json(&row.event), row.attempt, millis(row.due_at)])
            })
            .doing("storing a delivery")
            .map(drop),
        WriteOp::AppendEntity(append) => append_entity(tx, append),
        WriteOp::DeleteDelivery {
            event_id,
            subscription,
        } => tx
            .prepare_cached("DELETE FROM deliveries WHERE event_id = ?1 AND subscription = ?2")
            .and_then(|mut s| s.execute(params![event_id, subscription]))
            .doing("removing a delivery")
            .map(drop),
        WriteOp::InsertDeadLetter(entry) => tx
            .prepare_cached(
                "INSERT OR REPLACE INTO dead_letters (id, subscription, event, error, attempts, failed_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    entry.id,
                    entry.subscription,
                    json(&entry.event),
                    json(&entry.error),
                    entry.attempts,
                    millis(entry.failed_at)
                ])
            })
            .doing("dead-lettering an event")
            .map(drop),
        WriteOp::DeleteDeadLetter { id } => tx
            .prepare_cached("DELETE FROM dead_letters WHERE id = ?1")
            .and_then(|mut s| s.execute(params![id]))
            .doing("removing a dead letter")
            .map(drop),
        WriteOp::UpsertSchedule(info) => tx
            .prepare_cached(
                "INSERT OR REPLACE INTO schedules (name, spec, declared_in_code, paused, next_firing, \
                 last_execution) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    info.spec.name,
                    json(&info.spec),
                    info.declared_in_code,
                    info.paused,
                    info.next_firing.map(millis),
                    info.last_execution
                ])
            })
            .doing("storing a schedule")
            .map(drop),
        WriteOp::DeleteSchedule { name } => tx
            .prepare_cached("DELETE FROM schedules WHERE name = ?1")
            .and_then(|mut s| s.execute(params![name]))
            .doing("deleting a schedule")
            .map(drop),
    }
}

fn append_entity(
    tx: &Transaction<'_>,
    append: &crate::engine::kernel::entity::Append,
) -> Result<(), StoreError> {
    let (entity_type, id) = (&append.entity_type, &append.id);
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO entity_events (entity_type, entity_id, version, event) VALUES (?1, ?2, ?3, ?4)",
        )
        .doing("preparing an entity append")?;
    for event in &append.events {
        insert
            .execute(params![
                entity_type,
                id,
                event.version,
                json(&event.payload)
            ])
            .doing("appending an entity event")?;
    }
    if let Some(snapshot) = &append.snapshot {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO entity_snapshots (entity_type, entity_id, version, state) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut s| s.execute(params![entity_type, id, snapshot.version, json(&snapshot.state)]))
        .doing("storing an entity snapshot")?;
    }
    if let Some(recorded) = &append.recorded {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO entity_commands (entity_type, entity_id, key, reply) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut s| s.execute(params![entity_type, id, recorded.key, json(&recorded.reply)]))
        .doing("recording an entity command")?;
    }
    Ok(())
}

/// An entity's latest snapshot and the events after it.
pub(crate) fn entity_load(
    connection: &Connection,
    entity_type: &str,
    id: &str,
) -> Result<crate::engine::kernel::entity::Loaded, StoreError> {
    use crate::engine::kernel::entity::{Loaded, Snapshot, StoredEvent};
    let snapshot = connection
        .prepare_cached(
            "SELECT version, state FROM entity_snapshots WHERE entity_type = ?1 AND entity_id = ?2",
        )
        .and_then(|mut s| {
            s.query_row(params![entity_type, id], |row| {
                Ok(Snapshot {
                    version: row.get(0)?,
                    state: parse_json(row.get(1)?, 1)?,
                })
            })
            .optional()
        })
        .doing("reading an entity snapshot")?;
    let after = snapshot.as_ref().map_or(0, |s| s.version);
    let events = connection
        .prepare_cached(
            "SELECT version, event FROM entity_events WHERE entity_type = ?1 AND entity_id = ?2 \
             AND version > ?3 ORDER BY version",
        )
        .and_then(|mut s| {
            s.query_map(params![entity_type, id, after], |row| {
                Ok(StoredEvent {
                    version: row.get(0)?,
                    payload: parse_json(row.get(1)?, 1)?,
                })
            })?
            .collect()
        })
        .doing("reading entity events")?;
    Ok(Loaded { snapshot, events })
}

/// Every event of an entity from version `from` on.
pub(crate) fn entity_events(
    connection: &Connection,
    entity_type: &str,
    id: &str,
    from: u64,
) -> Result<Vec<crate::engine::kernel::entity::StoredEvent>, StoreError> {
    connection
        .prepare_cached(
            "SELECT version, event FROM entity_events WHERE entity_type = ?1 AND entity_id = ?2 \
             AND version >= ?3 ORDER BY version",
        )
        .and_then(|mut s| {
            s.query_map(params![entity_type, id, from], |row| {
                Ok(crate::engine::kernel::entity::StoredEvent {
                    version: row.get(0)?,
                    payload: parse_json(row.get(1)?, 1)?,
                })
            })?
            .collect()
        })
        .doing("reading entity events")
}

/// An entity's committed version.
pub(crate) fn entity_version(
    connection: &Connection,
    entity_type: &str,
    id: &str,
) -> Result<u64, StoreError> {
    connection
        .prepare_cached(
            "SELECT COALESCE(MAX(version), 0) FROM entity_events WHERE entity_type = ?1 AND entity_id = ?2",
        )
        .and_then(|mut s| s.query_row(params![entity_type, id], |row| row.get(0)))
        .doing("reading an entity's version")
}

/// The answer recorded for an entity command's idempotency key.
pub(crate) fn entity_recorded(
    connection: &Connection,
    entity_type: &str,
    id: &str,
    key: &str,
) -> Result<Option<crate::engine::kernel::entity::CommandReply>, StoreError> {
    connection
        .prepare_cached(
            "SELECT reply FROM entity_commands WHERE entity_type = ?1 AND entity_id = ?2 AND key = ?3",
        )
        .and_then(|mut s| {
            s.query_row(params![entity_type, id, key], |row| parse_json(row.get(0)?, 0))
                .optional()
        })
        .doing("reading an entity command's record")
}

fn parse_json<T: serde::de::DeserializeOwned>(text: String, column: usize) -> rusqlite::Result<T> {
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn timestamp(value: i64) -> Timestamp {
    Timestamp::from_millis(u64::try_from(value).unwrap_or_default())
}

const EXECUTION_COLUMNS: &str =
    "id, workflow, status, correlation_id, parent_id, parent_seq, outcome, error, created_at, updated_at";

fn execution_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ExecutionRow> {
    let status: String = row.get(2)?;
    let parent_id: Option<String> = row.get(4)?;
    let parent_seq: Option<u32> = row.get(5)?;
    let outcome: Option<String> = row.get(6)?;
    Ok(ExecutionRow {
        id: row.get(0)?,
        workflow: row.get(1)?,
        status: ExecutionStatus::parse(&status).unwrap_or(ExecutionStatus::Blocked),
        correlation_id: row.get(3)?,
        parent: parent_id
            .zip(parent_seq)
            .map(|(execution_id, seq)| ParentRef { execution_id, seq }),
        outcome: outcome.map(|text| parse_json(text, 6)).transpose()?,
        error: row.get(7)?,
        created_at: timestamp(row.get(8)?),
        updated_at: timestamp(row.get(9)?),
    })
}

/// One execution.
pub(crate) fn execution(
    connection: &Connection,
    id: &str,
) -> Result<Option<ExecutionRow>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = ?1"
        ))
        .and_then(|mut s| s.query_row([id], execution_row).optional())
        .doing("reading an execution")
}

/// An execution's history, oldest first.
pub(crate) fn history(connection: &Connection, id: &str) -> Result<Vec<HistoryEvent>, StoreError> {
    connection
        .prepare_cached("SELECT event FROM history WHERE execution_id = ?1 ORDER BY idx")
        .and_then(|mut s| {
            s.query_map([id], |row| parse_json(row.get(0)?, 0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .doing("reading history")
}

/// The history of run `run_id` of an execution, oldest first: an earlier run (one that
/// continued as new) from `run_history`, empty if there is no such run.
pub(crate) fn run_history(
    connection: &Connection,
    id: &str,
    run_id: &str,
) -> Result<Vec<HistoryEvent>, StoreError> {
    connection
        .prepare_cached(
            "SELECT event FROM run_history WHERE execution_id = ?1 AND run_id = ?2 ORDER BY idx",
        )
        .and_then(|mut s| {
            s.query_map([id, run_id], |row| parse_json(row.get(0)?, 0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .doing("reading the history of an earlier run")
}

/// The ids of an execution's earlier runs (those that continued as new), oldest first.
pub(crate) fn earlier_runs(connection: &Connection, id: &str) -> Result<Vec<String>, StoreError> {
    connection
        .prepare_cached(
            "SELECT run_id FROM run_history WHERE execution_id = ?1 AND idx = 0 \
             ORDER BY CAST(substr(run_id, 5) AS INTEGER)",
        )
        .and_then(|mut s| {
            s.query_map([id], |row| row.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .doing("listing an execution's earlier runs")
}

/// Lists executions by creation time; pages continue after `(created_at, id)` of the last row.
pub(crate) fn list(
    connection: &Connection,
    filter: &ListFilter,
) -> Result<ExecutionPage, StoreError> {
    let limit = filter.limit.unwrap_or(100).clamp(1, 1_000);
    let (after_time, after_id) = filter
        .position()
        .map(|(time, id)| (time as i64, id))
        .unwrap_or((-1, String::new()));
    // One indexed lookup per attribute filter, numbered after the five fixed parameters.
    let attribute_clauses: String = (0..filter.attributes.len())
        .map(|i| {
            let (key, value) = (6 + 2 * i, 7 + 2 * i);
            format!(
                " AND EXISTS (SELECT 1 FROM attributes a WHERE a.execution_id = executions.id \
                 AND a.key = ?{key} AND a.value = ?{value})"
            )
        })
        .collect();
    let sql = format!(
        "SELECT {EXECUTION_COLUMNS} FROM executions WHERE (?1 IS NULL OR workflow = ?1) AND (?2 IS NULL OR status = ?2) \
         AND (created_at > ?3 OR (created_at = ?3 AND id > ?4)){attribute_clauses} ORDER BY created_at, id LIMIT ?5"
    );
    let mut values: Vec<rusqlite::types::Value> = vec![
        filter.workflow.clone().into(),
        filter.status.map(|s| s.as_str().to_owned()).into(),
        after_time.into(),
        after_id.into(),
        i64::from(limit + 1).into(),
    ];
    for (key, value) in &filter.attributes {
        values.push(key.clone().into());
        values.push(value.clone().into());
    }
    let mut rows = connection
        .prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_map(rusqlite::params_from_iter(values), execution_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .doing("listing executions")?;
    let next_token = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(ExecutionPage::token_after)
    } else {
        None
    };
    Ok(ExecutionPage {
        executions: rows,
        next_token,
    })
}

/// Ended executions last changed before `before`, oldest first, at most `limit`: the
/// candidates of a retention sweep, with their workflow and end time.
pub(crate) fn ended_before(
    connection: &Connection,
    before: Timestamp,
    limit: u32,
) -> Result<Vec<(String, String, Timestamp)>, StoreError> {
    connection
        .prepare_cached(
            "SELECT id, workflow, updated_at FROM executions \
             WHERE status NOT IN ('running', 'blocked') AND updated_at < ?1 \
             ORDER BY updated_at LIMIT ?2",
        )
        .and_then(|mut s| {
            s.query_map(params![before.as_millis() as i64, limit], |row| {
                Ok((row.get(0)?, row.get(1)?, timestamp(row.get(2)?)))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .doing("finding executions past their retention")
}

/// The dead-letter queue, oldest first.
pub(crate) fn dead_letters(connection: &Connection) -> Result<Vec<DeadLetter>, StoreError> {
    connection
        .prepare_cached("SELECT id, subscription, event, error, attempts, failed_at FROM dead_letters ORDER BY failed_at, id")
        .and_then(|mut s| {
            s.query_map([], |row| {
                Ok(DeadLetter {
                    id: row.get(0)?,
                    subscription: row.get(1)?,
                    event: parse_json(row.get(2)?, 2)?,
                    error: parse_json::<HandlerFailure>(row.get(3)?, 3)?,
                    attempts: row.get(4)?,
                    failed_at: timestamp(row.get(5)?),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .doing("reading the dead-letter queue")
}

/// What a restart picks up: live executions with their histories, and every piece of work
/// that was committed but not done.
pub(crate) struct Recovered {
    pub(crate) executions: Vec<(ExecutionRow, Vec<HistoryEvent>)>,
    pub(crate) tasks: Vec<TaskRow>,
    pub(crate) timers: Vec<(String, String, Timestamp, InboxEvent)>,
    pub(crate) inbox: Vec<(String, InboxEvent)>,
    pub(crate) deliveries: Vec<DeliveryRow>,
    pub(crate) schedules: Vec<ScheduleInfo>,
}

/// Reads everything a restart needs.
pub(crate) fn recover(connection: &Connection) -> Result<Recovered, StoreError> {
    let rows: Vec<ExecutionRow> = connection
        .prepare(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM executions WHERE status IN ('running', 'blocked') ORDER BY created_at, id"
        ))
        .and_then(|mut s| s.query_map([], execution_row)?.collect())
        .doing("reading live executions")?;
    let mut executions = Vec::with_capacity(rows.len());
    for row in rows {
        let events = history(connection, &row.id)?;
        executions.push((row, events));
    }
    let tasks = connection
        .prepare("SELECT execution_id, seq, attempt, name, input, not_before, timeout_ms, heartbeat_ms FROM tasks")
        .and_then(|mut s| {
            s.query_map([], |row| {
                Ok(TaskRow {
                    execution_id: row.get(0)?,
                    seq: row.get(1)?,
                    attempt: row.get(2)?,
                    name: row.get(3)?,
                    input: parse_json(row.get(4)?, 4)?,
                    not_before: row.get::<_, Option<i64>>(5)?.map(timestamp),
                    timeout_ms: row.get::<_, Option<i64>>(6)?.map(|v| v as u64),
                    heartbeat_ms: row.get::<_, Option<i64>>(7)?.map(|v| v as u64),
                })
            })?
            .collect()
        })
        .doing("reading scheduled task attempts")?;
    let timers = connection
        .prepare("SELECT execution_id, key, due_at, event FROM timers")
        .and_then(|mut s| {
            s.query_map([], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    timestamp(row.get(2)?),
                    parse_json(row.get(3)?, 3)?,
                ))
            })?
            .collect()
        })
        .doing("reading timers")?;
    let inbox = connection
        .prepare("SELECT execution_id, event FROM inbox ORDER BY id")
        .and_then(|mut s| {
            s.query_map([], |row| Ok((row.get(0)?, parse_json(row.get(1)?, 1)?)))?
                .collect()
        })
        .doing("reading kept inbox events")?;
    let deliveries = connection
        .prepare("SELECT subscription, event, attempt, due_at FROM deliveries")
        .and_then(|mut s| {
            s.query_map([], |row| {
                Ok(DeliveryRow {
                    subscription: row.get(0)?,
                    event: parse_json(row.get(1)?, 1)?,
                    attempt: row.get(2)?,
                    due_at: timestamp(row.get(3)?),
                })
            })?
            .collect()
        })
        .doing("reading pending deliveries")?;
    let schedules = connection
        .prepare("SELECT spec, declared_in_code, paused, next_firing, last_execution FROM schedules ORDER BY name")
        .and_then(|mut s| {
            s.query_map([], |row| {
                Ok(ScheduleInfo {
                    spec: parse_json(row.get(0)?, 0)?,
                    declared_in_code: row.get(1)?,
                    paused: row.get(2)?,
                    next_firing: row.get::<_, Option<i64>>(3)?.map(timestamp),
                    last_execution: row.get(4)?,
                })
            })?
            .collect()
        })
        .doing("reading schedules")?;
    Ok(Recovered {
        executions,
        tasks,
        timers,
        inbox,
        deliveries,
        schedules,
    })
}
