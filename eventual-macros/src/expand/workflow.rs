//! `#[workflow]`: the function unchanged, a same-named type implementing `Workflow`, and a
//! registry entry whose `start` deserializes the input and runs the body.

use super::flow::flow_slice;
use super::register::{option_u64, registration, str_slice};
use crate::attr::CatchUp;
use crate::model::WorkflowDef;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

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
    // No `assert_workflow_*` calls: the `Workflow` impl below already requires serde on the
    // input, output and error, each spanned on the user's type; asserting again only doubled
    // every error.
    let doc = format!("The workflow type of [`{ident}()`], registered as `{name}`.");
    let (schedule, schedule_input) = schedule(def, &input_ty);
    let facts = &def.facts;
    let fields = {
        let timeout = option_u64(def.timeout_ms);
        let retention = option_u64(def.retention_ms);
        let calls = str_slice(&facts.calls);
        let named_tasks = str_slice(&facts.named_tasks);
        let children = str_slice(&facts.children);
        let timers = str_slice(&facts.timers);
        let signals = str_slice(&facts.signals);
        let events = str_slice(&facts.events);
        let flow = flow_slice(krate, &def.flow);
        quote! {
            timeout_ms: #timeout,
            retention_ms: #retention,
            calls: #calls,
            named_tasks: #named_tasks,
            children: #children,
            signals: #signals,
            events: #events,
            timers: #timers,
            flow: #flow,
            start: __eventual_start,
            schedule: #schedule,
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
                #krate::__private::start_workflow::<#ident, _, _>(ctx, input, #call)
            }
            #schedule_input
            #registration
        };
    }
}

/// The descriptor's `schedule` field, and the function giving a scheduled start its input.
fn schedule(def: &WorkflowDef, input_ty: &TokenStream) -> (TokenStream, TokenStream) {
    let krate = &def.f.krate;
    let Some(schedule) = &def.schedule else {
        return (quote!(::core::option::Option::None), TokenStream::new());
    };
    let expression = &schedule.expression;
    let overlap = if schedule.allow_overlap {
        quote!(#krate::__private::OverlapPolicy::Allow)
    } else {
        quote!(#krate::__private::OverlapPolicy::Skip)
    };
    let catch_up = match schedule.catch_up {
        CatchUp::Once => quote!(#krate::__private::CatchUpPolicy::Once),
        CatchUp::All => quote!(#krate::__private::CatchUpPolicy::All),
        CatchUp::None => quote!(#krate::__private::CatchUpPolicy::None),
    };
    // A schedule starts the workflow with `Input::default()`; spanned on the input type, so a
    // missing `Default` is reported on the user's parameter.
    let input_span = def
        .input
        .as_ref()
        .map_or_else(proc_macro2::Span::call_site, |param| {
            syn::spanned::Spanned::span(&param.ty)
        });
    let input_fn = quote_spanned! {input_span=>
        fn __eventual_schedule_input() -> #krate::__private::Value {
            #krate::__private::scheduled_input::<#input_ty>()
        }
    };
    let field = quote! {
        ::core::option::Option::Some(#krate::__private::StaticSchedule {
            expression: #expression,
            overlap: #overlap,
            catch_up: #catch_up,
            input: __eventual_schedule_input,
        })
    };
    (field, input_fn)
}
