//! One listener for a whole service: the service's own routes, the internal API, and what
//! guards both (feature `serve`; the local engine serves with it).
//!
//! [`service_router`] answers every request in this order:
//!
//! 1. a route that panics answers a JSON 500 (`internal`) and the server goes on serving;
//! 2. a path under [`INTERNAL_PREFIX`] goes to the internal API ([`http::router`]), behind the
//!    bearer token when [`ServeOptions::api_token`] is set (a JSON 401 `unauthorized`
//!    otherwise), or to the web console's files ([`crate::console`], at
//!    `/_eventual/console/`, which need no token); every other path goes to the service's own
//!    routes, which therefore can never shadow nor reach an internal one;
//! 3. the request's body is read before any route runs, up to [`ServeOptions::body_limit`];
//!    past it the answer is a JSON 413 (`payload_too_large`) and no route runs;
//! 4. a request that no route of the service serves (no route has its path, or none its
//!    method) goes to the legacy service when [`ServeOptions::legacy`] names one (the strangler
//!    fig: routes move over one by one, method by method, behind one address), else is a JSON
//!    404 (`no_route`), or a JSON 405 (`method_not_allowed`) when a route has the path but not
//!    the method.
//!
//! The internal API needs no token on a loopback address (`127.0.0.0/8`, `::1`), as dev
//! servers do; [`ServeOptions::check`] refuses any other address unless a token is set or
//! [`ServeOptions::insecure`] says to serve it open.

use super::http::{self, no_route};
use super::proxy::{LegacyProxy, LegacyUrl};
use super::{guard, ServiceApi, INTERNAL_PREFIX};
use crate::api::{ApiError, ApiReply};
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware;
use axum::response::Response;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;

/// The default of [`ServeOptions::body_limit`]: 1 MiB, well above the API's own bodies (an
/// event is at most 256 KiB) and small enough that a runaway client cannot fill the memory.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// How a service is served on its listener.
///
/// ```
/// use eventual_runtime::engine::api::serve::ServeOptions;
///
/// let options = ServeOptions::default()
///     .with_api_token("s3cret")
///     .with_legacy("http://127.0.0.1:9000");
/// assert!(options.check("0.0.0.0:8080".parse().unwrap()).is_ok());
/// ```
#[derive(Clone)]
pub struct ServeOptions {
    /// The bearer token every request to the internal API must carry
    /// (`Authorization: Bearer <token>`), on any address. Without one the internal API is open,
    /// which [`check`](ServeOptions::check) allows only on loopback or with `insecure`.
    pub api_token: Option<String>,
    /// Serve the internal API without a token on an address other than loopback: anyone who
    /// can reach the address may then start, signal, cancel and terminate executions.
    pub insecure: bool,
    /// The base URL of a legacy service (`http://host[:port][/path]`) that gets every request
    /// no route serves, with its method, path, query, headers and body; its answer is returned
    /// as it is. Plain HTTP only.
    pub legacy: Option<String>,
    /// The largest request body, in bytes, on any route (default [`DEFAULT_BODY_LIMIT`]).
    /// Bodies are read whole before the route runs.
    pub body_limit: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            api_token: None,
            insecure: false,
            legacy: None,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }
}

// By hand, so that the token never reaches a log.
impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("api_token", &self.api_token.as_ref().map(|_| "<redacted>"))
            .field("insecure", &self.insecure)
            .field("legacy", &self.legacy)
            .field("body_limit", &self.body_limit)
            .finish()
    }
}

impl ServeOptions {
    /// The same options requiring `token` on the internal API.
    pub fn with_api_token(mut self, token: impl Into<String>) -> Self {
        self.api_token = Some(token.into());
        self
    }

    /// The same options with [`insecure`](ServeOptions::insecure) set to `insecure`.
    pub fn with_insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// The same options sending what no route serves to the legacy service at `base_url`.
    pub fn with_legacy(mut self, base_url: impl Into<String>) -> Self {
        self.legacy = Some(base_url.into());
        self
    }

    /// The same options with a body limit of `bytes`.
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Whether a service may be served on `address` with these options: an open internal API
    /// only on loopback (or when `insecure`), no empty token, a usable legacy URL.
    pub fn check(&self, address: SocketAddr) -> Result<(), ServeRefused> {
        match self.api_token.as_deref() {
            Some("") => return Err(ServeRefused::EmptyApiToken),
            Some(_) => {}
            None if self.insecure || is_loopback(address) => {}
            None => return Err(ServeRefused::Unauthenticated { address }),
        }
        if let Some(url) = &self.legacy {
            LegacyUrl::parse(url).map_err(|reason| ServeRefused::InvalidLegacyUrl {
                url: url.clone(),
                reason,
            })?;
        }
        Ok(())
    }
}

/// Why [`ServeOptions`] refuse an address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServeRefused {
    /// The internal API would be open on an address other machines may reach.
    #[error(
        "refusing to serve the internal API ({INTERNAL_PREFIX}) without authentication on \
         {address}, which is not a loopback address: set a bearer token (`--api-token` or \
         EVENTUAL_API_TOKEN), or pass `--insecure` to let anyone who reaches {address} operate \
         the service"
    )]
    Unauthenticated {
        /// The address asked for.
        address: SocketAddr,
    },
    /// An empty token would admit `Authorization: Bearer ` alone.
    #[error("the API token is empty: set a non-empty token, or none")]
    EmptyApiToken,
    /// The legacy URL cannot be proxied to.
    #[error("the legacy URL `{url}` cannot be used: {reason}")]
    InvalidLegacyUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Why a route of the service cannot be served.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the route `{path}` is under `{INTERNAL_PREFIX}`, which the internal API reserves: \
     it would never be reached; move it elsewhere"
)]
pub struct ReservedRoute {
    /// The route's path.
    pub path: String,
}

/// Refuses a route of the service under [`INTERNAL_PREFIX`], naming it. Whoever builds the
/// service's router calls it for each route: the router itself cannot list its paths, and
/// [`service_router`] never sends an internal path to the service's routes, so such a route
/// would silently never answer.
pub fn check_user_route(path: &str) -> Result<(), ReservedRoute> {
    if is_internal_path(path) {
        return Err(ReservedRoute {
            path: path.to_owned(),
        });
    }
    Ok(())
}

/// The service's router: `user_routes` own the URL space, the internal API over `engine`
/// lives under [`INTERNAL_PREFIX`], and `options` guard both (see the [module](self)). The
/// user routes' own fallback, if any, is replaced by the legacy proxy or the JSON 404.
///
/// # Panics
///
/// If `options.legacy` is not a usable URL: [`ServeOptions::check`] reports it as an error,
/// and [`serve`] checks before building.
pub fn service_router(
    engine: Arc<dyn ServiceApi>,
    user_routes: Router,
    options: &ServeOptions,
) -> Router {
    let api = match options.api_token.as_deref() {
        Some(token) => http::router(engine).layer(middleware::from_fn_with_state(
            guard::BearerToken::new(token),
            guard::require_bearer,
        )),
        None => http::router(engine),
    };
    // The console's files are public (the page sends the token with its API calls).
    let internal = api.merge(crate::console::router());
    let legacy = options
        .legacy
        .as_deref()
        .map(|url| match LegacyUrl::parse(url) {
            Ok(url) => Arc::new(LegacyProxy::new(url)),
            Err(reason) => panic!(
                "{}",
                ServeRefused::InvalidLegacyUrl {
                    url: url.to_owned(),
                    reason
                }
            ),
        });
    // Neither a path nor a method of the service's: the legacy service's, or nobody's.
    let unrouted = |path_known: bool| {
        let legacy = legacy.clone();
        move |request: Request| {
            let legacy = legacy.clone();
            async move {
                match legacy {
                    Some(legacy) => legacy.forward(request).await,
                    None if path_known => method_not_allowed(request.method(), request.uri()),
                    None => no_route(request.method().clone(), request.uri().clone()).await,
                }
            }
        }
    };
    let public = user_routes
        .method_not_allowed_fallback(unrouted(true))
        .fallback(unrouted(false));
    split_by_prefix(
        within_body_limit(internal, options.body_limit),
        within_body_limit(public, options.body_limit),
    )
    .layer(CatchPanicLayer::custom(guard::panic_response))
}

/// Serves the service's router ([`service_router`]) on `address` until the process ends;
/// refuses (`InvalidInput`, with the [`ServeRefused`] inside) before binding what
/// [`ServeOptions::check`] refuses.
pub async fn serve(
    engine: Arc<dyn ServiceApi>,
    address: SocketAddr,
    user_routes: Router,
    options: &ServeOptions,
) -> std::io::Result<()> {
    options
        .check(address)
        .map_err(|refused| std::io::Error::new(std::io::ErrorKind::InvalidInput, refused))?;
    let router = service_router(engine, user_routes, options);
    let listener = tokio::net::TcpListener::bind(address).await?;
    tracing::info!(address = %listener.local_addr()?, "serving the service and its internal API");
    axum::serve(listener, router).await
}

/// A path a route serves, with a method none of its routes does: a JSON 405 naming both.
fn method_not_allowed(method: &axum::http::Method, uri: &axum::http::Uri) -> Response {
    let message = format!("no route serves `{method} {}`", uri.path());
    let error = ApiError::new(405, "method_not_allowed", message);
    crate::api::routes::reply_response(ApiReply::from(error))
}

/// Loopback as the OS routes it: `127.0.0.0/8`, `::1`, and IPv4-mapped loopback.
fn is_loopback(address: SocketAddr) -> bool {
    address.ip().to_canonical().is_loopback()
}

/// `/_eventual` itself or anything below it.
fn is_internal_path(path: &str) -> bool {
    path.strip_prefix(INTERNAL_PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Sends internal paths to `internal` and every other one to `public`. Dispatching on the
/// prefix (rather than merging the routers) keeps a route of the service from ever matching
/// an internal path, whatever pattern it declares.
fn split_by_prefix(internal: Router, public: Router) -> Router {
    Router::new().fallback_service(tower::service_fn(move |request: Request| {
        let router = if is_internal_path(request.uri().path()) {
            internal.clone()
        } else {
            public.clone()
        };
        router.oneshot(request)
    }))
}

/// `router` with its bodies read whole, up to `limit`, before any of its routes runs.
fn within_body_limit(router: Router, limit: usize) -> Router {
    router
        // The buffering enforces the limit: axum's own (2 MB) would otherwise cut in first.
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(limit, guard::buffer_body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_prefix_and_below_are_internal() {
        for path in [
            "/_eventual",
            "/_eventual/",
            "/_eventual/health",
            "/_eventual/a/b",
        ] {
            assert!(is_internal_path(path), "{path}");
            assert!(check_user_route(path).is_err(), "{path}");
        }
        for path in [
            "/",
            "/orders",
            "/_eventually",
            "/_eventual_x/health",
            "/x/_eventual",
        ] {
            assert!(!is_internal_path(path), "{path}");
            assert!(check_user_route(path).is_ok(), "{path}");
        }
    }

    #[test]
    fn an_open_internal_api_is_refused_off_loopback() {
        let open = ServeOptions::default();
        for address in [
            "127.0.0.1:80",
            "127.0.0.2:80",
            "[::1]:80",
            "[::ffff:127.0.0.1]:80",
        ] {
            assert_eq!(open.check(address.parse().unwrap()), Ok(()), "{address}");
        }
        let exposed: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let refused = open.check(exposed).unwrap_err();
        assert_eq!(refused, ServeRefused::Unauthenticated { address: exposed });
        let message = refused.to_string();
        for names in [
            "0.0.0.0:8080",
            "--api-token",
            "EVENTUAL_API_TOKEN",
            "--insecure",
        ] {
            assert!(message.contains(names), "`{message}` does not name {names}");
        }
        assert_eq!(open.clone().with_insecure(true).check(exposed), Ok(()));
        assert_eq!(open.clone().with_api_token("t").check(exposed), Ok(()));
        assert_eq!(
            open.with_api_token("")
                .check("127.0.0.1:80".parse().unwrap()),
            Err(ServeRefused::EmptyApiToken)
        );
    }

    #[test]
    fn the_token_stays_out_of_debug_output() {
        let options = ServeOptions::default().with_api_token("s3cret");
        assert!(!format!("{options:?}").contains("s3cret"));
    }
}
