//! Event-sourced entities on the TestEnvironment and the local engine: commands, optimistic
//! concurrency with bounded retries, idempotency, snapshots, and the outbox (each event on the
//! bus with its append, one entity's events reaching a subscriber in version order).

use eventual_runtime::engine::kernel::entity::{Append, AppendError};
use eventual_runtime::engine::local::{EngineConfig, LocalEngine};
use eventual_runtime::entity::{
    entity_origin, CommandReply, CommandRequest, EntityRunner, EntityStore, Loaded,
    MemoryEntityStore, MAX_TRIES,
};
use eventual_runtime::prelude::*;
use eventual_runtime::registry;
use eventual_runtime::time::Timestamp;
use eventual_tests::local::poll;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Wallet {
    balance: u64,
    operations: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum WalletEvent {
    Deposited { amount: u64 },
    Withdrew { amount: u64 },
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub enum WalletError {
    Insufficient { balance: u64, wanted: u64 },
}

#[entity(snapshot_every = 4)]
impl Wallet {
    fn apply(&mut self, event: &WalletEvent) {
        self.operations += 1;
        match event {
            WalletEvent::Deposited { amount } => self.balance += amount,
            WalletEvent::Withdrew { amount } => self.balance -= amount,
        }
    }

    /// Adds `amount`.
    async fn deposit(
        &self,
        _ctx: EntityContext,
        amount: u64,
    ) -> Result<Vec<WalletEvent>, WalletError> {
        Ok(vec![WalletEvent::Deposited { amount }])
    }

    /// Takes `amount` if the balance covers it.
    async fn withdraw(
        &self,
        _ctx: EntityContext,
        amount: u64,
    ) -> Result<Vec<WalletEvent>, WalletError> {
        if self.balance < amount {
            return Err(WalletError::Insufficient {
                balance: self.balance,
                wanted: amount,
            });
        }
        Ok(vec![WalletEvent::Withdrew { amount }])
    }

    /// Deposits twice in one command (two events, one append).
    #[command(name = "deposit_twice")]
    async fn twice(
        &self,
        _ctx: EntityContext,
        amount: u64,
    ) -> Result<Vec<WalletEvent>, WalletError> {
        Ok(vec![
            WalletEvent::Deposited { amount },
            WalletEvent::Deposited { amount },
        ])
    }
}

/// What the subscriber saw, per entity id: the versions in arrival order.
static SEEN: Mutex<BTreeMap<String, Vec<u64>>> = Mutex::new(BTreeMap::new());

#[on_event(pattern = r#"{"source": ["wallet"]}"#)]
async fn wallet_audit(event: Event<WalletEvent>) -> Result<(), StepError> {
    let envelope_id = event.id.clone();
    let mut parts = envelope_id.rsplitn(2, '/');
    let version: u64 = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    let entity = parts.next().unwrap_or_default().to_owned();
    // Handlers that take a varying time: without ordering, later versions would overtake.
    if version % 3 == 1 {
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    SEEN.lock()
        .unwrap()
        .entry(entity)
        .or_default()
        .push(version);
    if let Some(path) = std::env::var_os(HANDLED_LOG) {
        use std::io::Write;
        let failed = |e: std::io::Error| StepError::new(StepErrorKind::Failed, e.to_string());
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(failed)?;
        // One write per line: handlers of other entities append concurrently.
        log.write_all(format!("{envelope_id}\n").as_bytes())
            .map_err(failed)?;
    }
    Ok(())
}

fn seen(entity: &str) -> Vec<u64> {
    SEEN.lock()
        .unwrap()
        .get(entity)
        .cloned()
        .unwrap_or_default()
}

fn block<F: std::future::Future>(future: F) -> F::Output {
    futures::executor::block_on(future)
}

#[tokio::test]
async fn commands_decide_from_the_state_and_publish_their_events() {
    let env = eventual_runtime::testing::TestEnvironment::new();
    let wallet = env.entity::<Wallet>("te-1");
    let applied = wallet.deposit(50).await.unwrap();
    assert_eq!(applied.version, 1);
    assert_eq!(applied.events, vec![WalletEvent::Deposited { amount: 50 }]);
    let applied = wallet.twice(5).await.unwrap();
    assert_eq!(applied.version, 3);
    assert_eq!(
        wallet.withdraw(100).await,
        Err(EntityError::Rejected(WalletError::Insufficient {
            balance: 60,
            wanted: 100
        }))
    );
    assert_eq!(wallet.withdraw(60).await.unwrap().version, 4);

    let events = env.entity_events("wallet", "te-1");
    assert_eq!(
        events.iter().map(|e| e.version).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    let published: Vec<_> = env
        .published_events()
        .into_iter()
        .filter(|e| e.source == "wallet" && e.id.starts_with("wallet/te-1/"))
        .collect();
    assert_eq!(published.len(), 4, "one bus event per appended event");
    let origin = entity_origin(&published[3]).unwrap();
    assert_eq!(
        (
            origin.entity_type.as_str(),
            origin.id.as_str(),
            origin.version,
            origin.created_by.as_str()
        ),
        ("wallet", "te-1", 4, "test")
    );
    assert_eq!(published[3].detail_type, "Withdrew");
    env.run_until_idle().await;
    assert_eq!(seen("wallet/te-1"), [1, 2, 3, 4]);
}

#[tokio::test]
async fn an_idempotency_key_applies_a_command_once() {
    let env = eventual_runtime::testing::TestEnvironment::new();
    let first = env
        .entity::<Wallet>("te-idem")
        .idempotency_key("pay-1")
        .deposit(10)
        .await
        .unwrap();
    let again = env
        .entity::<Wallet>("te-idem")
        .idempotency_key("pay-1")
        .deposit(10)
        .await
        .unwrap();
    assert_eq!(first, again, "the recorded answer comes back");
    assert_eq!(env.entity_events("wallet", "te-idem").len(), 1);
    env.entity::<Wallet>("te-idem")
        .idempotency_key("pay-2")
        .deposit(10)
        .await
        .unwrap();
    assert_eq!(env.entity_events("wallet", "te-idem").len(), 2);
}

#[tokio::test]
async fn unknown_commands_and_bad_arguments_name_what_and_where() {
    let env = eventual_runtime::testing::TestEnvironment::new();
    let runner = env.entity_runner();
    let request = |command: &str, args| CommandRequest {
        entity_type: "wallet".to_owned(),
        id: "te-bad".to_owned(),
        command: command.to_owned(),
        args,
        idempotency_key: None,
        correlation_id: None,
        created_by: "test".to_owned(),
    };
    let error = runner
        .execute(request("close", serde_json::json!([])))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("no command `close`")
            && error
                .to_string()
                .contains("deposit, withdraw, deposit_twice"),
        "{error}"
    );
    let error = runner
        .execute(request("deposit", serde_json::json!(["ten"])))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("command `deposit`") && error.to_string().contains("at `[0]`"),
        "{error}"
    );
}

/// Every event in order, folded from the default state.
fn full_replay(events: &[eventual_runtime::entity::StoredEvent]) -> serde_json::Value {
    let entity = registry::entity("wallet").unwrap();
    let payloads: Vec<_> = events.iter().map(|e| e.payload.clone()).collect();
    (entity.fold)(None, &payloads).unwrap()
}

#[tokio::test]
async fn a_snapshot_and_its_tail_load_the_same_state_as_a_full_replay() {
    let env = eventual_runtime::testing::TestEnvironment::new();
    let wallet = env.entity::<Wallet>("te-snap");
    for amount in 1..=10 {
        wallet.deposit(amount).await.unwrap();
    }
    wallet.withdraw(7).await.unwrap();
    let runner = env.entity_runner();
    let loaded = runner.store().load("wallet", "te-snap").await.unwrap();
    let snapshot = loaded.snapshot.clone().expect("a snapshot every 4 events");
    assert_eq!(snapshot.version, 8);
    assert_eq!(
        loaded.events.len(),
        3,
        "only the tail after the snapshot is loaded"
    );
    let entity = registry::entity("wallet").unwrap();
    let state = loaded.state(entity).unwrap();
    assert_eq!(state, full_replay(&env.entity_events("wallet", "te-snap")));
    assert_eq!(
        serde_json::from_value::<Wallet>(state).unwrap(),
        Wallet {
            balance: 48,
            operations: 11
        }
    );
}

/// A store where another writer appends an event before each of the first `interfere`
/// appends of the runner, so they conflict.
struct Interfering {
    inner: MemoryEntityStore,
    interfere: AtomicU32,
    appends: AtomicU32,
}

impl Interfering {
    fn new(interfere: u32) -> Self {
        Interfering {
            inner: MemoryEntityStore::new(Box::new(|_| {}), Box::new(|| Timestamp::from_millis(0))),
            interfere: AtomicU32::new(interfere),
            appends: AtomicU32::new(0),
        }
    }
}

impl EntityStore for Interfering {
    fn load<'a>(&'a self, t: &'a str, id: &'a str) -> BoxFuture<'a, Result<Loaded, String>> {
        self.inner.load(t, id)
    }

    fn recorded<'a>(
        &'a self,
        t: &'a str,
        id: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<CommandReply>, String>> {
        self.inner.recorded(t, id, key)
    }

    fn append(&self, append: Append) -> BoxFuture<'_, Result<(), AppendError>> {
        Box::pin(async move {
            self.appends.fetch_add(1, Ordering::SeqCst);
            let left = self.interfere.load(Ordering::SeqCst);
            if left > 0 {
                self.interfere.store(left - 1, Ordering::SeqCst);
                let mut other = append.clone();
                other.events.truncate(1);
                other.events[0].payload = serde_json::json!({"Deposited": {"amount": 1}});
                other.recorded = None;
                other.snapshot = None;
                self.inner.append(other).await?;
            }
            self.inner.append(append).await
        })
    }

    fn now(&self) -> Timestamp {
        Timestamp::from_millis(0)
    }
}

#[tokio::test]
async fn a_conflicting_command_runs_again_on_the_new_state_then_reports_a_conflict() {
    let store = Arc::new(Interfering::new(MAX_TRIES - 1));
    let runner = EntityRunner::new(store.clone());
    let wallets = eventual_runtime::entity::Entities::<Wallet>::new(Arc::new(runner), "test");
    let applied = wallets.get("w").deposit(100).await.unwrap();
    assert_eq!(
        applied.version, MAX_TRIES as u64,
        "it landed after the others' events"
    );
    assert_eq!(store.appends.load(Ordering::SeqCst), MAX_TRIES);
    let stored = store.inner.events("wallet", "w");
    assert_eq!(
        stored.iter().map(|e| e.version).collect::<Vec<_>>(),
        (1..=MAX_TRIES as u64).collect::<Vec<_>>()
    );

    let store = Arc::new(Interfering::new(MAX_TRIES));
    let runner = EntityRunner::new(store.clone());
    let wallets = eventual_runtime::entity::Entities::<Wallet>::new(Arc::new(runner), "test");
    let error = wallets.get("w").deposit(100).await.unwrap_err();
    assert_eq!(
        error,
        EntityError::Conflict {
            entity_type: "wallet".to_owned(),
            id: "w".to_owned(),
            attempts: MAX_TRIES
        }
    );
    assert_eq!(store.appends.load(Ordering::SeqCst), MAX_TRIES);
    assert!(
        store
            .inner
            .events("wallet", "w")
            .iter()
            .all(|e| e.payload == serde_json::json!({"Deposited": {"amount": 1}})),
        "the conflicting command appended nothing"
    );
}

#[test]
fn local_engine_keeps_100_concurrent_commands_on_one_entity_contiguous_and_publishes_each() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("entities.db");
    {
        let engine = LocalEngine::open(EngineConfig::new(&db)).unwrap();
        let runtime = engine.runtime().clone();
        let calls: Vec<_> = (0..100u64)
            .map(|n| {
                let wallet = engine.entity::<Wallet>("hot");
                runtime.spawn(async move { wallet.deposit(n + 1).await })
            })
            .collect();
        let mut versions: Vec<u64> = calls
            .into_iter()
            .map(|call| block(call).unwrap().unwrap().version)
            .collect();
        versions.sort_unstable();
        assert_eq!(
            versions,
            (1..=100).collect::<Vec<_>>(),
            "each command its own version"
        );
        let events = engine.handle().entity_events("wallet", "hot", 1).unwrap();
        assert_eq!(
            events.iter().map(|e| e.version).collect::<Vec<_>>(),
            (1..=100).collect::<Vec<_>>()
        );
        let state: Wallet = serde_json::from_value(full_replay(&events)).unwrap();
        assert_eq!(state.balance, (1..=100).sum::<u64>(), "no update lost");
        poll(
            std::time::Duration::from_secs(20),
            "every event delivered",
            || (seen("wallet/hot").len() == 100).then_some(()),
        );
        assert_eq!(
            seen("wallet/hot"),
            (1..=100).collect::<Vec<_>>(),
            "the subscriber sees the entity's events in version order"
        );
    }
    // After a restart: the state loads from the snapshot and tail, versions go on.
    let engine = LocalEngine::open(EngineConfig::new(&db)).unwrap();
    let wallet = engine.entity::<Wallet>("hot");
    let applied = block(
        engine
            .runtime()
            .spawn(async move { wallet.withdraw(5).await }),
    )
    .unwrap()
    .unwrap();
    assert_eq!(applied.version, 101);
    let loaded = block(engine.entity_runner().store().load("wallet", "hot")).unwrap();
    assert_eq!(loaded.snapshot.as_ref().map(|s| s.version), Some(100));
    let events = engine.handle().entity_events("wallet", "hot", 1).unwrap();
    assert_eq!(
        loaded.state(registry::entity("wallet").unwrap()).unwrap(),
        full_replay(&events)
    );
}

#[test]
fn local_engine_events_of_many_entities_reach_the_subscriber_in_version_order() {
    let dir = tempfile::tempdir().unwrap();
    let engine = LocalEngine::open(EngineConfig::new(dir.path().join("order.db"))).unwrap();
    let runtime = engine.runtime().clone();
    let ids: Vec<String> = (0..4).map(|n| format!("spread-{n}")).collect();
    let calls: Vec<_> = (0..80)
        .map(|n| {
            let wallet = engine.entity::<Wallet>(ids[n % ids.len()].clone());
            runtime.spawn(async move { wallet.deposit(1).await })
        })
        .collect();
    for call in calls {
        block(call).unwrap().unwrap();
    }
    for id in &ids {
        let key = format!("wallet/{id}");
        poll(
            std::time::Duration::from_secs(20),
            "every event delivered",
            || (seen(&key).len() == 20).then_some(()),
        );
        assert_eq!(seen(&key), (1..=20).collect::<Vec<_>>(), "{id}");
    }
}

#[test]
fn local_engine_applies_an_idempotent_command_once_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("idem.db");
    let send = |engine: &LocalEngine| {
        let wallet = engine
            .entity::<Wallet>("idem")
            .idempotency_key("transfer-7");
        block(
            engine
                .runtime()
                .spawn(async move { wallet.deposit(70).await }),
        )
        .unwrap()
        .unwrap()
    };
    let first = {
        let engine = LocalEngine::open(EngineConfig::new(&db)).unwrap();
        send(&engine)
    };
    let engine = LocalEngine::open(EngineConfig::new(&db)).unwrap();
    assert_eq!(send(&engine), first);
    assert_eq!(
        engine
            .handle()
            .entity_events("wallet", "idem", 1)
            .unwrap()
            .len(),
        1
    );
}

fn workflow_error(error: EntityError<WalletError>) -> WorkflowError {
    WorkflowError::new("EntityError", format!("{error:?}"))
}

/// Deposits, waits, withdraws, and has a withdrawal refused: three durable entity steps.
#[workflow]
async fn wallet_payday(ctx: WorkflowContext, id: String) -> Result<u64, WorkflowError> {
    let wallet = ctx.entity::<Wallet>(id);
    wallet.deposit(30).await.map_err(workflow_error)?;
    ctx.sleep(Duration::from_millis(300)).await;
    let applied = wallet.withdraw(10).await.map_err(workflow_error)?;
    match wallet.withdraw(1_000).await {
        Err(EntityError::Rejected(WalletError::Insufficient { balance: 20, .. })) => {}
        other => return Err(WorkflowError::new("Unexpected", format!("{other:?}"))),
    }
    Ok(applied.version)
}

#[tokio::test]
async fn a_workflow_entity_step_is_applied_once_across_replays() {
    let env = eventual_runtime::testing::TestEnvironment::with_replay_mode(
        eventual_runtime::testing::ReplayMode::FullReplay,
    );
    let run = env.start::<wallet_payday>("wf-replay".to_owned()).unwrap();
    env.run_until_idle().await;
    assert_eq!(env.entity_events("wallet", "wf-replay").len(), 1);
    env.advance(Duration::from_millis(300)).await;
    assert_eq!(env.result::<wallet_payday>(&run).unwrap().unwrap(), 2);
    let events = env.entity_events("wallet", "wf-replay");
    assert_eq!(
        events.iter().map(|e| &e.payload).collect::<Vec<_>>(),
        [
            &serde_json::json!({"Deposited": {"amount": 30}}),
            &serde_json::json!({"Withdrew": {"amount": 10}})
        ],
        "every step replayed at each later step, each applied once"
    );
    let published = env
        .published_events()
        .into_iter()
        .find(|e| e.id == "wallet/wf-replay/1")
        .unwrap();
    let origin = entity_origin(&published).unwrap();
    assert_eq!(origin.created_by, format!("workflow:{}", run.id()));
    assert!(published.correlation_id.is_some());
}

#[test]
fn local_engine_workflow_entity_steps_are_applied_once_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wf.db");
    let execution = {
        let engine = LocalEngine::open(EngineConfig::new(&db)).unwrap();
        let started = block(engine.handle().start(
            eventual_runtime::engine::client::StartExecution {
                workflow: "wallet_payday".to_owned(),
                execution_name: None,
                input: serde_json::json!("wf-restart"),
                correlation_id: None,
            },
        ))
        .unwrap();
        let handle = engine.handle();
        poll(std::time::Duration::from_secs(20), "the deposit", || {
            let events = handle.entity_events("wallet", "wf-restart", 1).unwrap();
            (!events.is_empty()).then_some(())
        });
        started.execution_id
    };
    // The engine stopped while the workflow slept: the new one replays its history.
    let engine = LocalEngine::open(EngineConfig::new(&db)).unwrap();
    let outcome = block(engine.handle().wait(&execution)).unwrap();
    assert_eq!(
        outcome,
        eventual_runtime::workflow::Outcome::Succeeded {
            result: serde_json::json!(2)
        }
    );
    let events = engine
        .handle()
        .entity_events("wallet", "wf-restart", 1)
        .unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
}

/// A task sends an entity command through the engine in scope, with its own key.
#[task]
async fn wallet_refund(id: String) -> Result<u64, StepError> {
    let wallets = eventual_runtime::entity::Entities::<Wallet>::current()
        .ok_or_else(|| StepError::new(StepErrorKind::Failed, "no entities in scope"))?;
    let applied = wallets
        .get(id.clone())
        .idempotency_key(format!("refund-{id}"))
        .deposit(5)
        .await
        .map_err(|e| StepError::new(StepErrorKind::Failed, format!("{e:?}")))?;
    Ok(applied.version)
}

#[workflow]
async fn wallet_refund_twice(ctx: WorkflowContext, id: String) -> Result<u64, WorkflowError> {
    let _ = ctx;
    wallet_refund(id.clone()).await?;
    Ok(wallet_refund(id).await?)
}

#[tokio::test]
async fn a_task_sends_commands_through_the_engine_with_its_own_idempotency_key() {
    let env = eventual_runtime::testing::TestEnvironment::new();
    let run = env
        .start::<wallet_refund_twice>("task-1".to_owned())
        .unwrap();
    env.run_until_idle().await;
    assert_eq!(env.result::<wallet_refund_twice>(&run).unwrap().unwrap(), 1);
    assert_eq!(env.entity_events("wallet", "task-1").len(), 1);
}

/// Where the crash child's handler logs each event it handled.
const HANDLED_LOG: &str = "ENTITY_CRASH_HANDLED_LOG";
/// The database the crash child runs on.
const CRASH_DB: &str = "ENTITY_CRASH_DB";

/// The child of the crash test: deposits on four wallets from eight callers until killed,
/// printing each acknowledged version.
#[test]
#[ignore = "run by local_engine_kill_9_during_appends_leaves_no_phantom_and_no_lost_event"]
fn crash_child() {
    let Some(db) = std::env::var_os(CRASH_DB) else {
        return;
    };
    let engine = LocalEngine::open(EngineConfig::new(db)).unwrap();
    let callers: Vec<_> = (0..8)
        .map(|caller| {
            let wallet = engine.entity::<Wallet>(format!("crash-{}", caller % 4));
            engine.runtime().spawn(async move {
                loop {
                    let applied = wallet.deposit(1).await.unwrap();
                    println!("acked wallet/{}/{}", wallet.id(), applied.version);
                }
            })
        })
        .collect();
    for caller in callers {
        let _ = block(caller);
    }
}

#[test]
fn local_engine_kill_9_during_appends_leaves_no_phantom_and_no_lost_event() {
    use std::collections::BTreeSet;
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let handled_log = dir.path().join("handled.log");
    let mut acked = BTreeSet::new();
    for round in 0..4u64 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CRASH_DB, &db)
            .env(HANDLED_LOG, &handled_log)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(400 + 137 * round));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        acked.extend(
            out.lines()
                .filter_map(|l| l.strip_prefix("acked "))
                .map(str::to_owned),
        );

        let connection = rusqlite::Connection::open(&db).unwrap();
        let query = |sql: &str| -> BTreeSet<String> {
            let mut statement = connection.prepare(sql).unwrap();
            let rows = statement
                .query_map([], |row| row.get::<_, String>(0))
                .unwrap();
            rows.map(Result::unwrap).collect()
        };
        let stored =
            query("SELECT entity_type || '/' || entity_id || '/' || version FROM entity_events");
        let pending = query("SELECT event_id FROM deliveries WHERE subscription = 'wallet_audit'");
        let handled: BTreeSet<String> = std::fs::read_to_string(&handled_log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect();
        assert!(
            !stored.is_empty(),
            "round {round}: the child appended nothing"
        );
        let published: BTreeSet<String> = pending.union(&handled).cloned().collect();
        let lost: Vec<_> = stored.difference(&published).collect();
        assert!(
            lost.is_empty(),
            "round {round}: appended but never published: {lost:?}"
        );
        let phantom: Vec<_> = published.difference(&stored).collect();
        assert!(
            phantom.is_empty(),
            "round {round}: published but not appended: {phantom:?}"
        );
        let missing: Vec<_> = acked.difference(&stored).collect();
        assert!(
            missing.is_empty(),
            "round {round}: acknowledged but lost: {missing:?}"
        );
        for id in 0..4 {
            let prefix = format!("wallet/crash-{id}/");
            let mut versions: Vec<u64> = stored
                .iter()
                .filter_map(|e| e.strip_prefix(&prefix)?.parse().ok())
                .collect();
            versions.sort_unstable();
            assert!(
                versions.iter().copied().eq(1..=versions.len() as u64),
                "round {round}: versions of crash-{id} are not contiguous"
            );
        }
    }
}
