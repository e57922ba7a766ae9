//! Matching compiled branches against an event.
//!
//! The event is flattened the way event-ruler does it: every leaf value is filed under its
//! dotted path, together with the array elements it sits in ("membership": array id →
//! element index, recorded only for objects and arrays inside arrays). A branch matches when
//! each condition can pick a value so that all picked values agree on shared arrays.

use serde_json::Value;

use crate::hash::FastMap;

use crate::model::{Branch, Condition};

/// Array id → element index, sorted by array id; usually empty or tiny.
pub(crate) type Membership = Vec<(u32, u32)>;

/// One leaf value of an event.
#[derive(Debug)]
pub(crate) struct Leaf<'a> {
    pub(crate) value: &'a Value,
    pub(crate) membership: Membership,
}

/// An event flattened into the leaves of the paths a [`PathTable`] asks for, grouped by
/// path id.
#[derive(Debug, Default)]
pub(crate) struct FlatEvent<'a> {
    leaves: Vec<(u32, Leaf<'a>)>,
    starts: Vec<usize>,
    /// Whether some leaf sits in an array of objects or arrays.
    nested: bool,
}

impl<'a> FlatEvent<'a> {
    /// The leaves filed under path `id`.
    pub(crate) fn field(&self, id: u32) -> &[(u32, Leaf<'a>)] {
        let id = id as usize;
        match (self.starts.get(id), self.starts.get(id + 1)) {
            (Some(&start), Some(&end)) => &self.leaves[start..end],
            _ => &[],
        }
    }

    /// Whether some leaf sits in an array of objects or arrays, where array consistency
    /// ties the values of different fields together.
    pub(crate) fn nested(&self) -> bool {
        self.nested
    }
}

/// The field paths some patterns test, numbered, as a trie of their `.`-separated segments
/// so that the walk of an event looks up each key on its own, without building the
/// dotted path, and knows which parts of an event to enter and which to skip.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PathTable {
    /// Node 0 is the root (the empty prefix).
    nodes: Vec<PathNode>,
    count: u32,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct PathNode {
    /// The path's id when a pattern tests the path ending here.
    id: Option<u32>,
    /// Usually a handful: scanned, comparing lengths first, which is cheaper than hashing
    /// and rarely reads the key's bytes. Beyond [`SCANNED`] children, `index` is used.
    children: Vec<(String, u32)>,
    index: FastMap<String, u32>,
    /// The length of the shortest child segment: a shorter key cannot start with a
    /// segment followed by a dot.
    shortest: usize,
}

/// Up to this many children, a path node finds an event key by scanning them.
const SCANNED: usize = 8;

impl PathNode {
    fn child(&self, key: &str) -> Option<u32> {
        if self.children.len() <= SCANNED {
            self.children
                .iter()
                .find(|(segment, _)| segment.len() == key.len() && segment == key)
                .map(|(_, child)| *child)
        } else {
            self.index.get(key).copied()
        }
    }

    fn add_child(&mut self, segment: &str, child: u32) {
        self.shortest = if self.children.is_empty() {
            segment.len()
        } else {
            self.shortest.min(segment.len())
        };
        self.children.push((segment.to_owned(), child));
        self.index.insert(segment.to_owned(), child);
    }
}

impl Default for PathTable {
    fn default() -> Self {
        Self {
            nodes: vec![PathNode::default()],
            count: 0,
        }
    }
}

impl PathTable {
    /// The id of `path`, numbering it if it is new.
    pub(crate) fn id(&mut self, path: &str) -> u32 {
        let mut node = 0;
        for segment in path.split('.') {
            let fresh = self.nodes.len();
            node = match self.nodes[node].child(segment) {
                Some(child) => child as usize,
                None => {
                    let child = u32::try_from(fresh).unwrap_or(u32::MAX);
                    self.nodes[node].add_child(segment, child);
                    self.nodes.push(PathNode::default());
                    fresh
                }
            };
        }
        if let Some(id) = self.nodes[node].id {
            return id;
        }
        let id = self.count;
        self.count += 1;
        self.nodes[node].id = Some(id);
        id
    }

    /// How many paths are numbered.
    pub(crate) fn len(&self) -> u32 {
        self.count
    }

    /// Numbers the paths of `branch` in this table.
    pub(crate) fn assign(&mut self, branch: &mut Branch) {
        for condition in &mut branch.conditions {
            condition.path_id = self.id(&condition.path);
        }
    }

    /// The node reached from `node` by the event key `key`.
    fn step(&self, node: u32, key: &str) -> Option<u32> {
        let parent = self.nodes.get(node as usize)?;
        if let Some(child) = parent.child(key) {
            return Some(child);
        }
        // A key holding dots joins the path exactly as nesting does (event-ruler flattens
        // `{"a.b": 1}` and `{"a": {"b": 1}}` alike); segments never hold dots, so only a
        // missed key longer than some segment needs splitting.
        if parent.children.is_empty() || key.len() <= parent.shortest || !key.contains('.') {
            return None;
        }
        key.split('.').try_fold(node, |node, segment| {
            self.nodes.get(node as usize)?.child(segment)
        })
    }

    fn path_id(&self, node: u32) -> Option<u32> {
        self.nodes.get(node as usize).and_then(|n| n.id)
    }
}

/// Flattens `event`; `None` when it is not a JSON object (such events match nothing).
pub(crate) fn flatten<'a>(event: &'a Value, table: &PathTable) -> Option<FlatEvent<'a>> {
    let Value::Object(map) = event else {
        return None;
    };
    let mut walker = Walker {
        table,
        // Usually one leaf per tested path: sized so that the walk rarely regrows it.
        leaves: Vec::with_capacity(table.len() as usize + 4),
        membership: Vec::new(),
        arrays: 0,
    };
    walker.object(map, 0);
    let mut leaves = walker.leaves;
    leaves.sort_by_key(|(id, _)| *id);
    let mut starts = Vec::with_capacity(table.len() as usize + 1);
    let mut next = 0;
    for id in 0..=table.len() {
        while leaves.get(next).is_some_and(|(leaf_id, _)| *leaf_id < id) {
            next += 1;
        }
        starts.push(next);
    }
    let nested = leaves.iter().any(|(_, leaf)| !leaf.membership.is_empty());
    Some(FlatEvent {
        leaves,
        starts,
        nested,
    })
}

struct Walker<'a, 't> {
    table: &'t PathTable,
    leaves: Vec<(u32, Leaf<'a>)>,
    membership: Membership,
    arrays: u32,
}

impl<'a> Walker<'a, '_> {
    /// Walks the members of `map`, which sits at path-table node `node`.
    fn object(&mut self, map: &'a serde_json::Map<String, Value>, node: u32) {
        for (key, value) in map {
            if let Some(child) = self.table.step(node, key) {
                self.value(value, child);
            }
        }
    }

    fn value(&mut self, value: &'a Value, node: u32) {
        match value {
            Value::Object(map) => self.object(map, node),
            Value::Array(items) => self.array(items, node),
            leaf => self.leaf(leaf, node),
        }
    }

    fn leaf(&mut self, value: &'a Value, node: u32) {
        if let Some(id) = self.table.path_id(node) {
            self.leaves.push((
                id,
                Leaf {
                    value,
                    membership: self.membership.clone(),
                },
            ));
        }
    }

    fn array(&mut self, items: &'a [Value], node: u32) {
        let id = self.arrays;
        self.arrays += 1;
        for (index, item) in items.iter().enumerate() {
            match item {
                Value::Object(_) | Value::Array(_) => {
                    // Array ids grow as the walk goes, so pushing keeps the membership sorted.
                    self.membership
                        .push((id, u32::try_from(index).unwrap_or(u32::MAX)));
                    self.value(item, node);
                    self.membership.pop();
                }
                leaf => self.leaf(leaf, node),
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
    conditions_match(&branch.conditions, flat)
}

/// Whether all of `conditions` (sorted by path) hold together, array-consistently.
pub(crate) fn conditions_match(conditions: &[Condition], flat: &FlatEvent<'_>) -> bool {
    search(conditions, flat, &Vec::new())
}

fn search(conditions: &[Condition], flat: &FlatEvent<'_>, so_far: &Membership) -> bool {
    let Some((condition, rest)) = conditions.split_first() else {
        return true;
    };
    let leaves = flat.field(condition.path_id);
    // `exists: false` holds when no value of the field sits in the array elements chosen so
    // far (event-ruler's absence check is array-aware in the same way).
    if condition.absent_ok
        && !leaves
            .iter()
            .any(|(_, leaf)| consistent(so_far, &leaf.membership))
        && search(rest, flat, so_far)
    {
        return true;
    }
    // Many leaves lead to the same membership (e.g. every value of a primitive array); a
    // failed continuation need not be retried with the same membership.
    let mut unchanged_failed = false;
    let mut tried: Vec<Membership> = Vec::new();
    for (_, leaf) in leaves {
        if leaf.membership.is_empty() && unchanged_failed
            || !condition.matchers.iter().any(|m| m.matches(leaf.value))
        {
            continue;
        }
        if leaf.membership.is_empty() {
            if search(rest, flat, so_far) {
                return true;
            }
            unchanged_failed = true;
            continue;
        }
        let Some(next) = merge(so_far, &leaf.membership) else {
            continue;
        };
        if tried.contains(&next) {
            continue;
        }
        if search(rest, flat, &next) {
            return true;
        }
        tried.push(next);
    }
    false
}
