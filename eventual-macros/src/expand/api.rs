//! `#[api]`: the function unchanged, a handler that takes its inputs from the request and
//! turns its result into a reply, and a registry entry with the route and its schemas.
//!
//! The handler's own names start with `__eventual_`, so that no parameter of the user's fn
//! (bound under its own name) can shadow them.

use super::register::{registration, str_slice};
use crate::route::{ApiDef, Input};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

pub(crate) fn expand(def: &ApiDef) -> TokenStream {
    let f = &def.f;
    let krate = &f.krate;
    let item = &f.item;
    let ident = &item.sig.ident;
    let error = &f.error;
    let private = quote!(#krate::__private);

    let bindings: Vec<_> = f.params.iter().map(|param| &param.binding).collect();
    let extractions = f.params.iter().zip(&def.inputs).map(|(param, input)| {
        let binding = &param.binding;
        let ty = &param.ty;
        let taken = match input {
            Input::Path(name) => quote_spanned! {ty.span()=>
                __eventual_request.path_param::<#ty>(#name)
            },
            Input::Extracted => quote_spanned! {ty.span()=>
                <#ty as #private::FromApiRequest>::from_request(&__eventual_request)
            },
        };
        quote! {
            let #binding = match #taken {
                ::core::result::Result::Ok(value) => value,
                ::core::result::Result::Err(error) => return #private::ApiReply::from(error),
            };
        }
    });
    let respond = if def.returns_response {
        quote!(result)
    } else {
        quote!(result.map(#private::ApiResponse::ok))
    };
    // Spanned on the error type: an error type without `Into<ApiError>` is reported there.
    let reply = quote_spanned! {error.span()=>
        #private::ApiReply::of::<_, #error>(#respond)
    };

    let method = &def.method;
    let path = &def.path;
    let auth = match def.auth.as_str() {
        "iam" => quote!(#private::ApiAuth::Iam),
        "jwt" => quote!(#private::ApiAuth::Jwt),
        _ => quote!(#private::ApiAuth::None),
    };
    let path_params = str_slice(&def.path_params);
    let (path_param_schema_fns, path_param_schemas) = path_param_schemas(def, &private);
    let chooses_status = def.returns_response;
    let schema = |ty: &syn::Type| quote!(#private::schema_of::<#ty>);
    let optional_schema = |ty: Option<&syn::Type>| match ty {
        Some(ty) => {
            let schema = schema(ty);
            quote!(::core::option::Option::Some(#schema))
        }
        None => quote!(::core::option::Option::None),
    };
    let body = optional_schema(def.body.as_ref());
    let query = optional_schema(def.query.as_ref());
    let response = schema(&def.response);
    let fields = quote! {
        method: #method,
        path: #path,
        auth: #auth,
        path_params: #path_params,
        path_param_schemas: #path_param_schemas,
        body: #body,
        query: #query,
        response: #response,
        chooses_status: #chooses_status,
        handle: __eventual_route,
    };
    let registration = registration(f, "API_ROUTES", "ApiRouteDescriptor", fields);
    quote! {
        #item

        const _: () = {
            fn __eventual_route(
                __eventual_request: #private::ApiRequest,
            ) -> #private::BoxFuture<'static, #private::ApiReply> {
                #private::run_route(async move {
                    // Taken before the parameters are bound: one may bear the fn's name.
                    let __eventual_fn = #ident;
                    #(#extractions)*
                    let result = __eventual_fn(#(#bindings),*).await;
                    #reply
                })
            }
            #(#path_param_schema_fns)*
            #registration
        };
    }
}

/// One schema function per path parameter, in path order, and the slice that lists them. Each
/// picks its type's own schema, or a string's when the type has none (see the runtime's
/// `__private::PathParamSchema`).
fn path_param_schemas(def: &ApiDef, private: &TokenStream) -> (Vec<TokenStream>, TokenStream) {
    let mut fns = Vec::new();
    let mut idents = Vec::new();
    for (index, name) in def.path_params.iter().enumerate() {
        let param = def
            .f
            .params
            .iter()
            .zip(&def.inputs)
            .find(|(_, input)| matches!(input, Input::Path(bound) if bound == name));
        // A path parameter without an argument is already an error; it gets no schema.
        let Some((param, _)) = param else { continue };
        let ty = &param.ty;
        let ident = quote::format_ident!("__eventual_path_param_schema_{index}");
        fns.push(quote! {
            fn #ident(
                __eventual_generator: &mut #private::schemars::SchemaGenerator,
            ) -> #private::schemars::Schema {
                #[allow(unused_imports)]
                use #private::{PathParamOwnSchema as _, PathParamStringSchema as _};
                (&#private::PathParamSchema::<#ty>::new()).schema_fn()(__eventual_generator)
            }
        });
        idents.push(ident);
    }
    (fns, quote!(&[#(#idents),*]))
}
