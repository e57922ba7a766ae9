//! Amazon EventBridge event patterns: a parser, a matcher and a multi-rule [`PatternSet`].
//!
//! The semantics follow [aws/event-ruler](https://github.com/aws/event-ruler), the library
//! behind EventBridge: exact values, `prefix`, `suffix`, `equals-ignore-case`, `wildcard`,
//! `anything-but`, `numeric`, `cidr`, `exists`, `$or`, and array consistency (values matched
//! inside an array of objects must come from the same element).
//!
//! ```
//! use eventual_pattern::{EventPattern, PatternSet};
//! use serde_json::json;
//!
//! let pattern = EventPattern::parse(
//!     r#"{"source": ["shop.orders"], "detail": {"amount": [{"numeric": [">", 100]}]}}"#,
//! )?;
//! let event = json!({"source": "shop.orders", "detail": {"amount": 250}});
//! assert!(pattern.matches(&event));
//!
//! let mut rules = PatternSet::new();
//! rules.insert(7, &pattern);
//! assert_eq!(rules.matches(&event), vec![7]);
//!
//! let err = EventPattern::parse(r#"{"detail": {"amount": [{"numeric": [">"]}]}}"#).unwrap_err();
//! assert_eq!(err.path(), "detail.amount");
//! # Ok::<(), eventual_pattern::PatternError>(())
//! ```

mod cidr;
mod complexity;
mod error;
mod hash;
mod ignore_case;
mod json;
mod matcher;
mod model;
mod number;
mod parse;
mod set;
mod wildcard;

use std::str::FromStr;

use serde_json::Value;

pub use error::PatternError;
pub use set::{PatternSet, RuleId};

/// A validated EventBridge event pattern.
#[derive(Clone, Debug, PartialEq)]
pub struct EventPattern {
    source: json::Json,
    branches: Vec<model::Branch>,
    paths: matcher::PathTable,
}

impl EventPattern {
    /// Parses and validates pattern text, refusing what EventBridge refuses.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let (source, mut branches) = parse::parse(text)?;
        let mut paths = matcher::PathTable::default();
        for branch in &mut branches {
            paths.assign(branch);
        }
        Ok(Self {
            source,
            branches,
            paths,
        })
    }

    /// Whether `event` matches. Events that are not JSON objects never match.
    pub fn matches(&self, event: &Value) -> bool {
        matcher::flatten(event, &self.paths)
            .is_some_and(|flat| matcher::any_branch_matches(&self.branches, &flat))
    }

    /// The pattern as JSON with sorted keys (where a key was repeated, the last one wins),
    /// suitable for emitting an EventBridge rule.
    pub fn to_json(&self) -> Value {
        parse::to_value(&self.source)
    }

    pub(crate) fn branches(&self) -> &[model::Branch] {
        &self.branches
    }
}

impl FromStr for EventPattern {
    type Err = PatternError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}
