//! EventBridge's wildcard complexity limit, through the public API.
//!
//! `tests/corpus/wildcard_complexity.jsonl` uses the shared EventBridge corpus formats in one
//! file: a line with `event` and `match` is a valid case (as in `cases.jsonl`), any other line
//! is a pattern that must be refused (as in `invalid.jsonl`). Lines marked `disputed` are
//! reported, not enforced.

use eventual_pattern::{EventPattern, PatternSet};
use serde_json::Value;

const TOO_COMPLEX: &str = "Rule is too complex - try using fewer wildcard characters or fewer \
                           repeating character sequences after a wildcard character";

fn corpus() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/corpus/wildcard_complexity.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("corpus file");
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("corpus line is JSON"))
        .collect()
}

/// Why a corpus line fails, or `None` when it holds.
fn check(entry: &Value) -> Option<String> {
    let pattern = entry["pattern"].to_string();
    let parsed = EventPattern::parse(&pattern);
    let Some(expected) = entry.get("match") else {
        return match parsed {
            Ok(_) => Some("accepted".to_owned()),
            Err(e) if !e.to_string().contains(TOO_COMPLEX) => Some(format!("refused for {e}")),
            Err(_) => None,
        };
    };
    let pattern = match parsed {
        Ok(pattern) => pattern,
        Err(e) => return Some(format!("refused: {e}")),
    };
    let event = &entry["event"];
    let single = pattern.matches(event);
    let mut set = PatternSet::new();
    set.insert(1, &pattern);
    let from_set = set.matches(event) == vec![1];
    (Some(single) != expected.as_bool() || from_set != single)
        .then(|| format!("expected {expected}, matches {single}, set {from_set}"))
}

#[test]
fn wildcard_complexity_corpus() {
    let entries = corpus();
    let (mut valid, mut invalid, mut failures) = (0, 0, Vec::new());
    for entry in &entries {
        let id = entry["id"].as_str().expect("id");
        let disputed = entry["disputed"].as_bool().unwrap_or(false);
        let outcome = check(entry);
        if disputed {
            println!("disputed {id}: {}", outcome.as_deref().unwrap_or("agrees"));
            continue;
        }
        if entry.get("match").is_some() {
            valid += 1;
        } else {
            invalid += 1;
        }
        if let Some(why) = outcome {
            failures.push(format!("{id}: {why}"));
        }
    }
    println!("wildcard complexity corpus: {valid} valid, {invalid} refused");
    assert!(valid > 0 && invalid > 0, "empty corpus");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn the_error_names_the_field() {
    let err = EventPattern::parse(
        r#"{"source": ["shop"], "detail": {"file": [{"wildcard": "a*bbbbbbbbbb"}]}}"#,
    )
    .expect_err("complexity 11");
    assert_eq!(err.message(), TOO_COMPLEX);
    assert_eq!(err.path(), "detail.file");
    assert_eq!(
        err.to_string(),
        format!("Event pattern is not valid. Reason: {TOO_COMPLEX} (at field `detail.file`)")
    );
}

#[test]
fn consecutive_wildcards_are_refused_before_complexity() {
    let err =
        EventPattern::parse(r#"{"a": [{"wildcard": "arn:aws:events:us-east-1:**:event-bus/*"}]}"#)
            .expect_err("consecutive wildcards");
    assert_eq!(err.message(), "Consecutive wildcard characters at pos 26");
}

#[test]
fn patterns_without_wildcards_are_not_limited() {
    let values: Vec<String> = (0..200)
        .map(|i| format!(r#"{{"prefix": "p{i}"}}"#))
        .collect();
    let pattern = format!(r#"{{"a": [{}]}}"#, values.join(","));
    assert!(EventPattern::parse(&pattern).is_ok());
}
