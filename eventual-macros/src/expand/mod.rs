//! Code generation. Reads only the model.

mod api;
pub(crate) mod entity;
mod flow;
mod on_event;
mod register;
mod task;
mod workflow;

use crate::ctxt::Ctxt;
use crate::model::{self, Def, Kind};
use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

/// Parses, checks and expands one attribute. On errors, the function is emitted unchanged
/// next to the errors, so that its uses do not add follow-up errors.
pub(crate) fn dispatch(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let item_fn: ItemFn = match syn::parse2(item.clone()) {
        Ok(item_fn) => item_fn,
        Err(_) => {
            // Not a function, or a function whose body does not parse: let rustc report the
            // body's own error, and say what the attribute applies to.
            let message = format!("#[{kind}] applies to an `async fn`");
            let error = match syn::parse2::<syn::Item>(item.clone()) {
                Ok(other) => syn::Error::new_spanned(other, message),
                Err(_) => syn::Error::new(proc_macro2::Span::call_site(), message),
            };
            let error = error.to_compile_error();
            return quote!(#error #item);
        }
    };
    let cx = Ctxt::new();
    let def = model::build(&cx, kind, args, item_fn.clone());
    match (cx.check(), def) {
        (Ok(()), Some(def)) => expand(&def),
        (Err(error), _) => {
            let error = error.to_compile_error();
            quote!(#error #item_fn)
        }
        (Ok(()), None) => unreachable!("the model is only missing after an error"),
    }
}

fn expand(def: &Def) -> TokenStream {
    match def {
        Def::Workflow(def) => workflow::expand(def),
        Def::Task(def) => task::expand(def),
        Def::OnEvent(def) => on_event::expand(def),
        Def::Api(def) => api::expand(def),
    }
}
