//! The local engine behind the engine-neutral interfaces: the service API (served by
//! [`api::http`](crate::engine::api::http)) and [`Engine`], so engine-neutral scenarios run
//! on it.

use super::{EngineError, EngineHandle};
use crate::engine::api::{
    ApiError, ApiResult, ExecutionPage, ExecutionRow, ListFilter, ServiceApi, Started,
};
use crate::engine::client::{ClientError, StartExecution};
use crate::engine::kernel::delivery::DeadLetter;
use crate::engine::Engine;
use crate::error::Failure;
use crate::event::OutgoingEvent;
use crate::task::CompletionToken;
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
            EngineError::AlreadyStarted {
                execution_id,
                held_by,
            } => ClientError::AlreadyStarted {
                execution_id,
                held_by,
            },
            other => ClientError::Engine(other.to_string()),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::NotFound(id) => ApiError::NotFound(id),
            EngineError::Ended(id) => ApiError::Ended(id),
            EngineError::UnknownWorkflow(name) => ApiError::UnknownWorkflow(name),
            EngineError::InvalidInput(message) => ApiError::InvalidInput(message),
            EngineError::InvalidToken(message) => ApiError::InvalidToken(message),
            EngineError::AlreadyStarted {
                execution_id,
                held_by,
            } => ApiError::AlreadyStarted {
                execution_id,
                held_by,
            },
            EngineError::Store(error) => ApiError::Internal(error.to_string()),
            error @ (EngineError::Stopped | EngineError::Startup(_)) => {
                ApiError::Unavailable(error.to_string())
            }
        }
    }
}

/// A ready answer as an API future.
fn ready<'a, T: Send + 'a>(result: Result<T, EngineError>) -> ApiResult<'a, T> {
    futures::future::ready(result.map_err(ApiError::from)).boxed()
}

impl ServiceApi for EngineHandle {
    fn start(&self, request: StartExecution) -> ApiResult<'_, Started> {
        async move { Ok(EngineHandle::start(self, request).await?) }.boxed()
    }

    fn execution<'a>(&'a self, execution_id: &'a str) -> ApiResult<'a, ExecutionRow> {
        ready(EngineHandle::execution(self, execution_id))
    }

    fn list<'a>(&'a self, filter: &'a ListFilter) -> ApiResult<'a, ExecutionPage> {
        ready(EngineHandle::list(self, filter))
    }

    fn history<'a>(&'a self, execution_id: &'a str) -> ApiResult<'a, Vec<HistoryEvent>> {
        ready(EngineHandle::history(self, execution_id))
    }

    fn signal<'a>(
        &'a self,
        execution_id: &'a str,
        name: &'a str,
        payload: Value,
        signal_id: Option<String>,
    ) -> ApiResult<'a, ()> {
        async move { Ok(EngineHandle::signal(self, execution_id, name, payload, signal_id).await?) }
            .boxed()
    }

    fn cancel<'a>(&'a self, execution_id: &'a str, reason: Option<String>) -> ApiResult<'a, ()> {
        async move { Ok(EngineHandle::cancel(self, execution_id, reason).await?) }.boxed()
    }

    fn terminate<'a>(&'a self, execution_id: &'a str, reason: Option<String>) -> ApiResult<'a, ()> {
        async move { Ok(EngineHandle::terminate(self, execution_id, reason).await?) }.boxed()
    }

    fn publish(&self, events: Vec<OutgoingEvent>) -> ApiResult<'_, Vec<String>> {
        async move { Ok(EngineHandle::publish(self, events, None).await?) }.boxed()
    }

    fn dead_letters(&self) -> ApiResult<'_, Vec<DeadLetter>> {
        ready(EngineHandle::dead_letters(self))
    }

    fn redrive<'a>(&'a self, id: Option<&'a str>) -> ApiResult<'a, usize> {
        async move { Ok(EngineHandle::redrive(self, id).await?) }.boxed()
    }

    fn complete_task(
        &self,
        token: CompletionToken,
        result: Result<Value, Failure>,
    ) -> ApiResult<'_, bool> {
        async move { Ok(EngineHandle::complete_task(self, token, result).await?) }.boxed()
    }

    fn wait<'a>(&'a self, execution_id: &'a str) -> ApiResult<'a, Outcome> {
        async move { Ok(EngineHandle::wait(self, execution_id).await?) }.boxed()
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

    fn terminate<'a>(
        &'a self,
        execution_id: &'a str,
        reason: Option<String>,
    ) -> BoxFuture<'a, Result<(), ClientError>> {
        async move { Ok(EngineHandle::terminate(self, execution_id, reason).await?) }.boxed()
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

    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetter>, ClientError>> {
        let letters = EngineHandle::dead_letters(self).map_err(ClientError::from);
        async move { letters }.boxed()
    }
}
