//! Schedules on the local engine: the core owns them like live executions. A firing's starts
//! and the schedule's new state go into the same batch, so they commit together; the
//! executions' names are fixed by the firing, so a firing carried out again (catch-up after a
//! crash) finds its execution and starts nothing new.
//!
//! The rules (first firing, catch-up, overlap, names) are [`crate::schedule`]'s; this file
//! stores and arms.

use super::{Core, Reply, TimerJob};
use crate::engine::client::StartExecution;
use crate::engine::local::store::WriteOp;
use crate::engine::ServiceError;
use crate::schedule::{
    due_after_downtime, due_on_time, first_firing, Due, Firing, ScheduleExpression, ScheduleInfo,
    ScheduleSpec, ScheduleSpecError,
};
use crate::time::Timestamp;
use std::collections::BTreeMap;
use tracing::warn;

/// A request about schedules, from the service API.
pub(crate) enum ScheduleRequest {
    Create(ScheduleSpec, Reply<ScheduleInfo>),
    List(Reply<Vec<ScheduleInfo>>),
    Pause(String, Reply<ScheduleInfo>),
    Resume(String, Reply<ScheduleInfo>),
    Delete(String, Reply<()>),
}

impl ScheduleRequest {
    /// Answers with `error` at once, unless the request only reads: then it is given back.
    pub(super) fn refuse_write(self, error: impl Fn() -> ServiceError) -> Option<Self> {
        match self {
            ScheduleRequest::Create(_, reply)
            | ScheduleRequest::Pause(_, reply)
            | ScheduleRequest::Resume(_, reply) => drop(reply.send(Err(error()))),
            ScheduleRequest::Delete(_, reply) => drop(reply.send(Err(error()))),
            list @ ScheduleRequest::List(_) => return Some(list),
        }
        None
    }
}

impl Core {
    /// At open: the stored schedules made to follow the code (new static schedules added,
    /// changed ones updated, removed ones deleted), then the firings missed while the engine
    /// was down carried out as each schedule's catch-up policy decides.
    pub(super) fn recover_schedules(&mut self, stored: Vec<ScheduleInfo>, now: Timestamp) {
        let mut schedules: BTreeMap<String, ScheduleInfo> = stored
            .into_iter()
            .map(|info| (info.spec.name.clone(), info))
            .collect();
        let declared = ScheduleSpec::all_static();
        schedules.retain(|name, info| {
            let kept = !info.declared_in_code || declared.iter().any(|spec| spec.name == *name);
            if !kept {
                self.ops
                    .push(WriteOp::DeleteSchedule { name: name.clone() });
            }
            kept
        });
        for spec in declared {
            let name = spec.name.clone();
            match schedules.get_mut(&name) {
                Some(info) if info.declared_in_code && info.spec == spec => {}
                // The code changed the schedule: a new expression counts from now.
                Some(info) if info.declared_in_code => {
                    if info.spec.expression != spec.expression {
                        info.next_firing = ScheduleExpression::parse(&spec.expression)
                            .ok()
                            .and_then(|expression| first_firing(&expression, now));
                    }
                    info.spec = spec;
                    self.ops.push(WriteOp::UpsertSchedule(info.clone()));
                }
                existing => {
                    if existing.is_some() {
                        warn!(schedule = %name, "a schedule created at runtime has the name of one the code declares; the code's replaces it");
                    }
                    match ScheduleInfo::new(spec, true, now) {
                        Ok(info) => {
                            self.ops.push(WriteOp::UpsertSchedule(info.clone()));
                            schedules.insert(name, info);
                        }
                        Err(error) => warn!(schedule = %name, %error, "static schedule refused"),
                    }
                }
            }
        }
        self.schedules = schedules;
        let names: Vec<String> = self.schedules.keys().cloned().collect();
        for name in names {
            let Some(info) = self.schedules.get(&name) else {
                continue;
            };
            let missed = info.next_firing.filter(|next| !info.paused && *next <= now);
            match (missed, info.expression()) {
                (Some(next), Ok(expression)) => {
                    let due = due_after_downtime(&expression, next, now, info.spec.catch_up);
                    self.carry_out_firings(&name, due);
                }
                _ => self.arm_schedule(&name),
            }
        }
    }

    /// A schedule's timer came due at `at`: carries out its firing unless the timer went
    /// stale (the schedule was paused, resumed to another firing, or deleted).
    pub(super) fn fire_schedule(&mut self, name: &str, at: Timestamp) {
        let Some(info) = self.schedules.get(name).filter(|info| info.awaits(at)) else {
            return;
        };
        match info.expression() {
            Ok(expression) => {
                let due = due_on_time(&expression, at, super::now());
                self.carry_out_firings(name, due);
            }
            Err(error) => warn!(schedule = name, %error, "schedule expression no longer parses"),
        }
    }

    pub(super) fn handle_schedule_request(&mut self, request: ScheduleRequest) {
        match request {
            ScheduleRequest::Create(spec, reply) => {
                let result = self.create_schedule(spec);
                self.reply_after_commit(reply, result);
            }
            ScheduleRequest::List(reply) => {
                let _ = reply.send(Ok(self.schedules.values().cloned().collect()));
            }
            ScheduleRequest::Pause(name, reply) => {
                let result = self.change_schedule(&name, |info, _| {
                    info.paused = true;
                    Ok(())
                });
                self.reply_after_commit(reply, result);
            }
            ScheduleRequest::Resume(name, reply) => {
                let result = self.change_schedule(&name, |info, now| {
                    info.resume(now).map(drop).map_err(ScheduleSpecError::from)
                });
                self.reply_after_commit(reply, result);
            }
            ScheduleRequest::Delete(name, reply) => {
                let result = self.delete_schedule(&name);
                self.reply_after_commit(reply, result);
            }
        }
    }

    fn create_schedule(&mut self, spec: ScheduleSpec) -> Result<ScheduleInfo, ServiceError> {
        if self.schedules.contains_key(&spec.name) {
            return Err(ScheduleSpecError::Exists(spec.name).into());
        }
        let info = ScheduleInfo::new(spec, false, super::now())?;
        let name = info.spec.name.clone();
        self.schedules.insert(name.clone(), info.clone());
        self.store_and_arm(&name);
        Ok(info)
    }

    fn change_schedule(
        &mut self,
        name: &str,
        change: impl FnOnce(&mut ScheduleInfo, Timestamp) -> Result<(), ScheduleSpecError>,
    ) -> Result<ScheduleInfo, ServiceError> {
        let info = self
            .schedules
            .get_mut(name)
            .ok_or_else(|| ScheduleSpecError::NotFound(name.to_owned()))?;
        change(info, super::now())?;
        let info = info.clone();
        self.store_and_arm(name);
        Ok(info)
    }

    fn delete_schedule(&mut self, name: &str) -> Result<(), ServiceError> {
        match self.schedules.get(name) {
            None => Err(ScheduleSpecError::NotFound(name.to_owned()).into()),
            Some(info) if info.declared_in_code => {
                Err(ScheduleSpecError::Static(name.to_owned()).into())
            }
            Some(_) => {
                // Its armed timer goes stale: `fire_schedule` finds no schedule.
                self.schedules.remove(name);
                self.ops.push(WriteOp::DeleteSchedule {
                    name: name.to_owned(),
                });
                Ok(())
            }
        }
    }

    /// Starts the executions of `due.firings`, then stores the schedule, waiting for
    /// `due.next`, in the same batch.
    fn carry_out_firings(&mut self, name: &str, due: Due) {
        for at in due.firings {
            self.carry_out_firing(name, at);
        }
        if let Some(info) = self.schedules.get_mut(name) {
            info.next_firing = due.next;
        }
        self.store_and_arm(name);
    }

    fn carry_out_firing(&mut self, name: &str, at: Timestamp) {
        let Some(info) = self.schedules.get(name) else {
            return;
        };
        let execution = match info.decide_firing(at, |id| self.executions.contains_key(id)) {
            Firing::Start { execution } => execution,
            Firing::Skip { running } => {
                warn!(schedule = name, %at, %running, "firing skipped: the previous execution still runs");
                return;
            }
        };
        let request = StartExecution {
            workflow: info.spec.workflow.clone(),
            execution_name: Some(execution),
            input: info.spec.input.clone(),
            correlation_id: None,
        };
        match self.start_execution(request, None) {
            Ok(started) => {
                if let Some(info) = self.schedules.get_mut(name) {
                    info.last_execution = Some(started.execution_id);
                }
            }
            Err(error) => {
                warn!(schedule = name, %at, %error, "firing could not start its workflow")
            }
        }
    }

    /// Writes the schedule's state into the round's batch and arms its next firing.
    fn store_and_arm(&mut self, name: &str) {
        if let Some(info) = self.schedules.get(name) {
            self.ops.push(WriteOp::UpsertSchedule(info.clone()));
        }
        self.arm_schedule(name);
    }

    fn arm_schedule(&mut self, name: &str) {
        let Some(info) = self.schedules.get(name) else {
            return;
        };
        if let (false, Some(at)) = (info.paused, info.next_firing) {
            let name = name.to_owned();
            self.push_timer(at, TimerJob::Schedule { name, at });
        }
    }
}
