//! What guards every route of a service's listener, whoever wrote the route: a bounded request
//! body, a panic that answers instead of dropping the connection, and the internal API's
//! bearer token. Each refusal is a JSON error in the API's shape.

use crate::engine::ServiceError;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::any::Any;
use subtle::ConstantTimeEq;

/// How much of an oversized body is still read (and dropped) before answering 413, as a
/// multiple of the limit. A client that sends its whole body before reading the answer (most
/// do) would otherwise see the connection reset instead of the 413; past this much the
/// connection is closed all the same, so a client cannot keep it busy for ever.
const DRAIN_FACTOR: usize = 8;

/// Reads the request's body whole before the route runs. Past `limit` bytes (declared or
/// sent) the answer is 413 and the route does not run, so nothing is written.
pub(crate) async fn buffer_body(
    State(limit): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    match read_within(body, declared_length(&parts.headers), limit).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(refused) => refused.into_response(),
    }
}

fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

async fn read_within(
    body: Body,
    declared: Option<usize>,
    limit: usize,
) -> Result<Bytes, ServiceError> {
    let too_large = || {
        ServiceError::PayloadTooLarge(format!(
            "the request body is larger than the limit of {limit} bytes"
        ))
    };
    let mut chunks = body.into_data_stream();
    if declared.is_some_and(|declared| declared > limit) {
        drain(&mut chunks, limit.saturating_mul(DRAIN_FACTOR)).await;
        return Err(too_large());
    }
    let mut buffered = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|error| {
            ServiceError::BadRequest(format!("cannot read the request body: {error}"))
        })?;
        if buffered.len() + chunk.len() > limit {
            let left = limit.saturating_mul(DRAIN_FACTOR) - buffered.len();
            drain(&mut chunks, left).await;
            return Err(too_large());
        }
        buffered.extend_from_slice(&chunk);
    }
    Ok(buffered.into())
}

/// Reads and drops up to `at_most` bytes of what is left of a body.
async fn drain(
    chunks: &mut (impl futures::Stream<Item = Result<Bytes, axum::Error>> + Unpin),
    at_most: usize,
) {
    let mut drained = 0;
    while drained < at_most {
        match chunks.next().await {
            Some(Ok(chunk)) => drained += chunk.len(),
            _ => return,
        }
    }
}

/// The token the internal API requires, kept as its SHA-256 digest: comparing digests in
/// constant time tells a client nothing of the token, not even its length.
#[derive(Clone)]
pub(crate) struct BearerToken([u8; 32]);

impl BearerToken {
    pub(crate) fn new(token: &str) -> Self {
        BearerToken(Sha256::digest(token.as_bytes()).into())
    }

    fn admits(&self, presented: &str) -> bool {
        Sha256::digest(presented.as_bytes())
            .as_slice()
            .ct_eq(&self.0)
            .into()
    }
}

/// Lets a request through only with `Authorization: Bearer <the token>`; 401 otherwise.
pub(crate) async fn require_bearer(
    State(token): State<BearerToken>,
    request: Request,
    next: Next,
) -> Response {
    let refusal = match bearer(request.headers()) {
        Some(presented) if token.admits(presented) => return next.run(request).await,
        Some(_) => "the bearer token is not the API's token",
        None => {
            "the internal API requires a bearer token: send `Authorization: Bearer <token>` \
             (with the CLI: `--api-token` or EVENTUAL_API_TOKEN)"
        }
    };
    let mut response = ServiceError::Unauthorized(refusal.to_owned()).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// The credentials of `Authorization: Bearer <token>` (the scheme in any case).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The answer to a route that panicked: a JSON 500, the panic's message in the log only (it
/// may tell more than a client should know).
pub(crate) fn panic_response(panic: Box<dyn Any + Send>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "a route panicked");
    ServiceError::Internal("the route panicked; the service's log has the details".to_owned())
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_read_in_any_case() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        for (value, expected) in [
            ("Bearer t0k", Some("t0k")),
            ("bearer t0k", Some("t0k")),
            ("Basic dXNlcjpwdw==", None),
            ("Bearer", None),
        ] {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(bearer(&headers), expected, "{value}");
        }
    }

    #[test]
    fn only_the_same_token_is_admitted() {
        let token = BearerToken::new("s3cret");
        assert!(token.admits("s3cret"));
        for other in ["", "s3cre", "s3cret ", "S3CRET"] {
            assert!(!token.admits(other), "{other}");
        }
    }
}
