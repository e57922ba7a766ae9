//! Many rules matched together.
//!
//! Each `$or` alternative of each rule is filed under one key: preferably a (path, exact
//! value) pair, else a path that must be present. An event is flattened once, the keys it
//! carries select the candidate alternatives, and only those are evaluated in full — with
//! the same code as [`EventPattern::matches`], so the answers agree rule by rule.

use std::collections::HashMap;

use serde_json::Value;

use crate::matcher::{self, FlatEvent, PathFilter};
use crate::model::{Branch, Condition, ValueMatcher};
use crate::number;
use crate::EventPattern;

/// The caller's identifier for a rule.
pub type RuleId = usize;

/// An exact value as an index key; numbers that are exactly a double key by their value so
/// that `300`, `300.0` and `3e2` meet.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum ValueKey {
    Str(String),
    Num(u64),
    NumText(String),
    Bool(bool),
    Null,
}

fn matcher_key(matcher: &ValueMatcher) -> Option<ValueKey> {
    match matcher {
        ValueMatcher::String(s) => Some(ValueKey::Str(s.clone())),
        ValueMatcher::Number(literal) => Some(match literal.value {
            Some(v) => ValueKey::Num(number::index_key(v)),
            None => ValueKey::NumText(literal.text.clone()),
        }),
        ValueMatcher::Bool(b) => Some(ValueKey::Bool(*b)),
        ValueMatcher::Null => Some(ValueKey::Null),
        _ => None,
    }
}

/// The keys under which an event value can be found.
fn event_keys(value: &Value, out: &mut Vec<ValueKey>) {
    match value {
        Value::String(s) => out.push(ValueKey::Str(s.clone())),
        Value::Number(n) => {
            if let Some(v) = number::event_comparable(n) {
                out.push(ValueKey::Num(number::index_key(v)));
            }
            out.push(ValueKey::NumText(n.to_string()));
        }
        Value::Bool(b) => out.push(ValueKey::Bool(*b)),
        Value::Null => out.push(ValueKey::Null),
        Value::Array(_) | Value::Object(_) => {}
    }
}

/// A set of rules compiled together; see the module documentation.
#[derive(Clone, Debug, Default)]
pub struct PatternSet {
    branches: Vec<(RuleId, Branch)>,
    by_value: HashMap<String, HashMap<ValueKey, Vec<u32>>>,
    by_path: HashMap<String, Vec<u32>>,
    /// Alternatives made only of `exists: false` conditions can match an event that has
    /// none of the indexed fields, so they are always evaluated.
    always: Vec<u32>,
    filter: PathFilter,
}

impl PatternSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of rules alternatives (after `$or` expansion) in the set.
    pub fn len(&self) -> usize {
        self.branches.len()
    }

    /// Whether no rule has been inserted.
    pub fn is_empty(&self) -> bool {
        self.branches.is_empty()
    }

    /// Adds `pattern` under `id`. Inserting several patterns under one id makes that id
    /// match when any of them does.
    pub fn insert(&mut self, id: RuleId, pattern: &EventPattern) {
        for branch in pattern.branches() {
            let index = u32::try_from(self.branches.len()).unwrap_or(u32::MAX);
            for condition in &branch.conditions {
                self.filter.add(&condition.path);
            }
            self.file(index, branch);
            self.branches.push((id, branch.clone()));
        }
    }

    fn file(&mut self, index: u32, branch: &Branch) {
        let required = || branch.conditions.iter().filter(|c| !c.absent_ok);
        let exact = required()
            .filter_map(|c| {
                let keys: Option<Vec<ValueKey>> = c.matchers.iter().map(matcher_key).collect();
                keys.map(|keys| (c, keys))
            })
            .min_by_key(|(c, keys)| self.crowding(c, keys));
        if let Some((condition, keys)) = exact {
            let buckets = self.by_value.entry(condition.path.clone()).or_default();
            for key in keys {
                buckets.entry(key).or_default().push(index);
            }
            return;
        }
        let path_only = required().min_by_key(|c| self.by_path.get(&c.path).map_or(0, Vec::len));
        match path_only {
            Some(condition) => self.by_path.entry(condition.path.clone()).or_default().push(index),
            None => self.always.push(index),
        }
    }

    /// How many alternatives already share these keys: filing under the least crowded
    /// keys keeps candidate lists short.
    fn crowding(&self, condition: &Condition, keys: &[ValueKey]) -> usize {
        let Some(buckets) = self.by_value.get(&condition.path) else {
            return 0;
        };
        keys.iter()
            .map(|k| buckets.get(k).map_or(0, Vec::len))
            .sum::<usize>()
    }

    /// The ids of the rules `event` matches, sorted and without duplicates.
    pub fn matches(&self, event: &Value) -> Vec<RuleId> {
        let Some(flat) = matcher::flatten(event, &self.filter) else {
            return Vec::new();
        };
        let mut candidates = self.always.clone();
        self.collect_candidates(&flat, &mut candidates);
        candidates.sort_unstable();
        candidates.dedup();
        let mut ids: Vec<RuleId> = candidates
            .into_iter()
            .filter_map(|i| self.branches.get(i as usize))
            .filter(|(_, branch)| matcher::branch_matches(branch, &flat))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    fn collect_candidates(&self, flat: &FlatEvent<'_>, candidates: &mut Vec<u32>) {
        let mut keys = Vec::new();
        for (path, leaves) in &flat.fields {
            if let Some(list) = self.by_path.get(path) {
                candidates.extend_from_slice(list);
            }
            let Some(buckets) = self.by_value.get(path) else {
                continue;
            };
            for leaf in leaves {
                keys.clear();
                event_keys(leaf.value, &mut keys);
                for key in &keys {
                    if let Some(list) = buckets.get(key) {
                        candidates.extend_from_slice(list);
                    }
                }
            }
        }
    }
}
