//! The AWS engine against moto_server, with Lambda played by the harness: a workflow with
//! tasks, a timer and an emitted event runs to completion with the history shape of
//! `TestEnvironment`, also when every message is delivered twice, every task invoked twice, or
//! the orchestrator stops right after its history commits; payloads above the message limits
//! travel through S3; a result the worker could not send is sent by the next invoke.

mod harness;

use aws_sdk_dynamodb::types::AttributeValue;
use eventual_runtime::engine::client::StartExecution;
use eventual_runtime::engine::Engine;
use eventual_runtime::manifest::names;
use eventual_runtime::prelude::*;
use eventual_runtime::task::TaskContext;
use eventual_runtime::testing::TestEnvironment;
use eventual_runtime::workflow::{HistoryEvent, Outcome};
use harness::{eventually, Call, Fault, Harness, Options, SdkFaults};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

/// `(execution, seq, attempt)` of every task body run.
static RUNS: Mutex<Vec<(String, u32, u32)>> = Mutex::new(Vec::new());

/// `(event id, correlation id)` of every `Shipped` the handler took.
static SHIPPED: Mutex<Vec<(String, Option<String>)>> = Mutex::new(Vec::new());

fn record_run() {
    if let Some(context) = TaskContext::current() {
        RUNS.lock()
            .unwrap()
            .push((context.execution_id, context.seq, context.attempt));
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Shipped {
    parcel: String,
    amount: u64,
}

#[task(timeout = "30s")]
async fn charge(amount: u64) -> Result<String, StepError> {
    record_run();
    Ok(format!("receipt-{amount}"))
}

#[task(timeout = "30s")]
async fn ship(receipt: String) -> Result<String, StepError> {
    record_run();
    Ok(format!("parcel-for-{receipt}"))
}

#[workflow]
async fn order(ctx: WorkflowContext, amount: u64) -> Result<String, WorkflowError> {
    let receipt = charge(amount).await?;
    ctx.sleep(Duration::from_secs(1)).await;
    let parcel = ship(receipt).await?;
    ctx.emit(Shipped {
        parcel: parcel.clone(),
        amount,
    })
    .await?;
    Ok(parcel)
}

#[on_event(
    pattern = r#"{"detail-type": ["Shipped"], "detail": {"amount": [{"numeric": [">", 100]}]}}"#
)]
async fn on_big_shipment(event: Event<Shipped>) -> Result<(), String> {
    SHIPPED
        .lock()
        .unwrap()
        .push((event.id, event.correlation_id));
    Ok(())
}

fn shape(history: &[HistoryEvent]) -> Vec<String> {
    history
        .iter()
        .map(|e| match e.kind.seq() {
            Some(seq) => format!("{}@{seq}", e.kind.type_name()),
            None => e.kind.type_name().to_owned(),
        })
        .collect()
}

/// Runs `order(amount)` on `engine`: its outcome, id and history.
async fn run_order(engine: &dyn Engine, amount: u64) -> (String, Outcome, Vec<HistoryEvent>) {
    let id = engine
        .start(StartExecution {
            workflow: "order".into(),
            execution_name: None,
            input: json!(amount),
            correlation_id: None,
        })
        .await
        .unwrap();
    let outcome = engine.wait(&id).await.unwrap();
    let history = engine.history(&id).await.unwrap();
    (id, outcome, history)
}

async fn reference_shape() -> Vec<String> {
    let env = TestEnvironment::new();
    let (_, outcome, history) = run_order(&env, 120).await;
    assert!(matches!(outcome, Outcome::Succeeded { .. }), "{outcome:?}");
    shape(&history)
}

/// Runs the order workflow on a harness with `options`, checks the result, the history shape,
/// one body run per attempt and the event's delivery.
async fn order_on_aws(harness: &Harness) {
    let (id, outcome, history) = run_order(&harness.api(), 120).await;
    assert_eq!(
        outcome,
        Outcome::Succeeded {
            result: json!("parcel-for-receipt-120")
        }
    );
    assert_eq!(shape(&history), reference_shape().await);
    let runs: Vec<_> = RUNS
        .lock()
        .unwrap()
        .iter()
        .filter(|run| run.0 == id)
        .cloned()
        .collect();
    assert_eq!(runs.len(), 2, "each attempt ran once: {runs:?}");
    // The event reached the subscription's queue through the rule, with the engine's ids.
    let event_id = format!("{id}/3/0");
    let delivered = eventually(harness::WAIT, "the Shipped delivery", || {
        let shipped = SHIPPED.lock().unwrap();
        let delivered: Vec<_> = shipped
            .iter()
            .filter(|s| s.0 == event_id)
            .cloned()
            .collect();
        (!delivered.is_empty()).then_some(delivered)
    })
    .await;
    assert_eq!(delivered[0].1.as_deref(), Some(id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_runs_to_completion_with_the_test_environment_history_shape() {
    let harness = Harness::start(&["on_big_shipment"], Options::default()).await;
    order_on_aws(&harness).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_deliveries_and_invokes_change_nothing() {
    let options = Options {
        duplicate_deliveries: true,
        duplicate_invokes: true,
    };
    let harness = Harness::start(&["on_big_shipment"], options).await;
    order_on_aws(&harness).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_history_commit_is_completed_by_redelivery() {
    let harness = Harness::start(&["on_big_shipment"], Options::default()).await;
    // The start's commit and the next two stop before their commands are carried out, and
    // one PutEvents entry fails once.
    harness
        .aws
        .faults
        .crash_after_commit
        .store(3, Ordering::SeqCst);
    harness
        .aws
        .faults
        .fail_put_events
        .store(1, Ordering::SeqCst);
    order_on_aws(&harness).await;
    assert_eq!(
        harness.aws.faults.crash_after_commit.load(Ordering::SeqCst),
        0
    );
    assert_eq!(harness.aws.faults.fail_put_events.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_and_unknown_executions() {
    let harness = Harness::start(&[], Options::default()).await;
    let error = harness
        .api()
        .signal("nobody", "go", json!(1))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("nobody"), "{error}");
    let error = harness
        .api()
        .start(StartExecution {
            workflow: "no_such_workflow".into(),
            execution_name: None,
            input: json!(null),
            correlation_id: None,
        })
        .await
        .unwrap_err();
    assert!(error.to_string().contains("no_such_workflow"), "{error}");
}

#[workflow]
async fn waiter(ctx: WorkflowContext, _input: ()) -> Result<u64, WorkflowError> {
    let value: u64 = ctx
        .expect_signal("go", Duration::from_secs(60))
        .await
        .map_err(|e| WorkflowError::new("no_signal", e.to_string()))?;
    Ok(value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_of_one_execution_never_fork_its_history() {
    use eventual_aws::orchestrator::process_execution;
    use eventual_aws::store;
    use eventual_aws::{AwsError, InboxMessage};
    use eventual_runtime::workflow::InboxEvent;

    let harness = Harness::start(&[], Options::default()).await;
    let id = harness
        .api()
        .start(StartExecution {
            workflow: "waiter".into(),
            execution_name: Some("waiter-1".into()),
            input: json!(null),
            correlation_id: None,
        })
        .await
        .unwrap();
    let aws = &harness.aws;
    let before = store::load_item(aws, &id).await.unwrap().unwrap();

    // The conditional write itself: a second commit at the same version is refused.
    let mut stale = before.clone();
    stale.version += 1;
    stale.correlation_id = "stale".into();
    let mut winner = stale.clone();
    winner.correlation_id = before.correlation_id.clone();
    store::commit_item(aws, &winner, Some(&before))
        .await
        .unwrap();
    let refused = store::commit_item(aws, &stale, Some(&before)).await;
    assert!(matches!(refused, Err(AwsError::Conflict(_))), "{refused:?}");
    let after = store::load_item(aws, &id).await.unwrap().unwrap();
    assert_eq!(after.correlation_id, before.correlation_id);
    assert_eq!(after.version, winner.version);
    // Back to the version the history holds, for the race below.
    store::commit_item(aws, &before, Some(&winner))
        .await
        .unwrap();

    // Two runs with different signals race: whatever the interleaving, one signal is recorded
    // and the committed item points at a history of its own length.
    let signal = |value: u64| {
        vec![InboxMessage::Event {
            execution_id: id.clone(),
            event: InboxEvent::Signal {
                name: "go".into(),
                payload: json!(value),
                id: Some(format!("race-{value}")),
            },
        }]
    };
    let (a, b) = tokio::join!(
        process_execution(aws, &id, signal(1)),
        process_execution(aws, &id, signal(2)),
    );
    for result in [&a, &b] {
        assert!(
            matches!(result, Ok(()) | Err(AwsError::Conflict(_))),
            "{result:?}"
        );
    }
    assert!(a.is_ok() || b.is_ok(), "one run commits: {a:?} {b:?}");
    let outcome = harness.api().wait(&id).await.unwrap();
    let history = harness.api().history(&id).await.unwrap();
    let item = store::load_item(aws, &id).await.unwrap().unwrap();
    assert_eq!(item.history_len as usize, history.len());
    let signals: Vec<_> = history
        .iter()
        .filter(|e| e.kind.type_name() == "SignalReceived")
        .collect();
    assert_eq!(signals.len(), 1, "{:?}", shape(&history));
    let Outcome::Succeeded { result } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(result == json!(1) || result == json!(2), "{result}");
}

/// Runs the order workflow with the first SDK calls of each of `operations` meeting `plan`,
/// checks that it ran as an undisturbed run does (`order_on_aws`), and returns every call
/// the engine made.
async fn order_under_faults(operations: &[&str], plan: &[Fault]) -> Vec<Call> {
    let faults = std::sync::Arc::new(SdkFaults::default());
    let harness = Harness::start_with_faults(
        &["on_big_shipment"],
        Options::default(),
        Some(faults.clone()),
    )
    .await;
    for operation in operations {
        faults.fail(operation, plan);
    }
    order_on_aws(&harness).await;
    faults.calls()
}

/// The calls of `operation` the harness failed.
fn injected<'a>(calls: &'a [Call], operation: &str) -> Vec<&'a Call> {
    calls
        .iter()
        .filter(|c| c.operation == operation && c.fault.is_some())
        .collect()
}

/// The engine's SDK calls, each failed first with `ThrottlingException` (S3 `SlowDown`,
/// Lambda 429) and then with HTTP 500: the SDK's standard retry strategy tries again with
/// jittered exponential backoff, under the same invocation id, and the workflow completes with
/// the history of an undisturbed run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_server_errors_are_retried_with_backoff() {
    // Every write and read of an execution's state (a short history is all in DynamoDB:
    // S3 holds only snapshots of long ones), every enqueue, invoke and event.
    let operations = [
        "SQS.SendMessage",
        "DynamoDB.GetItem",
        "DynamoDB.PutItem",
        "DynamoDB.Query",
        "Lambda.Invoke",
        "EventBridge.PutEvents",
    ];
    let calls = order_under_faults(&operations, &[Fault::Throttling, Fault::ServerError]).await;
    for operation in operations {
        let failed = injected(&calls, operation);
        assert_eq!(
            failed.iter().map(|c| c.fault.unwrap()).collect::<Vec<_>>(),
            [Fault::Throttling, Fault::ServerError],
            "{operation}: {calls:#?}"
        );
        // Each failed attempt was followed by the next attempt of the same invocation, after
        // a backoff within the standard strategy's bound (initial 1 s, doubled per attempt,
        // times a jitter in [0, 1)), and every invocation ended with an attempt that reached
        // moto.
        for call in &failed {
            let next = calls
                .iter()
                .find(|c| c.invocation == call.invocation && c.attempt == call.attempt + 1)
                .unwrap_or_else(|| panic!("{operation}: {call:?} was not retried"));
            let backoff = next.at.duration_since(call.at);
            let bound = Duration::from_secs(1u64 << (call.attempt - 1));
            assert!(
                // (slack for a loaded machine)
                backoff < bound + Duration::from_secs(2),
                "{operation}: waited {backoff:?}"
            );
            assert!(
                calls
                    .iter()
                    .any(|c| c.invocation == call.invocation && c.fault.is_none()),
                "{operation}: {call:?} never got through"
            );
        }
    }
    // Backoff, not an immediate retry: the waits of the 12 retries add up (each is uniform in
    // [0, 1 s) or [0, 2 s); their sum is below 1 s with a probability of about 1e-9).
    let waited: Duration = calls
        .iter()
        .filter(|c| c.fault.is_some())
        .filter_map(|call| {
            let next = calls
                .iter()
                .find(|c| c.invocation == call.invocation && c.attempt == call.attempt + 1)?;
            Some(next.at.duration_since(call.at))
        })
        .sum();
    assert!(
        waited > Duration::from_secs(1),
        "retried after {waited:?} in all"
    );
}

/// 5xx answers to calls moto did carry out (the response was lost): the SDK's retry repeats a
/// write that already happened, so the engine meets its own commit (a refused version
/// condition), a second copy of an enqueued message, a second invoke and a second `PutEvents`.
/// The workflow still completes with the undisturbed history, each task attempt's body runs
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_after_the_write_happened_change_nothing() {
    let operations = [
        "SQS.SendMessage",
        "DynamoDB.PutItem",
        "Lambda.Invoke",
        "EventBridge.PutEvents",
    ];
    let calls = order_under_faults(&operations, &[Fault::ServerErrorAfterApplying; 2]).await;
    for operation in operations {
        assert_eq!(injected(&calls, operation).len(), 2, "{operation}");
    }
}

/// Throttling that outlasts the SDK's 3 attempts: the orchestrator's history commit, its task
/// invoke and its `PutEvents` each fail for good once. The run reports its batch items failed,
/// the messages come back, and the next run commits (or carries out the committed step's
/// commands again): same history, each attempt's body run once, the event delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_beyond_the_sdk_retries_is_retried_by_redelivery() {
    let operations = ["DynamoDB.PutItem", "Lambda.Invoke", "EventBridge.PutEvents"];
    let calls = order_under_faults(&operations, &[Fault::Throttling; 3]).await;
    for operation in operations {
        let failed = injected(&calls, operation);
        assert_eq!(failed.len(), 3, "{operation}");
        // One SDK call gave up after its three attempts ...
        assert!(
            failed.iter().all(|c| c.invocation == failed[0].invocation),
            "{operation}: {failed:#?}"
        );
        // ... and a later call (a redelivery's) got through.
        assert!(
            calls.iter().any(|c| c.operation == operation
                && c.fault.is_none()
                && c.invocation != failed[0].invocation
                && c.at > failed[2].at),
            "{operation}"
        );
    }
}

/// Above SQS's message size (1 MiB in moto 5.2.1, as on AWS since 2025) and Lambda's
/// asynchronous invoke limit (the harness refuses invokes above 256 KiB, as Lambda did).
const BULK: usize = 1_100_000;

#[task(timeout = "30s", retry(max_attempts = 2, initial = "1s"))]
async fn shout(text: String) -> Result<String, StepError> {
    record_run();
    let context = TaskContext::current().expect("inside a task");
    if context.attempt == 1 {
        // The retry's invoke goes through the timer queue, with the whole input.
        return Err(StepError::new(StepErrorKind::Failed, "first attempts fail"));
    }
    Ok(text.to_uppercase())
}

#[workflow]
async fn bulky(ctx: WorkflowContext, text: String) -> Result<String, WorkflowError> {
    let shouted = shout(text).await?;
    let more: String = ctx.wait_for_signal("more").await?;
    Ok(format!("{shouted}{more}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_above_the_message_limits_travel_through_s3() {
    let harness = Harness::start(&[], Options::default()).await;
    let text = "a".repeat(BULK);
    let more = "b".repeat(BULK);
    async fn bulky_on(engine: &dyn Engine, text: &str, more: &str) -> (Outcome, Vec<HistoryEvent>) {
        let id = engine
            .start(StartExecution {
                workflow: "bulky".into(),
                execution_name: None,
                input: json!(text),
                correlation_id: None,
            })
            .await
            .unwrap();
        engine.signal(&id, "more", json!(more)).await.unwrap();
        let outcome = engine.wait(&id).await.unwrap();
        (outcome, engine.history(&id).await.unwrap())
    }
    let (outcome, history) = bulky_on(&harness.api(), &text, &more).await;
    let expected = format!("{}{more}", text.to_uppercase());
    assert_eq!(
        outcome,
        Outcome::Succeeded {
            result: json!(expected)
        }
    );
    let (_, reference) = bulky_on(&TestEnvironment::new(), &text, &more).await;
    // The signal arrives before or after the task's failed first attempt, as it happens: the
    // shapes agree apart from where it is recorded.
    let without_signal = |history: &[HistoryEvent]| {
        let mut shape = shape(history);
        let signals = shape.iter().filter(|s| *s == "SignalReceived").count();
        shape.retain(|s| s != "SignalReceived");
        (shape, signals)
    };
    assert_eq!(without_signal(&history), without_signal(&reference));

    // The start, the signal, the invoke, the delayed retry's timer message and the result
    // each went by reference.
    let stored = harness
        .aws
        .s3
        .list_objects_v2()
        .bucket(&harness.aws.resources.history_bucket)
        .prefix("payloads/")
        .send()
        .await
        .unwrap()
        .contents
        .unwrap_or_default();
    assert!(stored.len() >= 5, "{stored:?}");
    assert!(stored
        .iter()
        .all(|o| o.size.unwrap_or_default() > BULK as i64));
    // The 2.2 MB outcome is not in the executions item (DynamoDB takes 400 KB): the API reads
    // it from the history document.
    let id = history
        .iter()
        .find_map(|e| match &e.kind {
            eventual_runtime::workflow::history::HistoryEventKind::WorkflowStarted {
                execution_id,
                ..
            } => Some(execution_id.clone()),
            _ => None,
        })
        .unwrap();
    let item = harness
        .aws
        .dynamodb
        .get_item()
        .table_name(&harness.aws.resources.executions_table)
        .key(names::key::EXECUTION_ID, AttributeValue::S(id.clone()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert!(!item.contains_key("outcome"));
    assert_eq!(
        item.get("outcome_in_history"),
        Some(&AttributeValue::Bool(true))
    );
    let loaded = eventual_aws::store::load_item(&harness.aws, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(loaded.outcome, Some(outcome));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_the_worker_could_not_send_is_sent_by_the_next_invoke() {
    let harness = Harness::start(&[], Options::default()).await;
    // A queue nobody pumps stands in for the orchestrator queue, so what arrives can be read.
    let probe = harness::create_queue(&harness.aws, "probe.fifo", true).await;
    let to = |url: &str| eventual_aws::Aws {
        resources: eventual_aws::Resources {
            orchestrator_queue_url: url.to_owned(),
            ..harness.aws.resources.clone()
        },
        ..harness.aws.clone()
    };
    let invoke = eventual_aws::TaskInvoke {
        execution_id: "resend-1".into(),
        seq: 0,
        attempt: 1,
        name: "charge".into(),
        input: json!(5),
        not_before: None,
        timeout_ms: None,
        heartbeat_ms: None,
    };
    let runs = || {
        RUNS.lock()
            .unwrap()
            .iter()
            .filter(|run| run.0 == "resend-1")
            .count()
    };

    // The body runs, its result is stored on the claim, and the send fails (no such queue):
    // the handler fails, so Lambda invokes it again.
    let gone = format!("{probe}-gone");
    let error = eventual_aws::task::handle(&to(&gone), invoke.clone())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("SendMessage"), "{error}");
    assert_eq!(runs(), 1);
    // The next invoke finds the claim with its result and sends it; the body does not run.
    for _ in 0..2 {
        let outcome = eventual_aws::task::handle(&to(&probe), invoke.clone())
            .await
            .unwrap();
        assert_eq!(
            outcome,
            eventual_aws::task::TaskOutcome::Duplicate { resent: true }
        );
    }
    assert_eq!(runs(), 1);
    let received = harness
        .aws
        .sqs
        .receive_message()
        .queue_url(&probe)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    // Both re-sends carry the same body, so the FIFO queue keeps one.
    assert_eq!(received.len(), 1, "{received:?}");
    let message: eventual_aws::InboxMessage =
        serde_json::from_str(received[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(
        message,
        eventual_aws::InboxMessage::Event {
            execution_id: "resend-1".into(),
            event: eventual_runtime::workflow::InboxEvent::TaskCompleted {
                seq: 0,
                attempt: 1,
                result: Ok(json!("receipt-5")),
            },
        }
    );

    // A claim without a result (its body still runs, or its worker died) is left alone.
    let running = eventual_aws::TaskInvoke {
        attempt: 2,
        ..invoke
    };
    assert!(eventual_aws::task::claim(&harness.aws, &running)
        .await
        .unwrap());
    let outcome = eventual_aws::task::handle(&to(&probe), running)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        eventual_aws::task::TaskOutcome::Duplicate { resent: false }
    );
    assert_eq!(runs(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_every_step_boundary_loses_and_repeats_nothing() {
    type Point = fn(&eventual_aws::Faults) -> &std::sync::atomic::AtomicU32;
    let points: [(&str, Point); 5] = [
        ("after the history document", |f| &f.crash_after_history_put),
        ("after the commit", |f| &f.crash_after_commit),
        ("between two commands", |f| &f.crash_between_commands),
        ("before the carried-out mark", |f| {
            &f.crash_before_carried_out_mark
        }),
        ("after the task result was stored", |f| {
            &f.crash_after_result_stored
        }),
    ];
    for (name, point) in points {
        let harness = Harness::start(&["on_big_shipment"], Options::default()).await;
        point(&harness.aws.faults).store(2, Ordering::SeqCst);
        // The same outcome, history shape, one body run per attempt and event delivery as
        // an undisturbed run.
        order_on_aws(&harness).await;
        assert_eq!(
            point(&harness.aws.faults).load(Ordering::SeqCst),
            0,
            "the run never reached the point {name}"
        );
    }
}

#[task(timeout = "2s", retry(max_attempts = 2, initial = "1s"))]
async fn fragile(n: u64) -> Result<u64, StepError> {
    record_run();
    Ok(n + 1)
}

#[workflow]
async fn fragile_flow(_ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    Ok(fragile(n).await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_dies_after_its_claim_leaves_the_attempt_to_its_timeout() {
    let harness = Harness::start(&[], Options::default()).await;
    harness
        .aws
        .faults
        .crash_after_claim
        .store(1, Ordering::SeqCst);
    let id = harness
        .api()
        .start(StartExecution {
            workflow: "fragile_flow".into(),
            execution_name: None,
            input: json!(1),
            correlation_id: None,
        })
        .await
        .unwrap();
    let outcome = harness.api().wait(&id).await.unwrap();
    assert_eq!(outcome, Outcome::Succeeded { result: json!(2) });
    // Lambda's retries of the first invoke found the claim and did nothing; the attempt timed
    // out after 2 s and the second attempt ran the body, once.
    let runs: Vec<_> = RUNS
        .lock()
        .unwrap()
        .iter()
        .filter(|run| run.0 == id)
        .cloned()
        .collect();
    assert_eq!(runs, [(id.clone(), 0, 2)]);
    let history = harness.api().history(&id).await.unwrap();
    let failed = history
        .iter()
        .find(|e| e.kind.type_name() == "TaskAttemptFailed")
        .map(|e| format!("{:?}", e.kind))
        .unwrap_or_default();
    assert!(failed.contains("TimedOut"), "{history:?}");
}

/// Which task `drifting` calls: flipped by the test to make its code disagree with its
/// history, as a deploy of changed code would.
static DRIFTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[task(timeout = "30s")]
async fn drift_a(n: u64) -> Result<u64, StepError> {
    Ok(n + 1)
}

#[task(timeout = "30s")]
async fn drift_b(n: u64) -> Result<u64, StepError> {
    Ok(n + 2)
}

#[workflow]
async fn drifting(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let first = if DRIFTED.load(Ordering::SeqCst) {
        drift_b(n).await?
    } else {
        drift_a(n).await?
    };
    let more: u64 = ctx.wait_for_signal("more").await?;
    Ok(first + more)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_that_disagrees_with_history_blocks_the_execution_until_it_is_fixed() {
    let harness = Harness::start(&[], Options::default()).await;
    let api = harness.api();
    let id = harness
        .api()
        .start(StartExecution {
            workflow: "drifting".into(),
            execution_name: None,
            input: json!(1),
            correlation_id: None,
        })
        .await
        .unwrap();
    let row = |api: &eventual_aws::api::AwsApi, id: &str| {
        let api = api.clone();
        let id = id.to_owned();
        async move {
            eventual_runtime::engine::api::ServiceApi::execution(&api, &id)
                .await
                .unwrap()
        }
    };
    // Wait for the task's result to be recorded, then "deploy" code that calls another task.
    let deadline = std::time::Instant::now() + harness::WAIT;
    while harness.api().history(&id).await.unwrap().len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the task did not complete"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = harness.api().history(&id).await.unwrap();
    DRIFTED.store(true, Ordering::SeqCst);
    harness.api().signal(&id, "more", json!(10)).await.unwrap();
    let deadline = std::time::Instant::now() + harness::WAIT;
    let blocked = loop {
        let row = row(&api, &id).await;
        if row.status == eventual_runtime::engine::ExecutionStatus::Blocked {
            break row;
        }
        assert!(std::time::Instant::now() < deadline, "not blocked: {row:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let error = blocked.error.unwrap_or_default();
    assert!(
        error.contains("non-determinism")
            && error.contains("sequence 0")
            && error.contains("drift_b"),
        "{error}"
    );
    assert_eq!(
        harness.api().history(&id).await.unwrap(),
        before,
        "history untouched"
    );

    // The fix is deployed: the signal, never acknowledged, comes back and the execution ends.
    DRIFTED.store(false, Ordering::SeqCst);
    let outcome = harness.api().wait(&id).await.unwrap();
    assert_eq!(outcome, Outcome::Succeeded { result: json!(12) });
    let row = row(&api, &id).await;
    assert_eq!(row.error, None);
}

#[workflow]
async fn long_nap(ctx: WorkflowContext, minutes: u64) -> Result<u64, WorkflowError> {
    ctx.sleep(Duration::from_secs(minutes * 60)).await;
    Ok(minutes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_longer_than_sqs_delays_are_eventbridge_schedules() {
    let harness = Harness::start(&[], Options::default()).await;
    let id = harness
        .api()
        .start(StartExecution {
            workflow: "long_nap".into(),
            execution_name: None,
            input: json!(60),
            correlation_id: None,
        })
        .await
        .unwrap();
    let history = harness.api().history(&id).await.unwrap();
    let fire_at = history
        .iter()
        .find_map(|e| match &e.kind {
            eventual_runtime::workflow::history::HistoryEventKind::TimerScheduled {
                until, ..
            } => Some(*until),
            _ => None,
        })
        .expect("a scheduled timer");
    let one = |harness: &Harness| {
        let aws = harness.aws.clone();
        async move {
            let deadline = std::time::Instant::now() + harness::WAIT;
            loop {
                let schedules = harness::schedules(&aws).await;
                if schedules.len() == 1 {
                    return schedules.into_iter().next().unwrap();
                }
                assert!(std::time::Instant::now() < deadline, "{schedules:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    // An hour's wait is one schedule: due when the timer is (to the second, never early),
    // targeting the timer queue with the timer message.
    let (name, at, target, input) = one(&harness).await;
    assert!(
        name.starts_with(&names::schedule(harness::SERVICE, "")),
        "{name}"
    );
    let due = std::time::SystemTime::from(fire_at);
    assert!(
        at >= due && at < due + Duration::from_secs(1),
        "{at:?} for {due:?}"
    );
    assert_eq!(target, harness.aws.resources.timer_queue_arn);
    let message: eventual_aws::TimerMessage = serde_json::from_str(&input).unwrap();
    assert_eq!(message.due_at, fire_at);
    assert_eq!(
        message.action,
        eventual_aws::TimerAction::Inbox {
            execution_id: id.clone(),
            event: eventual_runtime::workflow::InboxEvent::TimerFired { seq: 0 },
        }
    );
    let schedule = harness
        .aws
        .scheduler
        .get_schedule()
        .name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        schedule.schedule_expression_timezone.as_deref(),
        Some("UTC")
    );
    assert_eq!(
        schedule.action_after_completion,
        Some(aws_sdk_scheduler::types::ActionAfterCompletion::Delete)
    );
    assert_eq!(
        schedule.target.unwrap().role_arn,
        harness.aws.resources.scheduler_role_arn
    );

    // A schedule that fires early (Scheduler is minute-accurate) does not fire the timer: the
    // forwarder schedules the rest of the wait again, under the same name.
    harness::fire_schedule(&harness.aws, &name, &target, &input).await;
    let (again, ..) = one(&harness).await;
    assert_eq!(again, name);
    let history = harness.api().history(&id).await.unwrap();
    let types: Vec<&str> = history.iter().map(|e| e.kind.type_name()).collect();
    assert_eq!(types, ["WorkflowStarted", "TimerScheduled"]);
}
