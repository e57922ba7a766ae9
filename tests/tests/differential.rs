//! The differential suite (`eventual_tests::programs`) on the local engine: generated programs
//! run on the `TestEnvironment` and on the local engine (SQLite, real time, restarted in the
//! middle when a program says so) must leave identical histories, outcomes, handler-started
//! executions and dead letters.

use eventual_runtime::engine::local::{EngineConfig, LocalEngine};
use eventual_runtime::engine::{Durability, Engine};
use eventual_tests::programs::{differential, differential_continue_as_new, Subject};
use std::sync::{Arc, Mutex};

/// A local engine on a fresh database that can be closed and opened again.
struct Local {
    config: EngineConfig,
    engine: Mutex<Option<LocalEngine>>,
    _dir: tempfile::TempDir,
}

impl Local {
    fn open(durability: Durability) -> Self {
        Self::with(|config| config.with_durability(durability))
    }

    fn with(configure: impl FnOnce(EngineConfig) -> EngineConfig) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let config = configure(EngineConfig::new(dir.path().join("engine.db")));
        let engine = LocalEngine::open(config.clone()).expect("the engine opens");
        Local {
            config,
            engine: Mutex::new(Some(engine)),
            _dir: dir,
        }
    }
}

impl Subject for Local {
    fn engine(&self) -> Arc<dyn Engine> {
        let engine = self.engine.lock().unwrap();
        Arc::new(engine.as_ref().expect("open").handle())
    }

    fn restart(&self) {
        let mut engine = self.engine.lock().unwrap();
        drop(engine.take());
        *engine = Some(LocalEngine::open(self.config.clone()).expect("the engine opens again"));
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

#[test]
fn generated_programs_agree_with_the_test_environment() {
    differential(&runtime(), 200, "local", || {
        Box::new(Local::open(Durability::Strict))
    });
}

/// Speculative durability changes when attempts begin, never what histories say.
#[test]
fn generated_programs_agree_in_speculative_durability() {
    differential(&runtime(), 50, "local-speculative", || {
        Box::new(Local::open(Durability::Speculative))
    });
}

/// With no executor kept in memory, every step replays from the committed history.
#[test]
fn generated_programs_agree_when_every_execution_is_evicted() {
    differential(&runtime(), 50, "local-evicted", || {
        Box::new(Local::with(|config| config.with_max_resident_executions(0)))
    });
}

/// A loop that continues as new, with a signal sent while a run switches, in strict and
/// speculative durability.
#[test]
fn continue_as_new_agrees_with_the_test_environment() {
    let runtime = runtime();
    differential_continue_as_new(&runtime, "local", || {
        Box::new(Local::open(Durability::Strict))
    });
    differential_continue_as_new(&runtime, "local-speculative", || {
        Box::new(Local::open(Durability::Speculative))
    });
    differential_continue_as_new(&runtime, "local-evicted", || {
        Box::new(Local::with(|config| config.with_max_resident_executions(0)))
    });
}

#[test]
#[ignore = "long: 2,000 programs (several minutes)"]
fn many_generated_programs_agree_with_the_test_environment() {
    differential(&runtime(), 2_000, "local-long", || {
        Box::new(Local::open(Durability::Strict))
    });
}
