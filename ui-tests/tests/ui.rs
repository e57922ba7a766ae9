//! Compile-fail and compile-pass cases of `#[workflow]`, `#[task]`, `#[on_event]`, `#[api]` and
//! `#[entity]`.
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test -p eventual-ui-tests`,
//! then read each one: the error must sit on the offending token.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
