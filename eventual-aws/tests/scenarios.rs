//! The engine-neutral scenario suite of `eventual_tests::scenarios` on the AWS engine (moto
//! with Lambda played by the harness): each scenario must succeed here and leave histories of
//! the same shapes as on the in-memory `TestEnvironment`.

mod harness;

use eventual_runtime::engine::Engine;
use eventual_runtime::testing::TestEnvironment;
use eventual_tests::scenarios::{self, Trace};
use harness::{Harness, Options};
use std::future::Future;
use std::pin::Pin;

type Scenario = for<'a> fn(&'a dyn Engine) -> Pin<Box<dyn Future<Output = Trace> + 'a>>;

async fn on_aws_and_in_memory(scenario: Scenario) {
    let virtual_time = scenario(&TestEnvironment::new()).await;
    // Every subscription linked into this binary (the scenarios' and the order service's) gets
    // its rule and queue.
    let harness = Harness::start_all(Options::default()).await;
    let on_aws = scenario(&harness).await;
    assert_eq!(
        on_aws, virtual_time,
        "the AWS engine's histories differ from the TestEnvironment's"
    );
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            on_aws_and_in_memory(|engine| Box::pin(scenarios::$name(engine))).await;
        }
    )*};
}

scenarios!(
    retries,
    signals,
    timers,
    children,
    cancellation,
    order_saga,
    events
);
