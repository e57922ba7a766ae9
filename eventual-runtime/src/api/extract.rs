//! The inputs of a route: the request as every engine hands it over, and the typed pieces an
//! `#[api]` function takes from it.

use super::{ApiContext, ApiError};
use crate::engine::api::ServiceApi;
use serde::de::DeserializeOwned;
use std::fmt::Display;
use std::str::FromStr;
use std::sync::Arc;

/// One request to a route, engine-neutral: the local engine builds it from axum's request,
/// the AWS engine from API Gateway's event.
pub struct ApiRequest {
    /// The method, upper case.
    pub method: String,
    /// The path as requested.
    pub path: String,
    /// The route's path parameters, percent-decoded, by name.
    pub path_params: Vec<(String, String)>,
    /// The query string without `?` (empty when there is none).
    pub query: String,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The service the route may call.
    pub service: Arc<dyn ServiceApi>,
}

impl ApiRequest {
    /// Path parameter `name`, parsed; a 400 naming it when it does not parse.
    pub fn path_param<T>(&self, name: &str) -> Result<T, ApiError>
    where
        T: FromStr,
        T::Err: Display,
    {
        let text = self
            .path_params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .ok_or_else(|| ApiError::bad_request(format!("path parameter `{name}` is missing")))?;
        text.parse().map_err(|error| {
            ApiError::bad_request(format!("path parameter `{name}`: {error} (got `{text}`)"))
        })
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// A piece of the request that an `#[api]` function takes as an argument.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an input of an #[api] route",
    label = "not an #[api] input",
    note = "an #[api] fn takes path parameters by name (`{{id}}` → `id: T`), `Json<T>`, `Query<T>`, `Headers` and `ApiContext`"
)]
pub trait FromApiRequest: Sized {
    /// Takes the piece from the request; a 400 that names what is wrong otherwise.
    fn from_request(request: &ApiRequest) -> Result<Self, ApiError>;
}

/// The JSON body, deserialized into `T`; a missing or malformed body is a 400 naming the field.
#[derive(Clone, Debug, PartialEq)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromApiRequest for Json<T> {
    fn from_request(request: &ApiRequest) -> Result<Self, ApiError> {
        if request.body.is_empty() {
            return Err(ApiError::bad_request("body: a JSON body is required"));
        }
        let mut deserializer = serde_json::Deserializer::from_slice(&request.body);
        let value = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|error| field_error("body", &error))?;
        deserializer
            .end()
            .map_err(|error| ApiError::bad_request(format!("body: {error}")))?;
        Ok(Json(value))
    }
}

/// The query string, deserialized into `T` (`?status=shipped&limit=10`); a 400 naming the
/// parameter otherwise.
#[derive(Clone, Debug, PartialEq)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromApiRequest for Query<T> {
    fn from_request(request: &ApiRequest) -> Result<Self, ApiError> {
        let pairs = form_urlencoded::parse(request.query.as_bytes());
        let deserializer = serde_urlencoded::Deserializer::new(pairs);
        serde_path_to_error::deserialize(deserializer)
            .map(Query)
            .map_err(|error| field_error("query", &error))
    }
}

/// A 400 naming where in `part` (`body`, `query`) the error is: `body.items[0].quantity: …`.
fn field_error<E: Display>(part: &str, error: &serde_path_to_error::Error<E>) -> ApiError {
    let path = error.path().to_string();
    // `.` is the whole value, `?` a place the parser never reached (a syntax error).
    let place = if path == "." || path == "?" {
        part.to_owned()
    } else {
        format!("{part}.{path}")
    };
    ApiError::bad_request(format!("{place}: {}", error.inner()))
}

/// The request's headers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// The first value of header `name` (any case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

impl FromApiRequest for Headers {
    fn from_request(request: &ApiRequest) -> Result<Self, ApiError> {
        Ok(Headers(request.headers.clone()))
    }
}

impl FromApiRequest for ApiContext {
    fn from_request(request: &ApiRequest) -> Result<Self, ApiError> {
        Ok(ApiContext::new(
            request.service.clone(),
            request
                .header(super::context::CORRELATION_HEADER)
                .map(str::to_owned),
        ))
    }
}
