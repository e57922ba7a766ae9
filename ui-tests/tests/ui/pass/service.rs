// A whole service: tasks, a workflow calling them with a timer, a signal and an emitted
// event, and a handler subscribed to that event. It runs on the in-memory engine.
use eventual_runtime::prelude::*;
use eventual_runtime::testing::TestEnvironment;
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub total: u64,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct OrderPlaced {
    pub id: String,
    pub total: u64,
}

#[derive(Serialize, Deserialize)]
pub struct Approval {
    pub by: String,
}

#[task(timeout = "30s", retry(max_attempts = 3))]
async fn charge_card(order: Order) -> Result<String, StepError> {
    Ok(format!("receipt-{}", order.id))
}

#[workflow(timeout = "1h")]
async fn place_order(ctx: WorkflowContext, order: Order) -> Result<String, WorkflowError> {
    let receipt = charge_card(order.clone()).await?;
    ctx.sleep(Duration::from_secs(60)).await;
    let approval = ctx
        .expect_signal::<Approval>("approve", Duration::from_secs(3600))
        .await?;
    ctx.emit(OrderPlaced {
        id: order.id,
        total: order.total,
    })
    .await?;
    Ok(format!("{receipt} approved by {}", approval.by))
}

#[on_event(
    pattern = r#"{"detail-type": ["OrderPlaced"], "detail": {"total": [{"numeric": [">", 100]}]}}"#
)]
async fn notify_big_order(event: Event<OrderPlaced>) -> Result<(), StepError> {
    assert!(event.detail.total > 100);
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let env = TestEnvironment::new();
    let order = Order {
        id: "o-1".into(),
        total: 250,
    };
    let run = env.start::<place_order>(order).unwrap();
    env.advance(Duration::from_secs(60)).await;
    env.signal(run.id(), "approve", Approval { by: "ada".into() });
    env.run_until_idle().await;
    let result = env.result::<place_order>(&run).unwrap().unwrap();
    assert_eq!(result, "receipt-o-1 approved by ada");
    let deliveries = env.deliveries();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].subscription, "notify_big_order");
    assert!(deliveries[0].result.is_ok());
}
