//! Matching compiled branches against an event.
//!
//! The event is flattened the way event-ruler does it: every leaf value is filed under its
//! dotted path, together with the array elements it sits in ("membership": array id →
//! element index, recorded only for objects and arrays inside arrays). A branch matches when
//! each condition can pick a value so that all picked values agree on shared arrays.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::model::{Branch, Condition};

/// Array id → element index, sorted by array id; usually empty or tiny.
pub(crate) type Membership = Vec<(u32, u32)>;

/// One leaf value of an event.
#[derive(Debug)]
pub(crate) struct Leaf<'a> {
    pub(crate) value: &'a Value,
    pub(crate) membership: Membership,
}

/// An event flattened into path → leaves.
#[derive(Debug, Default)]
pub(crate) struct FlatEvent<'a> {
    pub(crate) fields: HashMap<String, Vec<Leaf<'a>>>,
}

/// Which paths (and path prefixes) the patterns look at; the rest of an event is skipped.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct PathFilter {
    prefixes: HashSet<String>,
}

impl PathFilter {
    /// Registers `path` and every prefix of it ending before a `.`.
    pub(crate) fn add(&mut self, path: &str) {
        for (i, b) in path.bytes().enumerate() {
            if b == b'.' {
                self.prefixes.insert(path[..i].to_owned());
            }
        }
        self.prefixes.insert(path.to_owned());
    }

    fn wants(&self, path: &str) -> bool {
        self.prefixes.contains(path)
    }
}

/// Flattens `event`; `None` when it is not a JSON object (such events match nothing).
pub(crate) fn flatten<'a>(event: &'a Value, filter: &PathFilter) -> Option<FlatEvent<'a>> {
    let Value::Object(map) = event else {
        return None;
    };
    let mut walker = Walker {
        filter,
        flat: FlatEvent::default(),
        path: String::new(),
        membership: Vec::new(),
        arrays: 0,
    };
    walker.object(map);
    Some(walker.flat)
}

struct Walker<'a, 'f> {
    filter: &'f PathFilter,
    flat: FlatEvent<'a>,
    path: String,
    membership: Membership,
    arrays: u32,
}

impl<'a> Walker<'a, '_> {
    fn object(&mut self, map: &'a serde_json::Map<String, Value>) {
        for (key, value) in map {
            let saved = self.path.len();
            if !self.path.is_empty() {
                self.path.push('.');
            }
            self.path.push_str(key);
            if self.filter.wants(&self.path) {
                self.value(value);
            }
            self.path.truncate(saved);
        }
    }

    fn value(&mut self, value: &'a Value) {
        match value {
            Value::Object(map) => self.object(map),
            Value::Array(items) => self.array(items),
            leaf => self.leaf(leaf),
        }
    }

    fn leaf(&mut self, value: &'a Value) {
        let leaf = Leaf {
            value,
            membership: self.membership.clone(),
        };
        match self.flat.fields.get_mut(self.path.as_str()) {
            Some(leaves) => leaves.push(leaf),
            None => {
                self.flat.fields.insert(self.path.clone(), vec![leaf]);
            }
        }
    }

    fn array(&mut self, items: &'a [Value]) {
        let id = self.arrays;
        self.arrays += 1;
        for (index, item) in items.iter().enumerate() {
            match item {
                Value::Object(_) | Value::Array(_) => {
                    // Array ids grow as the walk goes, so pushing keeps the membership sorted.
                    self.membership.push((id, u32::try_from(index).unwrap_or(u32::MAX)));
                    self.value(item);
                    self.membership.pop();
                }
                leaf => self.leaf(leaf),
            }
        }
    }
}

/// `so_far` extended with `field`, or `None` when they disagree on some array's element.
fn merge(so_far: &Membership, field: &Membership) -> Option<Membership> {
    if field.is_empty() {
        return Some(so_far.clone());
    }
    let mut merged = so_far.clone();
    for &(array, index) in field {
        match so_far.binary_search_by_key(&array, |&(a, _)| a) {
            Ok(pos) if so_far[pos].1 != index => return None,
            Ok(_) => {}
            Err(_) => merged.push((array, index)),
        }
    }
    merged.sort_unstable();
    Some(merged)
}

fn consistent(so_far: &Membership, field: &Membership) -> bool {
    field.iter().all(|&(array, index)| {
        so_far
            .binary_search_by_key(&array, |&(a, _)| a)
            .map_or(true, |pos| so_far[pos].1 == index)
    })
}

/// Whether any branch matches the flattened event.
pub(crate) fn any_branch_matches(branches: &[Branch], flat: &FlatEvent<'_>) -> bool {
    branches.iter().any(|branch| branch_matches(branch, flat))
}

/// Whether all of `branch`'s conditions hold together, array-consistently.
pub(crate) fn branch_matches(branch: &Branch, flat: &FlatEvent<'_>) -> bool {
    search(&branch.conditions, flat, &Vec::new())
}

fn search(conditions: &[Condition], flat: &FlatEvent<'_>, so_far: &Membership) -> bool {
    let Some((condition, rest)) = conditions.split_first() else {
        return true;
    };
    let leaves: &[Leaf<'_>] = flat.fields.get(condition.path.as_str()).map_or(&[], Vec::as_slice);
    // `exists: false` holds when no value of the field sits in the array elements chosen so
    // far (event-ruler's absence check is array-aware in the same way).
    if condition.absent_ok
        && !leaves.iter().any(|leaf| consistent(so_far, &leaf.membership))
        && search(rest, flat, so_far)
    {
        return true;
    }
    // Many leaves lead to the same membership (e.g. every value of a primitive array); a
    // failed continuation need not be retried with the same membership.
    let mut tried: Vec<Membership> = Vec::new();
    for leaf in leaves {
        let Some(next) = merge(so_far, &leaf.membership) else {
            continue;
        };
        if tried.contains(&next) || !condition.matchers.iter().any(|m| m.matches(leaf.value)) {
            continue;
        }
        if search(rest, flat, &next) {
            return true;
        }
        tried.push(next);
    }
    false
}
