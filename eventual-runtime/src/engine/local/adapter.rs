//! The local engine as an [`Engine`], so engine-neutral scenarios run on it.

use super::{EngineError, EngineHandle};
use crate::engine::client::{ClientError, StartExecution};
use crate::engine::Engine;
use crate::event::OutgoingEvent;
use crate::workflow::{HistoryEvent, Outcome};
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::Value;

impl From<EngineError> for ClientError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::NotFound(id) => ClientError::UnknownExecution(id),
            EngineError::UnknownWorkflow(name) => ClientError::UnknownWorkflow(name),
            EngineError::InvalidInput(message) => ClientError::InvalidPayload(message),
            other => ClientError::Engine(other.to_string()),
        }
    }
}

impl Engine for EngineHandle {
    fn start(&self, request: StartExecution) -> BoxFuture<'_, Result<String, ClientError>> {
        async move { Ok(EngineHandle::start(self, request).await?.execution_id) }.boxed()
    }

    fn signal<'a>(
        &'a self,
        execution_id: &'a str,
        name: &'a str,
        payload: Value,
    ) -> BoxFuture<'a, Result<(), ClientError>> {
        async move { Ok(EngineHandle::signal(self, execution_id, name, payload, None).await?) }
            .boxed()
    }

    fn cancel<'a>(
        &'a self,
        execution_id: &'a str,
        reason: Option<String>,
    ) -> BoxFuture<'a, Result<(), ClientError>> {
        async move { Ok(EngineHandle::cancel(self, execution_id, reason).await?) }.boxed()
    }

    fn publish(
        &self,
        events: Vec<OutgoingEvent>,
    ) -> BoxFuture<'_, Result<Vec<String>, ClientError>> {
        async move { Ok(EngineHandle::publish(self, events, None).await?) }.boxed()
    }

    fn wait<'a>(&'a self, execution_id: &'a str) -> BoxFuture<'a, Result<Outcome, ClientError>> {
        async move { Ok(EngineHandle::wait(self, execution_id).await?) }.boxed()
    }

    fn history<'a>(
        &'a self,
        execution_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<HistoryEvent>, ClientError>> {
        let result = EngineHandle::history(self, execution_id).map_err(ClientError::from);
        async move { result }.boxed()
    }
}
