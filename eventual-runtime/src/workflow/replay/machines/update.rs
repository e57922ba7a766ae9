//! Updates: durable messages the workflow takes (`ctx.next_update`), then accepts with an
//! answer or rejects. Received updates are buffered until a wait takes them, handed to waits
//! in order and de-duplicated by id; every received update ends with one verdict in history.
//!
//! Replay checks verdicts against history: accepting is a step (compared by the step
//! machinery), rejecting is not, so the verdicts history holds are known up front and a
//! rejection where history accepted (or the reverse) is a non-determinism error naming the
//! update.

use crate::workflow::history::{HistoryEventKind, Seq};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::task::Waker;

/// An update as history received it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ReceivedUpdate {
    pub(crate) name: String,
    pub(crate) update_id: String,
    pub(crate) input: Value,
}

/// A verdict history holds for an update.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum RecordedVerdict {
    /// Accepted at step `seq`.
    Accepted { name: String, seq: Seq },
    /// Rejected (no step).
    Rejected { name: String },
}

/// A verdict described for a non-determinism error.
pub(crate) fn describe_verdict(accepted: bool, name: &str, update_id: &str) -> String {
    let verb = if accepted { "accepting" } else { "rejecting" };
    format!("{verb} update `{name}` (id `{update_id}`)")
}

#[derive(Default)]
struct UpdateChannel {
    unclaimed: VecDeque<ReceivedUpdate>,
    waiters: VecDeque<u64>,
}

struct UpdateWaiter {
    name: String,
    handed: Option<ReceivedUpdate>,
    waker: Option<Waker>,
}

/// Every update of an execution and every wait for one.
#[derive(Default)]
pub(crate) struct Updates {
    channels: BTreeMap<String, UpdateChannel>,
    waiters: HashMap<u64, UpdateWaiter>,
    next_waiter: u64,
    /// Ids history received, to drop a second delivery of the same update.
    received: HashSet<String>,
    /// Received updates that have no verdict yet, by id.
    open: HashSet<String>,
    /// The verdicts of history: on replay, all of the history's, known before the code runs;
    /// then each one the code gives.
    recorded: HashMap<String, RecordedVerdict>,
    /// Recorded rejections the code has given again (replay checks it gave them all).
    rejections_given: HashSet<String>,
}

impl Updates {
    /// The verdicts of a whole history, for replay.
    pub(crate) fn with_recorded(recorded: HashMap<String, RecordedVerdict>) -> Self {
        Updates {
            recorded,
            ..Updates::default()
        }
    }

    /// The verdicts a history holds, by update id.
    pub(crate) fn verdicts_of<'a>(
        events: impl IntoIterator<Item = &'a HistoryEventKind>,
    ) -> HashMap<String, RecordedVerdict> {
        events
            .into_iter()
            .filter_map(|kind| match kind {
                HistoryEventKind::UpdateAccepted {
                    seq,
                    name,
                    update_id,
                    ..
                } => Some((
                    update_id.clone(),
                    RecordedVerdict::Accepted {
                        name: name.clone(),
                        seq: *seq,
                    },
                )),
                HistoryEventKind::UpdateRejected {
                    name, update_id, ..
                } => Some((
                    update_id.clone(),
                    RecordedVerdict::Rejected { name: name.clone() },
                )),
                _ => None,
            })
            .collect()
    }

    /// A live update: recorded unless its id was received already (a duplicate).
    pub(crate) fn on_arrived(&self, update: ReceivedUpdate) -> Vec<HistoryEventKind> {
        if self.received.contains(&update.update_id) {
            return Vec::new();
        }
        vec![HistoryEventKind::UpdateReceived {
            name: update.name,
            update_id: update.update_id,
            input: update.input,
        }]
    }

    /// History holds an update: it goes to the oldest waiter, or into the buffer.
    pub(crate) fn on_received(&mut self, update: ReceivedUpdate) {
        if !self.received.insert(update.update_id.clone()) {
            return;
        }
        self.open.insert(update.update_id.clone());
        self.hand_out(update, false);
    }

    /// A wait for update `name`: a buffered one at once, or a new waiter.
    pub(crate) fn claim(&mut self, name: &str) -> Result<ReceivedUpdate, u64> {
        let channel = self.channels.entry(name.to_owned()).or_default();
        if let Some(update) = channel.unclaimed.pop_front() {
            return Ok(update);
        }
        let id = self.next_waiter;
        self.next_waiter += 1;
        channel.waiters.push_back(id);
        self.waiters.insert(
            id,
            UpdateWaiter {
                name: name.to_owned(),
                handed: None,
                waker: None,
            },
        );
        Err(id)
    }

    pub(crate) fn poll_waiter(&mut self, id: u64, waker: &Waker) -> Option<ReceivedUpdate> {
        let waiter = self.waiters.get_mut(&id)?;
        match waiter.handed.take() {
            Some(update) => {
                self.waiters.remove(&id);
                Some(update)
            }
            None => {
                waiter.waker = Some(waker.clone());
                None
            }
        }
    }

    /// A wait was dropped (it lost a race): an update it was handed but never saw goes to the
    /// next waiter or back to the front of the buffer.
    pub(crate) fn drop_waiter(&mut self, id: u64) {
        let Some(waiter) = self.waiters.remove(&id) else {
            return;
        };
        if let Some(channel) = self.channels.get_mut(&waiter.name) {
            channel.waiters.retain(|w| *w != id);
        }
        if let Some(update) = waiter.handed {
            self.hand_out(update, true);
        }
    }

    fn hand_out(&mut self, update: ReceivedUpdate, to_front: bool) {
        let channel = self.channels.entry(update.name.clone()).or_default();
        match channel.waiters.pop_front() {
            Some(id) => {
                if let Some(waiter) = self.waiters.get_mut(&id) {
                    waiter.handed = Some(update);
                    if let Some(waker) = waiter.waker.take() {
                        waker.wake();
                    }
                }
            }
            None if to_front => channel.unclaimed.push_front(update),
            None => channel.unclaimed.push_back(update),
        }
    }

    /// Takes every update no wait has taken, names in order, oldest first within a name.
    pub(crate) fn take_unclaimed(&mut self) -> Vec<ReceivedUpdate> {
        self.channels
            .values_mut()
            .flat_map(|channel| channel.unclaimed.drain(..))
            .collect()
    }

    /// What history recorded as the verdict of `update_id`, if anything.
    pub(crate) fn recorded(&self, update_id: &str) -> Option<&RecordedVerdict> {
        self.recorded.get(update_id)
    }

    /// Whether the update is received and still waits for its verdict.
    pub(crate) fn is_open(&self, update_id: &str) -> bool {
        self.open.contains(update_id)
    }

    /// The code gave its verdict on `update_id`.
    pub(crate) fn close(&mut self, update_id: &str, verdict: RecordedVerdict) {
        self.open.remove(update_id);
        if matches!(verdict, RecordedVerdict::Rejected { .. }) {
            self.rejections_given.insert(update_id.to_owned());
        }
        self.recorded.entry(update_id.to_owned()).or_insert(verdict);
    }

    /// A rejection history holds that the code has not given (again), if any: the first by id.
    pub(crate) fn rejection_not_given(&self) -> Option<(String, String)> {
        let mut missing: Vec<_> = self
            .recorded
            .iter()
            .filter_map(|(id, verdict)| match verdict {
                RecordedVerdict::Rejected { name } if !self.rejections_given.contains(id) => {
                    Some((id.clone(), name.clone()))
                }
                _ => None,
            })
            .collect();
        missing.sort();
        missing.into_iter().next()
    }
}
