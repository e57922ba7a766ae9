//! `cargo build` refuses a registry that cannot be deployed, naming each item and its
//! `file:line`.

use eventual_runtime::api::ApiAuth;
use eventual_runtime::manifest::build::{BuildError, Service};
use eventual_runtime::manifest::{
    generate, validate, Inventory, Location, RouteInfo, RouteSchemas, SubscriptionInfo, TaskInfo,
    WorkflowInfo,
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
        schedule: None,
        retention_ms: None,
    }
}

/// The schema of a route's answer (the validation never reads it).
fn text_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    generator.subschema_for::<String>()
}

/// Route `name` (`METHOD /path`) defined at `svc/src/api.rs:line`.
fn route(name: &str, line: u32, route_key: &str) -> RouteInfo {
    let (method, path) = route_key.split_once(' ').unwrap();
    RouteInfo {
        name: name.into(),
        location: location(&format!("svc::{name}"), "svc/src/api.rs", line),
        method: method.into(),
        path: path.into(),
        auth: ApiAuth::None,
        path_params: path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_owned)
            .collect(),
        chooses_status: false,
        schemas: RouteSchemas {
            path_params: &[],
            body: None,
            query: None,
            response: text_schema,
        },
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
        routes: vec![
            route("create_order", 20, "POST /orders"),
            route("get_order", 30, "GET /orders/{id}"),
        ],
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
fn the_same_method_and_path_registered_twice_names_both_sites() {
    let mut inventory = valid();
    inventory
        .routes
        .push(route("place_order", 41, "POST /orders"));
    // Only the parameter's name differs: the same requests.
    inventory
        .routes
        .push(route("find_order", 52, "GET /orders/{order}"));
    inventory.sort();
    let message = errors(&inventory, &[]);
    assert!(
        message.contains(
            "svc/src/api.rs:41: routes `POST /orders` (`svc::create_order`, svc/src/api.rs:20) \
             and `POST /orders` (`svc::place_order`, svc/src/api.rs:41) answer the same requests"
        ),
        "{message}"
    );
    assert!(
        message.contains(
            "svc/src/api.rs:52: routes `GET /orders/{id}` (`svc::get_order`, svc/src/api.rs:30) \
             and `GET /orders/{order}` (`svc::find_order`, svc/src/api.rs:52) answer the same \
             requests"
        ),
        "{message}"
    );
    assert!(message.contains("(2 problems)"), "{message}");
}

#[test]
fn one_path_spelled_with_two_parameter_names_is_refused_under_any_methods() {
    let mut inventory = valid();
    inventory
        .routes
        .push(route("cancel_order", 60, "DELETE /orders/{order_id}"));
    inventory.sort();
    let message = errors(&inventory, &[]);
    assert!(
        message.contains(
            "svc/src/api.rs:60: routes `GET /orders/{id}` (`svc::get_order`, svc/src/api.rs:30) \
             and `DELETE /orders/{order_id}` (`svc::cancel_order`, svc/src/api.rs:60) spell one \
             path with different parameter names"
        ),
        "{message}"
    );
    // The same spelling under another method is another route.
    inventory.routes.retain(|r| r.name != "cancel_order");
    inventory
        .routes
        .push(route("cancel_order", 60, "DELETE /orders/{id}"));
    inventory.sort();
    validate("svc", &inventory, &[]).unwrap();
}

#[test]
fn two_routes_of_one_name_are_refused() {
    let mut inventory = valid();
    let mut other = route("get_order", 70, "GET /customers/{id}");
    other.location = location("svc::v2::get_order", "svc/src/v2.rs", 70);
    inventory.routes.push(other);
    inventory.sort();
    let message = errors(&inventory, &[]);
    assert!(
        message.contains(
            "svc/src/v2.rs:70: duplicate route name `get_order`: `svc::get_order` \
             (svc/src/api.rs:30) and `svc::v2::get_order` (svc/src/v2.rs:70)"
        ),
        "{message}"
    );
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
        message
            .contains("no workflow, task, subscription or route is linked into the build script"),
        "{message}"
    );
}

#[test]
fn a_declared_crate_without_linked_items_fails_the_build() {
    let message = errors(&valid(), &["svc", "svc-handlers"]);
    assert!(message.contains("crate `svc_handlers` is declared by the build script but none of its workflows, tasks, subscriptions or routes is linked: add `extern crate svc_handlers;`"), "{message}");
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
            "openapi.json",
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
