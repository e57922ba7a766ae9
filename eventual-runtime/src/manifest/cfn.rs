//! `template.json`: the CloudFormation template of the AWS engine.
//!
//! Resources, with physical names derived from the service name so that the rules file, the
//! engine and the template agree without lookups:
//!
//! - an event bus; per subscription an `AWS::Events::Rule` (on the bus's *literal* name plus
//!   `DependsOn`: moto's CloudFormation fails on a `Ref` there), its SQS queue with a queue
//!   policy letting the rule send, a DLQ when `dead_letter` is on (redrive after
//!   `retry.max_attempts` receives), and a handler Lambda fed by the queue;
//! - the FIFO orchestrator queue (+ FIFO DLQ) feeding the orchestrator Lambda;
//! - the timer queue feeding the timer-forwarder Lambda;
//! - one task-worker Lambda per task (the orchestrator invokes them asynchronously);
//! - the service API Lambda;
//! - the history bucket and the executions, history and task-lock tables;
//! - one IAM role per role, each listing exactly the resources it touches: the orchestrator
//!   may invoke only the task functions its workflows call, a handler reaches only its own
//!   queue and DLQ; no `*` action, no `*` resource.

use super::inventory::{Inventory, SubscriptionInfo, TaskInfo};
use super::json::pattern;
use super::names::{self, env, id, key, output, parameter, role};
use serde_json::{json, Map, Value};

fn arn(id: &str) -> Value {
    json!({ "Fn::GetAtt": [id, "Arn"] })
}

fn reference(id: &str) -> Value {
    json!({ "Ref": id })
}

fn log_group(function: &str) -> Value {
    json!({
        "Fn::Sub": format!(
            "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/lambda/{function}:*"
        )
    })
}

fn statement(sid: &str, actions: &[&str], resources: Vec<Value>) -> Value {
    json!({ "Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources })
}

const CONSUME: &[&str] = &[
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
];
const READ_DLQ: &[&str] = &[
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
];
/// The API lists dead letters by receiving them and making them visible again at once.
const API_READ_DLQ: &[&str] = &[
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
];

fn invoke_tasks(sid: &str, tasks: &[&TaskInfo]) -> Value {
    statement(
        sid,
        &["lambda:InvokeFunction"],
        tasks
            .iter()
            .map(|t| arn(&id::task_function(&t.name)))
            .collect(),
    )
}

fn logs(functions: &[String]) -> Value {
    statement(
        "WriteOwnLogs",
        &[
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        ],
        functions.iter().map(|f| log_group(f)).collect(),
    )
}

fn role(description: &str, statements: Vec<Value>) -> Value {
    role_assumed_by("lambda.amazonaws.com", description, statements)
}

fn role_assumed_by(service: &str, description: &str, statements: Vec<Value>) -> Value {
    json!({
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": description,
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": { "Service": service },
                    "Action": "sts:AssumeRole",
                }],
            },
            "Policies": [{
                "PolicyName": "least-privilege",
                "PolicyDocument": { "Version": "2012-10-17", "Statement": statements },
            }],
        },
    })
}

fn function(
    service: &str,
    name: &str,
    role_id: &str,
    timeout_s: u64,
    description: &str,
    env: Vec<(&str, Value)>,
) -> Value {
    let mut variables = Map::new();
    variables.insert(env::SERVICE.to_owned(), json!(service));
    for (key, value) in env {
        variables.insert(key.to_owned(), value);
    }
    json!({
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "FunctionName": name,
            "Description": description,
            "Runtime": "provided.al2023",
            "Handler": "bootstrap",
            "Architectures": ["x86_64"],
            "MemorySize": 256,
            "Timeout": timeout_s,
            "Code": { "S3Bucket": reference(parameter::ARTIFACT_BUCKET), "S3Key": reference(parameter::ARTIFACT_KEY) },
            "Role": arn(role_id),
            "Environment": { "Variables": variables },
        },
    })
}

fn queue(name: &str, visibility_s: u64, dlq: Option<(&str, u32)>, fifo: bool) -> Value {
    let mut properties = json!({
        "QueueName": name,
        "SqsManagedSseEnabled": true,
        "VisibilityTimeout": visibility_s,
    });
    if fifo {
        properties["FifoQueue"] = json!(true);
        properties["ContentBasedDeduplication"] = json!(true);
        properties["DeduplicationScope"] = json!("messageGroup");
        properties["FifoThroughputLimit"] = json!("perMessageGroupId");
    }
    if let Some((dlq, max_receive)) = dlq {
        properties["RedrivePolicy"] = json!({
            "deadLetterTargetArn": arn(dlq),
            "maxReceiveCount": max_receive,
        });
    }
    json!({ "Type": "AWS::SQS::Queue", "Properties": properties })
}

fn dead_letter_queue(name: &str, fifo: bool) -> Value {
    let mut properties = json!({
        "QueueName": name,
        "SqsManagedSseEnabled": true,
        "MessageRetentionPeriod": 1_209_600,
    });
    if fifo {
        properties["FifoQueue"] = json!(true);
    }
    json!({ "Type": "AWS::SQS::Queue", "Properties": properties })
}

fn event_source(queue_id: &str, function_id: &str, batch: u32) -> Value {
    json!({
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {
            "EventSourceArn": arn(queue_id),
            "FunctionName": reference(function_id),
            "BatchSize": batch,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    })
}

fn table(name: &str, keys: &[(&str, &str, &str)], ttl: Option<&str>) -> Value {
    let definitions: Vec<Value> = keys
        .iter()
        .map(|(name, ty, _)| json!({ "AttributeName": name, "AttributeType": ty }))
        .collect();
    let schema: Vec<Value> = keys
        .iter()
        .map(|(name, _, kind)| json!({ "AttributeName": name, "KeyType": kind }))
        .collect();
    let mut properties = json!({
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": definitions,
        "KeySchema": schema,
        "PointInTimeRecoverySpecification": { "PointInTimeRecoveryEnabled": true },
        "SSESpecification": { "SSEEnabled": true },
    });
    if let Some(ttl) = ttl {
        properties["TimeToLiveSpecification"] = json!({ "AttributeName": ttl, "Enabled": true });
    }
    json!({ "Type": "AWS::DynamoDB::Table", "Properties": properties })
}

/// Seconds of a Lambda running a task: the task's timeout plus a margin, within Lambda's
/// 1..=900 s; 300 s without a timeout.
fn task_timeout_s(task: &TaskInfo) -> u64 {
    match task.options.timeout_ms {
        Some(ms) => (ms.div_ceil(1000) + 5).clamp(1, 900),
        None => 300,
    }
}

const ORCHESTRATOR_TIMEOUT_S: u64 = 60;
const HANDLER_TIMEOUT_S: u64 = 60;
const TIMER_TIMEOUT_S: u64 = 30;
const API_TIMEOUT_S: u64 = 30;

/// `template.json` ⚑.
pub fn template(service: &str, inventory: &Inventory) -> Value {
    let mut resources = Map::new();
    let mut put = |id: String, value: Value| {
        resources.insert(id, value);
    };

    // Shared state.
    put(
        id::EVENT_BUS.into(),
        json!({ "Type": "AWS::Events::EventBus", "Properties": { "Name": names::bus(service) } }),
    );
    put(
        id::HISTORY_BUCKET.into(),
        json!({
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "BucketEncryption": { "ServerSideEncryptionConfiguration": [
                    { "ServerSideEncryptionByDefault": { "SSEAlgorithm": "AES256" } }
                ] },
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": true,
                    "BlockPublicPolicy": true,
                    "IgnorePublicAcls": true,
                    "RestrictPublicBuckets": true,
                },
                // Payloads too large for a message are kept longer than any message lives.
                "LifecycleConfiguration": { "Rules": [{
                    "Id": "ExpireLargePayloads",
                    "Status": "Enabled",
                    "Prefix": names::PAYLOAD_PREFIX,
                    "ExpirationInDays": names::PAYLOAD_KEPT_DAYS,
                }] },
            },
        }),
    );
    put(
        id::EXECUTIONS_TABLE.into(),
        table(
            &names::executions_table(service),
            &[(key::EXECUTION_ID, "S", "HASH")],
            None,
        ),
    );
    put(
        id::HISTORY_TABLE.into(),
        table(
            &names::history_table(service),
            &[(key::EXECUTION_ID, "S", "HASH"), (key::SEQ, "N", "RANGE")],
            None,
        ),
    );
    put(
        id::TASK_LOCK_TABLE.into(),
        table(
            &names::task_lock_table(service),
            &[(key::ATTEMPT, "S", "HASH")],
            Some(key::EXPIRES_AT),
        ),
    );
    put(
        id::ORCHESTRATOR_QUEUE.into(),
        queue(
            &names::orchestrator_queue(service),
            ORCHESTRATOR_TIMEOUT_S * 6,
            Some((id::ORCHESTRATOR_DLQ, 5)),
            true,
        ),
    );
    put(
        id::ORCHESTRATOR_DLQ.into(),
        dead_letter_queue(&names::orchestrator_dlq(service), true),
    );
    put(
        id::TIMER_QUEUE.into(),
        queue(
            &names::timer_queue(service),
            TIMER_TIMEOUT_S * 6,
            None,
            false,
        ),
    );

    let state_env = || {
        vec![
            (env::EXECUTIONS_TABLE, reference(id::EXECUTIONS_TABLE)),
            (env::HISTORY_TABLE, reference(id::HISTORY_TABLE)),
            (env::HISTORY_BUCKET, reference(id::HISTORY_BUCKET)),
            (
                env::ORCHESTRATOR_QUEUE_URL,
                reference(id::ORCHESTRATOR_QUEUE),
            ),
        ]
    };
    let state_tables = || vec![arn(id::EXECUTIONS_TABLE), arn(id::HISTORY_TABLE)];
    let history_objects = || json!({ "Fn::Sub": format!("${{{}.Arn}}/*", id::HISTORY_BUCKET) });
    // Messages too large for SQS or an invoke travel as S3 objects under `payloads/`.
    let payloads = || {
        statement(
            "LargePayloads",
            &["s3:GetObject", "s3:PutObject"],
            vec![
                json!({ "Fn::Sub": format!("${{{}.Arn}}/{}*", id::HISTORY_BUCKET, names::PAYLOAD_PREFIX) }),
            ],
        )
    };
    let payload_env = || (env::HISTORY_BUCKET, reference(id::HISTORY_BUCKET));
    // Waits longer than SQS's 15-minute delay: one-time EventBridge Scheduler schedules
    // (named `<service>-<digest>` in the default group) that put the timer message on the
    // timer queue, with a role only Scheduler may assume.
    put(
        id::TIMER_SCHEDULER_ROLE.into(),
        role_assumed_by(
            "scheduler.amazonaws.com",
            "EventBridge Scheduler: due long timers to the timer queue",
            vec![statement(
                "DeliverDueTimers",
                &["sqs:SendMessage"],
                vec![arn(id::TIMER_QUEUE)],
            )],
        ),
    );
    let schedule_timers = || {
        [
            statement(
                "ScheduleLongTimers",
                &["scheduler:CreateSchedule"],
                vec![json!({ "Fn::Sub": format!(
                    "arn:${{AWS::Partition}}:scheduler:${{AWS::Region}}:${{AWS::AccountId}}:schedule/default/{}",
                    names::schedule(service, "*")
                ) })],
            ),
            statement(
                "PassSchedulerRole",
                &["iam:PassRole"],
                vec![arn(id::TIMER_SCHEDULER_ROLE)],
            ),
        ]
    };
    let scheduler_env = || {
        [
            (env::TIMER_QUEUE_ARN, arn(id::TIMER_QUEUE)),
            (env::SCHEDULER_ROLE_ARN, arn(id::TIMER_SCHEDULER_ROLE)),
        ]
    };
    let token_env = || (env::TOKEN_KEY, reference(parameter::COMPLETION_TOKEN_KEY));

    // Orchestrator: runs workflow steps, invokes exactly the tasks its workflows call.
    let orchestrator_fn = names::orchestrator_function(service);
    let mut called: Vec<&TaskInfo> = inventory
        .workflows
        .iter()
        .flat_map(|w| inventory.tasks_of(w))
        .collect();
    called.sort_by(|a, b| a.name.cmp(&b.name));
    called.dedup_by(|a, b| a.name == b.name);
    let mut statements = vec![
        statement(
            "ConsumeOrchestratorQueue",
            CONSUME,
            vec![arn(id::ORCHESTRATOR_QUEUE)],
        ),
        statement(
            "EnqueueSteps",
            &["sqs:SendMessage"],
            vec![arn(id::ORCHESTRATOR_QUEUE), arn(id::TIMER_QUEUE)],
        ),
        statement(
            "EmitEvents",
            &["events:PutEvents"],
            vec![arn(id::EVENT_BUS)],
        ),
        statement(
            "ExecutionState",
            &[
                "dynamodb:ConditionCheckItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
            ],
            state_tables(),
        ),
        statement(
            "HistoryObjects",
            &["s3:GetObject", "s3:PutObject"],
            vec![history_objects()],
        ),
    ];
    statements.extend(schedule_timers());
    if !called.is_empty() {
        statements.push(invoke_tasks("InvokeCalledTasks", &called));
    }
    statements.push(logs(std::slice::from_ref(&orchestrator_fn)));
    put(
        id::ORCHESTRATOR_ROLE.into(),
        role(
            "Orchestrator: workflow state, the tasks its workflows call",
            statements,
        ),
    );
    let mut env = state_env();
    env.push((env::ROLE, json!(role::ORCHESTRATOR)));
    env.push((env::TIMER_QUEUE_URL, reference(id::TIMER_QUEUE)));
    env.extend(scheduler_env());
    env.push((env::EVENT_BUS, json!(names::bus(service))));
    put(
        id::ORCHESTRATOR_FUNCTION.into(),
        function(
            service,
            &orchestrator_fn,
            id::ORCHESTRATOR_ROLE,
            ORCHESTRATOR_TIMEOUT_S,
            "Runs workflow steps from the FIFO orchestrator queue",
            env,
        ),
    );
    put(
        id::ORCHESTRATOR_EVENT_SOURCE.into(),
        event_source(id::ORCHESTRATOR_QUEUE, id::ORCHESTRATOR_FUNCTION, 10),
    );

    // Timer forwarder: moves due timers to the orchestrator queue, and invokes the attempts
    // of tasks retried after a backoff.
    let timer_fn = names::timer_forwarder_function(service);
    let mut statements = vec![
        statement("ConsumeTimerQueue", CONSUME, vec![arn(id::TIMER_QUEUE)]),
        statement(
            "ForwardTimers",
            &["sqs:SendMessage"],
            vec![arn(id::ORCHESTRATOR_QUEUE), arn(id::TIMER_QUEUE)],
        ),
        payloads(),
    ];
    statements.extend(schedule_timers());
    if !called.is_empty() {
        statements.push(invoke_tasks("InvokeRetriedTasks", &called));
    }
    statements.push(logs(std::slice::from_ref(&timer_fn)));
    put(
        id::TIMER_FORWARDER_ROLE.into(),
        role(
            "Timer forwarder: due timers to the orchestrator queue, retried task attempts",
            statements,
        ),
    );
    put(
        id::TIMER_FORWARDER_FUNCTION.into(),
        function(
            service,
            &timer_fn,
            id::TIMER_FORWARDER_ROLE,
            TIMER_TIMEOUT_S,
            "Forwards due timers to the orchestrator queue",
            vec![
                (env::ROLE, json!(role::TIMER_FORWARDER)),
                (
                    env::ORCHESTRATOR_QUEUE_URL,
                    reference(id::ORCHESTRATOR_QUEUE),
                ),
                (env::TIMER_QUEUE_URL, reference(id::TIMER_QUEUE)),
                payload_env(),
            ]
            .into_iter()
            .chain(scheduler_env())
            .collect(),
        ),
    );
    put(
        id::TIMER_FORWARDER_EVENT_SOURCE.into(),
        event_source(id::TIMER_QUEUE, id::TIMER_FORWARDER_FUNCTION, 10),
    );

    // Task workers: one function per task, one shared role.
    let task_fns: Vec<String> = inventory
        .tasks
        .iter()
        .map(|t| names::task_function(service, &t.name))
        .collect();
    if !inventory.tasks.is_empty() {
        put(
            id::TASK_ROLE.into(),
            role(
                "Task workers: claim attempts, report outcomes",
                vec![
                    statement(
                        "ClaimAttempts",
                        &[
                            "dynamodb:DeleteItem",
                            "dynamodb:GetItem",
                            "dynamodb:PutItem",
                            "dynamodb:UpdateItem",
                        ],
                        vec![arn(id::TASK_LOCK_TABLE)],
                    ),
                    statement(
                        "ReportOutcomes",
                        &["sqs:SendMessage"],
                        vec![arn(id::ORCHESTRATOR_QUEUE)],
                    ),
                    payloads(),
                    logs(&task_fns),
                ],
            ),
        );
    }
    for (task, name) in inventory.tasks.iter().zip(&task_fns) {
        put(
            id::task_function(&task.name),
            function(
                service,
                name,
                id::TASK_ROLE,
                task_timeout_s(task),
                &format!("Task {}", task.name),
                vec![
                    (env::ROLE, json!(role::TASK)),
                    (env::TASK, json!(task.name)),
                    (env::TASK_LOCK_TABLE, reference(id::TASK_LOCK_TABLE)),
                    (
                        env::ORCHESTRATOR_QUEUE_URL,
                        reference(id::ORCHESTRATOR_QUEUE),
                    ),
                    payload_env(),
                    token_env(),
                ],
            ),
        );
    }

    // Handlers: rule -> queue (+ DLQ) -> function.
    for subscription in &inventory.subscriptions {
        let name = &subscription.name;
        let queue_id = id::handler_queue(name);
        let dlq_id = id::handler_dlq(name);
        let rule_id = id::handler_rule(name);
        let function_id = id::handler_function(name);
        let role_id = id::handler_role(name);
        let function_name = names::handler_function(service, &subscription.name);
        let dlq = subscription
            .dead_letter
            .then(|| (dlq_id.as_str(), subscription.retry.max_attempts.max(1)));
        put(
            queue_id.clone(),
            queue(
                &names::handler_queue(service, &subscription.name),
                HANDLER_TIMEOUT_S * 6,
                dlq,
                false,
            ),
        );
        if subscription.dead_letter {
            put(
                dlq_id.clone(),
                dead_letter_queue(&names::handler_dlq(service, &subscription.name), false),
            );
        }
        put(
            rule_id.clone(),
            json!({
                "Type": "AWS::Events::Rule",
                "DependsOn": [id::EVENT_BUS],
                "Properties": {
                    "Name": names::rule(service, &subscription.name),
                    "Description": format!("Subscription {}", subscription.name),
                    "EventBusName": names::bus(service),
                    "EventPattern": pattern(&subscription.pattern),
                    "State": "ENABLED",
                    "Targets": [{ "Id": "handler-queue", "Arn": arn(&queue_id) }],
                },
            }),
        );
        put(
            id::handler_queue_policy(name),
            json!({
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {
                    "Queues": [reference(&queue_id)],
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Sid": "RuleSendsEvents",
                            "Effect": "Allow",
                            "Principal": { "Service": "events.amazonaws.com" },
                            "Action": "sqs:SendMessage",
                            "Resource": arn(&queue_id),
                            "Condition": { "ArnEquals": { "aws:SourceArn": arn(&rule_id) } },
                        }],
                    },
                },
            }),
        );
        // A handler's client effects (starts, signals, events) go to the orchestrator queue
        // and the bus once it succeeded.
        let mut statements = vec![
            statement("ConsumeOwnQueue", CONSUME, vec![arn(&queue_id)]),
            statement(
                "StartAndSignal",
                &["sqs:SendMessage"],
                vec![arn(id::ORCHESTRATOR_QUEUE)],
            ),
            statement(
                "EmitEvents",
                &["events:PutEvents"],
                vec![arn(id::EVENT_BUS)],
            ),
            payloads(),
        ];
        if subscription.dead_letter {
            // The handler dead-letters an event itself after its last attempt (with the
            // failure); SQS's redrive policy is the backstop.
            statements.push(statement(
                "DeadLetterOwnEvents",
                &["sqs:SendMessage"],
                vec![arn(&dlq_id)],
            ));
            statements.push(statement(
                "ReadOwnDeadLetterQueue",
                READ_DLQ,
                vec![arn(&dlq_id)],
            ));
        }
        statements.push(logs(std::slice::from_ref(&function_name)));
        put(
            role_id.clone(),
            role(
                &format!("Handler {}: its own queue only", subscription.name),
                statements,
            ),
        );
        put(
            function_id.clone(),
            function(
                service,
                &function_name,
                &role_id,
                HANDLER_TIMEOUT_S,
                &format!("Handler {}", subscription.name),
                vec![
                    (env::ROLE, json!(role::HANDLER)),
                    (env::HANDLER, json!(subscription.name)),
                    (
                        env::ORCHESTRATOR_QUEUE_URL,
                        reference(id::ORCHESTRATOR_QUEUE),
                    ),
                    (env::EVENT_BUS, json!(names::bus(service))),
                    (env::HANDLER_QUEUE_URL, reference(&queue_id)),
                    payload_env(),
                ]
                .into_iter()
                .chain(
                    subscription
                        .dead_letter
                        .then(|| (env::DEAD_LETTER_QUEUE_URL, reference(&dlq_id))),
                )
                .collect(),
            ),
        );
        put(
            id::handler_event_source(name),
            event_source(&queue_id, &function_id, 10),
        );
    }

    // Service API: start, signal, query, redrive dead letters.
    let api_fn = names::api_function(service);
    let mut statements = vec![
        statement(
            "StartAndSignal",
            &["sqs:SendMessage"],
            vec![arn(id::ORCHESTRATOR_QUEUE)],
        ),
        statement(
            "ReadExecutions",
            &["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"],
            state_tables(),
        ),
        statement("ReadHistory", &["s3:GetObject"], vec![history_objects()]),
        payloads(),
        statement(
            "PublishEvents",
            &["events:PutEvents"],
            vec![arn(id::EVENT_BUS)],
        ),
    ];
    let dead_letter: Vec<&SubscriptionInfo> = inventory
        .subscriptions
        .iter()
        .filter(|s| s.dead_letter)
        .collect();
    if !dead_letter.is_empty() {
        statements.push(statement(
            "ListDeadLetters",
            API_READ_DLQ,
            dead_letter
                .iter()
                .map(|s| arn(&id::handler_dlq(&s.name)))
                .collect(),
        ));
        statements.push(statement(
            "RedriveDeadLetters",
            &["sqs:GetQueueUrl", "sqs:SendMessage"],
            dead_letter
                .iter()
                .map(|s| arn(&id::handler_queue(&s.name)))
                .collect(),
        ));
    }
    statements.push(logs(std::slice::from_ref(&api_fn)));
    put(
        id::API_ROLE.into(),
        role("Service API: start, signal, query, redrive", statements),
    );
    let mut env = state_env();
    env.push((env::ROLE, json!(role::API)));
    env.push((env::EVENT_BUS, json!(names::bus(service))));
    env.push(token_env());
    put(
        id::API_FUNCTION.into(),
        function(
            service,
            &api_fn,
            id::API_ROLE,
            API_TIMEOUT_S,
            "Service API",
            env,
        ),
    );
    // API Gateway (HTTP API) in front of it; callers sign with SigV4 (IAM authorization).
    // The CLI can also invoke the function itself (`--url lambda://<function>`).
    put(
        id::HTTP_API.into(),
        json!({
            "Type": "AWS::ApiGatewayV2::Api",
            "Properties": {
                "Name": api_fn,
                "Description": format!("Service API of {service}"),
                "ProtocolType": "HTTP",
            },
        }),
    );
    put(
        id::HTTP_API_INTEGRATION.into(),
        json!({
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {
                "ApiId": reference(id::HTTP_API),
                "IntegrationType": "AWS_PROXY",
                "IntegrationUri": arn(id::API_FUNCTION),
                "PayloadFormatVersion": "2.0",
                "TimeoutInMillis": API_TIMEOUT_S * 1000,
            },
        }),
    );
    put(
        id::HTTP_API_ROUTE.into(),
        json!({
            "Type": "AWS::ApiGatewayV2::Route",
            "Properties": {
                "ApiId": reference(id::HTTP_API),
                "RouteKey": "$default",
                "AuthorizationType": "AWS_IAM",
                "Target": { "Fn::Sub": format!("integrations/${{{}}}", id::HTTP_API_INTEGRATION) },
            },
        }),
    );
    put(
        id::HTTP_API_STAGE.into(),
        json!({
            "Type": "AWS::ApiGatewayV2::Stage",
            "Properties": {
                "ApiId": reference(id::HTTP_API),
                "StageName": "$default",
                "AutoDeploy": true,
            },
        }),
    );
    put(
        id::HTTP_API_INVOKES_API_FUNCTION.into(),
        json!({
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": reference(id::API_FUNCTION),
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": { "Fn::Sub": format!("arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{{}}}/*", id::HTTP_API) },
            },
        }),
    );

    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!("eventual-rs service {service} on the AWS engine (generated by cargo build from the registry: do not edit)"),
        "Parameters": {
            parameter::ARTIFACT_BUCKET: {
                "Type": "String",
                "Description": "S3 bucket holding the Lambda package (cargo lambda build --release --output-format zip)",
            },
            parameter::ARTIFACT_KEY: {
                "Type": "String",
                "Description": "S3 key of the Lambda package zip",
            },
            parameter::COMPLETION_TOKEN_KEY: {
                "Type": "String",
                "NoEcho": true,
                "MinLength": 32,
                "Description": "Secret signing the completion tokens of tasks that complete later (ctx.complete_later), for example `openssl rand -hex 32`",
            },
        },
        "Resources": resources,
        "Outputs": {
            output::EVENT_BUS_NAME: { "Value": names::bus(service) },
            output::ORCHESTRATOR_QUEUE_URL: { "Value": reference(id::ORCHESTRATOR_QUEUE) },
            output::API_FUNCTION_NAME: { "Value": reference(id::API_FUNCTION) },
            output::API_URL: { "Value": { "Fn::GetAtt": [id::HTTP_API, "ApiEndpoint"] } },
            output::HISTORY_BUCKET_NAME: { "Value": reference(id::HISTORY_BUCKET) },
        },
    })
}
