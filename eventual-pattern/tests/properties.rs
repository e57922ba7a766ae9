//! Property tests: the parser and matcher never panic, and `PatternSet` agrees with
//! matching each rule alone.

use eventual_pattern::{EventPattern, PatternSet};
use proptest::prelude::*;
use serde_json::{json, Value};

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-z*\\\\.:/0-9 ]{0,8}".prop_map(Value::String),
        prop_oneof![
            Just("prefix"),
            Just("suffix"),
            Just("anything-but"),
            Just("numeric"),
            Just("exists"),
            Just("cidr"),
            Just("wildcard"),
            Just("equals-ignore-case"),
            Just("$or"),
            Just(">"),
            Just("<="),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        "[a-c]{1,2}".boxed(),
                        Just("prefix".to_owned()).boxed(),
                        Just("numeric".to_owned()).boxed(),
                        Just("anything-but".to_owned()).boxed(),
                        Just("exists".to_owned()).boxed(),
                        Just("$or".to_owned()).boxed(),
                        Just("wildcard".to_owned()).boxed(),
                    ],
                    inner
                ),
                0..4
            )
            .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

const FIELDS: [&str; 4] = ["a", "b", "c.d", "c.e"];
const STRINGS: [&str; 4] = ["x", "xy", "Xz", "10.0.0.7"];

fn condition() -> impl Strategy<Value = Value> {
    let string = prop::sample::select(STRINGS.to_vec()).prop_map(|s| json!(s));
    let number = (0i64..4).prop_map(|n| json!(n));
    prop_oneof![
        string.clone(),
        number.clone(),
        Just(json!(null)),
        Just(json!(true)),
        prop::sample::select(STRINGS.to_vec()).prop_map(|s| json!({"prefix": &s[..1]})),
        prop::sample::select(STRINGS.to_vec()).prop_map(|s| json!({"suffix": &s[s.len() - 1..]})),
        prop::sample::select(STRINGS.to_vec()).prop_map(|s| json!({"equals-ignore-case": s})),
        prop::sample::select(STRINGS.to_vec()).prop_map(|s| json!({"anything-but": s})),
        number.prop_map(|n| json!({"anything-but": [n]})),
        (0i64..4).prop_map(|n| json!({"numeric": [">=", n]})),
        (0i64..3).prop_map(|n| json!({"numeric": [">", n, "<=", n + 1]})),
        any::<bool>().prop_map(|b| json!({"exists": b})),
        Just(json!({"wildcard": "x*"})),
        Just(json!({"cidr": "10.0.0.0/24"})),
        Just(json!({"anything-but": {"prefix": "x"}})),
    ]
}

fn insert_path(target: &mut serde_json::Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        Some((head, tail)) => {
            let child = target.entry(head.to_owned()).or_insert_with(|| json!({}));
            if let Value::Object(map) = child {
                insert_path(map, tail, value);
            }
        }
        None => {
            target.insert(path.to_owned(), value);
        }
    }
}

fn conjunction() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(
        prop::sample::select(FIELDS.to_vec()),
        prop::collection::vec(condition(), 1..3),
        1..3,
    )
    .prop_map(|fields| {
        let mut map = serde_json::Map::new();
        for (path, values) in fields {
            insert_path(&mut map, path, Value::Array(values));
        }
        Value::Object(map)
    })
}

fn rule() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => conjunction().prop_map(|v| v.to_string()),
        1 => (conjunction(), conjunction()).prop_map(|(a, b)| json!({"$or": [a, b]}).to_string()),
    ]
}

/// Values a `PatternSet` files in its exact-value trie, with numbers in two spellings that
/// must meet (`2` and `2.0`).
fn exact_condition() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(STRINGS.to_vec()).prop_map(|s| json!(s)),
        (0i64..4).prop_map(|n| json!(n)),
        (0i64..4).prop_map(|n| json!(n as f64)),
        Just(json!(null)),
        any::<bool>().prop_map(|b| json!(b)),
    ]
}

/// Conjunctions made mostly of exact values over several fields, some multi-valued, some
/// with another operator mixed in, so that many rules share and branch trie prefixes.
fn exact_conjunction() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(
        prop::sample::select(FIELDS.to_vec()),
        prop::collection::vec(prop_oneof![6 => exact_condition(), 1 => condition()], 1..4),
        1..5,
    )
    .prop_map(|fields| {
        let mut map = serde_json::Map::new();
        for (path, values) in fields {
            insert_path(&mut map, path, Value::Array(values));
        }
        Value::Object(map)
    })
}

fn exact_rule() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => exact_conjunction().prop_map(|v| v.to_string()),
        1 => prop::collection::vec(exact_conjunction(), 2..4)
            .prop_map(|alternatives| json!({"$or": alternatives}).to_string()),
    ]
}

/// Conjunctions where exact values and other operators are about equally likely, over few
/// fields, so that many rules share trie nodes and differ in the operators tested there
/// (and some operators repeat, so that rules share test edges too).
fn operator_conjunction() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(
        prop::sample::select(FIELDS.to_vec()),
        prop::collection::vec(prop_oneof![exact_condition(), condition()], 1..3),
        1..4,
    )
    .prop_map(|fields| {
        let mut map = serde_json::Map::new();
        for (path, values) in fields {
            insert_path(&mut map, path, Value::Array(values));
        }
        Value::Object(map)
    })
}

fn operator_rule() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => operator_conjunction().prop_map(|v| v.to_string()),
        1 => prop::collection::vec(operator_conjunction(), 2..4)
            .prop_map(|alternatives| json!({"$or": alternatives}).to_string()),
    ]
}

fn event_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(STRINGS.to_vec()).prop_map(|s| json!(s)),
        (0i64..4).prop_map(|n| json!(n)),
        (0i64..4).prop_map(|n| json!(n as f64 + 0.5)),
        Just(json!(null)),
        any::<bool>().prop_map(|b| json!(b)),
    ]
}

fn event() -> impl Strategy<Value = Value> {
    let field = prop_oneof![
        3 => event_value(),
        1 => prop::collection::vec(event_value(), 0..3).prop_map(Value::Array),
    ];
    (
        prop::collection::btree_map(prop::sample::select(vec!["a", "b"]), field.clone(), 0..3),
        prop::collection::vec(
            prop::collection::btree_map(prop::sample::select(vec!["d", "e"]), field, 0..3),
            0..3,
        ),
        0..3u8,
    )
        .prop_map(|(top, elements, shape)| {
            let mut map: serde_json::Map<String, Value> =
                top.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            let objects: Vec<Value> = elements
                .into_iter()
                .map(|e| Value::Object(e.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
                .collect();
            // `c` as an array of objects exercises array consistency; as one object, plain nesting.
            match shape {
                0 => {}
                1 => {
                    map.insert("c".to_owned(), Value::Array(objects));
                }
                _ => {
                    if let Some(first) = objects.into_iter().next() {
                        map.insert("c".to_owned(), first);
                    }
                }
            }
            Value::Object(map)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn parser_never_panics_on_text(text in "\\PC{0,64}") {
        let _ = EventPattern::parse(&text);
    }

    #[test]
    fn parser_never_panics_on_json_like_text(text in "[\\[\\]{}\",:a-z0-9.eE+\\-\\\\ ]{0,48}") {
        let _ = EventPattern::parse(&text);
    }

    #[test]
    fn parser_never_panics_on_json_values(value in arbitrary_json()) {
        if let Ok(pattern) = EventPattern::parse(&value.to_string()) {
            // A valid pattern round-trips through `to_json`.
            let again = EventPattern::parse(&pattern.to_json().to_string());
            prop_assert!(again.is_ok());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn matcher_never_panics(pattern in rule(), event in arbitrary_json()) {
        if let Ok(pattern) = EventPattern::parse(&pattern) {
            let _ = pattern.matches(&event);
        }
    }

    #[test]
    fn pattern_set_agrees_with_each_rule(rules in prop::collection::vec(rule(), 1..12), events in prop::collection::vec(event(), 1..6)) {
        let patterns: Vec<EventPattern> = rules.iter().filter_map(|r| EventPattern::parse(r).ok()).collect();
        let mut set = PatternSet::new();
        for (id, pattern) in patterns.iter().enumerate() {
            set.insert(id, pattern);
        }
        for event in &events {
            let expected: Vec<usize> = (0..patterns.len()).filter(|&id| patterns[id].matches(event)).collect();
            prop_assert_eq!(set.matches(event), expected);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn pattern_set_agrees_on_exact_value_rules(rules in prop::collection::vec(exact_rule(), 1..40), events in prop::collection::vec(event(), 1..8)) {
        let patterns: Vec<EventPattern> = rules.iter().filter_map(|r| EventPattern::parse(r).ok()).collect();
        let mut set = PatternSet::new();
        for (id, pattern) in patterns.iter().enumerate() {
            set.insert(id, pattern);
        }
        for event in &events {
            let expected: Vec<usize> = (0..patterns.len()).filter(|&id| patterns[id].matches(event)).collect();
            prop_assert_eq!(set.matches(event), expected);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn pattern_set_agrees_on_operator_rules(rules in prop::collection::vec(operator_rule(), 1..40), events in prop::collection::vec(event(), 1..8)) {
        let patterns: Vec<EventPattern> = rules.iter().filter_map(|r| EventPattern::parse(r).ok()).collect();
        let mut set = PatternSet::new();
        for (id, pattern) in patterns.iter().enumerate() {
            set.insert(id, pattern);
        }
        for event in &events {
            let expected: Vec<usize> = (0..patterns.len()).filter(|&id| patterns[id].matches(event)).collect();
            prop_assert_eq!(set.matches(event), expected);
        }
    }
}
