use eventual_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Default)]
pub struct Counter {
    count: u64,
}

pub struct Tick;

#[derive(Serialize, Deserialize)]
pub struct Never;

#[entity]
impl Counter {
    fn apply(&mut self, _event: &Tick) {
        self.count += 1;
    }

    async fn tick(&self, _ctx: EntityContext) -> Result<Vec<Tick>, Never> {
        Ok(vec![Tick])
    }
}

fn main() {}
