//! The local engine under the Restate peer benchmark's workload, in one process against a
//! fresh database on disk, with fsync on, once per [`Durability`]:
//!
//! - (a) 1,000 × `steps(10)` from 32 concurrent callers: durable steps per second;
//! - (b) one `steps(1000)`: microseconds per step;
//! - (c) 200 sequential `steps(1)`: p50 and p99 latency;
//! - (d) peak RSS with 1,000 executions waiting on a timer (measured first, so the peak is
//!   that of the engine holding them);
//! - the commits (one fsync each) per 1,000 steps in (a) and in (b).
//!
//! Each mode runs in its own process (so that its peak RSS is its own) and prints a line
//! `durability=<mode> steps_per_s=.. us_per_step=.. p50_ms=.. p99_ms=.. rss_mib=..
//! fsyncs_per_1k_steps_a=.. fsyncs_per_1k_steps_b=..`. The last line is the strict mode's
//! `steps_per_s=<a> us_per_step=<b> p50_ms=<c> rss_mib=<d>`.
//!
//! ```text
//! cargo run --release --example bench_local [-- --dir DIR]
//! ```
//!
//! The database goes to `DIR` (default: the temp dir). On tmpfs an fsync costs nothing, and
//! the bench says so, since its figures then leave out what durability costs.

use eventual_runtime::engine::client::StartExecution;
use eventual_runtime::engine::local::{EngineConfig, EngineHandle, LocalEngine};
use eventual_runtime::engine::Durability;
use eventual_runtime::workflow::Outcome;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const CALLERS: usize = 32;
const CALLS: usize = 1_000;
const WAITING: usize = 1_000;
const LONG: u32 = 1_000;
const SEQUENTIAL: usize = 200;

/// The figures of one mode, as its process prints them.
const FIGURES: [&str; 7] = [
    "steps_per_s",
    "us_per_step",
    "p50_ms",
    "p99_ms",
    "rss_mib",
    "fsyncs_per_1k_steps_a",
    "fsyncs_per_1k_steps_b",
];

fn main() {
    eventual_examples::link();
    let mut args = std::env::args().skip(1);
    let mut dir = std::env::temp_dir();
    let mut mode = None;
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--dir", Some(value)) => dir = PathBuf::from(value),
            ("--durability", Some(value)) => {
                mode = Some(
                    value
                        .parse::<Durability>()
                        .unwrap_or_else(|e| panic!("{e}")),
                );
            }
            _ => panic!("usage: bench_local [--dir DIR] [--durability strict|speculative]"),
        }
    }
    match mode {
        Some(mode) => run_one(mode, &dir),
        None => run_all(&dir),
    }
}

/// Runs each mode in a child process, strict last, then repeats strict's figures in the
/// line that scripts read.
fn run_all(dir: &Path) {
    println!(
        "machine: {} cores, fsync of 4 KiB = {:.0} µs in {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        fsync_latency_us(dir),
        dir.display()
    );
    if let Some(kind) = memory_filesystem(dir) {
        println!(
            "note: {} is on {kind}: fsync is free there, so these figures leave out the cost of durable commits (use --dir on a disk)",
            dir.display()
        );
    }
    let exe = std::env::current_exe().expect("the bench's own path");
    let mut strict = BTreeMap::new();
    for mode in [Durability::Speculative, Durability::Strict] {
        let output = Command::new(&exe)
            .args(["--durability", mode.as_str(), "--dir"])
            .arg(dir)
            .output()
            .expect("the bench runs a mode");
        let text = String::from_utf8_lossy(&output.stdout);
        print!("{text}");
        assert!(
            output.status.success(),
            "the {mode} run failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        if mode == Durability::Strict {
            strict = key_values(text.lines().last().unwrap_or_default());
        }
    }
    let figure = |key: &str| strict.get(key).map_or("NaN", String::as_str);
    println!(
        "steps_per_s={} us_per_step={} p50_ms={} rss_mib={}",
        figure("steps_per_s"),
        figure("us_per_step"),
        figure("p50_ms"),
        figure("rss_mib")
    );
}

fn key_values(line: &str) -> BTreeMap<String, String> {
    line.split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// One mode against a fresh database: prints its table and its figures line.
fn run_one(mode: Durability, dir: &Path) {
    let dir = dir.join(format!("eventual-bench-local-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let config = EngineConfig::new(dir.join("bench.db")).with_durability(mode);
    let engine = LocalEngine::open(config).expect("the engine opens");
    let handle = engine.handle();
    let runtime = engine.runtime().clone();

    let rss_mib = runtime.block_on(waiting_executions(&handle));
    let before_a = handle.commits();
    let steps_per_s = runtime.block_on(concurrent_steps(&handle));
    let fsyncs_a = (handle.commits() - before_a) as f64 * 1_000.0 / (CALLS * 10) as f64;
    let before_b = handle.commits();
    let us_per_step = runtime.block_on(long_execution(&handle));
    let fsyncs_b = (handle.commits() - before_b) as f64 * 1_000.0 / f64::from(LONG);
    let (p50_ms, p99_ms) = runtime.block_on(sequential_latency(&handle));

    println!("durability = {mode}");
    println!("  {:<58} {:>12}", "measure", "value");
    let rows: [(&str, f64); 7] = [
        (
            "(a) durable steps/s, 1,000 x steps(10), 32 callers",
            steps_per_s,
        ),
        ("(b) µs per step, one steps(1000)", us_per_step),
        ("(c) p50 ms, 200 sequential steps(1)", p50_ms),
        ("(c) p99 ms, 200 sequential steps(1)", p99_ms),
        ("(d) peak RSS MiB, 1,000 executions on a timer", rss_mib),
        ("fsyncs (commits) per 1,000 steps in (a)", fsyncs_a),
        ("fsyncs (commits) per 1,000 steps in (b)", fsyncs_b),
    ];
    for (measure, value) in rows {
        println!("  {measure:<58} {value:>12.2}");
    }
    let figures: Vec<String> = FIGURES
        .iter()
        .zip(rows)
        .map(|(key, (_, value))| format!("{key}={value:.2}"))
        .collect();
    println!("durability={mode} {}", figures.join(" "));
    drop(engine);
    let _ = std::fs::remove_dir_all(&dir);
}

async fn execute(handle: &EngineHandle, workflow: &str, input: Value) -> Outcome {
    handle
        .execute(workflow, input)
        .await
        .map(|(_, outcome)| outcome)
        .unwrap_or_else(|error| panic!("{workflow} did not run: {error}"))
}

/// Checked after the timed section, so that timing measures the engine only.
fn assert_result(outcome: &Outcome, expected: Value) {
    match outcome {
        Outcome::Succeeded { result } if *result == expected => {}
        other => panic!("expected {expected}, got {other:?}"),
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
    eventual_examples::peak_rss_mib()
}

async fn concurrent_steps(handle: &EngineHandle) -> f64 {
    let started = Instant::now();
    let mut callers = Vec::new();
    for caller in 0..CALLERS {
        let handle = handle.clone();
        callers.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for _ in (caller..CALLS).step_by(CALLERS) {
                outcomes.push(execute(&handle, "steps", json!(10)).await);
            }
            outcomes
        }));
    }
    let mut outcomes = Vec::new();
    for caller in callers {
        outcomes.extend(caller.await.expect("a caller finishes"));
    }
    let steps_per_s = (CALLS * 10) as f64 / started.elapsed().as_secs_f64();
    assert_eq!(outcomes.len(), CALLS);
    for outcome in &outcomes {
        assert_result(outcome, json!(45));
    }
    steps_per_s
}

async fn long_execution(handle: &EngineHandle) -> f64 {
    let started = Instant::now();
    let outcome = execute(handle, "steps", json!(LONG)).await;
    let us_per_step = started.elapsed().as_secs_f64() * 1e6 / f64::from(LONG);
    assert_result(&outcome, json!(499_500));
    us_per_step
}

async fn sequential_latency(handle: &EngineHandle) -> (f64, f64) {
    let mut latencies = Vec::new();
    let mut outcomes = Vec::new();
    for _ in 0..SEQUENTIAL {
        let started = Instant::now();
        outcomes.push(execute(handle, "steps", json!(1)).await);
        latencies.push(started.elapsed());
    }
    for outcome in &outcomes {
        assert_result(outcome, json!(0));
    }
    latencies.sort();
    let at =
        |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    (at(0.5), at(0.99))
}

/// `tmpfs` or `ramfs` when `dir` is on one (per `/proc/mounts`, longest mount point first).
fn memory_filesystem(dir: &Path) -> Option<String> {
    let dir = std::fs::canonicalize(dir).ok()?;
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let _device = fields.next()?;
            let point = fields.next()?;
            let kind = fields.next()?;
            dir.starts_with(point)
                .then(|| (point.len(), kind.to_owned()))
        })
        .max_by_key(|(length, _)| *length)
        .map(|(_, kind)| kind)
        .filter(|kind| kind == "tmpfs" || kind == "ramfs")
}

/// How long a 4 KiB write + fsync takes in `dir`: the floor under any durable commit.
fn fsync_latency_us(dir: &std::path::Path) -> f64 {
    let path = dir.join(format!("eventual-fsync-probe-{}", std::process::id()));
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
