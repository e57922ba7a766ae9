// Parameters written as patterns: they are passed by a plain binding and destructured in
// the body.
use eventual_runtime::prelude::*;
use eventual_runtime::testing::TestEnvironment;
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize)]
pub struct Point {
    pub x: i64,
    pub y: i64,
}

#[task]
async fn manhattan(
    Point { x, y }: Point,
    (dx, dy): (i64, i64),
    mut scale: i64,
) -> Result<i64, StepError> {
    scale += 0;
    Ok(((x + dx).abs() + (y + dy).abs()) * scale)
}

#[workflow]
async fn measure(ctx: WorkflowContext, Point { x, y }: Point) -> Result<i64, WorkflowError> {
    let _ = ctx;
    Ok(manhattan(Point { x, y }, (1, 1), 2).await?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(manhattan(Point { x: 1, y: 2 }, (0, 0), 1).await.unwrap(), 3);
    let env = TestEnvironment::new();
    let run = env.start::<measure>(Point { x: 2, y: 3 }).unwrap();
    env.run_until_idle().await;
    assert_eq!(env.result::<measure>(&run).unwrap().unwrap(), 14);
}
