//! Every name of the AWS engine's deployed artifacts, defined once: the template
//! (`manifest::cfn`), the rules file, the engine (`eventual-aws`) and the tests read them here.
//!
//! - physical names ([`bus`], [`rule`], queues, tables, functions, schedules), derived from
//!   the service name and a task's or subscription's name, so that the template, the rules file
//!   and the engine agree without lookups;
//! - [`id`]: CloudFormation logical ids of the template's resources;
//! - [`parameter`], [`condition`] and [`output`]: the template's parameters, conditions and
//!   outputs;
//! - [`env`](mod@env): the environment variables the template sets and the Lambda functions read, and
//!   [`role`]: the values of `EVENTUAL_ROLE`;
//! - [`key`]: the key attributes of the DynamoDB tables.

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
/// The Lambda function of the orchestrator.
pub fn orchestrator_function(service: &str) -> String {
    function(service, role::ORCHESTRATOR)
}
/// The Lambda function of the timer forwarder.
pub fn timer_forwarder_function(service: &str) -> String {
    function(service, role::TIMER_FORWARDER)
}
/// The Lambda function of the service API (also the HTTP API's name).
pub fn api_function(service: &str) -> String {
    function(service, role::API)
}
/// The Lambda function of the service's own `#[api]` routes.
pub fn user_api_function(service: &str) -> String {
    function(service, role::USER_API)
}
/// The JWT authorizer of the HTTP API (routes with `auth = "jwt"`).
pub fn jwt_authorizer(service: &str) -> String {
    physical(&format!("{service}-jwt"), 128)
}
/// A role's one function is named after the role.
fn function(service: &str, role: &str) -> String {
    physical(&format!("{service}-{role}"), 64)
}
/// The FIFO orchestrator queue.
pub fn orchestrator_queue(service: &str) -> String {
    fifo_queue(service, "orchestrator")
}
/// The FIFO dead-letter queue of the orchestrator queue.
pub fn orchestrator_dlq(service: &str) -> String {
    fifo_queue(service, "orchestrator-dlq")
}
/// The standard timer queue.
pub fn timer_queue(service: &str) -> String {
    queue(service, "timers")
}
/// An SQS queue of the service (at most 75 characters, so that `.fifo` fits in 80).
fn queue(service: &str, what: &str) -> String {
    physical(&format!("{service}-{what}"), 75)
}
fn fifo_queue(service: &str, what: &str) -> String {
    format!("{}.fifo", queue(service, what))
}
/// The executions table (hash key [`key::EXECUTION_ID`]).
pub fn executions_table(service: &str) -> String {
    table(service, "executions")
}
/// The history table (hash key [`key::EXECUTION_ID`], range key [`key::SEQ`]).
pub fn history_table(service: &str) -> String {
    table(service, "history")
}
/// The attribute index (hash key [`key::ATTRIBUTE`], range key [`key::STARTED`], TTL
/// [`key::EXPIRES_AT`]): one item per searchable attribute of an execution.
pub fn attributes_table(service: &str) -> String {
    table(service, "attributes")
}
/// The task-lock table (hash key [`key::ATTEMPT`], TTL [`key::EXPIRES_AT`]).
pub fn task_lock_table(service: &str) -> String {
    table(service, "task-lock")
}
fn table(service: &str, what: &str) -> String {
    physical(&format!("{service}-{what}"), 255)
}
/// The EventBridge Scheduler schedule of a long timer, in the default group:
/// `<service>-<digest>`; with `digest` `*`, the pattern of all the service's schedules.
pub fn schedule(service: &str, digest: &str) -> String {
    format!("{}-{digest}", physical(service, 20))
}

/// The service's own EventBridge Scheduler schedule group, holding the static schedules of
/// its workflows (each named after its workflow).
pub fn schedule_group(service: &str) -> String {
    physical(service, 64)
}

/// CloudFormation logical ids of the template's resources.
pub mod id {
    /// A logical id made of a name: its alphanumeric runs, each capitalised.
    pub fn logical(name: &str) -> String {
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

    /// The event bus.
    pub const EVENT_BUS: &str = "EventBus";
    /// The history bucket (histories and large payloads).
    pub const HISTORY_BUCKET: &str = "HistoryBucket";
    /// The executions table.
    pub const EXECUTIONS_TABLE: &str = "ExecutionsTable";
    /// The history table.
    pub const HISTORY_TABLE: &str = "HistoryTable";
    /// The task-lock table.
    pub const TASK_LOCK_TABLE: &str = "TaskLockTable";
    /// The attribute index.
    pub const ATTRIBUTES_TABLE: &str = "AttributesTable";
    /// The FIFO orchestrator queue.
    pub const ORCHESTRATOR_QUEUE: &str = "OrchestratorQueue";
    /// Its dead-letter queue.
    pub const ORCHESTRATOR_DLQ: &str = "OrchestratorDeadLetterQueue";
    /// The orchestrator's role.
    pub const ORCHESTRATOR_ROLE: &str = "OrchestratorRole";
    /// The orchestrator's function.
    pub const ORCHESTRATOR_FUNCTION: &str = "OrchestratorFunction";
    /// The orchestrator queue → function mapping.
    pub const ORCHESTRATOR_EVENT_SOURCE: &str = "OrchestratorEventSource";
    /// The timer queue.
    pub const TIMER_QUEUE: &str = "TimerQueue";
    /// The role EventBridge Scheduler delivers due long timers with.
    pub const TIMER_SCHEDULER_ROLE: &str = "TimerSchedulerRole";
    /// The service's schedule group (when a workflow has a static schedule).
    pub const SCHEDULE_GROUP: &str = "ScheduleGroup";
    /// The role EventBridge Scheduler starts scheduled workflows with.
    pub const WORKFLOW_SCHEDULER_ROLE: &str = "WorkflowSchedulerRole";
    /// The timer forwarder's role.
    pub const TIMER_FORWARDER_ROLE: &str = "TimerForwarderRole";
    /// The timer forwarder's function.
    pub const TIMER_FORWARDER_FUNCTION: &str = "TimerForwarderFunction";
    /// The timer queue → function mapping.
    pub const TIMER_FORWARDER_EVENT_SOURCE: &str = "TimerForwarderEventSource";
    /// The role every task function shares.
    pub const TASK_ROLE: &str = "TaskRole";
    /// The service API's role.
    pub const API_ROLE: &str = "ApiRole";
    /// The service API's function.
    pub const API_FUNCTION: &str = "ApiFunction";
    /// API Gateway's HTTP API.
    pub const HTTP_API: &str = "HttpApi";
    /// Its integration with the API function.
    pub const HTTP_API_INTEGRATION: &str = "HttpApiIntegration";
    /// Its route of the internal API (`ANY /_eventual/{proxy+}`).
    pub const HTTP_API_ROUTE: &str = "HttpApiRoute";
    /// Its stage (`$default`).
    pub const HTTP_API_STAGE: &str = "HttpApiStage";
    /// The permission letting API Gateway invoke the API function.
    pub const HTTP_API_INVOKES_API_FUNCTION: &str = "HttpApiInvokesApiFunction";
    /// The role of the function of the service's `#[api]` routes.
    pub const USER_API_ROLE: &str = "UserApiRole";
    /// The function of the service's `#[api]` routes.
    pub const USER_API_FUNCTION: &str = "UserApiFunction";
    /// The HTTP API's integration with the user-API function.
    pub const HTTP_API_USER_INTEGRATION: &str = "HttpApiUserIntegration";
    /// The permission letting API Gateway invoke the user-API function.
    pub const HTTP_API_INVOKES_USER_API_FUNCTION: &str = "HttpApiInvokesUserApiFunction";
    /// The HTTP API's JWT authorizer (when a route has `auth = "jwt"`).
    pub const HTTP_API_JWT_AUTHORIZER: &str = "HttpApiJwtAuthorizer";
    /// The HTTP API's integration with the legacy system (the strangler fig's fallback).
    pub const HTTP_API_LEGACY_INTEGRATION: &str = "HttpApiLegacyIntegration";
    /// The HTTP API's `$default` route to the legacy system.
    pub const HTTP_API_LEGACY_ROUTE: &str = "HttpApiLegacyRoute";

    /// The HTTP API's route of an `#[api]` function (two routes must not share it).
    pub fn route(route: &str) -> String {
        format!("ApiRoute{}", logical(route))
    }

    /// The static schedule of a workflow.
    pub fn workflow_schedule(workflow: &str) -> String {
        format!("Schedule{}", logical(workflow))
    }

    /// `Task<Name>`: what a task's ids derive from (two tasks must not share it).
    pub fn task(task: &str) -> String {
        format!("Task{}", logical(task))
    }
    /// A task's function.
    pub fn task_function(task: &str) -> String {
        format!("{}Function", self::task(task))
    }

    /// `Handler<Name>`: what a subscription's ids derive from (two subscriptions must not
    /// share it).
    pub fn handler(subscription: &str) -> String {
        format!("Handler{}", logical(subscription))
    }
    /// A subscription's queue.
    pub fn handler_queue(subscription: &str) -> String {
        format!("{}Queue", handler(subscription))
    }
    /// A subscription's dead-letter queue.
    pub fn handler_dlq(subscription: &str) -> String {
        format!("{}DeadLetterQueue", handler(subscription))
    }
    /// The policy letting a subscription's rule send to its queue.
    pub fn handler_queue_policy(subscription: &str) -> String {
        format!("{}QueuePolicy", handler(subscription))
    }
    /// A subscription's rule.
    pub fn handler_rule(subscription: &str) -> String {
        format!("{}Rule", handler(subscription))
    }
    /// A subscription's handler role.
    pub fn handler_role(subscription: &str) -> String {
        format!("{}Role", handler(subscription))
    }
    /// A subscription's handler function.
    pub fn handler_function(subscription: &str) -> String {
        format!("{}Function", handler(subscription))
    }
    /// A subscription's queue → function mapping.
    pub fn handler_event_source(subscription: &str) -> String {
        format!("{}EventSource", handler(subscription))
    }
}

/// The template's parameters.
pub mod parameter {
    /// The S3 bucket of the Lambda package.
    pub const ARTIFACT_BUCKET: &str = "ArtifactBucket";
    /// The S3 key of the Lambda package.
    pub const ARTIFACT_KEY: &str = "ArtifactKey";
    /// The secret signing completion tokens ([`env::TOKEN_KEY`](super::env::TOKEN_KEY)).
    pub const COMPLETION_TOKEN_KEY: &str = "CompletionTokenKey";
    /// The legacy system that answers what no route serves (empty: none).
    pub const LEGACY_BASE_URL: &str = "LegacyBaseUrl";
    /// The issuer the JWT authorizer accepts (only when a route has `auth = "jwt"`).
    pub const JWT_ISSUER: &str = "JwtIssuer";
    /// The audiences the JWT authorizer accepts (only when a route has `auth = "jwt"`).
    pub const JWT_AUDIENCE: &str = "JwtAudience";
    /// Days ended executions of workflows without a `retention` of their own are kept
    /// (0: forever).
    pub const RETENTION_DAYS: &str = "RetentionDays";
}

/// The template's conditions.
pub mod condition {
    /// [`LEGACY_BASE_URL`](super::parameter::LEGACY_BASE_URL) is set: unmatched requests go
    /// to the legacy system.
    pub const HAS_LEGACY_BASE_URL: &str = "HasLegacyBaseUrl";
    /// [`RETENTION_DAYS`](super::parameter::RETENTION_DAYS) is not 0: ended executions of
    /// workflows without a retention of their own expire.
    pub const HAS_DEFAULT_RETENTION: &str = "HasDefaultRetention";
}

/// The template's outputs.
pub mod output {
    /// The event bus's name.
    pub const EVENT_BUS_NAME: &str = "EventBusName";
    /// The orchestrator queue's URL.
    pub const ORCHESTRATOR_QUEUE_URL: &str = "OrchestratorQueueUrl";
    /// The API function's name (the CLI's `--url lambda://<name>`).
    pub const API_FUNCTION_NAME: &str = "ApiFunctionName";
    /// API Gateway's URL (the CLI's `--url`).
    pub const API_URL: &str = "ApiUrl";
    /// The history bucket's name.
    pub const HISTORY_BUCKET_NAME: &str = "HistoryBucketName";
}

/// The environment variables the template sets and the Lambda functions read.
pub mod env {
    /// The service name (every function).
    pub const SERVICE: &str = "EVENTUAL_SERVICE";
    /// The function's role, one of [`role`](super::role) (every function).
    pub const ROLE: &str = "EVENTUAL_ROLE";
    /// A task function's task.
    pub const TASK: &str = "EVENTUAL_TASK";
    /// A handler function's subscription.
    pub const HANDLER: &str = "EVENTUAL_HANDLER";
    /// The FIFO orchestrator queue's URL.
    pub const ORCHESTRATOR_QUEUE_URL: &str = "EVENTUAL_ORCHESTRATOR_QUEUE_URL";
    /// The timer queue's URL.
    pub const TIMER_QUEUE_URL: &str = "EVENTUAL_TIMER_QUEUE_URL";
    /// The timer queue's ARN: the target of long timers' schedules.
    pub const TIMER_QUEUE_ARN: &str = "EVENTUAL_TIMER_QUEUE_ARN";
    /// The role EventBridge Scheduler delivers long timers with.
    pub const SCHEDULER_ROLE_ARN: &str = "EVENTUAL_SCHEDULER_ROLE_ARN";
    /// The executions table.
    pub const EXECUTIONS_TABLE: &str = "EVENTUAL_EXECUTIONS_TABLE";
    /// The history table.
    pub const HISTORY_TABLE: &str = "EVENTUAL_HISTORY_TABLE";
    /// The task-lock table.
    pub const TASK_LOCK_TABLE: &str = "EVENTUAL_TASK_LOCK_TABLE";
    /// The attribute index.
    pub const ATTRIBUTES_TABLE: &str = "EVENTUAL_ATTRIBUTES_TABLE";
    /// Days ended executions are kept unless their workflow says otherwise (0 or unset:
    /// forever).
    pub const RETENTION_DAYS: &str = "EVENTUAL_RETENTION_DAYS";
    /// The history bucket.
    pub const HISTORY_BUCKET: &str = "EVENTUAL_HISTORY_BUCKET";
    /// The event bus's name.
    pub const EVENT_BUS: &str = "EVENTUAL_EVENT_BUS";
    /// A handler's own queue's URL.
    pub const HANDLER_QUEUE_URL: &str = "EVENTUAL_HANDLER_QUEUE_URL";
    /// A handler's dead-letter queue's URL.
    pub const DEAD_LETTER_QUEUE_URL: &str = "EVENTUAL_DEAD_LETTER_QUEUE_URL";
    /// The completion-token key (task and API functions).
    pub const TOKEN_KEY: &str = "EVENTUAL_TOKEN_KEY";
}

/// The values of [`env::ROLE`]; the functions of the orchestrator, the timer forwarder, the
/// API and the user API are named after theirs.
pub mod role {
    /// Steps workflows from the orchestrator queue.
    pub const ORCHESTRATOR: &str = "orchestrator";
    /// Runs one task's attempts ([`env::TASK`](super::env::TASK) names it).
    pub const TASK: &str = "task";
    /// Runs one subscription's handler ([`env::HANDLER`](super::env::HANDLER) names it).
    pub const HANDLER: &str = "handler";
    /// `handler:<subscription>`: a handler role naming its subscription itself.
    pub const HANDLER_PREFIX: &str = "handler:";
    /// The service API.
    pub const API: &str = "api";
    /// The service's own `#[api]` routes.
    pub const USER_API: &str = "user-api";
    /// Forwards due timers (the template's name).
    pub const TIMER_FORWARDER: &str = "timer-forwarder";
    /// The short name of [`TIMER_FORWARDER`].
    pub const TIMER: &str = "timer";
}

/// Key attributes of the DynamoDB tables.
pub mod key {
    /// The hash key of the executions and history tables.
    pub const EXECUTION_ID: &str = "execution_id";
    /// The range key of the history table.
    pub const SEQ: &str = "seq";
    /// The hash key of the task-lock table: `<execution>#<seq>#<attempt>`.
    pub const ATTEMPT: &str = "attempt";
    /// The TTL attribute (epoch seconds) of the task-lock table, and of the executions,
    /// history and attributes tables once an execution ended.
    pub const EXPIRES_AT: &str = "expires_at";
    /// The hash key of the attributes table: [`attribute_partition`](super::attribute_partition).
    pub const ATTRIBUTE: &str = "attribute";
    /// The range key of the attributes table and of the executions table's indexes:
    /// [`started`](super::started), so a partition lists executions by start time.
    pub const STARTED: &str = "started";
    /// The hash key of the executions table's [`BY_WORKFLOW`](super::index::BY_WORKFLOW).
    pub const WORKFLOW: &str = "workflow";
    /// The hash key of the executions table's [`BY_STATUS`](super::index::BY_STATUS):
    /// `<status>#<workflow>`.
    pub const STATUS_WORKFLOW: &str = "status_workflow";
}

/// The global secondary indexes of the executions table, both sorted by [`key::STARTED`]:
/// the execution list queries them and never scans.
pub mod index {
    /// By workflow (hash key [`key::WORKFLOW`](super::key::WORKFLOW)).
    pub const BY_WORKFLOW: &str = "by-workflow";
    /// By status and workflow (hash key
    /// [`key::STATUS_WORKFLOW`](super::key::STATUS_WORKFLOW)): a list by status alone queries
    /// one partition per workflow, so no partition holds every running execution.
    pub const BY_STATUS: &str = "by-status";
}

/// The sort key of an execution in the list indexes: its start time (milliseconds, padded so
/// that text order is time order), then its id.
pub fn started(created_ms: u64, execution_id: &str) -> String {
    format!("{created_ms:013}#{execution_id}")
}

/// The hash key of executions of `workflow` with status `status` in
/// [`index::BY_STATUS`].
pub fn status_workflow(status: &str, workflow: &str) -> String {
    format!("{status}#{workflow}")
}

/// The hash key of the executions whose attribute `key` has (indexed text) `value` in the
/// attributes table: the pair as a JSON array, so no separator can be ambiguous. A pair too
/// long for a DynamoDB key (2,048 bytes) is keyed by the SHA-256 of its text instead.
pub fn attribute_partition(key: &str, value: &str) -> String {
    let text = serde_json::json!([key, value]).to_string();
    if text.len() <= 1_024 {
        return text;
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256:{hex}")
}

/// The S3 object tag that tells the history bucket's lifecycle rules when a history document
/// expires; its values are [`retention_tag`], [`DEFAULT_RETENTION_TAG`] and
/// [`SUPERSEDED_TAG`].
pub const RETENTION_TAG: &str = "eventual-retention";
/// The tag of the documents of workflows kept for the service's default retention
/// ([`parameter::RETENTION_DAYS`]).
pub const DEFAULT_RETENTION_TAG: &str = "default";
/// The tag of a step document that a later commit replaced (or that lost its commit).
pub const SUPERSEDED_TAG: &str = "superseded";
/// Days a superseded step document is kept: a run that read the execution before the commit
/// may still be reading it.
pub const SUPERSEDED_KEPT_DAYS: u32 = 1;

/// A workflow retention in whole days, as S3 lifecycle rules count (rounded up, at least 1).
pub fn retention_days(retention_ms: u64) -> u64 {
    retention_ms.div_ceil(24 * 3600 * 1000).max(1)
}

/// The tag value of documents kept `days` days.
pub fn retention_tag(days: u64) -> String {
    format!("{days}d")
}
