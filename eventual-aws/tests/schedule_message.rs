//! The start message a static schedule's EventBridge Scheduler target carries (written into
//! `template.json` by the runtime's manifest) is the AWS engine's own `InboxMessage::Start`,
//! and names its execution after the firing, so a firing delivered twice starts one
//! execution.

use eventual_aws::message::InboxMessage;
use eventual_runtime::manifest::names::id;
use eventual_runtime::manifest::{template, Inventory, Location, WorkflowInfo};
use eventual_runtime::schedule::{CatchUpPolicy, OverlapPolicy, ScheduleSpec};
use serde_json::json;

fn scheduled_inventory() -> Inventory {
    let spec = ScheduleSpec {
        name: "nightly_report".to_owned(),
        workflow: "nightly_report".to_owned(),
        expression: "cron(0 2 * * ? *)".to_owned(),
        input: json!({"verbose": false}),
        overlap: OverlapPolicy::Skip,
        catch_up: CatchUpPolicy::Once,
    };
    Inventory {
        workflows: vec![WorkflowInfo {
            name: "nightly_report".to_owned(),
            location: Location {
                rust_path: "svc::nightly_report".to_owned(),
                file: "svc/src/lib.rs".to_owned(),
                line: 1,
            },
            timeout_ms: None,
            calls: vec![],
            named_tasks: vec![],
            children: vec![],
            signals: vec![],
            events: vec![],
            timers: vec![],
            schedule: Some(spec),
            retention_ms: None,
        }],
        tasks: vec![],
        subscriptions: vec![],
        routes: vec![],
    }
}

#[test]
fn a_schedules_target_input_is_a_start_named_after_the_firing() {
    let template = template("svc", &scheduled_inventory());
    let target =
        &template["Resources"][id::workflow_schedule("nightly_report")]["Properties"]["Target"];
    let input = target["Input"].as_str().expect("the target's input");
    // What Scheduler sends for the firing of 2026-12-01T02:00:00Z, twice.
    let sent = input.replace("<aws.scheduler.scheduled-time>", "2026-12-01T02:00:00Z");
    let message: InboxMessage = serde_json::from_str(&sent).expect("an InboxMessage");
    assert_eq!(
        message,
        InboxMessage::Start {
            workflow: "nightly_report".to_owned(),
            execution_id: "nightly_report-schedule-2026-12-01T02:00:00Z".to_owned(),
            input: json!({"verbose": false}),
            correlation_id: None,
            parent: None,
        }
    );
    assert_eq!(
        serde_json::from_str::<InboxMessage>(&sent).unwrap(),
        message,
        "a repeated delivery names the same execution"
    );
    assert_eq!(
        target["SqsParameters"]["MessageGroupId"], "nightly_report",
        "the orchestrator queue is FIFO"
    );
}
