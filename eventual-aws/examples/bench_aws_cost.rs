//! What a durable step costs on the AWS engine: runs `place_order`, `steps(10)` and
//! `steps(1000)` against moto_server (started here, with Lambda played in-process as in the
//! tests), counts the engine's AWS requests by service and the bytes it writes, and prices
//! them at AWS list prices.
//!
//! `cargo run --release -p eventual-aws --example bench_aws_cost`
//!
//! The last line is `requests_per_step=<x> s3_bytes_per_step=<y> usd_per_million_steps=<z>`
//! for `steps(1000)`; a step is one task call.
//!
//! What is counted: every request of the orchestrator, the task workers and the event
//! handlers (through the SDK clients' HTTP connector), and what Lambda's SQS event source
//! mappings do for them: one `ReceiveMessage` and one `DeleteMessage` per message handed to
//! a function, and one invocation per message (sequential workflows get batches of one).
//! Not counted: the client's start and wait (one API request per execution), the mappings'
//! idle long polls (a fixed cost per queue, whatever the load), storage, data transfer and
//! CloudWatch Logs.

#[path = "../tests/harness/mod.rs"]
mod harness;
#[path = "../tests/workloads/mod.rs"]
mod workloads;

extern crate order_service;

use eventual_aws::api::AwsApi;
use eventual_aws::Aws;
use eventual_runtime::engine::client::StartExecution;
use eventual_runtime::engine::Engine;
use eventual_runtime::workflow::{History, Outcome};
use harness::{Call, Harness, Options, SdkFaults};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// AWS list prices, us-east-1, as of 2026-12-01 (the figures of issue 16), in USD.
mod price {
    /// S3 Standard PUT, COPY, POST, LIST: $0.005 per 1,000 requests.
    pub const S3_PUT: f64 = 0.005 / 1e3;
    /// S3 Standard GET and others: $0.0004 per 1,000 requests.
    pub const S3_GET: f64 = 0.0004 / 1e3;
    /// SQS FIFO queues: $0.50 per million requests (standard queues cost less; priced alike).
    pub const SQS: f64 = 0.50 / 1e6;
    /// DynamoDB on-demand: $1.25 per million write request units (1 KB each).
    pub const DYNAMODB_WRU: f64 = 1.25 / 1e6;
    /// DynamoDB on-demand: $0.25 per million read request units (4 KB, strongly consistent).
    pub const DYNAMODB_RRU: f64 = 0.25 / 1e6;
    /// Lambda: $0.20 per million requests.
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    /// Lambda (x86): $0.0000166667 per GB-second.
    pub const LAMBDA_GB_SECOND: f64 = 0.000_016_666_7;
    /// EventBridge custom events: $1.00 per million events.
    pub const EVENTBRIDGE_EVENT: f64 = 1.0 / 1e6;
    /// EventBridge Scheduler: $1.00 per million invocations.
    pub const SCHEDULER: f64 = 1.0 / 1e6;
}

/// The assumed Lambda memory size, GB (128 MB, the smallest).
const LAMBDA_GB: f64 = 0.125;
/// The assumed billed duration of one invocation, seconds (the orchestrator replays and
/// writes a few items; a task here returns at once).
const LAMBDA_SECONDS: f64 = 0.050;

/// Operations the harness makes in Lambda's place (the event source mappings, Scheduler
/// firing a schedule), priced as the model in the module docs says instead.
const INFRASTRUCTURE: &[&str] = &[
    "SQS.ReceiveMessage",
    "SQS.DeleteMessage",
    "SQS.ChangeMessageVisibility",
    "SQS.GetQueueUrl",
    "Scheduler.ListSchedules",
    "Scheduler.GetSchedule",
    "Scheduler.DeleteSchedule",
];

/// One workload's requests and what they cost.
#[derive(Default)]
struct Bill {
    /// `Service.Operation` → requests.
    requests: BTreeMap<String, u64>,
    /// Service → priced units (requests, WRU, RRU, GB-s) and dollars.
    lines: BTreeMap<&'static str, (f64, f64)>,
    s3_bytes: u64,
    dynamodb_bytes: u64,
}

impl Bill {
    fn charge(&mut self, service: &'static str, units: f64, unit_price: f64) {
        let line = self.lines.entry(service).or_default();
        line.0 += units;
        line.1 += units * unit_price;
    }

    fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }

    fn total_usd(&self) -> f64 {
        self.lines.values().map(|line| line.1).sum()
    }

    /// Prices the calls of one workload.
    fn of(calls: &[Call]) -> Bill {
        let mut bill = Bill::default();
        let mut deliveries = 0u64;
        for call in calls {
            let operation = call.operation.as_str();
            if INFRASTRUCTURE.contains(&operation) {
                if matches!(
                    operation,
                    "SQS.DeleteMessage" | "SQS.ChangeMessageVisibility"
                ) {
                    deliveries += 1;
                }
                continue;
            }
            *bill.requests.entry(call.operation.clone()).or_default() += 1;
            let service = operation.split('.').next().unwrap_or_default();
            match (service, operation) {
                (_, "S3.PutObject" | "S3.ListObjectsV2") => {
                    bill.s3_bytes += call.stored_bytes as u64;
                    bill.charge("S3 PUT/LIST", 1.0, price::S3_PUT);
                }
                ("S3", _) => bill.charge("S3 GET", 1.0, price::S3_GET),
                ("SQS", _) => bill.charge("SQS", 1.0, price::SQS),
                (_, "DynamoDB.GetItem" | "DynamoDB.Query" | "DynamoDB.Scan") => {
                    bill.charge("DynamoDB read (RRU)", 1.0, price::DYNAMODB_RRU)
                }
                ("DynamoDB", _) => {
                    bill.dynamodb_bytes += call.stored_bytes as u64;
                    let units = (call.stored_bytes as f64 / 1024.0).ceil().max(1.0);
                    bill.charge("DynamoDB write (WRU)", units, price::DYNAMODB_WRU);
                }
                (_, "Lambda.Invoke") => {}
                ("EventBridge", _) => bill.charge("EventBridge", 1.0, price::EVENTBRIDGE_EVENT),
                (_, "Scheduler.CreateSchedule") => bill.charge("Scheduler", 1.0, price::SCHEDULER),
                _ => {}
            }
        }
        // The mappings: a receive and a delete per message, an invocation per message.
        *bill
            .requests
            .entry("SQS.ReceiveMessage+DeleteMessage (mapping)".into())
            .or_default() += 2 * deliveries;
        bill.charge("SQS", 2.0 * deliveries as f64, price::SQS);
        let invocations = deliveries + bill.requests.get("Lambda.Invoke").copied().unwrap_or(0);
        *bill
            .requests
            .entry("Lambda invocations (mapping)".into())
            .or_default() += deliveries;
        bill.charge("Lambda requests", invocations as f64, price::LAMBDA_REQUEST);
        bill.charge(
            "Lambda duration (GB-s)",
            invocations as f64 * LAMBDA_GB * LAMBDA_SECONDS,
            price::LAMBDA_GB_SECOND,
        );
        bill
    }
}

/// A workload: its name, workflow, input.
struct Workload {
    name: &'static str,
    workflow: &'static str,
    input: Value,
}

/// Runs `workload` to its end; returns its bill, its steps (task calls) and its final
/// history's size.
async fn measure(harness: &Harness, faults: &SdkFaults, workload: &Workload) -> (Bill, u64, u64) {
    // The client starts and waits through clients the count does not see.
    let quiet = Aws::new(
        &harness::sdk_config(harness.endpoint()).await,
        harness.aws.resources.clone(),
    );
    let client = AwsApi::new(quiet)
        .with_wait(Duration::from_secs(600))
        .with_start_wait(Duration::from_secs(20));
    let before = faults.calls().len();
    let id = client
        .start(StartExecution {
            workflow: workload.workflow.into(),
            execution_name: None,
            input: workload.input.clone(),
            correlation_id: None,
        })
        .await
        .expect("the workload starts");
    let outcome = client.wait(&id).await.expect("the workload ends");
    assert!(
        matches!(outcome, Outcome::Succeeded { .. }),
        "{}: {outcome:?}",
        workload.name
    );
    // The last step's carried-out mark and the handlers' deliveries follow the outcome.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let calls = faults.calls()[before..].to_vec();
    let history = client.history(&id).await.expect("its history");
    let steps = history
        .iter()
        .filter(|event| event.kind.type_name() == "TaskScheduled")
        .count() as u64;
    let history_bytes = serde_json::to_vec(&History::new(history))
        .map(|bytes| bytes.len() as u64)
        .unwrap_or_default();
    (Bill::of(&calls), steps, history_bytes)
}

fn print_bill(name: &str, bill: &Bill, steps: u64) {
    println!("\n{name}: {steps} steps");
    println!("  {:<46} {:>10} {:>10}", "request", "count", "per step");
    for (operation, count) in &bill.requests {
        println!(
            "  {operation:<46} {count:>10} {:>10.2}",
            *count as f64 / steps as f64
        );
    }
    println!(
        "  {:<46} {:>12} {:>14}",
        "priced as", "units", "USD per 1M steps"
    );
    for (service, (units, usd)) in &bill.lines {
        println!(
            "  {service:<46} {units:>12.1} {:>14.3}",
            usd / steps as f64 * 1e6
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    order_service::link();
    let faults = Arc::new(SdkFaults::default());
    let subscriptions: Vec<&str> = eventual_runtime::registry::SUBSCRIPTIONS
        .iter()
        .map(|s| s.name)
        .collect();
    let harness =
        Harness::start_with_faults(&subscriptions, Options::default(), Some(faults.clone())).await;
    let order =
        serde_json::to_value(order_service::sample_order("o-1", 20_000, "eu")).expect("an order");
    let workloads = [
        Workload {
            name: "place_order",
            workflow: "place_order",
            input: order,
        },
        Workload {
            name: "steps(10)",
            workflow: "steps",
            input: json!(10),
        },
        Workload {
            name: "steps(1000)",
            workflow: "steps",
            input: json!(1000),
        },
    ];
    println!(
        "AWS list prices, us-east-1, 2026-12-01; Lambda {} MB, {} ms per invocation",
        LAMBDA_GB * 1024.0,
        LAMBDA_SECONDS * 1e3
    );
    let mut rows = Vec::new();
    for workload in &workloads {
        let (bill, steps, history_bytes) = measure(&harness, &faults, workload).await;
        print_bill(workload.name, &bill, steps);
        rows.push((workload.name, bill, steps, history_bytes));
    }
    println!(
        "\n{:<12} {:>6} {:>10} {:>12} {:>14} {:>14} {:>12}",
        "workload", "steps", "requests", "req/step", "S3 B/step", "history B", "USD/1M steps"
    );
    for (name, bill, steps, history_bytes) in &rows {
        let steps_f = *steps as f64;
        println!(
            "{name:<12} {steps:>6} {:>10} {:>12.2} {:>14.1} {history_bytes:>14} {:>12.3}",
            bill.total_requests(),
            bill.total_requests() as f64 / steps_f,
            bill.s3_bytes as f64 / steps_f,
            bill.total_usd() / steps_f * 1e6
        );
    }
    let (_, bill, steps, _) = rows.last().expect("steps(1000) ran");
    let steps = *steps as f64;
    println!(
        "requests_per_step={:.2} s3_bytes_per_step={:.1} usd_per_million_steps={:.3}",
        bill.total_requests() as f64 / steps,
        bill.s3_bytes as f64 / steps,
        bill.total_usd() / steps * 1e6
    );
}
