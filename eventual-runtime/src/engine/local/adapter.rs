//! The local engine behind the engine-neutral interfaces: the service API (served by
//! [`api::http`](crate::engine::api::http)) and [`Engine`], so engine-neutral scenarios run
//! on it.

use super::EngineHandle;
use crate::engine::api::{ApiResult, ExecutionPage, ExecutionRow, ListFilter, ServiceApi, Started};
use crate::engine::client::StartExecution;
use crate::engine::kernel::delivery::DeadLetter;
use crate::engine::kernel::update::{SendUpdate, UpdateReply};
use crate::engine::ServiceError;
use crate::error::Failure;
use crate::event::OutgoingEvent;
use crate::schedule::{ScheduleInfo, ScheduleSpec};
use crate::task::CompletionToken;
use crate::workflow::{HistoryEvent, Outcome};
use futures::FutureExt;
use serde_json::Value;

/// A ready answer as an API future.
fn ready<'a, T: Send + 'a>(result: Result<T, ServiceError>) -> ApiResult<'a, T> {
    futures::future::ready(result).boxed()
}

impl ServiceApi for EngineHandle {
    fn metrics_text(&self) -> Option<String> {
        Some(EngineHandle::metrics_text(self))
    }

    fn start(&self, request: StartExecution) -> ApiResult<'_, Started> {
        EngineHandle::start(self, request).boxed()
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

    fn run_history<'a>(
        &'a self,
        execution_id: &'a str,
        run_id: &'a str,
    ) -> ApiResult<'a, Vec<HistoryEvent>> {
        ready(EngineHandle::run_history(self, execution_id, run_id))
    }

    fn signal<'a>(
        &'a self,
        execution_id: &'a str,
        name: &'a str,
        payload: Value,
        signal_id: Option<String>,
    ) -> ApiResult<'a, ()> {
        EngineHandle::signal(self, execution_id, name, payload, signal_id).boxed()
    }

    fn update<'a>(
        &'a self,
        execution_id: &'a str,
        update: SendUpdate,
    ) -> ApiResult<'a, UpdateReply> {
        EngineHandle::update(self, execution_id, update).boxed()
    }

    fn cancel<'a>(&'a self, execution_id: &'a str, reason: Option<String>) -> ApiResult<'a, ()> {
        EngineHandle::cancel(self, execution_id, reason).boxed()
    }

    fn terminate<'a>(&'a self, execution_id: &'a str, reason: Option<String>) -> ApiResult<'a, ()> {
        EngineHandle::terminate(self, execution_id, reason).boxed()
    }

    fn publish(&self, events: Vec<OutgoingEvent>) -> ApiResult<'_, Vec<String>> {
        EngineHandle::publish(self, events, None).boxed()
    }

    fn dead_letters(&self) -> ApiResult<'_, Vec<DeadLetter>> {
        ready(EngineHandle::dead_letters(self))
    }

    fn redrive<'a>(&'a self, id: Option<&'a str>) -> ApiResult<'a, usize> {
        EngineHandle::redrive(self, id).boxed()
    }

    fn complete_task(
        &self,
        token: CompletionToken,
        result: Result<Value, Failure>,
    ) -> ApiResult<'_, bool> {
        EngineHandle::complete_task(self, token, result).boxed()
    }

    fn wait<'a>(&'a self, execution_id: &'a str) -> ApiResult<'a, Outcome> {
        EngineHandle::wait(self, execution_id).boxed()
    }

    fn create_schedule(&self, spec: ScheduleSpec) -> ApiResult<'_, ScheduleInfo> {
        EngineHandle::create_schedule(self, spec).boxed()
    }

    fn schedules(&self) -> ApiResult<'_, Vec<ScheduleInfo>> {
        EngineHandle::schedules(self).boxed()
    }

    fn pause_schedule<'a>(&'a self, name: &'a str) -> ApiResult<'a, ScheduleInfo> {
        EngineHandle::pause_schedule(self, name).boxed()
    }

    fn resume_schedule<'a>(&'a self, name: &'a str) -> ApiResult<'a, ScheduleInfo> {
        EngineHandle::resume_schedule(self, name).boxed()
    }

    fn delete_schedule<'a>(&'a self, name: &'a str) -> ApiResult<'a, ()> {
        EngineHandle::delete_schedule(self, name).boxed()
    }
}
