//! `#[api(METHOD "/path", options…)]`: the method and path come first, then the usual
//! `key = value` options.

use super::{parse_args, Args};
use crate::ctxt::Ctxt;
use crate::model::Kind;
use proc_macro2::{Span, TokenStream};
use syn::parse::{ParseStream, Parser};
use syn::{Ident, LitStr, Token};

/// The methods a route may have (API Gateway's, but `ANY`).
pub(crate) const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// The arguments of `#[api]`, as given.
pub(crate) struct ApiArgs {
    pub(crate) method: Option<Ident>,
    pub(crate) path: Option<LitStr>,
    pub(crate) args: Args,
}

const USAGE: &str = "#[api] needs a method and a path: `#[api(POST \"/orders\")]`";

/// Parses `METHOD "/path"` and then the options, recording errors in `cx`.
pub(crate) fn parse_api_args(cx: &Ctxt, tokens: TokenStream) -> ApiArgs {
    let mut head: Option<(Option<Ident>, Option<LitStr>)> = None;
    let mut rest = TokenStream::new();
    let split = |input: ParseStream<'_>| -> syn::Result<()> {
        let method = if input.peek(Ident) {
            Some(input.parse::<Ident>()?)
        } else {
            None
        };
        let path = if input.peek(LitStr) {
            Some(input.parse::<LitStr>()?)
        } else {
            None
        };
        if !input.is_empty() {
            if method.is_some() && path.is_some() {
                input.parse::<Token![,]>()?;
            }
            rest = input.parse()?;
        }
        head = Some((method, path));
        Ok(())
    };
    if let Err(error) = split.parse2(tokens) {
        cx.syn_error(error);
    }
    let (method, path) = head.unwrap_or((None, None));
    match (&method, &path) {
        (None, _) | (_, None) => cx.syn_error(syn::Error::new(Span::call_site(), USAGE)),
        (Some(ident), Some(_)) if !METHODS.contains(&ident.to_string().as_str()) => cx
            .error_spanned_by(
                ident,
                format!(
                    "unknown method `{ident}`; expected one of: {}",
                    METHODS.join(", ")
                ),
            ),
        _ => {}
    }
    ApiArgs {
        method,
        path,
        args: parse_args(cx, Kind::Api, rest),
    }
}
