//! Static schedules (`#[workflow(schedule = ...)]`): the service's own EventBridge Scheduler
//! schedule group, and in it one recurring schedule per scheduled workflow that puts a start
//! message on the FIFO orchestrator queue. Their role is in [`iam`](super::iam).
//!
//! The message is the AWS engine's `InboxMessage::Start`. Its execution id is
//! `<workflow>-schedule-<scheduled time>`, filled in by Scheduler's
//! `<aws.scheduler.scheduled-time>` context attribute: a firing that Scheduler retries, or
//! that SQS delivers twice, starts the same execution, which the orchestrator starts once.
//! (On AWS the scheduled time is ISO 8601 text; the other engines write milliseconds.)

use super::resource::{arn, reference};
use super::Resources;
use crate::manifest::inventory::{Inventory, WorkflowInfo};
use crate::manifest::names::{self, id};
use crate::schedule::ScheduleSpec;
use serde_json::{json, Value};

/// Adds the group and the schedules, when a workflow has a static schedule.
pub(super) fn add(service: &str, inventory: &Inventory, resources: &mut Resources) {
    let scheduled = scheduled(inventory);
    if scheduled.is_empty() {
        return;
    }
    resources.insert(
        id::SCHEDULE_GROUP.into(),
        json!({
            "Type": "AWS::Scheduler::ScheduleGroup",
            "Properties": { "Name": names::schedule_group(service) },
        }),
    );
    for (workflow, spec) in scheduled {
        resources.insert(id::workflow_schedule(&workflow.name), schedule(spec));
    }
}

/// The workflows with a static schedule, with it.
pub(super) fn scheduled(inventory: &Inventory) -> Vec<(&WorkflowInfo, &ScheduleSpec)> {
    inventory
        .workflows
        .iter()
        .filter_map(|workflow| Some((workflow, workflow.schedule.as_ref()?)))
        .collect()
}

fn schedule(spec: &ScheduleSpec) -> Value {
    let start = json!({
        "kind": "start",
        "workflow": spec.workflow,
        "execution_id": format!("{}-schedule-<aws.scheduler.scheduled-time>", spec.name),
        "input": spec.input,
    });
    json!({
        "Type": "AWS::Scheduler::Schedule",
        "Properties": {
            "Name": spec.name,
            "GroupName": reference(id::SCHEDULE_GROUP),
            "Description": format!("Starts workflow {} on {}", spec.workflow, spec.expression),
            "ScheduleExpression": spec.expression,
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": { "Mode": "OFF" },
            "State": "ENABLED",
            "Target": {
                "Arn": arn(id::ORCHESTRATOR_QUEUE),
                "RoleArn": arn(id::WORKFLOW_SCHEDULER_ROLE),
                "Input": start.to_string(),
                // The orchestrator queue is FIFO: one group per schedule keeps its starts in
                // order (content-based deduplication gives each firing its own id).
                "SqsParameters": { "MessageGroupId": spec.name },
            },
        },
    })
}
