//! Schedules: workflows started on a `rate(...)` or `cron(...)` expression, in EventBridge
//! Scheduler's syntax.
//!
//! A schedule is either static (`#[workflow(schedule = "...")]`, named after its workflow) or
//! created at runtime through the service API. Every engine keeps the same state per schedule
//! ([`ScheduleInfo`]) and asks the functions here what to do: which firings are due
//! ([`due_on_time`], [`due_after_downtime`]), whether a firing may start while the previous
//! execution runs ([`OverlapPolicy::permits`]), and the execution a firing starts
//! ([`execution_name`]). Engines store and transport; the rules live here once.

pub use eventual_schedule::{ScheduleError, ScheduleExpression};

use crate::registry::{self, WorkflowDescriptor};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Whether a firing starts while the execution started by the previous firing still runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverlapPolicy {
    /// The firing is skipped (and logged) while the previous execution runs.
    #[default]
    Skip,
    /// Every firing starts an execution.
    Allow,
}

impl OverlapPolicy {
    /// Whether a firing starts, given whether the previous execution is still running.
    pub fn permits(self, previous_still_running: bool) -> bool {
        match self {
            OverlapPolicy::Skip => !previous_still_running,
            OverlapPolicy::Allow => true,
        }
    }
}

/// What happens to the firings missed while the engine was down.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUpPolicy {
    /// One firing stands for all the missed ones.
    #[default]
    Once,
    /// Every missed firing starts its own execution, oldest first.
    All,
    /// Missed firings are dropped; the schedule waits for its next future firing.
    None,
}

/// A `#[workflow(schedule = "...", overlap = "...", catch_up = "...")]`, as the macro
/// registers it. The expression was checked at compile time.
#[derive(Debug)]
pub struct StaticSchedule {
    /// The expression, as EventBridge Scheduler takes it.
    pub expression: &'static str,
    /// The overlap policy (default: skip).
    pub overlap: OverlapPolicy,
    /// The catch-up policy (default: once).
    pub catch_up: CatchUpPolicy,
    /// The input of a scheduled start: the workflow's `Input::default()`, as JSON.
    pub input: fn() -> Value,
}

/// What a schedule starts, how often, and with which policies: the part a user writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduleSpec {
    /// The schedule's name; a static schedule is named after its workflow.
    pub name: String,
    /// The registered workflow it starts.
    pub workflow: String,
    /// `rate(...)` or `cron(...)`.
    pub expression: String,
    /// The input of every execution it starts.
    #[serde(default)]
    pub input: Value,
    /// The overlap policy.
    #[serde(default)]
    pub overlap: OverlapPolicy,
    /// The catch-up policy.
    #[serde(default)]
    pub catch_up: CatchUpPolicy,
}

/// Why a schedule cannot be created.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleSpecError {
    /// The expression does not parse.
    #[error(transparent)]
    Expression(#[from] ScheduleError),
    /// No workflow is registered under that name.
    #[error("schedule `{schedule}`: no workflow is registered as `{workflow}`")]
    UnknownWorkflow {
        /// The schedule.
        schedule: String,
        /// The workflow it names.
        workflow: String,
    },
    /// The name is not usable in execution names.
    #[error("schedule name `{0}` must be 1 to 64 characters of letters, digits, `_`, `-` and `.`")]
    InvalidName(String),
    /// A schedule of that name exists.
    #[error("a schedule named `{0}` already exists")]
    Exists(String),
    /// No schedule of that name exists.
    #[error("no schedule named `{0}`")]
    NotFound(String),
    /// A static schedule cannot be deleted: the code declares it again at every start.
    #[error(
        "schedule `{0}` is declared by `#[workflow(schedule = ...)]` and cannot be deleted; \
         pause it, or remove it from the code"
    )]
    Static(String),
}

impl ScheduleSpec {
    /// The static schedule of `workflow`, if it has one.
    pub fn from_static(workflow: &WorkflowDescriptor) -> Option<ScheduleSpec> {
        let schedule = workflow.schedule.as_ref()?;
        Some(ScheduleSpec {
            name: workflow.name.to_string(),
            workflow: workflow.name.to_string(),
            expression: schedule.expression.to_string(),
            input: (schedule.input)(),
            overlap: schedule.overlap,
            catch_up: schedule.catch_up,
        })
    }

    /// Every static schedule of the program.
    pub fn all_static() -> Vec<ScheduleSpec> {
        registry::WORKFLOWS
            .iter()
            .filter_map(ScheduleSpec::from_static)
            .collect()
    }

    /// Checks the name, the workflow and the expression; returns the parsed expression.
    pub fn validate(&self) -> Result<ScheduleExpression, ScheduleSpecError> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !name_ok {
            return Err(ScheduleSpecError::InvalidName(self.name.clone()));
        }
        if registry::workflow(&self.workflow).is_none() {
            return Err(ScheduleSpecError::UnknownWorkflow {
                schedule: self.name.clone(),
                workflow: self.workflow.clone(),
            });
        }
        Ok(ScheduleExpression::parse(&self.expression)?)
    }
}

/// A schedule and where it stands, as engines store and list it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduleInfo {
    /// What it starts and how.
    #[serde(flatten)]
    pub spec: ScheduleSpec,
    /// Whether the code declares it (`#[workflow(schedule = ...)]`): such a schedule follows
    /// the code at every start and cannot be deleted.
    pub declared_in_code: bool,
    /// Whether it is paused (a paused schedule does not fire; resuming does not catch up).
    pub paused: bool,
    /// Its next firing; `None` when the expression never fires again.
    pub next_firing: Option<Timestamp>,
    /// The execution started by its latest firing, which the overlap policy looks at.
    pub last_execution: Option<String>,
}

impl ScheduleInfo {
    /// A new schedule, validated, waiting for its first firing after `now`.
    pub fn new(
        spec: ScheduleSpec,
        declared_in_code: bool,
        now: Timestamp,
    ) -> Result<ScheduleInfo, ScheduleSpecError> {
        let expression = spec.validate()?;
        Ok(ScheduleInfo {
            next_firing: first_firing(&expression, now),
            spec,
            declared_in_code,
            paused: false,
            last_execution: None,
        })
    }

    /// The parsed expression (validated when the schedule was made).
    pub fn expression(&self) -> Result<ScheduleExpression, ScheduleError> {
        ScheduleExpression::parse(&self.spec.expression)
    }

    /// Whether a firing armed for `at` is still the one to carry out: not once the schedule
    /// was paused, or resumed to another firing.
    pub fn awaits(&self, at: Timestamp) -> bool {
        !self.paused && self.next_firing == Some(at)
    }

    /// Resumes a paused schedule at `now`, from its next firing after `now`: the firings
    /// missed while paused are not caught up. Returns whether it was paused.
    pub fn resume(&mut self, now: Timestamp) -> Result<bool, ScheduleError> {
        if !self.paused {
            return Ok(false);
        }
        self.next_firing = first_firing(&self.expression()?, now);
        self.paused = false;
        Ok(true)
    }

    /// What firing `at` does, given whether the execution of the previous firing still runs
    /// (`is_running` is asked about it).
    pub fn decide_firing(&self, at: Timestamp, is_running: impl Fn(&str) -> bool) -> Firing {
        let running = self
            .last_execution
            .as_deref()
            .filter(|previous| is_running(previous));
        match running {
            Some(running) if !self.spec.overlap.permits(true) => Firing::Skip {
                running: running.to_owned(),
            },
            _ => Firing::Start {
                execution: execution_name(&self.spec.name, at),
            },
        }
    }
}

/// What one firing does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Firing {
    /// Start this execution (named by [`execution_name`]).
    Start {
        /// The execution's name.
        execution: String,
    },
    /// Skip: the previous execution still runs and the overlap policy is skip.
    Skip {
        /// The execution still running.
        running: String,
    },
}

/// The execution a firing starts: named by the schedule and the firing time, so a firing
/// carried out twice (after a crash between the start and the schedule's bookkeeping) finds
/// its execution already there and starts nothing.
pub fn execution_name(schedule: &str, firing: Timestamp) -> String {
    format!("{schedule}-schedule-{}", firing.as_millis())
}

/// What became of one firing, as an engine logs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiringRecord {
    /// The schedule.
    pub schedule: String,
    /// The firing time.
    pub at: Timestamp,
    /// What the firing did.
    pub outcome: FiringOutcome,
}

/// What a firing did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FiringOutcome {
    /// It started this execution.
    Started {
        /// The execution ([`execution_name`]).
        execution: String,
    },
    /// It was skipped because the previous execution still runs ([`OverlapPolicy::Skip`]).
    SkippedOverlap {
        /// The execution still running.
        running: String,
    },
    /// It could not start the workflow.
    Failed {
        /// Why.
        reason: String,
    },
}

/// What a schedule does now: start executions for `firings` (oldest first), then wait for
/// `next`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    /// The firings to carry out, oldest first.
    pub firings: Vec<Timestamp>,
    /// The firing to wait for afterwards.
    pub next: Option<Timestamp>,
}

/// The firings due at `now` while the engine runs: every firing from `next` up to `now`
/// (normally one; several only if the engine fell behind).
pub fn due_on_time(expression: &ScheduleExpression, next: Timestamp, now: Timestamp) -> Due {
    let (missed, next) = firings_until(expression, next, now);
    Due {
        firings: missed,
        next,
    }
}

/// The firings due when an engine opens at `now` and finds `next` in the past: the catch-up
/// policy decides which of the missed firings to carry out.
pub fn due_after_downtime(
    expression: &ScheduleExpression,
    next: Timestamp,
    now: Timestamp,
    catch_up: CatchUpPolicy,
) -> Due {
    let (mut missed, next) = firings_until(expression, next, now);
    match catch_up {
        CatchUpPolicy::All => {}
        // The latest missed firing stands for all of them: its input and name are the
        // freshest.
        CatchUpPolicy::Once => missed = missed.pop().into_iter().collect(),
        CatchUpPolicy::None => missed.clear(),
    }
    Due {
        firings: missed,
        next,
    }
}

/// The first firing of a schedule created or resumed at `now`.
pub fn first_firing(expression: &ScheduleExpression, now: Timestamp) -> Option<Timestamp> {
    expression
        .next_after(now.as_millis())
        .map(Timestamp::from_millis)
}

/// The firings from `next` up to and including `now`, and the first one after `now`.
fn firings_until(
    expression: &ScheduleExpression,
    next: Timestamp,
    now: Timestamp,
) -> (Vec<Timestamp>, Option<Timestamp>) {
    let mut firings = Vec::new();
    let mut cursor = Some(next);
    while let Some(firing) = cursor.filter(|firing| *firing <= now) {
        firings.push(firing);
        cursor = expression
            .next_after(firing.as_millis())
            .map(Timestamp::from_millis);
    }
    (firings, cursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60_000;

    fn every_minute() -> ScheduleExpression {
        ScheduleExpression::parse("rate(1 minute)").unwrap()
    }

    fn at(minutes: u64) -> Timestamp {
        Timestamp::from_millis(minutes * MINUTE)
    }

    #[test]
    fn on_time_fires_what_is_due_and_waits_for_the_next() {
        let due = due_on_time(&every_minute(), at(5), at(5));
        assert_eq!(due.firings, vec![at(5)]);
        assert_eq!(due.next, Some(at(6)));
        let early = due_on_time(
            &every_minute(),
            at(5),
            Timestamp::from_millis(5 * MINUTE - 1),
        );
        assert_eq!(early.firings, vec![]);
        assert_eq!(early.next, Some(at(5)));
    }

    #[test]
    fn after_downtime_the_catch_up_policy_picks_the_missed_firings() {
        let missed = |policy| due_after_downtime(&every_minute(), at(5), at(8), policy);
        assert_eq!(
            missed(CatchUpPolicy::All).firings,
            vec![at(5), at(6), at(7), at(8)]
        );
        assert_eq!(missed(CatchUpPolicy::Once).firings, vec![at(8)]);
        assert_eq!(missed(CatchUpPolicy::None).firings, vec![]);
        for policy in [CatchUpPolicy::All, CatchUpPolicy::Once, CatchUpPolicy::None] {
            assert_eq!(missed(policy).next, Some(at(9)));
        }
    }

    #[test]
    fn overlap_skip_waits_for_the_previous_execution() {
        assert!(OverlapPolicy::Skip.permits(false));
        assert!(!OverlapPolicy::Skip.permits(true));
        assert!(OverlapPolicy::Allow.permits(true));
    }

    #[test]
    fn execution_names_are_fixed_by_the_firing() {
        assert_eq!(execution_name("nightly", at(2)), "nightly-schedule-120000");
    }
}
