//! The strangler fig: a request that no route of the service serves goes on to the legacy
//! service it replaces, so that clients keep one address while routes move over one by one.
//!
//! The request keeps its method, path, query, headers and body (already read whole, within
//! the body limit); `Host` becomes the legacy host (the client's is kept in
//! `X-Forwarded-Host`), and the headers of this hop only (`Connection`, `Transfer-Encoding`,
//! …) are dropped both ways. The legacy answer (status, headers, body) comes back as it is.

use crate::engine::ServiceError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::uri::Authority;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Uri, Version};
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// How long to wait for a connection to the legacy service before answering 502.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Headers that concern one connection, never forwarded (RFC 9110, section 7.6.1), beside
/// those that `Connection` names.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// A legacy service's base URL, `http://host[:port][/path]`.
#[derive(Clone, Debug)]
pub(crate) struct LegacyUrl {
    authority: Authority,
    /// The path every forwarded path goes below, without a trailing `/` (empty for the root).
    base_path: String,
}

impl LegacyUrl {
    /// Parses a base URL, or says what is wrong with it.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        const EXPECTED: &str = "expected `http://host[:port][/path]`";
        let uri: Uri = url
            .parse()
            .map_err(|error| format!("{error}; {EXPECTED}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(format!(
                    "https is not supported (the proxy speaks plain HTTP); {EXPECTED}"
                ))
            }
            Some(other) => {
                return Err(format!("the scheme `{other}` is not supported; {EXPECTED}"))
            }
            None => return Err(format!("not an absolute URL; {EXPECTED}")),
        }
        let authority = uri
            .authority()
            .filter(|authority| !authority.host().is_empty())
            .ok_or_else(|| format!("no host; {EXPECTED}"))?
            .clone();
        if uri.query().is_some() {
            return Err(format!("a base URL takes no query; {EXPECTED}"));
        }
        Ok(LegacyUrl {
            authority,
            base_path: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    /// Where a request for `uri` (path and query) goes on the legacy service.
    fn target(&self, uri: &Uri) -> Result<Uri, axum::http::Error> {
        let path_and_query = uri.path_and_query().map_or("/", |pq| pq.as_str());
        Uri::builder()
            .scheme("http")
            .authority(self.authority.clone())
            .path_and_query(format!("{}{path_and_query}", self.base_path))
            .build()
    }
}

impl std::fmt::Display for LegacyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}{}", self.authority, self.base_path)
    }
}

/// Forwards requests to a legacy service over plain HTTP/1.1, on pooled connections.
pub(crate) struct LegacyProxy {
    url: LegacyUrl,
    host: HeaderValue,
    client: Client<HttpConnector, Body>,
}

impl LegacyProxy {
    pub(crate) fn new(url: LegacyUrl) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let host = HeaderValue::from_str(url.authority.as_str())
            .unwrap_or_else(|_| unreachable!("an authority is a valid header value"));
        LegacyProxy {
            url,
            host,
            client: Client::builder(TokioExecutor::new()).build(connector),
        }
    }

    /// The legacy service's answer to `request`, or a JSON 502 (`bad_gateway`) naming the
    /// service and why it did not answer.
    pub(crate) async fn forward(&self, request: Request) -> Response {
        let (mut parts, body) = request.into_parts();
        let what = format!("{} {}", parts.method, parts.uri.path());
        parts.uri = match self.url.target(&parts.uri) {
            Ok(uri) => uri,
            Err(error) => {
                let message = format!("cannot address {what} on {}: {error}", self.url);
                return ServiceError::BadGateway(message).into_response();
            }
        };
        // The client speaks HTTP/1.1 to the legacy service, whatever the caller spoke.
        parts.version = Version::HTTP_11;
        let client_host = parts.headers.remove(header::HOST);
        remove_hop_by_hop(&mut parts.headers);
        parts.headers.insert(header::HOST, self.host.clone());
        if let Some(client_host) = client_host {
            parts.headers.insert(X_FORWARDED_HOST, client_host);
        }
        match self.client.request(Request::from_parts(parts, body)).await {
            Ok(answer) => {
                let (mut parts, body) = answer.into_parts();
                remove_hop_by_hop(&mut parts.headers);
                Response::from_parts(parts, Body::new(body))
            }
            Err(error) => {
                let message = format!(
                    "the legacy service at {} did not answer {what}: {}",
                    self.url,
                    causes(&error)
                );
                ServiceError::BadGateway(message).into_response()
            }
        }
    }
}

/// Drops the headers of this hop: the fixed list and those `Connection` names.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(&HOP_BY_HOP) {
        headers.remove(name);
    }
}

/// An error and its sources, `outer: inner: …` (the client's own message alone says little,
/// such as "client error (Connect)").
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_url_is_plain_http_with_a_host_and_maybe_a_path() {
        let url = LegacyUrl::parse("http://127.0.0.1:9000/legacy/").unwrap();
        assert_eq!(url.to_string(), "http://127.0.0.1:9000/legacy");
        let target = url.target(&"/orders/7?full=1".parse().unwrap()).unwrap();
        assert_eq!(target, "http://127.0.0.1:9000/legacy/orders/7?full=1");
        let root = LegacyUrl::parse("http://legacy").unwrap();
        assert_eq!(
            root.target(&"/".parse().unwrap()).unwrap(),
            "http://legacy/"
        );
        for (url, names) in [
            ("https://legacy", "https"),
            ("ftp://legacy", "`ftp`"),
            ("/legacy", "absolute"),
            ("http://legacy/?a=1", "query"),
            ("not a url", "expected"),
        ] {
            let reason = LegacyUrl::parse(url).unwrap_err();
            assert!(
                reason.contains(names),
                "{url}: `{reason}` does not name {names}"
            );
        }
    }

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_dropped() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive, x-hop"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("x-hop", "1"),
            ("x-end-to-end", "2"),
            ("authorization", "Bearer user"),
        ] {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        remove_hop_by_hop(&mut headers);
        let mut left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["authorization", "x-end-to-end"]);
    }
}
