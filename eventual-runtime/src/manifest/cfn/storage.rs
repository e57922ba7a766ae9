//! Shared storage: the history bucket and the executions, history and task-lock tables.

use super::resource::table;
use super::Resources;
use crate::manifest::names::{self, id, key};
use serde_json::json;

/// Adds the bucket and the tables.
pub(super) fn add(service: &str, resources: &mut Resources) {
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
                // Payloads too large for a message are kept longer than any message lives.
                "LifecycleConfiguration": { "Rules": [{
                    "Id": "ExpireLargePayloads",
                    "Status": "Enabled",
                    "Prefix": names::PAYLOAD_PREFIX,
                    "ExpirationInDays": names::PAYLOAD_KEPT_DAYS,
                }] },
            },
        }),
    );
    resources.insert(
        id::EXECUTIONS_TABLE.into(),
        table(
            &names::executions_table(service),
            &[(key::EXECUTION_ID, "S", "HASH")],
            None,
        ),
    );
    resources.insert(
        id::HISTORY_TABLE.into(),
        table(
            &names::history_table(service),
            &[(key::EXECUTION_ID, "S", "HASH"), (key::SEQ, "N", "RANGE")],
            None,
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
