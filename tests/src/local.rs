//! Helpers of the local-engine tests (`tests/tests/local_*.rs`): an HTTP client of the engine's
//! API, the API served in-process on a free port, service binaries run as child processes.

use eventual_runtime::api::routes::routes;
use eventual_runtime::engine::api::serve::service_router;
use eventual_runtime::engine::local::{EngineConfig, EngineHandle, LocalEngine, ServeOptions};
use serde_json::Value;
use std::ffi::{OsStr, OsString};
use std::io::BufRead;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
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

/// A response: status code, headers and JSON body (`Null` when the body is not JSON).
#[derive(Clone, Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: ureq::http::HeaderMap,
    /// The body.
    pub body: Value,
}

/// Asserts an error answer of the API: its status, its `error.kind`, and a message that names
/// `names`.
pub fn assert_error(reply: &Reply, status: u16, kind: &str, names: &str) {
    assert_eq!(reply.status, status, "{:?}", reply.body);
    assert_eq!(reply.body["error"]["kind"], kind, "{:?}", reply.body);
    let message = reply.body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(names),
        "message `{message}` does not name `{names}`"
    );
}

impl Reply {
    /// The first value of header `name`, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
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
    /// `Bearer <token>`, sent with every request when set.
    authorization: Option<String>,
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
            authorization: None,
        }
    }

    /// The same client sending `Authorization: Bearer <token>` with every request.
    pub fn with_bearer_token(mut self, token: &str) -> Self {
        self.authorization = Some(format!("Bearer {token}"));
        self
    }

    /// `method path` with `headers` and, if given, a body; or the transport error.
    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Reply, String> {
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(authorization) = &self.authorization {
            request = request.header("authorization", authorization);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = match body {
            Some(body) => self
                .agent
                .run(request.body(body).map_err(|e| e.to_string())?),
            None => self.agent.run(request.body(()).map_err(|e| e.to_string())?),
        };
        let mut response = response.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// `method path` with `headers` and, if given, a body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        self.try_request(method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// `GET path`, or the transport error.
    pub fn try_get(&self, path: &str) -> Result<Reply, String> {
        self.try_request("GET", path, &[], None)
    }

    /// `POST path` with a raw JSON body, or the transport error.
    pub fn try_post_raw(&self, path: &str, body: &str) -> Result<Reply, String> {
        let json = [("content-type", "application/json")];
        self.try_request("POST", path, &json, Some(body.as_bytes()))
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
        Self::open(configure, None, &ServeOptions::default())
    }

    /// [`start`](InProcess::start) serving `user_routes` beside the internal API, with
    /// `options`, as `serve` does.
    pub fn start_serving(user_routes: axum::Router, options: &ServeOptions) -> Self {
        Self::open(|config| config, Some(user_routes), options)
    }

    fn open(
        configure: impl FnOnce(EngineConfig) -> EngineConfig,
        // `None`: the registry's `#[api]` routes.
        user_routes: Option<axum::Router>,
        options: &ServeOptions,
    ) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let config = configure(EngineConfig::new(dir.path().join("engine.db")));
        let engine = LocalEngine::open(config).expect("the engine opens");
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.set_nonblocking(true).expect("non-blocking");
        let address = listener.local_addr().expect("an address");
        let service: std::sync::Arc<dyn eventual_runtime::engine::api::ServiceApi> =
            std::sync::Arc::new(engine.handle());
        let user_routes = user_routes.unwrap_or_else(|| routes(service.clone()));
        let router = service_router(service, user_routes, options);
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
    pub fn start(binary: &Path, db: &Path, port: u16, envs: &[(&str, &OsStr)]) -> Self {
        let mut command = ServeCommand::new(binary, db, port);
        for (key, value) in envs {
            command = command.env(*key, *value);
        }
        command.start()
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

/// How long a child service may take to come up, or to refuse to.
const CHILD_START: Duration = Duration::from_secs(30);

/// The `serve` command line of a service binary, run as a child process: listening on
/// `127.0.0.1:port` unless told another host, always reached on 127.0.0.1. The variables of
/// `serve`'s guard options are cleared, so the test's own environment cannot change them.
pub struct ServeCommand {
    binary: PathBuf,
    db: PathBuf,
    host: String,
    port: u16,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    api_token: Option<String>,
}

impl ServeCommand {
    /// `binary serve --db db --listen 127.0.0.1:port`.
    pub fn new(binary: &Path, db: &Path, port: u16) -> Self {
        ServeCommand {
            binary: binary.to_owned(),
            db: db.to_owned(),
            host: "127.0.0.1".to_owned(),
            port,
            args: Vec::new(),
            envs: Vec::new(),
            api_token: None,
        }
    }

    /// Listens on `host` (`0.0.0.0`, `127.0.0.2`, …) instead of 127.0.0.1.
    pub fn listen_on(mut self, host: &str) -> Self {
        self.host = host.to_owned();
        self
    }

    /// One more argument of `serve`.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// A variable of the child's environment.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// `--api-token token`; the server's client then sends it.
    pub fn api_token(mut self, token: &str) -> Self {
        self.api_token = Some(token.to_owned());
        self.arg("--api-token").arg(token)
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .arg("serve")
            .arg("--db")
            .arg(&self.db)
            .arg("--listen")
            .arg(format!("{}:{}", self.host, self.port))
            .args(&self.args)
            .env("RUST_LOG", "warn")
            .env_remove("EVENTUAL_API_TOKEN")
            .env_remove("EVENTUAL_LEGACY_URL")
            .envs(self.envs.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null());
        command
    }

    /// Starts the service and waits for its `/health`.
    pub fn start(self) -> ChildServer {
        let child = self
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the service starts");
        let mut api = Api::internal(
            &format!("http://127.0.0.1:{}", self.port),
            Duration::from_secs(10),
        );
        if let Some(token) = &self.api_token {
            api = api.with_bearer_token(token);
        }
        let mut server = ChildServer {
            child,
            api,
            port: self.port,
        };
        let deadline = Instant::now() + CHILD_START;
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

    /// Runs a `serve` that must refuse to start; returns its output. Panics if it is still
    /// running after a while (it serves: killed first).
    pub fn refused(self) -> Output {
        let mut child = self
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the service starts");
        let deadline = Instant::now() + CHILD_START;
        while child.try_wait().expect("the child's status").is_none() {
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`serve` did not refuse to start: it is still running");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let output = child.wait_with_output().expect("the child's output");
        assert!(
            !output.status.success(),
            "`serve` exited with success instead of refusing"
        );
        output
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        self.kill();
    }
}
