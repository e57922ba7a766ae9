//! `console --url <api> [--listen 127.0.0.1:PORT]`: the web console of any engine, served
//! from this binary on loopback. The page and its files are the embedded ones
//! ([`crate::console`]); its calls to the internal API (`/_eventual/...`) are forwarded through
//! the CLI's [`Transport`], so the same page looks at the local engine over HTTP or at an AWS
//! deployment through Lambda invoke or SigV4, with the caller's credentials.
//!
//! The server is small and blocking (the transports are): one connection at a time, each
//! answered and closed. Because it forwards with the caller's credentials, it only listens on
//! loopback, forwards only requests whose `Host` is a loopback name (a page of another site
//! cannot reach it by DNS rebinding) and that carry the console's own header
//! `x-eventual-console` (which another site's page cannot send without a CORS preflight, which
//! this server never grants).

use super::transport::Transport;
use crate::console::{self, CONSOLE_PATH, SECURITY_HEADERS};
use crate::engine::api::INTERNAL_PREFIX;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// The default `--listen` address: beside the local engine's default (8080).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8081";

/// The header the console's page sends with every API call; requests without it are not
/// forwarded.
pub const CONSOLE_HEADER: &str = "x-eventual-console";

/// The largest request head and body the server reads, as the engine's own limit (1 MiB).
const HEAD_LIMIT: usize = 16 * 1024;
const BODY_LIMIT: usize = 1024 * 1024;

/// How long a connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the console on `listen` until the process ends, forwarding API calls through
/// `transport`. Refuses an address other than loopback.
pub fn serve(listen: SocketAddr, transport: &dyn Transport) -> Result<(), String> {
    if !listen.ip().to_canonical().is_loopback() {
        return Err(format!(
            "the console forwards to the API with your credentials, so it listens on loopback \
             only, not on {listen}"
        ));
    }
    let listener =
        TcpListener::bind(listen).map_err(|error| format!("cannot listen on {listen}: {error}"))?;
    let address = listener
        .local_addr()
        .map_err(|error| format!("cannot read the listening address: {error}"))?;
    println!("console=http://{address}{CONSOLE_PATH}");
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        // A connection that fails (reset, timed out) concerns that client only.
        let _ = answer_connection(stream, transport);
    }
    Ok(())
}

/// One request read off a connection.
#[derive(Debug, PartialEq)]
struct Request {
    method: String,
    /// Path and query, as sent.
    target: String,
    host: Option<String>,
    from_console: bool,
    body: Vec<u8>,
}

/// A response to write: status, content type, body, extra headers.
struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn json(status: u16, body: &Value) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: body.to_string().into_bytes(),
            headers: Vec::new(),
        }
    }

    /// An error in the API's shape.
    fn error(status: u16, kind: &str, message: impl Into<String>) -> Reply {
        Reply::json(
            status,
            &json!({"error": {"kind": kind, "message": message.into()}}),
        )
    }

    fn redirect(to: &str) -> Reply {
        Reply {
            status: 308,
            content_type: "text/plain",
            body: Vec::new(),
            headers: vec![("location", to.to_owned())],
        }
    }
}

fn answer_connection(mut stream: TcpStream, transport: &dyn Transport) -> std::io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    let reply = match read_request(&mut BufReader::new(&stream)) {
        Ok(request) => route(&request, transport),
        Err(reply) => reply,
    };
    write_reply(&mut stream, &reply)
}

/// Reads one HTTP/1.1 request (a `Content-Length` body, no chunked encoding), or the error
/// reply that refuses it.
fn read_request(reader: &mut impl BufRead) -> Result<Request, Reply> {
    let bad = |message: &str| Reply::error(400, "bad_request", message);
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        let read = reader
            .by_ref()
            .take((HEAD_LIMIT - head.len().min(HEAD_LIMIT)) as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|error| bad(&format!("cannot read the request: {error}")))?;
        if read == 0 {
            return Err(bad("the connection closed before the request's head ended"));
        }
        if head.len() + line.len() > HEAD_LIMIT {
            return Err(Reply::error(
                431,
                "bad_request",
                "the request's head is too large",
            ));
        }
        let blank = line == b"\r\n" || line == b"\n";
        head.extend_from_slice(&line);
        if blank {
            break;
        }
    }
    let head = String::from_utf8(head).map_err(|_| bad("the request's head is not UTF-8"))?;
    let mut lines = head.lines();
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(target), Some(_version)) = (
        request_line.next(),
        request_line.next(),
        request_line.next(),
    ) else {
        return Err(bad("malformed request line"));
    };
    let mut request = Request {
        method: method.to_owned(),
        target: target.to_owned(),
        host: None,
        from_console: false,
        body: Vec::new(),
    };
    let mut length = 0;
    for line in lines.take_while(|line| !line.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad("malformed header line"));
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "host" => request.host = Some(value.to_owned()),
            "content-length" => {
                length = value
                    .parse()
                    .map_err(|_| bad("Content-Length is not a number"))?;
            }
            "transfer-encoding" => {
                return Err(Reply::error(
                    411,
                    "bad_request",
                    "send the body with a Content-Length",
                ))
            }
            CONSOLE_HEADER => request.from_console = true,
            _ => {}
        }
    }
    if length > BODY_LIMIT {
        return Err(Reply::error(
            413,
            "payload_too_large",
            format!("the body is larger than {BODY_LIMIT} bytes"),
        ));
    }
    request.body = vec![0; length];
    reader
        .read_exact(&mut request.body)
        .map_err(|error| bad(&format!("cannot read the body: {error}")))?;
    Ok(request)
}

/// What answers `request`: a console file, or the API through `transport`.
fn route(request: &Request, transport: &dyn Transport) -> Reply {
    let path = request.target.split('?').next().unwrap_or_default();
    let console_root = CONSOLE_PATH.trim_end_matches('/');
    if path == "/" || path == console_root {
        return Reply::redirect(CONSOLE_PATH);
    }
    if let Some(name) = path.strip_prefix(CONSOLE_PATH) {
        if request.method != "GET" {
            return Reply::error(
                405,
                "method_not_allowed",
                "the console's files are read with GET",
            );
        }
        return match console::asset(name) {
            Some(asset) => Reply {
                status: 200,
                content_type: asset.content_type,
                body: asset.body.to_vec(),
                headers: Vec::new(),
            },
            None => Reply::error(404, "no_route", format!("the console has no file `{name}`")),
        };
    }
    if !path.starts_with(&format!("{INTERNAL_PREFIX}/")) {
        return Reply::error(
            404,
            "no_route",
            format!("`{path}`: the console forwards only the internal API ({INTERNAL_PREFIX})"),
        );
    }
    if !request.host.as_deref().is_some_and(is_loopback_host) {
        return Reply::error(
            403,
            "forbidden",
            "the Host header must name this loopback address",
        );
    }
    if !request.from_console {
        return Reply::error(
            403,
            "forbidden",
            format!("only the console's page may call the API here (header `{CONSOLE_HEADER}`)"),
        );
    }
    if !matches!(request.method.as_str(), "GET" | "POST" | "DELETE") {
        return Reply::error(
            405,
            "method_not_allowed",
            format!("the API has no `{}` routes", request.method),
        );
    }
    let body = if request.body.is_empty() {
        None
    } else {
        match serde_json::from_slice::<Value>(&request.body) {
            Ok(body) => Some(body),
            Err(error) => {
                return Reply::error(400, "bad_request", format!("invalid request body: {error}"))
            }
        }
    };
    match transport.request(&request.method, &request.target, body.as_ref()) {
        Ok((status, body)) => Reply::json(status, &body),
        Err(message) => Reply::error(502, "bad_gateway", message),
    }
}

/// `localhost`, or a loopback IP, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

fn write_reply(stream: &mut TcpStream, reply: &Reply) -> std::io::Result<()> {
    let reason = match reply.status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        502 => "Bad Gateway",
        _ => "",
    };
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n",
        reply.status,
        reply.content_type,
        reply.body.len()
    );
    for (name, value) in SECURITY_HEADERS
        .iter()
        .map(|(name, value)| (*name, (*value).to_owned()))
        .chain(reply.headers.iter().cloned())
    {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(&reply.body)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A transport that records what it is asked and answers `200 {"ok": true}`.
    #[derive(Default)]
    struct Recorder(RefCell<Vec<(String, String, Option<Value>)>>);

    impl Transport for Recorder {
        fn request(
            &self,
            method: &str,
            path: &str,
            body: Option<&Value>,
        ) -> Result<(u16, Value), String> {
            self.0
                .borrow_mut()
                .push((method.to_owned(), path.to_owned(), body.cloned()));
            Ok((200, json!({"ok": true})))
        }
    }

    fn parse(raw: &str) -> Result<Request, Reply> {
        read_request(&mut BufReader::new(raw.as_bytes()))
    }

    fn console_request(method: &str, target: &str, body: &str) -> Request {
        Request {
            method: method.to_owned(),
            target: target.to_owned(),
            host: Some("127.0.0.1:8081".to_owned()),
            from_console: true,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_request_is_read_with_its_body() {
        let request = parse(
            "POST /_eventual/executions/a/cancel?x=1 HTTP/1.1\r\nHost: localhost:8081\r\n\
             X-Eventual-Console: 1\r\nContent-Length: 2\r\n\r\n{}",
        )
        .unwrap_or_else(|reply| panic!("{}", String::from_utf8_lossy(&reply.body)));
        assert_eq!(request.method, "POST");
        assert_eq!(request.target, "/_eventual/executions/a/cancel?x=1");
        assert_eq!(request.host.as_deref(), Some("localhost:8081"));
        assert!(request.from_console);
        assert_eq!(request.body, b"{}");
    }

    #[test]
    fn malformed_or_oversized_requests_are_refused() {
        let status = |raw: &str| parse(raw).err().map(|reply| reply.status);
        assert_eq!(status("GET\r\n\r\n"), Some(400));
        assert_eq!(status("GET / HTTP/1.1\r\nno colon\r\n\r\n"), Some(400));
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a"), Some(400));
        let chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(status(chunked), Some(411));
        let huge = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            BODY_LIMIT + 1
        );
        assert_eq!(status(&huge), Some(413));
        let long_head = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(HEAD_LIMIT));
        assert_eq!(status(&long_head), Some(431));
    }

    #[test]
    fn files_are_served_and_api_calls_forwarded_with_their_query_and_body() {
        let recorder = Recorder::default();
        let page = route(
            &console_request("GET", "/_eventual/console/", ""),
            &recorder,
        );
        assert_eq!(page.status, 200);
        assert!(page.content_type.starts_with("text/html"));
        let script = route(
            &console_request("GET", "/_eventual/console/console.js", ""),
            &recorder,
        );
        assert_eq!(script.status, 200);
        assert_eq!(
            route(&console_request("GET", "/_eventual/console", ""), &recorder).status,
            308
        );
        assert_eq!(
            route(
                &console_request("GET", "/_eventual/console/x.js", ""),
                &recorder
            )
            .status,
            404
        );
        assert!(recorder.0.borrow().is_empty(), "files are not forwarded");

        let list = route(
            &console_request("GET", "/_eventual/executions?status=running", ""),
            &recorder,
        );
        assert_eq!(list.status, 200);
        let cancel = route(
            &console_request(
                "POST",
                "/_eventual/executions/e%2F1/cancel",
                "{\"reason\":\"r\"}",
            ),
            &recorder,
        );
        assert_eq!(cancel.status, 200);
        assert_eq!(
            *recorder.0.borrow(),
            vec![
                (
                    "GET".to_owned(),
                    "/_eventual/executions?status=running".to_owned(),
                    None
                ),
                (
                    "POST".to_owned(),
                    "/_eventual/executions/e%2F1/cancel".to_owned(),
                    Some(json!({"reason": "r"}))
                ),
            ]
        );
    }

    #[test]
    fn only_the_consoles_own_calls_on_loopback_are_forwarded() {
        let recorder = Recorder::default();
        let mut foreign = console_request("POST", "/_eventual/executions/a/terminate", "{}");
        foreign.from_console = false;
        assert_eq!(route(&foreign, &recorder).status, 403);
        let mut rebound = console_request("GET", "/_eventual/executions", "");
        rebound.host = Some("evil.example:8081".to_owned());
        assert_eq!(route(&rebound, &recorder).status, 403);
        assert_eq!(
            route(&console_request("GET", "/orders", ""), &recorder).status,
            404
        );
        assert_eq!(
            route(
                &console_request("PUT", "/_eventual/executions", ""),
                &recorder
            )
            .status,
            405
        );
        assert_eq!(
            route(
                &console_request("POST", "/_eventual/events", "{"),
                &recorder
            )
            .status,
            400
        );
        assert!(recorder.0.borrow().is_empty());
        for host in ["127.0.0.1:1", "localhost", "[::1]:8081", "LOCALHOST:2"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "10.0.0.1:8081",
            "evil.example",
            "[::2]:1",
            "localhost.evil:1",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn a_transport_failure_is_a_bad_gateway_in_the_apis_shape() {
        struct Down;
        impl Transport for Down {
            fn request(&self, _: &str, _: &str, _: Option<&Value>) -> Result<(u16, Value), String> {
                Err("cannot reach the engine".to_owned())
            }
        }
        let reply = route(&console_request("GET", "/_eventual/executions", ""), &Down);
        assert_eq!(reply.status, 502);
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["error"]["kind"], "bad_gateway");
        assert_eq!(body["error"]["message"], "cannot reach the engine");
    }

    #[test]
    fn the_console_listens_on_loopback_only() {
        let error = serve("0.0.0.0:0".parse().unwrap(), &Recorder::default()).unwrap_err();
        assert!(error.contains("loopback"), "{error}");
    }
}
