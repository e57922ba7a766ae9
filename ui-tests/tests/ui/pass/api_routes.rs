//! Every kind of input and answer an #[api] fn may have, and names that could clash with the
//! expansion's own.
use eventual_runtime::api::{ApiContext, ApiError, ApiResponse, Headers, Json, Query};
use eventual_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, schemars::JsonSchema)]
struct Page {
    limit: Option<u32>,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
struct Note {
    text: String,
}

#[derive(Debug)]
enum NoteError {
    Missing(u64),
}

impl From<NoteError> for ApiError {
    fn from(error: NoteError) -> Self {
        match error {
            NoteError::Missing(id) => ApiError::not_found(format!("no note {id}")),
        }
    }
}

#[api(GET "/")]
async fn root() -> Result<(), ApiError> {
    Ok(())
}

#[api(POST "/notes/{id}", auth = "iam", name = "notes-put")]
async fn put_note(
    Json(note): Json<Note>,
    id: u64,
    ctx: ApiContext,
    headers: Headers,
    Query(page): Query<Page>,
) -> Result<ApiResponse<Note>, NoteError> {
    let _ = (ctx.correlation_id(), headers.get("accept"), page.limit);
    if id == 0 {
        return Err(NoteError::Missing(id));
    }
    Ok(ApiResponse::created(note).with_header("location", format!("/notes/{id}")))
}

// Parameters named like the fn and like the expansion's locals.
#[api(DELETE "/requests/{request}/{result}")]
async fn request(request: String, result: String) -> Result<String, ApiError> {
    Ok(format!("{request}{result}"))
}

#[api(GET "/notes", auth = "jwt")]
async fn notes(query: Query<Page>) -> Result<Vec<Note>, ApiError> {
    let _ = query.0.limit;
    Ok(Vec::new())
}

fn main() {}
