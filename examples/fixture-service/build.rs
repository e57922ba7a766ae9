//! Nothing in `fixture_app` references `fixture_handlers` (the handler crate depends on the
//! app, not the reverse): without its own `extern crate`, the linker would drop the handler
//! crate and its registry entries. Declaring both crates makes that a build error instead.

extern crate fixture_app;
extern crate fixture_handlers;

fn main() {
    eventual_runtime::build::emit("fixture-service", &["fixture_app", "fixture_handlers"]);
}
