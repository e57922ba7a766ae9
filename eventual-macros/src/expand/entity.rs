//! `#[entity]`: the impl block as written; a `<State>Ref` client whose methods send the
//! commands; the `Entity` impl; and a registry entry that folds events and runs commands on
//! JSON, for engines.

use super::register::option_u64;
use crate::ctxt::Ctxt;
use crate::entity::{self, EntityDef};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::ItemImpl;

/// Parses, checks and expands `#[entity]`. On errors, the impl block is emitted unchanged
/// next to the errors, so that its uses do not add follow-up errors.
pub(crate) fn dispatch(args: TokenStream, item: TokenStream) -> TokenStream {
    let item_impl: ItemImpl = match syn::parse2(item.clone()) {
        Ok(item_impl) => item_impl,
        Err(_) => {
            let message = "#[entity] applies to an `impl State { ... }` block";
            let error = match syn::parse2::<syn::Item>(item.clone()) {
                Ok(other) => syn::Error::new_spanned(other, message),
                Err(_) => syn::Error::new(proc_macro2::Span::call_site(), message),
            };
            let error = error.to_compile_error();
            return quote!(#error #item);
        }
    };
    let cx = Ctxt::new();
    let def = entity::build(&cx, args, item_impl.clone());
    match (cx.check(), def) {
        (Ok(()), Some(def)) => expand(&def),
        (Err(error), def) => {
            let error = error.to_compile_error();
            // The markers are not attributes rustc knows: emit the block without them.
            let item = def.map_or(item_impl, |def| def.item);
            let item = strip_markers(item);
            quote!(#error #item)
        }
        (Ok(()), None) => unreachable!("the model is only missing after an error"),
    }
}

/// The impl block without `#[command]` markers.
fn strip_markers(mut item: ItemImpl) -> ItemImpl {
    for impl_item in &mut item.items {
        if let syn::ImplItem::Fn(method) = impl_item {
            method.attrs.retain(|attr| !attr.path().is_ident("command"));
        }
    }
    item
}

pub(crate) fn expand(def: &EntityDef) -> TokenStream {
    let EntityDef {
        item,
        state,
        state_ident,
        event,
        name,
        krate,
        ..
    } = def;
    let reference = format_ident!("{}Ref", state_ident);
    let snapshot_every = option_u64(def.snapshot_every);
    let command_names = def.commands.iter().map(|command| &command.name);
    let methods = def.commands.iter().map(|command| {
        let (ident, name, error, docs) =
            (&command.ident, &command.name, &command.error, &command.docs);
        let bindings: Vec<_> = command.params.iter().map(|(binding, _)| binding).collect();
        let types: Vec<_> = command.params.iter().map(|(_, ty)| ty).collect();
        quote! {
            #(#docs)*
            pub fn #ident(&self, #(#bindings: #types),*) -> #krate::__private::BoxFuture<
                'static,
                ::core::result::Result<
                    #krate::entity::Applied<#event>,
                    #krate::entity::EntityError<#error>,
                >,
            > {
                self.target.send(#name, #krate::__private::command_args_to_json(&(#(#bindings,)*)))
            }
        }
    });
    let arms = def.commands.iter().map(|command| {
        let (ident, name) = (&command.ident, &command.name);
        let bindings: Vec<_> = command.params.iter().map(|(binding, _)| binding).collect();
        let types: Vec<_> = command.params.iter().map(|(_, ty)| ty).collect();
        let checks = types.iter().map(|ty| {
            quote_spanned! {ty.span()=> #krate::__private::assert_command_arg::<#ty>();}
        });
        let error = &command.error;
        let error_check = quote_spanned! {error.span()=>
            #krate::__private::assert_command_error::<#error>();
        };
        quote! {
            #name => {
                #(#checks)*
                #error_check
                let (#(#bindings,)*): (#(#types,)*) = #krate::__private::command_args_from_json(#name, args)?;
                ::core::result::Result::Ok(#krate::__private::run_command(async move {
                    state.#ident(ctx, #(#bindings),*).await
                }))
            }
        }
    });
    let state_check = quote_spanned! {state.span()=>
        #krate::__private::assert_entity_state::<#state>();
    };
    let event_check = quote_spanned! {event.span()=>
        #krate::__private::assert_entity_event::<#event>();
    };
    let doc = format!(
        "Commands to one [`{state_ident}`] entity (type `{name}`), by id: what \
         `entity::<{state_ident}>(id)` returns on a workflow context or a client."
    );
    let line = quote_spanned!(state_ident.span()=> ::core::line!());
    quote! {
        #item

        #[doc = #doc]
        #[derive(Clone, Debug)]
        pub struct #reference {
            target: #krate::__private::EntityTarget,
        }

        impl ::core::convert::From<#krate::__private::EntityTarget> for #reference {
            fn from(target: #krate::__private::EntityTarget) -> Self {
                #reference { target }
            }
        }

        #[allow(private_interfaces, clippy::too_many_arguments)]
        impl #reference {
            /// Applies each command at most once per `key`: a command sent again with a key
            /// that was already applied answers what it answered then, appending nothing.
            pub fn idempotency_key(mut self, key: impl ::core::convert::Into<::std::string::String>) -> Self {
                self.target = self.target.with_idempotency_key(key.into());
                self
            }

            /// The entity's id.
            pub fn id(&self) -> &str {
                self.target.id()
            }

            #(#methods)*
        }

        impl #krate::entity::Entity for #state {
            type Event = #event;
            type Ref = #reference;
            const TYPE: &'static str = #name;
            const SNAPSHOT_EVERY: ::core::option::Option<u64> = #snapshot_every;

            fn apply(&mut self, event: &Self::Event) {
                <#state>::apply(self, event)
            }
        }

        const _: () = {
            fn __eventual_fold(
                state: ::core::option::Option<#krate::__private::Value>,
                events: &[#krate::__private::Value],
            ) -> ::core::result::Result<#krate::__private::Value, ::std::string::String> {
                #state_check
                #event_check
                #krate::__private::fold_entity::<#state>(state, events)
            }

            fn __eventual_decide(
                state: #krate::__private::Value,
                command: &str,
                args: #krate::__private::Value,
                ctx: #krate::entity::EntityContext,
            ) -> ::core::result::Result<
                #krate::__private::BoxFuture<'static, #krate::__private::CommandOutcome>,
                ::std::string::String,
            > {
                let state: #state = #krate::__private::entity_state_from_json(state)?;
                match command {
                    #(#arms)*
                    other => ::core::result::Result::Err(#krate::__private::unknown_command(#name, other)),
                }
            }

            #[#krate::__private::linkme::distributed_slice(#krate::__private::ENTITIES)]
            #[linkme(crate = #krate::__private::linkme)]
            static __EVENTUAL_REGISTRATION: #krate::__private::EntityDescriptor = #krate::__private::EntityDescriptor {
                name: #name,
                location: #krate::__private::SourceLocation {
                    rust_path: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#state_ident)),
                    file: ::core::file!(),
                    line: #line,
                },
                snapshot_every: #snapshot_every,
                commands: &[#(#command_names),*],
                event_type: ::core::stringify!(#event),
                fold: __eventual_fold,
                decide: __eventual_decide,
            };
        };
    }
}
