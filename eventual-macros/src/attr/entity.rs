//! Options of `#[entity]` and of the `#[command]` marker on its methods.

use super::{check_name, expect_str, skip_value, value_expr, Attr};
use crate::ctxt::Ctxt;
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::Parser;
use syn::{Expr, ExprLit, Lit};

/// The options `#[entity]` accepts, in the order error messages list them.
const ENTITY_KEYWORDS: &[&str] = &["name", "snapshot_every", "crate"];

/// The options `#[command]` accepts.
const COMMAND_KEYWORDS: &[&str] = &["name"];

/// The options of one `#[entity]`, as given.
pub(crate) struct EntityArgs {
    pub(crate) name: Option<(String, Span)>,
    pub(crate) snapshot_every: Option<u64>,
    pub(crate) crate_path: Option<syn::Path>,
}

/// Parses `#[entity(...)]`'s arguments, recording errors in `cx`.
pub(crate) fn parse_entity_args(cx: &Ctxt, tokens: TokenStream) -> EntityArgs {
    let mut name = Attr::none("name");
    let mut snapshot_every = Attr::none("snapshot_every");
    let mut crate_path = Attr::none("crate");
    let parser = syn::meta::parser(|meta| {
        let Some(key) = known_key(cx, &meta.path, "entity", ENTITY_KEYWORDS) else {
            return skip_value(&meta);
        };
        let expr = value_expr(&meta)?;
        match key.as_str() {
            "name" => {
                if let Some(lit) = expect_str(cx, &expr, "name") {
                    if check_name(cx, &lit) {
                        name.set(cx, &meta.path, (lit.value(), lit.span()));
                    }
                }
            }
            "snapshot_every" => match &expr {
                Expr::Lit(ExprLit {
                    lit: Lit::Int(int), ..
                }) => match int.base10_parse::<u64>() {
                    Ok(every) if every > 0 => snapshot_every.set(cx, &meta.path, every),
                    _ => cx.error_spanned_by(
                        int,
                        "`snapshot_every` must be a whole number of events above zero",
                    ),
                },
                other => cx.error_spanned_by(
                    other,
                    "`snapshot_every` must be a whole number of events, such as `snapshot_every = 100`",
                ),
            },
            _ => {
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
        }
        Ok(())
    });
    if let Err(error) = parser.parse2(tokens) {
        cx.syn_error(error);
    }
    EntityArgs {
        name: name.get(),
        snapshot_every: snapshot_every.get(),
        crate_path: crate_path.get(),
    }
}

/// Parses a `#[command(...)]` marker's arguments: the command's name, if renamed.
pub(crate) fn parse_command_args(cx: &Ctxt, attr: &syn::Attribute) -> Option<(String, Span)> {
    let mut name = Attr::none("name");
    let tokens = match &attr.meta {
        syn::Meta::Path(_) => return None,
        syn::Meta::List(list) => list.tokens.clone(),
        syn::Meta::NameValue(value) => {
            cx.error_spanned_by(
                value,
                "expected `#[command]` or `#[command(name = \"...\")]`",
            );
            return None;
        }
    };
    let parser = syn::meta::parser(|meta| {
        if known_key(cx, &meta.path, "command", COMMAND_KEYWORDS).is_none() {
            return skip_value(&meta);
        }
        let expr = value_expr(&meta)?;
        if let Some(lit) = expect_str(cx, &expr, "name") {
            if check_name(cx, &lit) {
                name.set(cx, &meta.path, (lit.value(), lit.span()));
            }
        }
        Ok(())
    });
    if let Err(error) = parser.parse2(tokens) {
        cx.syn_error(error);
    }
    name.get()
}

/// The option's name if `attribute` accepts it; an "unknown option" error otherwise.
fn known_key(cx: &Ctxt, path: &syn::Path, attribute: &str, allowed: &[&str]) -> Option<String> {
    let key = path
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_else(|| path.to_token_stream().to_string().replace(' ', ""));
    if allowed.contains(&key.as_str()) {
        Some(key)
    } else {
        cx.error_spanned_by(
            path,
            format!(
                "unknown option `{key}` for #[{attribute}]; expected one of: {}",
                allowed.join(", ")
            ),
        );
        None
    }
}
