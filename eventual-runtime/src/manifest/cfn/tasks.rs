//! Task workers: one function per task (the orchestrator invokes them asynchronously), all
//! with the one task role of [`iam`](super::iam).

use super::lambda::{function, payload_env, token_env};
use super::resource::reference;
use super::Resources;
use crate::manifest::inventory::{Inventory, TaskInfo};
use crate::manifest::names::{self, env, id, role};
use serde_json::json;

/// Seconds of a Lambda running a task: the task's timeout plus a margin, within Lambda's
/// 1..=900 s; 300 s without a timeout.
fn timeout_s(task: &TaskInfo) -> u64 {
    match task.options.timeout_ms {
        Some(ms) => (ms.div_ceil(1000) + 5).clamp(1, 900),
        None => 300,
    }
}

/// Adds every task's function.
pub(super) fn add(service: &str, inventory: &Inventory, resources: &mut Resources) {
    for task in &inventory.tasks {
        resources.insert(
            id::task_function(&task.name),
            function(
                service,
                &names::task_function(service, &task.name),
                id::TASK_ROLE,
                timeout_s(task),
                &format!("Task {}", task.name),
                vec![
                    (env::ROLE, json!(role::TASK)),
                    (env::TASK, json!(task.name)),
                    (env::TASK_LOCK_TABLE, reference(id::TASK_LOCK_TABLE)),
                    (
                        env::ORCHESTRATOR_QUEUE_URL,
                        reference(id::ORCHESTRATOR_QUEUE),
                    ),
                    payload_env(),
                    token_env(),
                ],
            ),
        );
    }
}
