//! The service's command line against the AWS engine: the same commands as on the local
//! engine (`eventual_runtime::engine::local::cli`), with `--url lambda://<api function>`
//! reaching the deployed API function by `Invoke` with the caller's AWS credentials (IAM
//! decides who may), and any other `--url` over HTTP.
//!
//! A service's one binary serves its Lambda role inside Lambda and is the CLI elsewhere:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     eventual_aws::cli::main()
//! }
//! ```

use crate::api::gateway::{request_event, response_parts};
use aws_lambda_events::event::apigw::ApiGatewayV2httpResponse;
use aws_sdk_lambda::primitives::Blob;
use eventual_runtime::engine::local::cli::{self, HttpTransport, Transport};
use serde_json::Value;
use std::process::ExitCode;

/// The scheme of a `--url` naming the API function.
pub const LAMBDA_SCHEME: &str = "lambda://";

/// The API function reached by synchronous `Invoke`, with API Gateway's event format.
pub struct LambdaTransport {
    runtime: tokio::runtime::Runtime,
    lambda: aws_sdk_lambda::Client,
    function: String,
}

impl LambdaTransport {
    /// A transport to `function` with the SDK configuration of the environment.
    pub fn from_env(function: &str) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| format!("cannot start a runtime: {error}"))?;
        let config = runtime.block_on(crate::config::load_sdk_config());
        Ok(Self::new(
            runtime,
            aws_sdk_lambda::Client::new(&config),
            function,
        ))
    }

    /// A transport to `function` through `lambda`, on `runtime`.
    pub fn new(
        runtime: tokio::runtime::Runtime,
        lambda: aws_sdk_lambda::Client,
        function: &str,
    ) -> Self {
        LambdaTransport {
            runtime,
            lambda,
            function: function.to_owned(),
        }
    }
}

impl Transport for LambdaTransport {
    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let event = request_event(method, path, body);
        let output = self
            .runtime
            .block_on(
                self.lambda
                    .invoke()
                    .function_name(&self.function)
                    .payload(Blob::new(event.to_string()))
                    .send(),
            )
            .map_err(|error| {
                format!(
                    "cannot invoke `{}`: {}",
                    self.function,
                    aws_smithy_types::error::display::DisplayErrorContext(&error)
                )
            })?;
        let payload = output.payload.map(Blob::into_inner).unwrap_or_default();
        if let Some(error) = output.function_error {
            return Err(format!(
                "`{}` failed ({error}): {}",
                self.function,
                String::from_utf8_lossy(&payload)
            ));
        }
        let response: ApiGatewayV2httpResponse =
            serde_json::from_slice(&payload).map_err(|error| {
                format!(
                    "`{}` answered something else than an API response: {error}",
                    self.function
                )
            })?;
        Ok(response_parts(&response))
    }
}

/// The transport for `--url`: `lambda://<function>` invokes the API function, anything else
/// is HTTP.
pub fn connect(url: &str) -> Result<Box<dyn Transport>, String> {
    match url.strip_prefix(LAMBDA_SCHEME) {
        Some(function) if !function.is_empty() => {
            Ok(Box::new(LambdaTransport::from_env(function)?))
        }
        Some(_) => Err(format!(
            "`{url}` names no function: use {LAMBDA_SCHEME}<function name>"
        )),
        None => Ok(Box::new(HttpTransport::new(url))),
    }
}

/// The service binary's `main`: its Lambda role inside Lambda, the CLI elsewhere.
pub fn main() -> ExitCode {
    if crate::lambda::in_lambda() {
        let runtime = match tokio::runtime::Runtime::new() {
            Ok(runtime) => runtime,
            Err(error) => {
                eprintln!("error: cannot start a runtime: {error}");
                return ExitCode::FAILURE;
            }
        };
        return match runtime.block_on(crate::lambda::run()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        };
    }
    cli::main_with(&connect)
}
