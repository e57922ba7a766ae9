//! Plays AWS for the engine's tests: moto_server for SQS, DynamoDB, S3 and EventBridge, a
//! Lambda Invoke API on 127.0.0.1 that runs the task handler in-process, and a pump that does
//! what Lambda's event source mappings do: poll the queues, call the same handler functions
//! `lambda_runtime` would call with real `SqsEvent` payloads, delete what they did not report
//! as failed.

#![allow(dead_code)]

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_eventbridge::types::Target;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use eventual_aws::api::AwsApi;
use eventual_aws::{Aws, Resources, SqsBatchResponse, SqsEvent, SqsMessage};
use eventual_runtime::engine::api::ServiceApi;
use eventual_runtime::manifest::names;
use serde_json::Value;
use std::collections::HashMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The service the harness deploys.
pub const SERVICE: &str = "svc";

/// How long a test waits for an execution before it fails.
pub const WAIT: Duration = Duration::from_secs(60);

/// A moto_server child process, killed on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts `moto_server` on a free port of 127.0.0.1 and waits until it answers.
    pub fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server runs (python3 -m pip install 'moto[server]==5.2.1')");
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Faults the harness injects while playing Lambda.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Every batch of every queue is handed to its handler twice.
    pub duplicate_deliveries: bool,
    /// Every task invoke runs the task handler twice, concurrently.
    pub duplicate_invokes: bool,
}

/// The engine on moto, with Lambda played in-process.
pub struct Harness {
    pub aws: Aws,
    /// The Lambda Invoke API the harness serves (`AWS_ENDPOINT_URL_LAMBDA` for a child CLI).
    pub invoke_url: String,
    pump: tokio::task::JoinHandle<()>,
    invoke_server: tokio::task::JoinHandle<()>,
    _moto: Moto,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.pump.abort();
        self.invoke_server.abort();
    }
}

/// The engine's SDK configuration pointed at `endpoint` with dummy credentials.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    eventual_aws::config::sdk_config_loader()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await
}

/// The ARN of the queue at `url`.
pub async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()
        .remove(&QueueAttributeName::QueueArn)
        .unwrap()
}

pub async fn create_queue(aws: &Aws, name: &str, fifo: bool) -> String {
    let mut request = aws.sqs.create_queue().queue_name(name);
    if fifo {
        request = request.attributes(QueueAttributeName::FifoQueue, "true");
    }
    request.send().await.unwrap().queue_url.unwrap()
}

/// Creates every DynamoDB table of the service's template as the template defines it (keys,
/// indexes; moto ignores TTL specifications, which `UpdateTimeToLive` sets), so the harness
/// and a deployment never disagree.
async fn create_template_tables(aws: &Aws) {
    let template = eventual_runtime::manifest::template(
        SERVICE,
        &eventual_runtime::manifest::Inventory::linked(),
    );
    let resources = template["Resources"].as_object().unwrap();
    for table in resources
        .values()
        .filter(|resource| resource["Type"] == "AWS::DynamoDB::Table")
    {
        create_table_as(aws, &table["Properties"]).await;
    }
}

/// `CreateTable` (and `UpdateTimeToLive`) with a template table's `Properties`.
pub async fn create_table_as(aws: &Aws, properties: &Value) {
    let name = properties["TableName"].as_str().unwrap();
    let key_schema = |keys: &Value| -> Vec<KeySchemaElement> {
        keys.as_array()
            .unwrap()
            .iter()
            .map(|key| {
                KeySchemaElement::builder()
                    .attribute_name(key["AttributeName"].as_str().unwrap())
                    .key_type(KeyType::from(key["KeyType"].as_str().unwrap()))
                    .build()
                    .unwrap()
            })
            .collect()
    };
    let mut request = aws
        .dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(&properties["KeySchema"])));
    for definition in properties["AttributeDefinitions"].as_array().unwrap() {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(definition["AttributeName"].as_str().unwrap())
                .attribute_type(ScalarAttributeType::from(
                    definition["AttributeType"].as_str().unwrap(),
                ))
                .build()
                .unwrap(),
        );
    }
    for index in properties["GlobalSecondaryIndexes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index["IndexName"].as_str().unwrap())
                .set_key_schema(Some(key_schema(&index["KeySchema"])))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(
                            index["Projection"]["ProjectionType"].as_str().unwrap(),
                        ))
                        .build(),
                )
                .build()
                .unwrap(),
        );
    }
    request.send().await.unwrap();
    if let Some(ttl) = properties["TimeToLiveSpecification"]["AttributeName"].as_str() {
        aws.dynamodb
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(ttl)
                    .enabled(true)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
}

/// The largest payload of an asynchronous invoke (Lambda refuses larger ones with 413).
pub const ASYNC_INVOKE_LIMIT: usize = 256 * 1024;

/// The invoke server's state: the default clients, those of each task function, the API
/// function's name, the options.
#[derive(Clone)]
struct InvokeState {
    aws: Aws,
    tasks: Arc<HashMap<String, Aws>>,
    api_function: String,
    options: Options,
}

/// The service API's routes over `aws`, as the API function serves them.
pub fn api_router(aws: &Aws) -> axum::Router {
    let api: Arc<dyn ServiceApi> = Arc::new(
        AwsApi::new(aws.clone())
            .with_wait(Duration::from_secs(5))
            .with_start_wait(Duration::from_secs(20)),
    );
    eventual_runtime::engine::api::http::router(api)
}

/// Serves `POST /2015-03-31/functions/{name}/invocations` (the Lambda Invoke API). The API
/// function answers synchronously, as `lambda_runtime` would run it; a task invoke is
/// asynchronous: 202, and the task handler runs in the background.
async fn serve_invokes(
    aws: Aws,
    tasks: HashMap<String, Aws>,
    options: Options,
) -> (String, tokio::task::JoinHandle<()>) {
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let api_function = names::api_function(&aws.resources.service);
    let app = axum::Router::new()
        .route(
            "/2015-03-31/functions/{name}/invocations",
            axum::routing::post(
                |State(state): State<InvokeState>,
                 axum::extract::Path(function): axum::extract::Path<String>,
                 body: axum::body::Bytes| async move {
                    let aws = state.tasks.get(&function).unwrap_or(&state.aws).clone();
                    if function == state.api_function {
                        let Ok(event) = serde_json::from_slice(&body) else {
                            return StatusCode::BAD_REQUEST.into_response();
                        };
                        let response =
                            eventual_aws::api::gateway::handle(api_router(&aws), event).await;
                        return axum::Json(response).into_response();
                    }
                    let service = &state.aws.resources.service;
                    let is_task = eventual_runtime::registry::TASKS.iter().any(|task| {
                        names::task_function(service, task.name)
                            == function
                    });
                    if !is_task {
                        let error = serde_json::json!({
                            "Type": "User",
                            "Message": format!("Function not found: {function}"),
                        });
                        return (
                            StatusCode::NOT_FOUND,
                            [("x-amzn-errortype", "ResourceNotFoundException")],
                            axum::Json(error),
                        )
                            .into_response();
                    }
                    if body.len() > ASYNC_INVOKE_LIMIT {
                        let error = serde_json::json!({
                            "Type": "User",
                            "message": format!("{} byte payload is too large for the Event invocation type (limit {ASYNC_INVOKE_LIMIT} bytes)", body.len()),
                        });
                        return (
                            StatusCode::PAYLOAD_TOO_LARGE,
                            [("x-amzn-errortype", "RequestTooLargeException")],
                            axum::Json(error),
                        )
                            .into_response();
                    }
                    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
                        return StatusCode::BAD_REQUEST.into_response();
                    };
                    let runs = if state.options.duplicate_invokes { 2 } else { 1 };
                    for _ in 0..runs {
                        let aws = aws.clone();
                        let payload = payload.clone();
                        tokio::spawn(async move {
                            // Lambda retries a failed asynchronous invoke twice (after about
                            // one and two minutes; here seconds).
                            for retry in 1..=3 {
                                match eventual_aws::task::handle_payload(&aws, payload.clone())
                                    .await
                                {
                                    Ok(_) => break,
                                    Err(error) => eprintln!("task handler failed: {error}"),
                                }
                                tokio::time::sleep(Duration::from_secs(retry)).await;
                            }
                        });
                    }
                    StatusCode::ACCEPTED.into_response()
                },
            ),
        )
        .with_state(InvokeState {
            aws,
            tasks: Arc::new(tasks),
            api_function,
            options,
        });
    serve(app).await
}

/// Serves `app` on a free port of 127.0.0.1.
async fn serve(app: axum::Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{address}"), server)
}

/// Plays API Gateway (HTTP API, payload format 2.0) in front of the API function: every
/// HTTP request becomes the event API Gateway would send, answered by the API role's handler.
pub async fn serve_gateway(aws: Aws) -> (String, tokio::task::JoinHandle<()>) {
    serve_gateway_with(aws, None).await
}

/// What an `AWS_IAM` route checks: the caller's credentials and the API's region.
pub type IamAuth = (aws_credential_types::Credentials, String);

/// [`serve_gateway`] with the route's `AWS_IAM` authorization: a request whose SigV4
/// signature does not match `auth`'s credentials is refused with 403, as API Gateway does.
pub async fn serve_gateway_with(
    aws: Aws,
    auth: Option<IamAuth>,
) -> (String, tokio::task::JoinHandle<()>) {
    let app = axum::Router::new().fallback(
        |axum::extract::State((aws, auth)): axum::extract::State<(Aws, Option<IamAuth>)>,
         request: axum::extract::Request| async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
            if let Some((credentials, region)) = &auth {
                if let Err(message) = check_signature(&parts, &body, credentials, region) {
                    let body = serde_json::json!({ "message": message });
                    return (axum::http::StatusCode::FORBIDDEN, axum::Json(body));
                }
            }
            let event = aws_lambda_events::event::apigw::ApiGatewayV2httpRequest {
                raw_path: Some(parts.uri.path().to_owned()),
                raw_query_string: parts.uri.query().map(str::to_owned),
                headers: parts.headers,
                body: (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned()),
                request_context: aws_lambda_events::event::apigw::ApiGatewayV2httpRequestContext {
                    http: aws_lambda_events::event::apigw::ApiGatewayV2httpRequestContextHttpDescription {
                        method: parts.method,
                        path: Some(parts.uri.path().to_owned()),
                        ..Default::default()
                    },
                    ..Default::default()
                },
                ..Default::default()
            };
            let response = eventual_aws::api::gateway::handle(api_router(&aws), event).await;
            let (status, body) = eventual_aws::api::gateway::response_parts(&response);
            (
                axum::http::StatusCode::from_u16(status).unwrap(),
                axum::Json(body),
            )
        },
    );
    serve(app.with_state((aws, auth))).await
}

/// Signs the request again with the expected credentials at its `x-amz-date` and compares.
fn check_signature(
    parts: &axum::http::request::Parts,
    body: &[u8],
    credentials: &aws_credential_types::Credentials,
    region: &str,
) -> Result<(), String> {
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("Missing Authentication Token (no {name} header)"))
    };
    let given = header("authorization")?;
    let date = header("x-amz-date")?;
    let host = header("host")?;
    // 20261125T214500Z → 2026-11-25T21:45:00Z
    let rfc3339 = match date.as_bytes() {
        [y @ .., b'Z'] if y.len() == 15 => format!(
            "{}-{}-{}T{}:{}:{}Z",
            &date[0..4],
            &date[4..6],
            &date[6..8],
            &date[9..11],
            &date[11..13],
            &date[13..15]
        ),
        _ => return Err(format!("malformed x-amz-date {date}")),
    };
    let time = aws_smithy_types::DateTime::from_str(
        &rfc3339,
        aws_smithy_types::date_time::Format::DateTime,
    )
    .ok()
    .and_then(|t| std::time::SystemTime::try_from(t).ok())
    .ok_or_else(|| format!("malformed x-amz-date {date}"))?;
    let url = format!("http://{host}{}", parts.uri);
    let expected = eventual_aws::cli::signature_headers(
        (parts.method.as_str(), &url, host, body),
        credentials.clone(),
        region,
        time,
    )?;
    let expected = expected
        .iter()
        .find(|(name, _)| name == "authorization")
        .map(|(_, value)| value.as_str());
    if expected == Some(given) {
        Ok(())
    } else {
        Err(
            "The request signature we calculated does not match the signature you provided."
                .to_owned(),
        )
    }
}

/// Receives up to 10 messages as Lambda's event source mapping would hand them over.
async fn receive(aws: &Aws, queue_url: &str) -> Vec<SqsMessage> {
    let output = match aws
        .sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .visibility_timeout(30)
        .wait_time_seconds(0)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
    {
        Ok(output) => output,
        Err(error) => {
            eprintln!("receive failed: {error:?}");
            return Vec::new();
        }
    };
    output
        .messages
        .unwrap_or_default()
        .into_iter()
        .map(|m| SqsMessage {
            message_id: m.message_id,
            receipt_handle: m.receipt_handle,
            body: m.body,
            attributes: m
                .attributes
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.as_str().to_owned(), v))
                .collect(),
            event_source: Some("aws:sqs".to_owned()),
            ..SqsMessage::default()
        })
        .collect()
}

/// The schedules of long timers: `(name, due, target queue ARN, input)`.
pub async fn schedules(aws: &Aws) -> Vec<(String, std::time::SystemTime, String, String)> {
    let listed = aws
        .scheduler
        .list_schedules()
        .send()
        .await
        .map(|output| output.schedules)
        .unwrap_or_default();
    let mut schedules = Vec::new();
    for summary in listed {
        let Some(name) = summary.name else { continue };
        let Ok(schedule) = aws.scheduler.get_schedule().name(&name).send().await else {
            continue;
        };
        // at(2026-11-25T22:00:01), UTC
        let expression = schedule.schedule_expression.unwrap_or_default();
        let at = expression
            .strip_prefix("at(")
            .and_then(|rest| rest.strip_suffix(')'))
            .and_then(|at| {
                aws_smithy_types::DateTime::from_str(
                    &format!("{at}Z"),
                    aws_smithy_types::date_time::Format::DateTime,
                )
                .ok()
            })
            .and_then(|at| std::time::SystemTime::try_from(at).ok())
            .unwrap_or_else(|| panic!("schedule {name} has expression {expression:?}"));
        let target = schedule.target.expect("a target");
        schedules.push((name, at, target.arn, target.input.unwrap_or_default()));
    }
    schedules
}

/// Plays EventBridge Scheduler for one schedule: sends its input to its target queue and
/// deletes it (`ActionAfterCompletion::Delete`).
pub async fn fire_schedule(aws: &Aws, name: &str, target: &str, input: &str) {
    let queue = target.rsplit(':').next().unwrap();
    let url = aws
        .sqs
        .get_queue_url()
        .queue_name(queue)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    aws.sqs
        .send_message()
        .queue_url(url)
        .message_body(input)
        .send()
        .await
        .unwrap();
    aws.scheduler
        .delete_schedule()
        .name(name)
        .send()
        .await
        .unwrap();
}

/// Fires the schedules that are due; returns how many.
async fn fire_due_schedules(aws: &Aws) -> usize {
    let now = std::time::SystemTime::now();
    let mut fired = 0;
    for (name, at, target, input) in schedules(aws).await {
        if at <= now {
            fire_schedule(aws, &name, &target, &input).await;
            fired += 1;
        }
    }
    fired
}

/// Deletes what the handler took; makes what it reported failed visible again soon.
///
/// A subscription's handler hides a failed message itself until its retry is due (the
/// subscription's backoff); the other queues' failed messages come back after a second here
/// (Lambda leaves them to the queue's visibility timeout, minutes).
async fn settle(
    aws: &Aws,
    queue_url: &str,
    consumer: &Consumer,
    records: &[SqsMessage],
    failed: &[String],
) {
    for record in records {
        let receipt = record.receipt_handle.clone().unwrap_or_default();
        let id = record.message_id.clone().unwrap_or_default();
        if failed.contains(&id) && matches!(consumer, Consumer::Subscription(_)) {
            continue;
        }
        let result = if failed.contains(&id) {
            aws.sqs
                .change_message_visibility()
                .queue_url(queue_url)
                .receipt_handle(receipt)
                .visibility_timeout(1)
                .send()
                .await
                .map(drop)
                .map_err(|e| format!("{e:?}"))
        } else {
            aws.sqs
                .delete_message()
                .queue_url(queue_url)
                .receipt_handle(receipt)
                .send()
                .await
                .map(drop)
                .map_err(|e| format!("{e:?}"))
        };
        if let Err(error) = result {
            eprintln!("settling a message failed: {error}");
        }
    }
}

/// Who plays each role: the resources each role's function sees and the queues Lambda polls.
pub struct Deployment {
    /// What the harness's client side (start, signal, wait, history) uses: the API role's.
    pub client: Resources,
    /// Each polled queue, the handler it feeds and the resources that handler's function sees.
    pub queues: Vec<(String, Consumer, Resources)>,
    /// Task function name → the resources it sees (others see `client`'s).
    pub tasks: HashMap<String, Resources>,
}

/// Which handler a queue feeds.
#[derive(Clone, Debug)]
pub enum Consumer {
    Orchestrator,
    Timer,
    Subscription(String),
}

async fn pump_queue(aws: &Aws, queue_url: &str, consumer: &Consumer, options: Options) -> usize {
    let records = receive(aws, queue_url).await;
    if records.is_empty() {
        return 0;
    }
    let event = SqsEvent {
        records: records.clone(),
    };
    let runs = if options.duplicate_deliveries { 2 } else { 1 };
    let mut failed = Vec::new();
    for _ in 0..runs {
        let response: SqsBatchResponse = match consumer {
            Consumer::Orchestrator => {
                eventual_aws::orchestrator::handle_batch(aws, event.clone()).await
            }
            Consumer::Timer => eventual_aws::timer::handle_batch(aws, event.clone()).await,
            Consumer::Subscription(name) => {
                eventual_aws::events::handle_batch(aws, name, event.clone()).await
            }
        };
        failed.extend(
            response
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier),
        );
    }
    settle(aws, queue_url, consumer, &records, &failed).await;
    records.len()
}

impl Harness {
    /// [`Harness::start`] with a rule and queue for every subscription linked into the test
    /// binary.
    pub async fn start_all(options: Options) -> Harness {
        let names: Vec<&str> = eventual_runtime::registry::SUBSCRIPTIONS
            .iter()
            .map(|s| s.name)
            .collect();
        Harness::start(&names, options).await
    }

    /// Moto with the engine's resources, `subscriptions` each with a rule and queue, the
    /// invoke server and the pump.
    pub async fn start(subscriptions: &[&str], options: Options) -> Harness {
        Harness::start_with_faults(subscriptions, options, None).await
    }

    /// [`Harness::start`] with every SDK call of the engine and the pump going through
    /// `faults` (none planned yet: resources are created without faults).
    pub async fn start_with_faults(
        subscriptions: &[&str],
        options: Options,
        faults: Option<std::sync::Arc<SdkFaults>>,
    ) -> Harness {
        let moto = Moto::start();
        let mut config = sdk_config(&moto.endpoint).await;
        if let Some(faults) = faults {
            config = with_faults(&config, faults);
        }
        let mut resources = Resources {
            service: SERVICE.into(),
            executions_table: names::executions_table(SERVICE),
            history_table: names::history_table(SERVICE),
            task_lock_table: names::task_lock_table(SERVICE),
            attributes_table: names::attributes_table(SERVICE),
            // The template lets CloudFormation name the bucket.
            history_bucket: format!("{SERVICE}-history"),
            event_bus: names::bus(SERVICE),
            ..Resources::default()
        };
        let aws = Aws::new(&config, resources.clone());
        resources.orchestrator_queue_url =
            create_queue(&aws, &names::orchestrator_queue(SERVICE), true).await;
        resources.timer_queue_url = create_queue(&aws, &names::timer_queue(SERVICE), false).await;
        resources.timer_queue_arn = queue_arn(&aws.sqs, &resources.timer_queue_url).await;
        // moto does not check roles (the template lets CloudFormation name this one).
        resources.scheduler_role_arn =
            format!("arn:aws:iam::123456789012:role/{SERVICE}-timer-scheduler");
        create_template_tables(&aws).await;
        aws.s3
            .create_bucket()
            .bucket(&resources.history_bucket)
            .send()
            .await
            .unwrap();
        aws.events
            .create_event_bus()
            .name(&resources.event_bus)
            .send()
            .await
            .unwrap();
        let queues = vec![
            (
                resources.orchestrator_queue_url.clone(),
                Consumer::Orchestrator,
            ),
            (resources.timer_queue_url.clone(), Consumer::Timer),
        ];
        // Each subscription as the template deploys it: a queue (with a dead-letter queue and
        // its redrive policy when the subscription has one) fed by a rule.
        let mut handlers = Vec::new();
        for name in subscriptions {
            let descriptor = eventual_runtime::registry::subscription(name).unwrap();
            let queue = names::handler_queue(SERVICE, name);
            let url = create_queue(&aws, &queue, false).await;
            let mut handler = Resources {
                handler_queue_url: url.clone(),
                ..resources.clone()
            };
            if descriptor.dead_letter {
                let dead_letter = names::handler_dlq(SERVICE, name);
                handler.dead_letter_queue_url = create_queue(&aws, &dead_letter, false).await;
                let policy = serde_json::json!({
                    "deadLetterTargetArn": queue_arn(&aws.sqs, &handler.dead_letter_queue_url).await,
                    "maxReceiveCount": descriptor.retry.max_attempts.max(1),
                });
                aws.sqs
                    .set_queue_attributes()
                    .queue_url(&url)
                    .attributes(QueueAttributeName::RedrivePolicy, policy.to_string())
                    .send()
                    .await
                    .unwrap();
            }
            let arn = queue_arn(&aws.sqs, &url).await;
            let rule = names::rule(SERVICE, name);
            aws.events
                .put_rule()
                .name(&rule)
                .event_bus_name(&resources.event_bus)
                .event_pattern(descriptor.pattern)
                .send()
                .await
                .unwrap();
            aws.events
                .put_targets()
                .rule(&rule)
                .event_bus_name(&resources.event_bus)
                .targets(Target::builder().id("queue").arn(arn).build().unwrap())
                .send()
                .await
                .unwrap();
            handlers.push((url, Consumer::Subscription((*name).to_owned()), handler));
        }
        let queues = queues
            .into_iter()
            .map(|(url, consumer)| (url, consumer, resources.clone()))
            .chain(handlers)
            .collect();
        let deployment = Deployment {
            client: resources,
            queues,
            tasks: HashMap::new(),
        };
        Harness::launch(moto, &config, deployment, options).await
    }

    /// Plays Lambda for `deployment` on `moto`: serves the Invoke API and pumps its queues.
    pub async fn launch(
        moto: Moto,
        config: &aws_config::SdkConfig,
        deployment: Deployment,
        options: Options,
    ) -> Harness {
        // One set of clients (and fault points) for every role, each role with its resources.
        let base = Aws::new(config, deployment.client.clone());
        let with = |resources: &Resources| Aws {
            resources: resources.clone(),
            ..base.clone()
        };
        // The invoke server's task handlers use these clients; their own Lambda client is
        // never called.
        let tasks = deployment
            .tasks
            .iter()
            .map(|(function, resources)| (function.clone(), with(resources)))
            .collect();
        let (invoke_url, invoke_server) =
            serve_invokes(with(&deployment.client), tasks, options).await;
        let base = base.with_lambda(aws_sdk_lambda::Client::from_conf(
            aws_sdk_lambda::config::Builder::from(config)
                .endpoint_url(&invoke_url)
                .build(),
        ));
        let with = |resources: &Resources| Aws {
            resources: resources.clone(),
            ..base.clone()
        };
        let queues: Vec<(String, Consumer, Aws)> = deployment
            .queues
            .iter()
            .map(|(url, consumer, resources)| (url.clone(), consumer.clone(), with(resources)))
            .collect();
        let scheduler = with(&deployment.client);
        let pump = tokio::spawn(async move {
            loop {
                let mut moved = fire_due_schedules(&scheduler).await;
                for (url, consumer, aws) in &queues {
                    moved += pump_queue(aws, url, consumer, options).await;
                }
                if moved == 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        });
        Harness {
            aws: with(&deployment.client),
            invoke_url,
            pump,
            invoke_server,
            _moto: moto,
        }
    }
}

impl Harness {
    /// moto_server's endpoint.
    pub fn endpoint(&self) -> &str {
        &self._moto.endpoint
    }

    /// The service API as the API function serves it, with the test's patience; as every
    /// service API, it is also the `Engine` the engine-neutral tests drive.
    pub fn api(&self) -> AwsApi {
        AwsApi::new(self.aws.clone())
            .with_wait(WAIT)
            .with_start_wait(Duration::from_secs(20))
    }
}

/// Polls `check` until it returns `Some`, or panics after `within`.
pub async fn eventually<T>(
    within: Duration,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---- SDK faults -----------------------------------------------------------------------------

/// A failed SDK call, answered by the harness instead of moto.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `ThrottlingException` (S3: 503 `SlowDown`, Lambda: 429 `TooManyRequestsException`).
    Throttling,
    /// HTTP 500 (`InternalFailure`, S3: `InternalError`).
    ServerError,
    /// HTTP 500 after moto carried the request out: the caller cannot tell whether it did.
    ServerErrorAfterApplying,
}

/// One HTTP request an SDK client made.
#[derive(Clone, Debug)]
pub struct Call {
    /// `Service.Operation`, e.g. `DynamoDB.PutItem`.
    pub operation: String,
    /// The SDK's `amz-sdk-invocation-id`: the same for every attempt of one call.
    pub invocation: String,
    /// The attempt number from `amz-sdk-request` (1 for the first try).
    pub attempt: u32,
    pub at: Instant,
    /// Whether the harness failed it (and how) instead of forwarding it.
    pub fault: Option<Fault>,
    /// What it stores, in bytes: an S3 PUT's body, a DynamoDB `PutItem`'s item (attribute
    /// names and values, as DynamoDB sizes items); 0 for other calls.
    pub stored_bytes: usize,
    /// The DynamoDB table it addresses, if any.
    pub table: Option<String>,
}

/// Faults to inject into SDK calls, and the log of every call.
#[derive(Debug, Default)]
pub struct SdkFaults {
    /// Operation → the faults its next calls get, in order.
    pub planned: std::sync::Mutex<std::collections::HashMap<String, Vec<Fault>>>,
    pub calls: std::sync::Mutex<Vec<Call>>,
}

impl SdkFaults {
    /// Fails the next calls of `operation` with `faults`, in order.
    pub fn fail(&self, operation: &str, faults: &[Fault]) {
        self.planned
            .lock()
            .unwrap()
            .insert(operation.to_owned(), faults.to_vec());
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

/// `Service.Operation` of a request: from `X-Amz-Target` for the JSON protocols, from the
/// path for Lambda, from the method for S3.
fn operation_of(request: &aws_smithy_runtime_api::client::orchestrator::HttpRequest) -> String {
    if let Some(target) = request.headers().get("x-amz-target") {
        let (service, operation) = target.split_once('.').unwrap_or(("", target));
        let service = match service {
            "AmazonSQS" => "SQS",
            s if s.starts_with("DynamoDB") => "DynamoDB",
            "AWSEvents" => "EventBridge",
            other => other,
        };
        return format!("{service}.{operation}");
    }
    let uri = request.uri();
    if uri.contains("/2015-03-31/functions/") {
        return "Lambda.Invoke".to_owned();
    }
    let path = uri
        .split_once("://")
        .map_or(uri, |(_, rest)| rest.find('/').map_or("", |at| &rest[at..]));
    if let Some(rest) = path.strip_prefix("/schedules") {
        let one = rest.starts_with('/');
        let operation = match (request.method(), one) {
            ("GET", false) => "ListSchedules",
            ("GET", true) => "GetSchedule",
            ("POST", _) => "CreateSchedule",
            ("PUT", _) => "UpdateSchedule",
            ("DELETE", _) => "DeleteSchedule",
            (other, _) => other,
        };
        return format!("Scheduler.{operation}");
    }
    let operation = match request.method() {
        "PUT" if request.uri().contains("tagging") => "PutObjectTagging",
        "PUT" => "PutObject",
        "GET" if uri.contains("list-type=") => "ListObjectsV2",
        "GET" => "GetObject",
        "HEAD" => "HeadObject",
        "DELETE" => "DeleteObject",
        other => other,
    };
    format!("S3.{operation}")
}

/// The bytes a request stores and the table it addresses (see [`Call::stored_bytes`]).
fn stored_bytes(operation: &str, body: &[u8]) -> (usize, Option<String>) {
    if operation == "S3.PutObject" {
        return (body.len(), None);
    }
    if !operation.starts_with("DynamoDB.") {
        return (0, None);
    }
    let request: Value = serde_json::from_slice(body).unwrap_or_default();
    let table = request["TableName"].as_str().map(str::to_owned);
    let size = match (operation, request["Item"].as_object()) {
        ("DynamoDB.PutItem", Some(item)) => item
            .iter()
            .map(|(name, value)| name.len() + attribute_bytes(value))
            .sum(),
        _ => 0,
    };
    (size, table)
}

/// The size DynamoDB counts for an attribute value (strings and numbers by their text).
fn attribute_bytes(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|v| v.iter().next()) else {
        return 0;
    };
    match (kind.as_str(), inner) {
        ("S" | "N" | "B", Value::String(text)) => text.len(),
        ("BOOL" | "NULL", _) => 1,
        ("L", Value::Array(items)) => 3 + items.iter().map(attribute_bytes).sum::<usize>(),
        ("M", Value::Object(map)) => {
            3 + map
                .iter()
                .map(|(name, value)| name.len() + attribute_bytes(value))
                .sum::<usize>()
        }
        _ => inner.to_string().len(),
    }
}

fn fault_response(
    operation: &str,
    fault: Fault,
) -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    let s3 = operation.starts_with("S3.");
    let (status, code) = match (fault, operation) {
        (Fault::Throttling, _) if s3 => (503, "SlowDown"),
        (Fault::Throttling, "Lambda.Invoke") => (429, "TooManyRequestsException"),
        (Fault::Throttling, _) => (400, "ThrottlingException"),
        (Fault::ServerError | Fault::ServerErrorAfterApplying, _) if s3 => (500, "InternalError"),
        (Fault::ServerError | Fault::ServerErrorAfterApplying, _) => (500, "InternalFailure"),
    };
    let body = if s3 {
        format!("<Error><Code>{code}</Code><Message>injected</Message></Error>")
    } else {
        serde_json::json!({"__type": code, "message": "injected"}).to_string()
    };
    let mut response = HttpResponse::new(
        StatusCode::try_from(status).unwrap(),
        aws_smithy_types::body::SdkBody::from(body),
    );
    let content_type = if s3 {
        "application/xml"
    } else {
        "application/x-amz-json-1.0"
    };
    response.headers_mut().insert("content-type", content_type);
    if !s3 {
        response.headers_mut().insert("x-amzn-errortype", code);
    }
    response
}

/// The engine's HTTP client with [`SdkFaults`] in front of it.
#[derive(Debug)]
struct FaultyClient {
    inner: aws_smithy_runtime_api::client::http::SharedHttpClient,
    faults: std::sync::Arc<SdkFaults>,
}

#[derive(Debug)]
struct FaultyConnector {
    inner: aws_smithy_runtime_api::client::http::SharedHttpConnector,
    faults: std::sync::Arc<SdkFaults>,
}

impl aws_smithy_runtime_api::client::http::HttpClient for FaultyClient {
    fn http_connector(
        &self,
        settings: &aws_smithy_runtime_api::client::http::HttpConnectorSettings,
        components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
    ) -> aws_smithy_runtime_api::client::http::SharedHttpConnector {
        aws_smithy_runtime_api::client::http::SharedHttpConnector::new(FaultyConnector {
            inner: self.inner.http_connector(settings, components),
            faults: self.faults.clone(),
        })
    }
}

impl aws_smithy_runtime_api::client::http::HttpConnector for FaultyConnector {
    fn call(
        &self,
        request: aws_smithy_runtime_api::client::orchestrator::HttpRequest,
    ) -> aws_smithy_runtime_api::client::http::HttpConnectorFuture {
        use aws_smithy_runtime_api::client::http::HttpConnectorFuture;
        let operation = operation_of(&request);
        let header = |name: &str| request.headers().get(name).unwrap_or_default().to_owned();
        let attempt = header("amz-sdk-request")
            .split(';')
            .find_map(|part| part.trim().strip_prefix("attempt=")?.parse().ok())
            .unwrap_or(1);
        let fault = {
            let mut planned = self.faults.planned.lock().unwrap();
            planned
                .get_mut(&operation)
                .filter(|faults| !faults.is_empty())
                .map(|faults| faults.remove(0))
        };
        let body = request.body().bytes().unwrap_or_default();
        let (stored_bytes, table) = stored_bytes(&operation, body);
        self.faults.calls.lock().unwrap().push(Call {
            operation: operation.clone(),
            invocation: header("amz-sdk-invocation-id"),
            attempt,
            at: Instant::now(),
            fault,
            stored_bytes,
            table,
        });
        match fault {
            Some(Fault::ServerErrorAfterApplying) => {
                let applying = self.inner.call(request);
                HttpConnectorFuture::new(async move {
                    let _ = applying.await;
                    Ok(fault_response(&operation, Fault::ServerError))
                })
            }
            Some(fault) => HttpConnectorFuture::ready(Ok(fault_response(&operation, fault))),
            None => self.inner.call(request),
        }
    }
}

/// `config` with its HTTP client behind `faults`.
pub fn with_faults(
    config: &aws_config::SdkConfig,
    faults: std::sync::Arc<SdkFaults>,
) -> aws_config::SdkConfig {
    let inner = config
        .http_client()
        .expect("the engine sets an HTTP client");
    config
        .to_builder()
        .http_client(FaultyClient { inner, faults })
        .build()
}
