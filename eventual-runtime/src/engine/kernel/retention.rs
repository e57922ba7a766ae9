//! Retention: how long an ended execution and its history are kept, by its workflow's
//! `#[workflow(retention = "…")]` or the engine's default, and when it may be deleted.

use crate::registry;
use crate::time::Timestamp;
use std::time::Duration;

/// How long ended executions are kept: the engine's default, or their workflow's own.
#[derive(Clone, Copy, Debug, Default)]
pub struct Retention {
    default: Option<Duration>,
}

impl Retention {
    /// Keeps ended executions for `default` unless their workflow says otherwise.
    pub fn new(default: Option<Duration>) -> Self {
        Retention { default }
    }

    /// How long executions of `workflow` are kept after their end; `None`: forever.
    pub fn of(&self, workflow: &str) -> Option<Duration> {
        registry::workflow(workflow)
            .and_then(|descriptor| descriptor.retention_ms)
            .map(Duration::from_millis)
            .or(self.default)
    }

    /// The shortest retention of any workflow: executions that ended before it are the
    /// candidates of a sweep.
    pub fn shortest(&self) -> Option<Duration> {
        registry::WORKFLOWS
            .iter()
            .filter_map(|workflow| workflow.retention_ms.map(Duration::from_millis))
            .chain(self.default)
            .min()
    }

    /// Whether an execution of `workflow` that ended at `ended_at` may be deleted at `now`.
    pub fn expired(&self, workflow: &str, ended_at: Timestamp, now: Timestamp) -> bool {
        self.of(workflow).is_some_and(|kept| ended_at + kept <= now)
    }

    /// How often to sweep: a quarter of the shortest retention, between 50 ms and a minute;
    /// never when nothing expires.
    pub fn sweep_every(&self) -> Option<Duration> {
        self.shortest().map(|shortest| {
            (shortest / 4).clamp(Duration::from_millis(50), Duration::from_secs(60))
        })
    }
}
