//! Retention and the execution list on the AWS engine (moto, with Lambda played by the
//! harness): an ended execution's item, attribute-index items and history documents carry
//! their expiry; the list filters by attribute, status and workflow with `Query` only, and
//! pages as the local engine does.

mod harness;

use aws_sdk_dynamodb::types::AttributeValue;
use eventual_runtime::engine::api::{ExecutionPage, ListFilter, ServiceApi};
use eventual_runtime::engine::client::StartExecution;
use eventual_runtime::engine::{ExecutionStatus, ServiceError};
use eventual_runtime::manifest::names::{self, key};
use eventual_runtime::prelude::*;
use eventual_runtime::workflow::Outcome;
use harness::{Harness, Options, SdkFaults, WAIT};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Sets its attributes, waits for `finish`, then moves `stage` on and ends.
#[workflow(retention = "2h")]
async fn ls_customer(ctx: WorkflowContext, tags: Value) -> Result<String, WorkflowError> {
    for (name, value) in tags.as_object().into_iter().flatten() {
        ctx.set_attribute(name, value);
    }
    ctx.set_attribute("stage", "waiting");
    let () = ctx.wait_for_signal("finish").await?;
    ctx.set_attribute("stage", "done");
    Ok("done".to_owned())
}

/// Another workflow with the same attributes.
#[workflow]
async fn ls_other(ctx: WorkflowContext, customer: String) -> Result<String, WorkflowError> {
    ctx.set_attribute("customer", &customer);
    let () = ctx.wait_for_signal("finish").await?;
    Ok(customer)
}

/// Waits for a large `chunk`, then `finish`, and ends with the chunk four times over: its
/// history is snapshotted while it runs and again at its end (an outcome too large for the
/// executions item), and both large batches go to S3.
#[workflow(retention = "2h")]
async fn ls_big(ctx: WorkflowContext, _input: Value) -> Result<String, WorkflowError> {
    let chunk: String = ctx.wait_for_signal("chunk").await?;
    let () = ctx.wait_for_signal("finish").await?;
    Ok(chunk.repeat(4))
}

/// Continues as new once, then ends.
#[workflow(retention = "3d")]
async fn ls_loop(ctx: WorkflowContext, run: u32) -> Result<u32, WorkflowError> {
    if run == 0 {
        return ctx.continue_as_new(run + 1).await;
    }
    Ok(run)
}

async fn start(api: &dyn ServiceApi, workflow: &str, name: &str, input: Value) {
    api.start(StartExecution {
        workflow: workflow.to_owned(),
        execution_name: Some(name.to_owned()),
        input,
        correlation_id: None,
    })
    .await
    .unwrap();
}

/// Waits until the execution's committed history holds `count` events of `kind`.
async fn recorded(api: &dyn ServiceApi, id: &str, kind: &str, count: usize) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let history = api.history(id).await.unwrap_or_default();
        if history
            .iter()
            .filter(|e| e.kind.type_name() == kind)
            .count()
            >= count
        {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{id}: no {kind}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The ids a list with `query` (a query string) finds, following every page of `limit`.
async fn find(api: &dyn ServiceApi, query: &str, limit: u32) -> Vec<String> {
    let mut filter = ListFilter {
        limit: Some(limit),
        ..ListFilter::default()
    };
    for (name, value) in query.split('&').filter_map(|pair| pair.split_once('=')) {
        match name {
            "workflow" => filter.workflow = Some(value.to_owned()),
            "status" => filter.status = ExecutionStatus::parse(value),
            _ => {
                let name = name.strip_prefix("attr.").unwrap();
                filter.attributes.insert(name.to_owned(), value.to_owned());
            }
        }
    }
    let mut ids = Vec::new();
    loop {
        let page: ExecutionPage = api.list(&filter).await.unwrap();
        assert!(page.executions.len() <= limit as usize);
        ids.extend(page.executions.into_iter().map(|row| row.id));
        match page.next_token {
            Some(token) => filter.next_token = Some(token),
            None => return ids,
        }
    }
}

/// The raw executions item.
async fn raw_item(
    harness: &Harness,
    id: &str,
) -> std::collections::HashMap<String, AttributeValue> {
    harness
        .aws
        .dynamodb
        .get_item()
        .table_name(&harness.aws.resources.executions_table)
        .key(key::EXECUTION_ID, AttributeValue::S(id.to_owned()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap()
}

/// The raw attribute-index items of pair `name`=`value`.
async fn index_items(
    harness: &Harness,
    name: &str,
    value: &str,
) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    harness
        .aws
        .dynamodb
        .query()
        .table_name(&harness.aws.resources.attributes_table)
        .key_condition_expression("#a = :a")
        .expression_attribute_names("#a", key::ATTRIBUTE)
        .expression_attribute_values(
            ":a",
            AttributeValue::S(names::attribute_partition(name, value)),
        )
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default()
}

/// The `eventual-retention` tag of a history object, if any.
async fn retention_tag(harness: &Harness, key: &str) -> Option<String> {
    let tags = harness
        .aws
        .s3
        .get_object_tagging()
        .bucket(&harness.aws.resources.history_bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    tags.tag_set()
        .iter()
        .find(|tag| tag.key() == names::RETENTION_TAG)
        .map(|tag| tag.value().to_owned())
}

/// The raw history-table items (one per committed step) of execution `id`.
async fn history_items(
    harness: &Harness,
    id: &str,
) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    harness
        .aws
        .dynamodb
        .query()
        .table_name(&harness.aws.resources.history_table)
        .key_condition_expression("#id = :id")
        .expression_attribute_names("#id", key::EXECUTION_ID)
        .expression_attribute_values(":id", AttributeValue::S(id.to_owned()))
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default()
}

/// Waits until `check` holds: what the ending commit does after the item shows the end (tags,
/// the earlier batches' expiry) follows it closely.
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, check: impl Fn() -> F) {
    let deadline = std::time::Instant::now() + WAIT;
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn number(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> Option<u64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

/// Filters by attribute, status and workflow, alone and together, with every page; the index
/// follows status and attribute changes; and no list scans a table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_filter_by_attribute_status_and_workflow_with_queries_only() {
    let faults = Arc::new(SdkFaults::default());
    let harness = Harness::start_with_faults(&[], Options::default(), Some(faults.clone())).await;
    let api = harness.api();
    start(
        &api,
        "ls_customer",
        "a1",
        json!({"customer": "ada", "tier": "gold"}),
    )
    .await;
    start(
        &api,
        "ls_customer",
        "a2",
        json!({"customer": "ada", "tier": "silver"}),
    )
    .await;
    start(
        &api,
        "ls_customer",
        "b1",
        json!({"customer": "bob", "tier": "gold"}),
    )
    .await;
    start(&api, "ls_other", "o1", json!("ada")).await;
    for id in ["a1", "a2", "b1", "o1"] {
        recorded(&api, id, "AttributeSet", 1).await;
    }
    api.signal("a2", "finish", json!(null), None).await.unwrap();
    api.wait("a2").await.unwrap();

    let by = |query: &'static str| {
        let api = api.clone();
        async move {
            let all_at_once: BTreeSet<String> = find(&api, query, 100).await.into_iter().collect();
            // One at a time, in start order: the same executions, each once.
            let paged = find(&api, query, 1).await;
            assert_eq!(paged.len(), all_at_once.len(), "{query}: {paged:?}");
            assert_eq!(paged.iter().cloned().collect::<BTreeSet<_>>(), all_at_once);
            all_at_once
        }
    };
    assert_eq!(by("attr.customer=ada").await, set(&["a1", "a2", "o1"]));
    assert_eq!(
        by("attr.customer=ada&status=running").await,
        set(&["a1", "o1"])
    );
    assert_eq!(by("attr.customer=ada&status=succeeded").await, set(&["a2"]));
    assert_eq!(
        by("attr.customer=ada&workflow=ls_customer&status=running").await,
        set(&["a1"])
    );
    assert_eq!(by("attr.customer=ada&attr.tier=gold").await, set(&["a1"]));
    assert_eq!(by("attr.tier=gold").await, set(&["a1", "b1"]));
    assert_eq!(by("attr.customer=carol").await, set(&[]));
    // A changed value moves the execution in the index.
    assert_eq!(by("attr.stage=done").await, set(&["a2"]));
    assert_eq!(by("attr.stage=waiting").await, set(&["a1", "b1"]));
    assert_eq!(by("status=running").await, set(&["a1", "b1", "o1"]));
    assert_eq!(by("status=succeeded").await, set(&["a2"]));
    assert_eq!(by("workflow=ls_other").await, set(&["o1"]));
    assert_eq!(
        by("workflow=ls_customer&status=running").await,
        set(&["a1", "b1"])
    );
    assert_eq!(by("").await, set(&["a1", "a2", "b1", "o1"]));
    // Pages come in start order, as on the local engine.
    let rows = api.list(&ListFilter::default()).await.unwrap().executions;
    let order: Vec<_> = rows.iter().map(|r| (r.created_at, r.id.clone())).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);

    let operations: BTreeSet<String> = faults.calls().into_iter().map(|c| c.operation).collect();
    assert!(operations.contains("DynamoDB.Query"), "{operations:?}");
    assert!(
        !operations.contains("DynamoDB.Scan"),
        "a list scanned a table: {operations:?}"
    );
}

/// An ended execution's item and index items expire at its end plus its workflow's retention
/// (epoch seconds, DynamoDB's TTL attribute); its last history document carries the
/// retention's tag and the documents it replaced are tagged superseded; a running execution
/// carries no expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_execution_expires_after_its_workflow_s_retention() {
    let harness = Harness::start(&[], Options::default()).await;
    let api = harness.api();
    start(&api, "ls_customer", "r1", json!({"customer": "ada"})).await;
    recorded(&api, "r1", "AttributeSet", 2).await;
    let running = raw_item(&harness, "r1").await;
    assert_eq!(number(&running, key::EXPIRES_AT), None);
    let batches = history_items(&harness, "r1").await;
    assert!(!batches.is_empty());
    for batch in &batches {
        assert_eq!(
            number(batch, key::EXPIRES_AT),
            None,
            "a running execution's batch"
        );
    }

    api.signal("r1", "finish", json!(null), None).await.unwrap();
    api.wait("r1").await.unwrap();
    let ended = raw_item(&harness, "r1").await;
    let ended_ms = number(&ended, "updated_at").unwrap();
    let expires = number(&ended, key::EXPIRES_AT).expect("an ended execution expires");
    assert_eq!(expires, (ended_ms + 2 * 3600 * 1000).div_ceil(1000));
    for (name, value) in [("customer", "ada"), ("stage", "done")] {
        let items = index_items(&harness, name, value).await;
        assert_eq!(items.len(), 1, "{name}");
        assert_eq!(number(&items[0], key::EXPIRES_AT), Some(expires), "{name}");
        assert_eq!(items[0]["status"].as_s().unwrap(), "succeeded");
    }
    // The replaced value's item is gone.
    assert!(index_items(&harness, "stage", "waiting").await.is_empty());
    // Its history is a snapshot written at its end, so S3 counts its days from there.
    assert_eq!(
        number(&ended, "snapshot_version"),
        number(&ended, "version")
    );
    let snapshot = ended["snapshot_key"].as_s().expect("a snapshot at the end");
    assert_eq!(
        retention_tag(&harness, snapshot).await.as_deref(),
        Some("1d"),
        "two hours, in the whole days of S3's lifecycle rules"
    );
    // Every history batch, the earlier ones too, expires with the execution.
    let version = number(&ended, "version").unwrap();
    eventually("every batch expires", || async {
        let batches = history_items(&harness, "r1").await;
        batches.len() as u64 == version
            && batches
                .iter()
                .all(|batch| number(batch, key::EXPIRES_AT) == Some(expires))
    })
    .await;

    // Past its expiry, the execution is gone for the engine before the TTL removes it.
    harness
        .aws
        .dynamodb
        .update_item()
        .table_name(&harness.aws.resources.executions_table)
        .key(key::EXECUTION_ID, AttributeValue::S("r1".into()))
        .update_expression("SET #e = :past")
        .expression_attribute_names("#e", key::EXPIRES_AT)
        .expression_attribute_values(":past", AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();
    assert!(matches!(
        api.execution("r1").await,
        Err(ServiceError::NotFound(_))
    ));
    assert!(find(&api, "workflow=ls_customer", 10).await.is_empty());
    // Its name is free again.
    start(&api, "ls_customer", "r1", json!({})).await;
    recorded(&api, "r1", "AttributeSet", 1).await;
    assert_eq!(
        api.execution("r1").await.unwrap().status,
        ExecutionStatus::Running
    );
    // Its history is its own: the expired execution's batches (still there until the TTL
    // removes them) are not read into it.
    let history = api.history("r1").await.unwrap();
    let starts = history
        .iter()
        .filter(|e| e.kind.type_name() == "WorkflowStarted")
        .count();
    assert_eq!(starts, 1, "{history:?}");
    assert_eq!(
        history
            .iter()
            .filter(|e| e.kind.type_name() == "AttributeSet")
            .count(),
        1,
        "{history:?}"
    );
    api.signal("r1", "finish", json!(null), None).await.unwrap();
    api.wait("r1").await.unwrap();
}

/// An ended execution's history is a snapshot written at its end with its retention's tag
/// (S3 counts a rule's days from an object's creation) and its last batch, tagged when
/// written; what the snapshot replaced (the earlier snapshot, the earlier large batches) is
/// tagged superseded; while it runs, nothing is tagged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_execution_s_history_objects_are_tagged() {
    let harness = Harness::start(&[], Options::default()).await;
    let api = harness.api();
    start(&api, "ls_big", "big", json!(null)).await;
    let chunk = "x".repeat(10 * 1024);
    api.signal("big", "chunk", json!(chunk), None)
        .await
        .unwrap();
    recorded(&api, "big", "SignalReceived", 1).await;
    // The item follows the committed batch (which the history already shows).
    let deadline = std::time::Instant::now() + WAIT;
    let first = loop {
        if let Some(AttributeValue::S(key)) = raw_item(&harness, "big").await.get("snapshot_key") {
            break key.clone();
        }
        assert!(std::time::Instant::now() < deadline, "no snapshot");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(retention_tag(&harness, &first).await, None);
    let objects = |batches: Vec<std::collections::HashMap<String, AttributeValue>>| {
        batches
            .iter()
            .filter_map(|batch| Some(batch.get("batch_key")?.as_s().ok()?.clone()))
            .collect::<Vec<_>>()
    };
    let large = objects(history_items(&harness, "big").await);
    assert_eq!(large.len(), 1, "the chunk's batch is in S3");
    assert_eq!(retention_tag(&harness, &large[0]).await, None);

    api.signal("big", "finish", json!(null), None)
        .await
        .unwrap();
    api.wait("big").await.unwrap();
    let ended = raw_item(&harness, "big").await;
    let last = ended["snapshot_key"].as_s().unwrap();
    assert_ne!(last, &first);
    assert_eq!(
        retention_tag(&harness, last).await.as_deref(),
        Some("1d"),
        "two hours, in the whole days of S3's lifecycle rules"
    );
    eventually("the first snapshot is superseded", || async {
        retention_tag(&harness, &first).await.as_deref() == Some(names::SUPERSEDED_TAG)
    })
    .await;
    // The chunk's batch is in the last snapshot: superseded; the last batch (the outcome's)
    // is read with the snapshot, and expires with it.
    let large = objects(history_items(&harness, "big").await);
    assert_eq!(large.len(), 2, "the outcome's batch is in S3 too");
    eventually("the chunk's batch is superseded", || async {
        retention_tag(&harness, &large[0]).await.as_deref() == Some(names::SUPERSEDED_TAG)
    })
    .await;
    assert_eq!(
        retention_tag(&harness, &large[1]).await.as_deref(),
        Some("1d")
    );
    let history = api.history("big").await.unwrap();
    assert_eq!(
        history.last().and_then(|event| event.kind.outcome()),
        Some(Outcome::Succeeded {
            result: json!(chunk.repeat(4))
        })
    );
}

/// A run that continued as new has ended: its history document carries the retention's tag
/// from then; workflows without a retention of their own keep the service's default, or
/// nothing expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continued_runs_and_the_default_retention_expire_too() {
    let harness = Harness::start(&[], Options::default()).await;
    let api = harness.api();
    start(&api, "ls_loop", "l1", json!(0)).await;
    api.wait("l1").await.unwrap();
    let run_key = eventual_aws::store::run_history_key("l1", "run-1");
    assert_eq!(
        retention_tag(&harness, &run_key).await.as_deref(),
        Some("3d")
    );
    let ended_loop = raw_item(&harness, "l1").await;
    let ended_ms = number(&ended_loop, "updated_at").unwrap();
    assert_eq!(
        number(&ended_loop, key::EXPIRES_AT),
        Some((ended_ms + 3 * 24 * 3600 * 1000).div_ceil(1000))
    );

    // `ls_other` has no retention of its own: forever by default, else the service's days.
    start(&api, "ls_other", "o1", json!("ada")).await;
    api.signal("o1", "finish", json!(null), None).await.unwrap();
    api.wait("o1").await.unwrap();
    let ended = raw_item(&harness, "o1").await;
    assert_eq!(number(&ended, key::EXPIRES_AT), None);
    for batch in history_items(&harness, "o1").await {
        assert_eq!(number(&batch, key::EXPIRES_AT), None, "{batch:?}");
    }
    let with_default = eventual_aws::Resources {
        retention_days: 30,
        ..harness.aws.resources.clone()
    };
    let at = eventual_runtime::time::Timestamp::from_millis(1_000_500);
    assert_eq!(
        eventual_aws::retention::expires_at(&with_default, "ls_other", at),
        Some(1_001 + 30 * 24 * 3600)
    );
    assert_eq!(
        eventual_aws::retention::history_tagging(&with_default, "ls_other").as_deref(),
        Some("eventual-retention=default")
    );
    // A workflow's own retention wins over the default.
    assert_eq!(
        eventual_aws::retention::history_tagging(&with_default, "ls_loop").as_deref(),
        Some("eventual-retention=3d")
    );
    // The engine reads the expiry the raw item holds.
    let item = eventual_aws::store::load_item(&harness.aws, "l1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(item.expires_at, number(&ended_loop, key::EXPIRES_AT));
}
