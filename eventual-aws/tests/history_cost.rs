//! The AWS engine's history costs the same per step however long it is: each step appends one
//! batch and snapshots come geometrically, so a `steps(n)` execution writes (S3 PUT bodies
//! and history-table items) at most three times its final history, where rewriting the whole
//! history at each step writes about `n / 2` times it.

mod harness;
mod workloads;

use eventual_runtime::engine::client::StartExecution;
use eventual_runtime::engine::Engine;
use eventual_runtime::workflow::{History, Outcome};
use harness::{Harness, Options, SdkFaults};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Bytes of history written per byte of final history, at most.
const BOUND: usize = 3;

/// Runs `steps(n)` on moto; returns the bytes of history it wrote and its final history's.
async fn history_bytes(n: u32) -> (usize, usize) {
    let faults = Arc::new(SdkFaults::default());
    let harness = Harness::start_with_faults(&[], Options::default(), Some(faults.clone())).await;
    let before = faults.calls().len();
    let api = harness.api().with_wait(Duration::from_secs(900));
    let id = api
        .start(StartExecution {
            workflow: "steps".into(),
            execution_name: None,
            input: json!(n),
            correlation_id: None,
        })
        .await
        .unwrap();
    let outcome = api.wait(&id).await.unwrap();
    let sum = u64::from(n) * u64::from(n.saturating_sub(1)) / 2;
    assert_eq!(outcome, Outcome::Succeeded { result: json!(sum) });
    // Read back cold (snapshot and batches), as the API reads it.
    let events = api.history(&id).await.unwrap();
    assert_eq!(
        events.len(),
        2 * n as usize + 2,
        "started, n × (scheduled, succeeded), ended"
    );
    let tasks = events
        .iter()
        .filter(|e| e.kind.type_name() == "TaskSucceeded")
        .count();
    assert_eq!(tasks, n as usize);
    let final_size = serde_json::to_vec(&History::new(events)).unwrap().len();
    let history_table = &harness.aws.resources.history_table;
    let calls = faults.calls();
    let (objects, batches): (Vec<_>, Vec<_>) = calls[before..]
        .iter()
        .filter(|call| {
            call.operation == "S3.PutObject"
                || (call.operation == "DynamoDB.PutItem"
                    && call.table.as_ref() == Some(history_table))
        })
        .partition(|call| call.operation == "S3.PutObject");
    let bytes = |calls: &[&harness::Call]| calls.iter().map(|c| c.stored_bytes).sum::<usize>();
    eprintln!(
        "steps({n}): {} history items ({} bytes), {} S3 objects ({} bytes)",
        batches.len(),
        bytes(&batches),
        objects.len(),
        bytes(&objects)
    );
    (bytes(&batches) + bytes(&objects), final_size)
}

async fn check(n: u32) {
    let (written, final_size) = history_bytes(n).await;
    eprintln!(
        "steps({n}): {written} bytes of history written, final history {final_size} bytes ({:.2}x)",
        written as f64 / final_size as f64
    );
    assert!(
        written <= BOUND * final_size,
        "steps({n}) wrote {written} bytes of history for a final history of {final_size} \
         bytes: more than {BOUND}x"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_step_execution_writes_at_most_three_times_its_history() {
    check(200).await;
}

/// The same bound at 1,000 steps (a few minutes against moto).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn a_1000_step_execution_writes_at_most_three_times_its_history() {
    check(1000).await;
}
