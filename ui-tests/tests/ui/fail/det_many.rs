use eventual_runtime::prelude::*;

// Every non-deterministic call of the body is reported, not only the first.
#[workflow]
async fn careless(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let started = std::time::Instant::now();
    std::thread::sleep(Duration::from_millis(10));
    let home = std::env::var("HOME");
    let worker = std::thread::spawn(|| 1);
    let _ = (ctx, started, home, worker);
    Ok(n)
}

fn main() {}
