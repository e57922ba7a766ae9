//! Execution state: the executions item in DynamoDB and history documents in S3.
//!
//! Every committed step writes the whole history, with the step's commands, to a new S3 key,
//! then moves the executions item to it with a conditional write on the version. A run that
//! lost the race (a concurrent or duplicate delivery) fails the condition: its document is an
//! orphan nobody points to, so history never forks.

use crate::config::Aws;
use crate::error::AwsError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::primitives::ByteStream;
use eventual_runtime::engine::api::ExecutionRow;
use eventual_runtime::engine::ExecutionStatus;
use eventual_runtime::manifest::names;
use eventual_runtime::time::Timestamp;
use eventual_runtime::workflow::history::ParentRef;
use eventual_runtime::workflow::{Command, History, HistoryEvent, Outcome};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

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
}

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
    HashMap::from([(names::key::EXECUTION_ID.to_owned(), s(execution_id))])
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
        item
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
            execution_id: text(names::key::EXECUTION_ID)?,
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

/// The execution's item, read consistently; `None` when it was never started.
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
        Some(attributes) => Ok(Some(ExecutionItem::load(aws, &attributes).await?)),
        None => Ok(None),
    }
}

/// Writes `item` if the stored version is `expected` (`None`: the item must not exist yet).
pub async fn commit_item(
    aws: &Aws,
    item: &ExecutionItem,
    expected: Option<u64>,
) -> Result<(), AwsError> {
    let mut request = aws
        .dynamodb
        .put_item()
        .table_name(&aws.resources.executions_table)
        .set_item(Some(item.to_attributes()));
    request = match expected {
        None => request.condition_expression("attribute_not_exists(execution_id)"),
        Some(version) => request
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":expected", n(version)),
    };
    let written = AwsError::unless_refused(
        request.send().await,
        PutItemError::is_conditional_check_failed_exception,
        "PutItem (executions)",
    )?;
    if !written {
        return Err(AwsError::Conflict(format!(
            "execution `{}` version {}",
            item.execution_id, item.version
        )));
    }
    Ok(())
}

/// Marks the execution blocked with `error`, if it is still at `item`'s version (history and
/// version stay: a later run of fixed code replays the same history).
pub async fn mark_blocked(aws: &Aws, item: &ExecutionItem, error: &str) -> Result<(), AwsError> {
    let result = aws
        .dynamodb
        .update_item()
        .table_name(&aws.resources.executions_table)
        .set_key(Some(key(&item.execution_id)))
        .update_expression("SET #status = :blocked, #error = :error, updated_at = :now")
        .condition_expression("#version = :version")
        .expression_attribute_names("#status", "status")
        .expression_attribute_names("#error", "error")
        .expression_attribute_names("#version", "version")
        .expression_attribute_values(":blocked", s(ExecutionStatus::Blocked.as_str()))
        .expression_attribute_values(":error", s(error))
        .expression_attribute_values(":now", n(Timestamp::wall_clock().as_millis()))
        .expression_attribute_values(":version", n(item.version))
        .send()
        .await;
    // Refused: a later step committed, and the mark would be stale.
    AwsError::unless_refused(
        result,
        UpdateItemError::is_conditional_check_failed_exception,
        "UpdateItem (blocked)",
    )
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

/// Keeps the history of a run that continued as new under [`run_history_key`].
pub async fn put_run_history(
    aws: &Aws,
    execution_id: &str,
    run_id: &str,
    history: &History,
) -> Result<(), AwsError> {
    let body = serde_json::to_vec(history).map_err(AwsError::invalid("run history document"))?;
    let key = run_history_key(execution_id, run_id);
    put_object(aws, &key, body, "PutObject (run history)").await
}

/// The history of an earlier run `run_id` (one that continued as new).
pub async fn run_history(
    aws: &Aws,
    execution_id: &str,
    run_id: &str,
) -> Result<Vec<HistoryEvent>, AwsError> {
    let key = run_history_key(execution_id, run_id);
    let bytes = get_object(aws, &key, "GetObject (run history)").await?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(History::from_json(&text)?.events)
}

/// Writes a history document.
pub async fn put_step(aws: &Aws, key: &str, step: &StoredStep) -> Result<(), AwsError> {
    let body = serde_json::to_vec(step).map_err(AwsError::invalid("history document"))?;
    put_object(aws, key, body, "PutObject (history)").await
}

/// Writes a JSON object of the history bucket; `operation` names the call in errors.
pub async fn put_object(
    aws: &Aws,
    key: &str,
    body: Vec<u8>,
    operation: &'static str,
) -> Result<(), AwsError> {
    aws.s3
        .put_object()
        .bucket(&aws.resources.history_bucket)
        .key(key)
        .content_type("application/json")
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
