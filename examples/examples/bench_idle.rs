//! Many idle executions on the local engine, against a fresh database on disk (fsync on):
//! half wait on timers of 1 to 60 s, half on a signal.
//!
//! - peak RSS once all are started;
//! - the start rate (32 concurrent callers);
//! - timer lateness when the timers fire (`TimerFired` time minus the timer's due time), p50
//!   and p99;
//! - the time to serve again (open + the first acknowledged start) after a restart with all
//!   the signal-waiting executions pending.
//!
//! The last line is
//! `executions=<n> rss_mib=<a> starts_per_s=<b> timer_late_p99_ms=<c> restart_s=<d>`.
//!
//! ```text
//! cargo run --release --example bench_idle [-- --executions 100000 --dir DIR --max-resident N]
//! ```

use eventual_runtime::engine::client::StartExecution;
use eventual_runtime::engine::local::{EngineConfig, EngineHandle, LocalEngine};
use eventual_runtime::workflow::HistoryEventKind;
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

const CALLERS: usize = 32;

fn main() {
    eventual_examples::link();
    let mut executions = 100_000usize;
    let mut dir = std::env::temp_dir();
    let mut max_resident = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--executions", Some(n)) => executions = n.parse().expect("a number of executions"),
            ("--dir", Some(path)) => dir = PathBuf::from(path),
            ("--max-resident", Some(n)) => {
                max_resident = Some(n.parse().expect("a number of executors"))
            }
            _ => panic!("usage: bench_idle [--executions N] [--dir DIR] [--max-resident N]"),
        }
    }
    let dir = dir.join(format!("eventual-bench-idle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory for the database");
    let mut config = EngineConfig::new(dir.join("idle.db"));
    if let Some(max) = max_resident {
        config = config.with_max_resident_executions(max);
    }

    let engine = LocalEngine::open(config.clone()).expect("the engine opens");
    let handle = engine.handle();
    let runtime = engine.runtime().clone();
    let started = Instant::now();
    let timers = runtime.block_on(start_all(&handle, executions));
    let starts_per_s = executions as f64 / started.elapsed().as_secs_f64();
    let rss_mib = eventual_examples::peak_rss_mib();

    let (late_p50, late_p99) = runtime.block_on(timer_lateness(&handle, &timers));
    drop(engine);

    // Restart with every signal-waiting execution still pending.
    let restarting = Instant::now();
    let engine = LocalEngine::open(config).expect("the engine reopens");
    let handle = engine.handle();
    engine
        .runtime()
        .block_on(handle.start(start_request("wait_for_go", "after-restart".into(), 0)))
        .expect("a start after the restart");
    let restart_s = restarting.elapsed().as_secs_f64();
    drop(engine);
    let _ = std::fs::remove_dir_all(&dir);

    println!("{:<58} {:>12}", "measure", "value");
    println!(
        "{:<58} {:>12}",
        "idle executions (half timers, half signals)", executions
    );
    println!(
        "{:<58} {:>12.1}",
        "peak RSS MiB once all are started", rss_mib
    );
    println!("{:<58} {:>12.0}", "starts/s, 32 callers", starts_per_s);
    println!("{:<58} {:>12.1}", "timer lateness p50 ms", late_p50);
    println!("{:<58} {:>12.1}", "timer lateness p99 ms", late_p99);
    println!(
        "{:<58} {:>12.2}",
        "restart: open + first start, s", restart_s
    );
    println!(
        "executions={executions} rss_mib={rss_mib:.1} starts_per_s={starts_per_s:.0} timer_late_p99_ms={late_p99:.1} restart_s={restart_s:.2}"
    );
}

fn start_request(workflow: &str, name: String, input: u64) -> StartExecution {
    StartExecution {
        workflow: workflow.to_owned(),
        execution_name: Some(name),
        input: json!(input),
        correlation_id: None,
    }
}

/// Starts `executions` idle executions; returns the names of those waiting on a timer.
async fn start_all(handle: &EngineHandle, executions: usize) -> Vec<String> {
    let mut callers = Vec::new();
    for caller in 0..CALLERS {
        let handle = handle.clone();
        callers.push(tokio::spawn(async move {
            let mut timers = Vec::new();
            for i in (caller..executions).step_by(CALLERS) {
                let request = if i % 2 == 0 {
                    // 1 to 60 s, spread evenly.
                    let millis = 1_000 + (i as u64 * 7_919) % 59_000;
                    start_request("sleep_millis", format!("timer-{i}"), millis)
                } else {
                    start_request("wait_for_go", format!("signal-{i}"), 0)
                };
                let name = request.execution_name.clone().unwrap_or_default();
                handle
                    .start(request)
                    .await
                    .expect("an idle execution starts");
                if i % 2 == 0 {
                    timers.push(name);
                }
            }
            timers
        }));
    }
    let mut timers = Vec::new();
    for caller in callers {
        timers.extend(caller.await.expect("a caller finishes"));
    }
    timers
}

/// Waits for every timer execution to end; the lateness of their timers, p50 and p99 in ms.
async fn timer_lateness(handle: &EngineHandle, timers: &[String]) -> (f64, f64) {
    for name in timers {
        handle.wait(name).await.expect("a timer execution ends");
    }
    let mut late: Vec<u64> = timers
        .iter()
        .filter_map(|name| {
            let history = handle.history(name).ok()?;
            let due = history.iter().find_map(|event| match &event.kind {
                HistoryEventKind::TimerScheduled { until, .. } => Some(*until),
                _ => None,
            })?;
            let fired = history
                .iter()
                .find(|event| matches!(event.kind, HistoryEventKind::TimerFired { .. }))?
                .at;
            Some(fired.as_millis().saturating_sub(due.as_millis()))
        })
        .collect();
    late.sort_unstable();
    let at = |q: f64| late[((late.len() - 1) as f64 * q).round() as usize] as f64;
    (at(0.5), at(0.99))
}
