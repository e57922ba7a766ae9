//! The build's `template.json` for the order service, deployed into moto with CloudFormation
//! `CreateStack`: every resource is created, the queues, tables, bus, rules and functions have
//! the shape the engine needs, each role's function gets the environment its code reads, and
//! an event put on the bus reaches the matching subscription's queue through its rule; then the
//! engine runs `place_order` on the deployed stack, each role with its function's environment.

mod harness;

extern crate order_service;

use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};
use aws_sdk_sqs::types::QueueAttributeName;
use eventual_aws::lambda::Role;
use eventual_aws::Resources;
use eventual_runtime::api::ApiAuth;
use eventual_runtime::engine::api::ServiceApi;
use eventual_runtime::engine::client::StartExecution;
use eventual_runtime::engine::Engine;
use eventual_runtime::manifest::names::{self, env, id, key, output, parameter, role};
use eventual_runtime::manifest::{template, Inventory};
use eventual_runtime::registry::HandlerFailure;
use eventual_runtime::workflow::{HistoryEvent, Outcome};
use eventual_tests::manifest::{
    order_service as inventory,
    order_service_with_iam_and_jwt_routes as inventory_with_iam_and_jwt_routes,
};
use harness::{sdk_config, Consumer, Deployment, Harness, Moto, Options};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

const SERVICE: &str = "order-service";

/// Resource types moto 5.2.1's CloudFormation skips (it lists them with neither logical id
/// nor type and creates nothing): the test creates them with the SDK from their properties.
const MOTO_SKIPS: &[&str] = &[
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Authorizer",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Stage",
    "AWS::SQS::QueuePolicy",
];

/// Outputs moto cannot resolve: a `Fn::GetAtt` of a skipped resource fails the whole
/// `CreateStack` with a 500, so they are left out of what is deployed.
const MOTO_UNRESOLVED_OUTPUTS: &[&str] = &[output::API_URL];
/// The stack's completion-token key (the `CompletionTokenKey` parameter).
const TOKEN_KEY: &str = "0123456789abcdef0123456789abcdef";
/// The legacy system of the strangler fig (the `LegacyBaseUrl` parameter).
const LEGACY_BASE_URL: &str = "https://legacy.example.com";

/// The order service's items only.
/// An empty zip archive (its end-of-central-directory record): the Lambda package.
fn empty_zip() -> Vec<u8> {
    let mut zip = b"PK\x05\x06".to_vec();
    zip.resize(22, 0);
    zip
}

/// The `EVENTUAL_*` variables each role's code reads (`Resources::from_env`).
fn needed(function_role: &str) -> &'static [&'static str] {
    match function_role {
        role::ORCHESTRATOR => &[
            env::SERVICE,
            env::ORCHESTRATOR_QUEUE_URL,
            env::TIMER_QUEUE_URL,
            env::TIMER_QUEUE_ARN,
            env::SCHEDULER_ROLE_ARN,
            env::EXECUTIONS_TABLE,
            env::ATTRIBUTES_TABLE,
            env::RETENTION_DAYS,
            env::HISTORY_BUCKET,
            env::EVENT_BUS,
        ],
        role::TASK => &[
            env::SERVICE,
            env::ORCHESTRATOR_QUEUE_URL,
            env::TASK_LOCK_TABLE,
            env::HISTORY_BUCKET,
            env::TOKEN_KEY,
        ],
        role::TIMER_FORWARDER | role::TIMER => &[
            env::SERVICE,
            env::ORCHESTRATOR_QUEUE_URL,
            env::TIMER_QUEUE_URL,
            env::TIMER_QUEUE_ARN,
            env::SCHEDULER_ROLE_ARN,
            env::HISTORY_BUCKET,
        ],
        // A handler's client effects: starts and signals to the orchestrator queue, events
        // to the bus.
        role::HANDLER => &[
            env::SERVICE,
            env::HANDLER,
            env::HANDLER_QUEUE_URL,
            env::DEAD_LETTER_QUEUE_URL,
            env::ORCHESTRATOR_QUEUE_URL,
            env::EVENT_BUS,
            env::HISTORY_BUCKET,
        ],
        role::API => &[
            env::SERVICE,
            env::ORCHESTRATOR_QUEUE_URL,
            env::EXECUTIONS_TABLE,
            env::ATTRIBUTES_TABLE,
            env::HISTORY_BUCKET,
            env::EVENT_BUS,
            env::TOKEN_KEY,
        ],
        // What `ApiContext` reaches: no completion-token key.
        role::USER_API => &[
            env::SERVICE,
            env::ORCHESTRATOR_QUEUE_URL,
            env::EXECUTIONS_TABLE,
            env::HISTORY_BUCKET,
            env::EVENT_BUS,
        ],
        other => panic!("unknown role {other}"),
    }
}

/// The last path segment of a queue URL (moto answers with its own host).
fn queue_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// Resolves the `Fn::GetAtt [id, "Arn"]` of queues and rules in `value`, as CloudFormation
/// would.
fn resolve<'a>(
    value: &'a mut Value,
    physical: &'a BTreeMap<String, String>,
    sqs: &'a aws_sdk_sqs::Client,
    events: &'a aws_sdk_eventbridge::Client,
) -> futures::future::BoxFuture<'a, ()> {
    Box::pin(async move {
        if let Some(get_att) = value.get("Fn::GetAtt").and_then(Value::as_array) {
            let id = get_att[0].as_str().unwrap();
            assert_eq!(get_att[1], "Arn");
            let name = &physical[id];
            let arn = if name.starts_with("http") {
                harness::queue_arn(sqs, name).await
            } else {
                events
                    .describe_rule()
                    .name(name)
                    .event_bus_name(names::bus(SERVICE))
                    .send()
                    .await
                    .unwrap()
                    .arn
                    .unwrap()
            };
            *value = Value::String(arn);
            return;
        }
        match value {
            Value::Array(items) => {
                for item in items {
                    resolve(item, physical, sqs, events).await;
                }
            }
            Value::Object(fields) => {
                for item in fields.values_mut() {
                    resolve(item, physical, sqs, events).await;
                }
            }
            _ => {}
        }
    })
}

/// Every function of the template starts as a role this binary serves, and together they
/// serve every workflow's orchestration, every task and every subscription of the manifest.
#[test]
fn every_function_of_the_template_dispatches_to_a_linked_handler() {
    order_service::link();
    let inventory = inventory();
    let body = template(SERVICE, &inventory);
    let mut roles = Vec::new();
    for (id, resource) in body["Resources"].as_object().unwrap() {
        if resource["Type"] != "AWS::Lambda::Function" {
            continue;
        }
        let variables = &resource["Properties"]["Environment"]["Variables"];
        let role = Role::from_vars(|name| variables[name].as_str().map(str::to_owned))
            .unwrap_or_else(|error| panic!("{id}: {error}"));
        roles.push(role);
    }
    roles.sort_by_key(|role| format!("{role:?}"));
    let mut expected = vec![Role::Api, Role::Orchestrator, Role::Timer, Role::UserApi];
    expected.extend(
        inventory
            .subscriptions
            .iter()
            .map(|s| Role::Handler(s.name.clone())),
    );
    expected.extend(inventory.tasks.iter().map(|t| Role::Task(t.name.clone())));
    expected.sort_by_key(|role| format!("{role:?}"));
    assert_eq!(roles, expected);
    assert!(inventory.tasks.len() >= 3 && inventory.subscriptions.len() == 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_service_template_deploys_into_moto() {
    order_service::link();
    let body: Value = template(SERVICE, &inventory());
    let declared: BTreeMap<String, String> = body["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(id, r)| (id.clone(), r["Type"].as_str().unwrap().to_owned()))
        .collect();

    let moto = Moto::start();
    let config = sdk_config(&moto.endpoint).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket("artifacts").send().await.unwrap();
    s3.put_object()
        .bucket("artifacts")
        .key("order-service.zip")
        .body(empty_zip().into())
        .send()
        .await
        .unwrap();

    let cloudformation = aws_sdk_cloudformation::Client::new(&config);
    let parameter = |key: &str, value: &str| {
        Parameter::builder()
            .parameter_key(key)
            .parameter_value(value)
            .build()
    };
    cloudformation
        .create_stack()
        .stack_name(SERVICE)
        .template_body(deployable(&body).to_string())
        .parameters(parameter(parameter::ARTIFACT_BUCKET, "artifacts"))
        .parameters(parameter(parameter::ARTIFACT_KEY, "order-service.zip"))
        .parameters(parameter(parameter::COMPLETION_TOKEN_KEY, TOKEN_KEY))
        .parameters(parameter(parameter::LEGACY_BASE_URL, LEGACY_BASE_URL))
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await
        .expect("CreateStack");
    let deadline = Instant::now() + Duration::from_secs(60);
    let stack = loop {
        let stack = cloudformation
            .describe_stacks()
            .stack_name(SERVICE)
            .send()
            .await
            .unwrap()
            .stacks
            .unwrap()
            .remove(0);
        if stack.stack_status != Some(StackStatus::CreateInProgress) {
            break stack;
        }
        assert!(
            Instant::now() < deadline,
            "the stack is still being created"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        stack.stack_status,
        Some(StackStatus::CreateComplete),
        "{:?}",
        stack.stack_status_reason
    );

    // Every declared resource is created, except the types moto 5.2.1 has no CloudFormation
    // support for: it skips them (listed with neither logical id nor type) and the test
    // creates them with the SDK below.
    let summaries = cloudformation
        .list_stack_resources()
        .stack_name(SERVICE)
        .send()
        .await
        .unwrap()
        .stack_resource_summaries
        .unwrap_or_default();
    let mut created = BTreeMap::new();
    for summary in &summaries {
        assert_eq!(
            summary.resource_status.as_ref().map(|s| s.as_str()),
            Some("CREATE_COMPLETE"),
            "{summary:?}"
        );
        if let Some(id) = summary
            .logical_resource_id
            .as_deref()
            .filter(|id| !id.is_empty())
        {
            created.insert(id.to_owned(), summary.resource_type.clone().unwrap());
        }
    }
    let policies = declared
        .values()
        .filter(|t| *t == "AWS::SQS::QueuePolicy")
        .count();
    assert_eq!(summaries.len(), declared.len());
    let mut expected = declared.clone();
    expected.retain(|_, t| !MOTO_SKIPS.contains(&t.as_str()));
    assert_eq!(created, expected);
    let types: BTreeSet<&str> = declared.values().map(String::as_str).collect();
    assert_eq!(
        types.into_iter().collect::<Vec<_>>(),
        [
            "AWS::ApiGatewayV2::Api",
            "AWS::ApiGatewayV2::Integration",
            "AWS::ApiGatewayV2::Route",
            "AWS::ApiGatewayV2::Stage",
            "AWS::DynamoDB::Table",
            "AWS::Events::EventBus",
            "AWS::Events::Rule",
            "AWS::IAM::Role",
            "AWS::Lambda::EventSourceMapping",
            "AWS::Lambda::Function",
            "AWS::Lambda::Permission",
            "AWS::S3::Bucket",
            "AWS::SQS::Queue",
            "AWS::SQS::QueuePolicy",
        ]
    );
    let sqs = aws_sdk_sqs::Client::new(&config);
    let events = aws_sdk_eventbridge::Client::new(&config);
    let physical: BTreeMap<String, String> = summaries
        .iter()
        .filter_map(|s| {
            Some((
                s.logical_resource_id.clone().filter(|id| !id.is_empty())?,
                s.physical_resource_id.clone()?,
            ))
        })
        .collect();
    for (id, _) in declared
        .iter()
        .filter(|(_, t)| *t == "AWS::SQS::QueuePolicy")
    {
        let properties = &body["Resources"][id]["Properties"];
        let mut document = properties["PolicyDocument"].clone();
        resolve(&mut document, &physical, &sqs, &events).await;
        for queue in properties["Queues"].as_array().unwrap() {
            let queue = &physical[queue["Ref"].as_str().unwrap()];
            sqs.set_queue_attributes()
                .queue_url(queue)
                .attributes(QueueAttributeName::Policy, document.to_string())
                .send()
                .await
                .unwrap();
        }
    }
    deploy_http_api(&config, &body, &physical).await;
    let outputs: BTreeMap<String, String> = stack
        .outputs
        .unwrap_or_default()
        .into_iter()
        .map(|o| (o.output_key.unwrap(), o.output_value.unwrap()))
        .collect();
    assert_eq!(outputs[output::EVENT_BUS_NAME], names::bus(SERVICE));
    assert_eq!(
        queue_name(&outputs[output::ORCHESTRATOR_QUEUE_URL]),
        names::orchestrator_queue(SERVICE)
    );

    // Queues: the orchestrator's is FIFO with a dead-letter queue; each subscription's queue
    // has a redrive policy and the policy that lets its rule send to it.
    let urls = sqs.list_queues().send().await.unwrap().queue_urls.unwrap();
    let url_of = |name: &str| {
        urls.iter()
            .find(|u| queue_name(u) == name)
            .unwrap_or_else(|| panic!("no queue {name} in {urls:?}"))
            .clone()
    };
    let attributes = |url: String| {
        let sqs = sqs.clone();
        async move {
            sqs.get_queue_attributes()
                .queue_url(url)
                .attribute_names(QueueAttributeName::All)
                .send()
                .await
                .unwrap()
                .attributes
                .unwrap_or_default()
        }
    };
    let orchestrator = attributes(url_of(&names::orchestrator_queue(SERVICE))).await;
    assert_eq!(
        orchestrator
            .get(&QueueAttributeName::FifoQueue)
            .map(String::as_str),
        Some("true")
    );
    assert!(orchestrator.contains_key(&QueueAttributeName::RedrivePolicy));
    assert!(attributes(url_of(&names::timer_queue(SERVICE)))
        .await
        .get(&QueueAttributeName::FifoQueue)
        .is_none_or(|fifo| fifo == "false"));
    let subscriptions: Vec<String> = inventory()
        .subscriptions
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(subscriptions.len(), 2, "{subscriptions:?}");
    for name in &subscriptions {
        let queue = attributes(url_of(&names::handler_queue(SERVICE, name))).await;
        assert!(
            queue.contains_key(&QueueAttributeName::RedrivePolicy),
            "{name}: {queue:?}"
        );
        let policy: Value = serde_json::from_str(&queue[&QueueAttributeName::Policy]).unwrap();
        assert_eq!(
            policy["Statement"][0]["Principal"],
            json!({"Service": "events.amazonaws.com"})
        );
        let rule = names::rule(SERVICE, name);
        assert!(
            policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"]
                .as_str()
                .is_some_and(
                    |arn| arn.ends_with(&format!("rule/{}/{rule}", names::bus(SERVICE)))
                        || arn.ends_with(&format!("rule/{rule}"))
                )
        );
    }
    assert_eq!(policies, subscriptions.len());

    // Tables with the keys the engine uses.
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    for (table, key) in [
        (names::executions_table(SERVICE), key::EXECUTION_ID),
        (names::task_lock_table(SERVICE), key::ATTEMPT),
    ] {
        let description = dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .unwrap()
            .table
            .unwrap();
        let schema = description.key_schema.unwrap();
        assert_eq!(schema.len(), 1);
        assert_eq!(schema[0].attribute_name, key);
    }
    // The list's indexes and the attribute index.
    let executions = dynamodb
        .describe_table()
        .table_name(names::executions_table(SERVICE))
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let indexes: BTreeSet<String> = executions
        .global_secondary_indexes()
        .iter()
        .filter_map(|index| index.index_name().map(str::to_owned))
        .collect();
    assert_eq!(
        indexes,
        BTreeSet::from([
            names::index::BY_STATUS.to_owned(),
            names::index::BY_WORKFLOW.to_owned()
        ])
    );
    let attribute_index = dynamodb
        .describe_table()
        .table_name(names::attributes_table(SERVICE))
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let schema: Vec<_> = attribute_index
        .key_schema()
        .iter()
        .map(|k| k.attribute_name().to_owned())
        .collect();
    assert_eq!(schema, [key::ATTRIBUTE, key::STARTED]);

    // Functions: one per role, each with the environment its code reads, naming resources
    // that exist.
    let lambda = aws_sdk_lambda::Client::new(&config);
    let functions = lambda
        .list_functions()
        .send()
        .await
        .unwrap()
        .functions
        .unwrap_or_default();
    let mut roles = BTreeMap::<String, usize>::new();
    for function in &functions {
        let name = function.function_name.clone().unwrap();
        let variables = function
            .environment
            .as_ref()
            .and_then(|e| e.variables.clone())
            .unwrap_or_default();
        let role = variables
            .get(env::ROLE)
            .unwrap_or_else(|| panic!("{name} has no {}", env::ROLE));
        *roles.entry(role.clone()).or_default() += 1;
        for variable in needed(role) {
            let value = variables
                .get(*variable)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| panic!("{name} ({role}) lacks {variable}: {variables:?}"));
            match *variable {
                env::SERVICE => assert_eq!(value, SERVICE),
                env::ORCHESTRATOR_QUEUE_URL => {
                    assert_eq!(queue_name(value), names::orchestrator_queue(SERVICE))
                }
                env::TIMER_QUEUE_URL => assert_eq!(queue_name(value), names::timer_queue(SERVICE)),
                env::EVENT_BUS => assert_eq!(*value, names::bus(SERVICE)),
                env::EXECUTIONS_TABLE => assert_eq!(*value, names::executions_table(SERVICE)),
                env::TASK_LOCK_TABLE => assert_eq!(*value, names::task_lock_table(SERVICE)),
                env::ATTRIBUTES_TABLE => assert_eq!(*value, names::attributes_table(SERVICE)),
                env::RETENTION_DAYS => assert_eq!(value, "0"),
                env::HISTORY_BUCKET => {
                    s3.head_bucket().bucket(value).send().await.unwrap();
                    apply_lifecycle_rules(&s3, value, &body).await;
                }
                _ => {}
            }
        }
        if role == role::TASK {
            let task = &variables[env::TASK];
            assert_eq!(name, names::task_function(SERVICE, task));
        }
    }
    let tasks = inventory().tasks.len();
    assert_eq!(
        roles,
        BTreeMap::from(
            [
                (role::API, 1),
                (role::USER_API, 1),
                (role::HANDLER, subscriptions.len()),
                (role::ORCHESTRATOR, 1),
                (role::TASK, tasks),
                (role::TIMER_FORWARDER, 1),
            ]
            .map(|(role, n)| (role.to_owned(), n))
        )
    );
    let mappings = lambda
        .list_event_source_mappings()
        .send()
        .await
        .unwrap()
        .event_source_mappings
        .unwrap_or_default();
    assert_eq!(mappings.len(), 2 + subscriptions.len());
    for mapping in &mappings {
        assert_eq!(
            mapping.function_response_types(),
            [aws_sdk_lambda::types::FunctionResponseType::ReportBatchItemFailures]
        );
    }

    // The bus and its rules: an `OrderPlaced` above 100.00 reaches `flag_big_order`'s queue.
    let rules = events
        .list_rules()
        .event_bus_name(names::bus(SERVICE))
        .send()
        .await
        .unwrap()
        .rules
        .unwrap_or_default();
    assert_eq!(rules.len(), subscriptions.len());
    let order = order_service::sample_order("o-big", 50_000, "eu");
    let put = events
        .put_events()
        .entries(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .event_bus_name(names::bus(SERVICE))
                .source("order-service")
                .detail_type("OrderPlaced")
                .detail(serde_json::to_string(&order).unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(put.failed_entry_count, 0);
    let queue = url_of(&names::handler_queue(SERVICE, "flag_big_order"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let message = loop {
        let received = sqs
            .receive_message()
            .queue_url(&queue)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if let Some(message) = received.into_iter().next() {
            break message;
        }
        assert!(Instant::now() < deadline, "the rule did not deliver");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let delivered: Value = serde_json::from_str(message.body.as_deref().unwrap()).unwrap();
    assert_eq!(delivered["detail-type"], "OrderPlaced");
    assert_eq!(delivered["detail"]["id"], "o-big");
    sqs.delete_message()
        .queue_url(&queue)
        .receipt_handle(message.receipt_handle.unwrap())
        .send()
        .await
        .unwrap();

    // The engine on the deployed stack: Lambda's part played as the event source mappings
    // say (queue → function), each function with the environment CloudFormation gave it.
    let environment = |function: &str| {
        functions
            .iter()
            .find(|f| f.function_name.as_deref() == Some(function))
            .and_then(|f| f.environment.as_ref()?.variables.clone())
            .unwrap_or_else(|| panic!("no function {function}"))
    };
    let mut queues = Vec::new();
    for mapping in &mappings {
        let queue = mapping.event_source_arn.as_deref().unwrap();
        let queue = queue.rsplit(':').next().unwrap();
        let url = sqs
            .get_queue_url()
            .queue_name(queue)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let function = mapping.function_arn.as_deref().unwrap();
        let variables = environment(function.rsplit(':').next().unwrap());
        let consumer = match variables[env::ROLE].as_str() {
            role::ORCHESTRATOR => Consumer::Orchestrator,
            role::TIMER_FORWARDER => Consumer::Timer,
            role::HANDLER => Consumer::Subscription(variables[env::HANDLER].clone()),
            other => panic!("{other} polls {queue}"),
        };
        queues.push((url, consumer, resources(&variables)));
    }
    let tasks = functions
        .iter()
        .filter_map(|f| {
            let variables = f.environment.as_ref()?.variables.clone()?;
            (variables[env::ROLE] == role::TASK)
                .then(|| (f.function_name.clone().unwrap(), resources(&variables)))
        })
        .collect();
    let deployment = Deployment {
        client: resources(&environment(&names::api_function(SERVICE))),
        queues,
        tasks,
    };
    let urls: Vec<String> = deployment.queues.iter().map(|q| q.0.clone()).collect();
    let harness = Harness::launch(moto, &config, deployment, Options::default()).await;
    let order = serde_json::to_value(order_service::sample_order("o-1", 20_000, "eu")).unwrap();
    let (outcome, history) = place_order(&harness.api(), order.clone()).await;
    let (expected_outcome, expected) =
        place_order(&eventual_runtime::testing::TestEnvironment::new(), order).await;
    assert!(matches!(outcome, Outcome::Succeeded { .. }), "{outcome:?}");
    assert_eq!(outcome, expected_outcome);
    assert_eq!(shape(&history), shape(&expected));
    // Every polled queue (orchestrator, timers, the handlers' queues that the events reached
    // through their rules) ends up drained, with nothing dead-lettered.
    let deadline = Instant::now() + Duration::from_secs(30);
    for url in &urls {
        loop {
            let queue = attributes(url.clone()).await;
            let count = |name: QueueAttributeName| {
                queue
                    .get(&name)
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            if count(QueueAttributeName::ApproximateNumberOfMessages)
                + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                == 0
            {
                break;
            }
            assert!(Instant::now() < deadline, "{url} is not drained");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for name in &subscriptions {
        let dead = attributes(url_of(&names::handler_dlq(SERVICE, name))).await;
        assert_eq!(
            dead.get(&QueueAttributeName::ApproximateNumberOfMessages)
                .map(String::as_str),
            Some("0"),
            "{name} dead-lettered"
        );
    }

    // Dead letters through the service API: an `OrderPlaced` the handler cannot read is
    // dead-lettered at its first delivery (retrying cannot help, as on every engine) with
    // the handler's failure; the API lists it and redrives it to the handler's queue, where it
    // fails and is dead-lettered again.
    let api = harness.api();
    assert!(ServiceApi::dead_letters(&api).await.unwrap().is_empty());
    let unreadable = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .event_bus_name(names::bus(SERVICE))
        .source("order-service")
        .detail_type("OrderPlaced")
        .detail(json!({"total_cents": 50_000}).to_string())
        .build();
    let put = events
        .put_events()
        .entries(unreadable)
        .send()
        .await
        .unwrap();
    assert_eq!(put.failed_entry_count, 0);
    let dead_letter = |api: eventual_aws::api::AwsApi| async move {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let letters = ServiceApi::dead_letters(&api).await.unwrap();
            if !letters.is_empty() {
                return letters;
            }
            assert!(Instant::now() < deadline, "nothing was dead-lettered");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let letters = dead_letter(harness.api()).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].subscription, "flag_big_order");
    assert_eq!(letters[0].event.detail_type, "OrderPlaced");
    assert_eq!(letters[0].event.detail, json!({"total_cents": 50_000}));
    // moto's own event source mapping receives each message once as it arrives (it cannot
    // run the function), so the handler's first delivery is the queue's second receive.
    assert_eq!(letters[0].attempts, 2, "{letters:?}");
    assert!(
        matches!(&letters[0].error, HandlerFailure::InvalidEvent(why) if why.contains("missing field")),
        "{letters:?}"
    );
    // Listing leaves them in place.
    assert_eq!(ServiceApi::dead_letters(&api).await.unwrap(), letters);
    assert!(matches!(
        api.redrive(Some("no-such-letter")).await,
        Err(eventual_runtime::engine::ServiceError::NotFound(_))
    ));
    assert_eq!(api.redrive(Some(&letters[0].id)).await.unwrap(), 1);
    let again = dead_letter(harness.api()).await;
    assert_eq!(again.len(), 1, "{again:?}");
    assert_ne!(
        again[0].id, letters[0].id,
        "a redriven letter is a new message"
    );
    assert_eq!(again[0].event.id, letters[0].event.id);
    assert_eq!(api.redrive(None).await.unwrap(), 1);
}

/// The template as moto can deploy it: without the outputs it cannot resolve.
/// moto's CloudFormation leaves out a bucket's `LifecycleConfiguration`: the template's rules
/// (resolved with `RetentionDays` at its default, 0) are applied with
/// `PutBucketLifecycleConfiguration`, and moto's S3 must hold them as written: history
/// documents expire by their retention tag.
async fn apply_lifecycle_rules(s3: &aws_sdk_s3::Client, bucket: &str, body: &Value) {
    use aws_sdk_s3::types::{
        BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
        LifecycleRuleAndOperator, LifecycleRuleFilter, Tag,
    };
    let rules = body["Resources"][id::HISTORY_BUCKET]["Properties"]["LifecycleConfiguration"]
        ["Rules"]
        .as_array()
        .unwrap();
    // `Fn::If` on the default-retention condition, which is false at the default.
    let resolve = |value: &Value| match value.get("Fn::If") {
        Some(branches) => branches[2].clone(),
        None => value.clone(),
    };
    let mut written = Vec::new();
    let mut configuration = BucketLifecycleConfiguration::builder();
    for rule in rules {
        let id = rule["Id"].as_str().unwrap();
        let prefix = rule["Prefix"].as_str().unwrap();
        let tag = rule["TagFilters"][0]["Value"].as_str().map(str::to_owned);
        let filter = match &tag {
            None => LifecycleRuleFilter::builder().prefix(prefix).build(),
            Some(value) => LifecycleRuleFilter::builder()
                .and(
                    LifecycleRuleAndOperator::builder()
                        .prefix(prefix)
                        .tags(
                            Tag::builder()
                                .key(rule["TagFilters"][0]["Key"].as_str().unwrap())
                                .value(value)
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build(),
        };
        let days = resolve(&rule["ExpirationInDays"]).as_i64().unwrap() as i32;
        let status = resolve(&rule["Status"]).as_str().unwrap().to_owned();
        configuration = configuration.rules(
            LifecycleRule::builder()
                .id(id)
                .status(ExpirationStatus::from(status.as_str()))
                .filter(filter)
                .expiration(LifecycleExpiration::builder().days(days).build())
                .build()
                .unwrap(),
        );
        written.push((id.to_owned(), tag, days, status));
    }
    s3.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(configuration.build().unwrap())
        .send()
        .await
        .unwrap();
    let held = s3
        .get_bucket_lifecycle_configuration()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let mut read: Vec<_> = held
        .rules()
        .iter()
        .map(|rule| {
            let filter = rule.filter().unwrap();
            let tag = filter
                .and()
                .and_then(|and| and.tags().first())
                .map(|tag| tag.value().to_owned());
            (
                rule.id().unwrap().to_owned(),
                tag,
                rule.expiration().and_then(|e| e.days()).unwrap(),
                rule.status().as_str().to_owned(),
            )
        })
        .collect();
    read.sort();
    written.sort();
    assert_eq!(read, written);
    let superseded = (
        "ExpireSupersededHistory".to_owned(),
        Some(names::SUPERSEDED_TAG.to_owned()),
        names::SUPERSEDED_KEPT_DAYS as i32,
        "Enabled".to_owned(),
    );
    assert!(written.contains(&superseded), "{written:?}");
}

fn deployable(body: &Value) -> Value {
    let mut body = body.clone();
    if let Some(outputs) = body["Outputs"].as_object_mut() {
        for output in MOTO_UNRESOLVED_OUTPUTS {
            assert!(outputs.remove(*output).is_some(), "no output {output}");
        }
    }
    body
}

/// Creates the deployed stack's HTTP API as CloudFormation would have, checks its routes, and
/// that the API and user-API functions let API Gateway invoke them.
async fn deploy_http_api(
    config: &aws_config::SdkConfig,
    body: &Value,
    physical: &BTreeMap<String, String>,
) {
    let lambda = aws_sdk_lambda::Client::new(config);
    let mut function_arns = BTreeMap::new();
    for function in [id::API_FUNCTION, id::USER_API_FUNCTION] {
        let name = &physical[function];
        let arn = lambda
            .get_function()
            .function_name(name)
            .send()
            .await
            .unwrap()
            .configuration
            .unwrap()
            .function_arn
            .unwrap();
        function_arns.insert(function, arn);
        let policy = lambda
            .get_policy()
            .function_name(name)
            .send()
            .await
            .unwrap()
            .policy
            .unwrap();
        let policy: Value = serde_json::from_str(&policy).unwrap();
        assert_eq!(
            policy["Statement"][0]["Principal"]["Service"], "apigateway.amazonaws.com",
            "{function}: {policy}"
        );
    }
    let mut stack = Stack {
        body,
        parameters: BTreeMap::from([(parameter::LEGACY_BASE_URL, json!(LEGACY_BASE_URL))]),
        function_arns,
        gateway_ids: BTreeMap::new(),
    };
    let gateway = aws_sdk_apigatewayv2::Client::new(config);
    let api_id = create_http_api(&gateway, &mut stack).await;
    check_http_api(&gateway, &api_id, &stack, &inventory()).await;
}

/// A template's references as CloudFormation would resolve them: its parameters' values, its
/// functions' ARNs, and the ids API Gateway gave the HTTP API's resources created so far.
struct Stack<'a> {
    body: &'a Value,
    parameters: BTreeMap<&'static str, Value>,
    function_arns: BTreeMap<&'static str, String>,
    gateway_ids: BTreeMap<String, String>,
}

impl Stack<'_> {
    /// `value` with its `Ref`s, `Fn::GetAtt`s (of functions) and `Fn::Sub`s resolved.
    fn resolve(&self, value: &Value) -> Value {
        if let Some(name) = value.get("Ref").and_then(Value::as_str) {
            return match (self.parameters.get(name), self.gateway_ids.get(name)) {
                (Some(parameter), _) => parameter.clone(),
                (None, Some(id)) => json!(id),
                (None, None) => panic!("cannot resolve Ref {name}"),
            };
        }
        if let Some([function, attribute]) = value
            .get("Fn::GetAtt")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        {
            assert_eq!(attribute, "Arn");
            let function = function.as_str().unwrap();
            return json!(self.function_arns[function]);
        }
        if let Some(text) = value.get("Fn::Sub").and_then(Value::as_str) {
            let mut text = text.to_owned();
            for (logical_id, id) in &self.gateway_ids {
                text = text.replace(&format!("${{{logical_id}}}"), id);
            }
            assert!(!text.contains("${"), "cannot resolve Fn::Sub {text}");
            return json!(text);
        }
        match value {
            Value::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(key, member)| (key.clone(), self.resolve(member)))
                    .collect(),
            ),
            Value::Array(items) => items.iter().map(|item| self.resolve(item)).collect(),
            other => other.clone(),
        }
    }

    /// Whether the condition `name` of the template holds (`Fn::Not`, `Fn::Equals`).
    fn holds(&self, name: &str) -> bool {
        fn evaluate(stack: &Stack<'_>, condition: &Value) -> bool {
            if let Some([inner]) = condition
                .get("Fn::Not")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
            {
                return !evaluate(stack, inner);
            }
            if let Some([left, right]) = condition
                .get("Fn::Equals")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
            {
                return stack.resolve(left) == stack.resolve(right);
            }
            panic!("condition {condition} is unknown to this test")
        }
        evaluate(self, &self.body["Conditions"][name])
    }
}

/// The text of `properties[key]`.
fn text(properties: &Value, key: &str) -> String {
    properties[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not text in {properties}"))
        .to_owned()
}

/// The texts of `properties[key]`, a list.
fn texts(properties: &Value, key: &str) -> Vec<String> {
    properties[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is not a list in {properties}"))
        .iter()
        .map(|item| item.as_str().unwrap().to_owned())
        .collect()
}

/// Creates the template's HTTP API resources (which moto's CloudFormation skips) with the
/// SDK from their declared properties, those whose condition holds, in dependency order;
/// fails on a property this test would drop. Returns the HTTP API's id.
async fn create_http_api(gateway: &aws_sdk_apigatewayv2::Client, stack: &mut Stack<'_>) -> String {
    use aws_sdk_apigatewayv2::types::{
        AuthorizationType, AuthorizerType, IntegrationType, JwtConfiguration, ProtocolType,
    };
    let declared = stack.body["Resources"].as_object().unwrap().clone();
    for kind in ["Api", "Authorizer", "Integration", "Route", "Stage"] {
        let of_kind: Vec<(&String, &Value)> = declared
            .iter()
            .filter(|(_, resource)| {
                resource["Type"] == format!("AWS::ApiGatewayV2::{kind}")
                    && resource["Condition"]
                        .as_str()
                        .is_none_or(|condition| stack.holds(condition))
            })
            .collect();
        for (logical_id, resource) in of_kind {
            let properties = stack.resolve(&resource["Properties"]);
            let known: &[&str] = match kind {
                "Api" => &["Name", "Description", "ProtocolType"],
                "Authorizer" => &[
                    "ApiId",
                    "Name",
                    "AuthorizerType",
                    "IdentitySource",
                    "JwtConfiguration",
                ],
                "Integration" => &[
                    "ApiId",
                    "IntegrationType",
                    "IntegrationUri",
                    "IntegrationMethod",
                    "PayloadFormatVersion",
                    "RequestParameters",
                    "TimeoutInMillis",
                ],
                "Route" => &[
                    "ApiId",
                    "RouteKey",
                    "AuthorizationType",
                    "AuthorizerId",
                    "Target",
                ],
                _ => &["ApiId", "StageName", "AutoDeploy"],
            };
            for key in properties.as_object().unwrap().keys() {
                assert!(
                    known.contains(&key.as_str()),
                    "{logical_id}: property {key} is unknown to this test"
                );
            }
            let optional = |key: &str| properties.get(key).map(|_| text(&properties, key));
            let id = match kind {
                "Api" => {
                    gateway
                        .create_api()
                        .name(text(&properties, "Name"))
                        .description(text(&properties, "Description"))
                        .protocol_type(ProtocolType::from(
                            text(&properties, "ProtocolType").as_str(),
                        ))
                        .send()
                        .await
                        .unwrap()
                        .api_id
                }
                "Authorizer" => {
                    let jwt = &properties["JwtConfiguration"];
                    gateway
                        .create_authorizer()
                        .api_id(text(&properties, "ApiId"))
                        .name(text(&properties, "Name"))
                        .authorizer_type(AuthorizerType::from(
                            text(&properties, "AuthorizerType").as_str(),
                        ))
                        .set_identity_source(Some(texts(&properties, "IdentitySource")))
                        .jwt_configuration(
                            JwtConfiguration::builder()
                                .issuer(text(jwt, "Issuer"))
                                .set_audience(Some(texts(jwt, "Audience")))
                                .build(),
                        )
                        .send()
                        .await
                        .unwrap()
                        .authorizer_id
                }
                "Integration" => {
                    gateway
                        .create_integration()
                        .api_id(text(&properties, "ApiId"))
                        .integration_type(IntegrationType::from(
                            text(&properties, "IntegrationType").as_str(),
                        ))
                        .integration_uri(text(&properties, "IntegrationUri"))
                        .set_integration_method(optional("IntegrationMethod"))
                        .payload_format_version(text(&properties, "PayloadFormatVersion"))
                        .timeout_in_millis(properties["TimeoutInMillis"].as_i64().unwrap() as i32)
                        .set_request_parameters(properties.get("RequestParameters").map(|map| {
                            serde_json::from_value::<HashMap<String, String>>(map.clone()).unwrap()
                        }))
                        .send()
                        .await
                        .unwrap()
                        .integration_id
                }
                "Route" => {
                    gateway
                        .create_route()
                        .api_id(text(&properties, "ApiId"))
                        .route_key(text(&properties, "RouteKey"))
                        .authorization_type(AuthorizationType::from(
                            text(&properties, "AuthorizationType").as_str(),
                        ))
                        .set_authorizer_id(optional("AuthorizerId"))
                        .target(text(&properties, "Target"))
                        .send()
                        .await
                        .unwrap()
                        .route_id
                }
                _ => {
                    gateway
                        .create_stage()
                        .api_id(text(&properties, "ApiId"))
                        .stage_name(text(&properties, "StageName"))
                        .auto_deploy(properties["AutoDeploy"].as_bool().unwrap())
                        .send()
                        .await
                        .unwrap();
                    Some(text(&properties, "StageName"))
                }
            };
            stack
                .gateway_ids
                .insert(logical_id.clone(), id.expect("API Gateway gave an id"));
        }
    }
    stack.gateway_ids[id::HTTP_API].clone()
}

/// What API Gateway (moto) holds for the HTTP API `api_id`: every route of the service, and
/// nothing else. The internal routes (`ANY /_eventual/{proxy+}`) need SigV4 and reach the
/// API function; each `#[api]` route has its own route key and authorization (a JWT one the
/// authorizer that the stack's parameters configure) and reaches the user-API function, with
/// the payload format its handler reads; when the stack names a legacy system, `$default`
/// proxies there with the request's own path.
async fn check_http_api(
    gateway: &aws_sdk_apigatewayv2::Client,
    api_id: &str,
    stack: &Stack<'_>,
    inventory: &Inventory,
) {
    use aws_sdk_apigatewayv2::types::{AuthorizationType, AuthorizerType, IntegrationType};
    let routes = gateway.get_routes().api_id(api_id).send().await.unwrap();
    let routes: BTreeMap<String, aws_sdk_apigatewayv2::types::Route> = routes
        .items
        .unwrap_or_default()
        .into_iter()
        .map(|route| (route.route_key.clone().unwrap(), route))
        .collect();
    let integration_of = |route_key: &str| {
        let target = routes
            .get(route_key)
            .unwrap_or_else(|| panic!("no route {route_key}: {:?}", routes.keys()))
            .target
            .clone()
            .unwrap();
        let integration_id = target.strip_prefix("integrations/").unwrap().to_owned();
        async move {
            gateway
                .get_integration()
                .api_id(api_id)
                .integration_id(integration_id)
                .send()
                .await
                .unwrap()
        }
    };
    let proxies_to =
        |integration: &aws_sdk_apigatewayv2::operation::get_integration::GetIntegrationOutput,
         function: &str| {
            assert_eq!(
                integration.integration_type,
                Some(IntegrationType::AwsProxy)
            );
            assert_eq!(
                integration.integration_uri.as_deref(),
                Some(stack.function_arns[function].as_str())
            );
            assert_eq!(integration.payload_format_version.as_deref(), Some("2.0"));
        };

    let internal = "ANY /_eventual/{proxy+}";
    assert_eq!(
        routes[internal].authorization_type,
        Some(AuthorizationType::AwsIam)
    );
    proxies_to(&integration_of(internal).await, id::API_FUNCTION);

    for route in &inventory.routes {
        let key = route.route_key();
        let deployed = &routes[&key];
        let expected = match route.auth {
            ApiAuth::None => AuthorizationType::None,
            ApiAuth::Iam => AuthorizationType::AwsIam,
            ApiAuth::Jwt => AuthorizationType::Jwt,
        };
        assert_eq!(deployed.authorization_type, Some(expected), "{key}");
        if route.auth == ApiAuth::Jwt {
            // moto 5.2.1 has no GetAuthorizers: the route's own authorizer, by id.
            let authorizer = gateway
                .get_authorizer()
                .api_id(api_id)
                .authorizer_id(deployed.authorizer_id.clone().expect("an authorizer"))
                .send()
                .await
                .unwrap();
            assert_eq!(authorizer.authorizer_type, Some(AuthorizerType::Jwt));
            assert_eq!(
                authorizer.identity_source(),
                ["$request.header.Authorization"]
            );
            let jwt = authorizer.jwt_configuration.as_ref().unwrap();
            assert_eq!(
                json!(jwt.issuer),
                stack.parameters[parameter::JWT_ISSUER],
                "{key}"
            );
            assert_eq!(
                json!(jwt.audience),
                stack.parameters[parameter::JWT_AUDIENCE],
                "{key}"
            );
        } else {
            assert_eq!(deployed.authorizer_id, None, "{key}");
        }
        proxies_to(&integration_of(&key).await, id::USER_API_FUNCTION);
    }

    let legacy = stack.parameters[parameter::LEGACY_BASE_URL]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        routes.len(),
        1 + inventory.routes.len() + usize::from(!legacy.is_empty()),
        "{:?}",
        routes.keys()
    );
    if !legacy.is_empty() {
        assert_eq!(
            routes["$default"].authorization_type,
            Some(AuthorizationType::None)
        );
        let integration = integration_of("$default").await;
        assert_eq!(
            integration.integration_type,
            Some(IntegrationType::HttpProxy)
        );
        assert_eq!(integration.integration_method.as_deref(), Some("ANY"));
        assert_eq!(
            integration.integration_uri.as_deref(),
            Some(legacy.as_str())
        );
        assert_eq!(
            integration.request_parameters,
            Some(HashMap::from([(
                "overwrite:path".to_owned(),
                "$request.path".to_owned()
            )]))
        );
    }
}

/// The routes of a service whose routes need a JWT and SigV4, without a legacy system: the
/// template's authorizer, configured by the stack's parameters, guards the JWT route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_of_every_auth_exist_on_moto_with_their_authorization() {
    order_service::link();
    let inventory = inventory_with_iam_and_jwt_routes();
    let body = template(SERVICE, &inventory);
    let moto = Moto::start();
    let config = sdk_config(&moto.endpoint).await;
    let gateway = aws_sdk_apigatewayv2::Client::new(&config);
    let function_arn =
        |name: &str| format!("arn:aws:lambda:us-east-1:123456789012:function:{name}");
    let mut stack = Stack {
        body: &body,
        parameters: BTreeMap::from([
            (
                parameter::JWT_ISSUER,
                json!("https://issuer.example.com/pool-1"),
            ),
            (
                parameter::JWT_AUDIENCE,
                json!(["orders-app", "back-office"]),
            ),
            (parameter::LEGACY_BASE_URL, json!("")),
        ]),
        function_arns: BTreeMap::from([
            (
                id::API_FUNCTION,
                function_arn(&names::api_function(SERVICE)),
            ),
            (
                id::USER_API_FUNCTION,
                function_arn(&names::user_api_function(SERVICE)),
            ),
        ]),
        gateway_ids: BTreeMap::new(),
    };
    let api_id = create_http_api(&gateway, &mut stack).await;
    check_http_api(&gateway, &api_id, &stack, &inventory).await;
}

/// What a function with `variables` reads (`Resources::from_env`).
fn resources(variables: &HashMap<String, String>) -> Resources {
    Resources::from_vars(|name| variables.get(name).cloned())
}

/// Runs `place_order(order)` on `engine` to its end.
async fn place_order(engine: &dyn Engine, order: Value) -> (Outcome, Vec<HistoryEvent>) {
    let id = engine
        .start(StartExecution {
            workflow: "place_order".into(),
            execution_name: None,
            input: order,
            correlation_id: None,
        })
        .await
        .unwrap();
    let outcome = engine.wait(&id).await.unwrap();
    (outcome, engine.history(&id).await.unwrap())
}

fn shape(history: &[HistoryEvent]) -> Vec<String> {
    history
        .iter()
        .map(|e| match e.kind.seq() {
            Some(seq) => format!("{}@{seq}", e.kind.type_name()),
            None => e.kind.type_name().to_owned(),
        })
        .collect()
}
