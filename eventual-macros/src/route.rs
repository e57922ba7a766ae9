//! The model of an `#[api]` route: its method and path (checked), and what each parameter of
//! the function takes from the request.

use crate::attr::api::ApiArgs;
use crate::ctxt::Ctxt;
use crate::model::{last_segment_args, FnDef, Param};
use syn::{LitStr, Type};

/// The prefix of the engine's internal routes: a route may not live under it.
const RESERVED_PREFIX: &str = "/_eventual";

/// What a parameter takes from the request.
pub(crate) enum Input {
    /// Path parameter `{name}`, parsed with `FromStr`.
    Path(String),
    /// `Json<T>`, `Query<T>`, `Headers` or `ApiContext`: its `FromApiRequest`.
    Extracted,
}

pub(crate) struct ApiDef {
    pub(crate) f: FnDef,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) auth: String,
    /// The path's parameters, in order.
    pub(crate) path_params: Vec<String>,
    /// One per parameter of the function, in order.
    pub(crate) inputs: Vec<Input>,
    /// `T` of `Json<T>`, if a parameter takes the body.
    pub(crate) body: Option<Type>,
    /// `T` of `Query<T>`, if a parameter takes the query.
    pub(crate) query: Option<Type>,
    /// The success body's type: `T` of `ApiResponse<T>`, or the `Ok` type itself.
    pub(crate) response: Type,
    /// Whether the function returns `ApiResponse<T>` (else its value is wrapped in a 200).
    pub(crate) returns_response: bool,
}

/// The extractor types, by the last segment of their path.
const EXTRACTORS: &[&str] = &["Json", "Query", "Headers", "ApiContext"];

pub(crate) fn api_def(cx: &Ctxt, f: FnDef, args: ApiArgs) -> Option<ApiDef> {
    let auth = match &args.args.auth {
        None => "none".to_owned(),
        Some(lit) => match lit.value().as_str() {
            value @ ("none" | "iam" | "jwt") => value.to_owned(),
            _ => {
                cx.error_spanned_by(lit, "`auth` must be \"none\", \"iam\" or \"jwt\"");
                "none".to_owned()
            }
        },
    };
    let path_params = args.path.as_ref().map(|path| check_path(cx, path));
    let path_params = path_params.unwrap_or_default();
    let mut inputs = Vec::new();
    let (mut body, mut query) = (None, None);
    let mut seen: Vec<&'static str> = Vec::new();
    for param in &f.params {
        let extractor = EXTRACTORS
            .iter()
            .find(|name| last_segment_args(&param.ty, name).is_some());
        match extractor {
            Some(&name) => {
                if seen.contains(&name) {
                    cx.error_spanned_by(
                        &param.ty,
                        format!("an #[api] fn takes at most one `{name}`"),
                    );
                }
                seen.push(name);
                let inner = || last_segment_args(&param.ty, name)?.into_iter().next();
                match name {
                    "Json" => body = inner(),
                    "Query" => query = inner(),
                    _ => {}
                }
                inputs.push(Input::Extracted);
            }
            None => match path_param_of(param, &path_params) {
                Some(name) => inputs.push(Input::Path(name)),
                None => {
                    unsupported(cx, param, args.path.as_ref());
                    inputs.push(Input::Extracted);
                }
            },
        }
    }
    if let Some(path) = &args.path {
        for name in &path_params {
            if !inputs
                .iter()
                .any(|input| matches!(input, Input::Path(n) if n == name))
            {
                cx.error_spanned_by(
                    path,
                    format!(
                        "path parameter `{{{name}}}` has no argument: add `{name}: String` (or any `FromStr` type) to the fn"
                    ),
                );
            }
        }
    }
    let (response, returns_response) = match last_segment_args(&f.output, "ApiResponse") {
        Some(args) => match args.as_slice() {
            [inner] => (inner.clone(), true),
            _ => {
                cx.error_spanned_by(
                    &f.output,
                    "`ApiResponse` takes the body's type: `ApiResponse<T>`",
                );
                return None;
            }
        },
        None => (f.output.clone(), false),
    };
    Some(ApiDef {
        method: args.method?.to_string(),
        path: args.path?.value(),
        auth,
        path_params,
        inputs,
        body,
        query,
        response,
        returns_response,
        f,
    })
}

/// The path parameter a plain `name: T` parameter binds, if the path has it.
fn path_param_of(param: &Param, path_params: &[String]) -> Option<String> {
    let name = param.binding.to_string();
    path_params.contains(&name).then_some(name)
}

fn unsupported(cx: &Ctxt, param: &Param, path: Option<&LitStr>) {
    let name = param.binding.to_string();
    let path = path.map(LitStr::value).unwrap_or_default();
    cx.error_spanned_by(
        &param.pat,
        format!(
            "`{name}` is not a path parameter of `{path}` nor an #[api] input: an #[api] fn takes \
             path parameters by name (`{{{name}}}` → `{name}: T`), `Json<T>`, `Query<T>`, \
             `Headers` and `ApiContext`"
        ),
    );
}

/// Checks the path's syntax; returns its parameters' names.
fn check_path(cx: &Ctxt, lit: &LitStr) -> Vec<String> {
    let path = lit.value();
    let mut params: Vec<String> = Vec::new();
    let fail = |message: String| cx.error_spanned_by(lit, message);
    if !path.starts_with('/') {
        fail(format!("the path `{path}` must start with `/`"));
        return params;
    }
    if path == RESERVED_PREFIX || path.starts_with(&format!("{RESERVED_PREFIX}/")) {
        fail(format!(
            "`{RESERVED_PREFIX}` is reserved for the engine's internal routes; choose another path"
        ));
    }
    if path == "/" {
        return params;
    }
    for segment in path[1..].split('/') {
        if segment.is_empty() {
            fail(format!(
                "the path `{path}` has an empty segment (`//` or a trailing `/`)"
            ));
        } else if let Some(inner) = segment.strip_prefix('{') {
            let Some(name) = inner.strip_suffix('}') else {
                fail(format!(
                    "the segment `{segment}` opens `{{` without closing it: write `{{name}}`"
                ));
                continue;
            };
            if name.ends_with('+') {
                fail(format!(
                    "the segment `{segment}` is greedy: `{{name+}}` routes are not supported"
                ));
            } else if !is_identifier(name) {
                fail(format!(
                    "`{{{name}}}` must name a parameter with a Rust identifier, such as `{{id}}`"
                ));
            } else if params.iter().any(|seen| seen == name) {
                fail(format!("the path parameter `{{{name}}}` appears twice"));
            } else {
                params.push(name.to_owned());
            }
        } else if let Some(bad) = segment
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')))
        {
            fail(format!(
                "the segment `{segment}` has `{bad}`: a literal segment is letters, digits, `-`, `.`, `_` and `~`, a parameter is a whole segment `{{name}}`"
            ));
        }
    }
    params
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
