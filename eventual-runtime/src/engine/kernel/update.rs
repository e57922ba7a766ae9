//! Updates from outside an execution: their ids, what history says of them, and what a caller
//! is answered. Every engine sends an update as an inbox event (like a signal) and reads its
//! verdict from the execution's history, so they all answer alike:
//!
//! - an update id the history already answered is answered again, and nothing is sent (an
//!   update is idempotent by id, even after the execution ended);
//! - an update to an execution that ended is [`ServiceError::Ended`];
//! - the answer is [`UpdateStatus::Accepted`] (its answer), [`UpdateStatus::Rejected`] (why),
//!   or [`UpdateStatus::Pending`] while the workflow has not given its verdict.

use crate::engine::ServiceError;
use crate::workflow::command::InboxEvent;
use crate::workflow::history::{HistoryEvent, HistoryEventKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// How long a caller waits for the answer unless it says otherwise.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// The longest wait a caller may ask for (a longer one is cut to this).
pub const MAX_WAIT: Duration = Duration::from_secs(300);

/// An update as a caller sends it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SendUpdate {
    /// The update's name (what `ctx.next_update(name)` waits for).
    pub name: String,
    /// Its input.
    #[serde(default)]
    pub input: Value,
    /// The caller's id: sending the same id again is the same update, answered once. When
    /// absent the engine makes one (`update-<unique>`) and returns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_id: Option<String>,
    /// How long to wait for the answer before answering [`UpdateStatus::Pending`]
    /// ([`DEFAULT_WAIT`] when absent, at most [`MAX_WAIT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<Duration>,
}

impl SendUpdate {
    /// Update `name` with `input`, a fresh id and the default wait.
    pub fn new(name: impl Into<String>, input: Value) -> Self {
        SendUpdate {
            name: name.into(),
            input,
            update_id: None,
            wait: None,
        }
    }

    /// The same update under the caller's id `update_id`.
    pub fn with_id(mut self, update_id: impl Into<String>) -> Self {
        self.update_id = Some(update_id.into());
        self
    }

    /// Waits at most `wait` for the answer.
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = Some(wait);
        self
    }

    /// The wait asked for, within [`MAX_WAIT`].
    pub fn wait(&self) -> Duration {
        self.wait.unwrap_or(DEFAULT_WAIT).min(MAX_WAIT)
    }

    /// The update's id: the caller's, or `update-<unique>`.
    pub fn id(&self, unique: impl FnOnce() -> String) -> String {
        self.update_id
            .clone()
            .unwrap_or_else(|| format!("update-{}", unique()))
    }

    /// The inbox event that carries the update under `update_id`.
    pub fn to_inbox(&self, update_id: &str) -> InboxEvent {
        InboxEvent::Update {
            name: self.name.clone(),
            update_id: update_id.to_owned(),
            input: self.input.clone(),
        }
    }

    /// Refuses an update without a name or with an empty id.
    pub fn check(&self) -> Result<(), ServiceError> {
        if self.name.is_empty() {
            return Err(ServiceError::BadRequest(
                "an update needs a name".to_owned(),
            ));
        }
        if self.update_id.as_deref() == Some("") {
            return Err(ServiceError::BadRequest(
                "`update_id` must not be empty".to_owned(),
            ));
        }
        Ok(())
    }
}

/// Where an update stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum UpdateStatus {
    /// Received; the workflow has not given its verdict yet.
    Pending,
    /// Accepted with this answer.
    Accepted {
        /// The workflow's answer.
        answer: Value,
    },
    /// Rejected.
    Rejected {
        /// Why.
        reason: String,
    },
}

impl UpdateStatus {
    /// Whether the workflow gave its verdict.
    pub fn is_decided(&self) -> bool {
        !matches!(self, UpdateStatus::Pending)
    }
}

/// What a caller of an update is answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpdateReply {
    /// The update's id, to ask again (`GET /_eventual/executions/{id}/updates/{update_id}`).
    pub update_id: String,
    /// Where it stands.
    #[serde(flatten)]
    pub status: UpdateStatus,
}

impl UpdateReply {
    /// The accepted answer; a rejection is [`ServiceError::UpdateRejected`] and an update
    /// still waiting for its verdict [`ServiceError::UpdatePending`].
    pub fn into_answer(self, execution_id: &str) -> Result<Value, ServiceError> {
        if let Some(rejection) = self.rejection(execution_id) {
            return Err(rejection);
        }
        match self.status {
            UpdateStatus::Accepted { answer } => Ok(answer),
            _ => Err(ServiceError::UpdatePending {
                execution_id: execution_id.to_owned(),
                update_id: self.update_id,
            }),
        }
    }

    /// The error a rejected update is answered with, if it was rejected.
    pub fn rejection(&self, execution_id: &str) -> Option<ServiceError> {
        match &self.status {
            UpdateStatus::Rejected { reason } => Some(ServiceError::UpdateRejected {
                execution_id: execution_id.to_owned(),
                update_id: self.update_id.clone(),
                reason: reason.clone(),
            }),
            _ => None,
        }
    }
}

/// What `history` (one run's) says of update `update_id`: `None` when it never received it.
pub fn status_in(history: &[HistoryEvent], update_id: &str) -> Option<UpdateStatus> {
    let mut status = None;
    for event in history {
        match &event.kind {
            HistoryEventKind::UpdateReceived { update_id: id, .. } if id == update_id => {
                status.get_or_insert(UpdateStatus::Pending);
            }
            HistoryEventKind::UpdateAccepted {
                update_id: id,
                answer,
                ..
            } if id == update_id => {
                return Some(UpdateStatus::Accepted {
                    answer: answer.clone(),
                })
            }
            HistoryEventKind::UpdateRejected {
                update_id: id,
                reason,
                ..
            } if id == update_id => {
                return Some(UpdateStatus::Rejected {
                    reason: reason.clone(),
                })
            }
            _ => {}
        }
    }
    status
}

/// What the runs of an execution (any order) say of update `update_id`: a verdict in any run
/// wins (an update a run left unanswered is carried to the next run), then "received".
pub fn status_in_runs<'a>(
    runs: impl IntoIterator<Item = &'a [HistoryEvent]>,
    update_id: &str,
) -> Option<UpdateStatus> {
    let mut status = None;
    for run in runs {
        match status_in(run, update_id) {
            Some(decided) if decided.is_decided() => return Some(decided),
            Some(pending) => status = Some(pending),
            None => {}
        }
    }
    status
}

/// Before an update is sent: the answer to give at once when history already holds its
/// verdict (nothing is sent), an error when the execution ended, or `None`: send it.
pub fn before_sending(
    execution_id: &str,
    update_id: &str,
    known: Option<UpdateStatus>,
    ended: bool,
) -> Result<Option<UpdateReply>, ServiceError> {
    match known {
        Some(status) if status.is_decided() => Ok(Some(UpdateReply {
            update_id: update_id.to_owned(),
            status,
        })),
        _ if ended => Err(ServiceError::Ended(execution_id.to_owned())),
        _ => Ok(None),
    }
}

/// While waiting: the reply once history holds the verdict; an error when the execution
/// ended without ever receiving the update (it arrived after the end); `None`: wait on.
pub fn while_waiting(
    execution_id: &str,
    update_id: &str,
    known: Option<UpdateStatus>,
    ended: bool,
) -> Result<Option<UpdateReply>, ServiceError> {
    match known {
        Some(status) if status.is_decided() => Ok(Some(UpdateReply {
            update_id: update_id.to_owned(),
            status,
        })),
        None if ended => Err(ServiceError::Ended(execution_id.to_owned())),
        _ => Ok(None),
    }
}

/// The reply of an update asked after (`GET .../updates/{update_id}`): what history says, or
/// [`ServiceError::UnknownUpdate`].
pub fn reply_of(
    execution_id: &str,
    update_id: &str,
    known: Option<UpdateStatus>,
) -> Result<UpdateReply, ServiceError> {
    known
        .map(|status| UpdateReply {
            update_id: update_id.to_owned(),
            status,
        })
        .ok_or_else(|| ServiceError::UnknownUpdate {
            execution_id: execution_id.to_owned(),
            update_id: update_id.to_owned(),
        })
}

/// The replies an engine owes once a step's `events` are durable: each verdict they hold,
/// by update id.
pub fn verdicts(events: &[HistoryEvent]) -> impl Iterator<Item = (String, UpdateStatus)> + '_ {
    events.iter().filter_map(|event| match &event.kind {
        HistoryEventKind::UpdateAccepted {
            update_id, answer, ..
        } => Some((
            update_id.clone(),
            UpdateStatus::Accepted {
                answer: answer.clone(),
            },
        )),
        HistoryEventKind::UpdateRejected {
            update_id, reason, ..
        } => Some((
            update_id.clone(),
            UpdateStatus::Rejected {
                reason: reason.clone(),
            },
        )),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;
    use serde_json::json;

    fn event(kind: HistoryEventKind) -> HistoryEvent {
        HistoryEvent {
            at: Timestamp::from_millis(0),
            kind,
        }
    }

    fn received(id: &str) -> HistoryEvent {
        event(HistoryEventKind::UpdateReceived {
            name: "add".into(),
            update_id: id.into(),
            input: json!(1),
        })
    }

    #[test]
    fn history_tells_where_an_update_stands() {
        let accepted = event(HistoryEventKind::UpdateAccepted {
            seq: 0,
            name: "add".into(),
            update_id: "u-1".into(),
            answer: json!(2),
        });
        let history = vec![received("u-1"), received("u-2"), accepted];
        assert_eq!(
            status_in(&history, "u-1"),
            Some(UpdateStatus::Accepted { answer: json!(2) })
        );
        assert_eq!(status_in(&history, "u-2"), Some(UpdateStatus::Pending));
        assert_eq!(status_in(&history, "u-3"), None);
    }

    #[test]
    fn a_decided_update_is_answered_again_even_after_the_end() {
        let accepted = UpdateStatus::Accepted { answer: json!(1) };
        let reply = before_sending("x", "u", Some(accepted.clone()), true).unwrap();
        assert_eq!(reply.map(|reply| reply.status), Some(accepted));
        assert_eq!(
            before_sending("x", "u", Some(UpdateStatus::Pending), true),
            Err(ServiceError::Ended("x".into()))
        );
        assert_eq!(before_sending("x", "u", None, false), Ok(None));
    }

    #[test]
    fn an_update_gets_the_callers_id_or_a_fresh_one() {
        let update = SendUpdate::new("add", json!(1));
        assert_eq!(update.id(|| "7".into()), "update-7");
        assert_eq!(update.with_id("mine").id(|| unreachable!()), "mine");
    }
}
