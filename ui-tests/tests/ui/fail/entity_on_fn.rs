use eventual_runtime::prelude::*;

#[entity]
fn not_an_impl() {}

fn main() {}
