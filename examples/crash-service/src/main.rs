//! The service of the local engine's crash test (`tests/tests/local_crash.rs`).
//!
//! `crash_flow` runs three `bump` tasks, a short timer and emits a `CrashEmitted` event that
//! `record_crash_event` handles. Every task run appends `<execution>\t<seq>\t<attempt>` to the
//! file named by `CRASH_TASK_LOG`, every handler run appends the event id to `CRASH_EVENT_LOG`:
//! both outside the database, so they survive a SIGKILL and show what really ran.
//!
//! With `CRASH_LOSSY_VFS=1` the database runs on [`lossy_vfs`]: a SIGKILL then loses every
//! write that SQLite had not synced, as a power cut would.
//!
//! ```text
//! CRASH_TASK_LOG=tasks.log CRASH_EVENT_LOG=events.log crash-service serve --db crash.db --listen 127.0.0.1:8080
//! ```

mod lossy_vfs;

use eventual_runtime::prelude::*;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::process::ExitCode;

/// Appends `line` to the file named by `variable` in one `write` (O_APPEND keeps lines whole).
fn append(variable: &str, line: &str) -> Result<(), String> {
    let Ok(path) = std::env::var(variable) else {
        return Ok(());
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("cannot open {path}: {e}"))?;
    file.write_all(format!("{line}\n").as_bytes())
        .map_err(|e| format!("cannot write {path}: {e}"))
}

/// One durable step: logs the run, returns `x + 1`.
#[task(timeout = "10s", retry(max_attempts = 5, initial = "50ms"))]
async fn bump(x: u64) -> Result<u64, StepError> {
    let context = eventual_runtime::task::TaskContext::current()
        .ok_or_else(|| StepError::new(StepErrorKind::Failed, "bump runs outside a task"))?;
    append(
        "CRASH_TASK_LOG",
        &format!(
            "{}\t{}\t{}",
            context.execution_id, context.seq, context.attempt
        ),
    )
    .map_err(|e| StepError::new(StepErrorKind::Failed, e))?;
    // Some work after the side effect: a kill in this window re-runs the attempt.
    tokio::time::sleep(Duration::from_millis(20)).await;
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

/// Records every delivery of `CrashEmitted`.
#[on_event(
    pattern = r#"{"detail-type": ["CrashEmitted"]}"#,
    retry(max_attempts = 5, initial = "50ms")
)]
async fn record_crash_event(event: Event<CrashEmitted>) -> Result<(), StepError> {
    append("CRASH_EVENT_LOG", &event.id).map_err(|e| StepError::new(StepErrorKind::Failed, e))?;
    // A kill before the delivery's end commits delivers the event again.
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(())
}

fn main() -> ExitCode {
    // Before the engine opens its database: the VFS applies to files opened after it.
    if std::env::var("CRASH_LOSSY_VFS").is_ok_and(|value| value == "1") {
        lossy_vfs::install();
    }
    eventual_runtime::engine::local::cli::main()
}
