//! The deploy artifacts of the order service, generated in-process from the registry of a
//! binary that links `order_service` (the same code path as `examples/build.rs`).

extern crate order_service;

use eventual_runtime::manifest::names::{self, env, id};
use eventual_runtime::manifest::{generate, Artifacts, Inventory};
use eventual_runtime::pattern::EventPattern;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The order service's items only (this test binary may link others).
fn inventory() -> Inventory {
    Inventory::linked().of_crate("order_service")
}

const SERVICE: &str = "order-service";

fn artifacts() -> Artifacts {
    generate(SERVICE, &inventory(), &["order_service"]).expect("the order service is valid")
}

fn json(name: &str) -> Value {
    serde_json::from_str(&artifacts().files[name]).unwrap()
}

#[test]
fn manifest_snapshot() {
    insta::assert_snapshot!("manifest.json", artifacts().files["manifest.json"]);
}

#[test]
fn eventbridge_rules_snapshot() {
    insta::assert_snapshot!(
        "eventbridge-rules.json",
        artifacts().files["eventbridge-rules.json"]
    );
}

#[test]
fn template_snapshot() {
    insta::assert_snapshot!("template.json", artifacts().files["template.json"]);
}

#[test]
fn diagram_snapshot() {
    insta::assert_snapshot!("place_order.mmd", artifacts().files["place_order.mmd"]);
}

#[test]
fn output_is_deterministic_and_ends_with_a_newline() {
    let (a, b) = (artifacts(), artifacts());
    assert_eq!(a, b);
    for (name, text) in &a.files {
        assert!(text.ends_with('\n'), "{name} has no trailing newline");
        assert!(
            !text.contains("/work/"),
            "{name} depends on the checkout location"
        );
    }
}

#[test]
fn compensations_are_tasks_of_the_workflow() {
    let manifest = json("manifest.json");
    let tasks: Vec<&str> = manifest["workflows"][0]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(
        tasks,
        [
            "charge_card",
            "refund_payment",
            "release_inventory",
            "reserve_inventory",
            "ship_order"
        ]
    );
}

#[test]
fn every_rule_pattern_parses_and_equals_the_subscription_pattern() {
    let rules = json("eventbridge-rules.json");
    let rules = rules.as_array().unwrap();
    let registered: Vec<_> = eventual_runtime::registry::SUBSCRIPTIONS
        .iter()
        .filter(|s| s.location.rust_path.starts_with("order_service::"))
        .collect();
    assert_eq!(rules.len(), registered.len());
    assert!(!rules.is_empty());
    let manifest = json("manifest.json");
    for rule in rules {
        let name = rule["name"].as_str().unwrap();
        let pattern = &rule["event_pattern"];
        EventPattern::parse(&pattern.to_string()).unwrap_or_else(|e| panic!("rule {name}: {e}"));
        let subscription = registered.iter().find(|s| s.name == name).unwrap();
        let expected: Value = serde_json::from_str(subscription.pattern).unwrap();
        assert_eq!(pattern, &expected, "rule {name}");
        let in_manifest = manifest["subscriptions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap();
        assert_eq!(in_manifest["pattern"], expected);
        assert!(rule["target"].as_str().is_some_and(|t| !t.is_empty()));
    }
}

#[test]
fn cfn_lint_passes_on_the_template() {
    let dir = std::env::temp_dir().join(format!("eventual-cfn-lint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("template.json");
    std::fs::write(&path, &artifacts().files["template.json"]).unwrap();
    let output = match std::process::Command::new("cfn-lint").arg(&path).output() {
        Ok(output) => output,
        Err(error) => panic!(
            "cannot run `cfn-lint` ({error}): install it with \
             `python3 -m pip install 'cfn-lint>=1,<2'` and put it on PATH"
        ),
    };
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "cfn-lint failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `{"Fn::GetAtt": [id, "Arn"]}` → `id`.
fn get_att(value: &Value) -> Option<&str> {
    value.get("Fn::GetAtt")?.get(0)?.as_str()
}

fn as_list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// Every statement of every IAM policy and queue policy, with the id of its resource.
fn statements(template: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (id, resource) in template["Resources"].as_object().unwrap() {
        let properties = &resource["Properties"];
        let mut documents = Vec::new();
        if let Some(policies) = properties["Policies"].as_array() {
            documents.extend(policies.iter().map(|p| &p["PolicyDocument"]));
        }
        if resource["Type"] == "AWS::SQS::QueuePolicy" {
            documents.push(&properties["PolicyDocument"]);
        }
        for document in documents {
            for statement in as_list(&document["Statement"]) {
                out.push((id.clone(), statement.clone()));
            }
        }
    }
    out
}

#[test]
fn iam_is_least_privilege() {
    // Where messages too large for SQS or an invoke are stored.
    let payloads = format!("${{{}.Arn}}/{}*", id::HISTORY_BUCKET, names::PAYLOAD_PREFIX);
    // The objects of the history bucket.
    let history_objects = format!("${{{}.Arn}}/*", id::HISTORY_BUCKET);
    // The one-time schedules of the service's long timers.
    let schedules = format!(
        "arn:${{AWS::Partition}}:scheduler:${{AWS::Region}}:${{AWS::AccountId}}:schedule/default/{}",
        names::schedule(SERVICE, "*")
    );
    let template = json("template.json");
    let resources = template["Resources"].as_object().unwrap();
    let all = statements(&template);
    assert!(all.len() > 10);
    for (id, statement) in &all {
        assert_eq!(statement["Effect"], "Allow", "{id}: only Allow statements");
        assert!(statement.get("NotAction").is_none() && statement.get("NotResource").is_none());
        for action in as_list(&statement["Action"]) {
            let action = action.as_str().unwrap();
            assert!(!action.contains('*'), "{id}: wildcard action {action}");
        }
        for resource in as_list(&statement["Resource"]) {
            if let Some(text) = resource.as_str() {
                panic!("{id}: literal resource {text:?}: name it with GetAtt/Sub");
            }
            if let Some(target) = get_att(resource) {
                assert!(
                    resources.contains_key(target),
                    "{id}: unknown resource {target}"
                );
                continue;
            }
            let sub = resource["Fn::Sub"]
                .as_str()
                .unwrap_or_else(|| panic!("{id}: {resource}"));
            // The shapes where a wildcard is the narrowest name: a function's own log
            // streams, the objects of the history bucket, its large payloads, and the
            // schedules of the service's long timers.
            let log = sub.starts_with("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/")
                && sub.ends_with(":*")
                && !sub[..sub.len() - 2].contains('*');
            assert!(
                log || sub == history_objects || sub == payloads || sub == schedules,
                "{id}: resource {sub}"
            );
        }
    }

    // The orchestrator (and the timer forwarder, for retries after a backoff) may invoke
    // exactly the task functions the workflows call.
    let manifest = json("manifest.json");
    let called: BTreeSet<String> = manifest["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|w| w["tasks"].as_array().unwrap().clone())
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    let mut invokable = BTreeMap::<&str, BTreeSet<String>>::new();
    for (id, statement) in &all {
        if as_list(&statement["Action"])
            .iter()
            .any(|a| *a == "lambda:InvokeFunction")
        {
            assert!(
                [id::ORCHESTRATOR_ROLE, id::TIMER_FORWARDER_ROLE].contains(&id.as_str()),
                "{id}: only the orchestrator and the timer forwarder invoke functions"
            );
            for resource in as_list(&statement["Resource"]) {
                let function = get_att(resource).unwrap();
                let name = resources[function]["Properties"]["Environment"]["Variables"][env::TASK]
                    .as_str()
                    .unwrap_or_else(|| panic!("{function} is not a task function"));
                invokable.entry(id).or_default().insert(name.to_owned());
            }
        }
    }
    assert_eq!(
        invokable,
        BTreeMap::from([
            (id::ORCHESTRATOR_ROLE, called.clone()),
            (id::TIMER_FORWARDER_ROLE, called)
        ])
    );

    // A handler's role consumes only its own queue and dead-letter queue; its client effects
    // (starts, signals, events, carried out once it succeeded) may only send to the
    // orchestrator queue and put events on the bus.
    for subscription in manifest["subscriptions"].as_array().unwrap() {
        let name = subscription["name"].as_str().unwrap();
        let (role_id, function) = resources
            .iter()
            .find(|(_, r)| {
                r["Type"] == "AWS::Lambda::Function"
                    && r["Properties"]["Environment"]["Variables"][env::HANDLER] == name
            })
            .map(|(id, r)| {
                (
                    get_att(&r["Properties"]["Role"]).unwrap().to_owned(),
                    id.clone(),
                )
            })
            .unwrap();
        assert_eq!(function, id::handler_function(name));
        let own: BTreeSet<String> = [id::handler_queue(name), id::handler_dlq(name)].into();
        for (id, statement) in all.iter().filter(|(id, _)| *id == role_id) {
            let actions: Vec<&str> = as_list(&statement["Action"])
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            let targets: Vec<&str> = as_list(&statement["Resource"])
                .iter()
                .filter_map(|r| get_att(r))
                .collect();
            if actions == ["s3:GetObject", "s3:PutObject"] {
                assert_eq!(
                    statement["Resource"],
                    serde_json::json!([{"Fn::Sub": payloads}])
                );
            } else if actions == ["sqs:SendMessage"] {
                assert!(
                    targets == [id::ORCHESTRATOR_QUEUE]
                        || targets == [id::handler_dlq(name).as_str()],
                    "{id} sends to {targets:?}"
                );
            } else if actions == ["events:PutEvents"] {
                assert_eq!(targets, [id::EVENT_BUS], "{id} puts events elsewhere");
            } else {
                for target in targets {
                    assert!(own.contains(target), "{id} reaches {target}");
                }
                for action in actions {
                    assert!(
                        action.starts_with("sqs:") || action.starts_with("logs:"),
                        "{id}: {action}"
                    );
                    assert_ne!(action, "sqs:SendMessage", "{id}: sends to its own queue");
                }
            }
        }
        let queue = &resources[&id::handler_queue(name)]["Properties"];
        if subscription["dead_letter"] == true {
            assert_eq!(
                queue["RedrivePolicy"]["maxReceiveCount"],
                subscription["retry"]["max_attempts"]
            );
        }
    }

    // Rules name the bus literally and depend on it (moto's CloudFormation fails on a Ref).
    for (id, resource) in resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Events::Rule")
    {
        assert!(resource["Properties"]["EventBusName"].is_string(), "{id}");
        assert_eq!(
            resource["DependsOn"],
            serde_json::json!([id::EVENT_BUS]),
            "{id}"
        );
    }
}
