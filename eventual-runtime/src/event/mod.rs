//! Bus events: the EventBridge envelope, typed for handlers.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An event in the Amazon EventBridge envelope, with `detail` typed as `T`.
///
/// Handlers of `#[on_event]` receive `Event<T>`; [`EventEnvelope`] is the untyped form that
/// travels on the bus. The correlation id flows from the workflow that emitted the event to the
/// handlers it reaches.
///
/// ```
/// use eventual_runtime::event::{Event, EventEnvelope};
/// let envelope: EventEnvelope = serde_json::from_value(serde_json::json!({
///     "id": "1", "source": "orders", "detail-type": "OrderPlaced",
///     "time": "2026-01-01T00:00:00Z", "detail": {"amount": 120}
/// })).unwrap();
/// assert_eq!(envelope.detail_type, "OrderPlaced");
/// let typed: Event<serde_json::Map<String, serde_json::Value>> = envelope.decode().unwrap();
/// assert_eq!(typed.detail["amount"], 120);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event<T> {
    /// The envelope version, `"0"`.
    #[serde(default = "envelope_version")]
    pub version: String,
    /// A unique id: subscribers de-duplicate on it.
    pub id: String,
    /// What kind of event this is.
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// Who emitted it.
    pub source: String,
    /// The AWS account (`000000000000` on the local engine).
    #[serde(default)]
    pub account: String,
    /// When it was emitted, RFC 3339.
    pub time: String,
    /// The AWS region (`local` on the local engine).
    #[serde(default)]
    pub region: String,
    /// ARNs or names of the resources involved.
    #[serde(default)]
    pub resources: Vec<String>,
    /// The payload.
    pub detail: T,
    /// The correlation id of the execution or request that caused the event.
    #[serde(
        rename = "correlation-id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub correlation_id: Option<String>,
}

/// An event with an untyped `detail`, as it travels on the bus.
pub type EventEnvelope = Event<Value>;

fn envelope_version() -> String {
    "0".to_owned()
}

impl EventEnvelope {
    /// An event with the local engine's account and region.
    pub fn new(id: String, source: &str, detail_type: &str, time: String, detail: Value) -> Self {
        Event {
            version: envelope_version(),
            id,
            detail_type: detail_type.to_owned(),
            source: source.to_owned(),
            account: "000000000000".to_owned(),
            time,
            region: "local".to_owned(),
            resources: Vec::new(),
            detail,
            correlation_id: None,
        }
    }

    /// The envelope of an event published at `time` by a workflow, handler or caller.
    pub fn outgoing(
        id: String,
        event: OutgoingEvent,
        time: crate::time::Timestamp,
        correlation_id: Option<String>,
    ) -> Self {
        let mut envelope = EventEnvelope::new(
            id,
            &event.source,
            &event.detail_type,
            time.to_rfc3339(),
            event.detail,
        );
        envelope.correlation_id = correlation_id;
        envelope
    }

    /// The envelope as the JSON value patterns are matched against.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The event with `detail` deserialized into `T`.
    pub fn decode<T: serde::de::DeserializeOwned>(self) -> Result<Event<T>, serde_json::Error> {
        let detail = serde_json::from_value(self.detail)?;
        Ok(Event {
            version: self.version,
            id: self.id,
            detail_type: self.detail_type,
            source: self.source,
            account: self.account,
            time: self.time,
            region: self.region,
            resources: self.resources,
            detail,
            correlation_id: self.correlation_id,
        })
    }
}

/// An event a workflow or handler wants to put on the bus; the engine fills in id and time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutgoingEvent {
    /// `source` of the envelope.
    pub source: String,
    /// `detail-type` of the envelope.
    pub detail_type: String,
    /// The payload.
    pub detail: Value,
}

/// The largest event every engine accepts: EventBridge's entry limit (256 KiB for `source`,
/// `detail-type` and `detail` together), so an event that works locally works on AWS.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// An event above [`MAX_EVENT_BYTES`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("event `{detail_type}` from `{event_source}` is {bytes} bytes; events are limited to {MAX_EVENT_BYTES} bytes (EventBridge's limit): put the payload in storage and emit a reference")]
pub struct EventTooLarge {
    /// `source` of the event (named so that it is not taken for an error's source).
    pub event_source: String,
    /// `detail-type` of the event.
    pub detail_type: String,
    /// Its size.
    pub bytes: usize,
}

impl OutgoingEvent {
    /// Checks the event against [`MAX_EVENT_BYTES`].
    ///
    /// ```
    /// use eventual_runtime::event::OutgoingEvent;
    /// let small = OutgoingEvent::new("shop", "Note", serde_json::json!("hi"));
    /// assert!(small.check_size().is_ok());
    /// let big = OutgoingEvent::new("shop", "Note", serde_json::json!("x".repeat(300_000)));
    /// assert!(big.check_size().unwrap_err().to_string().contains("`Note` from `shop`"));
    /// ```
    pub fn check_size(&self) -> Result<(), EventTooLarge> {
        /// Counts what is written, so the size needs no buffer.
        struct Count(usize);
        impl std::io::Write for Count {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0 += bytes.len();
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut detail = Count(0);
        // Writing a `Value` cannot fail, and `Count` never does.
        let _ = serde_json::to_writer(&mut detail, &self.detail);
        let bytes = self.source.len() + self.detail_type.len() + detail.0;
        if bytes > MAX_EVENT_BYTES {
            return Err(EventTooLarge {
                event_source: self.source.clone(),
                detail_type: self.detail_type.clone(),
                bytes,
            });
        }
        Ok(())
    }

    /// An event of `detail_type` from `source`.
    pub fn new(source: impl Into<String>, detail_type: impl Into<String>, detail: Value) -> Self {
        OutgoingEvent {
            source: source.into(),
            detail_type: detail_type.into(),
            detail,
        }
    }
}
