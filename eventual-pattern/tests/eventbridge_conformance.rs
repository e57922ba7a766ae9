//! Runs the EventBridge conformance corpus against the pattern engine.
//!
//! The corpus lives in `tests/conformance/eventbridge/` (its README describes the format and
//! where each case comes from), so a clone tests it wherever it is checked out. It started as
//! a copy of the shared corpus beside the repository (`../shared/conformance/eventbridge`);
//! when that directory is present, the copies must be identical, so drift shows.
//!
//! Pattern text is handed to the parser exactly as written in the corpus (number text such
//! as `3e2` matters), so lines are read with `RawValue` rather than re-serialised.

use std::path::{Path, PathBuf};

use eventual_pattern::{EventPattern, PatternSet};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

#[derive(Deserialize)]
struct Case<'a> {
    id: String,
    #[serde(borrow)]
    pattern: &'a RawValue,
    pattern_text: Option<String>,
    event: Value,
    #[serde(rename = "match")]
    expected: bool,
    #[serde(default)]
    disputed: bool,
}

#[derive(Deserialize)]
struct Invalid<'a> {
    id: String,
    #[serde(borrow)]
    pattern: &'a RawValue,
    #[serde(default)]
    raw: bool,
    #[serde(default)]
    disputed: bool,
}

/// The files of the corpus.
const CORPUS_FILES: [&str; 3] = ["README.md", "cases.jsonl", "invalid.jsonl"];

fn in_repo_corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/eventbridge")
}

/// The shared corpus the in-repository copy came from, beside the repository's checkout,
/// when there is one.
fn shared_corpus() -> Option<PathBuf> {
    let beside_checkout = Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2)?;
    let dir = beside_checkout.join("shared/conformance/eventbridge");
    dir.is_dir().then_some(dir)
}

fn corpus(name: &str) -> String {
    let path = in_repo_corpus().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("conformance corpus {} is required: {e}", path.display()))
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|line| !line.trim().is_empty())
}

/// Tallies of one file: (passed, total) for undisputed entries, and disputed outcomes.
#[derive(Default)]
struct Tally {
    passed: usize,
    total: usize,
    disputed: Vec<(String, bool)>,
    failures: Vec<String>,
}

impl Tally {
    fn record(&mut self, id: &str, disputed: bool, ok: bool, detail: impl FnOnce() -> String) {
        if disputed {
            self.disputed.push((id.to_owned(), ok));
        } else {
            self.total += 1;
            if ok {
                self.passed += 1;
            } else {
                self.failures.push(format!("{id}: {}", detail()));
            }
        }
    }
}

fn run_cases() -> Tally {
    let text = corpus("cases.jsonl");
    let mut tally = Tally::default();
    for line in lines(&text) {
        let case: Case<'_> = serde_json::from_str(line).expect("cases.jsonl line is valid JSON");
        let pattern_text = case.pattern_text.as_deref().unwrap_or(case.pattern.get());
        let (ok, detail) = match EventPattern::parse(pattern_text) {
            Ok(pattern) => {
                let single = pattern.matches(&case.event);
                let mut set = PatternSet::new();
                set.insert(1, &pattern);
                let from_set = set.matches(&case.event) == vec![1];
                (
                    single == case.expected && from_set == single,
                    format!(
                        "expected {}, matches {single}, set {from_set}",
                        case.expected
                    ),
                )
            }
            Err(e) => (false, format!("rejected: {e}")),
        };
        tally.record(&case.id, case.disputed, ok, || detail);
    }
    tally
}

fn run_invalid() -> Tally {
    let text = corpus("invalid.jsonl");
    let mut tally = Tally::default();
    for line in lines(&text) {
        let case: Invalid<'_> =
            serde_json::from_str(line).expect("invalid.jsonl line is valid JSON");
        let pattern_text = if case.raw {
            serde_json::from_str::<String>(case.pattern.get())
                .expect("raw pattern is a JSON string")
        } else {
            case.pattern.get().to_owned()
        };
        let outcome = EventPattern::parse(&pattern_text);
        tally.record(&case.id, case.disputed, outcome.is_err(), || {
            format!("accepted {pattern_text}")
        });
    }
    tally
}

#[test]
fn eventbridge_conformance() {
    let cases = run_cases();
    let invalid = run_invalid();
    let disputed: Vec<&(String, bool)> = cases.disputed.iter().chain(&invalid.disputed).collect();
    for (id, agrees) in &disputed {
        println!(
            "disputed {id}: {}",
            if *agrees {
                "agrees with corpus"
            } else {
                "differs from corpus"
            }
        );
    }
    for failure in cases.failures.iter().chain(&invalid.failures) {
        println!("FAIL {failure}");
    }
    println!(
        "conformance: cases {}/{} passed, invalid {}/{} rejected, disputed {} ({} agree)",
        cases.passed,
        cases.total,
        invalid.passed,
        invalid.total,
        disputed.len(),
        disputed.iter().filter(|(_, agrees)| *agrees).count()
    );
    assert!(cases.total > 0 && invalid.total > 0, "empty corpus");
    assert!(
        cases.failures.is_empty() && invalid.failures.is_empty(),
        "{} conformance failures",
        cases.failures.len() + invalid.failures.len()
    );
}

/// All valid patterns of the corpus in one set must agree with matching each alone.
#[test]
fn pattern_set_agrees_with_single_matching_on_the_corpus() {
    let text = corpus("cases.jsonl");
    let mut patterns = Vec::new();
    let mut events = Vec::new();
    for line in lines(&text) {
        let case: Case<'_> = serde_json::from_str(line).expect("cases.jsonl line is valid JSON");
        let pattern_text = case.pattern_text.as_deref().unwrap_or(case.pattern.get());
        if let Ok(pattern) = EventPattern::parse(pattern_text) {
            patterns.push(pattern);
        }
        events.push(case.event);
    }
    let mut set = PatternSet::new();
    for (id, pattern) in patterns.iter().enumerate() {
        set.insert(id, pattern);
    }
    for event in &events {
        let expected: Vec<usize> = (0..patterns.len())
            .filter(|&id| patterns[id].matches(event))
            .collect();
        assert_eq!(set.matches(event), expected, "event {event}");
    }
}

/// The in-repository corpus is the shared one, byte for byte, when the shared one is there;
/// without it (a clone elsewhere) there is nothing to compare.
#[test]
fn in_repo_corpus_equals_the_shared_corpus_when_present() {
    let Some(shared) = shared_corpus() else {
        println!("no shared corpus beside the checkout: nothing to compare");
        return;
    };
    let drifted: Vec<&str> = CORPUS_FILES
        .into_iter()
        .filter(|name| std::fs::read(shared.join(name)).ok() != Some(corpus(name).into_bytes()))
        .collect();
    assert!(
        drifted.is_empty(),
        "{drifted:?} in {} differ from {}: copy the newer corpus over the older one",
        in_repo_corpus().display(),
        shared.display()
    );
}
