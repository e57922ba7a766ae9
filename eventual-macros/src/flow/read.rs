//! Reads a workflow body into its [`Flow`], walking the syntax in evaluation order.
//!
//! What counts as a step:
//! - the context's step methods (`ctx.sleep`, `ctx.expect_signal`, `ctx.child::<W>`,
//!   `ctx.emit`, ...), whatever the receiver is called;
//! - an awaited call of a fn (`charge_card(order).await?`), and a call whose future is handed
//!   to a combinator, a saga or a local that is awaited later: the macro cannot know which
//!   fns are tasks, so each is a [`Step::Call`] that the manifest draws only when it names a
//!   registered `#[task]`;
//! - `saga.run(step, compensation)`, `saga.add_compensation(..)` and `saga.compensate()`.
//!
//! Futures bound to a local (`let candidates = vec![a(x), b(y)];`) are drawn where they are
//! consumed (`race(candidates).await`), not where they are built. `return`, `break` and
//! `continue` are kept (outside closures and async blocks) so that the diagram shows where
//! the flow leaves; `?` is not drawn.

use super::{Arm, Flow, Step};
use crate::check::as_written;
use quote::ToTokens;
use std::collections::HashMap;
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{Expr, ExprCall, ExprMethodCall, GenericArgument, Lit, Pat, Token};

/// The longest label the diagram shows; longer ones are cut with `…`.
const LABEL_CHARS: usize = 40;

/// Functions that wait for every future they are given.
const JOINS: &[&str] = &["all", "all_settled", "join_all", "try_join_all"];
/// Functions that wait for the first of the futures they are given.
const RACES: &[&str] = &["race", "any", "select_all", "select_ok"];
/// Macros that wait for every future they are given.
const JOIN_MACROS: &[&str] = &["join", "try_join"];
/// Wrappers whose output is their argument's future.
const PINS: &[&str] = &["pin", "new"];
/// Future adaptors whose output awaits their receiver.
const ADAPTORS: &[&str] = &[
    "boxed",
    "boxed_local",
    "fuse",
    "map",
    "map_ok",
    "map_err",
    "inspect",
    "then",
    "and_then",
    "or_else",
];

/// The flow of `body`.
pub(crate) fn read(body: &syn::Block) -> Vec<Flow> {
    let mut reader = Reader::default();
    reader.visit_block(body);
    reader.out
}

/// What a local holds, when it holds steps not yet taken.
enum Deferred {
    /// Futures, drawn when awaited or handed to a combinator.
    Futures(Vec<Arm>),
    /// `ctx.signals(name)`: each `.next()` waits for signal `name`.
    Signals(String),
}

#[derive(Default)]
struct Reader {
    out: Vec<Flow>,
    deferred: HashMap<String, Deferred>,
    /// Inside a closure or async block, where `return`, `break` and `continue` do not leave
    /// the workflow's flow.
    nested: bool,
}

impl Reader {
    /// Runs `read` on an empty sequence and returns what it collected.
    fn collect(&mut self, read: impl FnOnce(&mut Self)) -> Vec<Flow> {
        let outer = std::mem::take(&mut self.out);
        read(self);
        std::mem::replace(&mut self.out, outer)
    }

    /// [`collect`](Self::collect) inside a closure or async block.
    fn collect_nested(&mut self, read: impl FnOnce(&mut Self)) -> Vec<Flow> {
        let nested = std::mem::replace(&mut self.nested, true);
        let flow = self.collect(read);
        self.nested = nested;
        flow
    }

    fn step(&mut self, step: Step) {
        self.out.push(Flow::Step(step));
    }

    /// Reads `expr` as a future that is awaited here.
    fn awaited(&mut self, expr: &Expr) {
        match expr {
            Expr::Paren(paren) => self.awaited(&paren.expr),
            Expr::Reference(reference) => self.awaited(&reference.expr),
            Expr::Call(call) => match callee(call) {
                Some(name) if is_combinator(&name) => self.visit_expr_call(call),
                Some(name) if PINS.contains(&name.as_str()) && call.args.len() == 1 => {
                    self.awaited(&call.args[0]);
                }
                Some(name) if is_fn_name(&name) => {
                    for arg in &call.args {
                        self.visit_expr(arg);
                    }
                    self.step(Step::Call(name));
                }
                _ => self.visit_expr_call(call),
            },
            Expr::Async(block) => {
                let flow = self.collect_nested(|reader| reader.visit_block(&block.block));
                self.out.extend(flow);
            }
            Expr::Path(path) => match local(path).and_then(|name| self.deferred.remove(&name)) {
                Some(Deferred::Futures(arms)) => {
                    self.out.extend(arms.into_iter().flat_map(|arm| arm.body));
                }
                Some(Deferred::Signals(name)) => {
                    // A stream awaited as a whole is not a step; keep it for `.next()`.
                    if let Some(ident) = local(path) {
                        self.deferred.insert(ident, Deferred::Signals(name));
                    }
                }
                None => {}
            },
            Expr::MethodCall(call)
                if ADAPTORS.contains(&call.method.to_string().as_str())
                    && step_method(call).is_none() =>
            {
                self.awaited(&call.receiver);
                for arg in &call.args {
                    self.visit_expr(arg);
                }
            }
            other => self.visit_expr(other),
        }
    }

    /// The flow of the future `expr`, as if it were awaited alone.
    fn future(&mut self, expr: &Expr) -> Vec<Flow> {
        self.collect(|reader| reader.awaited(expr))
    }

    /// The arms of a combinator's argument: one per listed future, or one `each` arm for
    /// futures made by an iterator.
    fn arms(&mut self, expr: &Expr) -> Vec<Arm> {
        match expr {
            Expr::Paren(paren) => self.arms(&paren.expr),
            Expr::Reference(reference) => self.arms(&reference.expr),
            Expr::Array(array) => self.listed(array.elems.iter()),
            Expr::Macro(mac) if mac.mac.path.is_ident("vec") => {
                match mac
                    .mac
                    .parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated)
                {
                    Ok(elems) => self.listed(elems.iter()),
                    Err(_) => match mac.mac.parse_body::<syn::ExprRepeat>() {
                        Ok(repeat) => self.each(&repeat.expr),
                        Err(_) => Vec::new(),
                    },
                }
            }
            Expr::Repeat(repeat) => self.each(&repeat.expr),
            Expr::Path(path) => match local(path).and_then(|name| self.deferred.remove(&name)) {
                Some(Deferred::Futures(arms)) => arms,
                Some(Deferred::Signals(_)) | None => Vec::new(),
            },
            other => {
                let body = self.collect(|reader| reader.fan_out(other));
                vec![Arm {
                    label: "each".to_owned(),
                    body,
                }]
            }
        }
    }

    fn listed<'a>(&mut self, elems: impl Iterator<Item = &'a Expr>) -> Vec<Arm> {
        elems
            .map(|elem| Arm {
                label: String::new(),
                body: self.future(elem),
            })
            .collect()
    }

    fn each(&mut self, expr: &Expr) -> Vec<Arm> {
        vec![Arm {
            label: "each".to_owned(),
            body: self.future(expr),
        }]
    }

    /// An iterator of futures (`ids.iter().map(|id| charge(id))`, `inputs.map(double)`): the
    /// futures its closures return and the fns it maps with are its steps.
    fn fan_out(&mut self, expr: &Expr) {
        match expr {
            Expr::MethodCall(call) => {
                self.fan_out(&call.receiver);
                for arg in &call.args {
                    match arg {
                        Expr::Closure(closure) => {
                            let flow = self.collect_nested(|reader| reader.awaited(&closure.body));
                            self.out.extend(flow);
                        }
                        Expr::Path(path) if path.qself.is_none() => {
                            if let Some(name) = path_fn_name(&path.path) {
                                self.step(Step::Call(name));
                            }
                        }
                        other => self.visit_expr(other),
                    }
                }
            }
            other => self.visit_expr(other),
        }
    }

    /// A `join!`-style macro's futures.
    fn join_macro(&mut self, mac: &syn::Macro) -> bool {
        let Some(name) = mac.path.segments.last().map(|s| s.ident.to_string()) else {
            return false;
        };
        if !JOIN_MACROS.contains(&name.as_str()) {
            return false;
        }
        let Ok(elems) = mac.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated) else {
            return false;
        };
        let arms = self.listed(elems.iter());
        self.push_concurrent(format!("{name}!"), arms, false);
        true
    }

    fn push_concurrent(&mut self, label: String, arms: Vec<Arm>, race: bool) {
        let flow = if race {
            Flow::Race { label, arms }
        } else {
            Flow::Parallel { label, arms }
        };
        if flow.is_drawn() {
            self.out.push(flow);
        }
    }

    fn push_if_drawn(&mut self, flow: Flow) {
        if flow.is_drawn() {
            self.out.push(flow);
        }
    }

    /// A context or saga method that takes a step; `false` for any other method.
    fn step_call(&mut self, call: &ExprMethodCall) -> bool {
        if let (true, Expr::Path(path)) = (
            call.method == "next" && call.args.is_empty(),
            strip(&call.receiver),
        ) {
            if let Some(Deferred::Signals(name)) =
                local(path).and_then(|name| self.deferred.get(&name))
            {
                let name = name.clone();
                self.step(Step::Signal {
                    name,
                    timeout: None,
                });
                return true;
            }
        }
        let Some(kind) = step_method(call) else {
            return false;
        };
        let args: Vec<&Expr> = call.args.iter().collect();
        match kind {
            StepMethod::SagaRun => {
                let flow = self.future(args[0]);
                self.out.extend(flow);
                self.step(Step::Compensation {
                    saga: text(&call.receiver),
                    name: compensation_name(args[1]),
                });
                return true;
            }
            StepMethod::AddCompensation => {
                self.step(Step::Compensation {
                    saga: text(&call.receiver),
                    name: compensation_name(args[0]),
                });
                return true;
            }
            StepMethod::NextSignal(name) => {
                self.step(Step::Signal {
                    name,
                    timeout: None,
                });
                return true;
            }
            _ => {}
        }
        for arg in &args {
            self.visit_expr(arg);
        }
        let step = match kind {
            StepMethod::Sleep => Step::Timer(format!("sleep {}", duration(args[0]))),
            StepMethod::SleepUntil => Step::Timer(format!("sleep until {}", text(args[0]))),
            StepMethod::ExpectSignal => Step::Signal {
                name: string_or_text(args[0]),
                timeout: Some(duration(args[1])),
            },
            StepMethod::WaitForSignal => Step::Signal {
                name: string_or_text(args[0]),
                timeout: None,
            },
            StepMethod::SendSignal => Step::SendSignal(string_or_text(args[1])),
            StepMethod::Child => Step::Child(turbofish(call).unwrap_or_else(|| "child".into())),
            StepMethod::ChildByName => Step::Child(string_or_text(args[0])),
            StepMethod::Emit => Step::Emit(
                turbofish(call)
                    .or_else(|| event_type(args[0]))
                    .unwrap_or_else(|| "event".into()),
            ),
            StepMethod::EmitEvents => Step::Emit("events".into()),
            StepMethod::CallTask => match turbofish(call) {
                Some(name) => Step::Call(name),
                None => return true,
            },
            StepMethod::CallTaskByName => Step::TaskByName(string_or_text(args[0])),
            StepMethod::Compensate => Step::Compensate(text(&call.receiver)),
            StepMethod::ContinueAsNew => Step::ContinueAsNew,
            StepMethod::SagaRun | StepMethod::AddCompensation | StepMethod::NextSignal(_) => {
                unreachable!("handled above")
            }
        };
        self.step(step);
        true
    }

    /// Remembers the steps a `let` binds without taking them; `false` when `local` is not
    /// such a binding.
    fn defer(&mut self, local: &syn::Local) -> bool {
        let (Some(name), Some(init)) = (binding(&local.pat), &local.init) else {
            return false;
        };
        if init.diverge.is_some() {
            return false;
        }
        let deferred = match strip(&init.expr) {
            Expr::MethodCall(call) if signals_of(call).is_some() => {
                Deferred::Signals(signals_of(call).unwrap_or_default())
            }
            Expr::Array(_) | Expr::Repeat(_) => Deferred::Futures(self.arms(&init.expr)),
            Expr::Macro(mac) if mac.mac.path.is_ident("vec") => {
                Deferred::Futures(self.arms(&init.expr))
            }
            Expr::Async(_) => Deferred::Futures(vec![Arm {
                label: String::new(),
                body: self.future(&init.expr),
            }]),
            Expr::Call(call) => match callee(call) {
                Some(name) if PINS.contains(&name.as_str()) && call.args.len() == 1 => {
                    Deferred::Futures(vec![Arm {
                        label: String::new(),
                        body: self.future(&call.args[0]),
                    }])
                }
                Some(name) if is_fn_name(&name) && !is_combinator(&name) => {
                    // The arguments are evaluated now; the call's future runs when awaited.
                    for arg in &call.args {
                        self.visit_expr(arg);
                    }
                    Deferred::Futures(vec![Arm {
                        label: String::new(),
                        body: vec![Flow::Step(Step::Call(name))],
                    }])
                }
                _ => return false,
            },
            _ => return false,
        };
        self.deferred.insert(name, deferred);
        true
    }
}

impl<'ast> Visit<'ast> for Reader {
    fn visit_item(&mut self, _: &'ast syn::Item) {
        // Items nested in the body are not steps of the workflow.
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        if !self.defer(local) {
            visit::visit_local(self, local);
        }
    }

    fn visit_expr_await(&mut self, node: &'ast syn::ExprAwait) {
        self.awaited(&node.base);
    }

    fn visit_expr_call(&mut self, node: &'ast ExprCall) {
        match callee(node) {
            Some(name) if is_combinator(&name) && node.args.len() == 1 => {
                let arms = self.arms(&node.args[0]);
                self.push_concurrent(name.clone(), arms, RACES.contains(&name.as_str()));
            }
            _ => visit::visit_expr_call(self, node),
        }
    }

    fn visit_expr_method_call(&mut self, node: &'ast ExprMethodCall) {
        if !self.step_call(node) {
            visit::visit_expr_method_call(self, node);
        }
    }

    fn visit_expr_macro(&mut self, node: &'ast syn::ExprMacro) {
        if !self.join_macro(&node.mac) {
            visit::visit_expr_macro(self, node);
        }
    }

    fn visit_stmt_macro(&mut self, node: &'ast syn::StmtMacro) {
        if !self.join_macro(&node.mac) {
            visit::visit_stmt_macro(self, node);
        }
    }

    fn visit_expr_closure(&mut self, node: &'ast syn::ExprClosure) {
        let flow = self.collect_nested(|reader| reader.visit_expr(&node.body));
        self.out.extend(flow);
    }

    fn visit_expr_async(&mut self, node: &'ast syn::ExprAsync) {
        let flow = self.collect_nested(|reader| reader.visit_block(&node.block));
        self.out.extend(flow);
    }

    fn visit_expr_if(&mut self, node: &'ast syn::ExprIf) {
        let mut arms = Vec::new();
        let mut next = Some(node);
        while let Some(branch) = next.take() {
            // Conditions are drawn before the branch: they rarely take steps.
            self.visit_expr(&branch.cond);
            let body = self.collect(|reader| reader.visit_block(&branch.then_branch));
            arms.push(Arm {
                label: shorten(&text(&branch.cond)),
                body,
            });
            match branch.else_branch.as_ref().map(|(_, e)| &**e) {
                Some(Expr::If(elif)) => next = Some(elif),
                Some(other) => {
                    let body = self.collect(|reader| reader.visit_expr(other));
                    arms.push(Arm {
                        label: "else".into(),
                        body,
                    });
                }
                None => arms.push(Arm {
                    label: "else".into(),
                    body: Vec::new(),
                }),
            }
        }
        self.push_if_drawn(Flow::Branch {
            label: "if".into(),
            arms,
        });
    }

    fn visit_expr_match(&mut self, node: &'ast syn::ExprMatch) {
        let scrutinee = self.collect(|reader| reader.visit_expr(&node.expr));
        let label = if scrutinee.is_empty() {
            shorten(&format!("match {}", text(&node.expr)))
        } else {
            "match".to_owned()
        };
        self.out.extend(scrutinee);
        let arms = node
            .arms
            .iter()
            .map(|arm| {
                let pattern = match &arm.guard {
                    Some((_, guard)) => format!("{} if {}", text(&arm.pat), text(guard)),
                    None => text(&arm.pat),
                };
                Arm {
                    label: shorten(&pattern),
                    body: self.collect(|reader| reader.visit_expr(&arm.body)),
                }
            })
            .collect();
        self.push_if_drawn(Flow::Branch { label, arms });
    }

    fn visit_expr_for_loop(&mut self, node: &'ast syn::ExprForLoop) {
        self.visit_expr(&node.expr);
        let body = self.collect(|reader| reader.visit_block(&node.body));
        self.push_if_drawn(Flow::Loop {
            label: shorten(&format!("for {} in {}", text(&node.pat), text(&node.expr))),
            name: loop_name(node.label.as_ref()),
            exits: true,
            head: Vec::new(),
            body,
        });
    }

    fn visit_expr_while(&mut self, node: &'ast syn::ExprWhile) {
        let head = self.collect(|reader| reader.visit_expr(&node.cond));
        let body = self.collect(|reader| reader.visit_block(&node.body));
        self.push_if_drawn(Flow::Loop {
            label: shorten(&format!("while {}", text(&node.cond))),
            name: loop_name(node.label.as_ref()),
            exits: true,
            head,
            body,
        });
    }

    fn visit_expr_loop(&mut self, node: &'ast syn::ExprLoop) {
        let body = self.collect(|reader| reader.visit_block(&node.body));
        self.push_if_drawn(Flow::Loop {
            label: "loop".into(),
            name: loop_name(node.label.as_ref()),
            exits: false,
            head: Vec::new(),
            body,
        });
    }

    fn visit_expr_return(&mut self, node: &'ast syn::ExprReturn) {
        visit::visit_expr_return(self, node);
        if !self.nested {
            self.out.push(Flow::Return);
        }
    }

    fn visit_expr_break(&mut self, node: &'ast syn::ExprBreak) {
        visit::visit_expr_break(self, node);
        if !self.nested {
            self.out.push(Flow::Break(
                node.label.as_ref().map(|l| l.ident.to_string()),
            ));
        }
    }

    fn visit_expr_continue(&mut self, node: &'ast syn::ExprContinue) {
        if !self.nested {
            self.out.push(Flow::Continue(
                node.label.as_ref().map(|l| l.ident.to_string()),
            ));
        }
    }
}

/// The methods that take a step, matched by name and number of arguments.
enum StepMethod {
    Sleep,
    SleepUntil,
    ExpectSignal,
    WaitForSignal,
    /// `.next()` of `ctx.signals(name)`.
    NextSignal(String),
    SendSignal,
    Child,
    ChildByName,
    Emit,
    EmitEvents,
    CallTask,
    CallTaskByName,
    SagaRun,
    AddCompensation,
    Compensate,
    ContinueAsNew,
}

fn step_method(call: &ExprMethodCall) -> Option<StepMethod> {
    let method = call.method.to_string();
    Some(match (method.as_str(), call.args.len()) {
        ("sleep", 1) => StepMethod::Sleep,
        ("sleep_until", 1) => StepMethod::SleepUntil,
        ("expect_signal", 2) => StepMethod::ExpectSignal,
        ("wait_for_signal", 1) => StepMethod::WaitForSignal,
        ("send_signal", 3) => StepMethod::SendSignal,
        ("child", 1) | ("child_with", 2) => StepMethod::Child,
        ("child_by_name", 2) | ("child_by_name_with", 3) => StepMethod::ChildByName,
        ("emit", 1) => StepMethod::Emit,
        ("emit_events", 1) => StepMethod::EmitEvents,
        ("call_task", 1) => StepMethod::CallTask,
        ("call_task_by_name", 2) => StepMethod::CallTaskByName,
        ("run", 2) => StepMethod::SagaRun,
        ("add_compensation", 1) => StepMethod::AddCompensation,
        ("compensate", 0) => StepMethod::Compensate,
        ("continue_as_new", 1) => StepMethod::ContinueAsNew,
        ("next", 0) => StepMethod::NextSignal(match strip(&call.receiver) {
            Expr::MethodCall(inner) => signals_of(inner)?,
            _ => return None,
        }),
        _ => return None,
    })
}

/// The signal name of `ctx.signals(name)`.
fn signals_of(call: &ExprMethodCall) -> Option<String> {
    (call.method == "signals" && call.args.len() == 1).then(|| string_or_text(&call.args[0]))
}

fn strip(expr: &Expr) -> &Expr {
    match expr {
        Expr::Paren(paren) => strip(&paren.expr),
        Expr::Reference(reference) => strip(&reference.expr),
        other => other,
    }
}

/// The last segment of a call's path, if the callee is a path.
fn callee(call: &ExprCall) -> Option<String> {
    match &*call.func {
        Expr::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .map(|segment| segment.ident.to_string()),
        _ => None,
    }
}

fn is_combinator(name: &str) -> bool {
    JOINS.contains(&name) || RACES.contains(&name)
}

/// Whether `name` is written like a fn (snake case), not a type or variant (`Ok`, `Some`).
fn is_fn_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_lowercase() || c == '_')
}

/// The fn a path names, if it is written like one.
fn path_fn_name(path: &syn::Path) -> Option<String> {
    let name = path.segments.last()?.ident.to_string();
    is_fn_name(&name).then_some(name)
}

/// The local a path expression names (`candidates`), if it is a single identifier.
fn local(path: &syn::ExprPath) -> Option<String> {
    (path.qself.is_none())
        .then(|| path.path.get_ident().map(ToString::to_string))
        .flatten()
}

/// The identifier a `let` pattern binds, if it is one identifier.
fn binding(pat: &Pat) -> Option<String> {
    match pat {
        Pat::Ident(ident) if ident.subpat.is_none() => Some(ident.ident.to_string()),
        Pat::Type(typed) => binding(&typed.pat),
        _ => None,
    }
}

fn loop_name(label: Option<&syn::Label>) -> Option<String> {
    label.map(|label| label.name.ident.to_string())
}

/// The last segment of the first type in a method's turbofish (`child::<audit>` → `audit`).
fn turbofish(call: &ExprMethodCall) -> Option<String> {
    call.turbofish
        .as_ref()?
        .args
        .iter()
        .find_map(|arg| match arg {
            GenericArgument::Type(syn::Type::Path(ty)) => {
                ty.path.segments.last().map(|s| s.ident.to_string())
            }
            _ => None,
        })
}

/// The type of an emitted value written as a struct literal (`OrderPlaced { .. }`) or built
/// by an associated fn (`OrderPlaced::new(..)`).
fn event_type(expr: &Expr) -> Option<String> {
    match strip(expr) {
        Expr::Struct(literal) => literal.path.segments.last().map(|s| s.ident.to_string()),
        Expr::Call(call) => match &*call.func {
            Expr::Path(path) => {
                let segments = &path.path.segments;
                let owner = segments.iter().rev().nth(1)?.ident.to_string();
                owner
                    .starts_with(|c: char| c.is_uppercase())
                    .then_some(owner)
            }
            _ => None,
        },
        _ => None,
    }
}

/// What a saga runs to undo a step: a fn passed by name, or the fn a closure calls.
fn compensation_name(expr: &Expr) -> String {
    let name = match strip(expr) {
        Expr::Path(path) => path_fn_name(&path.path),
        Expr::Closure(closure) => match strip(&closure.body) {
            Expr::Call(call) => callee(call),
            Expr::Async(block) => block.block.stmts.iter().find_map(|stmt| match stmt {
                syn::Stmt::Expr(Expr::Await(awaited), _) => match strip(&awaited.base) {
                    Expr::Call(call) => callee(call),
                    _ => None,
                },
                _ => None,
            }),
            _ => None,
        },
        _ => None,
    };
    name.unwrap_or_else(|| "compensation".to_owned())
}

/// A string literal's value, else the expression as written.
fn string_or_text(expr: &Expr) -> String {
    match strip(expr) {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(lit), ..
        }) => lit.value(),
        other => shorten(&text(other)),
    }
}

/// A duration as a person says it when written as `Duration::from_secs(90)` and the like,
/// else as written.
fn duration(expr: &Expr) -> String {
    if let Expr::Call(call) = strip(expr) {
        if let (
            Some(unit),
            [Expr::Lit(syn::ExprLit {
                lit: Lit::Int(n), ..
            })],
        ) = (
            callee(call),
            call.args.iter().collect::<Vec<_>>().as_slice(),
        ) {
            let suffix = match unit.as_str() {
                "from_millis" => Some("ms"),
                "from_secs" => Some("s"),
                "from_mins" => Some("min"),
                "from_hours" => Some("h"),
                "from_days" => Some("d"),
                _ => None,
            };
            if let Some(suffix) = suffix {
                return format!("{}{suffix}", n.base10_digits());
            }
        }
    }
    shorten(&text(expr))
}

fn text(node: &impl ToTokens) -> String {
    as_written(node.to_token_stream()).replace(" ?", "?")
}

/// `text` cut to [`LABEL_CHARS`] characters.
fn shorten(text: &str) -> String {
    if text.chars().count() <= LABEL_CHARS {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(LABEL_CHARS - 1).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(body: proc_macro2::TokenStream) -> Vec<Flow> {
        read(&syn::parse2(quote::quote!({ #body })).unwrap())
    }

    fn call(name: &str) -> Flow {
        Flow::Step(Step::Call(name.into()))
    }

    #[test]
    fn awaited_calls_are_steps_in_order() {
        assert_eq!(
            flow(quote::quote! {
                let a = reserve(x).await?;
                let b = charge(a.clone()).await.map_err(Error::from)?;
                let total = sum(&b);
                ship(a, b).await
            }),
            [call("reserve"), call("charge"), call("ship")]
        );
    }

    #[test]
    fn futures_bound_to_a_local_are_drawn_where_consumed() {
        assert_eq!(
            flow(quote::quote! {
                let candidates = vec![a(1), Box::pin(async { ctx.sleep(Duration::from_secs(5)).await; })];
                ctx.emit(Started { id }).await?;
                let (winner, _) = race(candidates).await;
            }),
            [
                Flow::Step(Step::Emit("Started".into())),
                Flow::Race {
                    label: "race".into(),
                    arms: vec![
                        Arm {
                            label: String::new(),
                            body: vec![call("a")]
                        },
                        Arm {
                            label: String::new(),
                            body: vec![Flow::Step(Step::Timer("sleep 5s".into()))]
                        },
                    ]
                }
            ]
        );
    }

    #[test]
    fn returns_in_closures_do_not_end_the_flow() {
        assert_eq!(
            flow(quote::quote! {
                let f = |x: u32| { if x > 1 { return 2; } 3 };
                if f(1) > 2 { return Ok(()); }
                done().await
            }),
            [
                Flow::Branch {
                    label: "if".into(),
                    arms: vec![
                        Arm {
                            label: "f(1) > 2".into(),
                            body: vec![Flow::Return]
                        },
                        Arm {
                            label: "else".into(),
                            body: vec![]
                        },
                    ]
                },
                call("done")
            ]
        );
    }

    #[test]
    fn iterators_of_futures_fan_out_and_signal_streams_wait_each_round() {
        let signal = |name: &str| {
            Flow::Step(Step::Signal {
                name: name.into(),
                timeout: None,
            })
        };
        assert_eq!(
            flow(quote::quote! {
                let results = all_settled(inputs.into_iter().map(double)).await;
                let mut updates = ctx.signals::<String>("update");
                while let Some(update) = updates.next().await {
                    notify(update?).await?;
                }
                futures::join!(ctx.wait_for_signal::<u8>("a"), first(1));
            }),
            [
                Flow::Parallel {
                    label: "all_settled".into(),
                    arms: vec![Arm {
                        label: "each".into(),
                        body: vec![call("double")]
                    }]
                },
                Flow::Loop {
                    label: "while let Some(update) = updates.next()…".into(),
                    name: None,
                    exits: true,
                    head: vec![signal("update")],
                    body: vec![call("notify")],
                },
                Flow::Parallel {
                    label: "join!".into(),
                    arms: vec![
                        Arm {
                            label: String::new(),
                            body: vec![signal("a")]
                        },
                        Arm {
                            label: String::new(),
                            body: vec![call("first")]
                        },
                    ]
                },
            ]
        );
    }

    #[test]
    fn long_labels_are_shortened() {
        assert_eq!(shorten("abc"), "abc");
        let long = "x".repeat(60);
        let short = shorten(&long);
        assert_eq!(short.chars().count(), LABEL_CHARS);
        assert!(short.ends_with('…'));
    }
}
