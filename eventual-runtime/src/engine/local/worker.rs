//! Runs task attempts and handler deliveries on the engine's tokio runtime and reports back to
//! the core.

use super::core::{CoreMsg, DeliveryDone};
use super::store::{DeliveryRow, TaskRow};
use crate::engine::client::{Client, EffectBuffer, WithClient};
use crate::entity::{with_entities, Invoke};
use crate::registry::{self, HandlerFailure};
use crate::task::runner::run_attempt;
use crate::task::TokenSigner;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use tokio::runtime::Handle;
use tracing::Instrument;

/// Where attempts and deliveries run.
#[derive(Clone)]
pub(crate) struct Workers {
    runtime: Handle,
    core: Sender<CoreMsg>,
    /// The engine's entity runner, in scope of every attempt and delivery.
    entities: Arc<dyn Invoke>,
}

impl Workers {
    pub(crate) fn new(runtime: Handle, core: Sender<CoreMsg>, entities: Arc<dyn Invoke>) -> Self {
        Workers {
            runtime,
            core,
            entities,
        }
    }

    /// Runs one attempt with its timeout and heartbeat watchdog.
    pub(crate) fn run_attempt(&self, row: TaskRow, signer: TokenSigner) {
        let core = self.core.clone();
        let span = tracing::info_span!("task", task = %row.name, execution = %row.execution_id, seq = row.seq, attempt = row.attempt);
        let entities = self.entities.clone();
        self.runtime.spawn(
            async move {
                let key = row.key();
                let result = with_entities(entities, run_attempt(row, signer)).await;
                let _ = core.send(CoreMsg::AttemptDone(key, result));
            }
            .instrument(span),
        );
    }

    /// Delivers an event to one handler; its effects go back to the core with the result.
    pub(crate) fn deliver(&self, row: DeliveryRow) {
        let core = self.core.clone();
        let span = tracing::info_span!("deliver", subscription = %row.subscription, event = %row.event.id, attempt = row.attempt);
        let entities = self.entities.clone();
        self.runtime.spawn(
            async move {
                let Some(subscription) = registry::subscription(&row.subscription) else {
                    return;
                };
                let buffer = EffectBuffer::new(row.scope(), row.event.correlation_id.clone());
                let body = (subscription.handle)(row.event.clone());
                let result: Result<(), HandlerFailure> =
                    with_entities(entities, WithClient::new(Client::new(buffer.clone()), body))
                        .await;
                let effects = buffer.take();
                let _ = core.send(CoreMsg::DeliveryDone(Box::new(DeliveryDone {
                    row,
                    result,
                    effects,
                })));
            }
            .instrument(span),
        );
    }
}
