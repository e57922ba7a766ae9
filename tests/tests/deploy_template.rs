//! The order service's template as `aws cloudformation deploy` takes it: small enough to pass
//! inline, and with a completion-token key that the stack owns (no per-deploy parameter), so
//! that a redeploy keeps outstanding tokens valid.

extern crate order_service;

use eventual_runtime::manifest::build::Service;
use eventual_runtime::manifest::names::{env, id, parameter, role};
use eventual_runtime::manifest::{Artifacts, INLINE_TEMPLATE_LIMIT, TEMPLATE_FILE};
use eventual_tests::manifest::order_service as inventory;
use serde_json::{json, Value};

const SERVICE: &str = "order-service";

fn artifacts() -> Artifacts {
    Service::new(SERVICE)
        .crates(&["order_service"])
        .generate(&inventory())
        .expect("the order service is valid")
}

#[test]
fn the_order_service_template_deploys_without_an_s3_bucket() {
    let artifacts = artifacts();
    let text = &artifacts.files[TEMPLATE_FILE];
    assert!(
        text.len() <= INLINE_TEMPLATE_LIMIT,
        "{TEMPLATE_FILE} is {} bytes, over the {INLINE_TEMPLATE_LIMIT} CloudFormation takes inline",
        text.len()
    );
    assert_eq!(artifacts.warnings(), Vec::<String>::new());
    // One line per resource.
    let template: Value = serde_json::from_str(text).unwrap();
    for id in template["Resources"].as_object().unwrap().keys() {
        let line = format!("\n{}:", json!(id));
        assert_eq!(
            text.matches(&line).count(),
            1,
            "{id} is not on a line of its own"
        );
    }
}

#[test]
fn the_completion_token_key_is_a_secret_the_stack_generates_once() {
    let artifacts = artifacts();
    let template: Value = serde_json::from_str(&artifacts.files[TEMPLATE_FILE]).unwrap();
    let secret = &template["Resources"][id::COMPLETION_TOKEN_SECRET];
    assert_eq!(secret["Type"], "AWS::SecretsManager::Secret");
    let properties = &secret["Properties"];
    assert!(properties["GenerateSecretString"]["PasswordLength"].as_u64() >= Some(32));
    assert!(properties.get("SecretString").is_none());
    // Nothing a deploy must invent: every parameter without a default is the Lambda package.
    let parameters = template["Parameters"].as_object().unwrap();
    let required: Vec<&String> = parameters
        .iter()
        .filter(|(_, p)| p.get("Default").is_none())
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        required,
        [parameter::ARTIFACT_BUCKET, parameter::ARTIFACT_KEY]
    );
    assert!(parameters.values().all(|p| p.get("NoEcho").is_none()));
    assert_eq!(parameters[parameter::ARCHITECTURE]["Default"], "arm64");

    // The task and API functions get the key, resolved from the secret (the `Ref` orders
    // them after it); no other function does.
    let reference = json!({
        "Fn::Sub": format!(
            "{{{{resolve:secretsmanager:${{{}}}:SecretString}}}}",
            id::COMPLETION_TOKEN_SECRET
        )
    });
    let mut with_key = 0;
    for (id, resource) in template["Resources"].as_object().unwrap() {
        if resource["Type"] != "AWS::Lambda::Function" {
            continue;
        }
        let variables = &resource["Properties"]["Environment"]["Variables"];
        let needs_key = [role::TASK, role::API].contains(&variables[env::ROLE].as_str().unwrap());
        if needs_key {
            with_key += 1;
            assert_eq!(variables[env::TOKEN_KEY], reference, "{id}");
        } else {
            assert!(variables.get(env::TOKEN_KEY).is_none(), "{id} has the key");
        }
    }
    assert_eq!(with_key, inventory().tasks.len() + 1);
}
