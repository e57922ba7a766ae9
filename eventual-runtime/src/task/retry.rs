//! Retry policies of tasks and event handlers.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How the delay between attempts grows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    /// Every retry waits `initial`.
    Fixed,
    /// Retry `n` waits `initial * multiplier^(n-1)`, capped at `max`.
    Exponential,
}

/// When and how often a failed attempt is retried.
///
/// Built at compile time by `#[task(retry(...))]` and `#[on_event(retry(...))]`, so every field
/// is a plain constant.
///
/// ```
/// use eventual_runtime::task::{Backoff, RetryPolicy};
/// let policy = RetryPolicy { max_attempts: 4, backoff: Backoff::Exponential, initial_ms: 1_000,
///     max_ms: 5_000, multiplier: 2.0, jitter: 0.0 };
/// let delays: Vec<u64> = (1..4).map(|a| policy.delay_after(a, 0.5).as_millis() as u64).collect();
/// assert_eq!(delays, [1_000, 2_000, 4_000]);
/// assert!(!policy.allows_attempt(5));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; `1` means no retry.
    pub max_attempts: u32,
    /// Growth of the delay.
    pub backoff: Backoff,
    /// Delay before the first retry, in milliseconds.
    pub initial_ms: u64,
    /// Upper bound of any delay, in milliseconds.
    pub max_ms: u64,
    /// Growth factor of exponential backoff.
    pub multiplier: f64,
    /// Fraction of the delay (0.0..=1.0) that is randomised, spreading retries of many failures.
    pub jitter: f64,
}

impl RetryPolicy {
    /// A single attempt: the default of a task without `retry(...)`.
    pub const NONE: RetryPolicy = RetryPolicy {
        max_attempts: 1,
        backoff: Backoff::Fixed,
        initial_ms: 0,
        max_ms: 0,
        multiplier: 1.0,
        jitter: 0.0,
    };

    /// The defaults behind a bare `retry(...)`: 3 attempts, exponential from 1 s, doubling,
    /// capped at 60 s, 10 % jitter.
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        max_attempts: 3,
        backoff: Backoff::Exponential,
        initial_ms: 1_000,
        max_ms: 60_000,
        multiplier: 2.0,
        jitter: 0.1,
    };

    /// Whether attempt number `attempt` (1-based) may run.
    pub fn allows_attempt(&self, attempt: u32) -> bool {
        attempt <= self.max_attempts
    }

    /// The delay after failed attempt `attempt` (1-based). `unit` is a number in `0.0..1.0`
    /// that drives the jitter; callers derive it deterministically so replay agrees.
    pub fn delay_after(&self, attempt: u32, unit: f64) -> Duration {
        let base = match self.backoff {
            Backoff::Fixed => self.initial_ms as f64,
            Backoff::Exponential => {
                let exponent = attempt.saturating_sub(1).min(1_000) as i32;
                self.initial_ms as f64 * self.multiplier.powi(exponent)
            }
        };
        let capped = if self.max_ms > 0 {
            base.min(self.max_ms as f64)
        } else {
            base
        };
        // Jitter spreads the delay over [capped * (1 - jitter), capped * (1 + jitter)].
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = 1.0 + jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        Duration::from_millis((capped * factor).max(0.0).round() as u64)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::NONE
    }
}
