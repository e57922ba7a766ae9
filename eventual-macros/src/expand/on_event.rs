//! `#[on_event]`: the handler unchanged and a registry entry with its checked pattern.

use super::register::{assert_serde, registration, retry_policy};
use crate::model::SubscriptionDef;
use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn expand(def: &SubscriptionDef) -> TokenStream {
    let f = &def.f;
    let krate = &f.krate;
    let item = &f.item;
    let ident = &item.sig.ident;
    let event_type = &def.event_type;
    let error = &f.error;
    let pattern = &def.pattern_json;
    let retry = retry_policy(f, def.retry.as_ref());
    let dead_letter = def.dead_letter;
    let detail_check = assert_serde(f, event_type, "assert_event_detail");
    let fields = quote! {
        pattern: #pattern,
        event_type: ::core::stringify!(#event_type),
        retry: #retry,
        dead_letter: #dead_letter,
        handle: __eventual_handle,
    };
    let registration = registration(f, "SUBSCRIPTIONS", "SubscriptionDescriptor", fields);
    quote! {
        #item

        const _: () = {
            fn __eventual_handle(
                event: #krate::EventEnvelope,
            ) -> #krate::__private::BoxFuture<'static, ::core::result::Result<(), #krate::__private::HandlerFailure>> {
                #detail_check
                #krate::__private::run_handler::<#event_type, #error, _, _>(event, #ident)
            }
            #registration
        };
    }
}
