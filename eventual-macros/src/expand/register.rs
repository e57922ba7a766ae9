//! Pieces shared by the three expansions: the registry entry and option constants.

use crate::attr::RetryArgs;
use crate::model::FnDef;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

/// A `static` descriptor added to the runtime's distributed slice `slice`.
pub(crate) fn registration(f: &FnDef, slice: &str, ty: &str, fields: TokenStream) -> TokenStream {
    let krate = &f.krate;
    let slice = syn::Ident::new(slice, proc_macro2::Span::call_site());
    let ty = syn::Ident::new(ty, proc_macro2::Span::call_site());
    let name = &f.name;
    let ident = &f.item.sig.ident;
    let line = quote_spanned!(ident.span()=> ::core::line!());
    quote! {
        #[#krate::__private::linkme::distributed_slice(#krate::__private::#slice)]
        #[linkme(crate = #krate::__private::linkme)]
        static __EVENTUAL_REGISTRATION: #krate::__private::#ty = #krate::__private::#ty {
            name: #name,
            location: #krate::__private::SourceLocation {
                rust_path: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#ident)),
                file: ::core::file!(),
                line: #line,
            },
            #fields
        };
    }
}

/// A `RetryPolicy` constant; `None` is a single attempt.
pub(crate) fn retry_policy(f: &FnDef, retry: Option<&RetryArgs>) -> TokenStream {
    let krate = &f.krate;
    match retry {
        None => quote!(#krate::__private::RetryPolicy::NONE),
        Some(retry) => {
            let RetryArgs {
                max_attempts,
                exponential,
                initial_ms,
                max_ms,
                multiplier,
                jitter,
            } = retry;
            let backoff = if *exponential {
                quote!(#krate::__private::Backoff::Exponential)
            } else {
                quote!(#krate::__private::Backoff::Fixed)
            };
            quote! {
                #krate::__private::RetryPolicy {
                    max_attempts: #max_attempts,
                    backoff: #backoff,
                    initial_ms: #initial_ms,
                    max_ms: #max_ms,
                    multiplier: #multiplier,
                    jitter: #jitter,
                }
            }
        }
    }
}

pub(crate) fn option_u64(value: Option<u64>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}

/// A static assertion, spanned on `ty`, that it serializes both ways.
pub(crate) fn assert_serde(f: &FnDef, ty: &syn::Type, role: &str) -> TokenStream {
    let krate = &f.krate;
    let check = syn::Ident::new(role, proc_macro2::Span::call_site());
    quote_spanned! {syn::spanned::Spanned::span(ty)=>
        #krate::__private::#check::<#ty>();
    }
}

/// Names as a `&[&str]` literal.
pub(crate) fn str_slice<'a>(names: impl IntoIterator<Item = &'a String>) -> TokenStream {
    let names = names.into_iter();
    quote!(&[#(#names),*])
}
