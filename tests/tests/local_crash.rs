//! Crash test of the local engine: the `crash-service` binary serves the API as a child
//! process and is killed with SIGKILL at points chosen from a seed over the engine's own
//! progress (the number of task or handler runs begun), then restarted on the same database.
//!
//! It cannot pass by luck: the campaign (`eventual_tests::crash`) checks after every kill that
//! everything acknowledged is in the database, and at the end that every execution succeeded
//! with the right history, that the tables of unfinished work (tasks, timers, inbox,
//! deliveries) are empty, that every emitted event reached its handler and the handler saw
//! none that no committed step emitted, that a task attempt or a delivery ran again only in a
//! later lifetime whose predecessor's kill cut it before its outcome was durable, and that
//! the kills did cut task runs and deliveries.

use eventual_tests::crash::{Campaign, KillKind};

const SEED: u64 = 0x5eed_2c4f_d800_0004;

#[test]
fn killed_forty_times_nothing_is_lost_and_nothing_reruns_without_a_kill() {
    let figures = Campaign {
        seed: SEED,
        kills: 40,
        executions: 400,
        kill: KillKind::Process,
    }
    .run();
    println!("crash test: {figures}");
}

#[test]
#[ignore = "long: 100 kills (a quarter of a minute or more)"]
fn killed_a_hundred_times_nothing_is_lost_and_nothing_reruns_without_a_kill() {
    let figures = Campaign {
        seed: SEED ^ 0x100,
        kills: 100,
        executions: 400,
        kill: KillKind::Process,
    }
    .run();
    println!("crash test: {figures}");
}
