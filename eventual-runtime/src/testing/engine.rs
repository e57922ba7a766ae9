//! The TestEnvironment as an [`Engine`], so engine-neutral scenarios run on it.

use super::TestEnvironment;
use crate::engine::client::StartExecution;
use crate::engine::kernel::delivery::DeadLetter;
use crate::engine::Engine;
use crate::engine::ServiceError;
use crate::event::OutgoingEvent;
use crate::workflow::{HistoryEvent, Outcome};
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::Value;

/// Virtual time a `wait` may skip before it gives up on an execution that never ends.
const WAIT_HORIZON: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);

fn known(env: &TestEnvironment, execution_id: &str) -> Result<(), ServiceError> {
    env.status(execution_id)
        .map(drop)
        .ok_or_else(|| ServiceError::NotFound(execution_id.to_owned()))
}

impl TestEnvironment {
    /// Hands something to a known execution with `send`, then runs what is due.
    fn send<'a>(
        &'a self,
        execution_id: &'a str,
        send: impl FnOnce(&TestEnvironment) + Send + 'a,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        async move {
            known(self, execution_id)?;
            send(self);
            self.run_until_idle().await;
            Ok(())
        }
        .boxed()
    }
}

impl Engine for TestEnvironment {
    fn start(&self, request: StartExecution) -> BoxFuture<'_, Result<String, ServiceError>> {
        let result = self.start_with_correlation(
            &request.workflow,
            request.execution_name.as_deref(),
            request.input,
            request.correlation_id,
        );
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
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        self.send(execution_id, move |env| {
            TestEnvironment::signal(env, execution_id, name, payload)
        })
    }

    fn cancel<'a>(
        &'a self,
        execution_id: &'a str,
        reason: Option<String>,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        self.send(execution_id, move |env| {
            TestEnvironment::cancel(env, execution_id, reason.as_deref())
        })
    }

    fn terminate<'a>(
        &'a self,
        execution_id: &'a str,
        reason: Option<String>,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        self.send(execution_id, move |env| {
            TestEnvironment::terminate(env, execution_id, reason.as_deref())
        })
    }

    fn publish(
        &self,
        events: Vec<OutgoingEvent>,
    ) -> BoxFuture<'_, Result<Vec<String>, ServiceError>> {
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

    fn wait<'a>(&'a self, execution_id: &'a str) -> BoxFuture<'a, Result<Outcome, ServiceError>> {
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
                        return Err(ServiceError::Internal(format!(
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
    ) -> BoxFuture<'a, Result<Vec<HistoryEvent>, ServiceError>> {
        let result =
            known(self, execution_id).map(|()| TestEnvironment::history(self, execution_id));
        async move { result }.boxed()
    }

    fn run_history<'a>(
        &'a self,
        execution_id: &'a str,
        run_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<HistoryEvent>, ServiceError>> {
        let run = crate::workflow::RunLink::from_started(Some(run_id), 0).ok();
        let found = run.and_then(|run| {
            let runs = self.run_histories(execution_id);
            runs.into_iter().nth((run.number as usize).checked_sub(1)?)
        });
        let result = found.ok_or_else(|| {
            ServiceError::NotFound(format!("run `{run_id}` of execution `{execution_id}`"))
        });
        async move { result }.boxed()
    }

    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetter>, ServiceError>> {
        let letters = TestEnvironment::dead_letters(self);
        async move { Ok(letters) }.boxed()
    }
}
