//! Helpers shared by the operator tests.

use eventual_pattern::{EventPattern, PatternSet};
use serde_json::Value;

/// Whether `pattern` matches `event`, asserting that a `PatternSet` holding only `pattern`
/// gives the same answer as matching it alone.
pub fn matches(pattern: &str, event: Value) -> bool {
    let pattern = EventPattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
    let single = pattern.matches(&event);
    let mut set = PatternSet::new();
    set.insert(0, &pattern);
    assert_eq!(
        set.matches(&event).is_empty(),
        !single,
        "PatternSet disagrees"
    );
    single
}

/// The error `pattern` is refused with; panics when it is accepted.
pub fn rejected(pattern: &str) -> String {
    match EventPattern::parse(pattern) {
        Ok(_) => panic!("accepted {pattern}"),
        Err(e) => e.to_string(),
    }
}
