//! Strict durability: a task attempt, a handler delivery and a child's first effects begin
//! only after the step that scheduled them is durable. Checked on the local engine from inside
//! the side effect itself (a task reads the committed database), and on the `TestEnvironment`
//! through its journal.

use eventual_runtime::engine::local::EngineConfig;
use eventual_runtime::engine::Durability;
use eventual_runtime::prelude::*;
use eventual_runtime::task::TaskContext;
use eventual_runtime::testing::{JournalEntry, TestEnvironment};
use eventual_runtime::workflow::{HistoryEvent, HistoryEventKind, Outcome};
use eventual_tests::local::InProcess;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// Steps per probing execution: enough that a speculative engine loses the race at least once.
const PROBES: u32 = 30;

/// Whether this attempt's row (written by the step that scheduled it) is committed, as a
/// separate reader of `database` sees it. `""` (the TestEnvironment) answers `true`.
#[task]
async fn probe_committed(database: String) -> Result<bool, StepError> {
    if database.is_empty() {
        return Ok(true);
    }
    let failed = |error: rusqlite::Error| StepError::new(StepErrorKind::Failed, error.to_string());
    let context = TaskContext::current()
        .ok_or_else(|| StepError::new(StepErrorKind::Failed, "outside a task"))?;
    let reader = rusqlite::Connection::open_with_flags(
        &database,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .map_err(failed)?;
    let rows: i64 = reader
        .query_row(
            "SELECT count(*) FROM tasks WHERE execution_id = ?1 AND seq = ?2 AND attempt = ?3",
            rusqlite::params![context.execution_id, context.seq, context.attempt],
            |row| row.get(0),
        )
        .map_err(failed)?;
    Ok(rows == 1)
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct ProbeDone {
    probes: u32,
}

/// Counts the probes of its own steps that found them committed.
#[workflow]
async fn probe_child(_ctx: WorkflowContext, database: String) -> Result<u32, WorkflowError> {
    let mut committed = 0;
    for _ in 0..PROBES {
        committed += u32::from(probe_committed(database.clone()).await?);
    }
    Ok(committed)
}

/// Probes its own steps, then its child's, then emits an event.
#[workflow]
async fn probe_parent(ctx: WorkflowContext, database: String) -> Result<u32, WorkflowError> {
    let mut committed = 0;
    for _ in 0..PROBES {
        committed += u32::from(probe_committed(database.clone()).await?);
    }
    committed += ctx.child::<probe_child>(database).await?;
    ctx.emit(ProbeDone { probes: committed }).await?;
    Ok(committed)
}

#[on_event(pattern = r#"{"detail-type": ["ProbeDone"]}"#)]
async fn on_probe_done(_event: Event<ProbeDone>) -> Result<(), StepError> {
    Ok(())
}

/// Runs `probe_parent` on the local engine in `mode`; returns how many of its attempts (and its
/// child's) found their step committed when they began.
fn probes_committed(mode: Durability) -> u32 {
    let server = InProcess::start_with(|config: EngineConfig| config.with_durability(mode));
    let database = server.dir().join("engine.db").display().to_string();
    let handle = server.handle();
    let caller = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the caller");
    let outcome = caller
        .block_on(handle.execute("probe_parent", serde_json::json!(database)))
        .expect("probe_parent runs")
        .1;
    match outcome {
        Outcome::Succeeded { result } => serde_json::from_value(result).expect("a count"),
        other => panic!("probe_parent did not succeed: {other:?}"),
    }
}

#[test]
fn strict_attempts_begin_after_their_step_is_on_disk() {
    assert_eq!(probes_committed(Durability::Strict), 2 * PROBES);
}

/// The journal of a run on the TestEnvironment: every attempt begins after its
/// `TaskScheduled` is recorded, every delivery after its `EventsEmitted`.
#[tokio::test]
async fn the_test_environment_journal_shows_effects_after_their_steps() {
    let env = TestEnvironment::new();
    let run = env.start::<probe_parent>(String::new()).unwrap();
    env.run_until_idle().await;
    assert_eq!(
        env.result::<probe_parent>(&run).unwrap().unwrap(),
        2 * PROBES
    );

    let histories: HashMap<String, Vec<HistoryEvent>> = env
        .executions()
        .into_iter()
        .map(|id| (id.clone(), env.history(&id)))
        .collect();
    let mut recorded: HashMap<String, usize> = HashMap::new();
    let mut emitted: BTreeSet<String> = BTreeSet::new();
    let (mut attempts, mut deliveries) = (0, 0);
    for entry in env.journal() {
        match entry {
            JournalEntry::Recorded {
                execution_id,
                length,
            } => {
                let history = &histories[&execution_id];
                for event in &history[recorded.get(&execution_id).copied().unwrap_or(0)..length] {
                    if let HistoryEventKind::EventsEmitted { events, .. } = &event.kind {
                        emitted.extend(events.iter().map(|e| e.id.clone()));
                    }
                }
                recorded.insert(execution_id, length);
            }
            JournalEntry::AttemptStarted {
                execution_id, seq, ..
            } => {
                attempts += 1;
                let durable = &histories[&execution_id][..recorded[&execution_id]];
                assert!(
                    durable.iter().any(|event| matches!(
                        event.kind,
                        HistoryEventKind::TaskScheduled { seq: s, .. } if s == seq
                    )),
                    "attempt of {execution_id}@{seq} began before its step was recorded"
                );
            }
            JournalEntry::DeliveryStarted { event_id, .. } => {
                deliveries += 1;
                assert!(
                    emitted.contains(&event_id),
                    "delivery of {event_id} began before its step was recorded"
                );
            }
        }
    }
    assert_eq!((attempts, deliveries), (2 * PROBES, 1));
}
