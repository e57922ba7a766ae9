use eventual_runtime::prelude::*;

#[task]
struct NotAFunction {
    n: u64,
}

fn main() {}
