//! The embedded local engine: durable on SQLite, one process, no services to install.
//!
//! - [`store`]: the database (WAL, `synchronous = FULL`);
//! - `writer`: the single writer thread, committing batches together (group commit);
//! - `core`: the thread that owns live executions and acts only on committed state;
//! - `worker`: task attempts and handler deliveries on a tokio runtime;
//! - `adapter`: the engine as a [`ServiceApi`](crate::engine::api::ServiceApi) (served by
//!   [`api::http`](crate::engine::api::http)) and an [`Engine`](crate::engine::Engine);
//! - [`cli`]: the command line of a service binary: `serve`, and the engine-neutral commands
//!   of [`crate::cli`].
//!
//! ```no_run
//! use eventual_runtime::engine::local::{EngineConfig, LocalEngine};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = LocalEngine::open(EngineConfig::new("orders.db"))?;
//! engine.serve("127.0.0.1:8080".parse()?).await?;
//! # Ok(()) }
//! ```

mod adapter;
pub mod cli;
mod core;
mod metrics;
pub mod store;
mod worker;
mod writer;

pub use crate::engine::api::serve::ServeOptions;
pub use crate::engine::api::{ExecutionPage, ExecutionRow, ListFilter, Started};
pub use store::StoreError;

use self::core::{Core, CoreMsg, Reply, ScheduleRequest};
use self::metrics::LocalMetrics;
use self::writer::Written;
use crate::engine::client::StartExecution;
use crate::engine::kernel::delivery::DeadLetter;
use crate::engine::kernel::entity::{Append, AppendError};
use crate::engine::kernel::update::{self, SendUpdate, UpdateReply};
use crate::engine::router::Router;
use crate::engine::{Durability, ServiceError};
use crate::entity::{
    CommandReply, Entities, Entity, EntityRunner, EntityStore, Loaded, StoredEvent,
};
use crate::error::Failure;
use crate::event::OutgoingEvent;
use crate::schedule::{ScheduleInfo, ScheduleSpec};
use crate::task::{CompletionToken, TokenSigner};
use crate::time::Timestamp;
use crate::workflow::command::Outcome;
use crate::workflow::history::{HistoryEvent, RunLink};
use crate::workflow::InboxEvent;
use futures::future::BoxFuture;
use rusqlite::Connection;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// Why the engine could not open. Calls on an open engine fail with a
/// [`ServiceError`], as on every engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The engine could not start (threads, runtime, or a subscription's pattern).
    #[error("the engine cannot start: {0}")]
    Startup(String),
    /// The file is not an eventual-rs database (another program's, or not SQLite at all); it
    /// is left untouched.
    #[error("{0}")]
    ForeignDatabase(String),
}

/// Where and how to run the engine.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The database file.
    pub database: PathBuf,
    /// Worker threads for tasks, handlers and the HTTP API.
    pub worker_threads: usize,
    /// When side effects may begin relative to the commit of their step (default: strict).
    pub durability: Durability,
    /// The largest the database may grow, in bytes (default: no limit). At the limit, a
    /// request that needs a commit is refused with a 503 until the limit is raised
    /// ([`EngineHandle::set_max_database_bytes`]) or data is removed, as on a full disk.
    pub max_database_bytes: Option<u64>,
    /// How long an ended execution and its history are kept when its workflow does not say
    /// (`#[workflow(retention = "30d")]`); `None` (the default) keeps them.
    pub retention: Option<std::time::Duration>,
    /// How many running executions keep their replayed workflow in memory (default 2,000).
    /// Beyond, the least recently stepped ones are evicted and replayed from their history when
    /// an event arrives: memory stays bounded however many executions wait.
    pub max_resident_executions: usize,
}

impl EngineConfig {
    /// A configuration with the database at `database`.
    pub fn new(database: impl Into<PathBuf>) -> Self {
        EngineConfig {
            database: database.into(),
            worker_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            durability: Durability::default(),
            max_database_bytes: None,
            retention: None,
            max_resident_executions: core::MAX_RESIDENT,
        }
    }

    /// The same configuration keeping at most `max` executions resident in memory.
    pub fn with_max_resident_executions(mut self, max: usize) -> Self {
        self.max_resident_executions = max;
        self
    }

    /// The same configuration keeping ended executions for `retention` by default.
    pub fn with_retention(mut self, retention: std::time::Duration) -> Self {
        self.retention = Some(retention);
        self
    }

    /// The same configuration with a size limit of `bytes`.
    pub fn with_max_database_bytes(mut self, bytes: u64) -> Self {
        self.max_database_bytes = Some(bytes);
        self
    }

    /// The same configuration with `durability`.
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }
}

/// A running engine. Dropping it stops the engine after the last commit.
pub struct LocalEngine {
    handle: EngineHandle,
    entities: Arc<EntityRunner>,
    runtime: Option<tokio::runtime::Runtime>,
    threads: Vec<JoinHandle<()>>,
}

/// A cheap, clonable handle to call the engine.
#[derive(Clone)]
pub struct EngineHandle {
    core: Sender<CoreMsg>,
    database: PathBuf,
    readers: Arc<Mutex<Vec<Connection>>>,
    commits: Arc<AtomicU64>,
    size_limit: writer::SizeLimit,
    metrics: Arc<LocalMetrics>,
}

impl LocalEngine {
    /// Opens (or creates) the database, recovers unfinished work and starts the engine.
    pub fn open(config: EngineConfig) -> Result<Self, EngineError> {
        store::check_identity(&config.database).map_err(EngineError::ForeignDatabase)?;
        let connection = store::open_writer(&config.database)?;
        let signer = TokenSigner::new(&store::token_key(&connection)?);
        let recovered = store::recover(&connection)?;
        let router = Router::from_registry().map_err(|(name, error)| {
            EngineError::Startup(format!(
                "subscription `{name}` has an invalid pattern: {error}"
            ))
        })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.worker_threads.max(1))
            .thread_name("eventual-worker")
            .enable_all()
            .build()
            .map_err(|error| EngineError::Startup(format!("cannot start the runtime: {error}")))?;
        let (core_tx, core_rx) = mpsc::channel();
        let (batch_tx, batch_rx) = mpsc::channel();
        let committed_tx = core_tx.clone();
        let commits = Arc::new(AtomicU64::new(0));
        let counted = commits.clone();
        let size_limit = Arc::new(AtomicU64::new(config.max_database_bytes.unwrap_or(0)));
        let metrics = Arc::new(LocalMetrics::default());
        let writer_metrics = metrics.clone();
        let writer = writer::spawn(
            connection,
            batch_rx,
            size_limit.clone(),
            writer_metrics,
            move |written| {
                let _ = committed_tx.send(match written {
                    Written::Committed(commit) => {
                        if commit.wrote {
                            counted.fetch_add(1, Ordering::Relaxed);
                        }
                        CoreMsg::Committed(commit.last_batch)
                    }
                    Written::Stalled(error) => CoreMsg::CommitStalled(error.to_string()),
                    Written::Failed(error) => CoreMsg::CommitFailed(error.to_string()),
                });
            },
        )
        .map_err(|error| EngineError::Startup(format!("cannot start the writer: {error}")))?;
        let handle = EngineHandle {
            core: core_tx.clone(),
            database: config.database.clone(),
            readers: Arc::default(),
            commits,
            size_limit,
            metrics: metrics.clone(),
        };
        let entities = EntityRunner::new(Arc::new(handle.clone()));
        let workers = worker::Workers::new(
            runtime.handle().clone(),
            core_tx,
            Arc::new(entities.clone()),
        );
        let reader = store::open_reader(&config.database)?;
        let mut core = Core::new(router, signer, batch_tx, workers, reader, config.durability)
            .with_retention(config.retention)
            .with_max_resident(config.max_resident_executions)
            .with_metrics(metrics.clone());
        core.recover(recovered);
        let core_thread = std::thread::Builder::new()
            .name("eventual-core".to_owned())
            .spawn(move || core.run(core_rx))
            .map_err(|error| EngineError::Startup(format!("cannot start the core: {error}")))?;
        Ok(LocalEngine {
            entities,
            handle,
            runtime: Some(runtime),
            threads: vec![core_thread, writer],
        })
    }

    /// A handle to call the engine.
    pub fn handle(&self) -> EngineHandle {
        self.handle.clone()
    }

    /// Entity `id` of type `E`: its methods send commands, whose events are appended with
    /// their outbox in one commit.
    pub fn entity<E: Entity>(&self, id: impl Into<String>) -> E::Ref {
        Entities::<E>::new(Arc::new(self.entities.clone()), "client").get(id)
    }

    /// The runner of this engine's entity commands.
    pub fn entity_runner(&self) -> Arc<EntityRunner> {
        self.entities.clone()
    }

    /// The engine's tokio runtime (tasks, handlers and the HTTP API run on it).
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        match &self.runtime {
            Some(runtime) => runtime.handle(),
            None => unreachable!("the runtime lives as long as the engine"),
        }
    }

    /// Serves the internal HTTP API alone on `address` until the process ends: [`serve_with`]
    /// with no routes of the service's own and the default options.
    ///
    /// [`serve_with`]: LocalEngine::serve_with
    pub async fn serve(&self, address: std::net::SocketAddr) -> std::io::Result<()> {
        let user_routes = crate::api::routes::routes(Arc::new(self.handle()));
        self.serve_with(address, user_routes, &ServeOptions::default())
            .await
    }

    /// Serves the service on `address` until the process ends: `user_routes` own the URL
    /// space, the internal API lives under `/_eventual`, and `options` guard both (see
    /// [`service_router`](crate::engine::api::serve::service_router)). Before binding, refuses
    /// what [`ServeOptions::check`] refuses (an open internal API off loopback, …).
    pub async fn serve_with(
        &self,
        address: std::net::SocketAddr,
        user_routes: axum::Router,
        options: &ServeOptions,
    ) -> std::io::Result<()> {
        crate::engine::api::serve::serve(Arc::new(self.handle()), address, user_routes, options)
            .await
    }
}

impl Drop for LocalEngine {
    fn drop(&mut self) {
        let _ = self.handle.core.send(CoreMsg::Shutdown);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl EngineHandle {
    /// The engine's metrics in the OpenMetrics text format (served at `/_eventual/metrics`):
    /// executions started and ended per workflow, step latency, task attempts and retries,
    /// deliveries and dead letters, timer lateness, and writes and fsync time per commit.
    pub fn metrics_text(&self) -> String {
        self.metrics.encode()
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> CoreMsg) -> Result<T, ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.core.send(make(reply)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Starts an execution; with `execution_name`, starting it again returns the same one.
    /// Returns once the start is on disk.
    pub async fn start(&self, request: StartExecution) -> Result<Started, ServiceError> {
        self.call(|reply| CoreMsg::Start(request, reply)).await
    }

    /// Sends a signal; returns once it is on disk. `id` drops duplicates.
    pub async fn signal(
        &self,
        execution_id: &str,
        name: &str,
        payload: Value,
        id: Option<String>,
    ) -> Result<(), ServiceError> {
        let event = InboxEvent::Signal {
            name: name.to_owned(),
            payload,
            id,
        };
        self.send_inbox(execution_id, event).await
    }

    /// Asks an execution to cancel.
    pub async fn cancel(
        &self,
        execution_id: &str,
        reason: Option<String>,
    ) -> Result<(), ServiceError> {
        self.send_inbox(execution_id, InboxEvent::Cancel { reason })
            .await
    }

    /// Ends an execution at once, without compensations; returns once it is on disk.
    pub async fn terminate(
        &self,
        execution_id: &str,
        reason: Option<String>,
    ) -> Result<(), ServiceError> {
        self.send_inbox(execution_id, InboxEvent::Terminate { reason })
            .await
    }

    /// Sends an update and waits (at most `update.wait()`) for the workflow's verdict, told by
    /// the core once the verdict is on disk. An update whose verdict is already committed is
    /// answered again without sending anything.
    pub async fn update(
        &self,
        execution_id: &str,
        update: SendUpdate,
    ) -> Result<UpdateReply, ServiceError> {
        update.check()?;
        let update_id = update.id(fresh_update_id);
        let runs = self.run_histories(execution_id)?;
        let known = update::status_in_runs(runs.iter().map(Vec::as_slice), &update_id);
        let ended = self.execution(execution_id)?.status.is_terminal();
        if let Some(reply) = update::before_sending(execution_id, &update_id, known, ended)? {
            return Ok(reply);
        }
        let (reply, answer) = oneshot::channel();
        self.core
            .send(CoreMsg::Update {
                execution_id: execution_id.to_owned(),
                update_id: update_id.clone(),
                event: update.to_inbox(&update_id),
                wait: update.wait(),
                reply,
            })
            .map_err(|_| stopped())?;
        let status = answer.await.map_err(|_| stopped())??;
        Ok(UpdateReply { update_id, status })
    }

    async fn send_inbox(&self, execution_id: &str, event: InboxEvent) -> Result<(), ServiceError> {
        self.call(|reply| CoreMsg::Inbox {
            execution_id: execution_id.to_owned(),
            event,
            reply,
        })
        .await
    }

    /// Publishes events; returns their ids once they are on disk.
    pub async fn publish(
        &self,
        events: Vec<OutgoingEvent>,
        correlation_id: Option<String>,
    ) -> Result<Vec<String>, ServiceError> {
        self.call(|reply| CoreMsg::Publish(events, correlation_id, reply))
            .await
    }

    /// Completes a task attempt that deferred its result; `Ok(false)` if it had ended.
    pub async fn complete_task(
        &self,
        token: CompletionToken,
        result: Result<Value, Failure>,
    ) -> Result<bool, ServiceError> {
        self.call(|reply| CoreMsg::CompleteTask(token, result, reply))
            .await
    }

    /// Waits for an execution to end.
    pub async fn wait(&self, execution_id: &str) -> Result<Outcome, ServiceError> {
        self.call(|reply| CoreMsg::Watch(execution_id.to_owned(), reply))
            .await
    }

    /// Starts an execution and waits for its end.
    pub async fn execute(
        &self,
        workflow: &str,
        input: Value,
    ) -> Result<(Started, Outcome), ServiceError> {
        let started = self
            .start(StartExecution {
                workflow: workflow.to_owned(),
                execution_name: None,
                input,
                correlation_id: None,
            })
            .await?;
        let outcome = self.wait(&started.execution_id).await?;
        Ok((started, outcome))
    }

    /// Takes dead letters (all, or the one with `id`) out of the queue and delivers them again.
    pub async fn redrive(&self, id: Option<&str>) -> Result<usize, ServiceError> {
        let entries: Vec<DeadLetter> = self
            .dead_letters()?
            .into_iter()
            .filter(|entry| id.is_none_or(|id| entry.id == id))
            .collect();
        if let Some(id) = id {
            if entries.is_empty() {
                return Err(ServiceError::NotFound(id.to_owned()));
            }
        }
        self.call(|reply| CoreMsg::Redrive(entries, reply)).await
    }

    async fn schedule_call<T>(
        &self,
        make: impl FnOnce(Reply<T>) -> ScheduleRequest,
    ) -> Result<T, ServiceError> {
        self.call(|reply| CoreMsg::Schedule(make(reply))).await
    }

    /// Creates a schedule; returns it, with its first firing, once it is on disk.
    pub async fn create_schedule(&self, spec: ScheduleSpec) -> Result<ScheduleInfo, ServiceError> {
        self.schedule_call(|reply| ScheduleRequest::Create(spec, reply))
            .await
    }

    /// Every schedule, static and created, by name.
    pub async fn schedules(&self) -> Result<Vec<ScheduleInfo>, ServiceError> {
        self.schedule_call(ScheduleRequest::List).await
    }

    /// Stops a schedule from firing until it is resumed.
    pub async fn pause_schedule(&self, name: &str) -> Result<ScheduleInfo, ServiceError> {
        self.schedule_call(|reply| ScheduleRequest::Pause(name.to_owned(), reply))
            .await
    }

    /// Lets a paused schedule fire again from its next firing after now (no catch-up).
    pub async fn resume_schedule(&self, name: &str) -> Result<ScheduleInfo, ServiceError> {
        self.schedule_call(|reply| ScheduleRequest::Resume(name.to_owned(), reply))
            .await
    }

    /// Deletes a schedule created at runtime.
    pub async fn delete_schedule(&self, name: &str) -> Result<(), ServiceError> {
        self.schedule_call(|reply| ScheduleRequest::Delete(name.to_owned(), reply))
            .await
    }

    fn read<T>(
        &self,
        query: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, ServiceError> {
        let pooled = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let connection = match pooled {
            Some(connection) => connection,
            None => store::open_reader(&self.database)?,
        };
        let result = query(&connection);
        self.readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(connection);
        Ok(result?)
    }

    /// The committed events of entity `entity_type/id` from version `from` on.
    pub fn entity_events(
        &self,
        entity_type: &str,
        id: &str,
        from: u64,
    ) -> Result<Vec<StoredEvent>, ServiceError> {
        self.read(|c| store::entity_events(c, entity_type, id, from))
    }

    /// An execution as committed.
    pub fn execution(&self, id: &str) -> Result<ExecutionRow, ServiceError> {
        self.read(|c| store::execution(c, id))?
            .ok_or_else(|| ServiceError::NotFound(id.to_owned()))
    }

    /// An execution's committed history: its current run's (the one
    /// `GET /_eventual/executions/{id}/history` serves).
    pub fn history(&self, id: &str) -> Result<Vec<HistoryEvent>, ServiceError> {
        self.execution(id)?;
        self.read(|c| store::history(c, id))
    }

    /// The committed history of run `run_id` of an execution: the current run, or one that
    /// continued as new.
    pub fn run_history(&self, id: &str, run_id: &str) -> Result<Vec<HistoryEvent>, ServiceError> {
        let current = self.history(id)?;
        if RunLink::of_history(&current).is_some_and(|run| run.run_id() == run_id) {
            return Ok(current);
        }
        let earlier = self.read(|c| store::run_history(c, id, run_id))?;
        if earlier.is_empty() {
            return Err(ServiceError::NotFound(format!(
                "run `{run_id}` of execution `{id}`"
            )));
        }
        Ok(earlier)
    }

    /// The committed history of every run of an execution, oldest first: the runs that
    /// continued as new (kept in the `run_history` table), then the current one.
    pub fn run_histories(&self, id: &str) -> Result<Vec<Vec<HistoryEvent>>, ServiceError> {
        self.execution(id)?;
        self.read(|c| {
            let mut runs = store::earlier_runs(c, id)?
                .iter()
                .map(|run_id| store::run_history(c, id, run_id))
                .collect::<Result<Vec<_>, _>>()?;
            runs.push(store::history(c, id)?);
            Ok(runs)
        })
    }

    /// A page of executions.
    pub fn list(&self, filter: &ListFilter) -> Result<ExecutionPage, ServiceError> {
        self.read(|c| store::list(c, filter))
    }

    /// The dead-letter queue.
    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, ServiceError> {
        self.read(store::dead_letters)
    }

    /// Changes the database's size limit ([`EngineConfig::max_database_bytes`]); `None` lifts
    /// it. Commits held back by the old limit land on the writer's next retry.
    pub fn set_max_database_bytes(&self, bytes: Option<u64>) {
        self.size_limit.store(bytes.unwrap_or(0), Ordering::Relaxed);
    }

    /// Transactions that wrote something, since the engine opened: with WAL and
    /// `synchronous = FULL` each is one fsync of the log (checkpoints add a few more).
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// The database file.
    pub fn database(&self) -> &Path {
        &self.database
    }
}

/// An update id unique across processes: this process's start, and a counter.
fn fresh_update_id() -> String {
    static PROCESS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let process = PROCESS.get_or_init(|| crate::time::Timestamp::wall_clock().as_millis());
    format!("{process:x}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn stopped() -> ServiceError {
    ServiceError::Unavailable("the engine has stopped".to_owned())
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        ServiceError::Internal(error.to_string())
    }
}

/// The local engine stores entities in its database: reads on a pooled reader, appends
/// through the core, in its group commit, with their outbox.
impl EntityStore for EngineHandle {
    fn load<'a>(
        &'a self,
        entity_type: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Loaded, String>> {
        let loaded = self
            .read(|c| store::entity_load(c, entity_type, id))
            .map_err(|error| error.to_string());
        Box::pin(async move { loaded })
    }

    fn recorded<'a>(
        &'a self,
        entity_type: &'a str,
        id: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<CommandReply>, String>> {
        let recorded = self
            .read(|c| store::entity_recorded(c, entity_type, id, key))
            .map_err(|error| error.to_string());
        Box::pin(async move { recorded })
    }

    fn append(&self, append: Append) -> BoxFuture<'_, Result<(), AppendError>> {
        Box::pin(async move {
            match self
                .call(|reply| CoreMsg::EntityAppend(Box::new(append), reply))
                .await
            {
                Ok(Ok(())) => Ok(()),
                Ok(Err(current)) => Err(AppendError::Conflict { current }),
                Err(error) => Err(AppendError::Store(error.to_string())),
            }
        })
    }

    fn now(&self) -> Timestamp {
        Timestamp::wall_clock()
    }
}
