//! The execution list, by DynamoDB `Query` only (a scan reads the whole table):
//!
//! | filter | queries |
//! |---|---|
//! | attributes (with any other filter) | the attributes table's partition of the first attribute pair, filtered on the index by status and workflow; the executions found are read by `BatchGetItem` and checked for the other attributes |
//! | workflow and status | the `by-status` index's partition `<status>#<workflow>` |
//! | workflow | the `by-workflow` index's partition |
//! | status | the `by-status` partition of each workflow linked into the service |
//! | none | the `by-workflow` partition of each workflow linked into the service |
//!
//! Every partition is sorted by start time then id (the range key [`names::started`]); a page
//! takes up to one more than its size from each partition it queries, after the page token's
//! position, and keeps the first ones in that order, so pages and tokens are those of the
//! local engine ([`ListFilter::position`], [`ExecutionPage::token_after`]). Executions past
//! their retention are left out before DynamoDB's TTL removes them. Without a workflow filter,
//! only the workflows linked into the service are listed (others cannot run on it). Index
//! reads are eventually consistent: an execution started or changed a moment ago may be
//! missing from, or shown with its former status in, a list by status.

use crate::config::Aws;
use crate::error::AwsError;
use crate::store::ExecutionItem;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use eventual_runtime::engine::api::{ExecutionPage, ListFilter};
use eventual_runtime::manifest::names::{self, index, key};
use eventual_runtime::registry;
use eventual_runtime::time::Timestamp;
use std::collections::{BTreeSet, HashMap};

/// The most keys one `BatchGetItem` takes.
const BATCH_GET: usize = 100;

/// One partition a list reads, in start order.
#[derive(Clone, Debug, PartialEq)]
enum Partition {
    /// An index of the executions table: whole items.
    Executions {
        index: &'static str,
        hash_key: &'static str,
        hash: String,
    },
    /// The attribute index's items of one pair; the executions are read from their table.
    Attribute { hash: String },
}

/// The partitions `filter` reads; `workflows` are those linked into the service.
fn partitions(filter: &ListFilter, workflows: &[&str]) -> Vec<Partition> {
    if let Some((name, value)) = filter.attributes.iter().next() {
        return vec![Partition::Attribute {
            hash: names::attribute_partition(name, value),
        }];
    }
    let by_workflow = |workflow: &str| Partition::Executions {
        index: index::BY_WORKFLOW,
        hash_key: key::WORKFLOW,
        hash: workflow.to_owned(),
    };
    let by_status = |status: &str, workflow: &str| Partition::Executions {
        index: index::BY_STATUS,
        hash_key: key::STATUS_WORKFLOW,
        hash: names::status_workflow(status, workflow),
    };
    let chosen: Vec<&str> = match &filter.workflow {
        Some(workflow) => vec![workflow.as_str()],
        None => workflows.to_vec(),
    };
    chosen
        .into_iter()
        .map(|workflow| match filter.status {
            Some(status) => by_status(status.as_str(), workflow),
            None => by_workflow(workflow),
        })
        .collect()
}

/// A page of executions for `filter`.
pub async fn list(aws: &Aws, filter: &ListFilter) -> Result<ExecutionPage, AwsError> {
    let workflows: BTreeSet<&str> = registry::WORKFLOWS.iter().map(|w| w.name).collect();
    let workflows: Vec<&str> = workflows.into_iter().collect();
    let size = filter.page_size() as usize;
    let after = filter
        .position()
        .map(|(time, id)| names::started(time, &id));
    let now = Timestamp::wall_clock();
    let admits = |item: &ExecutionItem| {
        !item.is_expired(now)
            && filter.admits(&item.to_row())
            && item.has_attributes(&filter.attributes)
    };
    let reads = partitions(filter, &workflows)
        .into_iter()
        .map(|partition| read(aws, partition, filter, after.as_deref(), size + 1, &admits));
    let mut items: Vec<ExecutionItem> = futures::future::try_join_all(reads)
        .await?
        .into_iter()
        .flatten()
        .collect();
    items.sort_by_key(ExecutionItem::started);
    items.truncate(size + 1);
    let mut executions: Vec<_> = items.iter().map(ExecutionItem::to_row).collect();
    let next_token = if executions.len() > size {
        executions.truncate(size);
        executions.last().map(ExecutionPage::token_after)
    } else {
        None
    };
    Ok(ExecutionPage {
        executions,
        next_token,
    })
}

/// Up to `want` executions of `partition` started after `after` (from the start: `None`) that
/// `admits` takes, in start order.
async fn read(
    aws: &Aws,
    partition: Partition,
    filter: &ListFilter,
    after: Option<&str>,
    want: usize,
    admits: &impl Fn(&ExecutionItem) -> bool,
) -> Result<Vec<ExecutionItem>, AwsError> {
    let (table, index, hash_key, hash) = match &partition {
        Partition::Executions {
            index,
            hash_key,
            hash,
        } => (
            &aws.resources.executions_table,
            Some(*index),
            *hash_key,
            hash,
        ),
        Partition::Attribute { hash } => {
            (&aws.resources.attributes_table, None, key::ATTRIBUTE, hash)
        }
    };
    let mut found = Vec::new();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let mut query = aws
            .dynamodb
            .query()
            .table_name(table)
            .set_index_name(index.map(str::to_owned))
            .expression_attribute_names("#hash", hash_key)
            .expression_attribute_values(":hash", AttributeValue::S(hash.clone()))
            .limit((want - found.len()).clamp(1, BATCH_GET) as i32)
            .set_exclusive_start_key(start.take());
        // (A key condition may not compare with an empty string.)
        query = match after {
            None => query.key_condition_expression("#hash = :hash"),
            Some(after) => query
                .key_condition_expression("#hash = :hash AND #started > :after")
                .expression_attribute_names("#started", key::STARTED)
                .expression_attribute_values(":after", AttributeValue::S(after.to_owned())),
        };
        // The attribute index carries status and workflow: filtering there saves reads.
        if matches!(partition, Partition::Attribute { .. }) {
            let mut conditions = Vec::new();
            if let Some(status) = filter.status {
                conditions.push("#status = :status");
                query = query
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(
                        ":status",
                        AttributeValue::S(status.as_str().to_owned()),
                    );
            }
            if let Some(workflow) = &filter.workflow {
                conditions.push("#workflow = :workflow");
                query = query
                    .expression_attribute_names("#workflow", "workflow")
                    .expression_attribute_values(":workflow", AttributeValue::S(workflow.clone()));
            }
            if !conditions.is_empty() {
                query = query.filter_expression(conditions.join(" AND "));
            }
        }
        let output = query
            .send()
            .await
            .map_err(AwsError::sdk("Query (executions list)"))?;
        let items = match partition {
            Partition::Executions { .. } => {
                let mut items = Vec::new();
                for attributes in output.items() {
                    items.push(ExecutionItem::load(aws, attributes).await?);
                }
                items
            }
            Partition::Attribute { .. } => {
                let ids: Vec<String> = output
                    .items()
                    .iter()
                    .filter_map(|item| item.get(key::EXECUTION_ID)?.as_s().ok().cloned())
                    .collect();
                executions(aws, &ids).await?
            }
        };
        found.extend(items.into_iter().filter(|item| admits(item)));
        start = output.last_evaluated_key().cloned();
        if start.is_none() || found.len() >= want {
            found.truncate(want);
            return Ok(found);
        }
    }
}

/// The executions items of `ids` (those that exist), read consistently in batches.
async fn executions(aws: &Aws, ids: &[String]) -> Result<Vec<ExecutionItem>, AwsError> {
    let table = &aws.resources.executions_table;
    let mut items = Vec::new();
    for chunk in ids.chunks(BATCH_GET) {
        let mut keys: Vec<HashMap<String, AttributeValue>> = chunk
            .iter()
            .map(|id| {
                HashMap::from([(key::EXECUTION_ID.to_owned(), AttributeValue::S(id.clone()))])
            })
            .collect();
        // BatchGetItem may leave keys unprocessed under load: ask again for those.
        while !keys.is_empty() {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut keys)))
                .consistent_read(true)
                .build()
                .map_err(AwsError::sdk("BatchGetItem (executions)"))?;
            let output = aws
                .dynamodb
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(AwsError::sdk("BatchGetItem (executions)"))?;
            for attributes in output
                .responses()
                .and_then(|r| r.get(table))
                .into_iter()
                .flatten()
            {
                items.push(ExecutionItem::load(aws, attributes).await?);
            }
            if let Some(left) = output.unprocessed_keys().and_then(|u| u.get(table)) {
                keys = left.keys().to_vec();
            }
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventual_runtime::engine::ExecutionStatus;

    fn filter(workflow: Option<&str>, status: Option<ExecutionStatus>) -> ListFilter {
        ListFilter {
            workflow: workflow.map(str::to_owned),
            status,
            ..ListFilter::default()
        }
    }

    #[test]
    fn each_filter_reads_the_partitions_that_hold_its_executions() {
        let workflows = ["a", "b"];
        let executions = |index, hash_key, hash: &str| Partition::Executions {
            index,
            hash_key,
            hash: hash.to_owned(),
        };
        let running = Some(ExecutionStatus::Running);
        assert_eq!(
            partitions(&filter(Some("a"), running), &workflows),
            [executions(
                index::BY_STATUS,
                key::STATUS_WORKFLOW,
                "running#a"
            )]
        );
        assert_eq!(
            partitions(&filter(Some("a"), None), &workflows),
            [executions(index::BY_WORKFLOW, key::WORKFLOW, "a")]
        );
        assert_eq!(
            partitions(&filter(None, running), &workflows),
            [
                executions(index::BY_STATUS, key::STATUS_WORKFLOW, "running#a"),
                executions(index::BY_STATUS, key::STATUS_WORKFLOW, "running#b"),
            ]
        );
        assert_eq!(
            partitions(&filter(None, None), &workflows),
            [
                executions(index::BY_WORKFLOW, key::WORKFLOW, "a"),
                executions(index::BY_WORKFLOW, key::WORKFLOW, "b"),
            ]
        );
        let mut by_attribute = filter(Some("a"), running);
        by_attribute
            .attributes
            .insert("customer".into(), "ada".into());
        by_attribute.attributes.insert("tier".into(), "gold".into());
        assert_eq!(
            partitions(&by_attribute, &workflows),
            [Partition::Attribute {
                hash: r#"["customer","ada"]"#.to_owned()
            }]
        );
    }
}
