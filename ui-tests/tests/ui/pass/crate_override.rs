// `crate = "..."` names the runtime when it is reached under another name.
extern crate eventual_runtime as renamed;

use renamed::{Event, StepError, WorkflowContext, WorkflowError};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct Ping {
    pub n: u64,
}

#[renamed::task(crate = "renamed")]
async fn double(n: u64) -> Result<u64, StepError> {
    Ok(n * 2)
}

#[renamed::workflow(crate = "renamed")]
async fn twice(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let _ = ctx;
    Ok(double(n).await?)
}

#[renamed::on_event(pattern = r#"{"detail-type": ["Ping"]}"#, crate = "renamed")]
async fn pong(event: Event<Ping>) -> Result<(), StepError> {
    let _ = event.detail.n;
    Ok(())
}

mod nested {
    #[renamed::task(crate = "::renamed")]
    pub async fn triple(n: u64) -> Result<u64, renamed::StepError> {
        Ok(n * 3)
    }
}

fn main() {
    assert_eq!(<twice as renamed::__private::Workflow>::NAME, "twice");
    assert_eq!(<nested::triple as renamed::__private::Task>::NAME, "triple");
    let names: Vec<_> = renamed::__private::TASKS.iter().map(|t| t.name).collect();
    assert!(
        names.contains(&"double") && names.contains(&"triple"),
        "{names:?}"
    );
}
