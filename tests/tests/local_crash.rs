//! Crash test of the local engine: the `crash-service` binary serves the API as a child process
//! and is killed with SIGKILL at random moments (seeded) while executions are in flight, then
//! restarted on the same database. At the end every accepted execution must have succeeded
//! with the right result and a well-formed history; task bodies may run again only for
//! attempts whose result had not committed; every emitted event reached its handler, and the
//! handler saw no event that no committed step emitted.

use eventual_tests::local::{cargo_binary, free_port, Api, ChildServer};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SEED: u64 = 0x5eed_2c4f_d800_0004;

/// The scheduling events of a history, by type: each opens the step of its `seq`.
const SCHEDULING: &[&str] = &[
    "TaskScheduled",
    "TimerScheduled",
    "EventsEmitted",
    "ChildWorkflowScheduled",
    "SignalSent",
    "ValueRecorded",
];

/// The history `crash_flow` must end with.
const EXPECTED_SHAPE: &[&str] = &[
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

fn name(i: usize) -> String {
    format!("crash-{i:04}")
}

fn label(event: &Value) -> String {
    let kind = event["type"].as_str().unwrap_or_default();
    match event["seq"].as_u64() {
        Some(seq) => format!("{kind}@{seq}"),
        None => kind.to_owned(),
    }
}

/// Sends the starts of `names` in order; returns those acknowledged (200 or 201).
fn send_starts(api: &Api, names: &[(usize, String)]) -> Vec<String> {
    let mut acknowledged = Vec::new();
    for (i, name) in names {
        let body = json!({"workflow": "crash_flow", "input": i, "name": name}).to_string();
        match api.try_post_raw("/executions", &body) {
            Ok(reply) if matches!(reply.status, 200 | 201) => {
                assert_eq!(reply.body["execution_id"], name.as_str());
                acknowledged.push(name.clone());
            }
            Ok(reply) => panic!("start of {name} refused: {} {:?}", reply.status, reply.body),
            Err(_) => {} // the server died under the request: send it again later
        }
    }
    acknowledged
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

struct Figures {
    kills: usize,
    executions: usize,
    task_runs: usize,
    extra_task_runs: usize,
    events_emitted: usize,
    handler_runs: usize,
}

fn crash_test(kills: usize, executions: usize) -> Figures {
    let binary = cargo_binary("crash-service", "bin", "crash-service");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let task_log = dir.path().join("tasks.log");
    let event_log = dir.path().join("events.log");
    let envs: [(&str, &Path); 2] = [
        ("CRASH_TASK_LOG", &task_log),
        ("CRASH_EVENT_LOG", &event_log),
    ];
    let mut rng = fastrand::Rng::with_seed(SEED);
    let acknowledged: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let began = Instant::now();

    for cycle in 0..kills {
        let mut server = ChildServer::start(&binary, &db, free_port(), &envs);
        // This cycle's new starts, and every earlier start that was not acknowledged.
        let upto = (cycle + 1) * executions / kills;
        let pending: Vec<(usize, String)> = {
            let acked = acknowledged.lock().unwrap();
            (0..upto)
                .map(|i| (i, name(i)))
                .filter(|(_, n)| !acked.contains(n))
                .collect()
        };
        let api = server.api.clone();
        let acked = acknowledged.clone();
        let sender = std::thread::spawn(move || {
            let done = send_starts(&api, &pending);
            acked.lock().unwrap().extend(done);
        });
        std::thread::sleep(Duration::from_millis(rng.u64(50..=400)));
        server.assert_alive();
        server.kill();
        sender.join().unwrap();
    }

    // The last run: nothing is killed any more.
    let mut server = ChildServer::start(&binary, &db, free_port(), &envs);
    let api = server.api.clone();
    let missing: Vec<(usize, String)> = {
        let acked = acknowledged.lock().unwrap();
        (0..executions)
            .map(|i| (i, name(i)))
            .filter(|(_, n)| !acked.contains(n))
            .collect()
    };
    let late = send_starts(&api, &missing);
    assert_eq!(late.len(), missing.len(), "the last run refused starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    let rows = loop {
        server.assert_alive();
        let rows = api.all_executions(Some("crash_flow"));
        if rows.len() == executions && rows.iter().all(|row| row["status"] != "running") {
            break rows;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {executions} executions, not ended: {:?}",
            rows.len(),
            rows.iter()
                .filter(|row| row["status"] == "running" || row["status"] == "blocked")
                .map(|row| format!("{} {}", row["id"], row["status"]))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    };

    // Every execution succeeded with its result, exactly once per name.
    assert_eq!(rows.len(), executions);
    assert_eq!(
        api.all_executions(None).len(),
        executions,
        "no stray executions"
    );
    let mut histories = BTreeMap::new();
    for row in &rows {
        let id = row["id"].as_str().unwrap().to_owned();
        let i: u64 = id.trim_start_matches("crash-").parse().unwrap();
        assert_eq!(row["status"], "succeeded", "{row}");
        assert_eq!(row["outcome"]["result"], i + 3, "{row}");
        let events = api.history(&id);
        let labels: Vec<String> = events.iter().map(label).collect();
        assert_eq!(labels, EXPECTED_SHAPE, "history of {id}");
        // Scheduling events carry seq 0..n in order.
        let seqs: Vec<u64> = events
            .iter()
            .filter(|e| SCHEDULING.contains(&e["type"].as_str().unwrap_or_default()))
            .map(|e| e["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>(), "{id}");
        histories.insert(id, events);
    }
    // The stored history indexes are contiguous from 0 with no duplicate.
    {
        let connection =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        let mut statement = connection
            .prepare("SELECT execution_id, idx FROM history ORDER BY execution_id, idx")
            .unwrap();
        let mut indexes: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        let rows = statement
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })
            .unwrap();
        for row in rows {
            let (id, idx) = row.unwrap();
            indexes.entry(id).or_default().push(idx);
        }
        assert_eq!(indexes.len(), executions);
        for (id, idx) in &indexes {
            assert_eq!(
                idx,
                &(0..idx.len() as i64).collect::<Vec<_>>(),
                "history indexes of {id}"
            );
            assert_eq!(idx.len(), histories[id].len());
        }
    }

    // Task runs: every committed attempt ran; an attempt ran again only after a kill.
    let mut runs: HashMap<(String, u64, u64), usize> = HashMap::new();
    let lines = read_lines(&task_log);
    for line in &lines {
        let parts: Vec<&str> = line.split('\t').collect();
        assert_eq!(parts.len(), 3, "malformed task log line {line:?}");
        let key = (
            parts[0].to_owned(),
            parts[1].parse().unwrap(),
            parts[2].parse().unwrap(),
        );
        *runs.entry(key).or_default() += 1;
    }
    let mut committed = BTreeSet::new();
    for (id, events) in &histories {
        for event in events {
            if event["type"] == "TaskSucceeded" {
                let key = (
                    id.clone(),
                    event["seq"].as_u64().unwrap(),
                    event["attempt"].as_u64().unwrap(),
                );
                assert!(runs.contains_key(&key), "{key:?} committed without a run");
                committed.insert(key);
            }
        }
    }
    for (key, count) in &runs {
        assert!(
            committed.contains(key),
            "{key:?} ran but no committed history has it"
        );
        assert!(
            *count <= 1 + kills,
            "{key:?} ran {count} times with {kills} kills"
        );
    }
    let extra_task_runs = lines.len() - runs.len();

    // Events: every emitted event reached the handler (outbox), none that was not emitted.
    let emitted: BTreeSet<String> = histories
        .values()
        .flatten()
        .filter(|e| e["type"] == "EventsEmitted")
        .flat_map(|e| e["events"].as_array().cloned().unwrap_or_default())
        .map(|event| event["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(emitted.len(), executions);
    let deadline = Instant::now() + Duration::from_secs(60);
    let handled = loop {
        let handled: BTreeSet<String> = read_lines(&event_log).into_iter().collect();
        if emitted.is_subset(&handled) {
            break handled;
        }
        assert!(
            Instant::now() < deadline,
            "{} emitted events never reached the handler",
            emitted.difference(&handled).count()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let phantoms: Vec<&String> = handled.difference(&emitted).collect();
    assert!(
        phantoms.is_empty(),
        "the handler saw events no step emitted: {phantoms:?}"
    );
    assert_eq!(api.get("/dlq").body, json!([]));
    server.assert_alive();
    let handler_runs = read_lines(&event_log).len();

    let figures = Figures {
        kills,
        executions,
        task_runs: lines.len(),
        extra_task_runs,
        events_emitted: emitted.len(),
        handler_runs,
    };
    println!(
        "crash test: {} kills, {} executions, {} task runs ({} extra, after kills), {} events emitted, {} handler runs ({} redeliveries), {:.1} s",
        figures.kills,
        figures.executions,
        figures.task_runs,
        figures.extra_task_runs,
        figures.events_emitted,
        figures.handler_runs,
        figures.handler_runs - figures.events_emitted,
        began.elapsed().as_secs_f64()
    );
    figures
}

#[test]
fn killed_twenty_times_nothing_is_lost_or_duplicated() {
    let figures = crash_test(20, 200);
    assert_eq!(figures.kills, 20);
}

#[test]
#[ignore = "long: 100 kills (about a minute or more)"]
fn killed_a_hundred_times_nothing_is_lost_or_duplicated() {
    let figures = crash_test(100, 400);
    assert_eq!(figures.kills, 100);
}
