//! Pattern text → compiled branches, with event-ruler's validation rules and wording.

use std::collections::BTreeMap;

use crate::cidr;
use crate::error::PatternError;
use crate::ignore_case::IgnoreCase;
use crate::json::{self, Json};
use crate::model::{
    Bound, Branch, Condition, Exclusion, NumberLiteral, NumericRange, ValueMatcher,
};
use crate::number;
use crate::wildcard::Wildcard;

/// EventBridge refuses patterns whose `$or`s expand to more alternatives than this.
pub(crate) const MAX_BRANCHES: usize = 1000;

/// Operator names that cannot be field names inside `$or` (event-ruler reserves them).
const RESERVED_IN_OR: &[&str] = &[
    "exactly",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "wildcard",
    "numeric",
    "cidr",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
    "ip-address-in-range",
    "ip-address-not-in-range",
];

/// A branch under construction: path → condition; a repeated path replaces the earlier one.
type Draft = BTreeMap<String, Condition>;

/// Parses pattern text into its JSON tree and its `$or`-expanded branches.
pub(crate) fn parse(text: &str) -> Result<(Json, Vec<Branch>), PatternError> {
    let (json, branches) = compile(text)?;
    crate::complexity::check(&branches)?;
    Ok((json, branches))
}

/// [`parse`] without the wildcard complexity limit.
pub(crate) fn compile(text: &str) -> Result<(Json, Vec<Branch>), PatternError> {
    let json = json::parse(text).map_err(|e| PatternError::new(e, ""))?;
    let Json::Object(members) = &json else {
        return Err(PatternError::new("Filter is not an object", ""));
    };
    let mut drafts: Vec<Draft> = Vec::new();
    let mut path = Vec::new();
    compile_object(members, &mut path, &mut drafts, false)?;
    let branches = drafts
        .into_iter()
        .map(|draft| Branch {
            conditions: draft.into_values().collect(),
        })
        .collect();
    Ok((json, branches))
}

fn compile_object(
    members: &[(String, Json)],
    path: &mut Vec<String>,
    drafts: &mut Vec<Draft>,
    in_or: bool,
) -> Result<(), PatternError> {
    if members.is_empty() {
        return Err(PatternError::new(
            "Empty objects are not allowed",
            &path.join("."),
        ));
    }
    for (key, value) in members {
        if key == "$or" {
            compile_or(value, path, drafts)?;
            continue;
        }
        let field = dotted(path, key);
        if in_or && RESERVED_IN_OR.contains(&key.as_str()) {
            return Err(PatternError::new(
                format!("{key} is Ruler reserved fieldName which cannot be used inside $or."),
                &field,
            ));
        }
        match value {
            Json::Object(inner) => {
                path.push(key.clone());
                let result = compile_object(inner, path, drafts, in_or);
                path.pop();
                result?;
            }
            Json::Array(items) => add_condition(items, field, drafts)?,
            _ => {
                return Err(PatternError::new(
                    format!("\"{key}\" must be an object or an array"),
                    &field,
                ))
            }
        }
    }
    Ok(())
}

fn dotted(path: &[String], key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{}.{key}", path.join("."))
    }
}

fn compile_or(
    value: &Json,
    path: &mut Vec<String>,
    drafts: &mut Vec<Draft>,
) -> Result<(), PatternError> {
    let here = path.join(".");
    let Json::Array(alternatives) = value else {
        return Err(PatternError::new(
            "It must be an Array followed with $or.",
            &here,
        ));
    };
    let before = std::mem::take(drafts);
    for alternative in alternatives {
        let Json::Object(members) = alternative else {
            return Err(PatternError::new(
                "Only JSON object is allowed in array of $or relationship.",
                &here,
            ));
        };
        let mut forked = before.clone();
        if forked.is_empty() {
            forked.push(Draft::new());
        }
        compile_object(members, path, &mut forked, true)?;
        drafts.extend(forked);
        if drafts.len() > MAX_BRANCHES {
            return Err(PatternError::new(
                format!("The use of $or results in more than {MAX_BRANCHES} rule combinations"),
                &here,
            ));
        }
    }
    if alternatives.len() < 2 {
        return Err(PatternError::new(
            "There must have at least 2 Objects in $or relationship.",
            &here,
        ));
    }
    Ok(())
}

fn add_condition(
    items: &[Json],
    path: String,
    drafts: &mut Vec<Draft>,
) -> Result<(), PatternError> {
    let mut condition = Condition {
        path,
        path_id: 0,
        matchers: Vec::with_capacity(items.len()),
        absent_ok: false,
        absent_at: 0,
    };
    for item in items {
        let fail = |message: String| PatternError::new(message, &condition.path);
        match item {
            Json::Object(members) => match match_expression(members).map_err(fail)? {
                Some(matcher) => condition.matchers.push(matcher),
                None if !condition.absent_ok => {
                    condition.absent_ok = true;
                    condition.absent_at = condition.matchers.len();
                }
                None => {}
            },
            Json::String(s) => condition.matchers.push(match cidr::parse_ip(s) {
                Some(ip) => ValueMatcher::Ip(ip),
                None => ValueMatcher::String(s.clone()),
            }),
            Json::Number(text) => condition.matchers.push(ValueMatcher::Number(NumberLiteral {
                text: text.clone(),
                value: number::comparable(text),
            })),
            Json::Bool(b) => condition.matchers.push(ValueMatcher::Bool(*b)),
            Json::Null => condition.matchers.push(ValueMatcher::Null),
            Json::Array(_) => {
                return Err(fail(
                    "Match value must be String, number, true, false, or null".to_owned(),
                ))
            }
        }
    }
    if items.is_empty() {
        return Err(PatternError::new(
            "Empty arrays are not allowed",
            &condition.path,
        ));
    }
    if drafts.is_empty() {
        drafts.push(Draft::new());
    }
    for draft in drafts.iter_mut() {
        draft.insert(condition.path.clone(), condition.clone());
    }
    Ok(())
}

/// The single member of an operator object, or the error event-ruler gives.
fn single<'a>(
    members: &'a [(String, Json)],
    missing: &str,
    extra: &str,
) -> Result<(&'a str, &'a Json), String> {
    match members {
        [] => Err(missing.to_owned()),
        [(name, value)] => Ok((name, value)),
        _ => Err(extra.to_owned()),
    }
}

const ONE_KEY: &str = "Only one key allowed in match expression";
const TOO_MANY: &str = "Too many elements in numeric expression";

fn string_operand<'a>(value: &'a Json, operator: &str) -> Result<&'a str, String> {
    match value {
        Json::String(s) => Ok(s),
        _ => Err(format!("{operator} match pattern must be a string")),
    }
}

/// Compiles `{operator: operand}`; `Ok(None)` stands for `{"exists": false}`.
fn match_expression(members: &[(String, Json)]) -> Result<Option<ValueMatcher>, String> {
    let name = members.first().map(|(name, _)| name.as_str()).unwrap_or("");
    let extra = if matches!(name, "numeric" | "anything-but") {
        TOO_MANY
    } else {
        ONE_KEY
    };
    let (name, operand) = single(members, "Match expression name not found", extra)?;
    let matcher = match name {
        "exactly" => ValueMatcher::String(string_operand(operand, "exact")?.to_owned()),
        "prefix" | "suffix" => affix(name, operand)?,
        "equals-ignore-case" => {
            ValueMatcher::EqualsIgnoreCase(IgnoreCase::new(string_operand(operand, name)?))
        }
        "wildcard" => ValueMatcher::Wildcard(Wildcard::parse(string_operand(operand, name)?)?),
        "cidr" => ValueMatcher::Cidr(cidr::parse_cidr(string_operand(operand, "prefix")?)?),
        "numeric" => match operand {
            Json::Array(items) => ValueMatcher::Numeric(numeric(items)?),
            _ => return Err("Value of numeric must be an array.".to_owned()),
        },
        "exists" => match operand {
            Json::Bool(true) => ValueMatcher::Exists,
            Json::Bool(false) => return Ok(None),
            _ => return Err("exists match pattern must be either true or false.".to_owned()),
        },
        "anything-but" => ValueMatcher::AnythingBut(anything_but(operand)?),
        other => return Err(format!("Unrecognized match type {other}")),
    };
    Ok(Some(matcher))
}

/// `prefix` / `suffix`, either a string or `{"equals-ignore-case": string}`.
fn affix(name: &str, operand: &Json) -> Result<ValueMatcher, String> {
    let is_prefix = name == "prefix";
    match operand {
        Json::String(s) if is_prefix => Ok(ValueMatcher::Prefix(s.clone())),
        Json::String(s) => Ok(ValueMatcher::Suffix(s.clone())),
        Json::Object(members) => {
            let label = if is_prefix { "Prefix" } else { "Suffix" };
            let (op, value) = single(
                members,
                &format!("{label} expression name not found"),
                ONE_KEY,
            )?;
            if op != "equals-ignore-case" {
                return Err(format!("Unsupported {name} pattern: {op}"));
            }
            let folded = IgnoreCase::new(string_operand(value, op)?);
            Ok(if is_prefix {
                ValueMatcher::PrefixIgnoreCase(folded)
            } else {
                ValueMatcher::SuffixIgnoreCase(folded)
            })
        }
        _ => Err(format!("{name} match pattern must be a string")),
    }
}

fn comparable(text: &str) -> Result<f64, String> {
    number::comparable(text).ok_or_else(|| format!("Cannot compare number : {text}"))
}

fn numeric_value(item: Option<&Json>, operator: &str) -> Result<f64, String> {
    match item {
        Some(Json::Number(text)) => comparable(text),
        _ => Err(format!("Value of {operator} must be numeric")),
    }
}

fn numeric(items: &[Json]) -> Result<NumericRange, String> {
    let operator = match items.first() {
        Some(Json::String(op)) => op.as_str(),
        Some(other) => {
            return Err(format!(
                "Invalid member in numeric match: {}",
                other.describe()
            ))
        }
        None => return Err("Invalid member in numeric match: ]".to_owned()),
    };
    let bound = |inclusive| -> Result<Bound, String> {
        let label = if operator == "=" { "equals" } else { operator };
        Ok(Bound {
            value: numeric_value(items.get(1), label)?,
            inclusive,
        })
    };
    let only = |range: NumericRange| {
        if items.len() > 2 {
            Err(TOO_MANY.to_owned())
        } else {
            Ok(range)
        }
    };
    match operator {
        "=" => {
            let b = bound(true)?;
            only(NumericRange {
                lower: Some(b),
                upper: Some(b),
            })
        }
        "<" | "<=" => only(NumericRange {
            lower: None,
            upper: Some(bound(operator == "<=")?),
        }),
        ">" | ">=" => {
            let lower = bound(operator == ">=")?;
            if items.len() == 2 {
                return Ok(NumericRange {
                    lower: Some(lower),
                    upper: None,
                });
            }
            let top_operator = match &items[2] {
                Json::String(op) if op == "<" || op == "<=" => op.as_str(),
                Json::String(op) => return Err(format!("Bad numeric range operator: {op}")),
                other => return Err(format!("Bad value in numeric range: {}", other.describe())),
            };
            let upper = Bound {
                value: numeric_value(items.get(3), top_operator)?,
                inclusive: top_operator == "<=",
            };
            if items.len() > 4 {
                return Err("Too many terms in numeric range expression".to_owned());
            }
            if lower.value >= upper.value {
                return Err("Bottom must be less than top".to_owned());
            }
            Ok(NumericRange {
                lower: Some(lower),
                upper: Some(upper),
            })
        }
        other => Err(format!("Unrecognized numeric range operator: {other}")),
    }
}

fn anything_but(operand: &Json) -> Result<Exclusion, String> {
    match operand {
        Json::Object(members) => {
            let (op, inner) = single(members, "Anything-But expression name not found", TOO_MANY)?;
            if !matches!(op, "equals-ignore-case" | "prefix" | "suffix" | "wildcard") {
                return Err(format!("Unsupported anything-but pattern: {op}"));
            }
            let texts: Vec<&str> = match inner {
                Json::String(s) => vec![s.as_str()],
                Json::Array(items) => items
                    .iter()
                    .map(|item| match item {
                        Json::String(s) => Ok(s.as_str()),
                        _ => Err(set_type_error(op)),
                    })
                    .collect::<Result<_, _>>()?,
                Json::Number(_) => return Err(set_type_error(op)),
                _ => {
                    return Err(
                        "Value of anything-but must be an array or single string/number value."
                            .to_owned(),
                    )
                }
            };
            if texts.is_empty() {
                return Err("Empty arrays are not allowed".to_owned());
            }
            if matches!(op, "prefix" | "suffix") && texts.iter().any(|t| t.is_empty()) {
                return Err("Null prefix/suffix not allowed".to_owned());
            }
            let owned = || texts.iter().map(|t| (*t).to_owned()).collect();
            Ok(match op {
                "prefix" => Exclusion::Prefixes(owned()),
                "suffix" => Exclusion::Suffixes(owned()),
                "equals-ignore-case" => {
                    Exclusion::IgnoreCase(texts.iter().map(|t| IgnoreCase::new(t)).collect())
                }
                _ => Exclusion::Wildcards(
                    texts
                        .iter()
                        .map(|t| Wildcard::parse(t))
                        .collect::<Result<_, _>>()?,
                ),
            })
        }
        Json::String(s) => Ok(Exclusion::Strings(vec![s.clone()])),
        Json::Number(text) => Ok(Exclusion::Numbers(vec![comparable(text)?])),
        Json::Array(items) => anything_but_list(items),
        _ => {
            Err("Value of anything-but must be an array or single string/number value.".to_owned())
        }
    }
}

fn set_type_error(op: &str) -> String {
    match op {
        "equals-ignore-case" => {
            "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.".to_owned()
        }
        "wildcard" => "wildcard match pattern must be a string".to_owned(),
        _ => "prefix/suffix match pattern must be a string".to_owned(),
    }
}

fn anything_but_list(items: &[Json]) -> Result<Exclusion, String> {
    let mut strings = Vec::new();
    let mut numbers = Vec::new();
    for item in items {
        match item {
            Json::String(s) => strings.push(s.clone()),
            Json::Number(text) => numbers.push(comparable(text)?),
            _ => {
                return Err(
                    "Inside anything but list, start|null|boolean is not supported.".to_owned(),
                )
            }
        }
    }
    match (strings.is_empty(), numbers.is_empty()) {
        (false, true) => Ok(Exclusion::Strings(strings)),
        (true, false) => Ok(Exclusion::Numbers(numbers)),
        _ => Err(
            "Inside anything but list, either all values are number or string, mixed type is not supported"
                .to_owned(),
        ),
    }
}

/// The pattern as a `serde_json::Value` (keys sorted; for a repeated key the last one wins).
pub(crate) fn to_value(json: &Json) -> serde_json::Value {
    use serde_json::Value;
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(text) => serde_json::from_str::<serde_json::Number>(text)
            .map(Value::Number)
            .unwrap_or_else(|_| Value::String(text.clone())),
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(to_value).collect()),
        Json::Object(members) => {
            let mut map = serde_json::Map::new();
            for (key, value) in members {
                map.insert(key.clone(), to_value(value));
            }
            Value::Object(map)
        }
    }
}
