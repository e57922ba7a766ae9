//! IAM: one role per role of the engine, each listing exactly the resources it touches. The
//! orchestrator and the timer forwarder may invoke only the task functions the workflows call,
//! a handler reaches only its own queue and DLQ; no `*` action, no `*` resource (the only
//! wildcards end a name: a function's log streams, the history bucket's objects, the
//! service's schedules).

use super::resource::arn;
use super::Resources;
use crate::manifest::inventory::{Inventory, SubscriptionInfo, TaskInfo};
use crate::manifest::names::{self, id};
use serde_json::{json, Value};

/// Receiving from a queue as its event source does.
const CONSUME: &[&str] = &[
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
];
/// A handler reading its own dead-letter queue.
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

/// Adds every role: the orchestrator's, the timer forwarder's and EventBridge Scheduler's
/// (for long timers, and for static schedules when there are some), the task workers' (when
/// there are tasks), each handler's and the API's.
pub(super) fn add(service: &str, inventory: &Inventory, resources: &mut Resources) {
    let called = called_tasks(inventory);
    resources.insert(id::TIMER_SCHEDULER_ROLE.into(), timer_scheduler());
    if !super::schedules::scheduled(inventory).is_empty() {
        resources.insert(id::WORKFLOW_SCHEDULER_ROLE.into(), workflow_scheduler());
    }
    resources.insert(id::ORCHESTRATOR_ROLE.into(), orchestrator(service, &called));
    resources.insert(
        id::TIMER_FORWARDER_ROLE.into(),
        timer_forwarder(service, &called),
    );
    if !inventory.tasks.is_empty() {
        resources.insert(id::TASK_ROLE.into(), tasks(service, inventory));
    }
    for subscription in &inventory.subscriptions {
        resources.insert(
            id::handler_role(&subscription.name),
            handler(service, subscription),
        );
    }
    resources.insert(id::API_ROLE.into(), api(service, inventory));
    if !inventory.routes.is_empty() {
        resources.insert(id::USER_API_ROLE.into(), user_api(service));
    }
}

/// The tasks the workflows call, by name, once each.
fn called_tasks(inventory: &Inventory) -> Vec<&TaskInfo> {
    let mut called: Vec<&TaskInfo> = inventory
        .workflows
        .iter()
        .flat_map(|w| inventory.tasks_of(w))
        .collect();
    called.sort_by(|a, b| a.name.cmp(&b.name));
    called.dedup_by(|a, b| a.name == b.name);
    called
}

/// Runs workflow steps; invokes exactly the tasks its workflows call.
fn orchestrator(service: &str, called: &[&TaskInfo]) -> Value {
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
    statements.extend(retention_and_index());
    statements.extend(schedule_timers(service));
    if !called.is_empty() {
        statements.push(invoke_tasks("InvokeCalledTasks", called));
    }
    statements.push(logs(&[names::orchestrator_function(service)]));
    role(
        "Orchestrator: workflow state, the tasks its workflows call",
        statements,
    )
}

/// Moves due timers to the orchestrator queue, and invokes the attempts of tasks retried
/// after a backoff.
fn timer_forwarder(service: &str, called: &[&TaskInfo]) -> Value {
    let mut statements = vec![
        statement("ConsumeTimerQueue", CONSUME, vec![arn(id::TIMER_QUEUE)]),
        statement(
            "ForwardTimers",
            &["sqs:SendMessage"],
            vec![arn(id::ORCHESTRATOR_QUEUE), arn(id::TIMER_QUEUE)],
        ),
        payloads(),
    ];
    statements.extend(schedule_timers(service));
    if !called.is_empty() {
        statements.push(invoke_tasks("InvokeRetriedTasks", called));
    }
    statements.push(logs(&[names::timer_forwarder_function(service)]));
    role(
        "Timer forwarder: due timers to the orchestrator queue, retried task attempts",
        statements,
    )
}

/// Waits longer than SQS's 15-minute delay: one-time EventBridge Scheduler schedules (named
/// `<service>-<digest>` in the default group) put the timer message on the timer queue, with
/// a role only Scheduler may assume.
fn timer_scheduler() -> Value {
    role_assumed_by(
        "scheduler.amazonaws.com",
        "EventBridge Scheduler: due long timers to the timer queue",
        vec![statement(
            "DeliverDueTimers",
            &["sqs:SendMessage"],
            vec![arn(id::TIMER_QUEUE)],
        )],
    )
}

/// Static schedules: EventBridge Scheduler puts their start messages on the orchestrator
/// queue, and may do nothing else.
fn workflow_scheduler() -> Value {
    role_assumed_by(
        "scheduler.amazonaws.com",
        "EventBridge Scheduler: scheduled workflow starts to the orchestrator queue",
        vec![statement(
            "StartScheduledWorkflows",
            &["sqs:SendMessage"],
            vec![arn(id::ORCHESTRATOR_QUEUE)],
        )],
    )
}

/// The one role of every task function: claim attempts, report outcomes.
fn tasks(service: &str, inventory: &Inventory) -> Value {
    let functions: Vec<String> = inventory
        .tasks
        .iter()
        .map(|t| names::task_function(service, &t.name))
        .collect();
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
            logs(&functions),
        ],
    )
}

/// A handler consumes its own queue; its client effects (starts, signals, events) go to the
/// orchestrator queue and the bus once it succeeded.
fn handler(service: &str, subscription: &SubscriptionInfo) -> Value {
    let name = &subscription.name;
    let mut statements = vec![
        statement(
            "ConsumeOwnQueue",
            CONSUME,
            vec![arn(&id::handler_queue(name))],
        ),
        start_and_signal(),
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
        let dlq = arn(&id::handler_dlq(name));
        statements.push(statement(
            "DeadLetterOwnEvents",
            &["sqs:SendMessage"],
            vec![dlq.clone()],
        ));
        statements.push(statement("ReadOwnDeadLetterQueue", READ_DLQ, vec![dlq]));
    }
    statements.push(logs(&[names::handler_function(service, name)]));
    role(&format!("Handler {name}: its own queue only"), statements)
}

/// The service API: start, signal, query, publish, list and redrive dead letters.
fn api(service: &str, inventory: &Inventory) -> Value {
    let mut statements = vec![
        start_and_signal(),
        statement(
            "ReadExecutions",
            &["dynamodb:GetItem", "dynamodb:Query"],
            state_tables(),
        ),
        read_history(),
        payloads(),
        publish_events(),
    ];
    statements.extend(search_executions());
    let dead_letter: Vec<&str> = inventory
        .subscriptions
        .iter()
        .filter(|s| s.dead_letter)
        .map(|s| s.name.as_str())
        .collect();
    if !dead_letter.is_empty() {
        statements.push(statement(
            "ListDeadLetters",
            API_READ_DLQ,
            dead_letter
                .iter()
                .map(|name| arn(&id::handler_dlq(name)))
                .collect(),
        ));
        statements.push(statement(
            "RedriveDeadLetters",
            &["sqs:GetQueueUrl", "sqs:SendMessage"],
            dead_letter
                .iter()
                .map(|name| arn(&id::handler_queue(name)))
                .collect(),
        ));
    }
    statements.push(logs(&[names::api_function(service)]));
    role("Service API: start, signal, query, redrive", statements)
}

/// The `#[api]` routes: what `ApiContext` does (start, signal, cancel and read executions,
/// publish events) and nothing more: no list, history or dead letters (the internal API's).
fn user_api(service: &str) -> Value {
    role(
        "The #[api] routes: start, signal, cancel and read executions, publish events",
        vec![
            start_and_signal(),
            // Reading one execution (a status, or whether a start or signal may go ahead).
            statement(
                "ReadExecutions",
                &["dynamodb:GetItem"],
                vec![arn(id::EXECUTIONS_TABLE)],
            ),
            // An ended execution's outcome is in its history document.
            read_history(),
            payloads(),
            publish_events(),
            logs(&[names::user_api_function(service)]),
        ],
    )
}

/// Starts, signals and cancels are messages to the orchestrator queue.
fn start_and_signal() -> Value {
    statement(
        "StartAndSignal",
        &["sqs:SendMessage"],
        vec![arn(id::ORCHESTRATOR_QUEUE)],
    )
}

/// The orchestrator keeps the attribute index with each commit (in the commit's transaction)
/// and tags history documents for the bucket's lifecycle rules (retention, superseded steps).
fn retention_and_index() -> [Value; 2] {
    [
        statement(
            "SearchableAttributes",
            &[
                "dynamodb:DeleteItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ],
            vec![arn(id::ATTRIBUTES_TABLE)],
        ),
        statement(
            "ExpireHistory",
            &["s3:PutObjectTagging"],
            vec![history_objects()],
        ),
    ]
}

/// The execution list: queries of the executions table's two list indexes and of the
/// attribute index (never a scan), and the executions an attribute query found.
fn search_executions() -> [Value; 2] {
    let executions_index = |name: &str| json!({ "Fn::Sub": format!("${{{}.Arn}}/index/{name}", id::EXECUTIONS_TABLE) });
    [
        statement(
            "SearchExecutions",
            &["dynamodb:Query"],
            vec![
                executions_index(names::index::BY_WORKFLOW),
                executions_index(names::index::BY_STATUS),
                arn(id::ATTRIBUTES_TABLE),
            ],
        ),
        statement(
            "ReadFoundExecutions",
            &["dynamodb:BatchGetItem"],
            vec![arn(id::EXECUTIONS_TABLE)],
        ),
    ]
}

/// Reading history documents.
fn read_history() -> Value {
    statement("ReadHistory", &["s3:GetObject"], vec![history_objects()])
}

/// Publishing events on the service's bus.
fn publish_events() -> Value {
    statement(
        "PublishEvents",
        &["events:PutEvents"],
        vec![arn(id::EVENT_BUS)],
    )
}

/// A role Lambda assumes.
fn role(description: &str, statements: Vec<Value>) -> Value {
    role_assumed_by("lambda.amazonaws.com", description, statements)
}

/// A role `principal` (an AWS service) assumes, with one inline least-privilege policy.
fn role_assumed_by(principal: &str, description: &str, statements: Vec<Value>) -> Value {
    json!({
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": description,
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": { "Service": principal },
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

fn statement(sid: &str, actions: &[&str], resources: Vec<Value>) -> Value {
    json!({ "Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources })
}

/// The executions and history tables.
fn state_tables() -> Vec<Value> {
    vec![arn(id::EXECUTIONS_TABLE), arn(id::HISTORY_TABLE)]
}

/// Every object of the history bucket.
fn history_objects() -> Value {
    json!({ "Fn::Sub": format!("${{{}.Arn}}/*", id::HISTORY_BUCKET) })
}

/// Messages too large for SQS or an invoke travel as S3 objects under `payloads/`.
fn payloads() -> Value {
    statement(
        "LargePayloads",
        &["s3:GetObject", "s3:PutObject"],
        vec![json!({
            "Fn::Sub": format!("${{{}.Arn}}/{}*", id::HISTORY_BUCKET, names::PAYLOAD_PREFIX)
        })],
    )
}

/// Creating the service's long-timer schedules, and handing Scheduler its role.
fn schedule_timers(service: &str) -> [Value; 2] {
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
}

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

/// Writing the log streams of `functions` only.
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

fn log_group(function: &str) -> Value {
    json!({
        "Fn::Sub": format!(
            "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/lambda/{function}:*"
        )
    })
}
