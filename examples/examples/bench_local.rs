//! The local engine under the Restate peer benchmark's workload, in one process against a
//! fresh database on disk, with fsync on:
//!
//! - (a) 1,000 × `steps(10)` from 32 concurrent callers: durable steps per second;
//! - (b) one `steps(1000)`: microseconds per step;
//! - (c) 200 sequential `steps(1)`: p50 and p99 latency;
//! - (d) peak RSS with 1,000 executions waiting on a timer (measured first, so the peak is
//!   that of the engine holding them).
//!
//! The last line is `steps_per_s=<a> us_per_step=<b> p50_ms=<c> rss_mib=<d>`.

use eventual_runtime::engine::client::StartExecution;
use eventual_runtime::engine::local::{EngineConfig, EngineHandle, LocalEngine};
use eventual_runtime::workflow::Outcome;
use serde_json::json;
use std::io::Write;
use std::time::Instant;

const CALLERS: usize = 32;
const CALLS: usize = 1_000;
const WAITING: usize = 1_000;

fn main() {
    eventual_examples::link();
    let dir = std::env::temp_dir().join(format!("eventual-bench-local-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let fsync_us = fsync_latency_us(&dir);
    let engine =
        LocalEngine::open(EngineConfig::new(dir.join("bench.db"))).expect("the engine opens");
    let handle = engine.handle();
    let runtime = engine.runtime().clone();

    let rss_mib = runtime.block_on(waiting_executions(&handle));
    let steps_per_s = runtime.block_on(concurrent_steps(&handle));
    let us_per_step = runtime.block_on(long_execution(&handle));
    let (p50_ms, p99_ms) = runtime.block_on(sequential_latency(&handle));

    println!(
        "machine: {} cores, fsync of 4 KiB = {fsync_us:.0} µs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("{:<52} {:>12}", "measure", "value");
    println!(
        "{:<52} {:>12.0}",
        "(a) durable steps/s, 1,000 x steps(10), 32 callers", steps_per_s
    );
    println!(
        "{:<52} {:>12.1}",
        "(b) µs per step, one steps(1000)", us_per_step
    );
    println!(
        "{:<52} {:>12.2}",
        "(c) p50 ms, 200 sequential steps(1)", p50_ms
    );
    println!(
        "{:<52} {:>12.2}",
        "(c) p99 ms, 200 sequential steps(1)", p99_ms
    );
    println!(
        "{:<52} {:>12.1}",
        "(d) peak RSS MiB, 1,000 executions on a timer", rss_mib
    );
    println!("steps_per_s={steps_per_s:.0} us_per_step={us_per_step:.1} p50_ms={p50_ms:.2} rss_mib={rss_mib:.1}");
    drop(engine);
    let _ = std::fs::remove_dir_all(&dir);
}

async fn execute(
    handle: &EngineHandle,
    workflow: &str,
    input: serde_json::Value,
) -> serde_json::Value {
    match handle.execute(workflow, input).await {
        Ok((_, Outcome::Succeeded { result })) => result,
        other => panic!("{workflow} did not succeed: {other:?}"),
    }
}

async fn waiting_executions(handle: &EngineHandle) -> f64 {
    for i in 0..WAITING {
        handle
            .start(StartExecution {
                workflow: "wait_for".to_owned(),
                execution_name: Some(format!("waiting-{i}")),
                input: json!(3_600),
                correlation_id: None,
            })
            .await
            .expect("a waiting execution starts");
    }
    peak_rss_mib()
}

async fn concurrent_steps(handle: &EngineHandle) -> f64 {
    let started = Instant::now();
    let mut callers = Vec::new();
    for caller in 0..CALLERS {
        let handle = handle.clone();
        callers.push(tokio::spawn(async move {
            for _ in (caller..CALLS).step_by(CALLERS) {
                assert_eq!(execute(&handle, "steps", json!(10)).await, json!(45));
            }
        }));
    }
    for caller in callers {
        caller.await.expect("a caller finishes");
    }
    (CALLS * 10) as f64 / started.elapsed().as_secs_f64()
}

async fn long_execution(handle: &EngineHandle) -> f64 {
    let started = Instant::now();
    assert_eq!(execute(handle, "steps", json!(1_000)).await, json!(499_500));
    started.elapsed().as_secs_f64() * 1e6 / 1_000.0
}

async fn sequential_latency(handle: &EngineHandle) -> (f64, f64) {
    let mut latencies = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        assert_eq!(execute(handle, "steps", json!(1)).await, json!(0));
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let at =
        |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    (at(0.5), at(0.99))
}

/// The peak resident set of this process (Linux `VmHWM`), in MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// How long a 4 KiB write + fsync takes in `dir`: the floor under any durable commit.
fn fsync_latency_us(dir: &std::path::Path) -> f64 {
    let path = dir.join("fsync-probe");
    let mut file = std::fs::File::create(&path).expect("a probe file");
    let block = [0u8; 4096];
    let rounds = 200;
    let started = Instant::now();
    for _ in 0..rounds {
        file.write_all(&block).expect("write");
        file.sync_all().expect("fsync");
    }
    let elapsed = started.elapsed();
    let _ = std::fs::remove_file(&path);
    elapsed.as_secs_f64() * 1e6 / f64::from(rounds)
}
