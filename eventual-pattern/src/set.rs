//! Many rules matched together.
//!
//! Each `$or` alternative of each rule is filed in a trie whose edges are its conditions
//! (see [`Node`]): exact values are looked up by hash, other operators are tested on the
//! event's values. An event is flattened once and walks the trie to find the alternatives
//! whose conditions it all satisfies; what the walk cannot settle (`exists: false`, values
//! inside arrays of objects) is evaluated with the same code as [`EventPattern::matches`],
//! so the answers agree rule by rule.

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

/// What leads along a trie edge: an exact value, looked up by hash, or another operator,
/// tested on each value of the field.
#[derive(Clone, Debug)]
enum Label {
    Key(ValueKey),
    Test(ValueMatcher),
}

/// The children of a trie node along one path, keyed by exact value and split by type so
/// that event values can be looked up without allocating a key. Strings are the common
/// case; the other types sit behind a box so that the edges of a node stay small.
#[derive(Clone, Debug, Default)]
struct ValueEdges {
    strings: FastMap<String, u32>,
    others: Option<Box<OtherEdges>>,
}

#[derive(Clone, Debug, Default)]
struct OtherEdges {
    numbers: FastMap<u64, u32>,
    number_texts: FastMap<String, u32>,
    trues: Option<u32>,
    falses: Option<u32>,
    nulls: Option<u32>,
}

impl ValueEdges {
    fn get(&self, key: &ValueKey) -> Option<u32> {
        if let ValueKey::Str(s) = key {
            return self.strings.get(s).copied();
        }
        let others = self.others.as_deref()?;
        match key {
            ValueKey::Str(_) => None,
            ValueKey::Num(n) => others.numbers.get(n).copied(),
            ValueKey::NumText(t) => others.number_texts.get(t).copied(),
            ValueKey::Bool(true) => others.trues,
            ValueKey::Bool(false) => others.falses,
            ValueKey::Null => others.nulls,
        }
    }

    fn set(&mut self, key: ValueKey, child: u32) {
        if let ValueKey::Str(s) = key {
            self.strings.insert(s, child);
            return;
        }
        let others = self.others.get_or_insert_with(Box::default);
        match key {
            ValueKey::Str(_) => {}
            ValueKey::Num(n) => {
                others.numbers.insert(n, child);
            }
            ValueKey::NumText(t) => {
                others.number_texts.insert(t, child);
            }
            ValueKey::Bool(true) => others.trues = Some(child),
            ValueKey::Bool(false) => others.falses = Some(child),
            ValueKey::Null => others.nulls = Some(child),
        }
    }

    /// The child reached by the event value `value`.
    fn lookup(&self, value: &Value) -> Option<u32> {
        if let Value::String(s) = value {
            return self.strings.get(s.as_str()).copied();
        }
        let others = self.others.as_deref()?;
        match value {
            Value::Number(n) => match number::event_comparable(n) {
                Some(v) => others.numbers.get(&number::index_key(v)).copied(),
                // A pattern number without a double form can only equal an event number
                // with the same text, which then has no double form either.
                None if !others.number_texts.is_empty() => {
                    others.number_texts.get(n.to_string().as_str()).copied()
                }
                None => None,
            },
            Value::Bool(true) => others.trues,
            Value::Bool(false) => others.falses,
            Value::Null => others.nulls,
            Value::String(_) | Value::Array(_) | Value::Object(_) => None,
        }
    }
}

/// An edge for an operator other than an exact value: taken when some value of the field
/// at `path` satisfies `matcher`.
#[derive(Clone, Debug)]
struct Test {
    path: u32,
    child: u32,
    matcher: ValueMatcher,
}

/// A node of the trie. Every alternative is filed at the end of the walk that takes one edge
/// per condition that must hold (exact values first, then other operators, each in path
/// order), so an event reaches it only when every one of those conditions has a matching
/// value: rules that share their leading conditions share nodes, and an event only visits
/// the nodes whose conditions it satisfies (the shape event-ruler's automaton has). Exact
/// values lead, so that the lists of tests sit deep in the trie where few rules remain.
/// An alternative filed at a node, with what reaching it needs at hand: when the walk tests
/// all of its conditions (`settled`), reaching it in an event without values in arrays of
/// objects is a match, and only the rule id is needed.
#[derive(Clone, Copy, Debug)]
struct Terminal {
    id: RuleId,
    entry: u32,
    settled: bool,
}

#[derive(Clone, Debug, Default)]
struct Node {
    terminal: Vec<Terminal>,
    /// By path id; few per node, so a list beats a map.
    edges: Vec<(u32, ValueEdges)>,
    /// Each distinct operator on each path once, so that rules which share it share the
    /// child.
    tests: Vec<Test>,
}

/// A multi-valued condition multiplies the walks an alternative is filed under; beyond
/// this many, further multi-valued conditions are left to the full evaluation.
const MAX_WALKS: usize = 64;

/// One alternative of one rule, as filed: what only the full evaluation needs.
#[derive(Clone, Debug)]
struct Entry {
    branch: Branch,
    /// The paths of the conditions the trie walk tests: reaching the alternative proves
    /// that each has a value satisfying the condition.
    proved: Vec<u32>,
}

/// What every candidate needs, kept apart from [`Entry`] so that reaching an alternative
/// the walk settled touches one small record.
#[derive(Clone, Copy, Debug)]
struct Hot {
    id: RuleId,
    /// Where `branch` without the proved conditions, in the same order, sits in
    /// [`PatternSet::rests`]; empty when the walk proved every condition.
    rest_start: u32,
    rest_end: u32,
}

/// A set of rules compiled together; see the module documentation.
#[derive(Clone, Debug, Default)]
pub struct PatternSet {
    entries: Vec<Entry>,
    hot: Vec<Hot>,
    rests: Vec<Condition>,
    /// The trie; node 0 is the root once anything is filed.
    nodes: Vec<Node>,
    /// Alternatives without a condition that must hold (only `exists: false`) can match an
    /// event that has none of the indexed fields, so they are always evaluated.
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
        self.entries.len()
    }

    /// Whether no rule has been inserted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds `pattern` under `id`. Inserting several patterns under one id makes that id
    /// match when any of them does.
    pub fn insert(&mut self, id: RuleId, pattern: &EventPattern) {
        for branch in pattern.branches() {
            let index = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
            let mut branch = branch.clone();
            self.paths.assign(&mut branch);
            let proved = self.file(id, index, &branch);
            let rest_start = u32::try_from(self.rests.len()).unwrap_or(u32::MAX);
            self.rests.extend(
                branch
                    .conditions
                    .iter()
                    .filter(|c| !proved.contains(&c.path_id))
                    .cloned(),
            );
            let rest_end = u32::try_from(self.rests.len()).unwrap_or(u32::MAX);
            self.hot.push(Hot {
                id,
                rest_start,
                rest_end,
            });
            self.entries.push(Entry { branch, proved });
        }
    }

    /// Files the alternative `index`; returns the paths of the conditions its trie walk
    /// tests.
    fn file(&mut self, id: RuleId, index: u32, branch: &Branch) -> Vec<u32> {
        // (whether the edges are tests, path, labels)
        let mut labelled: Vec<(bool, &Condition, Vec<Label>)> = branch
            .conditions
            .iter()
            .filter(|c| !c.absent_ok && !c.matchers.is_empty())
            .map(|c| {
                let keys: Option<Vec<ValueKey>> = c.matchers.iter().map(matcher_key).collect();
                match keys {
                    Some(keys) => (false, c, keys.into_iter().map(Label::Key).collect()),
                    None => (
                        true,
                        c,
                        c.matchers.iter().cloned().map(Label::Test).collect(),
                    ),
                }
            })
            .collect();
        if labelled.is_empty() {
            self.always.push(index);
            return Vec::new();
        }
        // Exact values first, as they are the cheap and selective edges; then fewest values
        // first, so that the conditions dropped to respect the walk limit are the ones that
        // would have multiplied it most.
        labelled.sort_by_key(|(test, _, labels)| (*test, labels.len()));
        let mut walks = 1usize;
        let mut chosen: Vec<(bool, u32, &str, Vec<Label>)> = Vec::new();
        for (test, condition, labels) in labelled {
            let more = walks.saturating_mul(labels.len());
            if chosen.is_empty() || more <= MAX_WALKS {
                walks = more;
                chosen.push((test, condition.path_id, condition.path.as_str(), labels));
            }
        }
        // Path order makes rules that test the same fields share their trie prefix.
        chosen.sort_by(|a, b| (a.0, a.2).cmp(&(b.0, b.2)));
        let steps: Vec<(u32, Vec<Label>)> = chosen
            .into_iter()
            .map(|(_, id, _, labels)| (id, labels))
            .collect();
        if self.nodes.is_empty() {
            self.nodes.push(Node::default());
        }
        let settled = branch
            .conditions
            .iter()
            .all(|c| steps.iter().any(|(path, _)| *path == c.path_id));
        let terminal = Terminal {
            id,
            entry: index,
            settled,
        };
        self.file_walk(0, &steps, terminal);
        steps.into_iter().map(|(path, _)| path).collect()
    }

    fn file_walk(&mut self, node: u32, steps: &[(u32, Vec<Label>)], terminal: Terminal) {
        let Some(((path, keys), rest)) = steps.split_first() else {
            if let Some(node) = self.nodes.get_mut(node as usize) {
                node.terminal.push(terminal);
            }
            return;
        };
        for key in keys {
            let child = self.child(node, *path, key);
            self.file_walk(child, rest, terminal);
        }
    }

    /// The child of `node` along `path` with `label`, created if missing.
    fn child(&mut self, node: u32, path: u32, label: &Label) -> u32 {
        let fresh = u32::try_from(self.nodes.len()).unwrap_or(u32::MAX);
        let Some(parent) = self.nodes.get_mut(node as usize) else {
            return fresh;
        };
        match label {
            Label::Key(key) => {
                let position = match parent.edges.iter().position(|(p, _)| *p == path) {
                    Some(position) => position,
                    None => {
                        parent.edges.push((path, ValueEdges::default()));
                        parent.edges.len() - 1
                    }
                };
                let edges = &mut parent.edges[position].1;
                if let Some(child) = edges.get(key) {
                    return child;
                }
                edges.set(key.clone(), fresh);
            }
            Label::Test(matcher) => {
                if let Some(test) = parent
                    .tests
                    .iter()
                    .find(|t| t.path == path && t.matcher == *matcher)
                {
                    return test.child;
                }
                parent.tests.push(Test {
                    path,
                    child: fresh,
                    matcher: matcher.clone(),
                });
            }
        }
        self.nodes.push(Node::default());
        fresh
    }

    /// How many alternatives the trie walk reaches for `event` (for tuning the index).
    #[doc(hidden)]
    pub fn candidate_count(&self, event: &Value) -> usize {
        let Some(flat) = matcher::flatten(event, &self.paths) else {
            return 0;
        };
        let (ids, candidates) = self.candidates(&flat);
        ids.len() + candidates.len()
    }

    /// The ids of the rules `event` matches, sorted and without duplicates.
    pub fn matches(&self, event: &Value) -> Vec<RuleId> {
        let Some(flat) = matcher::flatten(event, &self.paths) else {
            return Vec::new();
        };
        let (mut ids, candidates) = self.candidates(&flat);
        for i in candidates {
            if let Some(hot) = self.hot.get(i as usize) {
                if self.hot_matches(i, hot, &flat) {
                    ids.push(hot.id);
                }
            }
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    fn hot_matches(&self, index: u32, hot: &Hot, flat: &FlatEvent<'_>) -> bool {
        let settled_by_walk = !flat.nested() && hot.rest_start == hot.rest_end;
        if settled_by_walk {
            return true;
        }
        let Some(entry) = self.entries.get(index as usize) else {
            return false;
        };
        // A value inside an array of objects ties the choice of values of other fields to
        // its element, so a proved condition can only be skipped when none of its values
        // sits in one; then it constrains nothing else and the walk has settled it.
        let settled = !flat.nested()
            || entry.proved.iter().all(|&path| {
                flat.field(path)
                    .iter()
                    .all(|(_, leaf)| leaf.membership.is_empty())
            });
        match self
            .rests
            .get(hot.rest_start as usize..hot.rest_end as usize)
        {
            Some(rest) if settled => matcher::conditions_match(rest, flat),
            _ => matcher::branch_matches(&entry.branch, flat),
        }
    }

    /// The rules the walk settled (possibly repeated), and the alternatives left to
    /// evaluate in full, sorted and without duplicates.
    fn candidates(&self, flat: &FlatEvent<'_>) -> (Vec<RuleId>, Vec<u32>) {
        let mut ids = Vec::new();
        let mut candidates = self.always.clone();
        self.walk(flat, &mut ids, &mut candidates);
        candidates.sort_unstable();
        candidates.dedup();
        (ids, candidates)
    }

    fn walk(&self, flat: &FlatEvent<'_>, ids: &mut Vec<RuleId>, candidates: &mut Vec<u32>) {
        if self.nodes.is_empty() {
            return;
        }
        let mut stack = vec![0u32];
        while let Some(node) = stack.pop() {
            let Some(node) = self.nodes.get(node as usize) else {
                continue;
            };
            for terminal in &node.terminal {
                if terminal.settled && !flat.nested() {
                    ids.push(terminal.id);
                } else {
                    candidates.push(terminal.entry);
                }
            }
            for (path, edges) in &node.edges {
                let before = stack.len();
                for (_, leaf) in flat.field(*path) {
                    stack.extend(edges.lookup(leaf.value));
                }
                // Each node hangs off one edge of one parent, so it can only be reached
                // twice through repeated equal values of one field; visiting it once keeps
                // events with large arrays from multiplying the walk.
                if stack.len() - before > 1 {
                    let tail = &mut stack[before..];
                    tail.sort_unstable();
                    let unique = dedup_sorted(tail);
                    stack.truncate(before + unique);
                }
            }
            // One child per test, pushed once however many values satisfy it.
            for test in &node.tests {
                let leaves = flat.field(test.path);
                if leaves
                    .iter()
                    .any(|(_, leaf)| test.matcher.matches(leaf.value))
                {
                    stack.push(test.child);
                }
            }
        }
    }
}

/// Moves the distinct values of the sorted `items` to its front and returns their number.
fn dedup_sorted(items: &mut [u32]) -> usize {
    let mut unique = 0;
    for i in 0..items.len() {
        if unique == 0 || items[i] != items[unique - 1] {
            items[unique] = items[i];
            unique += 1;
        }
    }
    unique
}
