//! Where the engine's resources are and the clients that reach them.

use aws_config::{BehaviorVersion, SdkConfig};
use eventual_runtime::engine::kernel::retention::Retention;
use eventual_runtime::manifest::names::{self, env};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// The names of the deployed resources, as the CloudFormation template passes them in the
/// functions' environment (the variables are `eventual_runtime::manifest::names::env`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    /// The service name (`EVENTUAL_SERVICE`): task function names derive from it.
    pub service: String,
    /// The FIFO orchestrator queue (`EVENTUAL_ORCHESTRATOR_QUEUE_URL`).
    pub orchestrator_queue_url: String,
    /// The standard timer queue (`EVENTUAL_TIMER_QUEUE_URL`).
    pub timer_queue_url: String,
    /// Its ARN (`EVENTUAL_TIMER_QUEUE_ARN`): the target of schedules of long timers.
    pub timer_queue_arn: String,
    /// The role EventBridge Scheduler sends to the timer queue with
    /// (`EVENTUAL_SCHEDULER_ROLE_ARN`). Without it, waits longer than 15 minutes go round the
    /// timer queue every 15 minutes instead.
    pub scheduler_role_arn: String,
    /// The executions table, hash key `execution_id` (`EVENTUAL_EXECUTIONS_TABLE`).
    pub executions_table: String,
    /// The history table, hash key `execution_id`, range key `seq`: one item per committed
    /// step (`EVENTUAL_HISTORY_TABLE`).
    pub history_table: String,
    /// The task-lock table, hash key `attempt` (`EVENTUAL_TASK_LOCK_TABLE`).
    pub task_lock_table: String,
    /// The attribute index, hash key `attribute`, range key `started`
    /// (`EVENTUAL_ATTRIBUTES_TABLE`).
    pub attributes_table: String,
    /// Days ended executions of workflows without a retention of their own are kept
    /// (`EVENTUAL_RETENTION_DAYS`; 0: forever).
    pub retention_days: u64,
    /// The history bucket (`EVENTUAL_HISTORY_BUCKET`).
    pub history_bucket: String,
    /// The event bus name (`EVENTUAL_EVENT_BUS`).
    pub event_bus: String,
    /// A handler's own queue (`EVENTUAL_HANDLER_QUEUE_URL`): a failed delivery's message is
    /// hidden there until its retry is due.
    pub handler_queue_url: String,
    /// A handler's dead-letter queue (`EVENTUAL_DEAD_LETTER_QUEUE_URL`), if it has one.
    pub dead_letter_queue_url: String,
}

impl Resources {
    /// Reads the `EVENTUAL_*` variables; a role reads only those it needs, so missing ones
    /// stay empty.
    pub fn from_env() -> Self {
        Resources::from_vars(|name| std::env::var(name).ok())
    }

    /// The resources `var` (an environment lookup) names; missing ones stay empty.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| var(name).unwrap_or_default();
        Resources {
            service: var(env::SERVICE),
            orchestrator_queue_url: var(env::ORCHESTRATOR_QUEUE_URL),
            timer_queue_url: var(env::TIMER_QUEUE_URL),
            timer_queue_arn: var(env::TIMER_QUEUE_ARN),
            scheduler_role_arn: var(env::SCHEDULER_ROLE_ARN),
            executions_table: var(env::EXECUTIONS_TABLE),
            history_table: var(env::HISTORY_TABLE),
            task_lock_table: var(env::TASK_LOCK_TABLE),
            attributes_table: var(env::ATTRIBUTES_TABLE),
            retention_days: var(env::RETENTION_DAYS).parse().unwrap_or(0),
            history_bucket: var(env::HISTORY_BUCKET),
            event_bus: var(env::EVENT_BUS),
            handler_queue_url: var(env::HANDLER_QUEUE_URL),
            dead_letter_queue_url: var(env::DEAD_LETTER_QUEUE_URL),
        }
    }

    /// How long ended executions are kept: the workflow's own retention, or
    /// [`Resources::retention_days`].
    pub fn retention(&self) -> Retention {
        let default = (self.retention_days > 0)
            .then(|| std::time::Duration::from_secs(self.retention_days * 24 * 3600));
        Retention::new(default)
    }

    /// The Lambda function of task `name`.
    pub fn task_function(&self, name: &str) -> String {
        names::task_function(&self.service, name)
    }
}

/// Fault points for tests: each counter, while above zero, makes the next run that passes the
/// point stop there (as if the Lambda was killed) and counts down.
#[derive(Debug, Default)]
pub struct Faults {
    /// The orchestrator stops after committing a step's history batch, before the executions
    /// item follows.
    pub crash_after_history_put: AtomicU32,
    /// The orchestrator stops right after a history commit, before carrying out its commands.
    pub crash_after_commit: AtomicU32,
    /// The orchestrator stops after carrying out one send of a step, before the next (between
    /// two commands, or between an attempt's timeout timer and its invoke).
    pub crash_between_commands: AtomicU32,
    /// The orchestrator stops after carrying out a step's commands, before marking them done.
    pub crash_before_carried_out_mark: AtomicU32,
    /// The task worker stops after claiming an attempt, before running the body.
    pub crash_after_claim: AtomicU32,
    /// The task worker stops after storing the result on its claim, before sending it.
    pub crash_after_result_stored: AtomicU32,
    /// `PutEvents` entries reported failed by the next calls (one entry per call).
    pub fail_put_events: AtomicU32,
}

impl Faults {
    pub(crate) fn take(counter: &AtomicU32) -> bool {
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// The SDK clients and resource names one handler works with.
#[derive(Clone, Debug)]
pub struct Aws {
    /// SQS: the orchestrator, timer and subscription queues.
    pub sqs: aws_sdk_sqs::Client,
    /// DynamoDB: the executions and task-lock tables.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// S3: history documents.
    pub s3: aws_sdk_s3::Client,
    /// Lambda: asynchronous task invokes.
    pub lambda: aws_sdk_lambda::Client,
    /// EventBridge: `PutEvents`.
    pub events: aws_sdk_eventbridge::Client,
    /// EventBridge Scheduler: one-time schedules of long timers.
    pub scheduler: aws_sdk_scheduler::Client,
    /// The resources.
    pub resources: Resources,
    /// Fault points (tests).
    pub faults: Arc<Faults>,
    /// The histories this process committed (a warm orchestrator does not read them back).
    pub history_cache: Arc<crate::store::HistoryCache>,
}

/// `loader` with the HTTPS client of every SDK client: rustls on ring.
fn with_http_client(loader: aws_config::ConfigLoader) -> aws_config::ConfigLoader {
    use aws_smithy_http_client::tls;
    loader.http_client(
        aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https(),
    )
}

/// The SDK configuration from the environment (Lambda's credentials and region), with the
/// engine's HTTP client. `AWS_ENDPOINT_URL` is honoured as usual.
pub async fn load_sdk_config() -> SdkConfig {
    with_http_client(aws_config::defaults(BehaviorVersion::latest()))
        .load()
        .await
}

/// A loader preset with the engine's HTTP client, for callers that set endpoint, region or
/// credentials themselves (tests against moto).
pub fn sdk_config_loader() -> aws_config::ConfigLoader {
    with_http_client(aws_config::defaults(BehaviorVersion::latest()))
}

impl Aws {
    /// Clients for `config`. With a custom endpoint (a local emulator), S3 uses path-style
    /// addressing.
    pub fn new(config: &SdkConfig, resources: Resources) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        Aws {
            sqs: aws_sdk_sqs::Client::new(config),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3),
            lambda: aws_sdk_lambda::Client::new(config),
            events: aws_sdk_eventbridge::Client::new(config),
            scheduler: aws_sdk_scheduler::Client::new(config),
            resources,
            faults: Arc::default(),
            history_cache: Arc::default(),
        }
    }

    /// Clients for the Lambda environment.
    pub async fn from_env() -> Self {
        Aws::new(&load_sdk_config().await, Resources::from_env())
    }

    /// The same clients with `lambda` in place of the Lambda client (tests serve the Invoke
    /// API on 127.0.0.1).
    pub fn with_lambda(mut self, lambda: aws_sdk_lambda::Client) -> Self {
        self.lambda = lambda;
        self
    }
}
