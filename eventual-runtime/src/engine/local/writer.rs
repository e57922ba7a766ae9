//! The single writer: applies batches of writes, several batches per transaction when they
//! queue up (group commit), and reports each commit.
//!
//! A commit that fails for a passing reason (the disk is full, an I/O error, the file is
//! locked) is retried with backoff, with whatever batches arrived meanwhile, until it lands:
//! the engine stalls (it answers 503 to what needs a commit) and resumes by itself. Any other
//! failure stops the writer (fail-stop), since nothing after it may be acknowledged.

use super::metrics::LocalMetrics;
use super::store::{self, StoreError, WriteOp};
use rusqlite::Connection;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The writes of one round of the core, numbered in order.
pub(crate) struct Batch {
    pub(crate) number: u64,
    pub(crate) ops: Vec<WriteOp>,
}

/// One commit, as the writer reports it.
pub(crate) struct Commit {
    /// The number of the last batch in it.
    pub(crate) last_batch: u64,
    /// Whether it wrote anything: a transaction without writes costs no fsync.
    pub(crate) wrote: bool,
}

/// What the writer reports.
pub(crate) enum Written {
    /// A group of batches is on disk.
    Committed(Commit),
    /// A commit failed for a passing reason; the writer retries it.
    Stalled(StoreError),
    /// A commit failed for good; the writer has stopped.
    Failed(StoreError),
}

/// The database's size limit in bytes, `0` for none; the writer applies a change before its
/// next commit.
pub(crate) type SizeLimit = Arc<AtomicU64>;

const FIRST_RETRY: Duration = Duration::from_millis(50);
const LAST_RETRY: Duration = Duration::from_secs(1);

/// Starts the writer thread. It stops when `batches` closes or a commit fails for good.
pub(crate) fn spawn(
    mut connection: Connection,
    batches: Receiver<Batch>,
    size_limit: SizeLimit,
    metrics: Arc<LocalMetrics>,
    report: impl Fn(Written) + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("eventual-writer".to_owned())
        .spawn(move || {
            let mut applied_limit = None;
            while let Ok(first) = batches.recv() {
                let mut group = vec![first];
                group.extend(batches.try_iter());
                let mut retry = FIRST_RETRY;
                loop {
                    let result = apply_size_limit(&connection, &size_limit, &mut applied_limit)
                        .and_then(|()| commit(&mut connection, &group, &metrics));
                    match result {
                        Ok(()) => {
                            report(Written::Committed(Commit {
                                last_batch: group.last().map_or(0, |batch| batch.number),
                                wrote: group.iter().any(|batch| !batch.ops.is_empty()),
                            }));
                            break;
                        }
                        Err(error) if error.is_transient() => {
                            report(Written::Stalled(error));
                            std::thread::sleep(retry);
                            retry = (retry * 2).min(LAST_RETRY);
                            group.extend(batches.try_iter());
                        }
                        Err(error) => {
                            report(Written::Failed(error));
                            return;
                        }
                    }
                }
            }
        })
}

fn apply_size_limit(
    connection: &Connection,
    size_limit: &SizeLimit,
    applied: &mut Option<u64>,
) -> Result<(), StoreError> {
    let wanted = size_limit.load(Ordering::Relaxed);
    if *applied != Some(wanted) {
        store::set_size_limit(connection, (wanted > 0).then_some(wanted))?;
        *applied = Some(wanted);
    }
    Ok(())
}

fn commit(
    connection: &mut Connection,
    group: &[Batch],
    metrics: &LocalMetrics,
) -> Result<(), StoreError> {
    let tx = connection
        .transaction()
        .map_err(|source| StoreError::new("beginning a transaction", source))?;
    let mut writes = 0;
    for batch in group {
        store::apply(&tx, &batch.ops)?;
        writes += batch.ops.len();
    }
    let committing = std::time::Instant::now();
    // Dropping the transaction on an error rolls it back, so a retry starts clean.
    tx.commit()
        .map_err(|source| StoreError::new("committing", source))?;
    if writes > 0 {
        metrics.committed(writes, committing.elapsed());
    }
    Ok(())
}

/// A sender of batches that never blocks the core.
pub(crate) type BatchSender = Sender<Batch>;
