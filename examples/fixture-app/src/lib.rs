//! Test fixture: a workflow and its task.

use eventual_runtime::prelude::*;
use serde::{Deserialize, Serialize};

/// What `greet` emits.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Greeted {
    /// Who was greeted.
    pub name: String,
}

/// Builds a greeting.
#[task(timeout = "5s", retry(max_attempts = 2))]
pub async fn make_greeting(name: String) -> Result<String, StepError> {
    Ok(format!("hello {name}"))
}

/// Greets someone and tells the bus.
#[workflow(timeout = "1m")]
pub async fn greet(ctx: WorkflowContext, name: String) -> Result<String, WorkflowError> {
    let greeting = make_greeting(name.clone()).await?;
    ctx.emit(Greeted { name }).await?;
    Ok(greeting)
}

/// Keeps this crate's registrations linked into a binary that names nothing else from it.
pub fn link() {}
