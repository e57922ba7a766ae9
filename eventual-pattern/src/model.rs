//! The compiled form of a pattern and how one leaf value is tested.

use serde_json::Value;

use crate::cidr::{self, Ip, IpRange};
use crate::ignore_case::IgnoreCase;
use crate::number;
use crate::wildcard::Wildcard;

/// A number written in a pattern: its text, and its double when the text is exactly one.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct NumberLiteral {
    pub(crate) text: String,
    pub(crate) value: Option<f64>,
}

/// One bound of a numeric range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Bound {
    pub(crate) value: f64,
    pub(crate) inclusive: bool,
}

/// A `numeric` condition; `=` is a range whose bounds are equal and inclusive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct NumericRange {
    pub(crate) lower: Option<Bound>,
    pub(crate) upper: Option<Bound>,
}

impl NumericRange {
    fn contains(&self, value: f64) -> bool {
        let above = match self.lower {
            None => true,
            Some(b) if b.inclusive => value >= b.value,
            Some(b) => value > b.value,
        };
        let below = match self.upper {
            None => true,
            Some(b) if b.inclusive => value <= b.value,
            Some(b) => value < b.value,
        };
        above && below
    }
}

/// What an `anything-but` excludes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Exclusion {
    Strings(Vec<String>),
    Numbers(Vec<f64>),
    Prefixes(Vec<String>),
    Suffixes(Vec<String>),
    IgnoreCase(Vec<IgnoreCase>),
    Wildcards(Vec<Wildcard>),
}

/// One way a single event value can satisfy a field's condition.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ValueMatcher {
    /// An exact string (also `{"exactly": ...}`).
    String(String),
    /// A string pattern that is an IP address: event-ruler compares it as an address.
    Ip(Ip),
    Number(NumberLiteral),
    Bool(bool),
    Null,
    Prefix(String),
    Suffix(String),
    EqualsIgnoreCase(IgnoreCase),
    PrefixIgnoreCase(IgnoreCase),
    SuffixIgnoreCase(IgnoreCase),
    Wildcard(Wildcard),
    Numeric(NumericRange),
    Cidr(IpRange),
    /// `{"exists": true}`: any value, `null` included.
    Exists,
    AnythingBut(Exclusion),
}

impl ValueMatcher {
    /// Whether the leaf `value` (never an object or array) satisfies this matcher.
    pub(crate) fn matches(&self, value: &Value) -> bool {
        match self {
            ValueMatcher::Exists => true,
            ValueMatcher::Null => value.is_null(),
            ValueMatcher::Bool(b) => value.as_bool() == Some(*b),
            ValueMatcher::Number(literal) => number_equals(literal, value),
            ValueMatcher::Numeric(range) => event_number(value).is_some_and(|n| range.contains(n)),
            ValueMatcher::AnythingBut(exclusion) => !excluded(exclusion, value),
            _ => value.as_str().is_some_and(|s| self.matches_str(s)),
        }
    }

    fn matches_str(&self, s: &str) -> bool {
        match self {
            ValueMatcher::String(expected) => s == expected,
            ValueMatcher::Ip(ip) => cidr::parse_ip(s) == Some(*ip),
            ValueMatcher::Prefix(p) => s.starts_with(p.as_str()),
            ValueMatcher::Suffix(p) => s.ends_with(p.as_str()),
            ValueMatcher::EqualsIgnoreCase(p) => p.equals(s),
            ValueMatcher::PrefixIgnoreCase(p) => p.is_prefix_of(s),
            ValueMatcher::SuffixIgnoreCase(p) => p.is_suffix_of(s),
            ValueMatcher::Wildcard(w) => w.matches(s),
            ValueMatcher::Cidr(range) => range.contains(s),
            _ => false,
        }
    }
}

fn event_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => number::event_comparable(n),
        _ => None,
    }
}

fn number_equals(literal: &NumberLiteral, value: &Value) -> bool {
    let Value::Number(n) = value else {
        return false;
    };
    match (literal.value, number::event_comparable(n)) {
        (Some(expected), Some(actual)) => expected == actual,
        // Numbers without a comparable form only match by their text, as in event-ruler.
        _ => n.to_string() == literal.text,
    }
}

/// Whether `value` is one of the excluded ones. Exclusions of one type never exclude a
/// value of another type: `anything-but: "x"` matches numbers, `null` and booleans.
fn excluded(exclusion: &Exclusion, value: &Value) -> bool {
    if let Exclusion::Numbers(numbers) = exclusion {
        return event_number(value).is_some_and(|n| numbers.contains(&n));
    }
    let Some(s) = value.as_str() else {
        return false;
    };
    match exclusion {
        Exclusion::Strings(list) => list.iter().any(|x| x == s),
        Exclusion::Prefixes(list) => list.iter().any(|x| s.starts_with(x.as_str())),
        Exclusion::Suffixes(list) => list.iter().any(|x| s.ends_with(x.as_str())),
        Exclusion::IgnoreCase(list) => list.iter().any(|x| x.equals(s)),
        Exclusion::Wildcards(list) => list.iter().any(|x| x.matches(s)),
        Exclusion::Numbers(_) => false,
    }
}

/// The condition on one field path: some value must satisfy one of `matchers`, or, when
/// `absent_ok` (`{"exists": false}`), the field may be missing.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Condition {
    pub(crate) path: String,
    /// The path's id in the [`crate::matcher::PathTable`] the branch is evaluated with.
    pub(crate) path_id: u32,
    pub(crate) matchers: Vec<ValueMatcher>,
    pub(crate) absent_ok: bool,
    /// Where `{"exists": false}` was written among the values: how many of `matchers` come
    /// before it. The order of values decides how event-ruler shares states across `$or`.
    pub(crate) absent_at: usize,
}

/// One alternative of a pattern after `$or` expansion: all conditions must hold.
/// Conditions are sorted by path because event-ruler evaluates fields in that order, which
/// decides how `exists: false` interacts with array consistency.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Branch {
    pub(crate) conditions: Vec<Condition>,
}
