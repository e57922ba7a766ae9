//! EventBridge's limit on how nondeterministic a rule's wildcards may make matching.
//!
//! EventBridge refuses such a rule with "Rule is too complex - try using fewer wildcard
//! characters or fewer repeating character sequences after a wildcard character". The measure
//! is aws/event-ruler's `MachineComplexityEvaluator`, run on a machine that holds the one rule:
//!
//! * Each field's values live in a byte machine (an NFA over the UTF-8 bytes of the quoted
//!   value). The complexity of a byte machine is the largest number of wildcard rule prefixes
//!   that one input can be in at once: explore every set of states some input reaches (a
//!   subset construction), and for each set add up, over its transitions, the wildcard
//!   patterns (`wildcard` and `anything-but`/`wildcard`) still reachable from the transition;
//!   a state that a `*` leaves from also counts the patterns reachable from that `*` state.
//! * The rule's complexity is the largest over the byte machines reachable from the start
//!   through value matches. Fields are visited in sorted order and a field reached only
//!   through `exists: false` is not evaluated, as in event-ruler.
//!
//! EventBridge does not publish its threshold. Event-ruler's README suggests 10 for a machine
//! holding a single rule, and what EventBridge was seen to do fits it: `*:stack/<name>/*` for
//! three stack names (complexity 9) is accepted and for four (12) refused; four
//! `*/datasync/*.<ext>` values (16) are refused and two (8) accepted.
//!
//! The byte machine is built the way event-ruler's `ByteMachine` builds it, state reuse after a
//! wildcard and `ByteMatch` equality included, since both change the count; it was checked
//! against event-ruler's own classes on thousands of random rules. Only wildcard patterns are
//! built: the other pattern types add no complexity and leave the count as it is. `$or`
//! alternatives are added one after another, so alternatives that reach a field through the
//! same values share its byte machine, as in event-ruler. One thing is not modelled: event-ruler
//! stores the tail of an exact string as a shortcut, which it fails to find again when a `*` of
//! the same field starts where the shortcut does; an `$or` that repeats such a string in
//! several alternatives can then get a count a little off.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::error::PatternError;
use crate::model::{Branch, Condition, Exclusion, ValueMatcher};
use crate::wildcard::Wildcard;

/// A rule is refused when its complexity is above this.
pub(crate) const MAX_COMPLEXITY: usize = 10;

/// EventBridge's reason for refusing a rule over the limit.
pub(crate) const TOO_COMPLEX: &str = "Rule is too complex - try using fewer wildcard characters \
     or fewer repeating character sequences after a wildcard character";

/// Evaluation stops as soon as a machine reaches this, like event-ruler's evaluator cap.
const CAP: usize = MAX_COMPLEXITY + 1;

/// Bound on the state sets explored for one pattern. Sets hold at most [`MAX_COMPLEXITY`]
/// transitions while the rule stays under the limit, so a rule needing more is pathological;
/// it is refused rather than evaluated without bound.
const MAX_SETS: usize = 100_000;

/// Refuses `branches` (a pattern's `$or` alternatives) when their wildcards are too complex.
pub(crate) fn check(branches: &[Branch]) -> Result<(), PatternError> {
    let has_wildcards = branches
        .iter()
        .flat_map(|b| &b.conditions)
        .flat_map(|c| &c.matchers)
        .any(is_wildcard);
    if !has_wildcards {
        return Ok(());
    }
    let (complexity, path) = complexity(branches, CAP);
    if complexity > MAX_COMPLEXITY {
        return Err(PatternError::new(TOO_COMPLEX, path));
    }
    Ok(())
}

/// The rule's complexity, or `cap` if it is at least that, and the field where it is reached.
fn complexity(branches: &[Branch], cap: usize) -> (usize, &str) {
    let mut rule = Rule::default();
    for branch in branches {
        rule.add_branch(branch);
    }
    rule.complexity(cap)
}

fn is_wildcard(matcher: &ValueMatcher) -> bool {
    matches!(
        matcher,
        ValueMatcher::Wildcard(_) | ValueMatcher::AnythingBut(Exclusion::Wildcards(_))
    )
}

/// One input character of a wildcard value: a byte, or `*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    Byte(u8),
    Star,
}

/// The characters event-ruler matches a wildcard value with: the value quoted, as string values
/// are, with escapes resolved.
fn tokens(wildcard: &Wildcard) -> Vec<Tok> {
    let mut out = vec![Tok::Byte(b'"')];
    for (i, piece) in wildcard.pieces().iter().enumerate() {
        if i > 0 {
            out.push(Tok::Star);
        }
        out.extend(piece.bytes().map(Tok::Byte));
    }
    out.push(Tok::Byte(b'"'));
    out
}

/// What a pattern contributes to a field's byte machine.
enum Kind<'a> {
    Wildcard(&'a Wildcard),
    /// `anything-but` a list of wildcards: one pattern with several values.
    AnythingButWildcards(Vec<&'a Wildcard>),
    /// Any other pattern: no byte machine states are modelled for it. Suffix patterns are
    /// noted because they change how event-ruler reuses states after a multi-byte character.
    Other {
        suffix: bool,
    },
}

/// One event-ruler pattern; `identity` stands for the pattern's equality.
struct Pattern<'a> {
    identity: String,
    kind: Kind<'a>,
}

/// The patterns event-ruler compiles a field's values to, in order, with the index of the
/// value each comes from. A number becomes a numeric-equality pattern and an exact match on
/// its text.
fn patterns(condition: &Condition) -> Vec<(usize, Pattern<'_>)> {
    let mut out = Vec::with_capacity(condition.matchers.len());
    for (index, matcher) in condition.matchers.iter().enumerate() {
        let mut push = |pattern| out.push((index, pattern));
        match matcher {
            ValueMatcher::Wildcard(w) => push(Pattern {
                identity: format!("{matcher:?}"),
                kind: Kind::Wildcard(w),
            }),
            ValueMatcher::AnythingBut(Exclusion::Wildcards(list)) => {
                let values = java_hash_set_order(list);
                let mut keys: Vec<String> = values.iter().map(|w| format!("{w:?}")).collect();
                keys.sort();
                push(Pattern {
                    identity: format!("anything-but-wildcard {keys:?}"),
                    kind: Kind::AnythingButWildcards(values),
                });
            }
            ValueMatcher::Number(literal) => {
                if let Some(value) = literal.value {
                    push(Pattern {
                        identity: format!("numeric-equals {value:?}"),
                        kind: Kind::Other { suffix: false },
                    });
                }
                push(Pattern {
                    identity: format!("exact {}", literal.text),
                    kind: Kind::Other { suffix: false },
                });
            }
            other => push(Pattern {
                identity: format!("{other:?}"),
                kind: Kind::Other {
                    suffix: matches!(
                        other,
                        ValueMatcher::Suffix(_)
                            | ValueMatcher::SuffixIgnoreCase(_)
                            | ValueMatcher::AnythingBut(Exclusion::Suffixes(_))
                    ),
                },
            }),
        }
    }
    out
}

/// The values of an `anything-but` wildcard list in the order event-ruler adds them to the
/// byte machine: it keeps the quoted values in a `java.util.HashSet`, which iterates by hash
/// bucket. The order decides which states the values share.
fn java_hash_set_order(list: &[Wildcard]) -> Vec<&Wildcard> {
    let mut values: Vec<(&Wildcard, u32)> = Vec::with_capacity(list.len());
    for w in list {
        if !values.iter().any(|(v, _)| *v == w) {
            values.push((w, java_hash(w)));
        }
    }
    // Capacity 16, doubled whenever the size passes three quarters of it; buckets are
    // iterated in index order, and a bucket's entries in insertion order.
    let mut capacity = 16usize;
    while values.len() > capacity * 3 / 4 {
        capacity *= 2;
    }
    let mask = capacity as u32 - 1;
    let mut order: Vec<(u32, usize, &Wildcard)> = values
        .iter()
        .enumerate()
        .map(|(i, (w, hash))| ((hash ^ (hash >> 16)) & mask, i, *w))
        .collect();
    order.sort_unstable_by_key(|&(bucket, i, _)| (bucket, i));
    order.into_iter().map(|(_, _, w)| w).collect()
}

/// `String.hashCode` of the quoted value event-ruler stores (its raw text, escapes and all).
fn java_hash(wildcard: &Wildcard) -> u32 {
    let mut text = String::from("\"");
    for (i, piece) in wildcard.pieces().iter().enumerate() {
        if i > 0 {
            text.push('*');
        }
        for c in piece.chars() {
            if c == '*' || c == '\\' {
                text.push('\\');
            }
            text.push(c);
        }
    }
    text.push('"');
    text.encode_utf16().fold(0u32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(u32::from(unit))
    })
}

/// An event-ruler `NameState`: the byte machine of each field, and where `exists: false` leads.
#[derive(Default)]
struct NameState<'a> {
    fields: Vec<(&'a str, usize)>,
    absent: Vec<(&'a str, usize)>,
}

/// A field's byte machine at one name state.
struct Field {
    machine: Machine,
    /// Wildcard pattern identity → pattern number in `machine`.
    wildcard_ids: HashMap<String, u32>,
    /// Other pattern identity → the name state its match leads to.
    others: HashMap<String, usize>,
    /// Name states reached through a value match (these are evaluated in turn).
    next: Vec<usize>,
}

/// The machine event-ruler would build for the rule, reduced to what complexity depends on.
struct Rule<'a> {
    names: Vec<NameState<'a>>,
    fields: Vec<Field>,
}

impl Default for Rule<'_> {
    fn default() -> Self {
        Self {
            names: vec![NameState::default()],
            fields: Vec::new(),
        }
    }
}

fn push_unique(list: &mut Vec<usize>, item: usize) {
    if !list.contains(&item) {
        list.push(item);
    }
}

impl<'a> Rule<'a> {
    fn new_name(&mut self) -> usize {
        self.names.push(NameState::default());
        self.names.len() - 1
    }

    fn field_at(&mut self, name: usize, path: &'a str) -> usize {
        if let Some(&(_, field)) = self.names[name].fields.iter().find(|(p, _)| *p == path) {
            return field;
        }
        self.fields.push(Field {
            machine: Machine::new(),
            wildcard_ids: HashMap::new(),
            others: HashMap::new(),
            next: Vec::new(),
        });
        let field = self.fields.len() - 1;
        self.names[name].fields.push((path, field));
        field
    }

    /// Adds one `$or` alternative the way `GenericMachine.addPatternRule` does: fields in sorted
    /// order, each value's match leading to the name state of the value before it unless the
    /// pattern is already there.
    fn add_branch(&mut self, branch: &'a Branch) {
        let mut states = vec![0];
        for condition in &branch.conditions {
            let patterns = patterns(condition);
            // `exists: false` takes its turn where it was written.
            let absent_at = condition.absent_ok.then(|| {
                patterns
                    .iter()
                    .position(|(matcher, _)| *matcher >= condition.absent_at)
                    .unwrap_or(patterns.len())
            });
            let mut next_states = Vec::new();
            for &state in &states {
                let mut last = None;
                for turn in 0..=patterns.len() {
                    if absent_at == Some(turn) {
                        let next = self.add_absent(state, &condition.path, last);
                        last = Some(next);
                        push_unique(&mut next_states, next);
                    }
                    let Some((_, pattern)) = patterns.get(turn) else {
                        break;
                    };
                    let field = self.field_at(state, &condition.path);
                    let next = self.add_pattern(field, pattern, last);
                    last = Some(next);
                    push_unique(&mut self.fields[field].next, next);
                    push_unique(&mut next_states, next);
                }
            }
            states = next_states;
        }
    }

    /// `exists: false` leads to one name state per field (event-ruler's `NameMatcher`).
    fn add_absent(&mut self, state: usize, path: &'a str, last: Option<usize>) -> usize {
        if let Some(&(_, next)) = self.names[state].absent.iter().find(|(p, _)| *p == path) {
            return next;
        }
        let next = last.unwrap_or_else(|| self.new_name());
        self.names[state].absent.push((path, next));
        next
    }

    fn add_pattern(&mut self, field: usize, pattern: &Pattern<'_>, last: Option<usize>) -> usize {
        let values: Vec<&Wildcard> = match &pattern.kind {
            Kind::Other { suffix } => {
                if *suffix {
                    self.fields[field].machine.has_suffix = true;
                }
                if let Some(&next) = self.fields[field].others.get(&pattern.identity) {
                    return next;
                }
                let next = last.unwrap_or_else(|| self.new_name());
                self.fields[field]
                    .others
                    .insert(pattern.identity.clone(), next);
                return next;
            }
            Kind::Wildcard(w) => vec![w],
            Kind::AnythingButWildcards(list) => list.clone(),
        };
        let ids = &mut self.fields[field].wildcard_ids;
        let count = ids.len() as u32;
        let id = *ids.entry(pattern.identity.clone()).or_insert(count);
        let mut name = last;
        for value in values {
            let candidate = match name {
                Some(name) => name,
                None => self.new_name(),
            };
            name = Some(
                self.fields[field]
                    .machine
                    .add(&tokens(value), id, candidate),
            );
        }
        name.unwrap_or_else(|| self.new_name())
    }

    /// The largest complexity of the byte machines that are evaluated (at most `cap`), with
    /// the field of the first machine that has it.
    fn complexity(&self, cap: usize) -> (usize, &'a str) {
        let mut max = (0, "");
        let mut budget = MAX_SETS;
        let mut evaluated = vec![false; self.fields.len()];
        let mut seen = vec![false; self.names.len()];
        let mut pending = vec![0];
        while let Some(name) = pending.pop() {
            if std::mem::replace(&mut seen[name], true) {
                continue;
            }
            let mut fields = self.names[name].fields.clone();
            fields.sort_unstable();
            for (path, field) in fields {
                if !std::mem::replace(&mut evaluated[field], true) {
                    let complexity = self.fields[field].machine.complexity(cap, &mut budget);
                    if complexity > max.0 {
                        max = (complexity, path);
                    }
                    if complexity >= cap {
                        return max;
                    }
                }
                pending.extend(self.fields[field].next.iter().rev());
            }
        }
        max
    }
}

type NodeId = u32;

/// A transition of event-ruler's byte machine: a state (which is its own transition), a match,
/// or a state carrying a match (a composite).
struct Node {
    /// The state this transition leads to; a state leads to itself.
    next: Option<NodeId>,
    /// The pattern matched, with the name state the match leads to.
    matched: Option<(u32, usize)>,
    /// For a state: transitions per byte, in insertion order.
    bytes: Vec<(u8, Vec<NodeId>)>,
    /// For a state: transitions taken on every byte.
    all: Vec<NodeId>,
    /// Whether more than one value can lead from the start to this state.
    indeterminate: bool,
}

/// A port of the parts of event-ruler's `ByteMachine` that wildcard patterns use.
struct Machine {
    nodes: Vec<Node>,
    /// Whether the field has suffix patterns (event-ruler's `hasSuffix`).
    has_suffix: bool,
    /// Match transitions by pattern and name state: event-ruler's `ByteMatch` equality.
    matches: HashMap<(u32, usize), NodeId>,
}

const START: NodeId = 0;

fn push_node(list: &mut Vec<NodeId>, node: NodeId) {
    if !list.contains(&node) {
        list.push(node);
    }
}

impl Machine {
    fn new() -> Self {
        let mut machine = Self {
            nodes: Vec::new(),
            has_suffix: false,
            matches: HashMap::new(),
        };
        machine.new_state(false);
        machine
    }

    fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    fn node_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.nodes[id as usize]
    }

    fn push(&mut self, next: Option<NodeId>, matched: Option<(u32, usize)>) -> NodeId {
        let id = self.nodes.len() as NodeId;
        self.nodes.push(Node {
            next,
            matched,
            bytes: Vec::new(),
            all: Vec::new(),
            indeterminate: false,
        });
        id
    }

    fn new_state(&mut self, indeterminate: bool) -> NodeId {
        let id = self.nodes.len() as NodeId;
        self.push(Some(id), None);
        self.node_mut(id).indeterminate = indeterminate;
        id
    }

    /// The transitions a state takes on `tok` (for `*`: those taken on every byte).
    fn transition(&self, state: NodeId, tok: Tok) -> Vec<NodeId> {
        let node = self.node(state);
        match tok {
            Tok::Star => node.all.clone(),
            Tok::Byte(b) => {
                let mut out = match node.bytes.iter().find(|(byte, _)| *byte == b) {
                    Some((_, list)) => list.clone(),
                    None => Vec::new(),
                };
                for &t in &node.all {
                    push_node(&mut out, t);
                }
                out
            }
        }
    }

    /// `ByteTransition.getNextByteState`: a determinate next state if any, else the first.
    fn next_state(&self, transitions: &[NodeId]) -> Option<NodeId> {
        let mut first = None;
        for &t in transitions {
            if let Some(next) = self.node(t).next {
                if !self.node(next).indeterminate {
                    return Some(next);
                }
                first = first.or(Some(next));
            }
        }
        first
    }

    fn add_transition(&mut self, state: NodeId, b: u8, transition: NodeId) {
        let bytes = &mut self.node_mut(state).bytes;
        match bytes.iter_mut().find(|(byte, _)| *byte == b) {
            Some((_, list)) => push_node(list, transition),
            None => bytes.push((b, vec![transition])),
        }
    }

    fn add_transition_for_all_bytes(&mut self, state: NodeId, transition: NodeId) {
        push_node(&mut self.node_mut(state).all, transition);
    }

    /// Adds one value of wildcard pattern `pattern` whose match leads to name state `candidate`
    /// unless the value is already there; returns the name state the value's match leads to.
    /// Follows `ByteMachine.addMatchValue`.
    fn add(&mut self, chars: &[Tok], pattern: u32, candidate: usize) -> usize {
        let n = chars.len();
        let mut state = START;
        let mut prev = None;
        let mut i = 0;
        while i + 1 < n {
            let transitions = self.transition(state, chars[i]);
            let reuse = transitions.iter().find_map(|&t| {
                let next = self.node(t).next?;
                self.can_reuse(state, next, chars, i).then_some(next)
            });
            let Some(next) = reuse else { break };
            prev = Some(state);
            state = next;
            i += 1;
        }
        self.add_end_of_match(state, prev, chars, i, pattern, candidate)
    }

    fn can_reuse(&self, state: NodeId, next: NodeId, chars: &[Tok], i: usize) -> bool {
        if next == state {
            return false;
        }
        if !self.node(next).indeterminate {
            return !(i + 2 == chars.len() && chars[i + 1] == Tok::Star);
        }
        !self.transitions_converge(state, chars, i)
    }

    /// `doMultipleTransitionsConvergeForInputByte`: whether two transitions from `state`, one
    /// on `chars[i]`, may lead to a common state (a `*` that `chars[i]` can skip, or another
    /// letter case of the character).
    fn transitions_converge(&self, state: NodeId, chars: &[Tok], i: usize) -> bool {
        let Tok::Byte(b) = chars[i] else {
            return false;
        };
        let first_byte = !is_continuation(b);
        // With suffix patterns around, event-ruler also checks at the first continuation byte,
        // since suffix values are stored backwards.
        let suffix_case = self.has_suffix
            && continuation_at(chars, i)
            && !continuation_at(chars, i.wrapping_sub(1));
        if !first_byte && !suffix_case {
            return false;
        }
        let all = &self.node(state).all;
        if !all.is_empty() && all.as_slice() != [state] {
            return true;
        }
        let bytes = if first_byte {
            forward_character(chars, i)
        } else {
            backward_character(chars, i)
        };
        bytes.is_some_and(|bytes| first_unit_has_case(&bytes))
    }

    fn add_end_of_match(
        &mut self,
        mut state: NodeId,
        mut prev: Option<NodeId>,
        chars: &[Tok],
        mut j: usize,
        pattern: u32,
        candidate: usize,
    ) -> usize {
        let n = chars.len();
        while j + 1 < n {
            if j + 2 == n && chars[j + 1] == Tok::Star {
                break;
            }
            let transitions = self.transition(state, chars[j]);
            if transitions.is_empty() {
                break;
            }
            match self.next_state(&transitions) {
                Some(next) if self.node(next).indeterminate => break,
                Some(next) => {
                    prev = Some(state);
                    state = next;
                }
                None => {
                    // Only matches here: give the first one a next state (a composite).
                    let fresh = self.new_state(self.node(state).indeterminate);
                    let single = transitions[0];
                    let matched = self.node(single).matched;
                    let composite = self.push(Some(fresh), matched);
                    if let Tok::Byte(b) = chars[j] {
                        self.add_transition(state, b, composite);
                        if let Some((_, list)) =
                            self.node_mut(state).bytes.iter_mut().find(|(x, _)| *x == b)
                        {
                            list.retain(|&t| t != single);
                        }
                    }
                    prev = Some(state);
                    state = fresh;
                }
            }
            j += 1;
        }
        while j + 1 < n {
            let next = self.find_or_make_next_state(state, prev, chars, j);
            prev = Some(state);
            state = next;
            j += 1;
        }
        self.insert_match(chars, state, prev, pattern, candidate)
    }

    fn find_or_make_next_state(
        &mut self,
        state: NodeId,
        prev: Option<NodeId>,
        chars: &[Tok],
        i: usize,
    ) -> NodeId {
        let transitions = self.transition(state, chars[i]);
        // A value ending in `*` needs its own second-last state (never the case for quoted
        // values, but kept as in event-ruler).
        let before_final_star = i + 2 == chars.len() && chars[i + 1] == Tok::Star;
        match self.next_state(&transitions) {
            Some(next) if !self.node(next).indeterminate && !before_final_star => next,
            _ => {
                let next = self.new_state(self.node(state).indeterminate);
                match chars[i] {
                    Tok::Star => {
                        // `*`: a state that loops on every byte, reached on every byte.
                        self.add_transition_for_all_bytes(next, next);
                        self.node_mut(next).indeterminate = true;
                        self.add_transition_for_all_bytes(state, next);
                    }
                    Tok::Byte(b) => {
                        self.add_transition(state, b, next);
                        // After a `*`, the state before it also takes this byte, so the `*`
                        // can match nothing.
                        if let (Some(prev), true) = (prev, i > 0 && chars[i - 1] == Tok::Star) {
                            self.add_transition(prev, b, next);
                        }
                    }
                }
                next
            }
        }
    }

    fn insert_match(
        &mut self,
        chars: &[Tok],
        state: NodeId,
        prev: Option<NodeId>,
        pattern: u32,
        candidate: usize,
    ) -> usize {
        let n = chars.len();
        let Tok::Byte(b) = chars[n - 1] else {
            unreachable!("wildcard values are quoted, so they end with a byte");
        };
        let existing = self
            .transition(state, chars[n - 1])
            .into_iter()
            .find_map(|t| {
                self.node(t)
                    .matched
                    .filter(|(p, _)| *p == pattern)
                    .map(|(_, name)| name)
            });
        if let Some(name) = existing {
            return name;
        }
        // Matches of one pattern leading to one name state are equal in event-ruler, so they
        // are one transition here.
        let matched = match self.matches.get(&(pattern, candidate)) {
            Some(&node) => node,
            None => {
                let node = self.push(None, Some((pattern, candidate)));
                self.matches.insert((pattern, candidate), node);
                node
            }
        };
        self.add_transition(state, b, matched);
        if let (Some(prev), true) = (prev, n >= 2 && chars[n - 2] == Tok::Star) {
            self.add_transition(prev, b, matched);
        }
        candidate
    }

    /// The complexity, or `cap` when it reaches `cap` (or the set budget runs out).
    /// Follows `MachineComplexityEvaluator.evaluate` on this machine alone.
    fn complexity(&self, cap: usize, budget: &mut usize) -> usize {
        let weight = self.reachable_pattern_counts();
        let mut visited: HashSet<Vec<NodeId>> = HashSet::new();
        let mut queue: VecDeque<Vec<NodeId>> = self.byte_classes(&[START]).into();
        let mut max = 0;
        while let Some(set) = queue.pop_front() {
            if !visited.insert(set.clone()) {
                continue;
            }
            if *budget == 0 {
                return cap;
            }
            *budget -= 1;
            let mut size = 0;
            for &t in &set {
                size += weight[t as usize];
                // A value that reaches a state before `*` also reaches the `*` state.
                if let Some(next) = self.node(t).next {
                    for &star in &self.node(next).all {
                        if set.binary_search(&star).is_err() {
                            size += weight[star as usize];
                        }
                    }
                }
            }
            if size >= cap {
                return cap;
            }
            max = max.max(size);
            let mut states: Vec<NodeId> = set.iter().filter_map(|&t| self.node(t).next).collect();
            states.sort_unstable();
            states.dedup();
            if !states.is_empty() {
                for class in self.byte_classes(&states) {
                    if !visited.contains(&class) {
                        queue.push_back(class);
                    }
                }
            }
        }
        max
    }

    /// The distinct sets of transitions `states` take together on some byte, each sorted.
    fn byte_classes(&self, states: &[NodeId]) -> Vec<Vec<NodeId>> {
        let mut bytes: Vec<u8> = states
            .iter()
            .flat_map(|&s| self.node(s).bytes.iter().map(|(b, _)| *b))
            .collect();
        bytes.sort_unstable();
        bytes.dedup();
        let mut classes = Vec::with_capacity(bytes.len() + 1);
        for &b in &bytes {
            let mut set: Vec<NodeId> = states
                .iter()
                .flat_map(|&s| self.transition(s, Tok::Byte(b)))
                .collect();
            set.sort_unstable();
            set.dedup();
            classes.push(set);
        }
        if bytes.len() < 256 {
            let mut set: Vec<NodeId> = states
                .iter()
                .flat_map(|&s| self.node(s).all.iter().copied())
                .collect();
            set.sort_unstable();
            set.dedup();
            classes.push(set);
        }
        classes.retain(|set| !set.is_empty());
        classes.sort_unstable();
        classes.dedup();
        classes
    }

    /// For each transition, how many distinct patterns a match reachable from it has.
    fn reachable_pattern_counts(&self) -> Vec<usize> {
        let patterns = self
            .nodes
            .iter()
            .filter_map(|n| n.matched.map(|(p, _)| p as usize + 1))
            .max()
            .unwrap_or(0);
        let words = patterns.div_ceil(64).max(1);
        let mut reach = vec![0u64; self.nodes.len() * words];
        // Depth-first, children before parents; a child still being explored (a loop)
        // contributes what it has so far, as in event-ruler.
        let children: Vec<Vec<NodeId>> = (0..self.nodes.len() as NodeId)
            .map(|n| self.children(n))
            .collect();
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<(NodeId, usize)> = vec![(START, 0)];
        seen[START as usize] = true;
        while let Some(frame) = stack.last_mut() {
            let (node, index) = *frame;
            if let Some(&child) = children[node as usize].get(index) {
                frame.1 += 1;
                if !std::mem::replace(&mut seen[child as usize], true) {
                    if let Some((p, _)) = self.node(child).matched {
                        let at = child as usize * words + p as usize / 64;
                        reach[at] |= 1 << (p % 64);
                    }
                    stack.push((child, 0));
                }
                continue;
            }
            stack.pop();
            for &child in &children[node as usize] {
                for w in 0..words {
                    let bits = reach[child as usize * words + w];
                    reach[node as usize * words + w] |= bits;
                }
            }
        }
        (0..self.nodes.len())
            .map(|n| {
                reach[n * words..(n + 1) * words]
                    .iter()
                    .map(|w| w.count_ones() as usize)
                    .sum()
            })
            .collect()
    }

    /// The transitions leaving the state a transition leads to.
    fn children(&self, node: NodeId) -> Vec<NodeId> {
        let Some(next) = self.node(node).next else {
            return Vec::new();
        };
        let state = self.node(next);
        let mut out: Vec<NodeId> = Vec::new();
        for (_, list) in &state.bytes {
            for &t in list {
                push_node(&mut out, t);
            }
        }
        for &t in &state.all {
            push_node(&mut out, t);
        }
        out
    }
}

fn is_continuation(b: u8) -> bool {
    (0x80..=0xBF).contains(&b)
}

fn continuation_at(chars: &[Tok], i: usize) -> bool {
    matches!(chars.get(i), Some(Tok::Byte(b)) if is_continuation(*b))
}

/// The bytes of the character starting at `chars[i]`, taken as event-ruler takes them: by the
/// length its first byte announces (three for anything longer than two).
fn forward_character(chars: &[Tok], i: usize) -> Option<Vec<u8>> {
    let len = match chars.get(i)? {
        Tok::Byte(0x00..=0x7F) => 1,
        Tok::Byte(0xC2..=0xDF) => 2,
        _ => 3,
    };
    (i..i + len)
        .map(|k| match chars.get(k) {
            Some(Tok::Byte(b)) => Some(*b),
            _ => None,
        })
        .collect()
}

/// Event-ruler's reading of a suffix character: continuation bytes from `chars[i]` up to and
/// including the next other byte, reversed.
fn backward_character(chars: &[Tok], i: usize) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    for tok in &chars[i..] {
        let Tok::Byte(b) = *tok else { break };
        bytes.push(b);
        if !is_continuation(b) {
            break;
        }
    }
    bytes.reverse();
    Some(bytes)
}

/// Whether the first UTF-16 unit of `bytes` (decoded as Java does) has another letter case,
/// which event-ruler takes to mean an `equals-ignore-case` path could share the next state.
fn first_unit_has_case(bytes: &[u8]) -> bool {
    // A character outside the Basic Multilingual Plane starts with a surrogate, which has no
    // case; a malformed sequence decodes to U+FFFD, which has none either.
    match String::from_utf8_lossy(bytes).chars().next() {
        Some(c) if (c as u32) < 0x10000 => {
            let lower: String = c.to_lowercase().collect();
            let upper: String = c.to_uppercase().collect();
            lower != upper
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Characters as event-ruler's `ByteMachine` tests give them: unquoted, escapes as `\`.
    fn raw(text: &str) -> Vec<Tok> {
        let mut out = Vec::new();
        let mut bytes = text.bytes();
        while let Some(b) = bytes.next() {
            match b {
                b'*' => out.push(Tok::Star),
                b'\\' => out.push(Tok::Byte(bytes.next().expect("escaped byte"))),
                other => out.push(Tok::Byte(other)),
            }
        }
        out
    }

    /// Complexity of a machine holding `values`, each its own pattern, like event-ruler's
    /// `MachineComplexityEvaluatorTest` with `new MachineComplexityEvaluator(100)`.
    fn machine(values: &[&str]) -> usize {
        let mut m = Machine::new();
        let mut ids: Vec<&str> = Vec::new();
        for value in values {
            let id = match ids.iter().position(|v| v == value) {
                Some(id) => id,
                None => {
                    ids.push(value);
                    ids.len() - 1
                }
            };
            m.add(&raw(value), id as u32, 0);
        }
        let mut budget = usize::MAX;
        m.complexity(100, &mut budget)
    }

    /// Complexity of one field's values as a rule gives them (quoted).
    fn field(values: &[&str]) -> usize {
        let mut m = Machine::new();
        for (id, value) in values.iter().enumerate() {
            let wildcard = Wildcard::parse(value).expect("valid wildcard");
            m.add(&tokens(&wildcard), id as u32, 0);
        }
        let mut budget = usize::MAX;
        m.complexity(100, &mut budget)
    }

    /// The counts of event-ruler's `MachineComplexityEvaluatorTest` for patterns that do not
    /// end with `*` (event-ruler quotes values, so a rule's never do), in every order.
    #[test]
    fn event_ruler_machine_counts() {
        let cases: &[(usize, &[&str])] = &[
            (1, &["abc"]),
            (2, &["*ab"]),
            (3, &["*aa"]),
            (2, &["a*b"]),
            (2, &["a*bc"]),
            (3, &["a*bb"]),
            (3, &["a*bcb"]),
            (4, &["a*bbb"]),
            (4, &["*ab*ad"]),
            (3, &["*ab*d"]),
            (5, &["a*b*bb"]),
            (4, &["a*b*cb"]),
            (3, &["a*b*cd"]),
            (4, &["a*b*b"]),
            (3, &["ab*c", "x*xx"]),
            (4, &["*abc", "*abcde"]),
            (4, &["a*bcd", "ab*cd"]),
            (4, &["a*bc", "a*bcde"]),
            (7, &["a*aaa", "aa*aa"]),
            (4, &["a*bc", "abc*d"]),
            (6, &["a*aaa", "aaa*a"]),
            (5, &["a*aax", "aaa*x"]),
            (6, &["ab*cd", "ab*wx", "ab*yz"]),
            (2, &["ab*c", "ab*c"]),
            (
                10,
                &["F*eatureFeature", "Fe*atureFeature", "Fea*tureFeature"],
            ),
        ];
        for (expected, values) in cases {
            let mut order: Vec<&str> = values.to_vec();
            for _ in 0..order.len() {
                order.rotate_left(1);
                assert_eq!(machine(&order), *expected, "{order:?}");
            }
        }
    }

    const QUAMINA_EXPLODER: [&str; 32] = [
        "aahed*", "aal*ii", "aargh*", "aarti*", "a*baca", "*abaci", "a*back", "ab*acs", "abaf*t",
        "*abaka", "ab*amp", "a*band", "*abase", "abash*", "abas*k", "ab*ate", "aba*ya", "abbas*",
        "abbed*", "ab*bes", "abbey*", "*abbot", "ab*cee", "abea*m", "abe*ar", "a*bele", "a*bers",
        "abet*s", "*abhor", "abi*de", "a*bies", "*abled",
    ];

    /// Event-ruler's Quamina "exploder" set: 32 wildcard patterns in one field. The counts
    /// were taken from event-ruler's `ByteMachine` and `MachineComplexityEvaluator`: 45 as a
    /// rule gives them (quoted), 41 for the unquoted patterns that do not end with `*`.
    #[test]
    fn event_ruler_quamina_exploder() {
        assert_eq!(field(&QUAMINA_EXPLODER), 45);
        let unquoted: Vec<&str> = QUAMINA_EXPLODER
            .iter()
            .copied()
            .filter(|v| !v.ends_with('*'))
            .collect();
        assert_eq!(machine(&unquoted), 41);
    }

    /// The complexity of a whole pattern, capped at 100.
    fn rule(text: &str) -> usize {
        let (_, branches) = crate::parse::compile(text).expect("valid pattern");
        complexity(&branches, 100).0
    }

    /// Whole patterns; every count was taken from event-ruler (`Machine.addRule` and
    /// `evaluateComplexity`).
    #[test]
    fn rule_counts_from_event_ruler() {
        let cases: &[(usize, &str)] = &[
            (2, r#"{"a": [{"wildcard": "*"}]}"#),
            (1, r#"{"a": [{"wildcard": "abc"}]}"#),
            (5, r#"{"a": [{"wildcard": "a*b*bb"}]}"#),
            (17, r#"{"a": [{"wildcard": "*a*a*a*a*a*a*a*a*"}]}"#),
            (9, r#"{"a": [{"wildcard": "*a*a*a*a*"}]}"#),
            (10, r#"{"a": [{"wildcard": "*a*a*a*a*a"}]}"#),
            (11, r#"{"a": [{"wildcard": "*a*a*a*a*a*"}]}"#),
            (6, r#"{"a": [{"wildcard": "*x*y*z*w*"}]}"#),
            (10, r#"{"a": [{"wildcard": "a*bbbbbbbbb"}]}"#),
            (11, r#"{"a": [{"wildcard": "a*bbbbbbbbbb"}]}"#),
            (
                7,
                r#"{"a": [{"wildcard": "a*aaa"}, {"wildcard": "aa*aa"}]}"#,
            ),
            (
                7,
                r#"{"a": [{"anything-but": {"wildcard": ["a*aaa", "aa*aa"]}}]}"#,
            ),
            (4, r#"{"a": [{"anything-but": {"wildcard": "*/lib/*"}}]}"#),
            (2, r#"{"a": [{"wildcard": "Simple*Service"}]}"#),
            (3, r#"{"a": [{"wildcard": "*Title*"}]}"#),
            (
                10,
                r#"{"a": [{"wildcard": "F*eatureFeature"}, {"wildcard": "Fe*atureFeature"},
                          {"wildcard": "Fea*tureFeature"}]}"#,
            ),
            // Fields reached only through `exists: false` are not evaluated.
            (
                0,
                r#"{"a": [{"exists": false}], "b": [{"wildcard": "*a*a*a*a*a*a*a*a*"}]}"#,
            ),
            (
                17,
                r#"{"a": [{"exists": true}], "b": [{"wildcard": "*a*a*a*a*a*a*a*a*"}]}"#,
            ),
            // `$or` alternatives with the same first field share its byte machine.
            (
                8,
                r#"{"$or": [{"a": [{"wildcard": "*a*a*"}]}, {"a": [{"wildcard": "*b*b*"}]}]}"#,
            ),
            (
                7,
                r#"{"source": ["x"], "$or": [{"detail.a": [{"wildcard": "*a*a*a*"}]},
                                             {"detail.b": [{"wildcard": "*b*b*b*"}]}]}"#,
            ),
            // Rules EventBridge was seen to accept (9, 8) and refuse (12, 16).
            (
                9,
                r#"{"stack-id": [{"wildcard": "*:stack/SharedStack/*"},
                                 {"wildcard": "*:stack/TrackerStack/*"},
                                 {"wildcard": "*:stack/WorkerStack/*"}]}"#,
            ),
            (
                12,
                r#"{"stack-id": [{"wildcard": "*:stack/SharedStack/*"},
                                 {"wildcard": "*:stack/TrackerStack/*"},
                                 {"wildcard": "*:stack/WorkerStack/*"},
                                 {"wildcard": "*:stack/MonitoringStack/*"}]}"#,
            ),
            (
                8,
                r#"{"key": [{"wildcard": "*/datasync/*.bif"}, {"wildcard": "*/datasync/*.tif"}]}"#,
            ),
            (
                16,
                r#"{"key": [{"wildcard": "*/datasync/*.bif"}, {"wildcard": "*/datasync/*.tif"},
                            {"wildcard": "*/datasync/*.tiff"}, {"wildcard": "*/datasync/*.svs"}]}"#,
            ),
        ];
        for (expected, text) in cases {
            assert_eq!(rule(text), *expected, "{text}");
        }
    }

    #[test]
    fn the_limit_is_ten() {
        let accepted = r#"{"detail": {"key": [{"wildcard": "a*bbbbbbbbb"}]}}"#;
        let refused = r#"{"detail": {"key": [{"wildcard": "a*bbbbbbbbbb"}]}}"#;
        assert!(crate::parse::parse(accepted).is_ok());
        let err = crate::parse::parse(refused).expect_err("complexity 11 is refused");
        assert_eq!(err.message(), TOO_COMPLEX);
        assert_eq!(err.path(), "detail.key");
    }

    #[test]
    fn evaluation_is_bounded() {
        // Thousands of characters after a leading `*`, and hundreds of values: quick either way.
        let long = format!(r#"{{"a": [{{"wildcard": "*{}*"}}]}}"#, "ab".repeat(1000));
        assert!(crate::parse::parse(&long).is_err());
        let values: Vec<String> = (0..300)
            .map(|i| format!(r#"{{"wildcard": "prefix-{i}-*"}}"#))
            .collect();
        let many = format!(r#"{{"a": [{}]}}"#, values.join(","));
        assert!(crate::parse::parse(&many).is_err());
        // Each wildcard value of a field counts at the opening quote they all share.
        let ten: Vec<String> = (0..10)
            .map(|i| format!(r#"{{"wildcard": "{i}/*"}}"#))
            .collect();
        assert_eq!(rule(&format!(r#"{{"a": [{}]}}"#, ten.join(","))), 10);
        let eleven: Vec<String> = (0..11)
            .map(|i| format!(r#"{{"wildcard": "{i}/*"}}"#))
            .collect();
        assert_eq!(rule(&format!(r#"{{"a": [{}]}}"#, eleven.join(","))), 11);
        // A long value without repeats after its `*` is fine.
        let mut seed = 7u32;
        let text: String = (0..3000)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                char::from(b'a' + (seed >> 16) as u8 % 26)
            })
            .collect();
        let long = format!(r#"{{"a": [{{"wildcard": "x*{text}"}}]}}"#);
        assert!(crate::parse::parse(&long).is_ok());
    }
}
