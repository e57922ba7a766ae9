//! Crash campaigns against the local engine, shared by `tests/tests/local_crash.rs` (the
//! service is killed) and `tests/tests/local_power_loss.rs` (killed on a storage layer that
//! loses every write not yet synced).
//!
//! The `crash-service` binary (`examples/crash-service`) serves the API as a child process.
//! A client sends named starts of `crash_flow` (idempotent: a start whose answer a kill
//! swallowed is sent again later), publishes events and watches executions end, while the
//! campaign kills the process at points chosen from a seed over the engine's own progress:
//! when the number of task runs, or of handler runs, that the service's run log shows begun
//! reaches the next seeded threshold. Each kill therefore falls while work is under way, and
//! the run log's `begin`/`end` lines tell which runs it cut.
//!
//! After every kill, with no process running, the campaign reads the database and checks that
//! everything acknowledged survived: acknowledged starts exist, executions seen ended are
//! still ended with the same outcome, histories have no gap, and every event that was
//! acknowledged or committed is still to be delivered or was handled. After the last
//! restart it lets the work finish and checks the end state, run by run.

use crate::local::{cargo_binary, encode, free_port, Api, ChildServer};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The scheduling events of a history, by type: each opens the step of its `seq`.
pub const SCHEDULING: &[&str] = &[
    "TaskScheduled",
    "TimerScheduled",
    "EventsEmitted",
    "ChildWorkflowScheduled",
    "SignalSent",
    "ValueRecorded",
];

/// The history `crash_flow` must end with.
pub const EXPECTED_SHAPE: &[&str] = &[
    "WorkflowStarted",
    "TaskScheduled@0",
    "TaskSucceeded@0",
    "TimerScheduled@1",
    "TimerFired@1",
    "TaskScheduled@2",
    "TaskSucceeded@2",
    "EventsEmitted@3",
    "TaskScheduled@4",
    "TaskSucceeded@4",
    "WorkflowSucceeded",
];

/// `n` of the events the client publishes: above every execution's index, so that the
/// handler's log tells them from the events `crash_flow` emits.
const PUBLISHED_BASE: u64 = 1_000_000;

/// How long the engine may take to reach a kill point or to finish the work.
const PROGRESS_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the work may stand still at the end (no run begins or ends, the stored work and
/// the running executions do not change) before it is called stuck: far above the longest
/// timer of `crash_flow` (520 ms) and the retry delays.
const STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The name of execution `i`.
pub fn execution_name(i: usize) -> String {
    format!("crash-{i:04}")
}

/// `Type` or `Type@seq` of a history event.
pub fn label(event: &Value) -> String {
    let kind = event["type"].as_str().unwrap_or_default();
    match event["seq"].as_u64() {
        Some(seq) => format!("{kind}@{seq}"),
        None => kind.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// The run log

/// One run of service code, as the run log names it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Run {
    /// An attempt of the `bump` task.
    Task {
        execution: String,
        seq: u64,
        attempt: u64,
    },
    /// A run of the `CrashEmitted` handler for one event.
    Event { id: String, n: u64 },
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Run::Task {
                execution,
                seq,
                attempt,
            } => write!(f, "task attempt {execution}@{seq}#{attempt}"),
            Run::Event { id, n } => write!(f, "handler run for event {id} (n = {n})"),
        }
    }
}

/// A line of the run log: a run began, or its body is done.
#[derive(Clone, Debug)]
pub struct RunLine {
    /// `begin` (true) or `end`.
    pub begin: bool,
    /// Which run.
    pub run: Run,
}

impl RunLine {
    /// Parses `<begin|end>\t<task|event>\t...` (see `examples/crash-service`).
    pub fn parse(line: &str) -> RunLine {
        let fields: Vec<&str> = line.split('\t').collect();
        let number = |i: usize| -> u64 {
            fields[i]
                .parse()
                .unwrap_or_else(|_| panic!("run log line {line:?}: field {i} is not a number"))
        };
        let begin = match fields[0] {
            "begin" => true,
            "end" => false,
            _ => panic!("run log line {line:?}: neither begin nor end"),
        };
        let run = match (fields.get(1), fields.len()) {
            (Some(&"task"), 5) => Run::Task {
                execution: fields[2].to_owned(),
                seq: number(3),
                attempt: number(4),
            },
            (Some(&"event"), 4) => Run::Event {
                id: fields[2].to_owned(),
                n: number(3),
            },
            _ => panic!("malformed run log line {line:?}"),
        };
        RunLine { begin, run }
    }
}

/// What a kill point counts: runs begun for the first time, so that reaching the next point
/// needs new work to start (runs again of what a kill cut do not count: after a restart the
/// recovered work starts again at once, and counting it would kill every lifetime in its
/// recovery, before anything could finish).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Task attempts begun.
    TaskRuns,
    /// Events whose handler began.
    HandlerRuns,
}

/// Follows the run log as the service appends to it.
pub struct RunLogTail {
    path: PathBuf,
    offset: u64,
    partial: String,
    lines: Vec<RunLine>,
    begun: BTreeSet<Run>,
    tasks_begun: usize,
    events_begun: usize,
}

impl RunLogTail {
    /// A tail of the log at `path` (which may not exist yet).
    pub fn new(path: &Path) -> Self {
        RunLogTail {
            path: path.to_owned(),
            offset: 0,
            partial: String::new(),
            lines: Vec::new(),
            begun: BTreeSet::new(),
            tasks_begun: 0,
            events_begun: 0,
        }
    }

    /// Reads what was appended since the last call.
    pub fn refresh(&mut self) {
        let Ok(mut file) = std::fs::File::open(&self.path) else {
            return;
        };
        let mut appended = String::new();
        file.seek(SeekFrom::Start(self.offset))
            .and_then(|_| file.read_to_string(&mut appended))
            .unwrap_or_else(|e| panic!("reading {}: {e}", self.path.display()));
        self.offset += appended.len() as u64;
        self.partial.push_str(&appended);
        // A line is whole once its newline is there (each is one O_APPEND write).
        let complete = self.partial.rfind('\n').map_or(0, |at| at + 1);
        let text: String = self.partial.drain(..complete).collect();
        for line in text.lines() {
            let line = RunLine::parse(line);
            if line.begin && self.begun.insert(line.run.clone()) {
                match line.run {
                    Run::Task { .. } => self.tasks_begun += 1,
                    Run::Event { .. } => self.events_begun += 1,
                }
            }
            self.lines.push(line);
        }
    }

    /// Every line read so far.
    pub fn lines(&self) -> &[RunLine] {
        &self.lines
    }

    /// How many task attempts, or events, have begun a first run so far.
    pub fn begun(&self, progress: Progress) -> usize {
        match progress {
            Progress::TaskRuns => self.tasks_begun,
            Progress::HandlerRuns => self.events_begun,
        }
    }

    /// Waits until `target` task attempts, or events, have begun a first run; the server
    /// must stay up meanwhile.
    pub fn wait_for(&mut self, progress: Progress, target: usize, server: &mut ChildServer) {
        let deadline = Instant::now() + PROGRESS_TIMEOUT;
        loop {
            self.refresh();
            if self.begun(progress) >= target {
                return;
            }
            server.assert_alive();
            assert!(
                Instant::now() < deadline,
                "no progress: {} of {target} {progress:?} after {PROGRESS_TIMEOUT:?}; the log ends with {:?}",
                self.begun(progress),
                self.lines.iter().rev().take(5).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The database

/// An execution's row.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredExecution {
    /// `running`, `succeeded`, ...
    pub status: String,
    /// The outcome, once ended.
    pub outcome: Option<Value>,
}

/// The engine's database, read by the test process, whose SQLite has no lossy VFS: what
/// reached the files. Read it while no service runs, or while one idles.
#[derive(Debug, Default)]
pub struct StoreSnapshot {
    /// Every execution by id.
    pub executions: BTreeMap<String, StoredExecution>,
    /// Every execution's history, by index.
    pub histories: BTreeMap<String, Vec<Value>>,
    /// The stored indexes of each history, in order (they should be 0..n).
    pub indexes: BTreeMap<String, Vec<i64>>,
    /// Work committed but not done.
    pub pending: PendingRows,
}

/// The rows of unfinished work: all tables must be empty once the engine is idle.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PendingRows {
    /// Task attempts without a committed result: `(execution, seq, attempt)`.
    pub tasks: Vec<(String, u64, u64)>,
    /// Timers not fired: `(execution, key)`.
    pub timers: Vec<(String, String)>,
    /// Inbox events kept for blocked executions: `(execution, event)`.
    pub inbox: Vec<(String, String)>,
    /// Handler deliveries not settled: event ids.
    pub deliveries: BTreeSet<String>,
}

impl PendingRows {
    /// Whether every table is empty.
    pub fn is_empty(&self) -> bool {
        *self == PendingRows::default()
    }
}

impl fmt::Display for PendingRows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tasks {}, timers {}, inbox {}, deliveries {}",
            first_few(&self.tasks),
            first_few(&self.timers),
            first_few(&self.inbox),
            first_few(&self.deliveries)
        )
    }
}

/// `N [a, b, c, ...]`: a count and the first few items, for failure messages.
fn first_few<T: fmt::Debug>(items: impl IntoIterator<Item = T>) -> String {
    let items: Vec<T> = items.into_iter().collect();
    let shown: Vec<String> = items
        .iter()
        .take(5)
        .map(|item| format!("{item:?}"))
        .collect();
    let more = if items.len() > shown.len() {
        ", ..."
    } else {
        ""
    };
    format!("{} [{}{more}]", items.len(), shown.join(", "))
}

fn open_read_only(db: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|e| panic!("opening {} read-only: {e}", db.display()))
}

fn query<T>(
    connection: &rusqlite::Connection,
    sql: &str,
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Vec<T> {
    connection
        .prepare(sql)
        .and_then(|mut statement| statement.query_map([], row)?.collect())
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn json_column(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("stored JSON {text:?}: {e}"))
}

/// The rows of unfinished work in the database at `db`.
pub fn read_pending_rows(db: &Path) -> PendingRows {
    pending_rows(&open_read_only(db))
}

fn has_schema(connection: &rusqlite::Connection) -> bool {
    query(
        connection,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'deliveries'",
        |row| row.get::<_, String>(0),
    )
    .len()
        == 1
}

fn pending_rows(connection: &rusqlite::Connection) -> PendingRows {
    if !has_schema(connection) {
        return PendingRows::default();
    }
    PendingRows {
        tasks: query(
            connection,
            "SELECT execution_id, seq, attempt FROM tasks ORDER BY 1, 2, 3",
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        ),
        timers: query(
            connection,
            "SELECT execution_id, key FROM timers ORDER BY 1, 2",
            |row| Ok((row.get(0)?, row.get(1)?)),
        ),
        inbox: query(
            connection,
            "SELECT execution_id, event FROM inbox ORDER BY id",
            |row| Ok((row.get(0)?, row.get(1)?)),
        ),
        deliveries: query(connection, "SELECT event_id FROM deliveries", |row| {
            row.get(0)
        })
        .into_iter()
        .collect(),
    }
}

impl StoreSnapshot {
    /// Reads the database at `db`; panics if SQLite finds it corrupt (`quick_check`). A database without
    /// the engine's tables (they never reached the disk) reads as empty.
    pub fn read(db: &Path) -> Self {
        let connection = open_read_only(db);
        let integrity = query(&connection, "PRAGMA quick_check", |row| {
            row.get::<_, String>(0)
        });
        assert_eq!(integrity, ["ok"], "integrity of {}", db.display());
        if !has_schema(&connection) {
            return StoreSnapshot::default();
        }
        let executions = query(
            &connection,
            "SELECT id, status, outcome FROM executions",
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    StoredExecution {
                        status: row.get(1)?,
                        outcome: row.get::<_, Option<String>>(2)?.map(json_column),
                    },
                ))
            },
        )
        .into_iter()
        .collect();
        let mut histories: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut indexes: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        let rows = query(
            &connection,
            "SELECT execution_id, idx, event FROM history ORDER BY execution_id, idx",
            |row| Ok((row.get::<_, String>(0)?, row.get(1)?, row.get(2)?)),
        );
        for (id, idx, event) in rows {
            indexes.entry(id.clone()).or_default().push(idx);
            histories.entry(id).or_default().push(json_column(event));
        }
        StoreSnapshot {
            executions,
            histories,
            indexes,
            pending: pending_rows(&connection),
        }
    }

    /// Panics unless every history is whole: stored indexes 0..n, a `WorkflowStarted` first,
    /// scheduling events with seqs 0..n in order, and a row in `executions`.
    pub fn assert_histories_whole(&self, when: &str) {
        for (id, indexes) in &self.indexes {
            assert_eq!(
                indexes,
                &(0..indexes.len() as i64).collect::<Vec<_>>(),
                "{when}: history indexes of {id}"
            );
            let events = &self.histories[id];
            assert_eq!(
                events[0]["type"], "WorkflowStarted",
                "{when}: history of {id} begins with {}",
                events[0]
            );
            let seqs: Vec<u64> = events
                .iter()
                .filter(|e| SCHEDULING.contains(&e["type"].as_str().unwrap_or_default()))
                .map(|e| e["seq"].as_u64().expect("a scheduling event has a seq"))
                .collect();
            assert_eq!(
                seqs,
                (0..seqs.len() as u64).collect::<Vec<_>>(),
                "{when}: scheduling seqs of {id}"
            );
            assert!(
                self.executions.contains_key(id),
                "{when}: history of {id} without its execution"
            );
        }
        for id in self.executions.keys() {
            assert!(
                self.histories.contains_key(id),
                "{when}: execution {id} without a history"
            );
        }
    }

    /// The task attempts whose result is committed: `TaskSucceeded` or `TaskAttemptFailed`.
    pub fn attempt_results(&self) -> BTreeSet<Run> {
        self.histories
            .iter()
            .flat_map(|(id, events)| {
                events
                    .iter()
                    .filter(|e| e["type"] == "TaskSucceeded" || e["type"] == "TaskAttemptFailed")
                    .map(move |e| Run::Task {
                        execution: id.clone(),
                        seq: e["seq"].as_u64().expect("seq"),
                        attempt: e["attempt"].as_u64().expect("attempt"),
                    })
            })
            .collect()
    }

    /// The ids of the events that committed steps emitted.
    pub fn emitted_events(&self) -> BTreeSet<String> {
        self.histories
            .values()
            .flatten()
            .filter(|e| e["type"] == "EventsEmitted")
            .flat_map(|e| e["events"].as_array().cloned().unwrap_or_default())
            .map(|event| event["id"].as_str().expect("an event id").to_owned())
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// The client

/// What the client of one lifetime of the service did and saw.
#[derive(Debug, Default)]
struct Traffic {
    /// Names whose start was answered 2xx.
    started: Vec<String>,
    /// Starts of acknowledged names sent again and answered 2xx (`created: false`).
    restarts: usize,
    /// `(n, id)` of the published event, if its publish was answered.
    published: Option<(u64, String)>,
    /// Starts or publishes sent whose answer the kill swallowed.
    in_flight: usize,
    /// Executions the client saw ended (succeeded, failed, ...): id → row.
    ended: BTreeMap<String, StoredExecution>,
    /// What broke a promise of the API.
    violations: Vec<String>,
}

/// A request that changes something: a start of execution `i`, or a publish of event `n`.
#[derive(Clone, Copy, Debug)]
enum Request {
    Start(usize),
    Publish(u64),
}

/// The service died under a request.
struct Died;

/// Sends `plan`, spread between listings that record which executions ended; then sends
/// acknowledged starts again (idempotent: each must be found, not created) until the
/// service dies under a request.
fn drive_client(api: Api, plan: Vec<Request>, acknowledged: Vec<String>, seed: u64) -> Traffic {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut traffic = Traffic::default();
    let mut plan = plan.into_iter();
    for round in 0usize.. {
        let sent = if round % 4 == 3 {
            observe_ended(&api, &mut traffic)
        } else if let Some(request) = plan.next() {
            // The plan goes out back to back: every request left when the kill comes is
            // work that this lifetime did not get.
            if send(&api, request, &mut traffic).is_err() {
                return traffic;
            }
            continue;
        } else {
            let known = acknowledged.len() + traffic.started.len();
            let pick = rng.usize(0..known.max(1));
            match acknowledged.iter().chain(&traffic.started).nth(pick) {
                Some(name) => send_again(&api, &name.clone(), &mut traffic),
                None => Ok(()), // nothing acknowledged yet
            }
        };
        if sent.is_err() {
            return traffic;
        }
        // Pacing, not synchronization: leaves the two cores to the service between requests.
        std::thread::sleep(Duration::from_millis(5));
    }
    unreachable!("the client stops when the service dies")
}

fn start_body(i: usize) -> String {
    json!({"workflow": "crash_flow", "input": i, "name": execution_name(i)}).to_string()
}

fn send(api: &Api, request: Request, traffic: &mut Traffic) -> Result<(), Died> {
    let answer = match request {
        Request::Start(i) => api.try_post_raw("/executions", &start_body(i)),
        Request::Publish(n) => {
            let event =
                json!({"source": "crash-test", "detail-type": "CrashEmitted", "detail": {"n": n}});
            api.try_post_raw("/events", &event.to_string())
        }
    };
    let Ok(reply) = answer else {
        traffic.in_flight += 1;
        return Err(Died);
    };
    match request {
        Request::Start(i) if matches!(reply.status, 200 | 201) => {
            traffic.started.push(execution_name(i))
        }
        Request::Publish(n) if reply.status == 202 => {
            let id = reply.body["ids"][0].as_str().unwrap_or_default().to_owned();
            traffic.published = Some((n, id));
        }
        _ => traffic.violations.push(format!(
            "{request:?} refused: {} {}",
            reply.status, reply.body
        )),
    }
    Ok(())
}

/// Sends an acknowledged start again: it must be found, since a start that a kill undid
/// would be created anew.
fn send_again(api: &Api, name: &str, traffic: &mut Traffic) -> Result<(), Died> {
    let i: usize = name["crash-".len()..].parse().expect("an execution index");
    let Ok(reply) = api.try_post_raw("/executions", &start_body(i)) else {
        traffic.in_flight += 1;
        return Err(Died);
    };
    if reply.status == 200 && reply.body["created"] == false {
        traffic.restarts += 1;
    } else {
        traffic.violations.push(format!(
            "acknowledged start of {name} sent again: {} {}",
            reply.status, reply.body
        ));
    }
    Ok(())
}

/// Lists the executions (every page) and records those that ended.
fn observe_ended(api: &Api, traffic: &mut Traffic) -> Result<(), Died> {
    let mut next_token: Option<String> = None;
    loop {
        let mut path = "/executions?workflow=crash_flow&limit=1000".to_owned();
        if let Some(token) = &next_token {
            path.push_str(&format!("&next_token={}", encode(token)));
        }
        let reply = api.try_get(&path).map_err(|_| Died)?;
        for row in reply.body["executions"].as_array().into_iter().flatten() {
            let status = row["status"].as_str().unwrap_or_default();
            if !matches!(status, "running" | "blocked") {
                let id = row["id"].as_str().unwrap_or_default().to_owned();
                let seen = StoredExecution {
                    status: status.to_owned(),
                    outcome: Some(row["outcome"].clone()),
                };
                traffic.ended.insert(id, seen);
            }
        }
        match reply.body["next_token"].as_str() {
            Some(token) => next_token = Some(token.to_owned()),
            None => return Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The campaign

/// What a kill does to the writes SQLite had not synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillKind {
    /// SIGKILL: the kernel keeps what the process had written, as after a process crash.
    Process,
    /// SIGKILL of a service whose SQLite runs on the lossy VFS: unsynced writes die with
    /// the process, as in a power loss.
    PowerLoss,
}

/// A crash campaign: how many kills, how much work, from which seed.
#[derive(Clone, Debug)]
pub struct Campaign {
    /// Chooses the kill points and the client's choices.
    pub seed: u64,
    /// Kills (each followed by a restart on the same database).
    pub kills: usize,
    /// Named executions started over the campaign, spread over the lifetimes.
    pub executions: usize,
    /// Process crash or power loss.
    pub kill: KillKind,
}

/// One run of the service, from a start to a kill (or the end of the campaign).
struct Lifetime {
    /// Its lines of the run log.
    lines: Range<usize>,
    /// The runs it began whose outcome was not durable when it was killed (a task attempt
    /// without its result in the history, a delivery still stored); `None` if not killed.
    cut: Option<BTreeSet<Run>>,
}

/// What a campaign measured.
#[derive(Clone, Debug, Default)]
pub struct Figures {
    /// Kills (process crashes or power losses).
    pub kills: usize,
    /// Executions started.
    pub executions: usize,
    /// Starts answered 2xx (first answers per name).
    pub acknowledged_starts: usize,
    /// Starts of acknowledged names sent again and found.
    pub acknowledged_restarts: usize,
    /// Publishes answered 2xx.
    pub acknowledged_publishes: usize,
    /// Starts or publishes in flight (sent, not answered) at a kill.
    pub requests_in_flight_at_kills: usize,
    /// Executions seen ended before a kill, and found ended the same after it.
    pub ended_seen_before_kills: usize,
    /// Kills that cut at least one run before its outcome was durable.
    pub kills_that_cut_runs: usize,
    /// Task runs begun.
    pub task_runs: usize,
    /// Task runs beyond one per attempt.
    pub task_reruns: usize,
    /// Task runs cut in their body (a `begin` without `end` before the kill).
    pub task_runs_cut_in_body: usize,
    /// Task runs whose body ended but whose result was not durable at the kill.
    pub task_runs_cut_before_commit: usize,
    /// Handler runs begun.
    pub handler_runs: usize,
    /// Handler runs beyond one per event.
    pub redeliveries: usize,
    /// Handler runs cut in their body.
    pub handler_runs_cut_in_body: usize,
    /// Handler runs whose body ended but whose settlement was not durable at the kill.
    pub handler_runs_cut_before_commit: usize,
    /// Events the executions emitted.
    pub events_emitted: usize,
    /// Wall-clock time of the campaign.
    pub elapsed: Duration,
}

impl fmt::Display for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} kills ({} cut runs), {} executions; acknowledged: {} starts, {} re-sent starts, \
             {} publishes; {} requests in flight at kills; {} executions seen ended before a kill; \
             {} task runs ({} extra; cut: {} in the body, {} before the commit); \
             {} events emitted; {} handler runs ({} redeliveries; cut: {} in the body, {} before \
             the commit); {:.1} s",
            self.kills,
            self.kills_that_cut_runs,
            self.executions,
            self.acknowledged_starts,
            self.acknowledged_restarts,
            self.acknowledged_publishes,
            self.requests_in_flight_at_kills,
            self.ended_seen_before_kills,
            self.task_runs,
            self.task_reruns,
            self.task_runs_cut_in_body,
            self.task_runs_cut_before_commit,
            self.events_emitted,
            self.handler_runs,
            self.redeliveries,
            self.handler_runs_cut_in_body,
            self.handler_runs_cut_before_commit,
            self.elapsed.as_secs_f64()
        )
    }
}

/// What the test knows the engine acknowledged.
#[derive(Default)]
struct Ledger {
    /// Names whose start was answered 2xx.
    started: BTreeSet<String>,
    /// Executions seen ended, with their row then.
    ended: BTreeMap<String, StoredExecution>,
    /// Acknowledged publishes: n → event id.
    published: BTreeMap<u64, String>,
    /// Every n published, acknowledged or not.
    publish_attempts: BTreeSet<u64>,
}

impl Ledger {
    fn absorb(&mut self, traffic: &Traffic, figures: &mut Figures) {
        assert!(
            traffic.violations.is_empty(),
            "{}",
            traffic.violations.join("\n")
        );
        figures.acknowledged_starts += traffic
            .started
            .iter()
            .filter(|name| !self.started.contains(*name))
            .count();
        figures.acknowledged_restarts += traffic.restarts;
        figures.requests_in_flight_at_kills += traffic.in_flight;
        self.started.extend(traffic.started.iter().cloned());
        if let Some((n, id)) = &traffic.published {
            figures.acknowledged_publishes += 1;
            self.published.insert(*n, id.clone());
        }
        for (id, row) in &traffic.ended {
            if let Some(before) = self.ended.insert(id.clone(), row.clone()) {
                assert_eq!(&before, row, "{id} was seen ended twice, differently");
            }
        }
    }

    /// Panics unless everything acknowledged is in `snapshot`; `handled` are the events whose
    /// handler ran to its end.
    fn assert_durable(&self, snapshot: &StoreSnapshot, handled: &BTreeSet<String>, when: &str) {
        for name in &self.started {
            assert!(
                snapshot.executions.contains_key(name),
                "{when}: the acknowledged start of {name} is gone"
            );
        }
        for (id, seen) in &self.ended {
            assert_eq!(
                snapshot.executions.get(id),
                Some(seen),
                "{when}: {id} was seen ended; it must stay so, with the same outcome"
            );
        }
        snapshot.assert_histories_whole(when);
        let acknowledged = self.published.values();
        for id in acknowledged.chain(snapshot.emitted_events().iter()) {
            assert!(
                snapshot.pending.deliveries.contains(id) || handled.contains(id),
                "{when}: event {id} (acknowledged or emitted by a committed step) is neither \
                 to be delivered nor handled"
            );
        }
    }
}

/// The events whose handler ran to its end (`end` line), in `lines`.
fn handled_events(lines: &[RunLine]) -> BTreeSet<String> {
    lines
        .iter()
        .filter(|line| !line.begin)
        .filter_map(|line| match &line.run {
            Run::Event { id, .. } => Some(id.clone()),
            Run::Task { .. } => None,
        })
        .collect()
}

impl Campaign {
    /// Runs the campaign; panics at the first broken promise. Returns what it measured.
    pub fn run(&self) -> Figures {
        let began = Instant::now();
        let binary = cargo_binary("crash-service", "bin", "crash-service");
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = dir.path().join("crash.db");
        let run_log = dir.path().join("runs.log");
        let mut envs: Vec<(&str, &OsStr)> = vec![("CRASH_RUN_LOG", run_log.as_os_str())];
        if self.kill == KillKind::PowerLoss {
            envs.push(("CRASH_LOSSY_VFS", OsStr::new("1")));
        }
        let mut rng = fastrand::Rng::with_seed(self.seed);
        let mut tail = RunLogTail::new(&run_log);
        let mut ledger = Ledger::default();
        let mut lifetimes: Vec<Lifetime> = Vec::new();
        let mut figures = Figures {
            kills: self.kills,
            executions: self.executions,
            ..Figures::default()
        };
        // Kill thresholds advance by at most the work each lifetime adds (three task runs and
        // one handler run per new execution, one published event), so they stay reachable.
        let per_lifetime = self.executions.div_ceil(self.kills).max(1);

        for lifetime in 0..self.kills {
            let mut server = ChildServer::start(&binary, &db, free_port(), &envs);
            let upto = ((lifetime + 1) * self.executions / self.kills).min(self.executions);
            let mut plan: Vec<Request> = (0..upto)
                .filter(|i| !ledger.started.contains(&execution_name(*i)))
                .map(Request::Start)
                .collect();
            let publish_n = PUBLISHED_BASE + lifetime as u64;
            ledger.publish_attempts.insert(publish_n);
            // Early in the plan, which a kill often cuts short.
            plan.insert(
                rng.usize(0..=plan.len().min(2)),
                Request::Publish(publish_n),
            );
            let client = {
                let api = server.api.clone();
                let acknowledged: Vec<String> = ledger.started.iter().cloned().collect();
                let seed = rng.u64(..);
                std::thread::spawn(move || drive_client(api, plan, acknowledged, seed))
            };
            let first_line = tail.lines().len();
            let (progress, step) = if rng.u8(0..3) == 0 {
                (Progress::HandlerRuns, rng.usize(1..=per_lifetime + 1))
            } else {
                (Progress::TaskRuns, rng.usize(1..=3 * per_lifetime))
            };
            let target = tail.begun(progress) + step;
            tail.wait_for(progress, target, &mut server);
            server.kill();
            let traffic = client.join().expect("the client thread");
            // The process is dead: the log holds every line it wrote.
            tail.refresh();
            ledger.absorb(&traffic, &mut figures);
            let when = format!("after kill {} ({:?})", lifetime + 1, self.kill);
            let snapshot = StoreSnapshot::read(&db);
            ledger.assert_durable(&snapshot, &handled_events(tail.lines()), &when);
            let lines = first_line..tail.lines().len();
            let cut = cut_runs(&tail.lines()[lines.clone()], &snapshot);
            figures.kills_that_cut_runs += usize::from(!cut.is_empty());
            lifetimes.push(Lifetime {
                lines,
                cut: Some(cut),
            });
        }
        figures.ended_seen_before_kills = ledger.ended.len();

        // The last lifetime: nothing is killed any more, every start must be acknowledged and
        // all work must finish.
        let first_line = tail.lines().len();
        let mut server = ChildServer::start(&binary, &db, free_port(), &envs);
        let api = server.api.clone();
        for i in 0..self.executions {
            let name = execution_name(i);
            if !ledger.started.contains(&name) {
                let body = json!({"workflow": "crash_flow", "input": i, "name": name});
                let reply = api.post("/executions", &body);
                assert!(
                    matches!(reply.status, 200 | 201),
                    "start of {name}: {reply:?}"
                );
                ledger.started.insert(name);
                figures.acknowledged_starts += 1;
            }
        }
        let snapshot = self.wait_until_idle(&api, &mut server, &db, &mut tail, &ledger);
        lifetimes.push(Lifetime {
            lines: first_line..tail.lines().len(),
            cut: None,
        });
        self.assert_end_state(&api, &snapshot, &ledger);
        assert_runs(&tail, &lifetimes, &snapshot, &ledger, &mut figures);
        figures.elapsed = began.elapsed();
        assert!(
            figures.task_reruns > 0 && figures.redeliveries > 0,
            "the kills cut no task run or no delivery, so this campaign proved nothing: {figures}"
        );
        figures
    }

    /// Waits until every execution ended, no unfinished work is stored and every emitted or
    /// acknowledged event was handled; returns the database then.
    fn wait_until_idle(
        &self,
        api: &Api,
        server: &mut ChildServer,
        db: &Path,
        tail: &mut RunLogTail,
        ledger: &Ledger,
    ) -> StoreSnapshot {
        let deadline = Instant::now() + PROGRESS_TIMEOUT;
        let mut last_state = None;
        let mut changed_at = Instant::now();
        loop {
            server.assert_alive();
            tail.refresh();
            let rows = api.all_executions(Some("crash_flow"));
            let running: Vec<String> = rows
                .iter()
                .filter(|row| row["status"] == "running")
                .map(|row| row["id"].as_str().unwrap_or_default().to_owned())
                .collect();
            let pending = read_pending_rows(db);
            if rows.len() == self.executions && running.is_empty() && pending.is_empty() {
                let snapshot = StoreSnapshot::read(db);
                let handled = handled_events(tail.lines());
                let expected: BTreeSet<String> = snapshot
                    .emitted_events()
                    .into_iter()
                    .chain(ledger.published.values().cloned())
                    .collect();
                if expected.is_subset(&handled) {
                    return snapshot;
                }
            }
            let state = (tail.lines().len(), running.clone(), pending);
            if last_state.as_ref() != Some(&state) {
                last_state = Some(state);
                changed_at = Instant::now();
            }
            let (_, running, pending) = last_state.as_ref().expect("just set");
            let waiting = format!(
                "{} of {} executions, running: {}; unfinished work stored: {pending}",
                rows.len(),
                self.executions,
                first_few(running)
            );
            assert!(
                changed_at.elapsed() < STALL_TIMEOUT,
                "stuck after the last restart: no run began or ended and nothing changed in the \
                 database for {STALL_TIMEOUT:?}; {waiting}"
            );
            assert!(
                Instant::now() < deadline,
                "not idle {PROGRESS_TIMEOUT:?} after the last restart: {waiting}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every execution succeeded once with its result and the expected history, as the API
    /// and the database tell.
    fn assert_end_state(&self, api: &Api, snapshot: &StoreSnapshot, ledger: &Ledger) {
        assert_eq!(
            api.all_executions(None).len(),
            self.executions,
            "no stray executions"
        );
        snapshot.assert_histories_whole("at the end");
        assert_eq!(snapshot.executions.len(), self.executions);
        for (id, row) in &snapshot.executions {
            let i: u64 = id["crash-".len()..].parse().expect("an execution index");
            assert_eq!(row.status, "succeeded", "{id}: {row:?}");
            assert_eq!(
                row.outcome.as_ref().map(|o| &o["result"]),
                Some(&json!(i + 3)),
                "{id}: {row:?}"
            );
            let api_row = api.get(&format!("/executions/{id}")).body;
            assert_eq!(api_row["status"], "succeeded", "{id} through the API");
            let labels: Vec<String> = api.history(id).iter().map(label).collect();
            assert_eq!(labels, EXPECTED_SHAPE, "history of {id} through the API");
            let stored: Vec<String> = snapshot.histories[id].iter().map(label).collect();
            assert_eq!(stored, labels, "stored history of {id}");
        }
        for (id, seen) in &ledger.ended {
            assert_eq!(snapshot.executions.get(id), Some(seen), "{id} seen ended");
        }
        assert_eq!(api.get("/dlq").body, json!([]), "no dead letters");
    }
}

/// The runs begun in `lines` whose outcome `snapshot` (read after the kill) does not hold.
fn cut_runs(lines: &[RunLine], snapshot: &StoreSnapshot) -> BTreeSet<Run> {
    let results = snapshot.attempt_results();
    lines
        .iter()
        .filter(|line| line.begin)
        .filter(|line| match &line.run {
            task @ Run::Task { .. } => !results.contains(task),
            Run::Event { id, .. } => snapshot.pending.deliveries.contains(id),
        })
        .map(|line| line.run.clone())
        .collect()
}

/// Checks every run against the lifetimes and the end state, and counts them:
/// - every committed task attempt ran, and every run is of a committed attempt; every event
///   that a committed step emitted or whose publish was acknowledged reached the handler,
///   and the handler saw no event that was neither emitted nor published;
/// - a run happens again only in a later lifetime, after the kill of the lifetime of its
///   previous run cut it (that kill came before the run's outcome was durable). So an
///   attempt or a delivery runs at most once per lifetime, and at most 1 + the number of
///   kills that cut it.
fn assert_runs(
    tail: &RunLogTail,
    lifetimes: &[Lifetime],
    snapshot: &StoreSnapshot,
    ledger: &Ledger,
    figures: &mut Figures,
) {
    let lines = tail.lines();
    let mut runs: BTreeMap<&Run, Vec<usize>> = BTreeMap::new();
    for (index, lifetime) in lifetimes.iter().enumerate() {
        let span = &lines[lifetime.lines.clone()];
        for line in span.iter().filter(|line| line.begin) {
            runs.entry(&line.run).or_default().push(index);
            if let Some(cut) = &lifetime.cut {
                if cut.contains(&line.run) {
                    let ended = span.iter().any(|l| !l.begin && l.run == line.run);
                    let counter = match (&line.run, ended) {
                        (Run::Task { .. }, false) => &mut figures.task_runs_cut_in_body,
                        (Run::Task { .. }, true) => &mut figures.task_runs_cut_before_commit,
                        (Run::Event { .. }, false) => &mut figures.handler_runs_cut_in_body,
                        (Run::Event { .. }, true) => &mut figures.handler_runs_cut_before_commit,
                    };
                    *counter += 1;
                }
            }
        }
    }
    for (run, lives) in &runs {
        for pair in lives.windows(2) {
            let (previous, next) = (pair[0], pair[1]);
            assert!(
                previous < next,
                "{run} ran twice in lifetime {previous}: only a restart may run it again"
            );
            let cut = lifetimes[previous].cut.as_ref();
            assert!(
                cut.is_some_and(|cut| cut.contains(*run)),
                "{run} ran again in lifetime {next}, though its outcome was durable when \
                 lifetime {previous} was killed"
            );
        }
    }

    let results = snapshot.attempt_results();
    let task_runs: BTreeMap<&Run, usize> = runs
        .iter()
        .filter(|(run, _)| matches!(run, Run::Task { .. }))
        .map(|(run, lives)| (*run, lives.len()))
        .collect();
    for result in &results {
        assert!(
            task_runs.contains_key(result),
            "{result} committed without a run"
        );
    }
    for run in task_runs.keys() {
        assert!(
            results.contains(*run),
            "{run} ran, but no committed history has it"
        );
    }
    figures.task_runs = task_runs.values().sum();
    figures.task_reruns = figures.task_runs - task_runs.len();

    let emitted = snapshot.emitted_events();
    let handled = handled_events(lines);
    for id in emitted.iter().chain(ledger.published.values()) {
        assert!(handled.contains(id), "event {id} never reached its handler");
    }
    let mut handler_runs = 0;
    let mut events = 0;
    for (run, lives) in &runs {
        let Run::Event { id, n } = run else { continue };
        let known = if *n >= PUBLISHED_BASE {
            // Published: by this test; if acknowledged, under the id it was answered with.
            ledger.publish_attempts.contains(n)
                && match ledger.published.get(n) {
                    Some(acknowledged) => acknowledged == id,
                    None => true,
                }
        } else {
            emitted.contains(id)
        };
        assert!(
            known,
            "the handler saw an event that no committed step emitted and no one published: {run}"
        );
        handler_runs += lives.len();
        events += 1;
    }
    figures.handler_runs = handler_runs;
    figures.redeliveries = handler_runs - events;
    figures.events_emitted = emitted.len();
}
