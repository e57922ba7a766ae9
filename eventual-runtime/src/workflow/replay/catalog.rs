//! What a replay needs to know of the service around it.

use crate::task::TaskOptions;

/// The service's tasks as a replay sees them, passed in by whoever runs the executor, so the
/// replay core never reaches a global registry (a test can replay against any catalog).
pub trait Catalog: Send + Sync {
    /// Task `name`'s registered name and options, if it is registered (for
    /// `ctx.call_task_by_name`; typed calls carry their options).
    fn task(&self, name: &str) -> Option<(&'static str, TaskOptions)>;
}
