//! What a route answers: a typed response with a status, or a typed error with a status and
//! a JSON error body in the shape of the internal API's (`{"error": {"kind", "message"}}`).

use crate::engine::ServiceError;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use std::fmt;

/// A successful answer: a status (200 by default), headers, and `T` as the JSON body.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiResponse<T> {
    /// The status.
    pub status: u16,
    /// Extra headers (`Location`, say).
    pub headers: Vec<(String, String)>,
    /// The body, serialized as JSON.
    pub body: T,
}

impl<T> ApiResponse<T> {
    /// `status` with `body`.
    pub fn new(status: u16, body: T) -> Self {
        ApiResponse {
            status,
            headers: Vec::new(),
            body,
        }
    }

    /// 200 OK.
    pub fn ok(body: T) -> Self {
        Self::new(200, body)
    }

    /// 201 Created.
    pub fn created(body: T) -> Self {
        Self::new(201, body)
    }

    /// 202 Accepted: the work goes on (an execution started, say).
    pub fn accepted(body: T) -> Self {
        Self::new(202, body)
    }

    /// The same response with header `name: value`.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A failed answer: a status, a stable `kind`, a message and optional details. Any error type
/// that converts into it can be returned by an `#[api]` function.
///
/// ```
/// use eventual_runtime::api::ApiError;
///
/// enum OrderError { Unknown(String) }
///
/// impl From<OrderError> for ApiError {
///     fn from(error: OrderError) -> Self {
///         match error {
///             OrderError::Unknown(id) => ApiError::not_found(format!("no order `{id}`")),
///         }
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// A stable, machine-readable kind (`bad_request`, `not_found`, ...).
    pub kind: String,
    /// For people.
    pub message: String,
    /// Anything else the client should see.
    pub details: Option<Value>,
}

impl ApiError {
    /// An error with `status`, `kind` and `message`.
    pub fn new(status: u16, kind: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind: kind.into(),
            message: message.into(),
            details: None,
        }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "bad_request", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found", message)
    }

    /// 409 `conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, "conflict", message)
    }

    /// 500 `internal`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "internal", message)
    }

    /// The same error with `details` in its body.
    pub fn with_details(mut self, details: impl Serialize) -> Self {
        self.details = serde_json::to_value(details).ok();
        self
    }

    /// The JSON body: `{"error": {"kind", "message", "details"?}}`.
    pub fn body(&self) -> Value {
        let body = ApiErrorBody {
            error: ApiErrorDetail {
                kind: self.kind.clone(),
                message: self.message.clone(),
                details: self.details.clone(),
            },
        };
        // Strings and a JSON value always serialize.
        serde_json::to_value(body).unwrap_or(Value::Null)
    }
}

/// The JSON body of every error answer, `{"error": {"kind", "message", "details"?}}`: what
/// `ApiError::body` writes, and the schema of the OpenAPI document's error response.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct ApiErrorBody {
    /// What went wrong.
    pub error: ApiErrorDetail,
}

/// What went wrong: the `error` member of an error answer.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct ApiErrorDetail {
    /// A stable, machine-readable kind (`bad_request`, `not_found`, `no_route`, ...).
    pub kind: String,
    /// For people: what is wrong, naming the field of a bad input.
    pub message: String,
    /// Anything else the client should see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.kind, self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        ApiError::new(error.status(), error.kind(), error.to_string())
    }
}

/// A route's answer on the wire, engine-neutral: the local engine turns it into an axum
/// response, the AWS engine into API Gateway's.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiReply {
    /// The status.
    pub status: u16,
    /// The headers, `content-type` included.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl ApiReply {
    /// `status` with `body` as JSON.
    pub fn json(status: u16, body: &Value) -> Self {
        ApiReply {
            status,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: body.to_string().into_bytes(),
        }
    }

    /// The reply of a route's result.
    pub fn of<T: Serialize, E: Into<ApiError>>(result: Result<ApiResponse<T>, E>) -> Self {
        match result {
            Ok(response) => match serde_json::to_value(&response.body) {
                Ok(body) => {
                    let mut reply = ApiReply::json(response.status, &body);
                    reply.headers.extend(response.headers);
                    reply
                }
                Err(error) => ApiReply::from(ApiError::internal(format!(
                    "the response did not serialize: {error}"
                ))),
            },
            Err(error) => ApiReply::from(error.into()),
        }
    }
}

impl From<ApiError> for ApiReply {
    fn from(error: ApiError) -> Self {
        ApiReply::json(error.status, &error.body())
    }
}
