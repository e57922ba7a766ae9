//! Test fixture: a handler that lives in a crate of its own, apart from the workflows.

use eventual_runtime::prelude::*;
use fixture_app::Greeted;

/// Logs every greeting of a VIP.
#[on_event(
    pattern = r#"{"detail-type": ["Greeted"], "detail": {"name": ["vip"]}}"#,
    retry(max_attempts = 4)
)]
pub async fn audit_greeting(event: Event<Greeted>) -> Result<(), StepError> {
    let _ = event;
    Ok(())
}

/// Keeps this crate's registrations linked into a binary that names nothing else from it.
pub fn link() {}
