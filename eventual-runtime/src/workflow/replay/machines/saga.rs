//! Sagas: compensations registered by `saga.run` and `add_compensation`, and the runs that
//! carry them out, newest first.

use std::collections::{BTreeMap, VecDeque};

pub(crate) type CompensationFn =
    Box<dyn FnOnce() -> futures::future::BoxFuture<'static, Result<(), String>> + Send>;

/// Compensations registered by sagas, in registration order.
pub(crate) struct Compensation {
    pub(crate) saga: u64,
    pub(crate) run: CompensationFn,
}

/// A compensation of a run: not begun, or begun and waiting for its steps.
pub(crate) enum PendingCompensation {
    NotBegun(CompensationFn),
    Begun(futures::future::BoxFuture<'static, Result<(), String>>),
}

/// Compensations under way, run one after the other. They live in the replay state rather
/// than in the future that runs them, so a cancel that drops the workflow body in the middle
/// of `saga.compensate()` hands the one in flight and the rest to the cleanup.
#[derive(Default)]
struct CompensationRun {
    queue: VecDeque<PendingCompensation>,
    errors: Vec<String>,
}

/// What a compensation run does next.
pub(crate) enum NextCompensation {
    Run(PendingCompensation),
    Done(Vec<String>),
}

/// The compensations of an execution: registered ones, and runs under way.
#[derive(Default)]
pub(crate) struct Sagas {
    registered: Vec<Compensation>,
    next_saga: u64,
    runs: BTreeMap<u64, CompensationRun>,
    next_run: u64,
}

impl Sagas {
    /// Registers `compensation` of `saga`.
    pub(crate) fn register(&mut self, compensation: Compensation) {
        self.registered.push(compensation);
    }

    pub(crate) fn new_saga(&mut self) -> u64 {
        self.next_saga += 1;
        self.next_saga
    }

    /// Takes the registered compensations of `saga` (of every saga with `None`), newest first.
    fn take_compensations(
        &mut self,
        saga: Option<u64>,
    ) -> impl Iterator<Item = PendingCompensation> {
        let (taken, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.registered)
            .into_iter()
            .partition(|c| saga.is_none_or(|s| c.saga == s));
        self.registered = kept;
        taken
            .into_iter()
            .rev()
            .map(|c| PendingCompensation::NotBegun(c.run))
    }

    fn add_run(&mut self, queue: VecDeque<PendingCompensation>) -> u64 {
        self.next_run += 1;
        let run = CompensationRun {
            queue,
            errors: Vec::new(),
        };
        self.runs.insert(self.next_run, run);
        self.next_run
    }

    /// Begins running `saga`'s compensations, newest first; returns the run's id.
    pub(crate) fn begin_run(&mut self, saga: u64) -> u64 {
        let queue = self.take_compensations(Some(saga)).collect();
        self.add_run(queue)
    }

    /// The cleanup of a cancel: one run that finishes every run under way (newest first, the
    /// compensation in flight before the rest), then every compensation not yet begun, newest
    /// first.
    pub(crate) fn begin_cleanup_run(&mut self) -> u64 {
        let mut queue: VecDeque<_> = std::mem::take(&mut self.runs)
            .into_values()
            .rev()
            .flat_map(|run| run.queue)
            .collect();
        queue.extend(self.take_compensations(None));
        self.add_run(queue)
    }

    pub(crate) fn next(&mut self, run: u64) -> NextCompensation {
        let Some(entry) = self.runs.get_mut(&run) else {
            return NextCompensation::Done(Vec::new());
        };
        match entry.queue.pop_front() {
            Some(next) => NextCompensation::Run(next),
            None => NextCompensation::Done(
                self.runs
                    .remove(&run)
                    .map(|run| run.errors)
                    .unwrap_or_default(),
            ),
        }
    }

    /// The compensation `run` polled waits: it goes back to the front of its run.
    pub(crate) fn waits(
        &mut self,
        run: u64,
        future: futures::future::BoxFuture<'static, Result<(), String>>,
    ) {
        self.runs
            .entry(run)
            .or_default()
            .queue
            .push_front(PendingCompensation::Begun(future));
    }

    pub(crate) fn failed(&mut self, run: u64, error: String) {
        if let Some(run) = self.runs.get_mut(&run) {
            run.errors.push(error);
        }
    }

    /// Everything that could still run compensations, taken out so the caller drops it
    /// outside the state's lock (the futures hold the context).
    pub(crate) fn take_work(&mut self) -> impl Send + 'static {
        (
            std::mem::take(&mut self.registered),
            std::mem::take(&mut self.runs),
        )
    }
}
