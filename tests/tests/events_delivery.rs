//! `#[on_event]` handlers through `TestEnvironment`: routing, retries with backoff and jitter,
//! the dead-letter queue and redrive, the outbox rule, and EventBridge filtering.
//!
//! Every handler of this binary is routed for every environment, so each test uses its own
//! detail-types.

use eventual_runtime::engine::client::Client;
use eventual_runtime::prelude::*;
use eventual_runtime::registry::HandlerFailure;
use eventual_runtime::testing::TestEnvironment;
use eventual_runtime::workflow::HistoryEventKind;
use eventual_runtime::OutgoingEvent;
use eventual_tests::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// `(subscription, attempt, ms since epoch, ok)` of every delivery of `event_id`.
fn deliveries_of(env: &TestEnvironment, event_id: &str) -> Vec<(String, u32, u64, bool)> {
    env.deliveries()
        .into_iter()
        .filter(|d| d.event_id == event_id)
        .map(|d| {
            (
                d.subscription,
                d.attempt,
                since_epoch(d.at),
                d.result.is_ok(),
            )
        })
        .collect()
}

// ---- fan-out -------------------------------------------------------------------------------------

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Fanned {
    n: u64,
}

#[on_event(pattern = r#"{"detail-type": ["Fanned"]}"#)]
async fn fan_a(event: Event<Fanned>) -> Result<(), String> {
    let _ = event.detail.n;
    Ok(())
}

#[on_event(pattern = r#"{"detail-type": ["Fanned"]}"#)]
async fn fan_b(_event: Event<Fanned>) -> Result<(), String> {
    Ok(())
}

#[on_event(pattern = r#"{"detail-type": ["Fanned"], "detail": {"n": [1]}}"#)]
async fn fan_one(_event: Event<Fanned>) -> Result<(), String> {
    Ok(())
}

#[workflow]
async fn fanner(ctx: WorkflowContext, n: u64) -> Result<(), WorkflowError> {
    ctx.emit(Fanned { n }).await?;
    Ok(())
}

#[tokio::test]
async fn emitted_event_reaches_every_matching_handler_once() {
    let env = TestEnvironment::new();
    let one = env.start::<fanner>(1).unwrap();
    let two = env.start::<fanner>(2).unwrap();
    env.run_until_idle().await;
    let id_one = format!("{}/0/0", one.id());
    let id_two = format!("{}/0/0", two.id());
    let subscriptions = |id: &str| -> BTreeSet<String> {
        deliveries_of(&env, id).into_iter().map(|d| d.0).collect()
    };
    assert_eq!(deliveries_of(&env, &id_one).len(), 3);
    assert_eq!(
        subscriptions(&id_one),
        BTreeSet::from(["fan_a".to_owned(), "fan_b".to_owned(), "fan_one".to_owned()])
    );
    assert_eq!(deliveries_of(&env, &id_two).len(), 2);
    assert_eq!(
        subscriptions(&id_two),
        BTreeSet::from(["fan_a".to_owned(), "fan_b".to_owned()])
    );
    assert!(env
        .deliveries()
        .iter()
        .all(|d| d.attempt == 1 && d.result.is_ok()));
    // More time changes nothing: each rule got each event once.
    env.advance(secs(3600)).await;
    assert_eq!(env.deliveries().len(), 5);
    assert!(env.dead_letters().is_empty());
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Oversized {
    text: String,
}

/// Tries to emit an event of `bytes` bytes; returns the error it got back, if any.
#[workflow]
async fn oversized_emitter(ctx: WorkflowContext, bytes: u64) -> Result<String, WorkflowError> {
    let text = "x".repeat(bytes as usize);
    Ok(match ctx.emit(Oversized { text }).await {
        Ok(()) => "emitted".to_owned(),
        Err(error) => error.to_string(),
    })
}

#[tokio::test]
async fn events_above_eventbridge_s_limit_are_refused_where_they_are_emitted() {
    let env = TestEnvironment::new();
    let small = env.start::<oversized_emitter>(1_000).unwrap();
    let large = env.start::<oversized_emitter>(300_000).unwrap();
    env.run_until_idle().await;
    assert_eq!(env.result(&small).unwrap().unwrap(), "emitted");
    let refused = env.result(&large).unwrap().unwrap();
    assert!(
        refused.contains("`Oversized` from `oversized_emitter` is 300")
            && refused.contains("262144 bytes"),
        "{refused}"
    );
    // The refused emit took no step: the history holds none, and no delivery happened.
    let steps: Vec<&str> = env
        .history(large.id())
        .iter()
        .map(|e| e.kind.type_name())
        .collect();
    assert_eq!(steps, ["WorkflowStarted", "WorkflowSucceeded"]);
    // A handler's client refuses it too.
    let client = Client::new(eventual_runtime::engine::client::EffectBuffer::default());
    let error = client
        .publish_events(vec![OutgoingEvent::new(
            "shop",
            "Big",
            json!("x".repeat(300_000)),
        )])
        .unwrap_err();
    assert!(error.to_string().contains("`Big` from `shop`"), "{error}");
}

// ---- retries, dead letters, redrive --------------------------------------------------------------

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Unstable {
    n: u64,
}

static HEALED: AtomicBool = AtomicBool::new(false);

#[on_event(
    pattern = r#"{"detail-type": ["Unstable"]}"#,
    retry(
        max_attempts = 4,
        backoff = "exponential",
        initial = "1s",
        multiplier = 2.0,
        jitter = 0.5
    )
)]
async fn unstable_handler(event: Event<Unstable>) -> Result<(), String> {
    if HEALED.load(Ordering::SeqCst) {
        Ok(())
    } else {
        Err(format!("downstream unavailable for {}", event.detail.n))
    }
}

#[tokio::test]
async fn failing_handler_is_retried_with_backoff_then_dead_lettered_then_redriven() {
    let env = TestEnvironment::new();
    let event_id = env.publish(OutgoingEvent::new("tests", "Unstable", json!({"n": 4})));
    let original = env.published_events().remove(0);
    env.advance(secs(60)).await;

    let deliveries = deliveries_of(&env, &event_id);
    assert_eq!(deliveries.len(), 4, "{deliveries:?}");
    assert_eq!(
        deliveries.iter().map(|d| d.1).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert!(deliveries.iter().all(|d| d.0 == "unstable_handler" && !d.3));
    let times: Vec<u64> = deliveries.iter().map(|d| d.2).collect();
    assert_eq!(times[0], 0);
    let delays: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // 1 s, 2 s, 4 s, each ± 50 %.
    for (delay, base) in delays.iter().zip([1_000u64, 2_000, 4_000]) {
        assert!(
            (base / 2..=base * 3 / 2).contains(delay),
            "delay {delay} outside {base} ± 50 %: {delays:?}"
        );
    }
    assert_ne!(delays, [1_000, 2_000, 4_000], "no jitter was applied");

    let dead = env.dead_letters();
    assert_eq!(dead.len(), 1);
    let letter = &dead[0];
    assert_eq!(letter.subscription, "unstable_handler");
    assert_eq!(letter.attempts, 4);
    assert_eq!(
        letter.error,
        HandlerFailure::Failed("downstream unavailable for 4".into())
    );
    assert_eq!(letter.event, original);
    assert_eq!(since_epoch(letter.failed_at), times[3]);

    // Redrive once the handler is healthy again.
    HEALED.store(true, Ordering::SeqCst);
    assert!(env.redrive(&letter.id));
    assert!(!env.redrive(&letter.id));
    assert!(!env.redrive("no-such-letter"));
    env.run_until_idle().await;
    let deliveries = deliveries_of(&env, &event_id);
    assert_eq!(deliveries.len(), 5);
    // Redriven at the current virtual time, as a fresh first attempt.
    assert_eq!(
        deliveries[4],
        ("unstable_handler".to_owned(), 1, 60_000, true)
    );
    assert!(env.dead_letters().is_empty());
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct StrictDetail {
    amount: u64,
}

static STRICT_CALLS: AtomicU32 = AtomicU32::new(0);

#[on_event(pattern = r#"{"detail-type": ["Strict"]}"#, retry(max_attempts = 5))]
async fn strict_handler(_event: Event<StrictDetail>) -> Result<(), String> {
    STRICT_CALLS.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[tokio::test]
async fn undeserializable_detail_is_dead_lettered_at_once() {
    let env = TestEnvironment::new();
    let bad = env.publish(OutgoingEvent::new(
        "tests",
        "Strict",
        json!({"amount": "lots"}),
    ));
    let good = env.publish(OutgoingEvent::new("tests", "Strict", json!({"amount": 3})));
    env.advance(secs(600)).await;
    assert_eq!(deliveries_of(&env, &bad).len(), 1);
    assert_eq!(
        deliveries_of(&env, &good),
        [("strict_handler".to_owned(), 1, 0, true)]
    );
    assert_eq!(STRICT_CALLS.load(Ordering::SeqCst), 1);
    let dead = env.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 1);
    assert_eq!(dead[0].event.id, bad);
    match &dead[0].error {
        HandlerFailure::InvalidEvent(message) => {
            assert!(message.contains("invalid type"), "{message}")
        }
        other => panic!("unexpected {other:?}"),
    }
}

// ---- handlers that reach the engine ----------------------------------------------------------------

#[derive(Clone, Debug, Serialize, Deserialize)]
struct OrderAccepted {
    id: String,
}

#[workflow]
async fn accept_order(ctx: WorkflowContext, id: String) -> Result<(), WorkflowError> {
    ctx.emit(OrderAccepted { id }).await?;
    Ok(())
}

#[workflow]
async fn shipping(ctx: WorkflowContext, id: String) -> Result<String, WorkflowError> {
    let carrier: String = ctx.wait_for_signal("carrier").await?;
    Ok(format!("{id} by {carrier}"))
}

#[on_event(pattern = r#"{"detail-type": ["OrderAccepted"]}"#)]
async fn start_shipping(event: Event<OrderAccepted>) -> Result<(), WorkflowError> {
    let client = Client::current().expect("inside a handler");
    let execution =
        client.start::<shipping>(Some(format!("ship-{}", event.detail.id)), &event.detail.id)?;
    client.signal(&execution, "carrier", "truck")?;
    Ok(())
}

#[tokio::test]
async fn workflow_event_starts_and_signals_another_workflow() {
    let env = TestEnvironment::new();
    let order = env.start::<accept_order>("o-7".into()).unwrap();
    env.run_until_idle().await;
    assert_eq!(
        env.outcome("ship-o-7").unwrap().into_result().unwrap(),
        json!("o-7 by truck")
    );
    let history = env.history("ship-o-7");
    match &history[0].kind {
        HistoryEventKind::WorkflowStarted { correlation_id, .. } => {
            // The correlation id flowed from the order execution through its event.
            assert_eq!(correlation_id, order.id());
        }
        other => panic!("unexpected {other:?}"),
    }
    match &history[1].kind {
        HistoryEventKind::SignalReceived { id, .. } => assert!(id.is_some()),
        other => panic!("unexpected {other:?}"),
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct StartFlaky {
    id: String,
}

static FLAKY_STARTS: AtomicU32 = AtomicU32::new(0);

#[on_event(
    pattern = r#"{"detail-type": ["StartFlaky"]}"#,
    retry(max_attempts = 2, backoff = "fixed", initial = "1s", jitter = 0.0)
)]
async fn flaky_starter(event: Event<StartFlaky>) -> Result<(), WorkflowError> {
    let client = Client::current().expect("inside a handler");
    let execution = client.start::<shipping>(None, &event.detail.id)?;
    client.signal(&execution, "carrier", "bike")?;
    client.publish("tests", &json!({"echo": event.detail.id}))?;
    if FLAKY_STARTS.fetch_add(1, Ordering::SeqCst) == 0 {
        return Err(WorkflowError::new("Flaky", "first attempt fails"));
    }
    Ok(())
}

#[tokio::test]
async fn failed_handler_leaves_no_effects_behind() {
    let env = TestEnvironment::new();
    let event_id = env.publish(OutgoingEvent::new(
        "tests",
        "StartFlaky",
        json!({"id": "f-1"}),
    ));
    env.run_until_idle().await;
    // Attempt 1 failed: no execution, no signal, no event.
    assert_eq!(
        deliveries_of(&env, &event_id),
        [("flaky_starter".to_owned(), 1, 0, false)]
    );
    assert!(env.executions().is_empty());
    assert_eq!(env.published_events().len(), 1);
    env.advance(secs(1)).await;
    assert_eq!(deliveries_of(&env, &event_id).len(), 2);
    // Attempt 2 succeeded: its effects, once.
    let executions = env.executions();
    assert_eq!(executions.len(), 1, "{executions:?}");
    assert_eq!(
        env.outcome(&executions[0]).unwrap().into_result().unwrap(),
        json!("f-1 by bike")
    );
    let published = env.published_events();
    assert_eq!(published.len(), 2);
    assert_eq!(published[1].detail, json!({"echo": "f-1"}));
    assert!(env.warnings().is_empty(), "{:?}", env.warnings());
}

// ---- EventBridge filtering ----------------------------------------------------------------------------

#[on_event(
    pattern = r#"{"detail-type": ["FilterOrder"], "detail": {"amount": [{"numeric": [">", 100]}]}}"#
)]
async fn big_orders(_event: Event<serde_json::Value>) -> Result<(), String> {
    Ok(())
}

#[on_event(
    pattern = r#"{"detail-type": ["FilterOrder"], "detail": {"status": [{"anything-but": ["cancelled", "refunded"]}]}}"#
)]
async fn active_orders(_event: Event<serde_json::Value>) -> Result<(), String> {
    Ok(())
}

#[on_event(
    pattern = r#"{"detail-type": ["FilterOrder"], "detail": {"region": [{"prefix": "eu-"}]}}"#
)]
async fn eu_orders(_event: Event<serde_json::Value>) -> Result<(), String> {
    Ok(())
}

#[tokio::test]
async fn eventbridge_filtering_routes_each_event_to_exactly_the_expected_handlers() {
    let env = TestEnvironment::new();
    let cases: Vec<(&str, serde_json::Value, &[&str])> = vec![
        (
            "FilterOrder",
            json!({"amount": 150, "status": "new", "region": "eu-west-1"}),
            &["active_orders", "big_orders", "eu_orders"],
        ),
        (
            "FilterOrder",
            json!({"amount": 100, "status": "new", "region": "us-east-1"}),
            &["active_orders"],
        ),
        (
            "FilterOrder",
            json!({"amount": 100.5, "status": "cancelled", "region": "eu-central-1"}),
            &["big_orders", "eu_orders"],
        ),
        (
            "FilterOrder",
            json!({"amount": 5, "status": "refunded", "region": "ap-south-1"}),
            &[],
        ),
        (
            "FilterOrder",
            json!({"amount": "150", "status": "shipped", "region": "eu"}),
            &["active_orders"],
        ),
        (
            "FilterOrder",
            json!({"amount": 1e3, "region": "EU-west-1"}),
            &["big_orders"],
        ),
        (
            "FilterOrder",
            json!({"amount": 101, "status": "Cancelled", "region": "eu-north-1"}),
            &["active_orders", "big_orders", "eu_orders"],
        ),
        (
            "FilterOrder",
            json!({"amount": -200, "status": "pending", "region": "eu-"}),
            &["active_orders", "eu_orders"],
        ),
        (
            "FilterOrder",
            json!({"amount": 100.0001, "status": "refunded", "region": "us-eu-1"}),
            &["big_orders"],
        ),
        (
            "FilterRefund",
            json!({"amount": 500, "status": "new", "region": "eu-west-1"}),
            &[],
        ),
        (
            "FilterOrder",
            json!({"amount": 3.0e2, "status": "new"}),
            &["active_orders", "big_orders"],
        ),
    ];
    let mut expected = BTreeMap::new();
    for (detail_type, detail, handlers) in &cases {
        let id = env.publish(OutgoingEvent::new("orders", *detail_type, detail.clone()));
        let set: BTreeSet<String> = handlers.iter().map(|h| (*h).to_owned()).collect();
        expected.insert(id, (detail.clone(), set));
    }
    env.run_until_idle().await;
    for (id, (detail, handlers)) in &expected {
        let deliveries = deliveries_of(&env, id);
        let got: BTreeSet<String> = deliveries.iter().map(|d| d.0.clone()).collect();
        assert_eq!(&got, handlers, "event {detail}");
        assert_eq!(
            deliveries.len(),
            handlers.len(),
            "each handler once: {detail}"
        );
    }
    assert_eq!(env.deliveries().len(), 16);
}
