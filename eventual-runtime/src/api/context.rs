//! The service client of a route.

use crate::engine::api::{ExecutionRow, ServiceApi, Started};
use crate::engine::client::StartExecution;
use crate::engine::kernel::update::SendUpdate;
use crate::engine::{decode_answer, ServiceError};
use crate::event::OutgoingEvent;
use crate::workflow::{Query, Update, Workflow};
use serde::Serialize;
use std::sync::Arc;

/// The header whose value becomes the correlation id of what a route starts and publishes.
pub(crate) const CORRELATION_HEADER: &str = "x-correlation-id";

/// What a route can do with its service: start, signal, cancel and read executions, and
/// publish events. What it starts carries the request's `x-correlation-id`.
#[derive(Clone)]
pub struct ApiContext {
    service: Arc<dyn ServiceApi>,
    correlation_id: Option<String>,
}

impl ApiContext {
    /// A context over `service`.
    pub fn new(service: Arc<dyn ServiceApi>, correlation_id: Option<String>) -> Self {
        ApiContext {
            service,
            correlation_id,
        }
    }

    /// The request's correlation id, if it sent one.
    pub fn correlation_id(&self) -> Option<&str> {
        self.correlation_id.as_deref()
    }

    /// Starts an execution of `W` with a fresh id.
    pub async fn start<W: Workflow>(&self, input: W::Input) -> Result<Started, ServiceError> {
        self.start_request::<W>(None, input).await
    }

    /// Starts an execution of `W` named `name`; starting it again returns the same execution
    /// (`created: false`).
    pub async fn start_named<W: Workflow>(
        &self,
        name: impl Into<String>,
        input: W::Input,
    ) -> Result<Started, ServiceError> {
        self.start_request::<W>(Some(name.into()), input).await
    }

    async fn start_request<W: Workflow>(
        &self,
        execution_name: Option<String>,
        input: W::Input,
    ) -> Result<Started, ServiceError> {
        let input = serde_json::to_value(input)
            .map_err(|error| ServiceError::InvalidInput(error.to_string()))?;
        self.service
            .start(StartExecution {
                workflow: W::NAME.to_owned(),
                execution_name,
                input,
                correlation_id: self.correlation_id.clone(),
            })
            .await
    }

    /// An execution: its status and, once it ended, its outcome.
    pub async fn execution(&self, execution_id: &str) -> Result<ExecutionRow, ServiceError> {
        self.service.execution(execution_id).await
    }

    /// The answer of an execution to query `name` (`ctx.answer_query`), as `T`.
    pub async fn query<T: serde::de::DeserializeOwned>(
        &self,
        execution_id: &str,
        name: &str,
    ) -> Result<T, ServiceError> {
        let answer = self.service.query(execution_id, name).await?;
        serde_json::from_value(answer).map_err(|error| {
            ServiceError::Internal(format!(
                "the answer to query `{name}` does not fit: {error}"
            ))
        })
    }

    /// The answer of an execution to the typed query `Q` (see [`Query`]).
    ///
    /// ```
    /// use eventual_runtime::api::{ApiContext, ApiError};
    /// use eventual_runtime::prelude::*;
    /// use eventual_runtime::workflow::Query;
    ///
    /// struct Stage;
    /// impl Query for Stage {
    ///     const NAME: &'static str = "stage";
    ///     type Output = String;
    /// }
    ///
    /// #[api(GET "/orders/{id}/stage")]
    /// async fn stage(ctx: ApiContext, id: String) -> Result<String, ApiError> {
    ///     Ok(ctx.query_of::<Stage>(&id).await?)
    /// }
    /// # fn main() {}
    /// ```
    pub async fn query_of<Q: Query>(&self, execution_id: &str) -> Result<Q::Output, ServiceError> {
        let answer = self.service.query(execution_id, Q::NAME).await?;
        decode_answer(answer, "query", Q::NAME)
    }

    /// Sends update `name` with `input` to an execution and waits (the default wait) for the
    /// workflow's answer. A rejection is [`ServiceError::UpdateRejected`], an answer not given
    /// within the wait [`ServiceError::UpdatePending`].
    pub async fn update(
        &self,
        execution_id: &str,
        name: &str,
        input: impl Serialize,
    ) -> Result<serde_json::Value, ServiceError> {
        let input = serde_json::to_value(input)
            .map_err(|error| ServiceError::BadRequest(error.to_string()))?;
        self.service
            .update(execution_id, SendUpdate::new(name, input))
            .await?
            .into_answer(execution_id)
    }

    /// Sends the typed update `U` (see [`Update`]) and waits for its answer, as `U::Output`.
    ///
    /// ```
    /// use eventual_runtime::api::{ApiContext, ApiError, Json};
    /// use eventual_runtime::prelude::*;
    /// use eventual_runtime::workflow::Update;
    ///
    /// struct AddItem;
    /// impl Update for AddItem {
    ///     const NAME: &'static str = "add_item";
    ///     type Input = String;
    ///     type Output = u32;
    /// }
    ///
    /// #[api(POST "/carts/{id}/items")]
    /// async fn add_item(
    ///     ctx: ApiContext,
    ///     id: String,
    ///     Json(item): Json<String>,
    /// ) -> Result<u32, ApiError> {
    ///     Ok(ctx.update_of::<AddItem>(&id, item).await?)
    /// }
    /// # fn main() {}
    /// ```
    pub async fn update_of<U: Update>(
        &self,
        execution_id: &str,
        input: U::Input,
    ) -> Result<U::Output, ServiceError> {
        let answer = self.update(execution_id, U::NAME, input).await?;
        decode_answer(answer, "update", U::NAME)
    }

    /// Sends signal `name` with `payload` to an execution.
    pub async fn signal(
        &self,
        execution_id: &str,
        name: &str,
        payload: impl Serialize,
    ) -> Result<(), ServiceError> {
        let payload = serde_json::to_value(payload)
            .map_err(|error| ServiceError::BadRequest(error.to_string()))?;
        self.service.signal(execution_id, name, payload, None).await
    }

    /// Asks an execution to cancel: its compensations run.
    pub async fn cancel(
        &self,
        execution_id: &str,
        reason: Option<String>,
    ) -> Result<(), ServiceError> {
        self.service.cancel(execution_id, reason).await
    }

    /// Publishes `detail` from `source`, its `detail-type` the type's name; returns its id.
    pub async fn publish<T: Serialize>(
        &self,
        source: &str,
        detail: T,
    ) -> Result<String, ServiceError> {
        let detail = serde_json::to_value(detail)
            .map_err(|error| ServiceError::BadRequest(error.to_string()))?;
        let event = OutgoingEvent::new(source, crate::error::short_type_name::<T>(), detail);
        let ids = self.publish_events(vec![event]).await?;
        ids.into_iter()
            .next()
            .ok_or_else(|| ServiceError::Internal("the engine returned no event id".to_owned()))
    }

    /// Publishes events; returns their ids.
    pub async fn publish_events(
        &self,
        events: Vec<OutgoingEvent>,
    ) -> Result<Vec<String>, ServiceError> {
        self.service.publish(events).await
    }

    /// The whole service API, for anything else.
    pub fn service(&self) -> &Arc<dyn ServiceApi> {
        &self.service
    }
}
