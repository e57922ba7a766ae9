//! The entry point of a service's Lambda binary: `fn main` calls [`run`], which serves the
//! role named by `EVENTUAL_ROLE`.

use crate::config::Aws;
use crate::message::TaskInvoke;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, LambdaEvent};
use std::sync::Arc;

/// What one function of the service does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Steps workflows from the FIFO orchestrator queue.
    Orchestrator,
    /// Runs task attempts (asynchronous invokes).
    Task,
    /// Runs one subscription's handler from its queue.
    Handler(String),
    /// The service API behind API Gateway.
    Api,
    /// Forwards due timers.
    Timer,
}

/// Why the role could not be chosen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    /// `EVENTUAL_ROLE` names no role.
    #[error(
        "EVENTUAL_ROLE `{0}` is not one of orchestrator, task, handler:<subscription>, api, timer"
    )]
    Unknown(String),
    /// A handler role names no registered subscription.
    #[error("no subscription named `{0}` is registered in this binary")]
    UnknownSubscription(String),
}

impl Role {
    /// Parses `EVENTUAL_ROLE` (`handler` alone takes the subscription from `EVENTUAL_HANDLER`,
    /// as the template sets it; `timer-forwarder` is the template's name of `timer`), checking
    /// that a handler's subscription is registered.
    pub fn parse(role: &str, handler: Option<&str>) -> Result<Role, RoleError> {
        let role = match role.trim() {
            "orchestrator" => Role::Orchestrator,
            "task" => Role::Task,
            "api" => Role::Api,
            "timer" | "timer-forwarder" => Role::Timer,
            "handler" => Role::Handler(handler.unwrap_or_default().to_owned()),
            other => match other.strip_prefix("handler:") {
                Some(name) => Role::Handler(name.to_owned()),
                None => return Err(RoleError::Unknown(other.to_owned())),
            },
        };
        if let Role::Handler(name) = &role {
            if eventual_runtime::registry::subscription(name).is_none() {
                return Err(RoleError::UnknownSubscription(name.clone()));
            }
        }
        Ok(role)
    }

    /// The role of this function, from its environment.
    pub fn from_env() -> Result<Role, RoleError> {
        let role = std::env::var("EVENTUAL_ROLE").unwrap_or_default();
        Role::parse(&role, std::env::var("EVENTUAL_HANDLER").ok().as_deref())
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
        Role::Task => {
            lambda_runtime::run(service_fn(move |event: LambdaEvent<TaskInvoke>| {
                let aws = aws.clone();
                async move {
                    crate::task::handle(&aws, event.payload).await?;
                    Ok::<(), lambda_runtime::Error>(())
                }
            }))
            .await
        }
        Role::Api => Err("the API role is not implemented on the AWS engine yet".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_from_the_environment_forms() {
        assert_eq!(Role::parse("orchestrator", None), Ok(Role::Orchestrator));
        assert_eq!(Role::parse("task", None), Ok(Role::Task));
        assert_eq!(Role::parse("api", None), Ok(Role::Api));
        assert_eq!(Role::parse("timer", None), Ok(Role::Timer));
        assert_eq!(Role::parse("timer-forwarder", None), Ok(Role::Timer));
        assert_eq!(
            Role::parse("worker", None),
            Err(RoleError::Unknown("worker".into()))
        );
        assert_eq!(
            Role::parse("handler:nobody", None),
            Err(RoleError::UnknownSubscription("nobody".into()))
        );
        assert_eq!(
            Role::parse("handler", Some("nobody")),
            Err(RoleError::UnknownSubscription("nobody".into()))
        );
    }
}
