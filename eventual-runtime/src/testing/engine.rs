//! The TestEnvironment as an [`Engine`], so engine-neutral scenarios run on it.

use super::TestEnvironment;
use crate::engine::client::StartExecution;
use crate::engine::kernel::delivery::DeadLetter;
use crate::engine::kernel::update::{self, SendUpdate, UpdateReply};
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

impl TestEnvironment {
    /// Sends update `name` with `input` to an execution and waits for the workflow's answer,
    /// moving the virtual clock on (at most the default wait) if the workflow takes the update
    /// only later. A rejection is [`ServiceError::UpdateRejected`], an update still unanswered
    /// [`ServiceError::UpdatePending`], an ended execution [`ServiceError::Ended`].
    ///
    /// For the caller's own id or wait, use [`Engine::update`]; for typed updates,
    /// [`TypedClient::update_of`](crate::engine::TypedClient::update_of).
    pub async fn update(
        &self,
        execution_id: &str,
        name: &str,
        input: impl serde::Serialize,
    ) -> Result<Value, ServiceError> {
        let input = serde_json::to_value(input)
            .map_err(|error| ServiceError::InvalidInput(error.to_string()))?;
        let reply = self
            .send_update(execution_id, SendUpdate::new(name, input))
            .await?;
        reply.into_answer(execution_id)
    }

    fn update_known(&self, execution_id: &str, update_id: &str) -> Option<update::UpdateStatus> {
        let runs = self.run_histories(execution_id);
        update::status_in_runs(runs.iter().map(Vec::as_slice), update_id)
    }

    fn is_ended(&self, execution_id: &str) -> bool {
        self.status(execution_id)
            .is_some_and(|status| status.is_terminal())
    }

    async fn send_update(
        &self,
        execution_id: &str,
        request: SendUpdate,
    ) -> Result<UpdateReply, ServiceError> {
        request.check()?;
        known(self, execution_id)?;
        let update_id = request.id(|| self.lock().fresh_id("u"));
        let known_status = self.update_known(execution_id, &update_id);
        if let Some(reply) = update::before_sending(
            execution_id,
            &update_id,
            known_status,
            self.is_ended(execution_id),
        )? {
            return Ok(reply);
        }
        self.lock()
            .deliver_inbox(execution_id, request.to_inbox(&update_id));
        let horizon = self.now() + request.wait();
        loop {
            self.run_until_idle().await;
            let known_status = self.update_known(execution_id, &update_id);
            if let Some(reply) = update::while_waiting(
                execution_id,
                &update_id,
                known_status,
                self.is_ended(execution_id),
            )? {
                return Ok(reply);
            }
            match self.next_due() {
                Some(at) if at <= horizon => self.advance(at.duration_since(self.now())).await,
                _ => {
                    return Ok(UpdateReply {
                        update_id,
                        status: update::UpdateStatus::Pending,
                    })
                }
            }
        }
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

    fn update<'a>(
        &'a self,
        execution_id: &'a str,
        update: SendUpdate,
    ) -> BoxFuture<'a, Result<UpdateReply, ServiceError>> {
        self.send_update(execution_id, update).boxed()
    }

    fn update_status<'a>(
        &'a self,
        execution_id: &'a str,
        update_id: &'a str,
    ) -> BoxFuture<'a, Result<UpdateReply, ServiceError>> {
        let result = known(self, execution_id).and_then(|()| {
            update::reply_of(
                execution_id,
                update_id,
                self.update_known(execution_id, update_id),
            )
        });
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
