//! Starting an execution under an id that may be taken.

use crate::engine::api::Started;
use crate::engine::ServiceError;
use crate::error::{Failure, StepErrorKind};

/// What a start request for workflow `requested` under an id means, given the workflow of the
/// execution that already holds the id, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartDecision<'a> {
    /// The id is free: create the execution.
    Create,
    /// The same workflow holds the id: the start is an idempotent repeat.
    Existing,
    /// Another workflow holds the id: refuse, naming it.
    Conflict {
        /// The workflow of the execution that holds the id.
        held_by: &'a str,
    },
}

impl StartDecision<'_> {
    /// The answer to a caller who asked to start under `execution_id`: `Ok(None)` when the
    /// engine is to create it, the existing execution on a repeat, or the conflict.
    pub fn answer(self, execution_id: String) -> Result<Option<Started>, ServiceError> {
        match self {
            StartDecision::Create => Ok(None),
            StartDecision::Existing => Ok(Some(Started {
                execution_id,
                created: false,
            })),
            StartDecision::Conflict { held_by } => Err(ServiceError::AlreadyStarted {
                execution_id,
                held_by: held_by.to_owned(),
            }),
        }
    }
}

/// Decides a start of `requested` under an id held by an execution of `holder` (if any).
pub fn decide_start<'a>(requested: &str, holder: Option<&'a str>) -> StartDecision<'a> {
    match holder {
        None => StartDecision::Create,
        Some(holder) if holder == requested => StartDecision::Existing,
        Some(holder) => StartDecision::Conflict { held_by: holder },
    }
}

/// The id of an execution started without a name: `<workflow>-<unique>`, where `unique` is
/// the engine's (a counter, a process prefix, a random digest).
pub fn fresh_execution_id(workflow: &str, unique: &str) -> String {
    format!("{workflow}-{unique}")
}

/// The message of a refused start, the same on every engine.
pub fn conflict_message(execution_id: &str, held_by: &str) -> String {
    format!("execution `{execution_id}` is already held by an execution of workflow `{held_by}`")
}

/// The failure a parent sees when its child's id is held by another workflow.
pub fn child_conflict(execution_id: &str, held_by: &str) -> Failure {
    Failure::new(
        StepErrorKind::InvalidInput,
        conflict_message(execution_id, held_by),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_free_repeated_or_held_by_another_workflow() {
        assert_eq!(decide_start("pay", None), StartDecision::Create);
        assert_eq!(decide_start("pay", Some("pay")), StartDecision::Existing);
        assert_eq!(
            decide_start("pay", Some("ship")),
            StartDecision::Conflict { held_by: "ship" }
        );
        assert_eq!(decide_start("pay", None).answer("n".into()), Ok(None));
        assert_eq!(
            decide_start("pay", Some("pay")).answer("n".into()),
            Ok(Some(Started {
                execution_id: "n".into(),
                created: false
            }))
        );
        let conflict = decide_start("pay", Some("ship"))
            .answer("n".into())
            .unwrap_err();
        assert_eq!(conflict.kind(), "already_started");
        assert_eq!(conflict.status(), 409);
        assert!(conflict.to_string().contains("`ship`"), "{conflict}");
    }
}
