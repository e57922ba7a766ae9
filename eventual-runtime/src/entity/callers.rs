//! Who sends entity commands: workflows (a durable step, applied once per step) and code
//! that an engine runs for the service (task attempts, handler deliveries), through the
//! engine's runner in scope.

use super::{CommandFailure, CommandReply, CommandRequest, Entities, Entity, EntityTarget, Invoke};
use crate::engine::kernel::entity::workflow_command_key;
use crate::error::{Failure, StepError, StepErrorKind};
use crate::registry::{SourceLocation, TaskDescriptor};
use crate::scoped::{current, WithCurrent};
use crate::task::{Backoff, RetryPolicy, Task, TaskContext, TaskOptions};
use crate::workflow::WorkflowContext;
use futures::future::BoxFuture;
use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;

thread_local! {
    static CURRENT: RefCell<Option<Arc<dyn Invoke>>> = const { RefCell::new(None) };
}

/// Polls `body` with `invoker` as the engine's entity runner in scope: what engines wrap task
/// attempts and handler deliveries in.
pub fn with_entities<F: Future>(
    invoker: Arc<dyn Invoke>,
    body: F,
) -> WithCurrent<Arc<dyn Invoke>, F> {
    WithCurrent::scoped(&CURRENT, invoker, body)
}

impl<E: Entity> Entities<E> {
    /// The entities of type `E` of the engine running this task attempt or handler, if any.
    /// Give each command an idempotency key (`get(id).idempotency_key(..)`) when the task or
    /// handler may run again: a retried attempt then applies it once.
    pub fn current() -> Option<Self> {
        let invoker = current(&CURRENT)?;
        let created_by = match TaskContext::current() {
            Some(task) => format!("task:{}/{}", task.execution_id, task.seq),
            None => "handler".to_owned(),
        };
        Some(Entities::new(invoker, created_by))
    }
}

/// The built-in task that carries a workflow's entity command: the workflow records its
/// scheduling and its answer in history like any task's, so a replay does not send it again;
/// the command's idempotency key is the execution and step, so a retried attempt applies it
/// once.
pub struct EntityCommandTask;

/// The registered name of [`EntityCommandTask`]; the manifest leaves it out (it is part of
/// the engine, not of the service).
pub const ENTITY_COMMAND_TASK: &str = "__eventual_entity_command";

impl Task for EntityCommandTask {
    type Input = CommandRequest;
    /// A rejection or a conflict is an answer, recorded as such: retrying cannot change it.
    type Output = Result<CommandReply, CommandFailure>;
    type Error = StepError;
    const NAME: &'static str = ENTITY_COMMAND_TASK;
    /// A store that fails for a while (a full disk) is retried; the key makes it safe.
    const OPTIONS: TaskOptions = TaskOptions {
        timeout_ms: None,
        heartbeat_ms: None,
        retry: RetryPolicy {
            max_attempts: 5,
            backoff: Backoff::Exponential,
            initial_ms: 200,
            max_ms: 10_000,
            multiplier: 2.0,
            jitter: 0.1,
        },
    };
}

async fn run_entity_command(
    mut request: CommandRequest,
) -> Result<Result<CommandReply, CommandFailure>, StepError> {
    let (Some(task), Some(invoker)) = (TaskContext::current(), current(&CURRENT)) else {
        return Err(StepError::new(
            StepErrorKind::NotRegistered,
            "this engine does not run entity commands from workflows",
        ));
    };
    request.idempotency_key = Some(workflow_command_key(
        &task.execution_id,
        u64::from(task.seq),
    ));
    request.created_by = format!("workflow:{}", task.execution_id);
    match invoker.invoke(request).await {
        Err(CommandFailure::Failed { message }) => {
            Err(StepError::new(StepErrorKind::Failed, message))
        }
        answer => Ok(answer),
    }
}

fn run_entity_command_task(
    input: crate::__private::Value,
) -> Result<BoxFuture<'static, Result<crate::__private::Value, Failure>>, String> {
    crate::__private::run_task::<EntityCommandTask, _, _>(input, run_entity_command)
}

#[linkme::distributed_slice(crate::registry::TASKS)]
#[linkme(crate = linkme)]
static ENTITY_COMMAND_REGISTRATION: TaskDescriptor = TaskDescriptor {
    name: ENTITY_COMMAND_TASK,
    location: SourceLocation {
        rust_path: "eventual_runtime::entity::callers::EntityCommandTask",
        file: file!(),
        line: line!(),
    },
    options: EntityCommandTask::OPTIONS,
    run: run_entity_command_task,
};

/// Sends a workflow's commands as durable steps.
struct WorkflowInvoker {
    ctx: WorkflowContext,
}

impl Invoke for WorkflowInvoker {
    fn invoke(
        &self,
        request: CommandRequest,
    ) -> BoxFuture<'static, Result<CommandReply, CommandFailure>> {
        // Scheduled now, in call order, so the step takes its sequence number here.
        let step = self.ctx.call_task::<EntityCommandTask>(request);
        Box::pin(async move {
            match step.await {
                Ok(answer) => answer,
                Err(error) => Err(CommandFailure::failed(error.to_string())),
            }
        })
    }
}

impl WorkflowContext {
    /// Entity `id` of type `E`: each command sent through it is a durable step of this
    /// workflow, applied once (its idempotency key is the execution and the step) and
    /// answered from history on replay.
    pub fn entity<E: Entity>(&self, id: impl Into<String>) -> E::Ref {
        let invoker = Arc::new(WorkflowInvoker { ctx: self.clone() });
        EntityTarget::new::<E>(id, invoker, "workflow")
            .with_correlation_id(Some(self.correlation_id()))
            .into()
    }
}
