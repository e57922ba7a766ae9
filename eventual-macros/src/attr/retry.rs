//! `retry(max_attempts = 5, backoff = "exponential", initial = "1s", max = "1m",
//! multiplier = 2.0, jitter = 0.1)`.

use super::{expect_duration, expect_str, skip_value, value_expr, Attr};
use crate::ctxt::Ctxt;
use syn::meta::ParseNestedMeta;
use syn::{Expr, ExprLit, Lit};

const RETRY_KEYWORDS: &[&str] = &[
    "max_attempts",
    "backoff",
    "initial",
    "max",
    "multiplier",
    "jitter",
];

/// A retry policy as written; unset fields take the runtime's `RetryPolicy::DEFAULT`.
pub(crate) struct RetryArgs {
    pub(crate) max_attempts: u32,
    pub(crate) exponential: bool,
    pub(crate) initial_ms: u64,
    pub(crate) max_ms: u64,
    pub(crate) multiplier: f64,
    pub(crate) jitter: f64,
}

pub(crate) fn parse(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<RetryArgs> {
    let mut max_attempts = Attr::none("max_attempts");
    let mut backoff = Attr::none("backoff");
    let mut initial = Attr::none("initial");
    let mut max = Attr::none("max");
    let mut multiplier = Attr::none("multiplier");
    let mut jitter = Attr::none("jitter");
    if !meta.input.peek(syn::token::Paren) {
        cx.error_spanned_by(
            &meta.path,
            "`retry` takes options in parentheses, such as `retry(max_attempts = 5)`",
        );
        return Ok(defaults());
    }
    meta.parse_nested_meta(|inner| {
        let key = inner
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        if !RETRY_KEYWORDS.contains(&key.as_str()) {
            cx.error_spanned_by(
                &inner.path,
                format!(
                    "unknown option `{key}` in `retry(...)`; expected one of: {}",
                    RETRY_KEYWORDS.join(", ")
                ),
            );
            return skip_value(&inner);
        }
        let expr = value_expr(&inner)?;
        let path = &inner.path;
        match key.as_str() {
            "max_attempts" => match number(&expr) {
                Some(n) if n >= 1.0 && n.fract() == 0.0 && n <= u32::MAX as f64 => {
                    max_attempts.set(cx, path, n as u32)
                }
                _ => cx
                    .error_spanned_by(&expr, "`max_attempts` must be a whole number of at least 1"),
            },
            "backoff" => {
                if let Some(lit) = expect_str(cx, &expr, "backoff") {
                    match lit.value().as_str() {
                        "exponential" => backoff.set(cx, path, true),
                        "fixed" => backoff.set(cx, path, false),
                        _ => cx.error_spanned_by(
                            &lit,
                            "`backoff` must be \"fixed\" or \"exponential\"",
                        ),
                    }
                }
            }
            "initial" => {
                if let Some(ms) = expect_duration(cx, &expr, "initial") {
                    initial.set(cx, path, ms)
                }
            }
            "max" => {
                if let Some(ms) = expect_duration(cx, &expr, "max") {
                    max.set(cx, path, ms)
                }
            }
            "multiplier" => match number(&expr) {
                Some(n) if n >= 1.0 => multiplier.set(cx, path, n),
                _ => cx.error_spanned_by(&expr, "`multiplier` must be a number of at least 1.0"),
            },
            "jitter" => match number(&expr) {
                Some(n) if (0.0..=1.0).contains(&n) => jitter.set(cx, path, n),
                _ => cx.error_spanned_by(&expr, "`jitter` must be a number from 0.0 to 1.0"),
            },
            _ => unreachable!("every retry keyword has an arm"),
        }
        Ok(())
    })?;
    let default = defaults();
    Ok(RetryArgs {
        max_attempts: max_attempts.get().unwrap_or(default.max_attempts),
        exponential: backoff.get().unwrap_or(default.exponential),
        initial_ms: initial.get().unwrap_or(default.initial_ms),
        max_ms: max.get().unwrap_or(default.max_ms),
        multiplier: multiplier.get().unwrap_or(default.multiplier),
        jitter: jitter.get().unwrap_or(default.jitter),
    })
}

/// Mirrors `eventual_runtime::task::RetryPolicy::DEFAULT`.
fn defaults() -> RetryArgs {
    RetryArgs {
        max_attempts: 3,
        exponential: true,
        initial_ms: 1_000,
        max_ms: 60_000,
        multiplier: 2.0,
        jitter: 0.1,
    }
}

fn number(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => int.base10_parse::<f64>().ok(),
        Expr::Lit(ExprLit {
            lit: Lit::Float(float),
            ..
        }) => float.base10_parse::<f64>().ok(),
        _ => None,
    }
}
