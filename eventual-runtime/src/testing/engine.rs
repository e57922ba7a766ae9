//! The TestEnvironment as an [`Engine`], so engine-neutral scenarios run on it.

use super::{StartError, TestEnvironment};
use crate::engine::client::{ClientError, StartExecution};
use crate::engine::kernel::delivery::DeadLetter;
use crate::engine::Engine;
use crate::event::OutgoingEvent;
use crate::workflow::{HistoryEvent, Outcome};
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::Value;

/// Virtual time a `wait` may skip before it gives up on an execution that never ends.
const WAIT_HORIZON: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);

fn known(env: &TestEnvironment, execution_id: &str) -> Result<(), ClientError> {
    env.status(execution_id)
        .map(drop)
        .ok_or_else(|| ClientError::UnknownExecution(execution_id.to_owned()))
}

impl Engine for TestEnvironment {
    fn start(&self, request: StartExecution) -> BoxFuture<'_, Result<String, ClientError>> {
        let result = self
            .start_with_correlation(
                &request.workflow,
                request.execution_name.as_deref(),
                request.input,
                request.correlation_id,
            )
            .map_err(|error| match error {
                StartError::UnknownWorkflow(name) => ClientError::UnknownWorkflow(name),
                StartError::AlreadyStarted {
                    execution_id,
                    held_by,
                } => ClientError::AlreadyStarted {
                    execution_id,
                    held_by,
                },
                other => ClientError::InvalidPayload(other.to_string()),
            });
        async move {
            let id = result?;
            self.run_until_idle().await;
            Ok(id)
        }
        .boxed()
    }

    fn signal<'a>(
        &'a self,
        execution_id: &'a str,
        name: &'a str,
        payload: Value,
    ) -> BoxFuture<'a, Result<(), ClientError>> {
        async move {
            known(self, execution_id)?;
            TestEnvironment::signal(self, execution_id, name, payload);
            self.run_until_idle().await;
            Ok(())
        }
        .boxed()
    }

    fn cancel<'a>(
        &'a self,
        execution_id: &'a str,
        reason: Option<String>,
    ) -> BoxFuture<'a, Result<(), ClientError>> {
        async move {
            known(self, execution_id)?;
            TestEnvironment::cancel(self, execution_id, reason.as_deref());
            self.run_until_idle().await;
            Ok(())
        }
        .boxed()
    }

    fn terminate<'a>(
        &'a self,
        execution_id: &'a str,
        reason: Option<String>,
    ) -> BoxFuture<'a, Result<(), ClientError>> {
        async move {
            known(self, execution_id)?;
            TestEnvironment::terminate(self, execution_id, reason.as_deref());
            self.run_until_idle().await;
            Ok(())
        }
        .boxed()
    }

    fn publish(
        &self,
        events: Vec<OutgoingEvent>,
    ) -> BoxFuture<'_, Result<Vec<String>, ClientError>> {
        async move {
            let ids = events
                .into_iter()
                .map(|event| TestEnvironment::publish(self, event))
                .collect();
            self.run_until_idle().await;
            Ok(ids)
        }
        .boxed()
    }

    fn wait<'a>(&'a self, execution_id: &'a str) -> BoxFuture<'a, Result<Outcome, ClientError>> {
        async move {
            known(self, execution_id)?;
            let horizon = self.now() + WAIT_HORIZON;
            loop {
                self.run_until_idle().await;
                if let Some(outcome) = self.outcome(execution_id) {
                    return Ok(outcome);
                }
                match self.next_due() {
                    Some(at) if at <= horizon => self.advance(at.duration_since(self.now())).await,
                    _ => {
                        return Err(ClientError::Engine(format!(
                            "execution `{execution_id}` waits for something that never comes"
                        )))
                    }
                }
            }
        }
        .boxed()
    }

    fn history<'a>(
        &'a self,
        execution_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<HistoryEvent>, ClientError>> {
        let result =
            known(self, execution_id).map(|()| TestEnvironment::history(self, execution_id));
        async move { result }.boxed()
    }

    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetter>, ClientError>> {
        let letters = TestEnvironment::dead_letters(self);
        async move { Ok(letters) }.boxed()
    }
}
