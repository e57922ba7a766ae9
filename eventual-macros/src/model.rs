//! The typed model of an annotated function: what the expansion reads, and nothing else.

use crate::attr::{self, RetryArgs, ScheduleArgs};
use crate::check::{self, BodyFacts};
use crate::ctxt::Ctxt;
use crate::flow::{self, Flow};
use crate::route::api_def;
pub(crate) use crate::route::ApiDef;
use proc_macro2::{Span, TokenStream};
use quote::format_ident;
use std::fmt;
use syn::{FnArg, GenericArgument, Ident, ItemFn, Pat, PathArguments, ReturnType, Type};

/// Which attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Workflow,
    Task,
    OnEvent,
    Api,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Workflow => "workflow",
            Kind::Task => "task",
            Kind::OnEvent => "on_event",
            Kind::Api => "api",
        })
    }
}

/// One parameter: its pattern and type, and the identifier the expansion passes it by.
pub(crate) struct Param {
    pub(crate) pat: Box<Pat>,
    pub(crate) ty: Box<Type>,
    pub(crate) binding: Ident,
}

/// What all three attributes share: the function and its `Result<Output, Error>`.
pub(crate) struct FnDef {
    pub(crate) item: ItemFn,
    pub(crate) output: Type,
    pub(crate) error: Type,
    pub(crate) params: Vec<Param>,
    pub(crate) krate: syn::Path,
    pub(crate) name: String,
}

pub(crate) struct WorkflowDef {
    pub(crate) f: FnDef,
    /// The input parameter, if any (`()` otherwise).
    pub(crate) input: Option<Param>,
    pub(crate) timeout_ms: Option<u64>,
    /// How long an ended execution is kept, when the workflow says.
    pub(crate) retention_ms: Option<u64>,
    /// The static schedule that starts it, if any.
    pub(crate) schedule: Option<ScheduleArgs>,
    pub(crate) facts: BodyFacts,
    /// The body's durable steps in order, for the workflow's diagram.
    pub(crate) flow: Vec<Flow>,
}

pub(crate) struct TaskDef {
    pub(crate) f: FnDef,
    pub(crate) timeout_ms: Option<u64>,
    pub(crate) heartbeat_ms: Option<u64>,
    pub(crate) retry: Option<RetryArgs>,
}

pub(crate) struct SubscriptionDef {
    pub(crate) f: FnDef,
    /// The pattern as compact JSON with sorted keys.
    pub(crate) pattern_json: String,
    /// `T` of `Event<T>`.
    pub(crate) event_type: Type,
    pub(crate) retry: Option<RetryArgs>,
    pub(crate) dead_letter: bool,
}

pub(crate) enum Def {
    Workflow(WorkflowDef),
    Task(TaskDef),
    OnEvent(SubscriptionDef),
    /// Boxed: a route's model (its types and inputs) is much larger than the others.
    Api(Box<ApiDef>),
}

/// Builds the model, recording every problem in `cx`. Returns `None` only when the shape is
/// too broken to describe; the caller reports `cx` either way.
pub(crate) fn build(cx: &Ctxt, kind: Kind, args: TokenStream, item: ItemFn) -> Option<Def> {
    if kind == Kind::Api {
        let args = attr::api::parse_api_args(cx, args);
        let f = fn_def(cx, kind, &args.args, item)?;
        return api_def(cx, f, args).map(|def| Def::Api(Box::new(def)));
    }
    let args = attr::parse_args(cx, kind, args);
    let f = fn_def(cx, kind, &args, item)?;
    match kind {
        Kind::Workflow => {
            let schedule = attr::schedule_args(cx, &args);
            workflow_def(cx, f, &args, schedule).map(Def::Workflow)
        }
        Kind::Task => {
            check_task_params(cx, &f);
            Some(Def::Task(TaskDef {
                f,
                timeout_ms: args.timeout_ms,
                heartbeat_ms: args.heartbeat_ms,
                retry: args.retry,
            }))
        }
        Kind::OnEvent => subscription_def(cx, f, args).map(Def::OnEvent),
        Kind::Api => unreachable!("routes are built above"),
    }
}

fn fn_def(cx: &Ctxt, kind: Kind, args: &attr::Args, item: ItemFn) -> Option<FnDef> {
    let sig = &item.sig;
    if sig.asyncness.is_none() {
        cx.error_spanned_by(sig.fn_token, format!("#[{kind}] requires an `async fn`"));
    }
    if let Some(constness) = &sig.constness {
        cx.error_spanned_by(constness, format!("#[{kind}] functions cannot be `const`"));
    }
    if let Some(unsafety) = &sig.unsafety {
        cx.error_spanned_by(unsafety, format!("#[{kind}] functions cannot be `unsafe`"));
    }
    if let Some(abi) = &sig.abi {
        cx.error_spanned_by(
            abi,
            format!("#[{kind}] functions cannot have an `extern` ABI"),
        );
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned_by(variadic, format!("#[{kind}] functions cannot be variadic"));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        cx.error_spanned_by(
            &sig.generics,
            format!(
                "#[{kind}] functions cannot be generic: the registry needs one concrete function \
                 per name"
            ),
        );
    }
    let mut params = Vec::new();
    for (index, input) in sig.inputs.iter().enumerate() {
        match input {
            FnArg::Receiver(receiver) => cx.error_spanned_by(
                receiver,
                format!("#[{kind}] must be on a free function, not a method"),
            ),
            FnArg::Typed(typed) => {
                let binding = match &*typed.pat {
                    Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                        pat.ident.clone()
                    }
                    _ => format_ident!("__eventual_arg{}", index),
                };
                params.push(Param {
                    pat: typed.pat.clone(),
                    ty: typed.ty.clone(),
                    binding,
                });
            }
        }
    }
    let (output, error) = match &sig.output {
        ReturnType::Type(_, ty) => match result_types(ty) {
            Some(types) => types,
            None => {
                cx.error_spanned_by(
                    ty,
                    format!("#[{kind}] functions must return `Result<Output, Error>`"),
                );
                return None;
            }
        },
        ReturnType::Default => {
            cx.error_spanned_by(
                &sig.ident,
                format!("#[{kind}] functions must return `Result<Output, Error>`"),
            );
            return None;
        }
    };
    let name = args
        .name
        .as_ref()
        .map(|(name, _)| name.clone())
        .unwrap_or_else(|| sig.ident.to_string());
    let krate = args
        .crate_path
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::eventual_runtime));
    Some(FnDef {
        item,
        output,
        error,
        params,
        krate,
        name,
    })
}

/// `O` and `E` of a return type `Result<O, E>` (any path ending in `Result`).
fn result_types(ty: &Type) -> Option<(Type, Type)> {
    let args = last_segment_args(ty, "Result")?;
    match args.as_slice() {
        [output, error] => Some((output.clone(), error.clone())),
        _ => None,
    }
}

/// The type arguments of a path type whose last segment is `name`.
pub(crate) fn last_segment_args(ty: &Type, name: &str) -> Option<Vec<Type>> {
    let Type::Path(path) = ty else { return None };
    let segment = path.path.segments.last()?;
    if segment.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &segment.arguments else {
        return Some(Vec::new());
    };
    Some(
        args.args
            .iter()
            .filter_map(|arg| match arg {
                GenericArgument::Type(ty) => Some(ty.clone()),
                _ => None,
            })
            .collect(),
    )
}

fn is_context(ty: &Type) -> bool {
    last_segment_args(ty, "WorkflowContext").is_some()
}

fn workflow_def(
    cx: &Ctxt,
    mut f: FnDef,
    args: &attr::Args,
    schedule: Option<ScheduleArgs>,
) -> Option<WorkflowDef> {
    let facts = check::check_body(cx, &f.item.block);
    let flow = flow::read(&f.item.block);
    let mut params = std::mem::take(&mut f.params).into_iter();
    match params.next() {
        Some(param) if is_context(&param.ty) => {}
        Some(param) => {
            cx.error_spanned_by(
                &param.ty,
                "the first parameter of a #[workflow] must be the context: `ctx: WorkflowContext`",
            );
            return None;
        }
        None => {
            cx.error_spanned_by(
                &f.item.sig.ident,
                "a #[workflow] takes the context first, then at most one input: \
                 `(ctx: WorkflowContext, input: Input)`",
            );
            return None;
        }
    }
    let input = params.next();
    for extra in params {
        cx.error_spanned_by(
            &extra.pat,
            "a #[workflow] takes one input after the context; put several values in a struct",
        );
    }
    Some(WorkflowDef {
        f,
        input,
        timeout_ms: args.timeout_ms,
        retention_ms: args.retention_ms,
        schedule,
        facts,
        flow,
    })
}

fn check_task_params(cx: &Ctxt, f: &FnDef) {
    for param in &f.params {
        if is_context(&param.ty) {
            cx.error_spanned_by(
                &param.ty,
                "a #[task] does not take a `WorkflowContext`: tasks run outside the workflow; \
                 use `eventual_runtime::task::heartbeat()` and friends inside the body",
            );
        }
    }
}

fn subscription_def(cx: &Ctxt, f: FnDef, args: attr::Args) -> Option<SubscriptionDef> {
    let pattern_json = match &args.pattern {
        Some(lit) => check::check_pattern(cx, lit),
        None => {
            cx.syn_error(syn::Error::new(
                Span::call_site(),
                "#[on_event] needs a pattern: `#[on_event(pattern = r#\"{\"source\": [\"orders\"]}\"#)]`",
            ));
            None
        }
    };
    if !matches!(&f.output, Type::Tuple(tuple) if tuple.elems.is_empty()) {
        cx.error_spanned_by(
            &f.output,
            "an #[on_event] handler returns `Result<(), Error>`",
        );
    }
    let event_type = match f.params.as_slice() {
        [param] => match last_segment_args(&param.ty, "Event").as_deref() {
            Some([detail]) => Some(detail.clone()),
            _ => {
                cx.error_spanned_by(
                    &param.ty,
                    "an #[on_event] handler takes one `Event<T>` parameter, where `T` is the \
                     type of the event's `detail`",
                );
                None
            }
        },
        _ => {
            cx.syn_error(syn::Error::new(
                f.item.sig.paren_token.span.join(),
                "an #[on_event] handler takes exactly one parameter: `event: Event<T>`",
            ));
            None
        }
    };
    Some(SubscriptionDef {
        pattern_json: pattern_json?,
        event_type: event_type?,
        retry: args.retry,
        dead_letter: args.dead_letter.unwrap_or(true),
        f,
    })
}
