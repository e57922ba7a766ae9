//! A service's own HTTP routes: `#[api]` functions, served by the local engine on the same
//! listener as the internal API (which lives under `/_eventual`) and by API Gateway on AWS.
//!
//! An `#[api(METHOD "/path/{param}")]` function takes, in any order:
//! - path parameters by name (`{id}` → `id: T` with `T: FromStr`);
//! - [`Json<T>`]: the JSON body; [`Query<T>`]: the query string; [`Headers`];
//! - [`ApiContext`]: the service client (start, signal and read executions, publish events).
//!
//! It returns `Result<T, E>` (200 with `T` as JSON) or `Result<ApiResponse<T>, E>` (any status
//! and headers), where `E: Into<ApiError>` maps to a status and a JSON error body. Bad input
//! is a 400 that names the path parameter, the query or the body, before the function runs.
//!
//! ```
//! use eventual_runtime::api::{ApiContext, ApiError, ApiResponse, Json};
//! use eventual_runtime::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize, schemars::JsonSchema)]
//! struct Greeting { name: String }
//!
//! #[derive(Serialize, schemars::JsonSchema)]
//! struct Greeted { message: String }
//!
//! #[api(POST "/greetings")]
//! async fn greet(Json(greeting): Json<Greeting>) -> Result<ApiResponse<Greeted>, ApiError> {
//!     if greeting.name.is_empty() {
//!         return Err(ApiError::bad_request("`name` must not be empty"));
//!     }
//!     Ok(ApiResponse::created(Greeted { message: format!("hello, {}", greeting.name) }))
//! }
//! # fn main() {}
//! ```

mod context;
mod extract;
mod reply;
#[cfg(feature = "http")]
pub mod routes;

pub use context::ApiContext;
pub use extract::{ApiRequest, FromApiRequest, Headers, Json, Query};
pub use reply::{ApiError, ApiErrorBody, ApiErrorDetail, ApiReply, ApiResponse};

use std::fmt;

/// Who may call a route on AWS (API Gateway's authorization of the route). The local engine
/// serves every route without auth, as a dev server does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApiAuth {
    /// Anyone.
    None,
    /// Callers with AWS credentials allowed to invoke the API (SigV4).
    Iam,
    /// Callers with a JWT accepted by the authorizer that the template's parameters configure.
    Jwt,
}

impl ApiAuth {
    /// `none`, `iam` or `jwt`, as the attribute spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiAuth::None => "none",
            ApiAuth::Iam => "iam",
            ApiAuth::Jwt => "jwt",
        }
    }
}

impl fmt::Display for ApiAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
