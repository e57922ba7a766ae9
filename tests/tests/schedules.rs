//! Schedules: static ones declared with `#[workflow(schedule = ...)]` and ones created at
//! runtime, fired on the TestEnvironment's virtual clock with their overlap policy.
//!
//! The environment's clock starts at 2026-01-01T00:00:00Z.

use eventual_runtime::engine::ExecutionStatus;
use eventual_runtime::prelude::*;
use eventual_runtime::schedule::{
    CatchUpPolicy, FiringOutcome, FiringRecord, OverlapPolicy, ScheduleSpec, ScheduleSpecError,
};
use eventual_runtime::testing::TestEnvironment;
use eventual_runtime::workflow::Outcome;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Runs 90 minutes, so every other hourly firing finds it still running.
#[workflow(schedule = "rate(1 hour)")]
async fn hourly_report(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    ctx.sleep(Duration::from_secs(90 * 60)).await;
    Ok(())
}

#[derive(Default, Serialize, Deserialize)]
struct SweepOptions {
    dry_run: bool,
}

/// Runs a day and an hour, so consecutive noon firings overlap; overlap is allowed.
#[workflow(schedule = "cron(0 12 * * ? *)", overlap = "allow")]
async fn noon_sweep(ctx: WorkflowContext, options: SweepOptions) -> Result<bool, WorkflowError> {
    ctx.sleep(Duration::from_secs(25 * 3600)).await;
    Ok(options.dry_run)
}

/// Not scheduled by the code: the runtime schedules below start it.
#[workflow]
async fn greet(_ctx: WorkflowContext, name: String) -> Result<String, WorkflowError> {
    Ok(format!("hello {name}"))
}

const HOUR: Duration = Duration::from_secs(3600);
/// 2026-01-01T00:00:00Z, the environment's start, in milliseconds.
const START_MS: u64 = 1_767_225_600_000;

fn at_hour(hour: u64) -> Timestamp {
    Timestamp::from_millis(START_MS + hour * 3_600_000)
}

fn log_of(env: &TestEnvironment, schedule: &str) -> Vec<FiringRecord> {
    env.schedule_log()
        .into_iter()
        .filter(|record| record.schedule == schedule)
        .collect()
}

fn started(execution: &str) -> FiringOutcome {
    FiringOutcome::Started {
        execution: execution.to_owned(),
    }
}

fn greeting_schedule(name: &str, expression: &str) -> ScheduleSpec {
    ScheduleSpec {
        name: name.to_owned(),
        workflow: "greet".to_owned(),
        expression: expression.to_owned(),
        input: json!("ada"),
        overlap: OverlapPolicy::Skip,
        catch_up: CatchUpPolicy::Once,
    }
}

#[tokio::test]
async fn a_static_schedule_fires_on_the_virtual_clock_and_skips_overlapping_firings() {
    let env = TestEnvironment::new();
    let listed = env.schedules();
    let hourly = listed
        .iter()
        .find(|info| info.spec.name == "hourly_report")
        .unwrap();
    assert_eq!(hourly.next_firing, Some(at_hour(1)));
    assert_eq!(hourly.spec.overlap, OverlapPolicy::Skip);

    env.advance(4 * HOUR).await;

    let first = format!("hourly_report-schedule-{}", at_hour(1).as_millis());
    let third = format!("hourly_report-schedule-{}", at_hour(3).as_millis());
    let outcomes: Vec<(Timestamp, FiringOutcome)> = log_of(&env, "hourly_report")
        .into_iter()
        .map(|record| (record.at, record.outcome))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            (at_hour(1), started(&first)),
            (
                at_hour(2),
                FiringOutcome::SkippedOverlap {
                    running: first.clone()
                }
            ),
            (at_hour(3), started(&third)),
            (
                at_hour(4),
                FiringOutcome::SkippedOverlap {
                    running: third.clone()
                }
            ),
        ]
    );
    assert_eq!(env.status(&first), Some(ExecutionStatus::Succeeded));
    assert!(env
        .warnings()
        .iter()
        .any(|warning| warning.contains("schedule `hourly_report` skipped its firing")));
}

#[tokio::test]
async fn overlap_allow_starts_every_firing_with_the_default_input() {
    let env = TestEnvironment::new();
    // To 36:30, between the second firing (36:00) and the first execution's end (37:00).
    env.advance(36 * HOUR + HOUR / 2).await;
    let noon = |hour| format!("noon_sweep-schedule-{}", at_hour(hour).as_millis());
    let outcomes: Vec<FiringOutcome> = log_of(&env, "noon_sweep")
        .into_iter()
        .map(|record| record.outcome)
        .collect();
    assert_eq!(outcomes, vec![started(&noon(12)), started(&noon(36))]);
    // The first still runs (25 h) when the second starts.
    assert_eq!(env.status(&noon(12)), Some(ExecutionStatus::Running));
    assert_eq!(env.status(&noon(36)), Some(ExecutionStatus::Running));
    env.advance(25 * HOUR).await;
    assert_eq!(
        env.outcome(&noon(12)),
        Some(Outcome::Succeeded {
            result: json!(false)
        }),
        "the input was `SweepOptions::default()`"
    );
}

#[tokio::test]
async fn runtime_schedules_are_created_paused_resumed_and_deleted() {
    let env = TestEnvironment::new();
    let created = env
        .create_schedule(greeting_schedule("greeter", "rate(5 minutes)"))
        .unwrap();
    let five_minutes = Timestamp::from_millis(START_MS + 5 * 60_000);
    assert_eq!(created.next_firing, Some(five_minutes));

    env.advance(Duration::from_secs(11 * 60)).await;
    let execution = format!("greeter-schedule-{}", five_minutes.as_millis());
    assert_eq!(log_of(&env, "greeter").len(), 2);
    assert_eq!(
        env.outcome(&execution),
        Some(Outcome::Succeeded {
            result: json!("hello ada")
        })
    );

    let paused = env.pause_schedule("greeter").unwrap();
    assert!(paused.paused);
    env.advance(Duration::from_secs(30 * 60)).await;
    assert_eq!(log_of(&env, "greeter").len(), 2, "a paused schedule fires");

    // Resumed at 00:41, it fires next at 00:45: the firings missed while paused are dropped.
    let resumed = env.resume_schedule("greeter").unwrap();
    let resumed_next = Timestamp::from_millis(START_MS + 45 * 60_000);
    assert_eq!(resumed.next_firing, Some(resumed_next));
    env.advance(Duration::from_secs(5 * 60)).await;
    let firings: Vec<Timestamp> = log_of(&env, "greeter").iter().map(|r| r.at).collect();
    assert_eq!(firings.last(), Some(&resumed_next));
    assert_eq!(firings.len(), 3);

    env.delete_schedule("greeter").unwrap();
    env.advance(HOUR).await;
    assert_eq!(log_of(&env, "greeter").len(), 3, "a deleted schedule fires");
    assert!(env
        .schedules()
        .iter()
        .all(|info| info.spec.name != "greeter"));
}

#[tokio::test]
async fn a_one_time_schedule_fires_once_and_a_last_day_cron_on_the_last_day() {
    let env = TestEnvironment::new();
    let once = env
        .create_schedule(greeting_schedule("once", "at(2026-01-01T02:30:00)"))
        .unwrap();
    let two_thirty = Timestamp::from_millis(START_MS + 150 * 60_000);
    assert_eq!(once.next_firing, Some(two_thirty));
    let month_end = env
        .create_schedule(greeting_schedule("month_end", "cron(0 12 L * ? *)"))
        .unwrap();
    let january_31 = at_hour(30 * 24 + 12);
    assert_eq!(month_end.next_firing, Some(january_31));

    env.advance(Duration::from_secs(40 * 24 * 3600)).await;
    let firings = |name| -> Vec<Timestamp> { log_of(&env, name).iter().map(|r| r.at).collect() };
    assert_eq!(firings("once"), vec![two_thirty]);
    assert_eq!(firings("month_end"), vec![january_31]);
    let schedules = env.schedules();
    let once = schedules
        .iter()
        .find(|info| info.spec.name == "once")
        .unwrap();
    assert_eq!(once.next_firing, None, "a one-time schedule fires again");
    let execution = format!("once-schedule-{}", two_thirty.as_millis());
    assert_eq!(
        env.outcome(&execution),
        Some(Outcome::Succeeded {
            result: json!("hello ada")
        })
    );
}

#[tokio::test]
async fn bad_schedules_are_refused_naming_what_is_wrong() {
    let env = TestEnvironment::new();
    let bad_expression = env
        .create_schedule(greeting_schedule("bad", "cron(0 12 * * * *)"))
        .unwrap_err();
    assert!(matches!(bad_expression, ScheduleSpecError::Expression(_)));
    assert_eq!(
        bad_expression.to_string(),
        "schedule expression `cron(0 12 * * * *)` is not valid: one of day-of-month and \
         day-of-week must be `?` (EventBridge does not combine them)"
    );
    let mut unknown = greeting_schedule("lost", "rate(1 day)");
    unknown.workflow = "nope".to_owned();
    assert_eq!(
        env.create_schedule(unknown).unwrap_err().to_string(),
        "schedule `lost`: no workflow is registered as `nope`"
    );
    assert!(matches!(
        env.create_schedule(greeting_schedule("hourly_report", "rate(1 day)")),
        Err(ScheduleSpecError::Exists(_))
    ));
    assert!(matches!(
        env.delete_schedule("hourly_report"),
        Err(ScheduleSpecError::Static(_))
    ));
    assert!(matches!(
        env.pause_schedule("missing"),
        Err(ScheduleSpecError::NotFound(_))
    ));
}
