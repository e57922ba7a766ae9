//! How the commands reach a service's API: one request, answered with a status and a JSON
//! body.

use super::Target;
use serde_json::Value;

/// How the CLI reaches a service's API: one request, answered with a status and a JSON body.
///
/// The CLI speaks HTTP to the local engine ([`HttpTransport`]); another engine plugs in its
/// own way in (the AWS engine invokes its API function) with
/// [`main_with`](super::main_with).
pub trait Transport {
    /// Sends `method path` with a JSON `body`; returns the status and the JSON answer.
    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String>;
}

/// Makes the transport for a [`Target`] (`--url`, `--api-token`), or says why it cannot.
pub type Connect = dyn Fn(&Target) -> Result<Box<dyn Transport>, String>;

/// The [`Connect`] of plain HTTP: an [`HttpTransport`] to the target's URL, sending its token.
pub fn http(target: &Target) -> Result<Box<dyn Transport>, String> {
    let transport = HttpTransport::new(&target.url);
    Ok(Box::new(match &target.api_token {
        Some(token) => transport.with_bearer_token(token),
        None => transport,
    }))
}

/// The API over plain HTTP.
pub struct HttpTransport {
    base: String,
    agent: ureq::Agent,
    /// `Bearer <token>`, sent with every request when set.
    authorization: Option<String>,
}

impl HttpTransport {
    /// A transport to the API at `base` (`http://127.0.0.1:8080`).
    pub fn new(base: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        HttpTransport {
            base: base.trim_end_matches('/').to_owned(),
            agent,
            authorization: None,
        }
    }

    /// The same transport sending `Authorization: Bearer <token>` with every request.
    pub fn with_bearer_token(mut self, token: &str) -> Self {
        self.authorization = Some(format!("Bearer {token}"));
        self
    }
}

impl Transport for HttpTransport {
    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let url = format!("{}{path}", self.base);
        let authorization = self.authorization.as_deref();
        let response = match body {
            Some(body) if method == "POST" => {
                authorized(self.agent.post(url), authorization).send_json(body)
            }
            None if method == "POST" => {
                authorized(self.agent.post(url), authorization).send_empty()
            }
            _ if method == "DELETE" => authorized(self.agent.delete(url), authorization).call(),
            _ => authorized(self.agent.get(url), authorization).call(),
        };
        let mut response = response.map_err(|e| format!("cannot reach the engine: {e}"))?;
        let body: Value = response.body_mut().read_json().unwrap_or(Value::Null);
        Ok((response.status().as_u16(), body))
    }
}

/// `request` with an `Authorization` header when there is one to send.
fn authorized<B>(
    request: ureq::RequestBuilder<B>,
    authorization: Option<&str>,
) -> ureq::RequestBuilder<B> {
    match authorization {
        Some(value) => request.header("authorization", value),
        None => request,
    }
}

/// The commands' view of the API: a transport and the error convention of the routes.
pub(super) struct Api {
    transport: Box<dyn Transport>,
}

impl Api {
    pub(super) fn new(transport: Box<dyn Transport>) -> Self {
        Api { transport }
    }

    /// The transport itself, for what forwards requests as they come (the console).
    pub(super) fn transport(&self) -> &dyn Transport {
        self.transport.as_ref()
    }

    /// `GET` an internal route: `path` is relative to `/_eventual`.
    pub(super) fn get(&self, path: &str) -> Result<Value, String> {
        Self::answer(self.transport.request("GET", &internal(path), None)?)
    }

    /// `POST` to an internal route: `path` is relative to `/_eventual`.
    pub(super) fn post(&self, path: &str, body: &Value) -> Result<Value, String> {
        Self::answer(
            self.transport
                .request("POST", &internal(path), Some(body))?,
        )
    }

    /// `DELETE` an internal route: `path` is relative to `/_eventual`.
    pub(super) fn delete(&self, path: &str) -> Result<Value, String> {
        Self::answer(self.transport.request("DELETE", &internal(path), None)?)
    }

    fn answer((status, body): (u16, Value)) -> Result<Value, String> {
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            let message = body["error"]["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| body.to_string());
            Err(format!("{status}: {message}"))
        }
    }
}

fn internal(path: &str) -> String {
    format!("{}{path}", crate::engine::api::INTERNAL_PREFIX)
}

/// Percent-encodes a path segment or query value.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
