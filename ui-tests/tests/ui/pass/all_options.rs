// Every option of every attribute, set.
use eventual_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct Shipped {
    pub tracking: String,
}

#[task(
    name = "payments.charge-card",
    timeout = "30s",
    heartbeat = "5s",
    retry(
        max_attempts = 5,
        backoff = "fixed",
        initial = "500ms",
        max = "1m",
        multiplier = 1.5,
        jitter = 0.0
    ),
    crate = "::eventual_runtime"
)]
pub async fn charge(amount: u64) -> Result<u64, StepError> {
    Ok(amount)
}

#[workflow(
    name = "orders.place-v2",
    timeout = "1d 2h",
    crate = "::eventual_runtime"
)]
pub async fn place(ctx: WorkflowContext, amount: u64) -> Result<u64, WorkflowError> {
    let _ = ctx;
    Ok(charge(amount).await?)
}

#[on_event(
    pattern = r#"{"source": ["orders"], "detail-type": ["Shipped"]}"#,
    name = "notify-shipped",
    retry(
        max_attempts = 10,
        backoff = "exponential",
        initial = "1s",
        max = "10m",
        multiplier = 3,
        jitter = 1.0
    ),
    dead_letter = false,
    crate = "::eventual_runtime"
)]
pub async fn notify(event: Event<Shipped>) -> Result<(), StepError> {
    let _ = event.detail.tracking;
    Ok(())
}

fn main() {
    use eventual_runtime::__private::Task;
    assert_eq!(<charge as Task>::NAME, "payments.charge-card");
    assert_eq!(<charge as Task>::OPTIONS.timeout_ms, Some(30_000));
    assert_eq!(<charge as Task>::OPTIONS.heartbeat_ms, Some(5_000));
    assert_eq!(<charge as Task>::OPTIONS.retry.max_attempts, 5);
    assert_eq!(
        <place as eventual_runtime::__private::Workflow>::NAME,
        "orders.place-v2"
    );
}
