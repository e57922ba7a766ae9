//! The deploy artifacts of the order service, generated in-process from the registry of a
//! binary that links `order_service` (the same code path as `examples/build.rs`).

extern crate order_service;

use eventual_runtime::manifest::build::Service;
use eventual_runtime::manifest::names::{id, parameter};
use eventual_runtime::manifest::{template, Artifacts, Inventory};
use eventual_runtime::pattern::EventPattern;
use eventual_runtime::schedule::{CatchUpPolicy, OverlapPolicy, ScheduleSpec};
use eventual_tests::local::{Api, InProcess, Reply};
use eventual_tests::manifest::{
    order_service as inventory,
    order_service_with_iam_and_jwt_routes as inventory_with_iam_and_jwt_routes,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The order service's items only (this test binary may link others).
const SERVICE: &str = "order-service";
/// The service's version in the snapshots (a build script uses its package's).
const VERSION: &str = "1.0.0";

fn artifacts() -> Artifacts {
    Service::new(SERVICE)
        .crates(&["order_service"])
        .version(VERSION)
        .generate(&inventory())
        .expect("the order service is valid")
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
fn openapi_snapshot() {
    insta::assert_snapshot!("openapi.json", artifacts().files["openapi.json"]);
}

#[test]
fn diagram_snapshot() {
    let diagram = &artifacts().files["place_order.mmd"];
    insta::assert_snapshot!("place_order.mmd", diagram);
    eventual_tests::mermaid::check(diagram).unwrap_or_else(|error| panic!("{error}\n{diagram}"));
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

/// Runs the Python tool `tool` (with `args`) on `text` written to a file named `file`; fails
/// the test with the tool's output when it refuses the file.
/// cfn-lint passes on a template built in the test.
fn cfn_lint_accepts(template: &Value) {
    let text = serde_json::to_string_pretty(template).unwrap();
    python_tool_accepts("cfn-lint", &[], "template.json", &text);
}

fn python_tool_accepts(tool: &str, args: &[&str], file: &str, text: &str) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join(file);
    std::fs::write(&path, text).unwrap();
    let output = match std::process::Command::new(tool)
        .args(args)
        .arg(&path)
        .output()
    {
        Ok(output) => output,
        Err(error) => panic!(
            "cannot run `{tool}` ({error}): `.ci/run` installs it with pip \
             (`python3 -m pip install ...`); put pip's scripts directory on PATH"
        ),
    };
    assert!(
        output.status.success(),
        "{tool} refused {file} ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn cfn_lint_passes_on_the_template() {
    python_tool_accepts(
        "cfn-lint",
        &[],
        "template.json",
        &artifacts().files["template.json"],
    );
}

#[test]
fn cfn_lint_passes_on_a_template_with_iam_and_jwt_routes() {
    let template = template(SERVICE, &inventory_with_iam_and_jwt_routes());
    let resources = &template["Resources"];
    assert_eq!(
        resources[id::route("create_order")]["Properties"]["AuthorizationType"],
        "JWT"
    );
    assert_eq!(
        resources[id::route("get_order")]["Properties"]["AuthorizationType"],
        "AWS_IAM"
    );
    assert_eq!(
        resources[id::HTTP_API_JWT_AUTHORIZER]["Properties"]["JwtConfiguration"],
        serde_json::json!({
            "Issuer": {"Ref": parameter::JWT_ISSUER},
            "Audience": {"Ref": parameter::JWT_AUDIENCE},
        })
    );
    cfn_lint_accepts(&template);
    // Without a jwt route, neither the authorizer nor its parameters.
    let plain = json("template.json");
    assert!(plain["Resources"]
        .get(id::HTTP_API_JWT_AUTHORIZER)
        .is_none());
    assert!(plain["Parameters"].get(parameter::JWT_ISSUER).is_none());
}

/// The OpenAPI document passes a real validator (`openapi-spec-validator`, OpenAPI 3.1).
#[test]
fn openapi_spec_validator_accepts_the_document() {
    for inventory in [inventory(), inventory_with_iam_and_jwt_routes()] {
        let document = eventual_runtime::manifest::openapi(SERVICE, VERSION, &inventory);
        python_tool_accepts(
            "openapi-spec-validator",
            &["--schema", "3.1", "--validation-errors", "all"],
            "openapi.json",
            &serde_json::to_string_pretty(&document).unwrap(),
        );
    }
}

/// Every `$ref` of the document points into it (the validator does not follow a schema's
/// `$ref`s).
#[test]
fn every_ref_of_the_openapi_document_resolves() {
    fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(members) => {
                if let Some(target) = members.get("$ref").and_then(Value::as_str) {
                    found.push(target);
                }
                members.values().for_each(|member| refs(member, found));
            }
            Value::Array(items) => items.iter().for_each(|item| refs(item, found)),
            _ => {}
        }
    }
    let document = json("openapi.json");
    let mut found = Vec::new();
    refs(&document, &mut found);
    assert!(found.len() > 5, "{found:?}");
    let dangling: Vec<&&str> = found
        .iter()
        .filter(|target| {
            target
                .strip_prefix('#')
                .and_then(|pointer| document.pointer(pointer))
                .is_none()
        })
        .collect();
    assert!(dangling.is_empty(), "dangling $refs: {dangling:?}");
}

/// Every operation of the document is served by the order service's engine (its listener
/// serves the registry's routes), and the document has an operation for every registered
/// route: a request to each documented method and path, path parameters filled in, gets any
/// answer but the JSON 404 `no_route`.
#[test]
fn the_documented_operations_are_the_routes_the_engine_serves() {
    let document = json("openapi.json");
    let mut documented = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            documented.push((method.to_ascii_uppercase(), path.clone(), operation.clone()));
        }
    }
    let registered: BTreeSet<(String, String)> = eventual_runtime::registry::API_ROUTES
        .iter()
        .filter(|route| route.location.rust_path.starts_with("order_service::"))
        .map(|route| (route.method.to_owned(), route.path.to_owned()))
        .collect();
    let documented_keys: BTreeSet<(String, String)> = documented
        .iter()
        .map(|(method, path, _)| (method.clone(), path.clone()))
        .collect();
    assert_eq!(documented_keys, registered);
    assert_eq!(registered.len(), 2, "{registered:?}");

    let engine = InProcess::start();
    let routes = Api::new(
        format!("http://{}", engine.address),
        std::time::Duration::from_secs(30),
    );
    let no_route = |reply: &Reply| reply.status == 404 && reply.body["error"]["kind"] == "no_route";
    // The probe can tell: a path nobody serves is `no_route`.
    let unserved = routes.request("GET", "/no-such-route", &[], None);
    assert!(no_route(&unserved), "{unserved:?}");
    for (method, path, operation) in &documented {
        let mut filled = path.clone();
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            if parameter["in"] == "path" {
                let name = parameter["name"].as_str().unwrap();
                filled = filled.replace(&format!("{{{name}}}"), "probe-1");
            }
        }
        assert!(
            !filled.contains('{'),
            "{method} {path}: a parameter left unfilled"
        );
        // An empty object: the route answers (a 400 naming the missing fields, say) and
        // starts nothing.
        let body = operation.get("requestBody").map(|_| b"{}".as_slice());
        let json = [("content-type", "application/json")];
        let reply = routes.request(method, &filled, &json, body);
        assert!(
            !no_route(&reply),
            "{method} {filled} is not served: {reply:?}"
        );
        if reply.status >= 400 {
            assert!(
                reply.body["error"]["kind"].is_string()
                    && reply.body["error"]["message"].is_string(),
                "{method} {filled}: the error body is not the documented one: {reply:?}"
            );
        }
    }
}

/// One permission the template gives: `grantee` may do `action` on `resource`.
///
/// The grantee is a role's logical id (its inline policies) or an AWS service principal with
/// the condition it must meet (a trust policy, a queue policy, a Lambda permission). The
/// resource is written as the template renders it: `${Id.Attr}` for `Fn::GetAtt`, `${Id}`
/// for `Ref`, the text of an `Fn::Sub`; any other shape (a literal string such as `"*"`)
/// keeps its JSON quotes, so it can never equal an allowed expression.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Grant {
    grantee: String,
    action: String,
    resource: String,
}

impl std::fmt::Display for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Grant {
            grantee,
            action,
            resource,
        } = self;
        write!(f, "{grantee}: {action} on {resource}")
    }
}

/// The grants of the order service's template, stated by hand; built with [`Allowlist::allow`].
#[derive(Default)]
struct Allowlist(BTreeSet<Grant>);

impl Allowlist {
    /// `grantee` may do every one of `actions` on every one of `resources`.
    fn allow(&mut self, grantee: &str, actions: &[&str], resources: &[impl AsRef<str>]) {
        for action in actions {
            for resource in resources {
                self.0.insert(Grant {
                    grantee: grantee.to_owned(),
                    action: (*action).to_owned(),
                    resource: resource.as_ref().to_owned(),
                });
            }
        }
    }
}

/// Receiving from a queue as a Lambda event source does.
const CONSUME_QUEUE: &[&str] = &[
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
];
const SEND: &[&str] = &["sqs:SendMessage"];
const PUT_EVENTS: &[&str] = &["events:PutEvents"];
const READ_WRITE_OBJECTS: &[&str] = &["s3:GetObject", "s3:PutObject"];
const WRITE_LOGS: &[&str] = &[
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
];
/// Messages too large for SQS or an invoke, stored in the history bucket.
const PAYLOADS: &str = "${HistoryBucket.Arn}/payloads/*";
/// The one-time schedules of the service's long timers.
const SCHEDULES: &str =
    "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/default/order-service-*";
/// The task functions the order workflow calls.
const TASK_FUNCTIONS: &[&str] = &[
    "${TaskChargeCardFunction.Arn}",
    "${TaskRefundPaymentFunction.Arn}",
    "${TaskReleaseInventoryFunction.Arn}",
    "${TaskReserveInventoryFunction.Arn}",
    "${TaskShipOrderFunction.Arn}",
];

/// The log streams of the Lambda function named `function`.
fn log_streams(function: &str) -> String {
    format!(
        "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/lambda/{function}:*"
    )
}

/// Everything the order service's template may grant, and must: a grant missing here is
/// a privilege nobody reviewed, a grant missing from the template is a broken engine.
fn allowlist() -> Allowlist {
    let mut allow = Allowlist::default();

    // Runs workflow steps: the only writer of execution state and history.
    let role = "OrchestratorRole";
    allow.allow(role, CONSUME_QUEUE, &["${OrchestratorQueue.Arn}"]);
    allow_timers_and_task_invokes(&mut allow, role);
    allow.allow(role, PUT_EVENTS, &["${EventBus.Arn}"]);
    allow.allow(
        role,
        &[
            "dynamodb:ConditionCheckItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
        ],
        &["${ExecutionsTable.Arn}", "${HistoryTable.Arn}"],
    );
    allow.allow(role, READ_WRITE_OBJECTS, &["${HistoryBucket.Arn}/*"]);
    // Keeps the attribute index in each commit's transaction, and tags history documents for
    // the bucket's lifecycle rules.
    allow.allow(
        role,
        &[
            "dynamodb:DeleteItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ],
        &["${AttributesTable.Arn}"],
    );
    allow.allow(role, &["s3:PutObjectTagging"], &["${HistoryBucket.Arn}/*"]);
    allow.allow(
        role,
        WRITE_LOGS,
        &[log_streams("order-service-orchestrator")],
    );

    // Moves due timers to the orchestrator queue and invokes attempts retried after a backoff.
    let role = "TimerForwarderRole";
    allow.allow(role, CONSUME_QUEUE, &["${TimerQueue.Arn}"]);
    allow_timers_and_task_invokes(&mut allow, role);
    allow.allow(role, READ_WRITE_OBJECTS, &[PAYLOADS]);
    allow.allow(
        role,
        WRITE_LOGS,
        &[log_streams("order-service-timer-forwarder")],
    );

    // EventBridge Scheduler delivers due long timers, nothing else.
    allow.allow("TimerSchedulerRole", SEND, &["${TimerQueue.Arn}"]);

    // Task workers claim attempts in their lock table and report outcomes as messages: they
    // neither read nor write the executions and history tables.
    let role = "TaskRole";
    allow.allow(
        role,
        &[
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ],
        &["${TaskLockTable.Arn}"],
    );
    allow.allow(role, SEND, &["${OrchestratorQueue.Arn}"]);
    allow.allow(role, READ_WRITE_OBJECTS, &[PAYLOADS]);
    let task_functions = [
        "charge_card",
        "refund_payment",
        "release_inventory",
        "reserve_inventory",
        "ship_order",
    ]
    .map(|task| log_streams(&format!("order-service-task-{task}")));
    allow.allow(role, WRITE_LOGS, &task_functions);

    allow_handler(&mut allow, "FlagBigOrder", "flag_big_order");
    allow_handler(&mut allow, "NotifyCustomer", "notify_customer");

    // The service API reads executions but never writes them: starts and signals are messages.
    let role = "ApiRole";
    allow.allow(role, SEND, &["${OrchestratorQueue.Arn}"]);
    allow.allow(
        role,
        &["dynamodb:GetItem", "dynamodb:Query"],
        &["${ExecutionsTable.Arn}", "${HistoryTable.Arn}"],
    );
    // Lists by queries of the list indexes and the attribute index, never by a scan.
    allow.allow(
        role,
        &["dynamodb:Query"],
        &[
            "${AttributesTable.Arn}",
            "${ExecutionsTable.Arn}/index/by-status",
            "${ExecutionsTable.Arn}/index/by-workflow",
        ],
    );
    allow.allow(
        role,
        &["dynamodb:BatchGetItem"],
        &["${ExecutionsTable.Arn}"],
    );
    allow.allow(role, &["s3:GetObject"], &["${HistoryBucket.Arn}/*"]);
    allow.allow(role, READ_WRITE_OBJECTS, &[PAYLOADS]);
    allow.allow(role, PUT_EVENTS, &["${EventBus.Arn}"]);
    // Lists dead letters by receiving them and making them visible again at once.
    allow.allow(
        role,
        &[
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
            "sqs:ReceiveMessage",
        ],
        &[
            "${HandlerFlagBigOrderDeadLetterQueue.Arn}",
            "${HandlerNotifyCustomerDeadLetterQueue.Arn}",
        ],
    );
    // Redrives dead letters to their handler's queue.
    allow.allow(
        role,
        &["sqs:GetQueueUrl", "sqs:SendMessage"],
        &[
            "${HandlerFlagBigOrderQueue.Arn}",
            "${HandlerNotifyCustomerQueue.Arn}",
        ],
    );
    allow.allow(role, WRITE_LOGS, &[log_streams("order-service-api")]);

    // The #[api] routes do what `ApiContext` does and no more: start, signal and cancel
    // (messages), read one execution (its item, and the history document holding an ended
    // one's outcome), publish events. No list, scan, history table or dead letter.
    let role = "UserApiRole";
    allow.allow(role, SEND, &["${OrchestratorQueue.Arn}"]);
    allow.allow(role, &["dynamodb:GetItem"], &["${ExecutionsTable.Arn}"]);
    allow.allow(role, &["s3:GetObject"], &["${HistoryBucket.Arn}/*"]);
    allow.allow(role, READ_WRITE_OBJECTS, &[PAYLOADS]);
    allow.allow(role, PUT_EVENTS, &["${EventBus.Arn}"]);
    allow.allow(role, WRITE_LOGS, &[log_streams("order-service-user-api")]);

    // Who may assume each role.
    allow.allow(
        "lambda.amazonaws.com",
        &["sts:AssumeRole"],
        &[
            "${ApiRole.Arn}",
            "${HandlerFlagBigOrderRole.Arn}",
            "${HandlerNotifyCustomerRole.Arn}",
            "${OrchestratorRole.Arn}",
            "${TaskRole.Arn}",
            "${TimerForwarderRole.Arn}",
            "${UserApiRole.Arn}",
        ],
    );
    allow.allow(
        "scheduler.amazonaws.com",
        &["sts:AssumeRole"],
        &["${TimerSchedulerRole.Arn}"],
    );
    // The HTTP API, and only this one, calls the API function and the user-API function.
    allow.allow(
        "apigateway.amazonaws.com when aws:SourceArn ArnLike \
         arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/*",
        &["lambda:InvokeFunction"],
        &["${ApiFunction}", "${UserApiFunction}"],
    );
    allow
}

/// The orchestrator and the timer forwarder both start timers (a message to the timer queue,
/// a Scheduler schedule with its role for a long one), move work to the orchestrator queue,
/// and invoke task attempts.
fn allow_timers_and_task_invokes(allow: &mut Allowlist, role: &str) {
    allow.allow(
        role,
        SEND,
        &["${OrchestratorQueue.Arn}", "${TimerQueue.Arn}"],
    );
    allow.allow(role, &["scheduler:CreateSchedule"], &[SCHEDULES]);
    allow.allow(role, &["iam:PassRole"], &["${TimerSchedulerRole.Arn}"]);
    allow.allow(role, &["lambda:InvokeFunction"], TASK_FUNCTIONS);
}

/// A subscription's handler: its role consumes its own queue and dead-letter queue and
/// carries out client effects (starts and signals to the orchestrator queue, events on the
/// bus); only the subscription's rule may send to its queue.
fn allow_handler(allow: &mut Allowlist, id_stem: &str, name: &str) {
    let role = format!("Handler{id_stem}Role");
    let queue = format!("${{Handler{id_stem}Queue.Arn}}");
    let dead_letter_queue = format!("${{Handler{id_stem}DeadLetterQueue.Arn}}");
    allow.allow(&role, CONSUME_QUEUE, &[&queue]);
    allow.allow(&role, SEND, &["${OrchestratorQueue.Arn}"]);
    allow.allow(&role, PUT_EVENTS, &["${EventBus.Arn}"]);
    allow.allow(&role, READ_WRITE_OBJECTS, &[PAYLOADS]);
    // It dead-letters an event itself after the last attempt, with the failure.
    allow.allow(&role, SEND, &[&dead_letter_queue]);
    allow.allow(
        &role,
        &[
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ReceiveMessage",
        ],
        &[&dead_letter_queue],
    );
    allow.allow(
        &role,
        WRITE_LOGS,
        &[log_streams(&format!("order-service-handler-{name}"))],
    );
    allow.allow(
        &format!("events.amazonaws.com when aws:SourceArn ArnEquals ${{Handler{id_stem}Rule.Arn}}"),
        SEND,
        &[&queue],
    );
}

/// The role each function runs as: a function on another role has that role's grants.
const FUNCTION_ROLES: &[(&str, &str)] = &[
    ("ApiFunction", "ApiRole"),
    ("HandlerFlagBigOrderFunction", "HandlerFlagBigOrderRole"),
    ("HandlerNotifyCustomerFunction", "HandlerNotifyCustomerRole"),
    ("OrchestratorFunction", "OrchestratorRole"),
    ("TaskChargeCardFunction", "TaskRole"),
    ("TaskRefundPaymentFunction", "TaskRole"),
    ("TaskReleaseInventoryFunction", "TaskRole"),
    ("TaskReserveInventoryFunction", "TaskRole"),
    ("TaskShipOrderFunction", "TaskRole"),
    ("TimerForwarderFunction", "TimerForwarderRole"),
    ("UserApiFunction", "UserApiRole"),
];

/// Resource types that grant nothing as the template writes them. A property that could
/// grant (a policy, a role to act as) is still refused in them by [`read_grants`].
const NON_GRANTING_TYPES: &[&str] = &[
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Authorizer",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Stage",
    "AWS::DynamoDB::Table",
    "AWS::Events::EventBus",
    "AWS::Events::Rule",
    "AWS::Lambda::EventSourceMapping",
    "AWS::S3::Bucket",
    "AWS::Scheduler::ScheduleGroup",
    "AWS::SQS::Queue",
];
/// Property names that attach permissions in some resource type.
const GRANTING_PROPERTIES: &[&str] = &[
    "AuthorizerCredentialsArn",
    "CredentialsArn",
    "ManagedPolicyArns",
    "Policies",
    "Policy",
    "PolicyDocument",
    "Role",
    "RoleArn",
];

fn as_list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// A resource reference as the allowlist writes it (see [`Grant`]).
fn render_reference(value: &Value) -> String {
    if let Some([id, attribute]) = value
        .get("Fn::GetAtt")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        if let (Some(id), Some(attribute)) = (id.as_str(), attribute.as_str()) {
            return format!("${{{id}.{attribute}}}");
        }
    }
    if let Some(id) = value.get("Ref").and_then(Value::as_str) {
        return format!("${{{id}}}");
    }
    if let Some(text) = value.get("Fn::Sub").and_then(Value::as_str) {
        return text.to_owned();
    }
    value.to_string()
}

/// A service principal with its condition, as the allowlist writes it: `service when key
/// Operator value` (see [`Grant`]).
fn render_principal(principal: &Value, condition: Option<&Value>) -> String {
    let mut out = match principal.get("Service").and_then(Value::as_str) {
        Some(service) => service.to_owned(),
        None => principal.to_string(),
    };
    for (operator, tests) in condition.and_then(Value::as_object).into_iter().flatten() {
        for (key, value) in tests.as_object().into_iter().flatten() {
            out += &format!(" when {key} {operator} {}", render_reference(value));
        }
    }
    out
}

/// Where a policy statement sits, which decides who it grants to and which keys it may have.
enum PolicyKind<'a> {
    /// A role's inline policy: grants that role.
    Identity { role: &'a str },
    /// A role's trust policy: grants its principals `sts:AssumeRole` on the role.
    Trust { role: &'a str },
    /// A queue policy: grants its principals, under its condition, on the named queues.
    Resource,
}

/// The grants of one statement; a statement this test cannot read in full is a problem,
/// never skipped.
fn read_statement(
    id: &str,
    statement: &Value,
    kind: &PolicyKind<'_>,
    grants: &mut BTreeSet<Grant>,
    problems: &mut Vec<String>,
) {
    let allowed_keys: &[&str] = match kind {
        PolicyKind::Identity { .. } => &["Sid", "Effect", "Action", "Resource"],
        PolicyKind::Trust { .. } => &["Sid", "Effect", "Action", "Principal"],
        PolicyKind::Resource => &[
            "Sid",
            "Effect",
            "Action",
            "Resource",
            "Principal",
            "Condition",
        ],
    };
    for key in statement.as_object().into_iter().flatten().map(|(k, _)| k) {
        if !allowed_keys.contains(&key.as_str()) {
            problems.push(format!("{id}: statement key {key} in {statement}"));
        }
    }
    if statement["Effect"] != "Allow" {
        problems.push(format!(
            "{id}: a statement that does not Allow: {statement}"
        ));
        return;
    }
    let (grantee, resources): (String, Vec<String>) = match kind {
        PolicyKind::Identity { role } => (
            (*role).to_owned(),
            as_list(&statement["Resource"])
                .into_iter()
                .map(render_reference)
                .collect(),
        ),
        PolicyKind::Trust { role } => (
            render_principal(&statement["Principal"], None),
            vec![format!("${{{role}.Arn}}")],
        ),
        PolicyKind::Resource => (
            render_principal(&statement["Principal"], statement.get("Condition")),
            as_list(&statement["Resource"])
                .into_iter()
                .map(render_reference)
                .collect(),
        ),
    };
    for action in as_list(&statement["Action"]) {
        let action = action
            .as_str()
            .map_or_else(|| action.to_string(), str::to_owned);
        for resource in &resources {
            grants.insert(Grant {
                grantee: grantee.clone(),
                action: action.clone(),
                resource: resource.clone(),
            });
        }
    }
}

/// Every grant of the template, and what in it grants in a way this test cannot read.
fn read_grants(template: &Value) -> (BTreeSet<Grant>, Vec<String>) {
    let mut grants = BTreeSet::new();
    let mut problems = Vec::new();
    for (id, resource) in template["Resources"].as_object().unwrap() {
        let properties = &resource["Properties"];
        let property_names = || properties.as_object().into_iter().flatten().map(|(k, _)| k);
        let mut unexpected_properties = |expected: &[&str]| {
            for name in property_names().filter(|name| !expected.contains(&name.as_str())) {
                problems.push(format!("{id}: property {name} may grant"));
            }
        };
        match resource["Type"].as_str().unwrap_or_default() {
            "AWS::IAM::Role" => {
                unexpected_properties(&["Description", "AssumeRolePolicyDocument", "Policies"]);
                let trust = &properties["AssumeRolePolicyDocument"]["Statement"];
                for statement in as_list(trust) {
                    let kind = PolicyKind::Trust { role: id };
                    read_statement(id, statement, &kind, &mut grants, &mut problems);
                }
                for policy in properties["Policies"].as_array().into_iter().flatten() {
                    for statement in as_list(&policy["PolicyDocument"]["Statement"]) {
                        let kind = PolicyKind::Identity { role: id };
                        read_statement(id, statement, &kind, &mut grants, &mut problems);
                    }
                }
            }
            "AWS::SQS::QueuePolicy" => {
                unexpected_properties(&["PolicyDocument", "Queues"]);
                for statement in as_list(&properties["PolicyDocument"]["Statement"]) {
                    let kind = PolicyKind::Resource;
                    read_statement(id, statement, &kind, &mut grants, &mut problems);
                }
            }
            "AWS::Lambda::Permission" => {
                unexpected_properties(&["Action", "FunctionName", "Principal", "SourceArn"]);
                let source = properties
                    .get("SourceArn")
                    .map(|arn| serde_json::json!({ "ArnLike": { "aws:SourceArn": arn } }));
                grants.insert(Grant {
                    grantee: render_principal(
                        &serde_json::json!({ "Service": properties["Principal"] }),
                        source.as_ref(),
                    ),
                    action: properties["Action"].as_str().unwrap_or_default().to_owned(),
                    resource: render_reference(&properties["FunctionName"]),
                });
            }
            "AWS::Lambda::Function" => {
                // Which role a function runs as is checked against `FUNCTION_ROLES`.
            }
            // A schedule acts as its target's role: the allowlist says which.
            "AWS::Scheduler::Schedule" => {
                grants.insert(Grant {
                    grantee: id.clone(),
                    action: "(runs as)".to_owned(),
                    resource: render_reference(&properties["Target"]["RoleArn"]),
                });
            }
            other if NON_GRANTING_TYPES.contains(&other) => {
                let mut keys = Vec::new();
                collect_keys(properties, &mut keys);
                for key in keys.into_iter().filter(|k| GRANTING_PROPERTIES.contains(k)) {
                    problems.push(format!("{id} ({other}): {key} may grant"));
                }
            }
            other => problems.push(format!(
                "{id}: resource type {other} is unknown to this test: say whether it grants"
            )),
        }
    }
    (grants, problems)
}

fn collect_keys<'a>(value: &'a Value, keys: &mut Vec<&'a str>) {
    match value {
        Value::Object(members) => {
            for (key, inner) in members {
                keys.push(key);
                collect_keys(inner, keys);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_keys(item, keys)),
        _ => {}
    }
}

/// Each function that runs as another role than [`FUNCTION_ROLES`] says, or is missing from
/// one side.
fn function_role_differences(template: &Value) -> Vec<String> {
    let mut runs_as: BTreeMap<&str, (Option<String>, Option<String>)> = BTreeMap::new();
    for (id, resource) in template["Resources"].as_object().unwrap() {
        if resource["Type"] == "AWS::Lambda::Function" {
            runs_as.entry(id).or_default().0 =
                Some(render_reference(&resource["Properties"]["Role"]));
        }
    }
    for (function, role) in FUNCTION_ROLES {
        runs_as.entry(function).or_default().1 = Some(format!("${{{role}.Arn}}"));
    }
    runs_as
        .into_iter()
        .filter(|(_, (actual, allowed))| actual != allowed)
        .map(|(function, (actual, allowed))| {
            let show = |role: Option<String>| role.unwrap_or_else(|| "nothing".to_owned());
            format!(
                "{function} runs as {}, the allowlist says {}",
                show(actual),
                show(allowed)
            )
        })
        .collect()
}

/// Every permission of the template is one the allowlist states, and every permission the
/// allowlist states is in the template: a broader action, an extra resource or grantee, a
/// wildcard or a shape the test cannot read fails, and so does a missing grant.
#[test]
fn iam_grants_equal_the_allowlist() {
    let template = json("template.json");
    let (granted, mut problems) = read_grants(&template);
    let allowed = allowlist().0;
    problems.extend(
        granted
            .difference(&allowed)
            .map(|grant| format!("not in the allowlist: {grant}")),
    );
    problems.extend(
        allowed
            .difference(&granted)
            .map(|grant| format!("missing from the template: {grant}")),
    );
    problems.extend(function_role_differences(&template));
    assert!(
        problems.is_empty(),
        "the template's IAM grants differ from the allowlist:\n  {}",
        problems.join("\n  ")
    );
}

/// The order service with a static schedule on `place_order`, as
/// `#[workflow(schedule = "cron(0 12 ? * MON-FRI *)")]` registers it.
fn inventory_with_a_schedule() -> Inventory {
    let mut inventory = inventory();
    let workflow = inventory
        .workflows
        .iter_mut()
        .find(|workflow| workflow.name == "place_order")
        .expect("the order workflow");
    workflow.schedule = Some(ScheduleSpec {
        name: "place_order".to_owned(),
        workflow: "place_order".to_owned(),
        expression: "cron(0 12 ? * MON-FRI *)".to_owned(),
        input: serde_json::json!({"id": "nightly"}),
        overlap: OverlapPolicy::Skip,
        catch_up: CatchUpPolicy::Once,
    });
    inventory
}

/// A static schedule is a recurring EventBridge Scheduler schedule in the service's own group,
/// putting a start on the orchestrator queue; Scheduler's role may send there and do nothing
/// else. The template passes cfn-lint.
#[test]
fn a_static_schedule_deploys_in_the_services_group_with_a_least_privilege_role() {
    let template = template(SERVICE, &inventory_with_a_schedule());
    let resources = &template["Resources"];
    assert_eq!(
        resources[id::SCHEDULE_GROUP],
        serde_json::json!({
            "Type": "AWS::Scheduler::ScheduleGroup",
            "Properties": {"Name": "order-service"},
        })
    );
    let schedule = &resources[id::workflow_schedule("place_order")]["Properties"];
    assert_eq!(
        schedule["GroupName"],
        serde_json::json!({"Ref": "ScheduleGroup"})
    );
    assert_eq!(schedule["ScheduleExpression"], "cron(0 12 ? * MON-FRI *)");
    assert_eq!(schedule["ScheduleExpressionTimezone"], "UTC");
    let target = &schedule["Target"];
    assert_eq!(
        target["Arn"],
        serde_json::json!({"Fn::GetAtt": ["OrchestratorQueue", "Arn"]})
    );
    assert_eq!(
        target["RoleArn"],
        serde_json::json!({"Fn::GetAtt": ["WorkflowSchedulerRole", "Arn"]})
    );
    let start: Value = serde_json::from_str(target["Input"].as_str().unwrap()).unwrap();
    assert_eq!(
        start,
        serde_json::json!({
            "kind": "start",
            "workflow": "place_order",
            "execution_id": "place_order-schedule-<aws.scheduler.scheduled-time>",
            "input": {"id": "nightly"},
        })
    );

    // Exactly the order service's grants, plus Scheduler's send to the orchestrator queue.
    let (granted, problems) = read_grants(&template);
    assert!(problems.is_empty(), "{problems:?}");
    let mut allowed = allowlist();
    allowed.allow(
        "SchedulePlaceOrder",
        &["(runs as)"],
        &["${WorkflowSchedulerRole.Arn}"],
    );
    allowed.allow("WorkflowSchedulerRole", SEND, &["${OrchestratorQueue.Arn}"]);
    allowed.allow(
        "scheduler.amazonaws.com",
        &["sts:AssumeRole"],
        &["${WorkflowSchedulerRole.Arn}"],
    );
    let extra: Vec<String> = granted
        .difference(&allowed.0)
        .map(ToString::to_string)
        .collect();
    let missing: Vec<String> = allowed
        .0
        .difference(&granted)
        .map(ToString::to_string)
        .collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "not allowed: {extra:?}\nmissing: {missing:?}"
    );

    cfn_lint_accepts(&template);
    // Without a schedule, neither the group nor the role.
    let plain = json("template.json");
    assert!(plain["Resources"].get(id::SCHEDULE_GROUP).is_none());
    assert!(plain["Resources"]
        .get(id::WORKFLOW_SCHEDULER_ROLE)
        .is_none());
}

/// A handler's queue hands an event to its dead-letter queue after the subscription's last
/// attempt.
#[test]
fn handler_queues_redrive_after_the_last_attempt() {
    let manifest = json("manifest.json");
    let template = json("template.json");
    let resources = template["Resources"].as_object().unwrap();
    let dead_lettered: Vec<&Value> = manifest["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["dead_letter"] == true)
        .collect();
    assert!(!dead_lettered.is_empty(), "no subscription to check");
    for subscription in dead_lettered {
        let name = subscription["name"].as_str().unwrap();
        let redrive = &resources[&id::handler_queue(name)]["Properties"]["RedrivePolicy"];
        assert_eq!(
            redrive["maxReceiveCount"], subscription["retry"]["max_attempts"],
            "{name}"
        );
        assert_eq!(
            render_reference(&redrive["deadLetterTargetArn"]),
            format!("${{{}.Arn}}", id::handler_dlq(name)),
            "{name}"
        );
    }
}

/// Rules name the bus literally and depend on it (moto's CloudFormation fails on a Ref).
#[test]
fn rules_name_the_bus_and_depend_on_it() {
    let template = json("template.json");
    let resources = template["Resources"].as_object().unwrap();
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

/// Retention and the execution list in the template: TTL on every per-execution table, the
/// executions table's list indexes, a lifecycle rule per distinct workflow retention (in
/// whole days) and for the service default, and the least privilege to keep and read them.
#[test]
fn the_template_expires_ended_executions_and_lists_them_without_scans() {
    use eventual_runtime::manifest::names::{self, condition, index, key};
    let mut inventory = inventory();
    inventory.workflows[0].retention_ms = Some(7 * 24 * 3600 * 1000);
    if let Some(second) = inventory.workflows.get_mut(1) {
        second.retention_ms = Some(2 * 3600 * 1000);
    }
    let template = template(SERVICE, &inventory);
    let resources = &template["Resources"];
    for table in [
        id::EXECUTIONS_TABLE,
        id::HISTORY_TABLE,
        id::ATTRIBUTES_TABLE,
    ] {
        assert_eq!(
            resources[table]["Properties"]["TimeToLiveSpecification"],
            serde_json::json!({"AttributeName": key::EXPIRES_AT, "Enabled": true}),
            "{table}"
        );
    }
    let indexes: Vec<(&str, &str)> = resources[id::EXECUTIONS_TABLE]["Properties"]
        ["GlobalSecondaryIndexes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["IndexName"].as_str().unwrap(),
                i["KeySchema"][0]["AttributeName"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        indexes,
        [
            (index::BY_WORKFLOW, key::WORKFLOW),
            (index::BY_STATUS, key::STATUS_WORKFLOW)
        ]
    );
    let rules = resources[id::HISTORY_BUCKET]["Properties"]["LifecycleConfiguration"]["Rules"]
        .as_array()
        .unwrap();
    let tagged: BTreeMap<&str, &Value> = rules
        .iter()
        .filter_map(|rule| {
            let tag = &rule["TagFilters"][0];
            (tag["Key"] == names::RETENTION_TAG)
                .then(|| (tag["Value"].as_str().unwrap(), &rule["ExpirationInDays"]))
        })
        .collect();
    let mut expected = BTreeMap::from([
        ("7d", serde_json::json!(7)),
        (names::SUPERSEDED_TAG, serde_json::json!(1)),
        (
            names::DEFAULT_RETENTION_TAG,
            serde_json::json!({"Fn::If": [condition::HAS_DEFAULT_RETENTION, {"Ref": parameter::RETENTION_DAYS}, 1]}),
        ),
    ]);
    if inventory.workflows.len() > 1 {
        expected.insert("1d", serde_json::json!(1));
    }
    assert_eq!(
        tagged,
        expected
            .iter()
            .map(|(k, v)| (*k, v))
            .collect::<BTreeMap<_, _>>()
    );
    // The API lists by queries of the indexes (never a scan); the orchestrator keeps the
    // attribute index and tags history documents.
    let actions = |role: &str| -> BTreeSet<String> {
        resources[role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["Action"].as_array().unwrap().clone())
            .map(|a| a.as_str().unwrap().to_owned())
            .collect()
    };
    let api = actions(id::API_ROLE);
    assert!(!api.contains("dynamodb:Scan"), "{api:?}");
    assert!(api.contains("dynamodb:Query") && api.contains("dynamodb:BatchGetItem"));
    let orchestrator = actions(id::ORCHESTRATOR_ROLE);
    assert!(
        orchestrator.contains("s3:PutObjectTagging"),
        "{orchestrator:?}"
    );
    assert!(
        orchestrator.contains("dynamodb:DeleteItem"),
        "{orchestrator:?}"
    );
    cfn_lint_accepts(&template);
}
