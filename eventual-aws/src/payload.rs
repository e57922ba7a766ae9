//! Payloads too large for a queue message or an asynchronous invoke go to S3.
//!
//! SQS messages and asynchronous Lambda invokes took at most 256 KiB until 2025 (1 MiB since),
//! and a deployment may still cap them there. A body above
//! [`INLINE_LIMIT`] is stored in the history bucket under `payloads/<sha256>.json` and the
//! message carries `{"$eventual_payload": "<key>"}` instead. Keys are content addresses, so a
//! re-sent message stores and names the same object (and keeps its FIFO de-duplication id).
//! The template expires them after `names::PAYLOAD_KEPT_DAYS` days, longer than any message
//! lives (a re-sent timer stores its payload again).

use crate::config::Aws;
use crate::error::AwsError;
use eventual_runtime::manifest::names::PAYLOAD_PREFIX;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// The largest body sent inline: SQS's and Lambda's 256 KiB, less room for the message's
/// attributes and the invoke's envelope.
pub const INLINE_LIMIT: usize = 200 * 1024;

/// The field naming a stored payload.
const REFERENCE: &str = "$eventual_payload";

/// `value` as a message body: inline when small, else stored and referenced.
pub async fn seal<T: Serialize>(
    aws: &Aws,
    value: &T,
    what: &'static str,
) -> Result<String, AwsError> {
    let body = serde_json::to_string(value).map_err(AwsError::invalid(what))?;
    if body.len() <= INLINE_LIMIT {
        return Ok(body);
    }
    let key = format!("{PAYLOAD_PREFIX}{}.json", crate::message::digest(&body));
    tracing::debug!(%key, bytes = body.len(), what, "payload stored in S3");
    crate::store::put_object(aws, &key, body.into_bytes(), "PutObject (payload)").await?;
    Ok(serde_json::json!({ REFERENCE: key }).to_string())
}

/// The stored key, when `value` is a reference.
fn reference(value: &Value) -> Option<&str> {
    match value {
        Value::Object(fields) if fields.len() == 1 => fields.get(REFERENCE)?.as_str(),
        _ => None,
    }
}

/// Reads a message body written by [`seal`].
pub async fn open<T: DeserializeOwned>(
    aws: &Aws,
    body: &str,
    what: &'static str,
) -> Result<T, AwsError> {
    let value: Value = serde_json::from_str(body).map_err(AwsError::invalid(what))?;
    open_value(aws, value, what).await
}

/// [`open`] for a payload already parsed (a Lambda invoke's).
pub async fn open_value<T: DeserializeOwned>(
    aws: &Aws,
    value: Value,
    what: &'static str,
) -> Result<T, AwsError> {
    let Some(key) = reference(&value) else {
        return serde_json::from_value(value).map_err(AwsError::invalid(what));
    };
    let bytes = crate::store::get_object(aws, key, "GetObject (payload)").await?;
    serde_json::from_slice(&bytes).map_err(AwsError::invalid(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_lone_reference_field_is_a_reference() {
        let key = "payloads/ab.json";
        assert_eq!(reference(&serde_json::json!({ REFERENCE: key })), Some(key));
        assert_eq!(
            reference(&serde_json::json!({ REFERENCE: key, "x": 1 })),
            None
        );
        assert_eq!(reference(&serde_json::json!({ "kind": "start" })), None);
        assert_eq!(reference(&serde_json::json!([REFERENCE])), None);
    }
}
