//! A durable timer: scheduled → fired. A timer may belong to a signal wait (its timeout).

use super::Resolution;
use crate::time::Timestamp;

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
    pub(crate) fn new(until: Timestamp, owner: TimerOwner) -> Self {
        TimerMachine {
            until,
            owner,
            resolution: Resolution::default(),
            fired: false,
        }
    }
}
