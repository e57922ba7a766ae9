//! `numeric` at its boundaries: for every operator, the bound itself (also written another
//! way, `300` and `3.0e2`), the nearest doubles just below and just above it, negative bounds,
//! zero and the smallest and largest doubles a pattern may name. A matcher that confuses `<`
//! with `<=` or `>` with `>=` fails here.

mod support;

use serde_json::{json, Value};
use support::{matches, rejected};

/// The operand of a `numeric` condition and event values (as JSON text) it must and must
/// not match.
struct Boundary {
    numeric: &'static str,
    inside: &'static [&'static str],
    outside: &'static [&'static str],
}

/// Neighbouring doubles, written in their shortest round-trip form: 299.99999999999994 <
/// 300 < 300.00000000000006, and the same around 10, -10 and -0.5. 5e-324 is the smallest
/// positive double and 1.7976931348623157e308 the largest; 1.7976931348623155e308 is the
/// largest below it.
const BOUNDARIES: &[Boundary] = &[
    Boundary {
        numeric: r#"["<", 300]"#,
        inside: &["299.99999999999994", "0", "-300"],
        outside: &["300", "300.0", "3e2", "3.0e2", "300.00000000000006"],
    },
    Boundary {
        numeric: r#"["<=", 300]"#,
        inside: &["299.99999999999994", "300", "3.0e2", "30000e-2"],
        outside: &["300.00000000000006", "301"],
    },
    Boundary {
        numeric: r#"["=", 300]"#,
        inside: &["300", "300.0", "3e2", "3.0E2"],
        outside: &["299.99999999999994", "300.00000000000006", "-300"],
    },
    Boundary {
        numeric: r#"[">", 300]"#,
        inside: &["300.00000000000006", "1e3"],
        outside: &["300", "3.0e2", "299.99999999999994", "-301"],
    },
    Boundary {
        numeric: r#"[">=", 300]"#,
        inside: &["300", "3.0e2", "300.00000000000006"],
        outside: &["299.99999999999994", "-300"],
    },
    // The bound written another way than the event's number.
    Boundary {
        numeric: r#"["<", 3.0e2]"#,
        inside: &["299.99999999999994"],
        outside: &["300"],
    },
    Boundary {
        numeric: r#"[">=", 3.0e2]"#,
        inside: &["300"],
        outside: &["299.99999999999994"],
    },
    // Ranges with two bounds, each end open or closed.
    Boundary {
        numeric: r#"[">", -10, "<", 10]"#,
        inside: &["-9.999999999999998", "0", "-0", "9.999999999999998"],
        outside: &[
            "-10",
            "-1e1",
            "10",
            "1e1",
            "-10.000000000000002",
            "10.000000000000002",
        ],
    },
    Boundary {
        numeric: r#"[">=", -10, "<=", 10]"#,
        inside: &["-10", "-1e1", "10", "10.0"],
        outside: &["-10.000000000000002", "10.000000000000002"],
    },
    Boundary {
        numeric: r#"[">", -10, "<=", 10]"#,
        inside: &["-9.999999999999998", "10"],
        outside: &["-10", "10.000000000000002"],
    },
    Boundary {
        numeric: r#"[">=", -10, "<", 10]"#,
        inside: &["-10", "9.999999999999998"],
        outside: &["-10.000000000000002", "10"],
    },
    // The narrowest range there is: no double lies strictly between two neighbours.
    Boundary {
        numeric: r#"[">", 10, "<", 10.000000000000002]"#,
        inside: &[],
        outside: &["10", "10.000000000000002"],
    },
    // Negative bounds.
    Boundary {
        numeric: r#"["<", -0.5]"#,
        inside: &["-0.5000000000000001", "-1"],
        outside: &["-0.5", "-5e-1", "-0.49999999999999994", "0"],
    },
    Boundary {
        numeric: r#"[">", -0.5]"#,
        inside: &["-0.49999999999999994", "0"],
        outside: &["-0.5", "-0.5000000000000001"],
    },
    // Zero, whatever its sign, and the smallest doubles either side of it.
    Boundary {
        numeric: r#"["=", 0]"#,
        inside: &["0", "-0", "0.0", "0e5"],
        outside: &["5e-324", "-5e-324"],
    },
    Boundary {
        numeric: r#"[">", 0]"#,
        inside: &["5e-324"],
        outside: &["0", "-0", "-5e-324"],
    },
    Boundary {
        numeric: r#"["<", -0]"#,
        inside: &["-5e-324"],
        outside: &["0", "-0.0", "5e-324"],
    },
    Boundary {
        numeric: r#"["=", 5e-324]"#,
        inside: &["5e-324"],
        outside: &["0", "1e-323"],
    },
    // The largest and smallest doubles as bounds.
    Boundary {
        numeric: r#"["<", 1.7976931348623157e308]"#,
        inside: &["1.7976931348623155e308", "-1.7976931348623157e308"],
        outside: &["1.7976931348623157e308"],
    },
    Boundary {
        numeric: r#"["<=", 1.7976931348623157e308]"#,
        inside: &["1.7976931348623157e308"],
        outside: &[],
    },
    Boundary {
        numeric: r#"[">", -1.7976931348623157e308]"#,
        inside: &["-1.7976931348623155e308", "1.7976931348623157e308"],
        outside: &["-1.7976931348623157e308"],
    },
    Boundary {
        numeric: r#"[">=", -1.7976931348623157e308]"#,
        inside: &["-1.7976931348623157e308"],
        outside: &[],
    },
    // Every number, and nothing that is not a comparable number: a string, null, a boolean,
    // an integer with more digits than a double holds.
    Boundary {
        numeric: r#"[">=", -1.7976931348623157e308, "<=", 1.7976931348623157e308]"#,
        inside: &["-1.7976931348623157e308", "0", "1.7976931348623157e308"],
        outside: &[r#""300""#, "null", "true", "12345678901234567891"],
    },
];

/// The event `{"a": <value_text>}`, a float holding exactly the double its text denotes.
///
/// serde_json's default float parsing may miss by one unit in the last place on long texts
/// (it reads 1.7976931348623155e308 as the largest double), so float texts are read with
/// Rust's exact parser; an integer stays an integer, as serde_json reads it.
fn event(value_text: &str) -> Value {
    let mut value: Value =
        serde_json::from_str(value_text).unwrap_or_else(|e| panic!("{value_text}: {e}"));
    if value.as_number().is_some_and(|n| n.is_f64()) {
        let exact: f64 = value_text.parse().expect("a float");
        value = json!(exact);
    }
    json!({ "a": value })
}

#[test]
fn numeric_operators_at_their_boundaries() {
    let mut wrong = Vec::new();
    for boundary in BOUNDARIES {
        let pattern = format!(r#"{{"a": [{{"numeric": {}}}]}}"#, boundary.numeric);
        let expectations = boundary
            .inside
            .iter()
            .map(|number| (number, true))
            .chain(boundary.outside.iter().map(|number| (number, false)));
        for (number, expected) in expectations {
            if matches(&pattern, event(number)) != expected {
                let verdict = if expected {
                    "should match"
                } else {
                    "should not match"
                };
                wrong.push(format!("{}: {number} {verdict}", boundary.numeric));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "numeric boundaries:\n  {}",
        wrong.join("\n  ")
    );
}

/// What a pattern may not name: a bound beyond the largest double (it would round to
/// infinity), one below the smallest (it would round to zero), a range whose bounds are
/// equal however they are written.
#[test]
fn bounds_beyond_doubles_and_empty_ranges_are_refused() {
    for (numeric, reason) in [
        (r#"["<", 1.7976931348623159e308]"#, "Cannot compare number"),
        (r#"[">", -1.7976931348623159e308]"#, "Cannot compare number"),
        (r#"["=", 1e-324]"#, "Cannot compare number"),
        (r#"[">", 10, "<", 10]"#, "Bottom must be less than top"),
        (r#"[">=", 10, "<=", 1e1]"#, "Bottom must be less than top"),
        (
            r#"[">=", 3e2, "<=", 300.0]"#,
            "Bottom must be less than top",
        ),
        (
            r#"[">", 10.000000000000002, "<", 10]"#,
            "Bottom must be less than top",
        ),
    ] {
        let error = rejected(&format!(r#"{{"a": [{{"numeric": {numeric}}}]}}"#));
        assert!(error.contains(reason), "{numeric}: {error}");
    }
}
