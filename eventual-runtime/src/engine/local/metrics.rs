//! The local engine's metrics, served in the OpenMetrics text format (which Prometheus
//! scrapes) at `/_eventual/metrics`. Every name starts with `eventual_`.
//!
//! The core thread, the writer thread and the HTTP API share one [`LocalMetrics`]; its
//! counters and histograms are atomics, so recording never takes a lock the core waits on.

use crate::engine::ExecutionStatus;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkflowLabels {
    workflow: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndLabels {
    workflow: String,
    /// `failed` or `timed_out`; `cancelled` or `terminated`.
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    task: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SubscriptionLabels {
    subscription: String,
}

/// The local engine's counters and histograms, and the registry that encodes them.
pub(crate) struct LocalMetrics {
    registry: Registry,
    executions_started: Family<WorkflowLabels, Counter>,
    executions_completed: Family<WorkflowLabels, Counter>,
    executions_failed: Family<EndLabels, Counter>,
    executions_cancelled: Family<EndLabels, Counter>,
    step_duration: Histogram,
    task_attempts: Family<TaskLabels, Counter>,
    task_retries: Family<TaskLabels, Counter>,
    deliveries: Family<SubscriptionLabels, Counter>,
    dead_letters: Family<SubscriptionLabels, Counter>,
    timer_lateness: Histogram,
    commit_writes: Histogram,
    commit_fsync: Histogram,
}

impl Default for LocalMetrics {
    fn default() -> Self {
        let mut metrics = LocalMetrics {
            registry: Registry::with_prefix("eventual"),
            executions_started: Family::default(),
            executions_completed: Family::default(),
            executions_failed: Family::default(),
            executions_cancelled: Family::default(),
            // 10 µs to about 5 s.
            step_duration: Histogram::new(exponential_buckets(0.000_01, 2.0, 20)),
            task_attempts: Family::default(),
            task_retries: Family::default(),
            deliveries: Family::default(),
            dead_letters: Family::default(),
            // 1 ms to about 16 s.
            timer_lateness: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
            // 1 to 4,096 writes.
            commit_writes: Histogram::new(exponential_buckets(1.0, 2.0, 13)),
            // 50 µs to about 1.6 s.
            commit_fsync: Histogram::new(exponential_buckets(0.000_05, 2.0, 16)),
        };
        metrics.register();
        metrics
    }
}

impl LocalMetrics {
    fn register(&mut self) {
        let registry = &mut self.registry;
        registry.register(
            "executions_started",
            "Executions started, per workflow",
            self.executions_started.clone(),
        );
        registry.register(
            "executions_completed",
            "Executions that returned Ok, per workflow",
            self.executions_completed.clone(),
        );
        registry.register(
            "executions_failed",
            "Executions that returned Err or timed out, per workflow and status",
            self.executions_failed.clone(),
        );
        registry.register(
            "executions_cancelled",
            "Executions cancelled or terminated, per workflow and status",
            self.executions_cancelled.clone(),
        );
        registry.register_with_unit(
            "step_duration",
            "Time the core spends running one workflow step (replay included)",
            Unit::Seconds,
            self.step_duration.clone(),
        );
        registry.register(
            "task_attempts",
            "Task attempts started, per task",
            self.task_attempts.clone(),
        );
        registry.register(
            "task_retries",
            "Task attempts after the first, per task",
            self.task_retries.clone(),
        );
        registry.register(
            "deliveries",
            "Event deliveries to handlers that ended (any result), per subscription",
            self.deliveries.clone(),
        );
        registry.register(
            "dead_letters",
            "Events put in the dead-letter queue after their last attempt, per subscription",
            self.dead_letters.clone(),
        );
        registry.register_with_unit(
            "timer_lateness",
            "How long after its due time a workflow timer fired",
            Unit::Seconds,
            self.timer_lateness.clone(),
        );
        registry.register(
            "commit_writes",
            "Writes per database commit (group commit)",
            self.commit_writes.clone(),
        );
        registry.register_with_unit(
            "commit_fsync_duration",
            "Time to make one commit durable (SQLite's COMMIT: WAL write and fsync)",
            Unit::Seconds,
            self.commit_fsync.clone(),
        );
    }

    pub(crate) fn execution_started(&self, workflow: &str) {
        self.executions_started
            .get_or_create(&WorkflowLabels {
                workflow: workflow.to_owned(),
            })
            .inc();
    }

    /// Counts an execution that ended with `status`: completed (succeeded), failed (failed,
    /// timed out) or cancelled (cancelled, terminated).
    pub(crate) fn execution_ended(&self, workflow: &str, status: ExecutionStatus) {
        let labels = EndLabels {
            workflow: workflow.to_owned(),
            status: status.as_str().to_owned(),
        };
        let family = match status {
            ExecutionStatus::Succeeded => {
                self.executions_completed
                    .get_or_create(&WorkflowLabels {
                        workflow: workflow.to_owned(),
                    })
                    .inc();
                return;
            }
            ExecutionStatus::Cancelled | ExecutionStatus::Terminated => &self.executions_cancelled,
            _ => &self.executions_failed,
        };
        family.get_or_create(&labels).inc();
    }

    pub(crate) fn step(&self, took: Duration) {
        self.step_duration.observe(took.as_secs_f64());
    }

    pub(crate) fn attempt_started(&self, task: &str, attempt: u32) {
        let labels = TaskLabels {
            task: task.to_owned(),
        };
        self.task_attempts.get_or_create(&labels).inc();
        if attempt > 1 {
            self.task_retries.get_or_create(&labels).inc();
        }
    }

    pub(crate) fn delivery_ended(&self, subscription: &str) {
        self.deliveries
            .get_or_create(&SubscriptionLabels {
                subscription: subscription.to_owned(),
            })
            .inc();
    }

    pub(crate) fn dead_lettered(&self, subscription: &str) {
        self.dead_letters
            .get_or_create(&SubscriptionLabels {
                subscription: subscription.to_owned(),
            })
            .inc();
    }

    pub(crate) fn timer_fired(&self, late: Duration) {
        self.timer_lateness.observe(late.as_secs_f64());
    }

    pub(crate) fn committed(&self, writes: usize, fsync: Duration) {
        self.commit_writes.observe(writes as f64);
        self.commit_fsync.observe(fsync.as_secs_f64());
    }

    /// Everything, in the OpenMetrics text format.
    pub(crate) fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_prefix_units_and_labels() {
        let metrics = LocalMetrics::default();
        metrics.execution_started("checkout");
        metrics.execution_ended("checkout", ExecutionStatus::TimedOut);
        metrics.attempt_started("charge", 2);
        metrics.step(Duration::from_micros(30));
        metrics.committed(3, Duration::from_micros(200));
        let text = metrics.encode();
        for line in [
            "eventual_executions_started_total{workflow=\"checkout\"} 1",
            "eventual_executions_failed_total{workflow=\"checkout\",status=\"timed_out\"} 1",
            "eventual_task_attempts_total{task=\"charge\"} 1",
            "eventual_task_retries_total{task=\"charge\"} 1",
            "eventual_step_duration_seconds_count 1",
            "eventual_commit_writes_sum 3.0",
            "eventual_commit_fsync_duration_seconds_count 1",
        ] {
            assert!(text.contains(line), "no `{line}` in:\n{text}");
        }
    }
}
