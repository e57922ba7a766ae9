//! `#[task]`: the function, which schedules the task when called inside a workflow and runs
//! the body otherwise; a same-named type implementing `Task`; and a registry entry.

use super::register::{assert_serde, option_u64, registration, retry_policy};
use crate::model::TaskDef;
use proc_macro2::{Delimiter, Group, TokenStream};
use quote::quote;

pub(crate) fn expand(def: &TaskDef) -> TokenStream {
    let f = &def.f;
    let krate = &f.krate;
    let item = &f.item;
    let (attrs, vis, sig, block) = (&item.attrs, &item.vis, &item.sig, &item.block);
    let ident = &sig.ident;
    let name = &f.name;
    let (output, error) = (&f.output, &f.error);

    let bindings: Vec<_> = f.params.iter().map(|p| &p.binding).collect();
    let types: Vec<_> = f.params.iter().map(|p| &p.ty).collect();
    // Parameters with patterns are taken by a plain binding and destructured in the body.
    let rebinds = f.params.iter().filter_map(|param| {
        let (pat, binding) = (&param.pat, &param.binding);
        let plain = matches!(&**pat, syn::Pat::Ident(p) if &p.ident == binding);
        (!plain).then(|| quote!(let #pat = #binding;))
    });
    let params = f.params.iter().map(|param| {
        let (pat, binding, ty) = (&param.pat, &param.binding, &param.ty);
        if matches!(&**pat, syn::Pat::Ident(p) if &p.ident == binding) {
            quote!(#pat: #ty)
        } else {
            quote!(#binding: #ty)
        }
    });
    let (input_ty, input_value) = match bindings.as_slice() {
        [] => (quote!(()), quote!(())),
        [one] => {
            let ty = &types[0];
            (quote!(#ty), quote!(#one))
        }
        _ => {
            // The tuple's parentheses take the span of the parameter list, so that an error
            // of the `Task` impl on the whole tuple points there rather than at the attribute.
            let mut tuple = Group::new(Delimiter::Parenthesis, quote!(#(#types,)*));
            tuple.set_span(sig.paren_token.span.join());
            (quote!(#tuple), quote!((#(#bindings,)*)))
        }
    };
    let input_pattern = match bindings.as_slice() {
        [] => quote!(()),
        [one] => quote!(#one),
        _ => quote!((#(#bindings,)*)),
    };
    let output_ty = &sig.output;
    let asyncness = &sig.asyncness;
    // The `Task` impl below requires serde on `Input`, `Output` and `Error`, spanned on the
    // user's types. Only a tuple of several parameters needs a check per parameter, so that
    // the error points at the one that does not serialize.
    let checks: Vec<_> = if types.len() > 1 {
        types
            .iter()
            .map(|ty| assert_serde(f, ty, "assert_task_input"))
            .collect()
    } else {
        Vec::new()
    };
    let timeout = option_u64(def.timeout_ms);
    let heartbeat = option_u64(def.heartbeat_ms);
    let retry = retry_policy(f, def.retry.as_ref());
    let doc = format!("The task type of [`{ident}()`], registered as `{name}`.");
    let fields = quote! {
        options: <#ident as #krate::__private::Task>::OPTIONS,
        run: __eventual_run,
    };
    let registration = registration(f, "TASKS", "TaskDescriptor", fields);
    quote! {
        #(#attrs)*
        #vis #asyncness fn #ident(#(#params),*) #output_ty {
            if let ::core::option::Option::Some(__eventual_ctx) = #krate::__private::current_workflow() {
                return __eventual_ctx.call_task::<#ident>(#input_value).await;
            }
            #(#rebinds)*
            #block
        }

        #[doc = #doc]
        #[allow(non_camel_case_types)]
        #vis struct #ident {}

        impl #krate::__private::Task for #ident {
            type Input = #input_ty;
            type Output = #output;
            type Error = #error;
            const NAME: &'static str = #name;
            const OPTIONS: #krate::__private::TaskOptions = #krate::__private::TaskOptions {
                timeout_ms: #timeout,
                heartbeat_ms: #heartbeat,
                retry: #retry,
            };
        }

        const _: () = {
            fn __eventual_run(
                input: #krate::__private::Value,
            ) -> ::core::result::Result<
                #krate::__private::BoxFuture<'static, ::core::result::Result<#krate::__private::Value, #krate::Failure>>,
                ::std::string::String,
            > {
                #(#checks)*
                #krate::__private::run_task::<#ident, _, _>(input, |#input_pattern| #ident(#(#bindings),*))
            }
            #registration
        };
    }
}
