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
use serde_json::{json, Map, Value};

/// Physical names of the deployed resources.
pub mod names {
    /// Characters other than `[A-Za-z0-9_-]` become `-`; a name longer than `max` is cut and
    /// suffixed with a hash of the whole, so it stays unique and deterministic.
    pub fn physical(name: &str, max: usize) -> String {
        let clean: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        if clean.len() <= max {
            return clean;
        }
        let mut hash: u32 = 0x811c_9dc5;
        for byte in name.bytes() {
            hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
        }
        format!("{}-{hash:08x}", &clean[..max - 9])
    }

    /// Where in the history bucket payloads too large for a message are stored.
    pub const PAYLOAD_PREFIX: &str = "payloads/";
    /// Days stored payloads are kept: longer than any message lives (a re-sent timer
    /// stores its payload again).
    pub const PAYLOAD_KEPT_DAYS: u32 = 30;

    /// The event bus.
    pub fn bus(service: &str) -> String {
        physical(&format!("{service}-bus"), 256)
    }
    /// The EventBridge rule of a subscription.
    pub fn rule(service: &str, subscription: &str) -> String {
        physical(&format!("{service}-{subscription}"), 64)
    }
    /// The SQS queue feeding a subscription's handler.
    pub fn handler_queue(service: &str, subscription: &str) -> String {
        physical(&format!("{service}-handler-{subscription}"), 76)
    }
    /// The dead-letter queue of a subscription.
    pub fn handler_dlq(service: &str, subscription: &str) -> String {
        format!("{}-dlq", handler_queue(service, subscription))
    }
    /// The Lambda function of a subscription's handler.
    pub fn handler_function(service: &str, subscription: &str) -> String {
        physical(&format!("{service}-handler-{subscription}"), 64)
    }
    /// The Lambda function of a task.
    pub fn task_function(service: &str, task: &str) -> String {
        physical(&format!("{service}-task-{task}"), 64)
    }
    /// The Lambda function of a role (`orchestrator`, `timer-forwarder`, `api`).
    pub fn function(service: &str, role: &str) -> String {
        physical(&format!("{service}-{role}"), 64)
    }
    /// An SQS queue of a role (`orchestrator`, `timers`; FIFO queues add `.fifo`).
    pub fn queue(service: &str, role: &str) -> String {
        physical(&format!("{service}-{role}"), 75)
    }
    /// A DynamoDB table of a role (`executions`, `history`, `task-lock`).
    pub fn table(service: &str, role: &str) -> String {
        physical(&format!("{service}-{role}"), 255)
    }
}

/// A CloudFormation logical id: the name's alphanumeric runs, each capitalised.
pub(crate) fn logical(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

pub(crate) fn task_id(task: &TaskInfo) -> String {
    format!("Task{}", logical(&task.name))
}

pub(crate) fn handler_id(subscription: &SubscriptionInfo) -> String {
    format!("Handler{}", logical(&subscription.name))
}

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
            .map(|t| arn(&format!("{}Function", task_id(t))))
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
    variables.insert("EVENTUAL_SERVICE".to_owned(), json!(service));
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
            "Code": { "S3Bucket": reference("ArtifactBucket"), "S3Key": reference("ArtifactKey") },
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
        "EventBus".into(),
        json!({ "Type": "AWS::Events::EventBus", "Properties": { "Name": names::bus(service) } }),
    );
    put(
        "HistoryBucket".into(),
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
        "ExecutionsTable".into(),
        table(
            &names::table(service, "executions"),
            &[("execution_id", "S", "HASH")],
            None,
        ),
    );
    put(
        "HistoryTable".into(),
        table(
            &names::table(service, "history"),
            &[("execution_id", "S", "HASH"), ("seq", "N", "RANGE")],
            None,
        ),
    );
    put(
        "TaskLockTable".into(),
        table(
            &names::table(service, "task-lock"),
            &[("attempt", "S", "HASH")],
            Some("expires_at"),
        ),
    );
    put(
        "OrchestratorQueue".into(),
        queue(
            &format!("{}.fifo", names::queue(service, "orchestrator")),
            ORCHESTRATOR_TIMEOUT_S * 6,
            Some(("OrchestratorDeadLetterQueue", 5)),
            true,
        ),
    );
    put(
        "OrchestratorDeadLetterQueue".into(),
        dead_letter_queue(
            &format!("{}.fifo", names::queue(service, "orchestrator-dlq")),
            true,
        ),
    );
    put(
        "TimerQueue".into(),
        queue(
            &names::queue(service, "timers"),
            TIMER_TIMEOUT_S * 6,
            None,
            false,
        ),
    );

    let state_env = || {
        vec![
            ("EVENTUAL_EXECUTIONS_TABLE", reference("ExecutionsTable")),
            ("EVENTUAL_HISTORY_TABLE", reference("HistoryTable")),
            ("EVENTUAL_HISTORY_BUCKET", reference("HistoryBucket")),
            (
                "EVENTUAL_ORCHESTRATOR_QUEUE_URL",
                reference("OrchestratorQueue"),
            ),
        ]
    };
    let state_tables = || vec![arn("ExecutionsTable"), arn("HistoryTable")];
    let history_objects = || json!({ "Fn::Sub": "${HistoryBucket.Arn}/*" });
    // Messages too large for SQS or an invoke travel as S3 objects under `payloads/`.
    let payloads = || {
        statement(
            "LargePayloads",
            &["s3:GetObject", "s3:PutObject"],
            vec![
                json!({ "Fn::Sub": format!("${{HistoryBucket.Arn}}/{}*", names::PAYLOAD_PREFIX) }),
            ],
        )
    };
    let payload_env = || ("EVENTUAL_HISTORY_BUCKET", reference("HistoryBucket"));
    // Waits longer than SQS's 15-minute delay: one-time EventBridge Scheduler schedules
    // (named `<service>-<digest>` in the default group) that put the timer message on the
    // timer queue, with a role only Scheduler may assume.
    put(
        "TimerSchedulerRole".into(),
        role_assumed_by(
            "scheduler.amazonaws.com",
            "EventBridge Scheduler: due long timers to the timer queue",
            vec![statement(
                "DeliverDueTimers",
                &["sqs:SendMessage"],
                vec![arn("TimerQueue")],
            )],
        ),
    );
    let schedule_timers = || {
        [
            statement(
                "ScheduleLongTimers",
                &["scheduler:CreateSchedule"],
                vec![json!({ "Fn::Sub": format!(
                    "arn:${{AWS::Partition}}:scheduler:${{AWS::Region}}:${{AWS::AccountId}}:schedule/default/{}-*",
                    names::physical(service, 20)
                ) })],
            ),
            statement(
                "PassSchedulerRole",
                &["iam:PassRole"],
                vec![arn("TimerSchedulerRole")],
            ),
        ]
    };
    let scheduler_env = || {
        [
            ("EVENTUAL_TIMER_QUEUE_ARN", arn("TimerQueue")),
            ("EVENTUAL_SCHEDULER_ROLE_ARN", arn("TimerSchedulerRole")),
        ]
    };
    let token_env = || ("EVENTUAL_TOKEN_KEY", reference("CompletionTokenKey"));

    // Orchestrator: runs workflow steps, invokes exactly the tasks its workflows call.
    let orchestrator_fn = names::function(service, "orchestrator");
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
            vec![arn("OrchestratorQueue")],
        ),
        statement(
            "EnqueueSteps",
            &["sqs:SendMessage"],
            vec![arn("OrchestratorQueue"), arn("TimerQueue")],
        ),
        statement("EmitEvents", &["events:PutEvents"], vec![arn("EventBus")]),
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
        "OrchestratorRole".into(),
        role(
            "Orchestrator: workflow state, the tasks its workflows call",
            statements,
        ),
    );
    let mut env = state_env();
    env.push(("EVENTUAL_ROLE", json!("orchestrator")));
    env.push(("EVENTUAL_TIMER_QUEUE_URL", reference("TimerQueue")));
    env.extend(scheduler_env());
    env.push(("EVENTUAL_EVENT_BUS", json!(names::bus(service))));
    put(
        "OrchestratorFunction".into(),
        function(
            service,
            &orchestrator_fn,
            "OrchestratorRole",
            ORCHESTRATOR_TIMEOUT_S,
            "Runs workflow steps from the FIFO orchestrator queue",
            env,
        ),
    );
    put(
        "OrchestratorEventSource".into(),
        event_source("OrchestratorQueue", "OrchestratorFunction", 10),
    );

    // Timer forwarder: moves due timers to the orchestrator queue, and invokes the attempts
    // of tasks retried after a backoff.
    let timer_fn = names::function(service, "timer-forwarder");
    let mut statements = vec![
        statement("ConsumeTimerQueue", CONSUME, vec![arn("TimerQueue")]),
        statement(
            "ForwardTimers",
            &["sqs:SendMessage"],
            vec![arn("OrchestratorQueue"), arn("TimerQueue")],
        ),
        payloads(),
    ];
    statements.extend(schedule_timers());
    if !called.is_empty() {
        statements.push(invoke_tasks("InvokeRetriedTasks", &called));
    }
    statements.push(logs(std::slice::from_ref(&timer_fn)));
    put(
        "TimerForwarderRole".into(),
        role(
            "Timer forwarder: due timers to the orchestrator queue, retried task attempts",
            statements,
        ),
    );
    put(
        "TimerForwarderFunction".into(),
        function(
            service,
            &timer_fn,
            "TimerForwarderRole",
            TIMER_TIMEOUT_S,
            "Forwards due timers to the orchestrator queue",
            vec![
                ("EVENTUAL_ROLE", json!("timer-forwarder")),
                (
                    "EVENTUAL_ORCHESTRATOR_QUEUE_URL",
                    reference("OrchestratorQueue"),
                ),
                ("EVENTUAL_TIMER_QUEUE_URL", reference("TimerQueue")),
                payload_env(),
            ]
            .into_iter()
            .chain(scheduler_env())
            .collect(),
        ),
    );
    put(
        "TimerForwarderEventSource".into(),
        event_source("TimerQueue", "TimerForwarderFunction", 10),
    );

    // Task workers: one function per task, one shared role.
    let task_fns: Vec<String> = inventory
        .tasks
        .iter()
        .map(|t| names::task_function(service, &t.name))
        .collect();
    if !inventory.tasks.is_empty() {
        put(
            "TaskRole".into(),
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
                        vec![arn("TaskLockTable")],
                    ),
                    statement(
                        "ReportOutcomes",
                        &["sqs:SendMessage"],
                        vec![arn("OrchestratorQueue")],
                    ),
                    payloads(),
                    logs(&task_fns),
                ],
            ),
        );
    }
    for (task, name) in inventory.tasks.iter().zip(&task_fns) {
        put(
            format!("{}Function", task_id(task)),
            function(
                service,
                name,
                "TaskRole",
                task_timeout_s(task),
                &format!("Task {}", task.name),
                vec![
                    ("EVENTUAL_ROLE", json!("task")),
                    ("EVENTUAL_TASK", json!(task.name)),
                    ("EVENTUAL_TASK_LOCK_TABLE", reference("TaskLockTable")),
                    (
                        "EVENTUAL_ORCHESTRATOR_QUEUE_URL",
                        reference("OrchestratorQueue"),
                    ),
                    payload_env(),
                    token_env(),
                ],
            ),
        );
    }

    // Handlers: rule -> queue (+ DLQ) -> function.
    for subscription in &inventory.subscriptions {
        let id = handler_id(subscription);
        let queue_id = format!("{id}Queue");
        let dlq_id = format!("{id}DeadLetterQueue");
        let rule_id = format!("{id}Rule");
        let function_id = format!("{id}Function");
        let role_id = format!("{id}Role");
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
                "DependsOn": ["EventBus"],
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
            format!("{id}QueuePolicy"),
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
                vec![arn("OrchestratorQueue")],
            ),
            statement("EmitEvents", &["events:PutEvents"], vec![arn("EventBus")]),
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
                    ("EVENTUAL_ROLE", json!("handler")),
                    ("EVENTUAL_HANDLER", json!(subscription.name)),
                    (
                        "EVENTUAL_ORCHESTRATOR_QUEUE_URL",
                        reference("OrchestratorQueue"),
                    ),
                    ("EVENTUAL_EVENT_BUS", json!(names::bus(service))),
                    ("EVENTUAL_HANDLER_QUEUE_URL", reference(&queue_id)),
                    payload_env(),
                ]
                .into_iter()
                .chain(
                    subscription
                        .dead_letter
                        .then(|| ("EVENTUAL_DEAD_LETTER_QUEUE_URL", reference(&dlq_id))),
                )
                .collect(),
            ),
        );
        put(
            format!("{id}EventSource"),
            event_source(&queue_id, &function_id, 10),
        );
    }

    // Service API: start, signal, query, redrive dead letters.
    let api_fn = names::function(service, "api");
    let mut statements = vec![
        statement(
            "StartAndSignal",
            &["sqs:SendMessage"],
            vec![arn("OrchestratorQueue")],
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
            vec![arn("EventBus")],
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
                .map(|s| arn(&format!("{}DeadLetterQueue", handler_id(s))))
                .collect(),
        ));
        statements.push(statement(
            "RedriveDeadLetters",
            &["sqs:GetQueueUrl", "sqs:SendMessage"],
            dead_letter
                .iter()
                .map(|s| arn(&format!("{}Queue", handler_id(s))))
                .collect(),
        ));
    }
    statements.push(logs(std::slice::from_ref(&api_fn)));
    put(
        "ApiRole".into(),
        role("Service API: start, signal, query, redrive", statements),
    );
    let mut env = state_env();
    env.push(("EVENTUAL_ROLE", json!("api")));
    env.push(("EVENTUAL_EVENT_BUS", json!(names::bus(service))));
    env.push(token_env());
    put(
        "ApiFunction".into(),
        function(
            service,
            &api_fn,
            "ApiRole",
            API_TIMEOUT_S,
            "Service API",
            env,
        ),
    );
    // API Gateway (HTTP API) in front of it; callers sign with SigV4 (IAM authorization).
    // The CLI can also invoke the function itself (`--url lambda://<function>`).
    put(
        "HttpApi".into(),
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
        "HttpApiIntegration".into(),
        json!({
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {
                "ApiId": reference("HttpApi"),
                "IntegrationType": "AWS_PROXY",
                "IntegrationUri": arn("ApiFunction"),
                "PayloadFormatVersion": "2.0",
                "TimeoutInMillis": API_TIMEOUT_S * 1000,
            },
        }),
    );
    put(
        "HttpApiRoute".into(),
        json!({
            "Type": "AWS::ApiGatewayV2::Route",
            "Properties": {
                "ApiId": reference("HttpApi"),
                "RouteKey": "$default",
                "AuthorizationType": "AWS_IAM",
                "Target": { "Fn::Sub": "integrations/${HttpApiIntegration}" },
            },
        }),
    );
    put(
        "HttpApiStage".into(),
        json!({
            "Type": "AWS::ApiGatewayV2::Stage",
            "Properties": {
                "ApiId": reference("HttpApi"),
                "StageName": "$default",
                "AutoDeploy": true,
            },
        }),
    );
    put(
        "HttpApiInvokesApiFunction".into(),
        json!({
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": reference("ApiFunction"),
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": { "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/*" },
            },
        }),
    );

    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!("eventual-rs service {service} on the AWS engine (generated by cargo build from the registry: do not edit)"),
        "Parameters": {
            "ArtifactBucket": {
                "Type": "String",
                "Description": "S3 bucket holding the Lambda package (cargo lambda build --release --output-format zip)",
            },
            "ArtifactKey": {
                "Type": "String",
                "Description": "S3 key of the Lambda package zip",
            },
            "CompletionTokenKey": {
                "Type": "String",
                "NoEcho": true,
                "MinLength": 32,
                "Description": "Secret signing the completion tokens of tasks that complete later (ctx.complete_later), for example `openssl rand -hex 32`",
            },
        },
        "Resources": resources,
        "Outputs": {
            "EventBusName": { "Value": names::bus(service) },
            "OrchestratorQueueUrl": { "Value": reference("OrchestratorQueue") },
            "ApiFunctionName": { "Value": reference("ApiFunction") },
            "ApiUrl": { "Value": { "Fn::GetAtt": ["HttpApi", "ApiEndpoint"] } },
            "HistoryBucketName": { "Value": reference("HistoryBucket") },
        },
    })
}
