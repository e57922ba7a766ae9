//! When a step's side effects may begin, relative to the commit of the step that scheduled
//! them: the one trade between latency and the number of times a side effect can run.

use std::fmt;
use std::str::FromStr;

/// When a task attempt, a handler delivery of an emitted event, or a child's first effects
/// may begin, relative to the commit of the step that scheduled them.
///
/// Every engine honours it:
/// - the local engine, as described on each variant;
/// - the AWS engine is always [`Strict`](Durability::Strict): the orchestrator writes history
///   before it sends anything;
/// - the [`TestEnvironment`](crate::testing::TestEnvironment) is always strict too, and records
///   the order ([`TestEnvironment::journal`](crate::testing::TestEnvironment::journal)) so tests
///   can assert it.
///
/// ```
/// use eventual_runtime::engine::Durability;
/// assert_eq!("speculative".parse::<Durability>(), Ok(Durability::Speculative));
/// assert_eq!(Durability::default(), Durability::Strict);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Durability {
    /// A side effect begins only after the step that scheduled it is on disk. After a crash an
    /// attempt runs again only if it had begun and its result had not committed: at most once
    /// per attempt plus once per crash that hit it while it ran. Each sequential step waits
    /// for one commit (one fsync); concurrent executions share commits (group commit).
    #[default]
    Strict,
    /// A task attempt begins while the step that scheduled it is still being committed, so a
    /// sequential step does not wait for an fsync. The risk: after a crash (of the process or
    /// the machine), every step since the last commit is lost, and the attempts those steps
    /// started run again under the same attempt number; an attempt whose step was lost can
    /// have had side effects that no history records. Emitted events and replies still wait
    /// for the commit (the outbox is never speculative).
    Speculative,
}

impl Durability {
    /// `strict` or `speculative`.
    pub fn as_str(self) -> &'static str {
        match self {
            Durability::Strict => "strict",
            Durability::Speculative => "speculative",
        }
    }
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Durability {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "strict" => Ok(Durability::Strict),
            "speculative" => Ok(Durability::Speculative),
            other => Err(format!(
                "unknown durability `{other}`: expected `strict` or `speculative`"
            )),
        }
    }
}
