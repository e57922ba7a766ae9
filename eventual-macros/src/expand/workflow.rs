//! `#[workflow]`: the function unchanged, a same-named type implementing `Workflow`, and a
//! registry entry whose `start` deserializes the input and runs the body.

use super::register::{assert_serde, option_u64, registration, str_slice};
use crate::model::WorkflowDef;
use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn expand(def: &WorkflowDef) -> TokenStream {
    let f = &def.f;
    let krate = &f.krate;
    let item = &f.item;
    let vis = &item.vis;
    let ident = &item.sig.ident;
    let name = &f.name;
    let (output, error) = (&f.output, &f.error);
    let input_ty = match &def.input {
        Some(param) => {
            let ty = &param.ty;
            quote!(#ty)
        }
        None => quote!(()),
    };
    let call = match &def.input {
        Some(_) => quote!(#ident),
        None => quote!(|ctx, ()| #ident(ctx)),
    };
    let input_check = def
        .input
        .as_ref()
        .map(|param| assert_serde(f, &param.ty, "assert_workflow_input"));
    let output_check = assert_serde(f, output, "assert_workflow_output");
    let error_check = assert_serde(f, error, "assert_workflow_error");
    let doc = format!("The workflow type of [`{ident}()`], registered as `{name}`.");
    let facts = &def.facts;
    let fields = {
        let timeout = option_u64(def.timeout_ms);
        let calls = str_slice(&facts.calls);
        let children = str_slice(&facts.children);
        let signals = str_slice(&facts.signals);
        let events = str_slice(&facts.events);
        quote! {
            timeout_ms: #timeout,
            calls: #calls,
            children: #children,
            signals: #signals,
            events: #events,
            start: __eventual_start,
        }
    };
    let registration = registration(f, "WORKFLOWS", "WorkflowDescriptor", fields);
    quote! {
        #item

        #[doc = #doc]
        #[allow(non_camel_case_types)]
        #vis struct #ident {}

        impl #krate::__private::Workflow for #ident {
            type Input = #input_ty;
            type Output = #output;
            type Error = #error;
            const NAME: &'static str = #name;
        }

        const _: () = {
            fn __eventual_start(
                ctx: #krate::__private::WorkflowContext,
                input: #krate::__private::Value,
            ) -> ::core::result::Result<#krate::__private::WorkflowFuture, ::std::string::String> {
                #input_check
                #output_check
                #error_check
                #krate::__private::start_workflow::<#ident, _, _>(ctx, input, #call)
            }
            #registration
        };
    }
}
