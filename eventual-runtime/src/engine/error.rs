//! The one error vocabulary of the service API.

/// Why a call to a service failed, on every engine and through every door (the HTTP API, the
/// CLI, the [`Engine`](crate::engine::Engine) trait, the `TestEnvironment`, a handler's
/// client). Each maps to an HTTP status and a stable [`kind`](ServiceError::kind).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// No execution (or dead letter) with that id.
    #[error("execution `{0}` does not exist")]
    NotFound(String),
    /// The execution has ended.
    #[error("execution `{0}` has already ended")]
    Ended(String),
    /// No workflow of that name.
    #[error("workflow `{0}` is not registered")]
    UnknownWorkflow(String),
    /// The input does not fit the workflow.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A completion token that is forged or malformed.
    #[error("invalid completion token: {0}")]
    InvalidToken(String),
    /// The execution id is held by an execution of another workflow.
    #[error("{}", crate::engine::kernel::start::conflict_message(.execution_id, .held_by))]
    AlreadyStarted {
        /// The id asked for.
        execution_id: String,
        /// The workflow of the execution that holds it.
        held_by: String,
    },
    /// The execution answers no query of that name (yet: it may answer it further on).
    #[error("execution `{execution_id}` answers no query `{query}`")]
    UnknownQuery {
        /// The execution.
        execution_id: String,
        /// The query asked.
        query: String,
    },
    /// The execution never received an update with that id.
    #[error("execution `{execution_id}` received no update `{update_id}`")]
    UnknownUpdate {
        /// The execution.
        execution_id: String,
        /// The update's id.
        update_id: String,
    },
    /// The workflow rejected the update.
    #[error("execution `{execution_id}` rejected update `{update_id}`: {reason}")]
    UpdateRejected {
        /// The execution.
        execution_id: String,
        /// The update's id.
        update_id: String,
        /// The workflow's reason.
        reason: String,
    },
    /// The workflow had not answered the update when the caller stopped waiting: ask again
    /// with its id.
    #[error("execution `{execution_id}` has not answered update `{update_id}` yet")]
    UpdatePending {
        /// The execution.
        execution_id: String,
        /// The update's id.
        update_id: String,
    },
    /// No route serves this method and path.
    #[error("no route serves `{0}`")]
    NoRoute(String),
    /// The request itself is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The request's body is larger than the listener accepts.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The internal API requires a bearer token, and the request has none or another.
    #[error("{0}")]
    Unauthorized(String),
    /// The service forwarded the request (to a legacy service) and got no answer.
    #[error("{0}")]
    BadGateway(String),
    /// The execution had not ended when the engine stopped waiting for it.
    #[error("execution `{0}` is still running")]
    StillRunning(String),
    /// The engine is stopped, starting, or its storage refused for now: try again.
    #[error("{0}")]
    Unavailable(String),
    /// The engine's storage failed.
    #[error("{0}")]
    Internal(String),
    /// No schedule of that name.
    #[error("schedule `{0}` does not exist")]
    ScheduleNotFound(String),
    /// The request conflicts with what exists (a schedule of that name, a schedule the code
    /// declares).
    #[error("{0}")]
    Conflict(String),
}

impl From<crate::schedule::ScheduleSpecError> for ServiceError {
    fn from(error: crate::schedule::ScheduleSpecError) -> Self {
        use crate::schedule::ScheduleSpecError as E;
        match error {
            E::NotFound(name) => ServiceError::ScheduleNotFound(name),
            E::Exists(_) | E::Static(_) => ServiceError::Conflict(error.to_string()),
            // The body of a create request names them: a bad request, said with its reason.
            E::Expression(_) | E::UnknownWorkflow { .. } | E::InvalidName(_) => {
                ServiceError::BadRequest(error.to_string())
            }
        }
    }
}

impl ServiceError {
    /// The HTTP status of the error.
    pub fn status(&self) -> u16 {
        match self {
            ServiceError::NotFound(_)
            | ServiceError::UnknownWorkflow(_)
            | ServiceError::NoRoute(_)
            | ServiceError::UnknownQuery { .. }
            | ServiceError::UnknownUpdate { .. }
            | ServiceError::ScheduleNotFound(_) => 404,
            ServiceError::UpdateRejected { .. } => 422,
            ServiceError::UpdatePending { .. } => 202,
            ServiceError::Ended(_)
            | ServiceError::AlreadyStarted { .. }
            | ServiceError::Conflict(_) => 409,
            ServiceError::InvalidInput(_) | ServiceError::BadRequest(_) => 400,
            ServiceError::InvalidToken(_) => 403,
            ServiceError::PayloadTooLarge(_) => 413,
            ServiceError::Unauthorized(_) => 401,
            ServiceError::BadGateway(_) => 502,
            ServiceError::StillRunning(_) => 202,
            ServiceError::Unavailable(_) => 503,
            ServiceError::Internal(_) => 500,
        }
    }

    /// The stable `error.kind` of the response body.
    pub fn kind(&self) -> &'static str {
        match self {
            ServiceError::NotFound(_) => "not_found",
            ServiceError::Ended(_) => "ended",
            ServiceError::UnknownWorkflow(_) => "unknown_workflow",
            ServiceError::InvalidInput(_) => "invalid_input",
            ServiceError::InvalidToken(_) => "invalid_token",
            ServiceError::AlreadyStarted { .. } => "already_started",
            ServiceError::NoRoute(_) => "no_route",
            ServiceError::UnknownQuery { .. } => "unknown_query",
            ServiceError::UnknownUpdate { .. } => "unknown_update",
            ServiceError::UpdateRejected { .. } => "update_rejected",
            ServiceError::UpdatePending { .. } => "update_pending",
            ServiceError::BadRequest(_) => "bad_request",
            ServiceError::PayloadTooLarge(_) => "payload_too_large",
            ServiceError::Unauthorized(_) => "unauthorized",
            ServiceError::BadGateway(_) => "bad_gateway",
            ServiceError::StillRunning(_) => "still_running",
            ServiceError::Unavailable(_) => "unavailable",
            ServiceError::Internal(_) => "internal",
            ServiceError::ScheduleNotFound(_) => "schedule_not_found",
            ServiceError::Conflict(_) => "conflict",
        }
    }
}
