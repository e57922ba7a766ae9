//! The service of the local engine's crash tests (`tests/tests/local_crash.rs`,
//! `tests/tests/local_power_loss.rs`).
//!
//! `crash_flow` runs three `bump` tasks, a short timer and emits a `CrashEmitted` event that
//! `record_crash_event` handles. Every task and handler run appends a `begin` line when it
//! starts and an `end` line when its body is done to the file named by `CRASH_RUN_LOG`,
//! outside the database, so the lines survive a SIGKILL and show what really ran and what a
//! kill interrupted:
//!
//! ```text
//! begin\ttask\t<execution>\t<seq>\t<attempt>
//! end\ttask\t<execution>\t<seq>\t<attempt>
//! begin\tevent\t<event id>\t<n>
//! end\tevent\t<event id>\t<n>
//! ```
//!
//! With `CRASH_LOSSY_VFS=1` the database runs on [`lossy_vfs`]: a SIGKILL then loses every
//! write that SQLite had not synced, as a power cut would.
//!
//! ```text
//! CRASH_RUN_LOG=runs.log crash-service serve --db crash.db --listen 127.0.0.1:8080
//! ```

mod lossy_vfs;

use eventual_runtime::prelude::*;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::process::ExitCode;

/// Whether a run is starting or its body is done.
#[derive(Clone, Copy)]
enum Phase {
    Begin,
    End,
}

/// Appends `<phase>\t<what>` to `CRASH_RUN_LOG` in one `write` (O_APPEND keeps lines whole
/// when runs log at once).
fn log_run(phase: Phase, what: &str) -> Result<(), StepError> {
    let Ok(path) = std::env::var("CRASH_RUN_LOG") else {
        return Ok(());
    };
    let phase = match phase {
        Phase::Begin => "begin",
        Phase::End => "end",
    };
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(format!("{phase}\t{what}\n").as_bytes()))
        .map_err(|e| StepError::new(StepErrorKind::Failed, format!("cannot log to {path}: {e}")))
}

/// Some work between a run's begin and its end: a kill in this window interrupts the run.
const WORK: Duration = Duration::from_millis(20);

/// One durable step: logs the run, returns `x + 1`.
#[task(timeout = "10s", retry(max_attempts = 5, initial = "50ms"))]
async fn bump(x: u64) -> Result<u64, StepError> {
    let context = eventual_runtime::task::TaskContext::current()
        .ok_or_else(|| StepError::new(StepErrorKind::Failed, "bump runs outside a task"))?;
    let run = format!(
        "task\t{}\t{}\t{}",
        context.execution_id, context.seq, context.attempt
    );
    log_run(Phase::Begin, &run)?;
    tokio::time::sleep(WORK).await;
    log_run(Phase::End, &run)?;
    Ok(x + 1)
}

/// The event the workflow emits.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct CrashEmitted {
    n: u64,
}

/// bump → timer (100 to 520 ms, by `n`) → bump → emit → bump; returns `n + 3`.
#[workflow(timeout = "10m")]
async fn crash_flow(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let a = bump(n).await?;
    ctx.sleep(Duration::from_millis(100 + (n % 8) * 60)).await;
    let b = bump(a).await?;
    ctx.emit(CrashEmitted { n }).await?;
    let c = bump(b).await?;
    Ok(c)
}

/// Records every delivery of `CrashEmitted`: emitted by `crash_flow`, or published by a test.
#[on_event(
    pattern = r#"{"detail-type": ["CrashEmitted"]}"#,
    retry(max_attempts = 5, initial = "50ms")
)]
async fn record_crash_event(event: Event<CrashEmitted>) -> Result<(), StepError> {
    let run = format!("event\t{}\t{}", event.id, event.detail.n);
    log_run(Phase::Begin, &run)?;
    // A kill before the delivery's end commits delivers the event again.
    tokio::time::sleep(WORK).await;
    log_run(Phase::End, &run)
}

fn main() -> ExitCode {
    // Before the engine opens its database: the VFS applies to files opened after it.
    if std::env::var("CRASH_LOSSY_VFS").is_ok_and(|value| value == "1") {
        lossy_vfs::install();
    }
    eventual_runtime::engine::local::cli::main()
}
