//! Storage faults of the local engine: a full disk (a size limit, as SQLite's
//! `max_page_count`) refuses what needs a commit with a 503 and loses nothing acknowledged, and
//! the engine resumes by itself once writes land again; a file that is not an eventual-rs
//! database is refused at open, untouched.

use eventual_runtime::engine::client::StartExecution;
use eventual_runtime::engine::local::{EngineConfig, EngineError, LocalEngine};
use eventual_runtime::engine::ServiceError;
use eventual_runtime::prelude::*;
use eventual_tests::local::poll;
use serde_json::json;
use std::time::Duration;

/// Waits for a signal, so that every started execution stays in the database.
#[workflow]
async fn storage_waiter(ctx: WorkflowContext, _padding: String) -> Result<(), WorkflowError> {
    ctx.expect_signal::<()>("go", Duration::from_secs(3600))
        .await?;
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

fn start(name: &str) -> StartExecution {
    StartExecution {
        workflow: "storage_waiter".to_owned(),
        execution_name: Some(name.to_owned()),
        // 4 KiB per start: the limit is reached within a few dozen.
        input: json!("x".repeat(4096)),
        correlation_id: None,
    }
}

#[test]
fn a_full_disk_refuses_writes_with_503_loses_nothing_and_resumes_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("engine.db");
    let config = EngineConfig::new(&database).with_max_database_bytes(256 * 1024);
    let engine = LocalEngine::open(config.clone()).expect("the engine opens");
    let handle = engine.handle();
    let caller = runtime();

    let mut acknowledged = Vec::new();
    let refusal = (0..1_000)
        .find_map(|i| {
            let name = format!("fill-{i}");
            match caller.block_on(handle.start(start(&name))) {
                Ok(_) => {
                    acknowledged.push(name);
                    None
                }
                Err(error) => Some(error),
            }
        })
        .expect("the size limit refuses a start before 1,000");
    assert!(
        acknowledged.len() > 5,
        "the limit leaves room for some starts"
    );
    let ServiceError::Unavailable(message) = &refusal else {
        panic!("a full disk is a 503, got {refusal:?}");
    };
    assert!(message.contains("full"), "{message}");
    assert_eq!(refusal.status(), 503);

    // While commits fail, what needs one is refused at once, and reads still work.
    let again = caller.block_on(handle.start(start("while-full")));
    assert!(
        matches!(again, Err(ServiceError::Unavailable(_))),
        "{again:?}"
    );
    let signal = caller.block_on(handle.signal(&acknowledged[0], "go", json!(null), None));
    assert!(
        matches!(signal, Err(ServiceError::Unavailable(_))),
        "{signal:?}"
    );
    for name in &acknowledged {
        handle
            .execution(name)
            .expect("an acknowledged start is on disk");
    }

    // Room again: the engine resumes by itself.
    handle.set_max_database_bytes(None);
    poll(
        Duration::from_secs(30),
        "a start after the disk has room",
        || caller.block_on(handle.start(start("after"))).ok(),
    );
    acknowledged.push("after".to_owned());
    caller
        .block_on(handle.signal(&acknowledged[0], "go", json!(null), None))
        .expect("a signal after the disk has room");

    // A restart finds everything acknowledged.
    drop(engine);
    let engine = LocalEngine::open(EngineConfig::new(&database)).expect("the engine reopens");
    let handle = engine.handle();
    for name in &acknowledged {
        handle
            .execution(name)
            .expect("an acknowledged start survives");
    }
    let first = caller
        .block_on(handle.wait(&acknowledged[0]))
        .expect("the signalled execution ends");
    assert!(matches!(
        first,
        eventual_runtime::workflow::Outcome::Succeeded { .. }
    ));
}

#[test]
fn a_file_that_is_not_an_eventual_database_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, b"this is not a database, it is a grocery list").unwrap();
    let before = std::fs::read(&garbage).unwrap();
    let error = LocalEngine::open(EngineConfig::new(&garbage))
        .err()
        .expect("garbage is refused");
    assert!(
        matches!(error, EngineError::ForeignDatabase(_)),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("garbage.db") && message.contains("not a SQLite database"),
        "{message}"
    );
    assert_eq!(
        std::fs::read(&garbage).unwrap(),
        before,
        "the file is untouched"
    );

    let foreign = dir.path().join("foreign.db");
    {
        let connection = rusqlite::Connection::open(&foreign).unwrap();
        connection
            .execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL);")
            .unwrap();
    }
    let message = LocalEngine::open(EngineConfig::new(&foreign))
        .err()
        .expect("another application's database is refused")
        .to_string();
    assert!(
        message.contains("foreign.db") && message.contains("invoices"),
        "{message}"
    );

    let tagged = dir.path().join("tagged.db");
    {
        let connection = rusqlite::Connection::open(&tagged).unwrap();
        connection
            .execute_batch("PRAGMA application_id = 1234; CREATE TABLE meta (key TEXT);")
            .unwrap();
    }
    let message = LocalEngine::open(EngineConfig::new(&tagged))
        .err()
        .expect("a database of another application id is refused")
        .to_string();
    assert!(message.contains("0x000004d2"), "{message}");

    // The engine's own file opens again, of course.
    let own = dir.path().join("own.db");
    drop(LocalEngine::open(EngineConfig::new(&own)).expect("a new database"));
    drop(LocalEngine::open(EngineConfig::new(&own)).expect("its own database again"));
}
