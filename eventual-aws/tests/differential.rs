//! The differential suite (`eventual_tests::programs`) on the AWS engine (moto, with Lambda
//! played by the harness): generated programs run on the `TestEnvironment` and on AWS must
//! leave identical histories, outcomes, handler-started executions and dead letters.

mod harness;

use eventual_runtime::engine::Engine;
use eventual_tests::programs::{differential, differential_continue_as_new, Subject};
use harness::{Harness, Options};
use std::sync::Arc;

/// One deployment serves every program (each under its own root name).
struct OnAws(Arc<Harness>);

impl Subject for OnAws {
    fn engine(&self) -> Arc<dyn Engine> {
        Arc::new(self.0.api())
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn run(cases: u32, tag: &str) {
    let runtime = runtime();
    let harness = Arc::new(runtime.block_on(Harness::start_all(Options::default())));
    differential(&runtime, cases, tag, || Box::new(OnAws(harness.clone())));
}

/// A loop that continues as new, with a signal sent while a run switches (on AWS, the signal
/// may reach the orchestrator in the batch of the switch or after it).
#[test]
fn continue_as_new_agrees_with_the_test_environment() {
    let runtime = runtime();
    let harness = Arc::new(runtime.block_on(Harness::start_all(Options::default())));
    differential_continue_as_new(&runtime, "aws", || Box::new(OnAws(harness.clone())));
}

#[test]
fn generated_programs_agree_with_the_test_environment() {
    run(30, "aws");
}

#[test]
#[ignore = "long: 200 programs on moto (tens of minutes)"]
fn many_generated_programs_agree_with_the_test_environment() {
    run(200, "aws-long");
}
