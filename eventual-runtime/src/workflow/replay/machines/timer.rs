//! A durable timer: scheduled → fired. A timer may belong to a signal wait (its timeout).

use super::Resolution;
use crate::time::Timestamp;
use crate::workflow::history::{HistoryEventKind, Seq};

/// Who is waiting for a timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimerOwner {
    /// `ctx.sleep` / `ctx.sleep_until`.
    Sleep,
    /// The timeout of `ctx.expect_signal` waiter `id`.
    SignalTimeout(u64),
}

pub(crate) struct TimerMachine {
    pub(crate) until: Timestamp,
    pub(crate) owner: TimerOwner,
    pub(crate) resolution: Resolution,
    pub(crate) fired: bool,
}

impl TimerMachine {
    /// The timer is due: it fires once (a repeated delivery causes nothing).
    pub(crate) fn on_due(&self, seq: Seq) -> Vec<HistoryEventKind> {
        if self.fired {
            Vec::new()
        } else {
            vec![HistoryEventKind::TimerFired { seq }]
        }
    }

    pub(crate) fn new(until: Timestamp, owner: TimerOwner) -> Self {
        TimerMachine {
            until,
            owner,
            resolution: Resolution::default(),
            fired: false,
        }
    }
}
