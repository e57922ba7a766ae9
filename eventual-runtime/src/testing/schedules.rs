//! Schedules on the virtual clock: each armed schedule has one `Job::Schedule` in the timer
//! heap, so `advance` fires it at its own time, in order with every other timer. The rules
//! (first firing, overlap, names, resume) are the engine-neutral ones of [`crate::schedule`].

use super::{EnvState, Job, TestEnvironment};
use crate::schedule::{
    due_on_time, Firing, FiringOutcome, FiringRecord, ScheduleInfo, ScheduleSpec, ScheduleSpecError,
};
use crate::time::Timestamp;

impl TestEnvironment {
    /// Arms the program's static schedules (`#[workflow(schedule = ...)]`) from the start time.
    pub(super) fn with_static_schedules(self) -> Self {
        {
            let mut state = self.lock();
            for spec in ScheduleSpec::all_static() {
                if let Err(error) = state.add_schedule(spec, true) {
                    state.warnings.push(error.to_string());
                }
            }
        }
        self
    }

    /// Creates a schedule; it first fires at its expression's first firing after now.
    pub fn create_schedule(&self, spec: ScheduleSpec) -> Result<ScheduleInfo, ScheduleSpecError> {
        self.lock().add_schedule(spec, false)
    }

    /// Every schedule, static and created, by name.
    pub fn schedules(&self) -> Vec<ScheduleInfo> {
        self.lock().schedules.values().cloned().collect()
    }

    /// Stops a schedule from firing until it is resumed.
    pub fn pause_schedule(&self, name: &str) -> Result<ScheduleInfo, ScheduleSpecError> {
        let mut state = self.lock();
        let info = state.schedule_mut(name)?;
        // The armed job goes stale: `fire_schedule` ignores a paused schedule.
        info.paused = true;
        Ok(info.clone())
    }

    /// Lets a paused schedule fire again, from its next firing after now: the firings it
    /// missed while paused are not caught up.
    pub fn resume_schedule(&self, name: &str) -> Result<ScheduleInfo, ScheduleSpecError> {
        let mut state = self.lock();
        let now = state.now;
        let info = state.schedule_mut(name)?;
        let resumed = info.resume(now)?;
        let info = info.clone();
        if resumed {
            state.arm(&info);
        }
        Ok(info)
    }

    /// Deletes a schedule created at runtime (one the code declares cannot be deleted).
    pub fn delete_schedule(&self, name: &str) -> Result<(), ScheduleSpecError> {
        let mut state = self.lock();
        if state.schedule_mut(name)?.declared_in_code {
            return Err(ScheduleSpecError::Static(name.to_owned()));
        }
        state.schedules.remove(name);
        Ok(())
    }

    /// What every firing so far did, in order.
    pub fn schedule_log(&self) -> Vec<FiringRecord> {
        self.lock().schedule_log.clone()
    }
}

impl EnvState {
    fn add_schedule(
        &mut self,
        spec: ScheduleSpec,
        declared_in_code: bool,
    ) -> Result<ScheduleInfo, ScheduleSpecError> {
        if self.schedules.contains_key(&spec.name) {
            return Err(ScheduleSpecError::Exists(spec.name));
        }
        let info = ScheduleInfo::new(spec, declared_in_code, self.now)?;
        self.arm(&info);
        self.schedules.insert(info.spec.name.clone(), info.clone());
        Ok(info)
    }

    fn schedule_mut(&mut self, name: &str) -> Result<&mut ScheduleInfo, ScheduleSpecError> {
        self.schedules
            .get_mut(name)
            .ok_or_else(|| ScheduleSpecError::NotFound(name.to_owned()))
    }

    /// Puts the schedule's next firing in the timer heap.
    fn arm(&mut self, info: &ScheduleInfo) {
        if let (false, Some(at)) = (info.paused, info.next_firing) {
            let name = info.spec.name.clone();
            self.schedule(at, Job::Schedule { name, at });
        }
    }

    /// Carries out firing `at` of schedule `name`, unless the job went stale (the schedule was
    /// paused, resumed to another firing, or deleted), then arms the next firing.
    pub(super) fn fire_schedule(&mut self, name: &str, at: Timestamp) {
        let Some(info) = self.schedules.get(name).filter(|info| info.awaits(at)) else {
            return;
        };
        let Ok(expression) = info.expression() else {
            return;
        };
        let due = due_on_time(&expression, at, self.now);
        for firing in due.firings {
            let outcome = self.carry_out_firing(name, firing);
            self.schedule_log.push(FiringRecord {
                schedule: name.to_owned(),
                at: firing,
                outcome,
            });
        }
        if let Some(info) = self.schedules.get_mut(name) {
            info.next_firing = due.next;
            let info = info.clone();
            self.arm(&info);
        }
    }

    /// Starts the execution of one firing, unless the overlap policy skips it.
    fn carry_out_firing(&mut self, name: &str, at: Timestamp) -> FiringOutcome {
        let Some(info) = self.schedules.get(name).cloned() else {
            return FiringOutcome::Failed {
                reason: format!("schedule `{name}` was deleted"),
            };
        };
        let is_running = |id: &str| {
            self.executions
                .get(id)
                .is_some_and(|execution| !execution.status.is_terminal())
        };
        let execution = match info.decide_firing(at, is_running) {
            Firing::Start { execution } => execution,
            Firing::Skip { running } => {
                self.warnings.push(format!(
                    "schedule `{name}` skipped its firing at {at}: execution `{running}` still runs"
                ));
                return FiringOutcome::SkippedOverlap { running };
            }
        };
        let input = info.spec.input.clone();
        match self.start_execution(&info.spec.workflow, Some(execution), input, None, None) {
            Ok(execution) => {
                if let Some(info) = self.schedules.get_mut(name) {
                    info.last_execution = Some(execution.clone());
                }
                FiringOutcome::Started { execution }
            }
            Err(error) => FiringOutcome::Failed {
                reason: error.to_string(),
            },
        }
    }
}
