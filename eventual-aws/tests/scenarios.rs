//! The engine-neutral scenario suite of `eventual_tests::scenarios` on the AWS engine (moto
//! with Lambda played by the harness): each scenario must succeed here and leave histories of
//! the same shapes as on the in-memory `TestEnvironment`.

mod harness;

use eventual_tests::scenarios::{agrees_with_test_environment, Scenario};
use harness::{Harness, Options};

async fn on_aws(scenario: Scenario) {
    // Every subscription linked into this binary (the scenarios' and the order service's) gets
    // its rule and queue.
    let harness = Harness::start_all(Options::default()).await;
    agrees_with_test_environment(scenario, &harness.api(), "the AWS engine").await;
}

eventual_tests::every_scenario!(on_aws);
