//! Many rules matched together.
//!
//! Each `$or` alternative of each rule is filed under one key: preferably a (path, exact
//! value) pair, else a path that must be present. An event is flattened once, the keys it
//! carries select the candidate alternatives, and only those are evaluated in full — with
//! the same code as [`EventPattern::matches`], so the answers agree rule by rule.

use serde_json::Value;

use crate::hash::FastMap;
use crate::matcher::{self, FlatEvent, PathTable};
use crate::model::{Branch, Condition, ValueMatcher};
use crate::number;
use crate::EventPattern;

/// The caller's identifier for a rule.
pub type RuleId = usize;

/// An exact value as an index key; numbers that are exactly a double key by their value so
/// that `300`, `300.0` and `3e2` meet.
#[derive(Clone, Debug, PartialEq)]
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

/// Alternatives filed by the exact values of one path, split by type so that event values
/// can be looked up without allocating a key.
#[derive(Clone, Debug, Default)]
struct ValueIndex {
    strings: FastMap<String, Vec<u32>>,
    numbers: FastMap<u64, Vec<u32>>,
    number_texts: FastMap<String, Vec<u32>>,
    trues: Vec<u32>,
    falses: Vec<u32>,
    nulls: Vec<u32>,
}

impl ValueIndex {
    fn bucket_mut(&mut self, key: ValueKey) -> &mut Vec<u32> {
        match key {
            ValueKey::Str(s) => self.strings.entry(s).or_default(),
            ValueKey::Num(n) => self.numbers.entry(n).or_default(),
            ValueKey::NumText(t) => self.number_texts.entry(t).or_default(),
            ValueKey::Bool(true) => &mut self.trues,
            ValueKey::Bool(false) => &mut self.falses,
            ValueKey::Null => &mut self.nulls,
        }
    }

    fn bucket_len(&self, key: &ValueKey) -> usize {
        let bucket = match key {
            ValueKey::Str(s) => self.strings.get(s),
            ValueKey::Num(n) => self.numbers.get(n),
            ValueKey::NumText(t) => self.number_texts.get(t),
            ValueKey::Bool(true) => Some(&self.trues),
            ValueKey::Bool(false) => Some(&self.falses),
            ValueKey::Null => Some(&self.nulls),
        };
        bucket.map_or(0, Vec::len)
    }

    /// The alternatives filed under the value of `value`.
    fn lookup(&self, value: &Value) -> &[u32] {
        let bucket = match value {
            Value::String(s) => self.strings.get(s.as_str()),
            Value::Number(n) => match number::event_comparable(n) {
                Some(v) => self.numbers.get(&number::index_key(v)),
                // A pattern number without a double form can only equal an event number
                // with the same text, which then has no double form either.
                None if !self.number_texts.is_empty() => {
                    self.number_texts.get(n.to_string().as_str())
                }
                None => None,
            },
            Value::Bool(true) => Some(&self.trues),
            Value::Bool(false) => Some(&self.falses),
            Value::Null => Some(&self.nulls),
            Value::Array(_) | Value::Object(_) => None,
        };
        bucket.map_or(&[], Vec::as_slice)
    }
}

/// A set of rules compiled together; see the module documentation.
#[derive(Clone, Debug, Default)]
pub struct PatternSet {
    branches: Vec<(RuleId, Branch)>,
    /// Indexed by path id.
    by_value: Vec<ValueIndex>,
    /// Indexed by path id.
    by_path: Vec<Vec<u32>>,
    /// Alternatives made only of `exists: false` conditions can match an event that has
    /// none of the indexed fields, so they are always evaluated.
    always: Vec<u32>,
    paths: PathTable,
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
            let mut branch = branch.clone();
            self.paths.assign(&mut branch);
            let width = self.paths.len() as usize;
            self.by_value.resize_with(width, ValueIndex::default);
            self.by_path.resize_with(width, Vec::new);
            self.file(index, &branch);
            self.branches.push((id, branch));
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
            let buckets = &mut self.by_value[condition.path_id as usize];
            for key in keys {
                buckets.bucket_mut(key).push(index);
            }
            return;
        }
        let path_only = required().min_by_key(|c| self.by_path[c.path_id as usize].len());
        match path_only {
            Some(condition) => self.by_path[condition.path_id as usize].push(index),
            None => self.always.push(index),
        }
    }

    /// How many alternatives already share these keys: filing under the least crowded
    /// keys keeps candidate lists short.
    fn crowding(&self, condition: &Condition, keys: &[ValueKey]) -> usize {
        let buckets = &self.by_value[condition.path_id as usize];
        keys.iter().map(|k| buckets.bucket_len(k)).sum::<usize>()
    }

    /// How many alternatives `event` would evaluate in full (for tuning the index).
    #[doc(hidden)]
    pub fn candidate_count(&self, event: &Value) -> usize {
        let Some(flat) = matcher::flatten(event, &self.paths) else {
            return 0;
        };
        let mut candidates = self.always.clone();
        self.collect_candidates(&flat, &mut candidates);
        candidates.sort_unstable();
        candidates.dedup();
        candidates.len()
    }

    /// The ids of the rules `event` matches, sorted and without duplicates.
    pub fn matches(&self, event: &Value) -> Vec<RuleId> {
        let Some(flat) = matcher::flatten(event, &self.paths) else {
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
        for (id, (by_path, by_value)) in (0u32..).zip(self.by_path.iter().zip(&self.by_value)) {
            let leaves = flat.field(id);
            if leaves.is_empty() {
                continue;
            }
            candidates.extend_from_slice(by_path);
            for (_, leaf) in leaves {
                candidates.extend_from_slice(by_value.lookup(leaf.value));
            }
        }
    }
}
