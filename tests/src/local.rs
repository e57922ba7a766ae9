//! Helpers of the local-engine tests (`tests/tests/local_*.rs`): an HTTP client of the engine's
//! API, the API served in-process on a free port, service binaries run as child processes.

use eventual_runtime::engine::local::{EngineConfig, EngineHandle, LocalEngine};
use serde_json::Value;
use std::io::BufRead;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Polls `check` every few milliseconds until it returns `Some` or `timeout` passes.
pub fn poll<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A free port on 127.0.0.1 (bound and released: good enough for a test's own server).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port on 127.0.0.1")
}

/// A response: status code and JSON body (`Null` when the body is not JSON).
#[derive(Clone, Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Value,
}

/// Where the internal API lives on a service's listener: a contract, written out here (not
/// taken from the runtime) so that moving it fails the tests.
pub const INTERNAL: &str = "/_eventual";

/// A blocking client of an HTTP API: paths are relative to `base`.
#[derive(Clone)]
pub struct Api {
    /// `http://127.0.0.1:PORT`, or with [`INTERNAL`] after it.
    pub base: String,
    agent: ureq::Agent,
}

impl Api {
    /// A client of the internal API of the service at `origin` (`http://127.0.0.1:PORT`).
    pub fn internal(origin: &str, timeout: Duration) -> Self {
        Api::new(
            format!("{}{INTERNAL}", origin.trim_end_matches('/')),
            timeout,
        )
    }

    /// The service's origin (`http://127.0.0.1:PORT`): what the CLI's `--url` takes.
    pub fn origin(&self) -> &str {
        self.base.strip_suffix(INTERNAL).unwrap_or(&self.base)
    }

    /// A client of the API at `base`, each request bounded by `timeout`.
    pub fn new(base: impl Into<String>, timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build()
            .into();
        Api {
            base: base.into(),
            agent,
        }
    }

    fn answer(
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Reply, String> {
        let mut response = response.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Reply { status, body })
    }

    /// `GET path`, or the transport error.
    pub fn try_get(&self, path: &str) -> Result<Reply, String> {
        Self::answer(self.agent.get(format!("{}{path}", self.base)).call())
    }

    /// `POST path` with a raw body, or the transport error.
    pub fn try_post_raw(&self, path: &str, body: &str) -> Result<Reply, String> {
        Self::answer(
            self.agent
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/json")
                .send(body),
        )
    }

    /// `METHOD path`, with `body` as JSON when there is one, or the transport error.
    pub fn try_send(&self, method: &str, path: &str, body: Option<&str>) -> Result<Reply, String> {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        let response = match body {
            Some(body) => self.agent.run(
                request
                    .header("content-type", "application/json")
                    .body(body)
                    .map_err(|e| e.to_string())?,
            ),
            None => self.agent.run(request.body(()).map_err(|e| e.to_string())?),
        };
        Self::answer(response)
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Reply {
        self.try_get(path)
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.post_raw(path, &body.to_string())
    }

    /// `POST path` with a raw body.
    pub fn post_raw(&self, path: &str, body: &str) -> Reply {
        self.try_post_raw(path, body)
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// Every execution (all pages), optionally of one workflow.
    pub fn all_executions(&self, workflow: Option<&str>) -> Vec<Value> {
        let mut rows = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut path = "/executions?limit=1000".to_owned();
            if let Some(workflow) = workflow {
                path.push_str(&format!("&workflow={workflow}"));
            }
            if let Some(token) = &token {
                path.push_str(&format!("&next_token={}", encode(token)));
            }
            let reply = self.get(&path);
            assert_eq!(reply.status, 200, "{path}: {:?}", reply.body);
            rows.extend(
                reply.body["executions"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            );
            match reply.body["next_token"].as_str() {
                Some(next) => token = Some(next.to_owned()),
                None => return rows,
            }
        }
    }

    /// Polls an execution until its status is not `running`; returns its row.
    pub fn wait_ended(&self, id: &str, timeout: Duration) -> Value {
        poll(timeout, &format!("execution {id} to end"), || {
            let reply = self.get(&format!("/executions/{}", encode(id)));
            (reply.status == 200 && reply.body["status"] != "running").then_some(reply.body)
        })
    }

    /// An execution's history events.
    pub fn history(&self, id: &str) -> Vec<Value> {
        let reply = self.get(&format!("/executions/{}/history", encode(id)));
        assert_eq!(reply.status, 200, "history of {id}: {:?}", reply.body);
        reply.body["events"].as_array().cloned().unwrap_or_default()
    }
}

pub use eventual_runtime::cli::encode;

/// The `type` of every history event, in order.
pub fn event_types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The engine opened in-process on a temp-dir database, its API served on a free port.
pub struct InProcess {
    /// The API's address.
    pub address: SocketAddr,
    /// A client of the API.
    pub api: Api,
    engine: Option<LocalEngine>,
    dir: tempfile::TempDir,
}

impl InProcess {
    /// Opens a fresh database and serves the API.
    pub fn start() -> Self {
        Self::start_with(|config| config)
    }

    /// [`start`](InProcess::start) with the configuration that `configure` makes of the
    /// default one.
    pub fn start_with(configure: impl FnOnce(EngineConfig) -> EngineConfig) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let config = configure(EngineConfig::new(dir.path().join("engine.db")));
        let engine = LocalEngine::open(config).expect("the engine opens");
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.set_nonblocking(true).expect("non-blocking");
        let address = listener.local_addr().expect("an address");
        let service: std::sync::Arc<dyn eventual_runtime::engine::api::ServiceApi> =
            std::sync::Arc::new(engine.handle());
        let router = eventual_runtime::engine::api::http::router(service.clone())
            .merge(eventual_runtime::api::routes::routes(service));
        engine.runtime().spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
            let _ = axum::serve(listener, router).await;
        });
        let api = Api::internal(&format!("http://{address}"), Duration::from_secs(30));
        InProcess {
            address,
            api,
            engine: Some(engine),
            dir,
        }
    }

    /// A handle to call the engine directly.
    pub fn handle(&self) -> EngineHandle {
        self.engine.as_ref().map(LocalEngine::handle).expect("open")
    }

    /// The temp dir of the database.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        drop(self.engine.take());
    }
}

/// Builds a binary of the workspace (once per process) with the cargo, target dir and
/// profile of the running test, and returns its path. `target` is `--bin NAME` or
/// `--example NAME`.
pub fn cargo_binary(package: &str, kind: &str, name: &str) -> PathBuf {
    cargo_binary_with_features(package, kind, name, &[])
}

/// [`cargo_binary`] with cargo features of `package` enabled.
pub fn cargo_binary_with_features(
    package: &str,
    kind: &str,
    name: &str,
    features: &[&str],
) -> PathBuf {
    static BUILT: OnceLock<Mutex<Vec<(String, PathBuf)>>> = OnceLock::new();
    let key = format!("{package}/{kind}/{name}/{}", features.join(","));
    let built = BUILT.get_or_init(Mutex::default);
    let mut built = built.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, path)) = built.iter().find(|(k, _)| *k == key) {
        return path.clone();
    }
    // The test runs as <target>/<profile>/deps/<test>-<hash>.
    let exe = std::env::current_exe().expect("the test's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("<target>/<profile>");
    let target_dir = profile_dir.parent().expect("<target>");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .join("Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .args(["-p", package, &format!("--{kind}"), name])
        .args(features.iter().flat_map(|feature| ["--features", feature]))
        .arg("--message-format=json-render-diagnostics")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        command.arg("--release");
    }
    let mut child = command.spawn().expect("cargo runs");
    let stdout = child.stdout.take().expect("piped");
    let mut path = None;
    for line in std::io::BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if message["reason"] == "compiler-artifact" && message["target"]["name"] == name {
            if let Some(executable) = message["executable"].as_str() {
                path = Some(PathBuf::from(executable));
            }
        }
    }
    let status = child.wait().expect("cargo ends");
    assert!(status.success(), "cargo build of {key} failed");
    let path = path.unwrap_or_else(|| panic!("cargo named no executable for {key}"));
    built.push((key, path.clone()));
    path
}

/// A service binary serving the API as a child process.
pub struct ChildServer {
    /// The running process.
    pub child: Child,
    /// A client of its API.
    pub api: Api,
    /// Its port.
    pub port: u16,
}

impl ChildServer {
    /// Runs `binary serve --db db --listen 127.0.0.1:port` with `envs` and waits for `/health`.
    pub fn start(binary: &Path, db: &Path, port: u16, envs: &[(&str, &Path)]) -> Self {
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .arg("--db")
            .arg(db)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (key, value) in envs {
            command.env(key, value);
        }
        let child = command.spawn().expect("the service starts");
        let api = Api::internal(&format!("http://127.0.0.1:{port}"), Duration::from_secs(10));
        let mut server = ChildServer { child, api, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("the service exited at start: {status}");
            }
            if server
                .api
                .try_get("/health")
                .is_ok_and(|reply| reply.status == 200)
            {
                return server;
            }
            assert!(Instant::now() < deadline, "the service did not come up");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Panics if the process has exited (it should only die by our hand).
    pub fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("the service died by itself: {status}");
        }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        self.kill();
    }
}
