use eventual_runtime::prelude::*;

#[task]
async fn fire_and_forget(n: u64) {
    let _ = n;
}

fn main() {}
