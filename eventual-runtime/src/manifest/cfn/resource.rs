//! Resource shapes the builders share: references, queues, tables.

use serde_json::{json, Value};

/// `Fn::GetAtt [id, Arn]`.
pub(super) fn arn(id: &str) -> Value {
    json!({ "Fn::GetAtt": [id, "Arn"] })
}

/// `Ref id`.
pub(super) fn reference(id: &str) -> Value {
    json!({ "Ref": id })
}

/// A queue: FIFO (per-group deduplication and throughput) or standard, redriven to `dlq`
/// (its logical id and `maxReceiveCount`).
pub(super) fn queue(name: &str, visibility_s: u64, dlq: Option<(&str, u32)>, fifo: bool) -> Value {
    let mut properties = json!({
        "QueueName": name,
        "SqsManagedSseEnabled": true,
        "VisibilityTimeout": visibility_s,
    });
    if fifo {
        properties["FifoQueue"] = json!(true);
        properties["ContentBasedDeduplication"] = json!(true);
        properties["DeduplicationScope"] = json!("messageGroup");
        properties["FifoThroughputLimit"] = json!("perMessageGroupId");
    }
    if let Some((dlq, max_receive)) = dlq {
        properties["RedrivePolicy"] = json!({
            "deadLetterTargetArn": arn(dlq),
            "maxReceiveCount": max_receive,
        });
    }
    json!({ "Type": "AWS::SQS::Queue", "Properties": properties })
}

/// A dead-letter queue, keeping messages for SQS's maximum of 14 days.
pub(super) fn dead_letter_queue(name: &str, fifo: bool) -> Value {
    let mut properties = json!({
        "QueueName": name,
        "SqsManagedSseEnabled": true,
        "MessageRetentionPeriod": 1_209_600,
    });
    if fifo {
        properties["FifoQueue"] = json!(true);
    }
    json!({ "Type": "AWS::SQS::Queue", "Properties": properties })
}

/// An on-demand, encrypted table with point-in-time recovery; `keys` are
/// `(attribute, type, key type)`.
pub(super) fn table(name: &str, keys: &[(&str, &str, &str)], ttl: Option<&str>) -> Value {
    let definitions: Vec<Value> = keys
        .iter()
        .map(|(name, ty, _)| json!({ "AttributeName": name, "AttributeType": ty }))
        .collect();
    let schema: Vec<Value> = keys
        .iter()
        .map(|(name, _, kind)| json!({ "AttributeName": name, "KeyType": kind }))
        .collect();
    let mut properties = json!({
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": definitions,
        "KeySchema": schema,
        "PointInTimeRecoverySpecification": { "PointInTimeRecoveryEnabled": true },
        "SSESpecification": { "SSEEnabled": true },
    });
    if let Some(ttl) = ttl {
        properties["TimeToLiveSpecification"] = json!({ "AttributeName": ttl, "Enabled": true });
    }
    json!({ "Type": "AWS::DynamoDB::Table", "Properties": properties })
}
