//! Attribute options: one parser for all the attributes, each allowing its own keywords
//! (`#[api]` first reads its method and path, see [`api`]).
//!
//! A bad, unknown or duplicate option records a spanned error and parsing goes on, so users
//! see every mistake at once.

pub(crate) mod api;
pub(crate) mod entity;
mod retry;
mod schedule;

pub(crate) use retry::RetryArgs;
pub(crate) use schedule::{schedule_args, CatchUp, ScheduleArgs};

use crate::ctxt::Ctxt;
use crate::duration::parse_millis;
use crate::model::Kind;
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Expr, ExprLit, Lit, LitStr};

/// The options each attribute accepts, in the order error messages list them.
pub(crate) fn keywords(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Workflow => &[
            "name",
            "timeout",
            "retention",
            "schedule",
            "overlap",
            "catch_up",
            "crate",
        ],
        Kind::Task => &["name", "timeout", "heartbeat", "retry", "crate"],
        Kind::OnEvent => &["pattern", "name", "retry", "dead_letter", "crate"],
        Kind::Api => &["auth", "name", "crate"],
    }
}

/// An option that may be given once.
pub(crate) struct Attr<T> {
    name: &'static str,
    value: Option<T>,
}

impl<T> Attr<T> {
    pub(crate) fn none(name: &'static str) -> Self {
        Attr { name, value: None }
    }

    /// Sets the value; a second one is a "duplicate" error on `tokens`.
    pub(crate) fn set<S: ToTokens>(&mut self, cx: &Ctxt, tokens: S, value: T) {
        if self.value.is_some() {
            cx.error_spanned_by(tokens, format!("duplicate `{}` option", self.name));
        } else {
            self.value = Some(value);
        }
    }

    pub(crate) fn get(self) -> Option<T> {
        self.value
    }
}

/// The options of one attribute, as given.
pub(crate) struct Args {
    pub(crate) name: Option<(String, Span)>,
    pub(crate) crate_path: Option<syn::Path>,
    pub(crate) timeout_ms: Option<u64>,
    pub(crate) heartbeat_ms: Option<u64>,
    pub(crate) retention_ms: Option<u64>,
    pub(crate) retry: Option<RetryArgs>,
    pub(crate) pattern: Option<LitStr>,
    pub(crate) dead_letter: Option<bool>,
    pub(crate) auth: Option<LitStr>,
    pub(crate) schedule: Option<LitStr>,
    pub(crate) overlap: Option<LitStr>,
    pub(crate) catch_up: Option<LitStr>,
}

/// Parses the attribute's arguments, recording errors in `cx`.
pub(crate) fn parse_args(cx: &Ctxt, kind: Kind, tokens: TokenStream) -> Args {
    let mut name = Attr::none("name");
    let mut crate_path = Attr::none("crate");
    let mut timeout = Attr::none("timeout");
    let mut heartbeat = Attr::none("heartbeat");
    let mut retention = Attr::none("retention");
    let mut retry = Attr::none("retry");
    let mut pattern = Attr::none("pattern");
    let mut dead_letter = Attr::none("dead_letter");
    let mut auth = Attr::none("auth");
    let mut schedule = Attr::none("schedule");
    let mut overlap = Attr::none("overlap");
    let mut catch_up = Attr::none("catch_up");
    let allowed = keywords(kind);

    let parser = syn::meta::parser(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_else(|| meta.path.to_token_stream().to_string().replace(' ', ""));
        if !allowed.contains(&key.as_str()) {
            cx.error_spanned_by(
                &meta.path,
                format!(
                    "unknown option `{key}` for #[{kind}]; expected one of: {}",
                    allowed.join(", ")
                ),
            );
            return skip_value(&meta);
        }
        match key.as_str() {
            "retry" => {
                let path = meta.path.clone();
                let parsed = retry::parse(cx, &meta)?;
                retry.set(cx, path, parsed);
            }
            "name" => {
                let expr = value_expr(&meta)?;
                if let Some(lit) = expect_str(cx, &expr, "name") {
                    if check_name(cx, &lit) {
                        name.set(cx, &meta.path, (lit.value(), lit.span()));
                    }
                }
            }
            "crate" => {
                let expr = value_expr(&meta)?;
                if let Some(lit) = expect_str(cx, &expr, "crate") {
                    match lit.parse::<syn::Path>() {
                        Ok(path) => crate_path.set(cx, &meta.path, path),
                        Err(_) => cx.error_spanned_by(
                            &lit,
                            "`crate` must be a path, such as \"::eventual_runtime\"",
                        ),
                    }
                }
            }
            "timeout" | "heartbeat" | "retention" => {
                let expr = value_expr(&meta)?;
                if let Some(millis) = expect_duration(cx, &expr, &key) {
                    let target = match key.as_str() {
                        "timeout" => &mut timeout,
                        "heartbeat" => &mut heartbeat,
                        _ => &mut retention,
                    };
                    target.set(cx, &meta.path, millis);
                }
            }
            "pattern" | "auth" | "schedule" | "overlap" | "catch_up" => {
                let expr = value_expr(&meta)?;
                if let Some(lit) = expect_str(cx, &expr, &key) {
                    let target = match key.as_str() {
                        "pattern" => &mut pattern,
                        "auth" => &mut auth,
                        "schedule" => &mut schedule,
                        "overlap" => &mut overlap,
                        _ => &mut catch_up,
                    };
                    target.set(cx, &meta.path, lit);
                }
            }
            "dead_letter" => {
                let expr = value_expr(&meta)?;
                match &expr {
                    Expr::Lit(ExprLit {
                        lit: Lit::Bool(value),
                        ..
                    }) => dead_letter.set(cx, &meta.path, value.value),
                    other => cx.error_spanned_by(other, "`dead_letter` must be `true` or `false`"),
                }
            }
            _ => unreachable!("every keyword of `keywords` has an arm"),
        }
        Ok(())
    });
    if let Err(error) = parser.parse2(tokens) {
        cx.syn_error(error);
    }
    Args {
        name: name.get(),
        crate_path: crate_path.get(),
        timeout_ms: timeout.get(),
        heartbeat_ms: heartbeat.get(),
        retention_ms: retention.get(),
        retry: retry.get(),
        pattern: pattern.get(),
        dead_letter: dead_letter.get(),
        auth: auth.get(),
        schedule: schedule.get(),
        overlap: overlap.get(),
        catch_up: catch_up.get(),
    }
}

/// The expression after `=`.
pub(crate) fn value_expr(meta: &ParseNestedMeta<'_>) -> syn::Result<Expr> {
    meta.value()?.parse()
}

/// Consumes whatever follows an unknown option so that parsing goes on.
pub(crate) fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        value_expr(meta).map(drop)
    } else if meta.input.peek(syn::token::Paren) {
        meta.parse_nested_meta(|inner| skip_value(&inner))
    } else {
        Ok(())
    }
}

pub(crate) fn expect_str(cx: &Ctxt, expr: &Expr, option: &str) -> Option<LitStr> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Some(lit.clone()),
        other => {
            cx.error_spanned_by(other, format!("`{option}` must be a string literal"));
            None
        }
    }
}

pub(crate) fn expect_duration(cx: &Ctxt, expr: &Expr, option: &str) -> Option<u64> {
    let lit = expect_str(cx, expr, option)?;
    match parse_millis(&lit.value()) {
        Ok(millis) if millis > 0 => Some(millis),
        Ok(_) => {
            cx.error_spanned_by(&lit, format!("`{option}` must be longer than zero"));
            None
        }
        Err(message) => {
            cx.error_spanned_by(&lit, format!("`{option}`: {message}"));
            None
        }
    }
}

/// Names become queue, rule and function names: EventBridge's rule-name rules apply.
pub(crate) fn check_name(cx: &Ctxt, lit: &LitStr) -> bool {
    let value = lit.value();
    let valid = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !valid {
        cx.error_spanned_by(
            lit,
            "`name` must be 1 to 64 characters of letters, digits, `_`, `-` and `.`",
        );
    }
    valid
}
