//! The engine as handlers see it: start workflows, signal executions, publish events.
//!
//! Inside an `#[on_event]` handler, [`Client::current`] returns a client whose effects are
//! kept with the delivery and carried out only if the handler succeeds (the outbox rule: a
//! failed, retried handler leaves no phantom workflow, signal or event behind).

use crate::engine::error::ServiceError;
use crate::event::OutgoingEvent;
use crate::scoped::{current, WithCurrent};
use crate::workflow::Workflow;
use serde::Serialize;
use serde_json::Value;
use std::cell::RefCell;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// A request to start an execution.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct StartExecution {
    /// The workflow's registered name.
    pub workflow: String,
    /// A caller-chosen execution name: starting the same name twice returns the same execution.
    pub execution_name: Option<String>,
    /// The input.
    pub input: Value,
    /// The correlation id to carry on.
    pub correlation_id: Option<String>,
}

/// One effect a handler asked for.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Start an execution with this id.
    Start {
        /// The id the caller was given.
        execution_id: String,
        /// The request.
        request: StartExecution,
    },
    /// Signal an execution.
    Signal {
        /// The receiver.
        execution_id: String,
        /// The signal's name.
        name: String,
        /// Its payload.
        payload: Value,
        /// De-duplication id.
        signal_id: String,
    },
    /// Publish events.
    Publish(Vec<OutgoingEvent>),
}

/// Records a handler's effects for the engine to carry out after the handler succeeded.
#[derive(Clone, Default)]
pub struct EffectBuffer {
    effects: Arc<Mutex<Vec<Effect>>>,
    /// Ids of effects are derived from the delivery, so a redelivered handler asks for the same
    /// execution ids and signal ids, and the engine de-duplicates.
    scope: String,
    correlation_id: Option<String>,
}

impl EffectBuffer {
    /// A buffer for one delivery; `scope` (the event id and subscription) seeds effect ids.
    pub fn new(scope: String, correlation_id: Option<String>) -> Self {
        EffectBuffer {
            effects: Arc::default(),
            scope,
            correlation_id,
        }
    }

    /// The effects recorded so far.
    pub fn take(&self) -> Vec<Effect> {
        std::mem::take(&mut self.effects.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The position the next effect will take: part of its deterministic id.
    fn next_index(&self) -> usize {
        self.effects
            .lock()
            .map(|effects| effects.len())
            .unwrap_or_default()
    }

    fn push(&self, effect: Effect) -> usize {
        let mut effects = self.effects.lock().unwrap_or_else(|p| p.into_inner());
        effects.push(effect);
        effects.len()
    }
}

/// A handle on the engine.
#[derive(Clone)]
pub struct Client {
    buffer: EffectBuffer,
}

thread_local! {
    static CURRENT: RefCell<Option<Client>> = const { RefCell::new(None) };
}

impl Client {
    /// A client that records into `buffer`.
    pub fn new(buffer: EffectBuffer) -> Self {
        Client { buffer }
    }

    /// The client of the handler being polled on this thread.
    ///
    /// ```no_run
    /// use eventual_runtime::prelude::*;
    /// use eventual_runtime::engine::client::Client;
    /// # #[derive(serde::Serialize, serde::Deserialize)] struct OrderPlaced { id: String }
    /// # #[workflow] async fn ship(ctx: WorkflowContext, id: String) -> Result<(), WorkflowError> { Ok(()) }
    /// #[on_event(pattern = r#"{"detail-type": ["OrderPlaced"]}"#)]
    /// async fn start_shipping(event: Event<OrderPlaced>) -> Result<(), WorkflowError> {
    ///     let client = Client::current().expect("inside a handler");
    ///     client.start::<ship>(Some(format!("ship-{}", event.detail.id)), &event.detail.id)?;
    ///     Ok(())
    /// }
    /// ```
    pub fn current() -> Option<Client> {
        current(&CURRENT)
    }

    /// Starts workflow `W`; returns the execution id. With `execution_name`, a second start of
    /// the same name is the same execution.
    pub fn start<W: Workflow>(
        &self,
        execution_name: Option<String>,
        input: &W::Input,
    ) -> Result<String, ServiceError> {
        let input =
            serde_json::to_value(input).map_err(|e| ServiceError::InvalidInput(e.to_string()))?;
        self.start_by_name(W::NAME, execution_name, input)
    }

    /// Starts a workflow by registered name.
    pub fn start_by_name(
        &self,
        workflow: &str,
        execution_name: Option<String>,
        input: Value,
    ) -> Result<String, ServiceError> {
        if crate::registry::workflow(workflow).is_none() {
            return Err(ServiceError::UnknownWorkflow(workflow.to_owned()));
        }
        let index = self.buffer.next_index();
        let execution_id = execution_name
            .clone()
            .unwrap_or_else(|| format!("{workflow}-{}/{index}", self.buffer.scope));
        self.buffer.push(Effect::Start {
            execution_id: execution_id.clone(),
            request: StartExecution {
                workflow: workflow.to_owned(),
                execution_name: Some(execution_id.clone()),
                input,
                correlation_id: self.buffer.correlation_id.clone(),
            },
        });
        Ok(execution_id)
    }

    /// Sends signal `name` to an execution.
    pub fn signal(
        &self,
        execution_id: &str,
        name: &str,
        payload: impl Serialize,
    ) -> Result<(), ServiceError> {
        let payload =
            serde_json::to_value(payload).map_err(|e| ServiceError::InvalidInput(e.to_string()))?;
        let index = self.buffer.next_index();
        self.buffer.push(Effect::Signal {
            execution_id: execution_id.to_owned(),
            name: name.to_owned(),
            payload,
            signal_id: format!("{}/{index}", self.buffer.scope),
        });
        Ok(())
    }

    /// Publishes an event with `detail-type` = `T`'s type name.
    pub fn publish<T: Serialize>(&self, source: &str, detail: &T) -> Result<(), ServiceError> {
        let detail =
            serde_json::to_value(detail).map_err(|e| ServiceError::InvalidInput(e.to_string()))?;
        let detail_type = crate::error::short_type_name::<T>();
        self.publish_events(vec![OutgoingEvent::new(source, detail_type, detail)])
    }

    /// Publishes events.
    pub fn publish_events(&self, events: Vec<OutgoingEvent>) -> Result<(), ServiceError> {
        for event in &events {
            event
                .check_size()
                .map_err(|error| ServiceError::InvalidInput(error.to_string()))?;
        }
        self.buffer.push(Effect::Publish(events));
        Ok(())
    }
}

/// Polls a handler with its [`Client`] reachable through [`Client::current`].
pub type WithClient<F> = WithCurrent<Client, F>;

impl<F: Future> WithCurrent<Client, F> {
    /// Wraps `body` so that each poll sees `client`.
    pub fn new(client: Client, body: F) -> Self {
        WithCurrent::scoped(&CURRENT, client, body)
    }
}
