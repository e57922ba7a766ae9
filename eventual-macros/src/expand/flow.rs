//! A workflow's [`Flow`] as the runtime's `&'static [FlowNode]` constant.

use crate::flow::{Arm, Flow, Step};
use proc_macro2::TokenStream;
use quote::quote;

/// `&[FlowNode, ...]` for `flows`, with paths under `krate`.
pub(crate) fn flow_slice(krate: &syn::Path, flows: &[Flow]) -> TokenStream {
    let nodes = flows.iter().map(|flow| node(krate, flow));
    quote!(&[#(#nodes),*])
}

fn node(krate: &syn::Path, flow: &Flow) -> TokenStream {
    let node = quote!(#krate::__private::FlowNode);
    match flow {
        Flow::Step(step) => {
            let step = self::step(krate, step);
            quote!(#node::Step(#step))
        }
        Flow::Branch { label, arms } => {
            let arms = arm_slice(krate, arms);
            quote!(#node::Branch { label: #label, arms: #arms })
        }
        Flow::Loop {
            label,
            name,
            exits,
            head,
            body,
        } => {
            let name = option_str(name.as_deref());
            let head = flow_slice(krate, head);
            let body = flow_slice(krate, body);
            quote!(#node::Loop { label: #label, name: #name, exits: #exits, head: #head, body: #body })
        }
        Flow::Parallel { label, arms } => {
            let arms = arm_slice(krate, arms);
            quote!(#node::Parallel { label: #label, arms: #arms })
        }
        Flow::Race { label, arms } => {
            let arms = arm_slice(krate, arms);
            quote!(#node::Race { label: #label, arms: #arms })
        }
        Flow::Return => quote!(#node::Return),
        Flow::Break(name) => {
            let name = option_str(name.as_deref());
            quote!(#node::Break(#name))
        }
        Flow::Continue(name) => {
            let name = option_str(name.as_deref());
            quote!(#node::Continue(#name))
        }
    }
}

fn arm_slice(krate: &syn::Path, arms: &[Arm]) -> TokenStream {
    let arms = arms.iter().map(|Arm { label, body }| {
        let body = flow_slice(krate, body);
        quote!(#krate::__private::FlowArm { label: #label, body: #body })
    });
    quote!(&[#(#arms),*])
}

fn step(krate: &syn::Path, step: &Step) -> TokenStream {
    let step_ty = quote!(#krate::__private::FlowStep);
    match step {
        Step::Call(name) => quote!(#step_ty::Call(#name)),
        Step::TaskByName(name) => quote!(#step_ty::TaskByName(#name)),
        Step::Timer(label) => quote!(#step_ty::Timer(#label)),
        Step::Signal { name, timeout } => {
            let timeout = option_str(timeout.as_deref());
            quote!(#step_ty::Signal { name: #name, timeout: #timeout })
        }
        Step::SendSignal(name) => quote!(#step_ty::SendSignal(#name)),
        Step::Child(name) => quote!(#step_ty::Child(#name)),
        Step::Emit(name) => quote!(#step_ty::Emit(#name)),
        Step::Compensation { saga, name } => {
            quote!(#step_ty::Compensation { saga: #saga, name: #name })
        }
        Step::Compensate(saga) => quote!(#step_ty::Compensate(#saga)),
        Step::ContinueAsNew => quote!(#step_ty::ContinueAsNew),
    }
}

fn option_str(value: Option<&str>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}
