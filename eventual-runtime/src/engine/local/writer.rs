//! The single writer: applies batches of writes, several batches per transaction when they
//! queue up (group commit), and reports each commit.

use super::store::{self, StoreError, WriteOp};
use rusqlite::Connection;
use std::sync::mpsc::{Receiver, Sender};
use std::thread::JoinHandle;

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

/// Starts the writer thread. It stops when `batches` closes. `committed` hears every commit
/// or the error that stopped the writer.
pub(crate) fn spawn(
    mut connection: Connection,
    batches: Receiver<Batch>,
    committed: impl Fn(Result<Commit, StoreError>) + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("eventual-writer".to_owned())
        .spawn(move || {
            while let Ok(first) = batches.recv() {
                let mut group = vec![first];
                group.extend(batches.try_iter());
                match commit(&mut connection, &group) {
                    Ok(()) => committed(Ok(Commit {
                        last_batch: group.last().map_or(0, |batch| batch.number),
                        wrote: group.iter().any(|batch| !batch.ops.is_empty()),
                    })),
                    Err(error) => {
                        // Fail-stop: nothing after a failed commit may be acknowledged.
                        committed(Err(error));
                        return;
                    }
                }
            }
        })
}

fn commit(connection: &mut Connection, group: &[Batch]) -> Result<(), StoreError> {
    let tx = connection
        .transaction()
        .map_err(|source| store_error("beginning a transaction", source))?;
    for batch in group {
        store::apply(&tx, &batch.ops)?;
    }
    tx.commit()
        .map_err(|source| store_error("committing", source))
}

fn store_error(action: &'static str, source: rusqlite::Error) -> StoreError {
    StoreError::new(action, source)
}

/// A sender of batches that never blocks the core.
pub(crate) type BatchSender = Sender<Batch>;
