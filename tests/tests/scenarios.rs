//! The scenario suite on the local engine (SQLite, real time), compared with the in-memory
//! `TestEnvironment` (virtual time): each scenario must succeed on both and leave histories of
//! the same shape.

use eventual_tests::local::InProcess;
use eventual_tests::scenarios::{agrees_with_test_environment, Scenario};

async fn on_the_local_engine(scenario: Scenario) {
    let local = InProcess::start();
    agrees_with_test_environment(scenario, &local.handle(), "the local engine").await;
}

eventual_tests::every_scenario!(on_the_local_engine);
