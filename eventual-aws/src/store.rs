//! Execution state: the executions item in DynamoDB, and each execution's history as one
//! history-table item per committed step plus compacted S3 snapshots.
//!
//! A step appends its new events and its commands as one *batch*, the history-table item
//! `(execution_id, seq = version)`, written only if absent: that write is the step's commit,
//! so of two runs that stepped from the same version one wins and the other is refused, and
//! history never forks. The executions item (status, outcome, where the snapshot is) follows
//! with a conditional write on the version it was read at; a run that stops between the two
//! leaves the item one version behind, and the next run reads the batch past it and brings
//! the item up to date (see `orchestrator`).
//!
//! So the bytes a step writes do not grow with the history. Reading a history is its latest
//! snapshot (an S3 document of every event up to `snapshot_version`) and the batches after it
//! (one `Query`). A snapshot is written when the batches after the last one outweigh it
//! [`SNAPSHOT_RATIO`] times (and at least [`SNAPSHOT_MIN_TAIL`] bytes): snapshot sizes grow
//! geometrically, so all snapshots together weigh a bounded multiple of the final history,
//! and a cold read reads from DynamoDB at most `SNAPSHOT_RATIO` times the snapshot.
//! A warm orchestrator reads neither: it keeps the history it committed ([`HistoryCache`]). A batch larger than
//! [`BATCH_INLINE_LIMIT`] goes to S3 and its item holds the key (one S3 PUT costs about as much
//! as four 1 KB write units).
//!
//! Documents that nobody points to any more (a snapshot a later one replaced, or one written
//! by a run whose item commit was refused) are tagged [`names::SUPERSEDED_TAG`] and expire a
//! day later; the S3 objects of an ended execution are tagged with its retention (see
//! [`crate::retention`]), and its history-table items get `expires_at` (see
//! [`expire_batches`]).
//!
//! The executions item carries the keys of the list indexes (by workflow; by status and
//! workflow; both sorted by start time) and the execution's searchable attributes; the
//! attributes table holds one item per attribute (hash key: the pair, range key: the start),
//! written in the same transaction as the commit that changed the attribute, the status or
//! the expiry, so the index never disagrees with the execution.

use crate::config::Aws;
use crate::error::AwsError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};
use aws_sdk_s3::primitives::ByteStream;
use eventual_runtime::engine::api::ExecutionRow;
use eventual_runtime::engine::ExecutionStatus;
use eventual_runtime::manifest::names::{self, key};
use eventual_runtime::time::Timestamp;
use eventual_runtime::workflow::history::{ParentRef, HISTORY_FORMAT_VERSION};
use eventual_runtime::workflow::{Command, History, HistoryEvent, Outcome, ReplayError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// The executions-table item of one execution.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecutionItem {
    /// The execution's id (hash key `execution_id`).
    pub execution_id: String,
    /// Its workflow.
    pub workflow: String,
    /// Where it stands.
    pub status: ExecutionStatus,
    /// Committed steps; the conditional writes compare it.
    pub version: u64,
    /// Events in the history.
    pub history_len: u64,
    /// The S3 snapshot of the history up to `snapshot_version` (`None`: the history is all
    /// in batches after `snapshot_version`).
    pub snapshot_key: Option<String>,
    /// The last version the snapshot holds (the batches after it complete the history).
    pub snapshot_version: u64,
    /// The snapshot's size in bytes.
    pub snapshot_bytes: u64,
    /// The bytes of the batches after the snapshot (when to write the next one).
    pub tail_bytes: u64,
    /// The last version whose commands were carried out (the outbox marker).
    pub carried_out: u64,
    /// How it ended.
    pub outcome: Option<Outcome>,
    /// Its correlation id.
    pub correlation_id: String,
    /// The parent, for a child.
    pub parent: Option<ParentRef>,
    /// When it started.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// Why it is blocked (its code does not replay its history).
    pub error: Option<String>,
    /// Its searchable attributes (`ctx.set_attribute`), by key, as indexed text: at most
    /// [`MAX_INDEXED_ATTRIBUTES`].
    pub attributes: BTreeMap<String, String>,
    /// When it expires (epoch seconds), once it ended: DynamoDB's TTL removes the item, and
    /// it is gone for the engine from then on.
    pub expires_at: Option<u64>,
}

/// The most searchable attributes indexed per execution: a commit that changes every one of
/// them (and the status) must fit in one DynamoDB transaction (100 writes) with the
/// executions item. Later keys are recorded in history but not indexed.
pub const MAX_INDEXED_ATTRIBUTES: usize = 49;

/// The largest outcome kept in the item itself; a larger one is read from the history
/// document, which ends with it (DynamoDB items hold at most 400 KB).
pub const INLINE_OUTCOME_LIMIT: usize = 32 * 1024;

/// Batches up to this many bytes of JSON are kept in their history-table item; larger ones
/// go to S3 (a PUT costs what four 1 KB write units do, and an item holds at most 400 KB).
pub const BATCH_INLINE_LIMIT: usize = 4 * 1024;

/// The history-table attribute holding an inline batch.
const BATCH_ATTRIBUTE: &str = "b";

/// A snapshot is written once the batches after the last one weigh this many times it.
///
/// With batches weighing `b` times the events they hold (`b` ≈ 1.8 for `steps(n)`: a step's
/// commands are stored with its events), successive snapshots grow `g = 1 + 12 / b` ≈ 7.5
/// times, so all snapshots together weigh at most `g / (g - 1)` ≈ 1.15 times the final
/// history, and everything written at most `b + 1.15` ≈ 3 times it.
pub const SNAPSHOT_RATIO: u64 = 12;

/// ... and at least this many bytes (short histories are read from their batches alone).
pub const SNAPSHOT_MIN_TAIL: u64 = 8 * 1024;

/// What one committed step appended: its new events and its commands (kept so a run that
/// stopped before carrying them out is completed by the next run).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
///
/// Field names are one letter: a batch is written at every step, and its framing counts
/// against the history's write budget.
pub struct StoredBatch {
    /// [`eventual_runtime::workflow::history::HISTORY_FORMAT_VERSION`] of the writer.
    #[serde(rename = "v")]
    pub format_version: u32,
    /// The step started a new run (continue-as-new): the history is this batch's events on,
    /// the earlier run's are in its own document ([`run_history_key`]).
    #[serde(rename = "r", default, skip_serializing_if = "std::ops::Not::not")]
    pub new_run: bool,
    /// The events the step appended.
    #[serde(rename = "e")]
    pub events: Vec<HistoryEvent>,
    /// The commands of the step.
    #[serde(rename = "c")]
    pub commands: Vec<Command>,
}

impl StoredBatch {
    /// A batch of the current format.
    pub fn new(new_run: bool, events: Vec<HistoryEvent>, commands: Vec<Command>) -> Self {
        StoredBatch {
            format_version: HISTORY_FORMAT_VERSION,
            new_run,
            events,
            commands,
        }
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key(execution_id: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([(key::EXECUTION_ID.to_owned(), s(execution_id))])
}

fn invalid(reason: String) -> AwsError {
    AwsError::Invalid {
        what: "executions item",
        reason,
    }
}

impl ExecutionItem {
    fn to_attributes(&self) -> HashMap<String, AttributeValue> {
        let mut item = key(&self.execution_id);
        item.insert("workflow".into(), s(&self.workflow));
        item.insert("status".into(), s(self.status.as_str()));
        item.insert("version".into(), n(self.version));
        item.insert("history_len".into(), n(self.history_len));
        if let Some(snapshot) = &self.snapshot_key {
            item.insert("snapshot_key".into(), s(snapshot));
        }
        item.insert("snapshot_version".into(), n(self.snapshot_version));
        item.insert("snapshot_bytes".into(), n(self.snapshot_bytes));
        item.insert("tail_bytes".into(), n(self.tail_bytes));
        item.insert("carried_out".into(), n(self.carried_out));
        if let Some(outcome) = &self.outcome {
            let text = serde_json::to_string(outcome).unwrap_or_default();
            if text.len() <= INLINE_OUTCOME_LIMIT {
                item.insert("outcome".into(), s(text));
            } else {
                item.insert("outcome_in_history".into(), AttributeValue::Bool(true));
            }
        }
        item.insert("correlation_id".into(), s(&self.correlation_id));
        if let Some(parent) = &self.parent {
            item.insert(
                "parent".into(),
                s(serde_json::to_string(parent).unwrap_or_default()),
            );
        }
        if let Some(error) = &self.error {
            item.insert("error".into(), s(error));
        }
        item.insert("created_at".into(), n(self.created_at.as_millis()));
        item.insert("updated_at".into(), n(self.updated_at.as_millis()));
        item.insert(key::STARTED.into(), s(self.started()));
        item.insert(
            key::STATUS_WORKFLOW.into(),
            s(names::status_workflow(self.status.as_str(), &self.workflow)),
        );
        if !self.attributes.is_empty() {
            let map = self
                .attributes
                .iter()
                .map(|(name, value)| (name.clone(), s(value)))
                .collect();
            item.insert("attributes".into(), AttributeValue::M(map));
        }
        if let Some(expires_at) = self.expires_at {
            item.insert(key::EXPIRES_AT.into(), n(expires_at));
        }
        item
    }

    /// Its sort key in the list indexes and the attribute index.
    pub fn started(&self) -> String {
        names::started(self.created_at.as_millis(), &self.execution_id)
    }

    /// Whether it is past its retention at `now` (DynamoDB's TTL removes items some time
    /// after they expire).
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at
            .is_some_and(|at| at.saturating_mul(1000) <= now.as_millis())
    }

    /// Whether it has every attribute of `wanted` with that value.
    pub fn has_attributes(&self, wanted: &BTreeMap<String, String>) -> bool {
        wanted
            .iter()
            .all(|(name, value)| self.attributes.get(name) == Some(value))
    }

    /// Its attributes after `set` (in order; the last value of a key wins); a new key beyond
    /// [`MAX_INDEXED_ATTRIBUTES`] is left out (and logged).
    pub fn attributes_after(
        execution_id: &str,
        mut attributes: BTreeMap<String, String>,
        set: impl IntoIterator<Item = (String, String)>,
    ) -> BTreeMap<String, String> {
        for (name, value) in set {
            if attributes.len() < MAX_INDEXED_ATTRIBUTES || attributes.contains_key(&name) {
                attributes.insert(name, value);
            } else {
                tracing::warn!(
                    execution = %execution_id,
                    attribute = %name,
                    "not indexed: the AWS engine indexes at most {MAX_INDEXED_ATTRIBUTES} attributes per execution"
                );
            }
        }
        attributes
    }

    /// The item as the API shows it.
    pub fn to_row(&self) -> ExecutionRow {
        ExecutionRow {
            id: self.execution_id.clone(),
            workflow: self.workflow.clone(),
            status: self.status,
            correlation_id: self.correlation_id.clone(),
            parent: self.parent.clone(),
            outcome: self.outcome.clone(),
            error: self.error.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// Reads an item; `true` beside it when its outcome is in the history document.
    fn from_attributes(item: &HashMap<String, AttributeValue>) -> Result<(Self, bool), AwsError> {
        let text = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .ok_or_else(|| invalid(format!("`{name}` is missing")))
        };
        let number = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| invalid(format!("`{name}` is missing")))
        };
        let status = text("status")?;
        let json = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
        let execution = ExecutionItem {
            execution_id: text(key::EXECUTION_ID)?,
            workflow: text("workflow")?,
            status: ExecutionStatus::parse(&status)
                .ok_or_else(|| invalid(format!("unknown status `{status}`")))?,
            version: number("version")?,
            history_len: number("history_len")?,
            snapshot_key: json("snapshot_key").cloned(),
            snapshot_version: number("snapshot_version")?,
            snapshot_bytes: number("snapshot_bytes").unwrap_or_default(),
            tail_bytes: number("tail_bytes").unwrap_or_default(),
            carried_out: number("carried_out")?,
            outcome: json("outcome")
                .map(|text| serde_json::from_str(text).map_err(AwsError::invalid("outcome")))
                .transpose()?,
            correlation_id: json("correlation_id").cloned().unwrap_or_default(),
            parent: json("parent")
                .map(|text| serde_json::from_str(text).map_err(AwsError::invalid("parent")))
                .transpose()?,
            created_at: Timestamp::from_millis(number("created_at").unwrap_or_default()),
            updated_at: Timestamp::from_millis(number("updated_at").unwrap_or_default()),
            error: json("error").cloned(),
            attributes: item
                .get("attributes")
                .and_then(|v| v.as_m().ok())
                .map(|map| {
                    map.iter()
                        .filter_map(|(name, value)| {
                            Some((name.clone(), value.as_s().ok()?.clone()))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            expires_at: number(key::EXPIRES_AT).ok(),
        };
        let in_history = matches!(
            item.get("outcome_in_history"),
            Some(AttributeValue::Bool(true))
        );
        Ok((execution, in_history))
    }

    /// Reads a scanned or fetched item, with a large outcome from its snapshot (the step
    /// that ends an execution with one writes a snapshot that ends with it).
    pub async fn load(
        aws: &Aws,
        attributes: &HashMap<String, AttributeValue>,
    ) -> Result<Self, AwsError> {
        let (mut item, in_history) = ExecutionItem::from_attributes(attributes)?;
        if in_history {
            let snapshot = item.snapshot_key.as_deref().ok_or_else(|| {
                invalid(format!(
                    "execution `{}`: its outcome is in its history, which has no snapshot",
                    item.execution_id
                ))
            })?;
            item.outcome = load_snapshot(aws, snapshot)
                .await?
                .last()
                .and_then(|event| event.kind.outcome());
        }
        Ok(item)
    }

    /// Whether the item can hold `outcome` itself (else it is read from the snapshot).
    pub fn holds_inline(outcome: &Outcome) -> bool {
        serde_json::to_string(outcome).is_ok_and(|text| text.len() <= INLINE_OUTCOME_LIMIT)
    }
}

/// The execution's item, read consistently; `None` when it was never started or is past its
/// retention.
pub async fn load_item(aws: &Aws, execution_id: &str) -> Result<Option<ExecutionItem>, AwsError> {
    let item = load_stored_item(aws, execution_id).await?;
    Ok(item.filter(|item| !item.is_expired(Timestamp::wall_clock())))
}

/// The execution's item as stored, read consistently, even past its retention (DynamoDB's
/// TTL removes it some time later): a new execution of that id continues its versions, since
/// the expired one's history batches may still be there.
pub async fn load_stored_item(
    aws: &Aws,
    execution_id: &str,
) -> Result<Option<ExecutionItem>, AwsError> {
    let output = aws
        .dynamodb
        .get_item()
        .table_name(&aws.resources.executions_table)
        .set_key(Some(key(execution_id)))
        .consistent_read(true)
        .send()
        .await
        .map_err(AwsError::sdk("GetItem (executions)"))?;
    match output.item {
        Some(attributes) => Ok(Some(ExecutionItem::load(aws, &attributes).await?)),
        None => Ok(None),
    }
}

/// Writes `item` over `previous` (the item as loaded; `None`: it must not exist yet, or be
/// past its retention), if the stored version is still `previous`'s; the attribute index
/// follows in the same transaction when the commit changes it.
pub async fn commit_item(
    aws: &Aws,
    item: &ExecutionItem,
    previous: Option<&ExecutionItem>,
) -> Result<(), AwsError> {
    let mut put = Put::builder()
        .table_name(&aws.resources.executions_table)
        .set_item(Some(item.to_attributes()));
    put = match previous {
        None => put
            .condition_expression("attribute_not_exists(execution_id) OR #expires <= :now")
            .expression_attribute_names("#expires", key::EXPIRES_AT)
            .expression_attribute_values(":now", n(Timestamp::wall_clock().as_millis() / 1000)),
        Some(previous) => put
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":expected", n(previous.version)),
    };
    let put = put.build().map_err(AwsError::sdk("Put (executions)"))?;
    let index = index_writes(aws, previous, item)?;
    let written = if index.is_empty() {
        let request = aws
            .dynamodb
            .put_item()
            .table_name(put.table_name())
            .set_item(Some(put.item().clone()))
            .set_condition_expression(put.condition_expression().map(str::to_owned))
            .set_expression_attribute_names(put.expression_attribute_names().cloned())
            .set_expression_attribute_values(put.expression_attribute_values().cloned());
        AwsError::unless_refused(
            request.send().await,
            PutItemError::is_conditional_check_failed_exception,
            "PutItem (executions)",
        )?
    } else {
        let mut writes = vec![TransactWriteItem::builder().put(put).build()];
        writes.extend(index);
        transact(aws, writes, "TransactWriteItems (executions, attributes)").await?
    };
    if !written {
        return Err(AwsError::Conflict(format!(
            "execution `{}` version {}",
            item.execution_id, item.version
        )));
    }
    Ok(())
}

/// Runs a transaction; `Ok(false)` when a condition refused it.
async fn transact(
    aws: &Aws,
    writes: Vec<TransactWriteItem>,
    operation: &'static str,
) -> Result<bool, AwsError> {
    let result = aws
        .dynamodb
        .transact_write_items()
        .set_transact_items(Some(writes))
        .send()
        .await;
    let refused = |error: &TransactWriteItemsError| match error {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => cancelled
            .cancellation_reasons()
            .iter()
            .any(|reason| reason.code() == Some("ConditionalCheckFailed")),
        _ => false,
    };
    AwsError::unless_refused(result, refused, operation)
}

/// The attribute-index writes that move it from `previous` to `item`: the items of attributes
/// whose value changed go (their hash key is the pair); every attribute's item is written
/// anew when the status or the expiry changed (they carry both, so a list by attribute and
/// status filters on the index), else only those of new values.
fn index_writes(
    aws: &Aws,
    previous: Option<&ExecutionItem>,
    item: &ExecutionItem,
) -> Result<Vec<TransactWriteItem>, AwsError> {
    let table = &aws.resources.attributes_table;
    let unchanged = BTreeMap::new();
    let before = previous.map_or(&unchanged, |previous| &previous.attributes);
    let rewrite_all = previous.is_none_or(|previous| {
        previous.status != item.status || previous.expires_at != item.expires_at
    });
    let mut writes = Vec::new();
    for (name, value) in before {
        if item.attributes.get(name) != Some(value) {
            let delete = Delete::builder()
                .table_name(table)
                .key(key::ATTRIBUTE, s(names::attribute_partition(name, value)))
                .key(key::STARTED, s(item.started()))
                .build()
                .map_err(AwsError::sdk("Delete (attributes)"))?;
            writes.push(TransactWriteItem::builder().delete(delete).build());
        }
    }
    for (name, value) in &item.attributes {
        if !rewrite_all && before.get(name) == Some(value) {
            continue;
        }
        let mut attributes = HashMap::from([
            (
                key::ATTRIBUTE.to_owned(),
                s(names::attribute_partition(name, value)),
            ),
            (key::STARTED.to_owned(), s(item.started())),
            (key::EXECUTION_ID.to_owned(), s(&item.execution_id)),
            ("workflow".to_owned(), s(&item.workflow)),
            ("status".to_owned(), s(item.status.as_str())),
            ("key".to_owned(), s(name)),
            ("value".to_owned(), s(value)),
        ]);
        if let Some(expires_at) = item.expires_at {
            attributes.insert(key::EXPIRES_AT.to_owned(), n(expires_at));
        }
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(attributes))
            .build()
            .map_err(AwsError::sdk("Put (attributes)"))?;
        writes.push(TransactWriteItem::builder().put(put).build());
    }
    Ok(writes)
}

/// Marks the execution blocked with `error`, if it is still at `item`'s version (history and
/// version stay: a later run of fixed code replays the same history); its attribute items
/// show the status too.
pub async fn mark_blocked(aws: &Aws, item: &ExecutionItem, error: &str) -> Result<(), AwsError> {
    let blocked = Update::builder()
        .table_name(&aws.resources.executions_table)
        .set_key(Some(key(&item.execution_id)))
        .update_expression(
            "SET #status = :blocked, #error = :error, updated_at = :now, #index = :index",
        )
        .condition_expression("#version = :version")
        .expression_attribute_names("#status", "status")
        .expression_attribute_names("#error", "error")
        .expression_attribute_names("#version", "version")
        .expression_attribute_names("#index", key::STATUS_WORKFLOW)
        .expression_attribute_values(":blocked", s(ExecutionStatus::Blocked.as_str()))
        .expression_attribute_values(":error", s(error))
        .expression_attribute_values(":now", n(Timestamp::wall_clock().as_millis()))
        .expression_attribute_values(":version", n(item.version))
        .expression_attribute_values(
            ":index",
            s(names::status_workflow(
                ExecutionStatus::Blocked.as_str(),
                &item.workflow,
            )),
        )
        .build()
        .map_err(AwsError::sdk("Update (blocked)"))?;
    let mut writes = vec![TransactWriteItem::builder().update(blocked).build()];
    for (name, value) in &item.attributes {
        let status = Update::builder()
            .table_name(&aws.resources.attributes_table)
            .key(key::ATTRIBUTE, s(names::attribute_partition(name, value)))
            .key(key::STARTED, s(item.started()))
            .update_expression("SET #status = :blocked")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":blocked", s(ExecutionStatus::Blocked.as_str()))
            .build()
            .map_err(AwsError::sdk("Update (attributes)"))?;
        writes.push(TransactWriteItem::builder().update(status).build());
    }
    // Refused: a later step committed, and the mark would be stale.
    transact(aws, writes, "TransactWriteItems (blocked)")
        .await
        .map(drop)
}

/// Records that the commands of `version` were carried out. A marker already past it stays.
pub async fn mark_carried_out(aws: &Aws, execution_id: &str, version: u64) -> Result<(), AwsError> {
    let result = aws
        .dynamodb
        .update_item()
        .table_name(&aws.resources.executions_table)
        .set_key(Some(key(execution_id)))
        .update_expression("SET carried_out = :version")
        .condition_expression("carried_out < :version")
        .expression_attribute_values(":version", n(version))
        .send()
        .await;
    AwsError::unless_refused(
        result,
        UpdateItemError::is_conditional_check_failed_exception,
        "UpdateItem (executions)",
    )
    .map(drop)
}

/// The key of the history document of run `run_id` of an execution, once that run has
/// continued as new (the execution's batches and snapshot hold its current run).
pub fn run_history_key(execution_id: &str, run_id: &str) -> String {
    format!("history/{execution_id}/runs/{run_id}.json")
}

/// Keeps the history of a run that continued as new under [`run_history_key`], tagged with
/// `tagging` (its retention counts from now, when the run ended).
pub async fn put_run_history(
    aws: &Aws,
    execution_id: &str,
    run_id: &str,
    history: &History,
    tagging: Option<&str>,
) -> Result<(), AwsError> {
    let body = serde_json::to_vec(history).map_err(AwsError::invalid("run history document"))?;
    let key = run_history_key(execution_id, run_id);
    put_tagged_object(aws, &key, body, tagging, "PutObject (run history)").await
}

/// The history of an earlier run `run_id` (one that continued as new).
pub async fn run_history(
    aws: &Aws,
    execution_id: &str,
    run_id: &str,
) -> Result<Vec<HistoryEvent>, AwsError> {
    let key = run_history_key(execution_id, run_id);
    let bytes = get_object(aws, &key, "GetObject (run history)").await?;
    // (An earlier run's document past its retention is a NoSuchKey.)
    let text = String::from_utf8_lossy(&bytes);
    Ok(History::from_json(&text)?.events)
}

/// Marks a step document nobody points to any more (a later commit replaced it, or it lost
/// its commit): the bucket's lifecycle expires it a day later. A failure only leaves the
/// document in place, so it is logged, not returned.
pub async fn mark_superseded(aws: &Aws, key: &str) {
    if let Err(error) = tag_object(aws, key, names::SUPERSEDED_TAG).await {
        tracing::warn!(%key, %error, "a superseded history document stays untagged");
    }
}

/// Sets the object's [`names::RETENTION_TAG`] to `value`.
async fn tag_object(aws: &Aws, key: &str, value: &str) -> Result<(), AwsError> {
    use aws_sdk_s3::types::{Tag, Tagging};
    let operation = "PutObjectTagging";
    let tag = Tag::builder()
        .key(names::RETENTION_TAG)
        .value(value)
        .build()
        .map_err(AwsError::sdk(operation))?;
    let tagging = Tagging::builder()
        .tag_set(tag)
        .build()
        .map_err(AwsError::sdk(operation))?;
    aws.s3
        .put_object_tagging()
        .bucket(&aws.resources.history_bucket)
        .key(key)
        .tagging(tagging)
        .send()
        .await
        .map_err(AwsError::sdk(operation))?;
    Ok(())
}

/// Writes a JSON object of the history bucket; `operation` names the call in errors.
pub async fn put_object(
    aws: &Aws,
    key: &str,
    body: Vec<u8>,
    operation: &'static str,
) -> Result<(), AwsError> {
    put_tagged_object(aws, key, body, None, operation).await
}

/// [`put_object`] with the object's tags (`key=value&...`).
async fn put_tagged_object(
    aws: &Aws,
    key: &str,
    body: Vec<u8>,
    tagging: Option<&str>,
    operation: &'static str,
) -> Result<(), AwsError> {
    aws.s3
        .put_object()
        .bucket(&aws.resources.history_bucket)
        .key(key)
        .content_type("application/json")
        .set_tagging(tagging.map(str::to_owned))
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(AwsError::sdk(operation))?;
    Ok(())
}

/// Reads an object of the history bucket; `operation` names the call in errors.
pub async fn get_object(
    aws: &Aws,
    key: &str,
    operation: &'static str,
) -> Result<Vec<u8>, AwsError> {
    let output = aws
        .s3
        .get_object()
        .bucket(&aws.resources.history_bucket)
        .key(key)
        .send()
        .await
        .map_err(AwsError::sdk(operation))?;
    let bytes = output
        .body
        .collect()
        .await
        .map_err(AwsError::sdk(operation))?
        .into_bytes();
    Ok(bytes.to_vec())
}

/// A fresh S3 key under `kind` for `version` of an execution: unique per writer, so a run that
/// lost its commit never overwrites what the winner's item points at.
fn versioned_key(execution_id: &str, kind: &str, version: u64) -> String {
    format!(
        "history/{execution_id}/{kind}/{version:010}-{}.json",
        crate::message::unique_id()
    )
}

/// The `execution_id` field of a task attempt.
const EXECUTION_ID: &str = "execution_id";

/// The task attempts among the commands of a batch (as JSON): a batch leaves out their
/// execution id when it is the batch's own (it is in the item's key), since each step writes
/// one and the bytes count.
fn task_attempts(
    batch: &mut serde_json::Value,
) -> impl Iterator<Item = &mut serde_json::Map<String, serde_json::Value>> {
    batch
        .get_mut("c")
        .and_then(|commands| commands.as_array_mut())
        .into_iter()
        .flatten()
        .filter_map(|command| command.as_object_mut())
        .filter(|command| command.get("type").and_then(|t| t.as_str()) == Some("ScheduleTask"))
}

/// Commits step `version` of an execution: its batch, written only if no batch of that
/// version exists ([`AwsError::Conflict`] if one does: another run committed the step).
/// Returns the batch's size in bytes.
pub async fn commit_batch(
    aws: &Aws,
    execution_id: &str,
    version: u64,
    batch: &StoredBatch,
    retention: &Expiry,
) -> Result<u64, AwsError> {
    let mut value = serde_json::to_value(batch).map_err(AwsError::invalid("history batch"))?;
    for attempt in task_attempts(&mut value) {
        if attempt.get(EXECUTION_ID).and_then(|id| id.as_str()) == Some(execution_id) {
            attempt.remove(EXECUTION_ID);
        }
    }
    let body = serde_json::to_vec(&value).map_err(AwsError::invalid("history batch"))?;
    let size = body.len() as u64;
    let mut item = key(execution_id);
    item.insert(names::key::SEQ.to_owned(), n(version));
    if body.len() <= BATCH_INLINE_LIMIT {
        item.insert(
            BATCH_ATTRIBUTE.into(),
            s(String::from_utf8(body).map_err(|e| invalid(e.to_string()))?),
        );
    } else {
        let key = versioned_key(execution_id, "batches", version);
        put_tagged_object(
            aws,
            &key,
            body,
            retention.tagging.as_deref(),
            "PutObject (history batch)",
        )
        .await?;
        item.insert("batch_key".into(), s(key));
    }
    if let Some(expires_at) = retention.expires_at {
        item.insert(key::EXPIRES_AT.to_owned(), n(expires_at));
    }
    let result = aws
        .dynamodb
        .put_item()
        .table_name(&aws.resources.history_table)
        .set_item(Some(item))
        // A batch past its expiry belongs to an earlier execution of this id whose item the
        // TTL already removed (before the batch).
        .condition_expression("attribute_not_exists(#seq) OR #expires <= :now")
        .expression_attribute_names("#seq", names::key::SEQ)
        .expression_attribute_names("#expires", key::EXPIRES_AT)
        .expression_attribute_values(":now", n(Timestamp::wall_clock().as_millis() / 1000))
        .send()
        .await;
    let written = AwsError::unless_refused(
        result,
        PutItemError::is_conditional_check_failed_exception,
        "PutItem (history)",
    )?;
    if !written {
        return Err(AwsError::Conflict(format!(
            "history batch {version} of execution `{execution_id}`"
        )));
    }
    Ok(size)
}

/// How the objects and items an ended execution writes expire (both `None` while it runs, or
/// when its workflow keeps executions forever).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Expiry {
    /// The TTL of its items, in epoch seconds.
    pub expires_at: Option<u64>,
    /// Its S3 objects' [`names::RETENTION_TAG`] as `key=value` (a PUT's tagging).
    pub tagging: Option<String>,
}

/// Gives the batches `1..=through` of an ended execution its items' expiry, so DynamoDB's
/// TTL removes them with the executions item; the S3 objects of large ones are tagged
/// superseded (the snapshot written at the execution's end holds their events, and nothing
/// reads them again).
///
/// A running execution's batches have no expiry (how long it runs is not known while it
/// runs), so the commit that ends it updates each earlier batch once: one small `UpdateItem`
/// per step, paid once at the end, where each step paid one `PutItem`. An update that fails
/// is logged and leaves that batch (a few hundred bytes) in place; it never makes the history
/// unreadable.
pub async fn expire_batches(aws: &Aws, execution_id: &str, through: u64, expires_at: u64) {
    for seq in 1..=through {
        let mut batch_key = key(execution_id);
        batch_key.insert(key::SEQ.to_owned(), n(seq));
        let result = aws
            .dynamodb
            .update_item()
            .table_name(&aws.resources.history_table)
            .set_key(Some(batch_key))
            .update_expression("SET #expires = :at")
            .condition_expression("attribute_exists(#seq)")
            .expression_attribute_names("#expires", key::EXPIRES_AT)
            .expression_attribute_names("#seq", key::SEQ)
            .expression_attribute_values(":at", n(expires_at))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => {
                let object = output
                    .attributes
                    .and_then(|item| item.get("batch_key")?.as_s().ok().cloned());
                if let Some(object) = object {
                    mark_superseded(aws, &object).await;
                }
            }
            Err(error) => {
                let error = AwsError::sdk("UpdateItem (history expiry)")(error);
                tracing::warn!(execution = %execution_id, seq, %error, "a history batch keeps no expiry");
            }
        }
    }
}

/// Writes a snapshot of `events` (the history up to `version`); returns its key and size.
pub async fn put_snapshot(
    aws: &Aws,
    execution_id: &str,
    version: u64,
    events: &[HistoryEvent],
    tagging: Option<&str>,
) -> Result<(String, u64), AwsError> {
    #[derive(Serialize)]
    struct Snapshot<'a> {
        format_version: u32,
        events: &'a [HistoryEvent],
    }
    let body = serde_json::to_vec(&Snapshot {
        format_version: HISTORY_FORMAT_VERSION,
        events,
    })
    .map_err(AwsError::invalid("history snapshot"))?;
    let size = body.len() as u64;
    let key = versioned_key(execution_id, "snapshots", version);
    put_tagged_object(aws, &key, body, tagging, "PutObject (history snapshot)").await?;
    Ok((key, size))
}

/// The events of the snapshot at `key`.
pub async fn load_snapshot(aws: &Aws, key: &str) -> Result<Vec<HistoryEvent>, AwsError> {
    let bytes = get_object(aws, key, "GetObject (history snapshot)").await?;
    Ok(History::from_json(&String::from_utf8_lossy(&bytes))?.events)
}

/// An execution's committed history as its batches and snapshot hold it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoredHistory {
    /// The last committed version (past the item's when a run stopped between its commit
    /// and the item's write).
    pub version: u64,
    /// The current run's events.
    pub events: Vec<HistoryEvent>,
    /// The commands of the last committed step.
    pub commands: Vec<Command>,
    /// Whether the last committed step started a new run.
    pub new_run: bool,
    /// The bytes of the batches after the snapshot.
    pub tail_bytes: u64,
}

/// A batch of the history table.
async fn read_batch(
    aws: &Aws,
    execution_id: &str,
    item: &HashMap<String, AttributeValue>,
) -> Result<(u64, StoredBatch, u64), AwsError> {
    let bad = |reason: String| AwsError::Invalid {
        what: "history batch",
        reason: format!("execution `{execution_id}`: {reason}"),
    };
    let seq = item
        .get(names::key::SEQ)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| bad("an item without a numeric `seq`".into()))?;
    let body = match (item.get(BATCH_ATTRIBUTE), item.get("batch_key")) {
        (Some(AttributeValue::S(text)), _) => text.clone().into_bytes(),
        (_, Some(AttributeValue::S(key))) => {
            get_object(aws, key, "GetObject (history batch)").await?
        }
        _ => {
            return Err(bad(format!(
                "batch {seq} has neither `{BATCH_ATTRIBUTE}` nor `batch_key`"
            )))
        }
    };
    let malformed = |error: serde_json::Error| bad(format!("batch {seq} is malformed: {error}"));
    let mut value: serde_json::Value = serde_json::from_slice(&body).map_err(malformed)?;
    for attempt in task_attempts(&mut value) {
        attempt
            .entry(EXECUTION_ID)
            .or_insert_with(|| execution_id.into());
    }
    let batch: StoredBatch = serde_json::from_value(value).map_err(malformed)?;
    if batch.format_version != HISTORY_FORMAT_VERSION {
        return Err(ReplayError::UnsupportedFormat {
            found: batch.format_version,
            supported: HISTORY_FORMAT_VERSION,
        }
        .into());
    }
    Ok((seq, batch, body.len() as u64))
}

/// Reads the committed history of an execution whose item is `item` (`None`: not started, or
/// its first commit stopped before the item was written): the snapshot the item points at
/// and every batch after it, checked to follow on without a gap. Without an item, the
/// history begins after version `base` (the last of an earlier execution of this id that is
/// past its retention; else 0).
pub async fn load_history(
    aws: &Aws,
    execution_id: &str,
    item: Option<&ExecutionItem>,
    base: u64,
) -> Result<StoredHistory, AwsError> {
    let after = item.map_or(base, |item| item.snapshot_version);
    let mut history = StoredHistory {
        version: after,
        ..StoredHistory::default()
    };
    let snapshot = item.and_then(|item| item.snapshot_key.as_deref());
    if let Some(snapshot) = snapshot {
        history.events = load_snapshot(aws, snapshot).await?;
    }
    // With a snapshot, its last batch too: the commands of its step, if they are still due.
    let from = if snapshot.is_some() { after } else { after + 1 };
    let mut pages = aws
        .dynamodb
        .query()
        .table_name(&aws.resources.history_table)
        .consistent_read(true)
        .key_condition_expression("#id = :id AND #seq >= :from")
        .expression_attribute_names("#id", names::key::EXECUTION_ID)
        .expression_attribute_names("#seq", names::key::SEQ)
        .expression_attribute_values(":id", s(execution_id))
        .expression_attribute_values(":from", n(from))
        .into_paginator()
        .items()
        .send();
    let now = Timestamp::wall_clock().as_millis() / 1000;
    while let Some(batch_item) = pages.next().await {
        let batch_item = batch_item.map_err(AwsError::sdk("Query (history)"))?;
        let expired = batch_item
            .get(key::EXPIRES_AT)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|at| at <= now);
        if expired {
            // An earlier execution's, which the TTL has not removed yet.
            continue;
        }
        let (seq, batch, size) = read_batch(aws, execution_id, &batch_item).await?;
        if snapshot.is_some() && seq == after {
            history.commands = batch.commands;
            history.new_run = batch.new_run;
            continue;
        }
        if seq != history.version + 1 {
            return Err(AwsError::Invalid {
                what: "history",
                reason: format!(
                    "execution `{execution_id}`: batch {} is missing (the next is {seq})",
                    history.version + 1
                ),
            });
        }
        if batch.new_run {
            history.events.clear();
        }
        history.version = seq;
        history.events.extend(batch.events);
        history.commands = batch.commands;
        history.new_run = batch.new_run;
        history.tail_bytes += size;
    }
    if let Some(item) = item {
        if history.version < item.version {
            return Err(AwsError::Invalid {
                what: "history",
                reason: format!(
                    "execution `{execution_id}` is at version {} but its history ends at {}",
                    item.version, history.version
                ),
            });
        }
    }
    Ok(history)
}

/// The execution's history (empty when it was never started).
pub async fn history(aws: &Aws, execution_id: &str) -> Result<Vec<HistoryEvent>, AwsError> {
    let item = load_item(aws, execution_id).await?;
    Ok(load_history(aws, execution_id, item.as_ref(), 0)
        .await?
        .events)
}

/// The histories an orchestrator committed, by execution: a warm Lambda steps an execution
/// again without reading its history back. An entry holds for its version only (a batch is
/// never rewritten, so the history at a version never changes); a run that finds the item at
/// another version, or loses a commit, reads from storage.
#[derive(Debug, Default)]
pub struct HistoryCache {
    entries: Mutex<HashMap<String, (u64, Vec<HistoryEvent>)>>,
}

impl HistoryCache {
    /// The most executions kept: past it, the cache starts over.
    pub const CAPACITY: usize = 1024;

    /// The history of `execution_id` at `version`, if kept.
    pub fn get(&self, execution_id: &str, version: u64) -> Option<Vec<HistoryEvent>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(execution_id)
            .filter(|(kept, _)| *kept == version)
            .map(|(_, events)| events.clone())
    }

    /// Keeps the history of `execution_id` at `version`.
    pub fn put(&self, execution_id: &str, version: u64, events: &[HistoryEvent]) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= Self::CAPACITY && !entries.contains_key(execution_id) {
            entries.clear();
        }
        entries.insert(execution_id.to_owned(), (version, events.to_vec()));
    }

    /// Forgets `execution_id`.
    pub fn forget(&self, execution_id: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(execution_id);
    }
}
