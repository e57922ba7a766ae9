//! One test per operator, through the public API.

mod support;

use eventual_pattern::EventPattern;
use serde_json::{json, Value};
use support::{matches, rejected};

#[test]
fn exact_values_are_typed() {
    assert!(matches(r#"{"a": ["x"]}"#, json!({"a": "x"})));
    assert!(!matches(r#"{"a": ["5"]}"#, json!({"a": 5})));
    assert!(matches(r#"{"a": [5]}"#, json!({"a": 5.0})));
    assert!(matches(r#"{"a": [3e2]}"#, json!({"a": 300})));
    assert!(matches(r#"{"a": [null]}"#, json!({"a": null})));
    assert!(!matches(r#"{"a": [null]}"#, json!({})));
    assert!(matches(r#"{"a": [true]}"#, json!({"a": true})));
    assert!(matches(r#"{"a": [""]}"#, json!({"a": ""})));
    assert!(matches(r#"{"a": [{"exactly": "x"}]}"#, json!({"a": "x"})));
}

#[test]
fn prefix_and_suffix() {
    assert!(matches(r#"{"a": [{"prefix": "ab"}]}"#, json!({"a": "abc"})));
    assert!(!matches(r#"{"a": [{"prefix": "1"}]}"#, json!({"a": 10})));
    assert!(matches(
        r#"{"a": [{"suffix": ".png"}]}"#,
        json!({"a": "x.png"})
    ));
    assert!(matches(
        r#"{"a": [{"prefix": {"equals-ignore-case": "AB"}}]}"#,
        json!({"a": "abc"})
    ));
    assert!(matches(
        r#"{"a": [{"suffix": {"equals-ignore-case": "PNG"}}]}"#,
        json!({"a": "x.png"})
    ));
}

#[test]
fn equals_ignore_case() {
    assert!(matches(
        r#"{"a": [{"equals-ignore-case": "HeLLo"}]}"#,
        json!({"a": "hello"})
    ));
    assert!(!matches(
        r#"{"a": [{"equals-ignore-case": "hello"}]}"#,
        json!({"a": "hello!"})
    ));
}

#[test]
fn anything_but() {
    assert!(matches(
        r#"{"a": [{"anything-but": "x"}]}"#,
        json!({"a": "y"})
    ));
    assert!(!matches(
        r#"{"a": [{"anything-but": "x"}]}"#,
        json!({"a": "x"})
    ));
    assert!(!matches(r#"{"a": [{"anything-but": "x"}]}"#, json!({})));
    assert!(matches(
        r#"{"a": [{"anything-but": "x"}]}"#,
        json!({"a": 1})
    ));
    assert!(!matches(
        r#"{"a": [{"anything-but": [1, 2]}]}"#,
        json!({"a": 2.0})
    ));
    assert!(!matches(
        r#"{"a": [{"anything-but": {"prefix": "in"}}]}"#,
        json!({"a": "init"})
    ));
    assert!(matches(
        r#"{"a": [{"anything-but": {"suffix": ".txt"}}]}"#,
        json!({"a": "a.png"})
    ));
    assert!(!matches(
        r#"{"a": [{"anything-but": {"wildcard": "a*"}}]}"#,
        json!({"a": "abc"})
    ));
    assert!(!matches(
        r#"{"a": [{"anything-but": {"equals-ignore-case": ["X", "y"]}}]}"#,
        json!({"a": "Y"})
    ));
}

#[test]
fn numeric() {
    let range = r#"{"a": [{"numeric": [">", 0, "<=", 5]}]}"#;
    assert!(matches(range, json!({"a": 5})));
    assert!(!matches(range, json!({"a": 0})));
    assert!(!matches(range, json!({"a": "3"})));
    assert!(matches(
        r#"{"a": [{"numeric": ["=", 3e2]}]}"#,
        json!({"a": 300.0})
    ));
    assert!(rejected(r#"{"a": [{"numeric": [">", 5, "<", 1]}]}"#)
        .contains("Bottom must be less than top"));
}

#[test]
fn exists() {
    assert!(matches(r#"{"a": [{"exists": true}]}"#, json!({"a": null})));
    assert!(!matches(
        r#"{"a": [{"exists": true}]}"#,
        json!({"a": {"b": 1}})
    ));
    assert!(matches(r#"{"a": [{"exists": false}]}"#, json!({"b": 1})));
    assert!(matches(r#"{"a": [{"exists": false}]}"#, json!({"a": []})));
}

#[test]
fn cidr() {
    assert!(matches(
        r#"{"ip": [{"cidr": "10.0.0.0/24"}]}"#,
        json!({"ip": "10.0.0.9"})
    ));
    assert!(!matches(
        r#"{"ip": [{"cidr": "10.0.0.0/24"}]}"#,
        json!({"ip": "10.0.1.9"})
    ));
    assert!(matches(
        r#"{"ip": [{"cidr": "2001:db8::/32"}]}"#,
        json!({"ip": "2001:db8::1"})
    ));
    assert!(rejected(r#"{"ip": [{"cidr": "bad/8"}]}"#).contains("Nonstandard IP address"));
}

#[test]
fn wildcard() {
    assert!(matches(
        r#"{"a": [{"wildcard": "arn:*:bus/*"}]}"#,
        json!({"a": "arn:x:bus/y"})
    ));
    assert!(matches(
        r#"{"a": [{"wildcard": "a\\*b"}]}"#,
        json!({"a": "a*b"})
    ));
    assert!(rejected(r#"{"a": [{"wildcard": "a**"}]}"#).contains("Consecutive wildcard"));
}

#[test]
fn or_and_arrays() {
    let either = r#"{"$or": [{"a": ["x"]}, {"b": [{"numeric": [">", 1]}]}]}"#;
    assert!(matches(either, json!({"b": 2})));
    assert!(!matches(either, json!({"a": "y", "b": 1})));
    assert!(matches(r#"{"a": ["x"]}"#, json!({"a": ["y", "x"]})));
    let consistent = r#"{"items": {"sku": ["A"], "qty": [2]}}"#;
    assert!(!matches(
        consistent,
        json!({"items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]})
    ));
    assert!(matches(
        consistent,
        json!({"items": [{"sku": "B", "qty": 1}, {"sku": "A", "qty": 2}]})
    ));
}

#[test]
fn errors_name_the_field() {
    let e = EventPattern::parse(r#"{"detail": {"amount": [{"numeric": ["<"]}]}}"#).unwrap_err();
    assert_eq!(e.path(), "detail.amount");
    assert!(e
        .to_string()
        .starts_with("Event pattern is not valid. Reason: Value of < must be numeric"));
    assert!(e.reason().contains("detail.amount"));
    assert!(rejected("[]").contains("Filter is not an object"));
    assert!(rejected(r#"{"a": []}"#).contains("Empty arrays are not allowed"));
}

#[test]
fn to_json_sorts_keys() {
    let pattern = EventPattern::parse(r#"{"source": ["s"], "detail": {"b": [1], "a": [true]}}"#)
        .expect("valid");
    assert_eq!(
        pattern.to_json().to_string(),
        r#"{"detail":{"a":[true],"b":[1]},"source":["s"]}"#
    );
    assert_eq!(pattern.clone(), pattern);
}

#[test]
fn dotted_event_keys_join_paths() {
    let pattern = r#"{"abc": {"d": [1]}, "x": [2]}"#;
    assert!(matches(pattern, json!({"x": 2, "abc.d": 1})));
    assert!(matches(pattern, json!({"x": 2, "abc": {"d": 1}})));
    assert!(!matches(pattern, json!({"x": 2, "ab.d": 1})));
    assert!(!matches(pattern, json!({"x": 2, "abcd": 1})));
    assert!(matches(r#"{"": {"": [1]}}"#, json!({".": 1})));
    // More fields under one key than a path node scans: found through its index.
    let wide: Vec<String> = (0..12).map(|i| format!(r#""f{i}": [{i}]"#)).collect();
    let pattern = format!(r#"{{"g": {{{}}}}}"#, wide.join(", "));
    let event: serde_json::Map<String, Value> =
        (0..12).map(|i| (format!("g.f{i}"), json!(i))).collect();
    assert!(matches(&pattern, Value::Object(event)));
    let event: serde_json::Map<String, Value> =
        (0..12).map(|i| (format!("f{i}"), json!(i))).collect();
    assert!(matches(&pattern, json!({"g": event})));
    assert!(!matches(&pattern, json!({"g": {"f0": 0}})));
}
