//! The order saga on the TestEnvironment: happy path, and compensation in reverse order.

use eventual_runtime::testing::TestEnvironment;
use eventual_runtime::workflow::HistoryEventKind;
use order_service::*;

fn scheduled_tasks(env: &TestEnvironment, id: &str) -> Vec<String> {
    env.history(id)
        .into_iter()
        .filter_map(|event| match event.kind {
            HistoryEventKind::TaskScheduled { name, .. } => Some(name),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn an_order_ships_and_both_events_reach_their_handlers() {
    let env = TestEnvironment::new();
    let run = env
        .start::<place_order>(sample_order("o-1", 25_000, "eu-west-1"))
        .unwrap();
    env.run_until_idle().await;

    let confirmation = env.result::<place_order>(&run).unwrap().unwrap();
    assert_eq!(confirmation.tracking, "trk-res-o-1");
    assert_eq!(confirmation.charged_cents, 25_000);
    assert_eq!(
        scheduled_tasks(&env, run.id()),
        ["reserve_inventory", "charge_card", "ship_order"]
    );
    let types: Vec<String> = env
        .published_events()
        .into_iter()
        .map(|e| e.detail_type)
        .collect();
    assert_eq!(types, ["OrderPlaced", "OrderShipped"]);
    let handled: Vec<String> = env
        .deliveries()
        .into_iter()
        .map(|d| d.subscription)
        .collect();
    assert_eq!(handled, ["flag_big_order", "notify_customer"]);
}

#[tokio::test]
async fn a_small_order_is_not_flagged() {
    let env = TestEnvironment::new();
    env.start::<place_order>(sample_order("o-2", 900, "eu-west-1"))
        .unwrap();
    env.run_until_idle().await;
    let handled: Vec<String> = env
        .deliveries()
        .into_iter()
        .map(|d| d.subscription)
        .collect();
    assert_eq!(handled, ["notify_customer"]);
}

#[tokio::test]
async fn a_shipping_failure_refunds_then_releases() {
    let env = TestEnvironment::new();
    let run = env
        .start::<place_order>(sample_order("o-3", 5_000, "mars"))
        .unwrap();
    // ship_order retries twice, 5 s apart, before it fails for good.
    env.advance(std::time::Duration::from_secs(60)).await;

    let error = env.result::<place_order>(&run).unwrap().unwrap_err();
    assert_eq!(
        error,
        OrderError::ShippingUnavailable {
            region: "mars".into()
        }
    );
    assert_eq!(
        scheduled_tasks(&env, run.id()),
        [
            "reserve_inventory",
            "charge_card",
            "ship_order",
            "refund_payment",
            "release_inventory"
        ]
    );
    assert_eq!(env.task_runs("ship_order"), 3);
}

#[tokio::test]
async fn a_declined_payment_releases_the_inventory_only() {
    let env = TestEnvironment::new();
    env.mock_task("charge_card")
        .fail(OrderError::PaymentDeclined {
            reason: "stolen card".into(),
        });
    let run = env
        .start::<place_order>(sample_order("o-4", 5_000, "eu-west-1"))
        .unwrap();
    env.advance(std::time::Duration::from_secs(120)).await;

    let error = env.result::<place_order>(&run).unwrap().unwrap_err();
    assert_eq!(
        error,
        OrderError::PaymentDeclined {
            reason: "stolen card".into()
        }
    );
    assert_eq!(
        scheduled_tasks(&env, run.id()),
        ["reserve_inventory", "charge_card", "release_inventory"]
    );
    assert_eq!(
        env.task_runs("charge_card"),
        5,
        "retried up to max_attempts"
    );
}

#[tokio::test]
async fn cancelling_an_order_waiting_for_payment_runs_the_compensations() {
    let env = TestEnvironment::new();
    env.mock_task("charge_card").never_finish();
    let run = env
        .start::<place_order>(sample_order("o-5", 5_000, "eu-west-1"))
        .unwrap();
    env.run_until_idle().await;
    env.cancel(run.id(), Some("customer changed their mind"));
    env.run_until_idle().await;

    assert_eq!(
        env.status(run.id()),
        Some(eventual_runtime::engine::ExecutionStatus::Cancelled)
    );
    assert_eq!(
        scheduled_tasks(&env, run.id()),
        ["reserve_inventory", "charge_card", "release_inventory"]
    );
}
