//! Retention on AWS: when an execution ends, its executions item and its attribute-index items
//! get `expires_at` (DynamoDB's TTL removes them), and its history documents get the
//! [`names::RETENTION_TAG`] that the bucket's lifecycle rule of that retention expires (see
//! the template's `storage` module for why tags). How long is the kernel's
//! [`Retention`](eventual_runtime::engine::kernel::retention::Retention): the workflow's own
//! `retention`, or the service's default ([`Resources::retention_days`]).

use crate::config::Resources;
use crate::store::Expiry;
use eventual_runtime::manifest::names;
use eventual_runtime::registry;
use eventual_runtime::time::Timestamp;

/// When an execution of `workflow` that ended at `ended_at` expires, in epoch seconds (the
/// TTL attribute's unit); `None`: it is kept forever.
pub fn expires_at(resources: &Resources, workflow: &str, ended_at: Timestamp) -> Option<u64> {
    let kept = resources.retention().of(workflow)?;
    Some((ended_at + kept).as_millis().div_ceil(1000))
}

/// The `key=value` tagging of a history document of `workflow` whose run has ended; `None`
/// when such documents are kept forever.
pub fn history_tagging(resources: &Resources, workflow: &str) -> Option<String> {
    let own = registry::workflow(workflow).and_then(|descriptor| descriptor.retention_ms);
    let value = match own {
        Some(ms) => names::retention_tag(names::retention_days(ms)),
        None if resources.retention_days > 0 => names::DEFAULT_RETENTION_TAG.to_owned(),
        None => return None,
    };
    Some(tagging(&value))
}

/// How the objects and items of an execution of `workflow` that ended at `ended_at` expire.
pub fn expiry(resources: &Resources, workflow: &str, ended_at: Timestamp) -> Expiry {
    Expiry {
        expires_at: expires_at(resources, workflow, ended_at),
        tagging: history_tagging(resources, workflow),
    }
}

fn tagging(value: &str) -> String {
    format!("{}={value}", names::RETENTION_TAG)
}
