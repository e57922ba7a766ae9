//! Cold start of the order service's Lambda binary (`order-service-aws`, feature `aws`: the
//! package `cargo lambda build` makes), against a local stand-in for the Lambda Runtime API.
//!
//! ```text
//! cargo run --release -p eventual-aws --example bench_lambda_init [-- --binary PATH] [--runs N]
//! ```
//!
//! Without `--binary` it builds the binary with Cargo in the release profile (the Lambda
//! build, without the CLI). Each run starts the binary with `AWS_LAMBDA_RUNTIME_API` naming a
//! server on 127.0.0.1 that serves one event on `GET /2018-06-01/runtime/invocation/next` and
//! takes its `/response`; the time from spawning the process to that response is the cold
//! start, as Lambda's `Init Duration` plus the first invocation. The roles measured need no AWS
//! call for their event (the API's health route, an empty queue batch), so nothing but the
//! binary's own start is timed: the SDK clients, the runtime, the role's router.
//!
//! Prints, per role, the median over the runs of the time to the first `next` (ready) and to
//! the first response (handled); the last line is `binary_bytes=<n> init_ms=<m>`, with `m` the
//! slowest role's median time to its first handled event.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// The runtime API's version prefix.
const PREFIX: &str = "/2018-06-01/runtime";
/// How long one run may take before the bench gives up on the binary.
const RUN_LIMIT: Duration = Duration::from_secs(30);

/// Whether the binary's answer to the event is the expected one.
type Check = fn(&Value) -> bool;

/// What the stand-in saw, in order.
enum Seen {
    /// The binary asked for its first event.
    Next,
    /// It answered the event: the body it posted.
    Response(Value),
    /// It reported an init or invocation error: the path and body.
    Error(String, String),
}

/// One HTTP/1.1 request: method, path, body.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((method, path, body))
}

fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}

/// Serves one connection of the binary: the first `next` gets `event`, later ones are held
/// open (the function waits for an event that never comes, until the bench stops it).
fn serve_connection(stream: TcpStream, event: Value, seen: mpsc::Sender<Seen>) {
    let mut writer = match stream.try_clone() {
        Ok(writer) => writer,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    let mut served = false;
    while let Some((method, path, body)) = read_request(&mut reader) {
        let text = String::from_utf8_lossy(&body).into_owned();
        match (method.as_str(), path.strip_prefix(PREFIX)) {
            ("GET", Some("/invocation/next")) if !served => {
                served = true;
                let _ = seen.send(Seen::Next);
                let deadline = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    + Duration::from_secs(60);
                let headers = [
                    ("Content-Type", "application/json".to_owned()),
                    ("Lambda-Runtime-Aws-Request-Id", "bench-1".to_owned()),
                    (
                        "Lambda-Runtime-Deadline-Ms",
                        deadline.as_millis().to_string(),
                    ),
                    (
                        "Lambda-Runtime-Invoked-Function-Arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:bench".to_owned(),
                    ),
                    (
                        "Lambda-Runtime-Trace-Id",
                        "Root=1-00000000-000000000000000000000000".to_owned(),
                    ),
                ];
                respond(
                    &mut writer,
                    "200 OK",
                    &headers,
                    event.to_string().as_bytes(),
                );
            }
            ("GET", Some("/invocation/next")) => {
                // Held: the process is stopped while it waits here.
                thread::sleep(RUN_LIMIT);
                return;
            }
            ("POST", Some(rest)) if rest.ends_with("/response") => {
                let _ = seen.send(Seen::Response(
                    serde_json::from_str(&text).unwrap_or(Value::String(text)),
                ));
                respond(&mut writer, "202 Accepted", &[], b"{}");
            }
            ("POST", Some(rest)) if rest.ends_with("/error") => {
                let _ = seen.send(Seen::Error(path.clone(), text));
                respond(&mut writer, "202 Accepted", &[], b"{}");
            }
            _ => {
                let _ = seen.send(Seen::Error(format!("{method} {path}"), text));
                respond(&mut writer, "404 Not Found", &[], b"{}");
            }
        }
    }
}

/// One cold start of `binary` as `role` handling `event`: (ms to the first `next`, ms to the
/// response), after checking the response with `check`.
fn cold_start(
    binary: &Path,
    role: &str,
    event: &Value,
    check: Check,
) -> Result<(f64, f64), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let (sender, seen) = mpsc::channel();
    let event = event.clone();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (event, sender) = (event.clone(), sender.clone());
            thread::spawn(move || serve_connection(stream, event, sender));
        }
    });
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", format!("order-service-{role}"))
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("EVENTUAL_SERVICE", "order-service")
        .env("EVENTUAL_ROLE", role)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    let mut ready = None;
    let outcome = loop {
        let left = RUN_LIMIT.saturating_sub(started.elapsed());
        match seen.recv_timeout(left) {
            Ok(Seen::Next) => ready = Some(started.elapsed()),
            Ok(Seen::Response(body)) => {
                let handled = started.elapsed();
                break if check(&body) {
                    Ok((ms(ready.unwrap_or(handled)), ms(handled)))
                } else {
                    Err(format!("{role}: unexpected response {body}"))
                };
            }
            Ok(Seen::Error(path, body)) => break Err(format!("{role}: {path}: {body}")),
            Err(_) => break Err(format!("{role}: no response within {RUN_LIMIT:?}")),
        }
    };
    let _ = child.kill();
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    outcome.map_err(|error| {
        format!(
            "{error}\nstderr of the binary:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Builds `order-service-aws` (feature `aws` only: the Lambda package) in the release profile
/// and returns its path.
fn build_binary() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let output = Command::new(cargo)
        .args(["build", "--release", "--manifest-path"])
        .arg(&manifest)
        .args([
            "-p",
            "order-service",
            "--features",
            "aws",
            "--bin",
            "order-service-aws",
            "--message-format=json-render-diagnostics",
        ])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err("cargo build of order-service-aws failed".into());
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| message["target"]["name"] == "order-service-aws")
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo named no executable for order-service-aws".into())
}

fn api_answered(body: &Value) -> bool {
    body["statusCode"] == 200
}

fn batch_answered(body: &Value) -> bool {
    body["batchItemFailures"]
        .as_array()
        .is_some_and(|failures| failures.is_empty())
}

fn main() -> Result<(), String> {
    let mut binary = None;
    let mut runs = 5usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--binary" => binary = args.next().map(PathBuf::from),
            "--runs" => {
                runs = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--runs takes a positive number")?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let binary = match binary {
        Some(binary) => binary,
        None => build_binary()?,
    };
    let binary_bytes = std::fs::metadata(&binary)
        .map_err(|e| format!("{}: {e}", binary.display()))?
        .len();
    println!("binary: {} ({binary_bytes} bytes)", binary.display());
    let health = eventual_aws::api::gateway::request_event("GET", "/_eventual/health", None);
    let empty_batch = json!({ "Records": [] });
    let roles = [
        ("api", &health, api_answered as Check),
        ("orchestrator", &empty_batch, batch_answered),
        ("timer", &empty_batch, batch_answered),
    ];
    let mut slowest: f64 = 0.0;
    for (role, event, check) in roles {
        let mut ready = Vec::new();
        let mut handled = Vec::new();
        for _ in 0..runs {
            let (to_next, to_response) = cold_start(&binary, role, event, check)?;
            ready.push(to_next);
            handled.push(to_response);
        }
        let handled_ms = median(handled);
        println!(
            "role={role} runs={runs} ready_ms={:.1} first_event_ms={handled_ms:.1}",
            median(ready)
        );
        slowest = slowest.max(handled_ms);
    }
    println!("binary_bytes={binary_bytes} init_ms={slowest:.1}");
    Ok(())
}
