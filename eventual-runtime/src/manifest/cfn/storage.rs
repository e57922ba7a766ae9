//! Shared storage: the history bucket and the executions, history, attributes and task-lock
//! tables, with what expires them (retention) and what lists executions without a scan.

use super::resource::table;
use super::Resources;
use crate::manifest::inventory::Inventory;
use crate::manifest::names::{self, condition, id, index, key, parameter};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Adds the bucket and the tables.
pub(super) fn add(service: &str, inventory: &Inventory, resources: &mut Resources) {
    resources.insert(
        id::HISTORY_BUCKET.into(),
        json!({
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "BucketEncryption": { "ServerSideEncryptionConfiguration": [
                    { "ServerSideEncryptionByDefault": { "SSEAlgorithm": "AES256" } }
                ] },
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": true,
                    "BlockPublicPolicy": true,
                    "IgnorePublicAcls": true,
                    "RestrictPublicBuckets": true,
                },
                "LifecycleConfiguration": { "Rules": lifecycle_rules(inventory) },
            },
        }),
    );
    resources.insert(id::EXECUTIONS_TABLE.into(), executions_table(service));
    resources.insert(
        id::HISTORY_TABLE.into(),
        table(
            &names::history_table(service),
            &[(key::EXECUTION_ID, "S", "HASH"), (key::SEQ, "N", "RANGE")],
            Some(key::EXPIRES_AT),
        ),
    );
    resources.insert(
        id::ATTRIBUTES_TABLE.into(),
        table(
            &names::attributes_table(service),
            &[(key::ATTRIBUTE, "S", "HASH"), (key::STARTED, "S", "RANGE")],
            Some(key::EXPIRES_AT),
        ),
    );
    resources.insert(
        id::TASK_LOCK_TABLE.into(),
        table(
            &names::task_lock_table(service),
            &[(key::ATTEMPT, "S", "HASH")],
            Some(key::EXPIRES_AT),
        ),
    );
}

/// The executions table: expired by DynamoDB's TTL once the engine writes an ended
/// execution's `expires_at`, and listed through two indexes sorted by start time (by
/// workflow; by status and workflow), never by a scan.
fn executions_table(service: &str) -> Value {
    let mut executions = table(
        &names::executions_table(service),
        &[(key::EXECUTION_ID, "S", "HASH")],
        Some(key::EXPIRES_AT),
    );
    let properties = &mut executions["Properties"];
    for (name, kind) in [
        (key::WORKFLOW, "S"),
        (key::STATUS_WORKFLOW, "S"),
        (key::STARTED, "S"),
    ] {
        if let Some(definitions) = properties["AttributeDefinitions"].as_array_mut() {
            definitions.push(json!({ "AttributeName": name, "AttributeType": kind }));
        }
    }
    properties["GlobalSecondaryIndexes"] = json!([
        list_index(index::BY_WORKFLOW, key::WORKFLOW),
        list_index(index::BY_STATUS, key::STATUS_WORKFLOW),
    ]);
    executions
}

/// An index of whole items, partitioned by `hash` and sorted by start time.
fn list_index(name: &str, hash: &str) -> Value {
    json!({
        "IndexName": name,
        "KeySchema": [
            { "AttributeName": hash, "KeyType": "HASH" },
            { "AttributeName": key::STARTED, "KeyType": "RANGE" },
        ],
        "Projection": { "ProjectionType": "ALL" },
    })
}

/// The bucket's lifecycle rules.
///
/// S3 expires an object a number of days after it was *written*, and a workflow's retention
/// counts from its execution's *end*: so nothing is expired by its key prefix or age alone.
/// The engine tags a history document with [`names::RETENTION_TAG`] when the document's run
/// has ended (it writes the last document of an execution, and the document of a run that
/// continued as new, at that moment, so their age counts from the end); each distinct
/// retention has a rule expiring its tag. Tags rather than per-retention key prefixes keep one
/// key per document for its whole life (the executions item points at it while it runs), and
/// let a step document that a later commit replaced be marked [`names::SUPERSEDED_TAG`] in
/// place. Retentions are whole days here (rounded up); DynamoDB's TTL removes the executions
/// item itself on time, so the history outlives its item by less than a day.
fn lifecycle_rules(inventory: &Inventory) -> Vec<Value> {
    let mut rules = vec![
        // Payloads too large for a message are kept longer than any message lives.
        json!({
            "Id": "ExpireLargePayloads",
            "Status": "Enabled",
            "Prefix": names::PAYLOAD_PREFIX,
            "ExpirationInDays": names::PAYLOAD_KEPT_DAYS,
        }),
        expire_tagged(
            "ExpireSupersededHistory",
            names::SUPERSEDED_TAG,
            json!(names::SUPERSEDED_KEPT_DAYS),
        ),
    ];
    let days: BTreeSet<u64> = inventory
        .workflows
        .iter()
        .filter_map(|workflow| workflow.retention_ms.map(names::retention_days))
        .collect();
    rules.extend(days.into_iter().map(|days| {
        expire_tagged(
            &format!("ExpireHistoryAfter{days}Days"),
            &names::retention_tag(days),
            json!(days),
        )
    }));
    // Always present, so the rules do not change shape with the parameter: disabled (with a
    // placeholder of one day) when the default is to keep forever.
    let mut default = expire_tagged(
        "ExpireHistoryAfterDefaultRetention",
        names::DEFAULT_RETENTION_TAG,
        json!({ "Fn::If": [
            condition::HAS_DEFAULT_RETENTION,
            { "Ref": parameter::RETENTION_DAYS },
            1,
        ] }),
    );
    default["Status"] = json!({ "Fn::If": [
        condition::HAS_DEFAULT_RETENTION,
        "Enabled",
        "Disabled",
    ] });
    rules.push(default);
    rules
}

/// A rule expiring the history documents tagged `tag` after `days`.
fn expire_tagged(rule: &str, tag: &str, days: Value) -> Value {
    json!({
        "Id": rule,
        "Status": "Enabled",
        "Prefix": "history/",
        "TagFilters": [{ "Key": names::RETENTION_TAG, "Value": tag }],
        "ExpirationInDays": days,
    })
}

/// The retention parameter: days ended executions of workflows without a `retention` of
/// their own are kept.
pub(super) fn retention_parameter() -> Value {
    json!({
        "Type": "Number",
        "Default": 0,
        "MinValue": 0,
        "Description": "Days ended executions (and their histories) of workflows without a retention of their own are kept; 0: forever",
    })
}

/// The condition that a default retention is set.
pub(super) fn retention_condition() -> Value {
    json!({ "Fn::Not": [{ "Fn::Equals": [{ "Ref": parameter::RETENTION_DAYS }, "0"] }] })
}
