//! A child workflow: scheduled → succeeded | failed; a parent that closes first applies the
//! child's parent-close policy.

use super::Resolution;
use crate::error::Failure;
use crate::workflow::history::{HistoryEventKind, ParentClosePolicy, Seq};
use serde_json::Value;

pub(crate) struct ChildMachine {
    pub(crate) name: String,
    /// The child's execution id (recorded, so the same on replay).
    pub(crate) execution_id: String,
    pub(crate) parent_close: ParentClosePolicy,
    pub(crate) resolution: Resolution,
}

impl ChildMachine {
    pub(crate) fn new(name: String, execution_id: String, parent_close: ParentClosePolicy) -> Self {
        ChildMachine {
            name,
            execution_id,
            parent_close,
            resolution: Resolution::default(),
        }
    }

    /// The child ended with `result`: recorded once (a repeated report causes nothing).
    pub(crate) fn on_ended(
        &self,
        seq: Seq,
        result: Result<Value, Failure>,
    ) -> Vec<HistoryEventKind> {
        if self.resolution.is_resolved() {
            return Vec::new();
        }
        vec![match result {
            Ok(result) => HistoryEventKind::ChildWorkflowSucceeded { seq, result },
            Err(error) => HistoryEventKind::ChildWorkflowFailed { seq, error },
        }]
    }

    /// Whether closing the parent now must cancel this child: it still runs, as far as the
    /// parent knows, and its policy says so.
    pub(crate) fn cancelled_by_parent_close(&self) -> bool {
        self.parent_close == ParentClosePolicy::Cancel && !self.resolution.is_resolved()
    }
}
