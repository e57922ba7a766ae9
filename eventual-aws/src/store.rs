//! Execution state: the executions item in DynamoDB and history documents in S3.
//!
//! Every committed step writes the whole history, with the step's commands, to a new S3 key,
//! then moves the executions item to it with a conditional write on the version. A run that
//! lost the race (a concurrent or duplicate delivery) fails the condition: its document is an
//! orphan nobody points to, so history never forks. Documents that nobody points to any more
//! are tagged [`names::SUPERSEDED_TAG`] and expire a day later; the documents of ended runs are
//! tagged with their retention (see [`crate::retention`]).
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
use eventual_runtime::workflow::history::ParentRef;
use eventual_runtime::workflow::{Command, History, HistoryEvent, Outcome};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

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
    /// The S3 key of the current history document.
    pub history_key: String,
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

/// A history document: the history after a step, and the commands of that step (kept so a
/// run that crashed before carrying them out is completed by the next run).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredStep {
    /// The whole history.
    pub history: History,
    /// The commands of the step that produced this version.
    pub commands: Vec<Command>,
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
        item.insert("history_key".into(), s(&self.history_key));
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
            history_key: text("history_key")?,
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

    /// Reads a scanned or fetched item, with a large outcome from its history document.
    pub async fn load(
        aws: &Aws,
        attributes: &HashMap<String, AttributeValue>,
    ) -> Result<Self, AwsError> {
        let (mut item, in_history) = ExecutionItem::from_attributes(attributes)?;
        if in_history {
            let step = load_step(aws, &item.history_key).await?;
            item.outcome = step
                .history
                .events
                .last()
                .and_then(|event| event.kind.outcome());
        }
        Ok(item)
    }
}

/// The execution's item, read consistently; `None` when it was never started or is past its
/// retention.
pub async fn load_item(aws: &Aws, execution_id: &str) -> Result<Option<ExecutionItem>, AwsError> {
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
        Some(attributes) => {
            let item = ExecutionItem::load(aws, &attributes).await?;
            Ok((!item.is_expired(Timestamp::wall_clock())).then_some(item))
        }
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

/// A fresh S3 key for version `version`: unique per writer, so a losing run never overwrites
/// the document of the winner.
pub fn history_key(execution_id: &str, version: u64) -> String {
    format!(
        "history/{execution_id}/{version:010}-{}.json",
        crate::message::unique_id()
    )
}

/// The key of the history document of run `run_id` of an execution, once that run has
/// continued as new (the execution's item points at its current run's document).
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

/// Writes a history document, tagged with `tagging` (`key=value`) when its run has ended.
pub async fn put_step(
    aws: &Aws,
    key: &str,
    step: &StoredStep,
    tagging: Option<&str>,
) -> Result<(), AwsError> {
    let body = serde_json::to_vec(step).map_err(AwsError::invalid("history document"))?;
    put_tagged_object(aws, key, body, tagging, "PutObject (history)").await
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

/// Reads a history document.
pub async fn load_step(aws: &Aws, key: &str) -> Result<StoredStep, AwsError> {
    let bytes = get_object(aws, key, "GetObject (history)").await?;
    #[derive(Deserialize)]
    struct Raw {
        history: serde_json::Value,
        commands: Vec<Command>,
    }
    let raw: Raw = serde_json::from_slice(&bytes).map_err(AwsError::invalid("history document"))?;
    let history = History::from_json(&raw.history.to_string())?;
    Ok(StoredStep {
        history,
        commands: raw.commands,
    })
}

/// The execution's history (empty when it was never started).
pub async fn history(aws: &Aws, execution_id: &str) -> Result<Vec<HistoryEvent>, AwsError> {
    match load_item(aws, execution_id).await? {
        Some(item) => Ok(load_step(aws, &item.history_key).await?.history.events),
        None => Ok(Vec::new()),
    }
}
