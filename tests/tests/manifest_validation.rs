//! `cargo build` refuses a registry that cannot be deployed, naming each item and its
//! `file:line`.

use eventual_runtime::manifest::build::{BuildError, Service};
use eventual_runtime::manifest::{
    generate, validate, Inventory, Location, SubscriptionInfo, TaskInfo, WorkflowInfo,
};
use eventual_runtime::task::{RetryPolicy, TaskOptions};

fn location(rust_path: &str, file: &str, line: u32) -> Location {
    Location::new(rust_path, file, line)
}

fn task(name: &str, path: &str, line: u32) -> TaskInfo {
    TaskInfo {
        name: name.into(),
        location: location(path, "svc/src/lib.rs", line),
        options: TaskOptions::DEFAULT,
    }
}

fn subscription(name: &str, path: &str, line: u32, pattern: &str) -> SubscriptionInfo {
    SubscriptionInfo {
        name: name.into(),
        location: location(path, "svc/src/handlers.rs", line),
        pattern: pattern.into(),
        event_type: "Thing".into(),
        retry: RetryPolicy::DEFAULT,
        dead_letter: true,
    }
}

fn workflow(name: &str, path: &str, line: u32) -> WorkflowInfo {
    WorkflowInfo {
        name: name.into(),
        location: location(path, "svc/src/lib.rs", line),
        timeout_ms: None,
        calls: vec!["charge".into(), "from_secs".into()],
        named_tasks: vec![],
        children: vec![],
        signals: vec![],
        events: vec![],
        timers: vec![],
    }
}

fn valid() -> Inventory {
    let mut inventory = Inventory {
        workflows: vec![workflow("order", "svc::order", 10)],
        tasks: vec![task("charge", "svc::charge", 3)],
        subscriptions: vec![subscription(
            "audit",
            "svc::audit",
            7,
            r#"{"source": ["a"]}"#,
        )],
    };
    inventory.sort();
    inventory
}

fn errors(inventory: &Inventory, crates: &[&str]) -> String {
    validate("svc", inventory, crates).unwrap_err().to_string()
}

#[test]
fn a_valid_registry_passes_and_plain_calls_are_not_flagged() {
    // `from_secs` matches no task: an ordinary function, not an error.
    validate("svc", &valid(), &["svc"]).unwrap();
}

#[test]
fn duplicate_names_name_both_sites() {
    let mut inventory = valid();
    inventory
        .tasks
        .push(task("charge", "svc::billing::charge", 40));
    inventory.subscriptions.push(subscription(
        "audit",
        "svc::other::audit",
        9,
        r#"{"source": ["b"]}"#,
    ));
    inventory
        .workflows
        .push(workflow("order", "svc::v2::order", 50));
    let message = errors(&inventory, &[]);
    assert!(message.contains("svc/src/lib.rs:40: duplicate task name `charge`: `svc::charge` (svc/src/lib.rs:3) and `svc::billing::charge` (svc/src/lib.rs:40)"), "{message}");
    assert!(
        message.contains("svc/src/handlers.rs:9: duplicate subscription name `audit`"),
        "{message}"
    );
    assert!(
        message.contains("svc/src/lib.rs:50: duplicate workflow name `order`"),
        "{message}"
    );
    assert!(message.contains("(3 problems)"), "{message}");
}

#[test]
fn names_that_clash_as_aws_ids_are_refused() {
    let mut inventory = valid();
    inventory.tasks.push(task("charge.card", "svc::a", 1));
    inventory.tasks.push(task("charge_card", "svc::b", 2));
    let message = errors(&inventory, &[]);
    assert!(
        message.contains("both become the CloudFormation id `TaskChargeCard`"),
        "{message}"
    );
}

#[test]
fn an_invalid_pattern_names_the_subscription_and_its_site() {
    let mut inventory = valid();
    inventory
        .subscriptions
        .push(subscription("bad", "svc::bad", 21, r#"{"source": "a"}"#));
    let message = errors(&inventory, &[]);
    assert!(
        message.contains(
            "svc/src/handlers.rs:21: subscription `bad` (`svc::bad`): Event pattern is not valid"
        ),
        "{message}"
    );
}

#[test]
fn a_child_workflow_that_is_not_linked_is_refused() {
    let mut inventory = valid();
    inventory.workflows[0].children.push("ship".into());
    let message = errors(&inventory, &[]);
    assert!(message.contains("svc/src/lib.rs:10: workflow `order` (`svc::order`) starts child workflow `ship`, which is not linked"), "{message}");
    inventory
        .workflows
        .push(workflow("shipping", "svc::ship", 30));
    inventory.sort();
    validate("svc", &inventory, &[]).unwrap();
    let manifest = eventual_runtime::manifest::manifest("svc", &inventory);
    assert_eq!(
        manifest["workflows"][0]["children"],
        serde_json::json!(["shipping"])
    );
}

#[test]
fn a_task_called_by_a_name_nobody_registered_is_refused() {
    let mut inventory = valid();
    inventory.workflows[0].named_tasks.push("refund".into());
    let message = errors(&inventory, &[]);
    assert!(
        message.contains("svc/src/lib.rs:10: workflow `order` (`svc::order`) calls task `refund` by name, but no task of that name is registered"),
        "{message}"
    );
    inventory.tasks.push(task("refund", "svc::refund", 40));
    inventory.sort();
    validate("svc", &inventory, &[]).unwrap();
    let manifest = eventual_runtime::manifest::manifest("svc", &inventory);
    assert_eq!(
        manifest["workflows"][0]["tasks"],
        serde_json::json!(["charge", "refund"])
    );
}

#[test]
fn an_empty_registry_fails_the_build() {
    let message = errors(&Inventory::default(), &[]);
    assert!(
        message.contains("no workflow, task or subscription is linked into the build script"),
        "{message}"
    );
}

#[test]
fn a_declared_crate_without_linked_items_fails_the_build() {
    let message = errors(&valid(), &["svc", "svc-handlers"]);
    assert!(message.contains("crate `svc_handlers` is declared by the build script but none of its workflows, tasks or subscriptions is linked: add `extern crate svc_handlers;`"), "{message}");
}

#[test]
fn emit_writes_only_changed_files_and_drops_stale_diagrams() {
    let dir = std::env::temp_dir().join(format!("eventual-emit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let service = Service::new("svc").crates(&["svc"]).target_dir(&dir);
    let first = service.emit_inventory(&valid()).unwrap();
    assert_eq!(first.dir, dir.join("eventual").join("svc"));
    assert_eq!(
        first.changed,
        [
            "eventbridge-rules.json",
            "manifest.json",
            "order.mmd",
            "template.json"
        ]
    );
    assert!(service.emit_inventory(&valid()).unwrap().changed.is_empty());

    let mut edited = valid();
    edited.subscriptions[0].pattern = r#"{"source": ["b"]}"#.into();
    edited.workflows[0].name = "order2".into();
    let second = service.emit_inventory(&edited).unwrap();
    assert_eq!(
        second.changed,
        [
            "eventbridge-rules.json",
            "manifest.json",
            "order2.mmd",
            "template.json",
            "order.mmd"
        ]
    );
    assert!(!first.dir.join("order.mmd").exists());
    let rules = std::fs::read_to_string(first.dir.join("eventbridge-rules.json")).unwrap();
    assert!(rules.contains("\"b\""));

    match service.emit_inventory(&Inventory::default()) {
        Err(BuildError::Invalid(_)) => {}
        other => panic!("{other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = generate;
}
