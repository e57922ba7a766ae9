//! Signals: buffered until a wait takes them, handed to waits in order, de-duplicated by id,
//! logged for streams; a wait with a timeout fails when its timer fires first.

use crate::error::{Failure, StepErrorKind};
use crate::workflow::history::{HistoryEventKind, Seq};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::task::Waker;

/// A received signal: its payload and its sender's id, which a run that continues as new
/// hands on with it (so the next run still drops the signal's duplicate deliveries).
type Received = (Value, Option<String>);

/// Signals of one name: every payload ever received (for streams) and the ones no
/// `expect_signal` has taken yet.
#[derive(Default)]
struct SignalChannel {
    log: Vec<Value>,
    unclaimed: VecDeque<Received>,
    waiters: VecDeque<u64>,
    stream_wakers: Vec<Waker>,
}

/// One `expect_signal` call that had to wait.
struct SignalWaiter {
    name: String,
    result: Option<Result<Value, Failure>>,
    /// The id of the signal in `result`, if one was handed to this waiter.
    signal_id: Option<String>,
    waker: Option<Waker>,
}

/// The result of starting an `expect_signal`.
pub(crate) enum SignalClaim {
    Ready(Value),
    Waiting(u64),
}

/// Every signal of an execution and every wait for one.
#[derive(Default)]
pub(crate) struct Signals {
    channels: BTreeMap<String, SignalChannel>,
    waiters: HashMap<u64, SignalWaiter>,
    next_waiter: u64,
    seen_ids: HashSet<String>,
}

impl Signals {
    /// A wait for signal `name`: a buffered one at once, or a new waiter.
    pub(crate) fn claim(&mut self, name: &str) -> SignalClaim {
        let channel = self.channels.entry(name.to_owned()).or_default();
        if let Some((payload, _)) = channel.unclaimed.pop_front() {
            return SignalClaim::Ready(payload);
        }
        let id = self.next_waiter;
        self.next_waiter += 1;
        channel.waiters.push_back(id);
        self.waiters.insert(
            id,
            SignalWaiter {
                name: name.to_owned(),
                result: None,
                signal_id: None,
                waker: None,
            },
        );
        SignalClaim::Waiting(id)
    }

    /// A live signal: recorded unless its id was seen (a duplicate delivery).
    pub(crate) fn on_arrived(
        &self,
        name: String,
        payload: Value,
        id: Option<String>,
    ) -> Vec<HistoryEventKind> {
        if id.as_ref().is_some_and(|id| self.seen_ids.contains(id)) {
            Vec::new()
        } else {
            vec![HistoryEventKind::SignalReceived { name, payload, id }]
        }
    }

    /// History holds a signal: it goes to the oldest waiter, or into the buffer, and to the
    /// streams.
    pub(crate) fn on_received(&mut self, name: &str, payload: &Value, id: Option<&str>) {
        if let Some(id) = id {
            self.seen_ids.insert(id.to_owned());
        }
        let channel = self.channels.entry(name.to_owned()).or_default();
        channel.log.push(payload.clone());
        for waker in channel.stream_wakers.drain(..) {
            waker.wake();
        }
        self.hand_out_signal(name, (payload.clone(), id.map(str::to_owned)), false);
    }

    pub(crate) fn poll_waiter(&mut self, id: u64, waker: &Waker) -> Option<Result<Value, Failure>> {
        let waiter = self.waiters.get_mut(&id)?;
        match waiter.result.take() {
            Some(result) => {
                self.waiters.remove(&id);
                Some(result)
            }
            None => {
                waiter.waker = Some(waker.clone());
                None
            }
        }
    }

    /// A waiter's future was dropped (for example it lost a race): it stops waiting, and a
    /// signal it was handed but never saw goes to the next waiter or back to the buffer.
    pub(crate) fn drop_waiter(&mut self, id: u64) {
        let Some(waiter) = self.waiters.remove(&id) else {
            return;
        };
        let channel = self.channels.entry(waiter.name.clone()).or_default();
        channel.waiters.retain(|w| *w != id);
        if let Some(Ok(payload)) = waiter.result {
            self.hand_out_signal(&waiter.name, (payload, waiter.signal_id), true);
        }
    }

    fn hand_out_signal(&mut self, name: &str, signal: Received, to_front: bool) {
        let channel = self.channels.entry(name.to_owned()).or_default();
        match channel.waiters.pop_front() {
            Some(id) => {
                if let Some(waiter) = self.waiters.get_mut(&id) {
                    let (payload, signal_id) = signal;
                    waiter.result = Some(Ok(payload));
                    waiter.signal_id = signal_id;
                    if let Some(waker) = waiter.waker.take() {
                        waker.wake();
                    }
                }
            }
            None if to_front => channel.unclaimed.push_front(signal),
            None => channel.unclaimed.push_back(signal),
        }
    }

    /// Takes every signal no wait has taken, oldest first within each name (names in order),
    /// with its id: what a run that continues as new hands on to the next run.
    pub(crate) fn take_unclaimed(&mut self) -> Vec<(String, Value, Option<String>)> {
        self.channels
            .iter_mut()
            .flat_map(|(name, channel)| {
                channel
                    .unclaimed
                    .drain(..)
                    .map(move |(payload, id)| (name.clone(), payload, id))
            })
            .collect()
    }

    /// The next signal of a stream at `cursor`, or registers the stream's waker.
    pub(crate) fn poll_stream(
        &mut self,
        name: &str,
        cursor: usize,
        waker: &Waker,
    ) -> Option<Value> {
        let channel = self.channels.entry(name.to_owned()).or_default();
        match channel.log.get(cursor) {
            Some(payload) => Some(payload.clone()),
            None => {
                channel.stream_wakers.push(waker.clone());
                None
            }
        }
    }

    /// The timeout timer of waiter `id` fired (step `timer_seq`): it fails, unless a signal
    /// came first.
    pub(crate) fn time_out(&mut self, id: u64, timer_seq: Seq) {
        let Some(waiter) = self.waiters.get_mut(&id) else {
            return;
        };
        if waiter.result.is_some() {
            return;
        }
        waiter.result = Some(Err(Failure::new(
            StepErrorKind::SignalTimedOut,
            format!(
                "signal `{}` did not arrive before timer {timer_seq} fired",
                waiter.name
            ),
        )));
        if let Some(waker) = waiter.waker.take() {
            waker.wake();
        }
        let name = waiter.name.clone();
        if let Some(channel) = self.channels.get_mut(&name) {
            channel.waiters.retain(|w| *w != id);
        }
    }
}
