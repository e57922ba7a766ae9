//! The entry point of a service's Lambda binary: `fn main` calls [`run`], which serves the
//! role named by `EVENTUAL_ROLE`.

use crate::api::AwsApi;
use crate::config::Aws;
use aws_lambda_events::event::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use eventual_runtime::engine::api::ServiceApi;
use eventual_runtime::manifest::names::{env, role};
use lambda_runtime::{service_fn, LambdaEvent};
use std::sync::Arc;

/// What one function of the service does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Steps workflows from the FIFO orchestrator queue.
    Orchestrator,
    /// Runs attempts of one task (asynchronous invokes).
    Task(String),
    /// Runs one subscription's handler from its queue.
    Handler(String),
    /// The service API behind API Gateway.
    Api,
    /// The service's own `#[api]` routes behind API Gateway.
    UserApi,
    /// Forwards due timers.
    Timer,
}

/// Why the role could not be chosen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    /// `EVENTUAL_ROLE` names no role.
    #[error(
        "{var} `{0}` is not one of {orchestrator}, {task}, {handler}<subscription>, {api}, \
         {user_api}, {timer}",
        var = env::ROLE,
        orchestrator = role::ORCHESTRATOR,
        task = role::TASK,
        handler = role::HANDLER_PREFIX,
        api = role::API,
        user_api = role::USER_API,
        timer = role::TIMER
    )]
    Unknown(String),
    /// A handler role names no registered subscription.
    #[error("no subscription named `{0}` is registered in this binary")]
    UnknownSubscription(String),
    /// A task role names no registered task.
    #[error("no task named `{0}` is registered in this binary")]
    UnknownTask(String),
}

impl Role {
    /// The role `var` (an environment lookup) describes: `EVENTUAL_ROLE`, with the
    /// subscription of a handler in `EVENTUAL_HANDLER` (or `handler:<subscription>`) and the
    /// task of a task function in `EVENTUAL_TASK`, as the template sets them
    /// (`timer-forwarder` is the template's name of `timer`). The subscription or task must be
    /// linked into this binary.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Role, RoleError> {
        let value = var(env::ROLE).unwrap_or_default();
        let role = match value.trim() {
            role::ORCHESTRATOR => Role::Orchestrator,
            role::TASK => Role::Task(var(env::TASK).unwrap_or_default()),
            role::API => Role::Api,
            role::USER_API => Role::UserApi,
            role::TIMER | role::TIMER_FORWARDER => Role::Timer,
            role::HANDLER => Role::Handler(var(env::HANDLER).unwrap_or_default()),
            other => match other.strip_prefix(role::HANDLER_PREFIX) {
                Some(name) => Role::Handler(name.to_owned()),
                None => return Err(RoleError::Unknown(other.to_owned())),
            },
        };
        match &role {
            Role::Handler(name) if eventual_runtime::registry::subscription(name).is_none() => {
                Err(RoleError::UnknownSubscription(name.clone()))
            }
            Role::Task(name) if eventual_runtime::registry::task(name).is_none() => {
                Err(RoleError::UnknownTask(name.clone()))
            }
            _ => Ok(role),
        }
    }

    /// The role of this function, from its environment.
    pub fn from_env() -> Result<Role, RoleError> {
        Role::from_vars(|name| std::env::var(name).ok())
    }
}

/// Serves this function's role until the Lambda runtime stops it.
///
/// ```no_run
/// #[tokio::main]
/// async fn main() -> Result<(), lambda_runtime::Error> {
///     eventual_aws::lambda::run().await
/// }
/// ```
pub async fn run() -> Result<(), lambda_runtime::Error> {
    let role = Role::from_env()?;
    let aws = Arc::new(Aws::from_env().await);
    match role {
        Role::Orchestrator => {
            lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
                let aws = aws.clone();
                async move {
                    Ok::<SqsBatchResponse, lambda_runtime::Error>(
                        crate::orchestrator::handle_batch(&aws, event.payload).await,
                    )
                }
            }))
            .await
        }
        Role::Timer => {
            lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
                let aws = aws.clone();
                async move {
                    Ok::<SqsBatchResponse, lambda_runtime::Error>(
                        crate::timer::handle_batch(&aws, event.payload).await,
                    )
                }
            }))
            .await
        }
        Role::Handler(subscription) => {
            lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
                let aws = aws.clone();
                let subscription = subscription.clone();
                async move {
                    Ok::<SqsBatchResponse, lambda_runtime::Error>(
                        crate::events::handle_batch(&aws, &subscription, event.payload).await,
                    )
                }
            }))
            .await
        }
        Role::Task(task) => {
            lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
                let aws = aws.clone();
                let task = task.clone();
                async move {
                    crate::task::handle_payload_of(&aws, &task, event.payload).await?;
                    Ok::<(), lambda_runtime::Error>(())
                }
            }))
            .await
        }
        Role::Api => {
            let api: Arc<dyn ServiceApi> = Arc::new(AwsApi::new(Aws::clone(&aws)));
            let router = eventual_runtime::engine::api::http::router(api);
            lambda_runtime::run(service_fn(
                move |event: LambdaEvent<ApiGatewayV2httpRequest>| {
                    let router = router.clone();
                    async move {
                        Ok::<ApiGatewayV2httpResponse, lambda_runtime::Error>(
                            crate::api::gateway::handle(router, event.payload).await,
                        )
                    }
                },
            ))
            .await
        }
        Role::UserApi => {
            let api: Arc<dyn ServiceApi> = Arc::new(AwsApi::new(Aws::clone(&aws)));
            lambda_runtime::run(service_fn(
                move |event: LambdaEvent<ApiGatewayV2httpRequest>| {
                    let api = api.clone();
                    async move {
                        Ok::<ApiGatewayV2httpResponse, lambda_runtime::Error>(
                            crate::api::routes::handle(api, event.payload).await,
                        )
                    }
                },
            ))
            .await
        }
    }
}

/// The `fn main` of a service's one AWS binary (after the service's crates are linked):
/// inside Lambda it serves the function's role until the runtime stops it; from a terminal it
/// is the service's command line when the `cli` feature is on, and otherwise fails, saying
/// so. Without `cli` the binary links no clap and no HTTP client: the lean Lambda package.
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     eventual_aws::lambda::main()
/// }
/// ```
pub fn main() -> std::process::ExitCode {
    if in_lambda() {
        return serve();
    }
    #[cfg(feature = "cli")]
    {
        crate::cli::main()
    }
    #[cfg(not(feature = "cli"))]
    {
        eprintln!(
            "error: AWS_LAMBDA_RUNTIME_API is not set, so this is not a Lambda function, and \
             this binary was built without the `cli` feature of eventual-aws (the service's \
             command line): build it with that feature to operate the service from a terminal"
        );
        std::process::ExitCode::FAILURE
    }
}

/// [`run`] on a multi-threaded tokio runtime of its own, reporting a failure on stderr (where
/// Lambda's logs take it) and in the exit code.
pub fn serve() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start a runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Whether this process runs inside Lambda (the runtime API is set), as opposed to a
/// terminal: a service's one binary serves its role there and is the CLI elsewhere.
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<Role, RoleError> {
        Role::from_vars(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn roles_parse_from_the_environment_forms() {
        assert_eq!(
            parse(&[(env::ROLE, role::ORCHESTRATOR)]),
            Ok(Role::Orchestrator)
        );
        assert_eq!(parse(&[(env::ROLE, role::API)]), Ok(Role::Api));
        assert_eq!(parse(&[(env::ROLE, role::USER_API)]), Ok(Role::UserApi));
        assert_eq!(parse(&[(env::ROLE, role::TIMER)]), Ok(Role::Timer));
        assert_eq!(
            parse(&[(env::ROLE, role::TIMER_FORWARDER)]),
            Ok(Role::Timer)
        );
        assert_eq!(
            parse(&[(env::ROLE, "worker")]),
            Err(RoleError::Unknown("worker".into()))
        );
        assert_eq!(parse(&[]), Err(RoleError::Unknown(String::new())));
        assert_eq!(
            parse(&[(env::ROLE, "handler:nobody")]),
            Err(RoleError::UnknownSubscription("nobody".into()))
        );
        assert_eq!(
            parse(&[(env::ROLE, role::HANDLER), (env::HANDLER, "nobody")]),
            Err(RoleError::UnknownSubscription("nobody".into()))
        );
        assert_eq!(
            parse(&[(env::ROLE, role::TASK), (env::TASK, "nothing")]),
            Err(RoleError::UnknownTask("nothing".into()))
        );
    }
}
