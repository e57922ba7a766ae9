//! The attempt record: one attempt of a task call, as engines schedule, store and send it.

use crate::time::Timestamp;
use crate::workflow::history::Seq;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// One attempt of a task call: the record every engine schedules, stores, sends to a worker
/// (the AWS task invoke) and runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// The calling execution.
    pub execution_id: String,
    /// The calling step.
    pub seq: Seq,
    /// The attempt (1-based).
    pub attempt: u32,
    /// The task's registered name.
    pub name: String,
    /// Its input.
    pub input: Value,
    /// The earliest start (a retry waits for its backoff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Timestamp>,
    /// The attempt's timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// The longest gap allowed between heartbeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_ms: Option<u64>,
}

/// Names an attempt: execution, step, attempt number.
pub type AttemptKey = (String, Seq, u32);

impl Attempt {
    /// The attempt's key.
    pub fn key(&self) -> AttemptKey {
        (self.execution_id.clone(), self.seq, self.attempt)
    }

    /// The attempt's key as one string (the AWS task-lock table's key).
    pub fn lock_key(&self) -> String {
        format!("{}#{}#{}", self.execution_id, self.seq, self.attempt)
    }

    /// When the attempt may start, seen at `now`: `None` if it may start at once.
    pub fn delayed_until(&self, now: Timestamp) -> Option<Timestamp> {
        self.not_before.filter(|at| *at > now)
    }

    /// When an attempt that started at `started` has run past its timeout, if it has one.
    pub fn times_out_at(&self, started: Timestamp) -> Option<Timestamp> {
        self.timeout_ms
            .map(|ms| started + Duration::from_millis(ms))
    }
}
