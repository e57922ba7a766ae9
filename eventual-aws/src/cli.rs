//! The service's command line against the AWS engine: the engine-neutral commands of
//! `eventual_runtime::cli` (those of the local engine but `serve`), and `--url` says how to
//! reach the API:
//!
//! | `--url` | how |
//! |---|---|
//! | `lambda://<api function>` | `Invoke` of the deployed API function with the caller's AWS credentials (IAM decides who may) |
//! | `https://<id>.execute-api.<region>.amazonaws.com` | API Gateway's URL (the stack's `ApiUrl`): requests signed with SigV4 for `execute-api`, as its `AWS_IAM` route requires |
//! | `sigv4+https://<host>` | the same signing for another host (a custom domain of the API), in the SDK's region |
//! | anything else | plain HTTP(S), as to the local engine (with `--api-token` as its bearer token) |
//!
//! A service's one binary serves its Lambda role inside Lambda and is the CLI elsewhere:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     eventual_aws::cli::main()
//! }
//! ```

use crate::api::gateway::{request_event, response_parts};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_lambda_events::event::apigw::ApiGatewayV2httpResponse;
use aws_sdk_lambda::primitives::Blob;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use eventual_runtime::cli::{self, Target, Transport};
use serde_json::Value;
use std::process::ExitCode;
use std::time::SystemTime;

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

/// The prefix of a `--url` whose requests are signed with SigV4.
pub const SIGV4_PREFIX: &str = "sigv4+";

/// The service name API Gateway's IAM authorization checks signatures for.
pub const SIGNING_NAME: &str = "execute-api";

/// One request to sign: method, URL as sent, `Host` header, body.
pub type Signable<'a> = (&'a str, &'a str, &'a str, &'a [u8]);

/// The SigV4 headers of one request to API Gateway (`x-amz-date`, `authorization`, and
/// `x-amz-security-token` with temporary credentials), signing `host` and `content-type`.
pub fn signature_headers(
    (method, url, host, body): Signable<'_>,
    credentials: Credentials,
    region: &str,
    time: SystemTime,
) -> Result<Vec<(String, String)>, String> {
    let identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SIGNING_NAME)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|error| format!("cannot sign: {error}"))?
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        [("host", host), ("content-type", "application/json")].into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|error| format!("cannot sign `{url}`: {error}"))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|error| format!("cannot sign `{url}`: {error}"))?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect())
}

/// The API behind API Gateway's `AWS_IAM` route: every request signed with SigV4 with the
/// caller's credentials (the SDK's chain: environment, profile, SSO, instance role).
pub struct SignedHttpTransport {
    runtime: tokio::runtime::Runtime,
    base: String,
    host: String,
    region: String,
    credentials: SharedCredentialsProvider,
    agent: ureq::Agent,
}

impl SignedHttpTransport {
    /// A transport to `base` (`https://host[:port]`), signing for `region` (the SDK's region
    /// when `None`) with the credentials of the environment.
    pub fn from_env(base: &str, region: Option<String>) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| format!("cannot start a runtime: {error}"))?;
        let config = runtime.block_on(crate::config::load_sdk_config());
        let region = region
            .or_else(|| config.region().map(|r| r.to_string()))
            .ok_or("no AWS region: set AWS_REGION or use the API's execute-api URL")?;
        let credentials = config
            .credentials_provider()
            .ok_or("no AWS credentials provider is configured")?;
        let base = base.trim_end_matches('/').to_owned();
        let host = base
            .split_once("://")
            .map_or(base.as_str(), |(_, rest)| rest)
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Ok(SignedHttpTransport {
            runtime,
            base,
            host,
            region,
            credentials,
            agent,
        })
    }
}

impl Transport for SignedHttpTransport {
    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let url = format!("{}{path}", self.base);
        let body = body.map(Value::to_string).unwrap_or_default();
        let credentials = self
            .runtime
            .block_on(self.credentials.provide_credentials())
            .map_err(|error| format!("no AWS credentials to sign with: {error}"))?;
        let headers = signature_headers(
            (method, &url, &self.host, body.as_bytes()),
            credentials,
            &self.region,
            SystemTime::now(),
        )?;
        // The headers the signature covers, on a request with or without a body.
        fn signed<B>(
            request: ureq::RequestBuilder<B>,
            headers: &[(String, String)],
        ) -> ureq::RequestBuilder<B> {
            headers.iter().fold(
                request.header("content-type", "application/json"),
                |request, (name, value)| request.header(name, value),
            )
        }
        let response = if method == "POST" {
            signed(self.agent.post(&url), &headers).send(body.as_bytes())
        } else {
            signed(self.agent.get(&url), &headers).call()
        };
        let mut response = response.map_err(|error| format!("cannot reach `{url}`: {error}"))?;
        let body: Value = response.body_mut().read_json().unwrap_or(Value::Null);
        Ok((response.status().as_u16(), body))
    }
}

/// The region of an API Gateway URL (`https://<id>.execute-api.<region>.amazonaws.com`).
fn execute_api_region(url: &str) -> Option<String> {
    let host = url.strip_prefix("https://")?.split(['/', ':']).next()?;
    let (_, rest) = host.split_once(".execute-api.")?;
    let (region, domain) = rest.split_once('.')?;
    domain
        .starts_with("amazonaws.com")
        .then(|| region.to_owned())
}

/// The transport for `--url` (see the module's table). `--api-token` is sent over plain HTTP
/// only: the AWS engine's API trusts IAM, not a bearer token.
pub fn connect(target: &Target) -> Result<Box<dyn Transport>, String> {
    let url = target.url.as_str();
    if let Some(function) = url.strip_prefix(LAMBDA_SCHEME) {
        if function.is_empty() {
            return Err(format!(
                "`{url}` names no function: use {LAMBDA_SCHEME}<function name>"
            ));
        }
        return Ok(Box::new(LambdaTransport::from_env(function)?));
    }
    if let Some(base) = url.strip_prefix(SIGV4_PREFIX) {
        return Ok(Box::new(SignedHttpTransport::from_env(base, None)?));
    }
    if let Some(region) = execute_api_region(url) {
        return Ok(Box::new(SignedHttpTransport::from_env(url, Some(region))?));
    }
    cli::http(target)
}

/// The service binary's `main`: its Lambda role inside Lambda, the CLI elsewhere.
pub fn main() -> ExitCode {
    if crate::lambda::in_lambda() {
        return crate::lambda::serve();
    }
    cli::main_with(&connect)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn api_gateway_urls_name_their_region() {
        let region = |url| execute_api_region(url);
        assert_eq!(
            region("https://abc123.execute-api.eu-west-1.amazonaws.com"),
            Some("eu-west-1".to_owned())
        );
        assert_eq!(
            region("https://abc123.execute-api.us-east-1.amazonaws.com/prod/x"),
            Some("us-east-1".to_owned())
        );
        assert_eq!(
            region("http://abc123.execute-api.us-east-1.amazonaws.com"),
            None
        );
        assert_eq!(region("https://api.example.com"), None);
        assert_eq!(region("https://x.execute-api.us-east-1.example.com"), None);
    }

    fn authorization(method: &str, path: &str, body: &[u8], at: SystemTime) -> String {
        let credentials = Credentials::new("AKID", "secret", None, None, "test");
        let url = format!("https://h.example{path}");
        let headers = signature_headers(
            (method, &url, "h.example", body),
            credentials,
            "eu-west-1",
            at,
        )
        .unwrap();
        headers
            .into_iter()
            .find(|(name, _)| name == "authorization")
            .unwrap()
            .1
    }

    #[test]
    fn signatures_cover_the_method_path_body_and_time() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let signed = authorization("POST", "/_eventual/executions", b"{}", at);
        assert!(
            signed.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKID/20270115/eu-west-1/execute-api/aws4_request"
            ),
            "{signed}"
        );
        assert!(
            signed.contains("SignedHeaders=content-type;host;x-amz-date"),
            "{signed}"
        );
        assert_eq!(
            authorization("POST", "/_eventual/executions", b"{}", at),
            signed
        );
        for other in [
            authorization("GET", "/_eventual/executions", b"{}", at),
            authorization("POST", "/_eventual/events", b"{}", at),
            authorization("POST", "/_eventual/executions", b"[]", at),
            authorization(
                "POST",
                "/_eventual/executions",
                b"{}",
                at + Duration::from_secs(1),
            ),
        ] {
            assert_ne!(other, signed);
        }
        let temporary = Credentials::new("AKID", "secret", Some("session".into()), None, "test");
        let headers = signature_headers(
            ("GET", "https://h.example/", "h.example", b""),
            temporary,
            "eu-west-1",
            at,
        )
        .unwrap();
        assert!(headers
            .iter()
            .any(|(n, v)| n == "x-amz-security-token" && v == "session"));
    }
}
