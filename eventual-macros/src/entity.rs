//! `#[entity]` on an `impl` block: the typed model of an event-sourced entity (its state type,
//! its `apply` and its commands), built and checked before anything is generated.

use crate::attr::entity::{parse_command_args, parse_entity_args};
use crate::ctxt::Ctxt;
use crate::model::last_segment_args;
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use std::collections::BTreeMap;
use syn::{FnArg, ImplItem, ImplItemFn, ItemImpl, Pat, ReturnType, Type};

/// One command method.
pub(crate) struct CommandDef {
    /// The method's identifier.
    pub(crate) ident: syn::Ident,
    /// The registered name (the method's, unless `#[command(name = "...")]`).
    pub(crate) name: String,
    /// The parameters after `ctx`, with the identifiers the expansion passes them by.
    pub(crate) params: Vec<(syn::Ident, Type)>,
    /// `E` of `Result<Vec<Event>, E>`.
    pub(crate) error: Type,
    /// The method's doc comments, carried to the generated client method.
    pub(crate) docs: Vec<syn::Attribute>,
}

/// An `#[entity]` impl block.
pub(crate) struct EntityDef {
    /// The impl block, with the `#[command]` markers removed.
    pub(crate) item: ItemImpl,
    /// The state type.
    pub(crate) state: Type,
    /// The last identifier of the state type's path (names the generated client type).
    pub(crate) state_ident: syn::Ident,
    /// The event type `apply` takes.
    pub(crate) event: Type,
    pub(crate) commands: Vec<CommandDef>,
    /// The entity type's registered name.
    pub(crate) name: String,
    pub(crate) snapshot_every: Option<u64>,
    pub(crate) krate: syn::Path,
}

/// Builds the model, recording every problem in `cx`. Returns `None` only when the shape is
/// too broken to describe; the caller reports `cx` either way.
pub(crate) fn build(cx: &Ctxt, args: TokenStream, mut item: ItemImpl) -> Option<EntityDef> {
    let args = parse_entity_args(cx, args);
    if let Some((_, path, _)) = &item.trait_ {
        cx.error_spanned_by(
            path,
            "#[entity] applies to an inherent `impl State { ... }` block, not a trait impl",
        );
    }
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        cx.error_spanned_by(
            &item.generics,
            "#[entity] state types cannot be generic: the registry needs one concrete type per \
             entity type",
        );
    }
    let state = (*item.self_ty).clone();
    let state_ident = match &state {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .map(|segment| segment.ident.clone()),
        _ => None,
    };
    let Some(state_ident) = state_ident else {
        cx.error_spanned_by(
            &state,
            "#[entity] state must be a named type, such as `Account`",
        );
        return None;
    };

    let mut event = None;
    let mut commands = Vec::new();
    let mut names: BTreeMap<String, Span> = BTreeMap::new();
    for impl_item in &mut item.items {
        let ImplItem::Fn(method) = impl_item else {
            continue;
        };
        let marker = take_command_marker(cx, method);
        if method.sig.ident == "apply" {
            if let Some(marker) = marker {
                cx.error_spanned_by(marker, "`apply` is not a command: remove `#[command]`");
            }
            event = apply_event(cx, method);
            continue;
        }
        let has_receiver = matches!(method.sig.inputs.first(), Some(FnArg::Receiver(_)));
        if !has_receiver && marker.is_none() {
            // Associated functions (`fn new() -> Self`) are the user's own helpers.
            continue;
        }
        let renamed = marker
            .as_ref()
            .and_then(|attr| parse_command_args(cx, attr));
        let Some(command) = command_def(cx, method, renamed.as_ref()) else {
            continue;
        };
        let span = renamed
            .as_ref()
            .map_or_else(|| method.sig.ident.span(), |(_, span)| *span);
        match names.get(&command.name) {
            Some(first) => {
                let mut error = syn::Error::new(
                    span,
                    format!("duplicate command name `{}` in #[entity]", command.name),
                );
                error.combine(syn::Error::new(
                    *first,
                    format!("`{}` is first used here", command.name),
                ));
                cx.syn_error(error);
            }
            None => {
                names.insert(command.name.clone(), span);
            }
        }
        commands.push(command);
    }
    let Some(event) = event else {
        if !item
            .items
            .iter()
            .any(|i| matches!(i, ImplItem::Fn(f) if f.sig.ident == "apply"))
        {
            cx.error_spanned_by(
                &item.self_ty,
                "#[entity] needs `fn apply(&mut self, event: &Event)`: the pure function that \
                 folds one event into the state",
            );
        }
        return None;
    };
    for command in &commands {
        check_command_events(cx, command, &item, &event);
    }
    let name = args
        .name
        .map(|(name, _)| name)
        .unwrap_or_else(|| snake_case(&state_ident.to_string()));
    let krate = args
        .crate_path
        .unwrap_or_else(|| syn::parse_quote!(::eventual_runtime));
    Some(EntityDef {
        item,
        state,
        state_ident,
        event,
        commands,
        name,
        snapshot_every: args.snapshot_every,
        krate,
    })
}

/// Removes the method's `#[command]` marker (a second one is an error) and returns it.
fn take_command_marker(cx: &Ctxt, method: &mut ImplItemFn) -> Option<syn::Attribute> {
    let mut marker = None;
    let mut kept = Vec::new();
    for attr in std::mem::take(&mut method.attrs) {
        if attr.path().is_ident("command") {
            if marker.is_some() {
                cx.error_spanned_by(&attr, "duplicate `#[command]` marker");
            } else {
                marker = Some(attr);
            }
        } else {
            kept.push(attr);
        }
    }
    method.attrs = kept;
    marker
}

/// The event type of `fn apply(&mut self, event: &Event)`, or errors on its shape.
fn apply_event(cx: &Ctxt, method: &ImplItemFn) -> Option<Type> {
    const SHAPE: &str = "`apply` must be `fn apply(&mut self, event: &Event)`";
    let sig = &method.sig;
    let mut ok = true;
    if let Some(asyncness) = &sig.asyncness {
        cx.error_spanned_by(
            asyncness,
            format!("{SHAPE}: it is pure and synchronous, so replaying events cannot fail"),
        );
        ok = false;
    }
    if !sig.generics.params.is_empty() {
        cx.error_spanned_by(&sig.generics, format!("{SHAPE}: it cannot be generic"));
        ok = false;
    }
    match sig.inputs.first() {
        Some(FnArg::Receiver(receiver))
            if receiver.reference.is_some() && receiver.mutability.is_some() => {}
        Some(other) => {
            cx.error_spanned_by(other, format!("{SHAPE}: its receiver is `&mut self`"));
            ok = false;
        }
        None => {
            cx.error_spanned_by(&sig.ident, format!("{SHAPE}: it takes `&mut self`"));
            ok = false;
        }
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        cx.error_spanned_by(ty, format!("{SHAPE}: it returns nothing"));
        ok = false;
    }
    let event = match sig.inputs.iter().skip(1).collect::<Vec<_>>().as_slice() {
        [FnArg::Typed(typed)] => match &*typed.ty {
            Type::Reference(reference) if reference.mutability.is_none() => {
                Some((*reference.elem).clone())
            }
            other => {
                cx.error_spanned_by(other, format!("{SHAPE}: the event is taken by `&`"));
                None
            }
        },
        [] => {
            cx.error_spanned_by(
                &sig.inputs,
                format!("{SHAPE}: it takes the event as its one parameter"),
            );
            None
        }
        [_, extra, ..] => {
            cx.error_spanned_by(extra, format!("{SHAPE}: it takes one parameter, the event"));
            None
        }
        [receiver] => {
            cx.error_spanned_by(receiver, SHAPE);
            None
        }
    };
    event.filter(|_| ok)
}

/// One command method, or errors on its shape.
fn command_def(
    cx: &Ctxt,
    method: &ImplItemFn,
    renamed: Option<&(String, Span)>,
) -> Option<CommandDef> {
    const SHAPE: &str = "an #[entity] command is `async fn name(&self, ctx: EntityContext, \
                         args...) -> Result<Vec<Event>, Error>`";
    let sig = &method.sig;
    let mut ok = true;
    if sig.asyncness.is_none() {
        cx.error_spanned_by(
            sig.fn_token,
            format!("{SHAPE}: `{}` is not `async`", sig.ident),
        );
        ok = false;
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        cx.error_spanned_by(
            &sig.generics,
            format!("{SHAPE}: commands cannot be generic"),
        );
        ok = false;
    }
    if let Some(unsafety) = &sig.unsafety {
        cx.error_spanned_by(unsafety, format!("{SHAPE}: commands cannot be `unsafe`"));
        ok = false;
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(receiver))
            if receiver.reference.is_some() && receiver.mutability.is_none() => {}
        Some(FnArg::Receiver(receiver)) => {
            cx.error_spanned_by(
                receiver,
                format!(
                    "{SHAPE}: its receiver is `&self` (a command decides events; only `apply` \
                     changes the state)"
                ),
            );
            ok = false;
        }
        _ => {
            cx.error_spanned_by(&sig.ident, format!("{SHAPE}: it takes `&self`"));
            ok = false;
        }
    }
    match inputs.next() {
        Some(FnArg::Typed(typed)) if is_entity_context(&typed.ty) => {}
        Some(other) => {
            cx.error_spanned_by(
                other,
                format!("{SHAPE}: its first parameter after `&self` is `ctx: EntityContext`"),
            );
            ok = false;
        }
        None => {
            cx.error_spanned_by(
                &sig.inputs,
                format!("{SHAPE}: `{}` lacks `ctx: EntityContext`", sig.ident),
            );
            ok = false;
        }
    }
    let mut params = Vec::new();
    for (index, input) in inputs.enumerate() {
        if let FnArg::Typed(typed) = input {
            let binding = match &*typed.pat {
                Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                    pat.ident.clone()
                }
                _ => quote::format_ident!("__eventual_arg{}", index),
            };
            params.push((binding, (*typed.ty).clone()));
        }
    }
    let error = match &sig.output {
        ReturnType::Type(_, ty) => match command_result(ty) {
            Some((_, error)) => Some(error),
            None => {
                cx.error_spanned_by(
                    ty,
                    format!(
                        "{SHAPE}: `{}` must return `Result<Vec<Event>, Error>`",
                        sig.ident
                    ),
                );
                None
            }
        },
        ReturnType::Default => {
            cx.error_spanned_by(
                &sig.ident,
                format!(
                    "{SHAPE}: `{}` must return `Result<Vec<Event>, Error>`",
                    sig.ident
                ),
            );
            None
        }
    };
    let docs = method
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .cloned()
        .collect();
    let name = renamed.map_or_else(|| sig.ident.to_string(), |(name, _)| name.clone());
    Some(CommandDef {
        ident: sig.ident.clone(),
        name,
        params,
        error: error?,
        docs,
    })
    .filter(|_| ok)
}

/// `(Event, Error)` of `Result<Vec<Event>, Error>`.
fn command_result(ty: &Type) -> Option<(Type, Type)> {
    let args = last_segment_args(ty, "Result")?;
    let [events, error] = args.as_slice() else {
        return None;
    };
    let [event] = last_segment_args(events, "Vec")?.try_into().ok()?;
    Some((event, error.clone()))
}

/// A command's events must be the type `apply` folds.
fn check_command_events(cx: &Ctxt, command: &CommandDef, item: &ItemImpl, event: &Type) {
    let Some(method) = item.items.iter().find_map(|i| match i {
        ImplItem::Fn(f) if f.sig.ident == command.ident => Some(f),
        _ => None,
    }) else {
        return;
    };
    let ReturnType::Type(_, ty) = &method.sig.output else {
        return;
    };
    if let Some((returned, _)) = command_result(ty) {
        let same = returned.to_token_stream().to_string() == event.to_token_stream().to_string();
        let self_event = matches!(&returned, Type::Path(p) if p.path.is_ident("Self"));
        if !same && !self_event {
            cx.error_spanned_by(
                &returned,
                format!(
                    "`{}` returns events of another type than `apply` takes (`{}`)",
                    command.ident,
                    event.to_token_stream()
                ),
            );
        }
    }
}

fn is_entity_context(ty: &Type) -> bool {
    last_segment_args(ty, "EntityContext").is_some()
}

/// `BankAccount` → `bank_account`.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let chars: Vec<char> = name.chars().collect();
    for (index, c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let after_lower = index > 0 && !chars[index - 1].is_uppercase();
            let before_lower = chars.get(index + 1).is_some_and(|n| n.is_lowercase());
            if index > 0 && (after_lower || (before_lower && chars[index - 1].is_uppercase())) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(*c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn type_names_become_snake_case() {
        assert_eq!(snake_case("Account"), "account");
        assert_eq!(snake_case("BankAccount"), "bank_account");
        assert_eq!(snake_case("HTTPSession"), "http_session");
        assert_eq!(snake_case("Account2"), "account2");
    }
}
