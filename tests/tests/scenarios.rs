//! The scenario suite on every engine: the in-memory `TestEnvironment` (virtual time) and the
//! local engine (SQLite, real time). Each scenario must succeed on both and leave histories of
//! the same shape.

use eventual_runtime::engine::Engine;
use eventual_runtime::testing::TestEnvironment;
use eventual_tests::local::InProcess;
use eventual_tests::scenarios::{self, Trace};
use std::future::Future;
use std::pin::Pin;

type Scenario = for<'a> fn(&'a dyn Engine) -> Pin<Box<dyn Future<Output = Trace> + 'a>>;

async fn on_every_engine(scenario: Scenario) {
    let virtual_time = scenario(&TestEnvironment::new()).await;
    let local = InProcess::start();
    let on_disk = scenario(&local.handle()).await;
    assert_eq!(
        on_disk, virtual_time,
        "the local engine's histories differ from the TestEnvironment's"
    );
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            on_every_engine(|engine| Box::pin(scenarios::$name(engine))).await;
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
