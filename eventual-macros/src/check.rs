//! Checks on a workflow's body (determinism) and on patterns, plus the facts the registry
//! records about a body: functions it calls, children, signals and events.

use crate::ctxt::Ctxt;
use std::collections::BTreeSet;
use syn::visit::{self, Visit};
use syn::{Expr, ExprCall, ExprMethodCall, GenericArgument, Lit, LitStr};

/// A call a workflow body may not make, matched by the end of its path.
struct Forbidden {
    suffix: &'static [&'static str],
    why: &'static str,
    help: &'static str,
}

const CLOCK: &str = "use `ctx.now()`, which is recorded in history";
const SLEEP: &str = "use `ctx.sleep(duration).await`, a durable timer";
const SPAWN: &str = "call a #[task], or start a child workflow with `ctx.child::<W>(input)`; \
                     wait for several steps with `all`, `race`, `any` or `all_settled`";
const RANDOM: &str = "use `ctx.random()`, which is recorded in history";
const UUID: &str = "use `ctx.uuid()`, which is recorded in history";
const ENV: &str = "read configuration in a #[task], or pass it in the workflow's input";

const FORBIDDEN: &[Forbidden] = &[
    Forbidden {
        suffix: &["SystemTime", "now"],
        why: "reads the wall clock",
        help: CLOCK,
    },
    Forbidden {
        suffix: &["Instant", "now"],
        why: "reads the wall clock",
        help: CLOCK,
    },
    Forbidden {
        suffix: &["Utc", "now"],
        why: "reads the wall clock",
        help: CLOCK,
    },
    Forbidden {
        suffix: &["Local", "now"],
        why: "reads the wall clock",
        help: CLOCK,
    },
    Forbidden {
        suffix: &["OffsetDateTime", "now_utc"],
        why: "reads the wall clock",
        help: CLOCK,
    },
    Forbidden {
        suffix: &["time", "sleep"],
        why: "waits on real time, which replay skips",
        help: SLEEP,
    },
    Forbidden {
        suffix: &["thread", "sleep"],
        why: "waits on real time, which replay skips",
        help: SLEEP,
    },
    Forbidden {
        suffix: &["tokio", "spawn"],
        why: "starts work outside the workflow's history",
        help: SPAWN,
    },
    Forbidden {
        suffix: &["task", "spawn"],
        why: "starts work outside the workflow's history",
        help: SPAWN,
    },
    Forbidden {
        suffix: &["thread", "spawn"],
        why: "starts work outside the workflow's history",
        help: SPAWN,
    },
    Forbidden {
        suffix: &["task", "spawn_blocking"],
        why: "starts work outside the workflow's history",
        help: SPAWN,
    },
    Forbidden {
        suffix: &["rand", "random"],
        why: "draws a different number on every replay",
        help: RANDOM,
    },
    Forbidden {
        suffix: &["thread_rng"],
        why: "draws different numbers on every replay",
        help: RANDOM,
    },
    Forbidden {
        suffix: &["rand", "rng"],
        why: "draws different numbers on every replay",
        help: RANDOM,
    },
    Forbidden {
        suffix: &["Uuid", "new_v4"],
        why: "makes a different id on every replay",
        help: UUID,
    },
    Forbidden {
        suffix: &["Uuid", "now_v7"],
        why: "makes a different id on every replay",
        help: UUID,
    },
    Forbidden {
        suffix: &["env", "var"],
        why: "reads the environment, which may change between replays",
        help: ENV,
    },
    Forbidden {
        suffix: &["env", "var_os"],
        why: "reads the environment, which may change between replays",
        help: ENV,
    },
    Forbidden {
        suffix: &["env", "vars"],
        why: "reads the environment, which may change between replays",
        help: ENV,
    },
    Forbidden {
        suffix: &["tokio", "select"],
        why: "picks a random ready branch",
        help: "use `race(...)` or `futures::select_biased!`",
    },
];

/// What the registry records about a workflow body.
#[derive(Default)]
pub(crate) struct BodyFacts {
    /// Functions called by name (candidates for tasks).
    pub(crate) calls: BTreeSet<String>,
    /// Tasks called by a literal name with `ctx.call_task_by_name("...")`.
    pub(crate) named_tasks: BTreeSet<String>,
    /// Timers started with `ctx.sleep(..)` / `ctx.sleep_until(..)`, as written.
    pub(crate) timers: BTreeSet<String>,
    /// Workflows started with `ctx.child::<W>(...)`.
    pub(crate) children: BTreeSet<String>,
    /// Signal names waited for or read.
    pub(crate) signals: BTreeSet<String>,
    /// Types emitted with `ctx.emit(Type { .. })`.
    pub(crate) events: BTreeSet<String>,
}

struct BodyVisitor<'a> {
    cx: &'a Ctxt,
    facts: BodyFacts,
}

/// Reports every non-deterministic call in a workflow body and collects its facts.
pub(crate) fn check_body(cx: &Ctxt, body: &syn::Block) -> BodyFacts {
    let mut visitor = BodyVisitor {
        cx,
        facts: BodyFacts::default(),
    };
    visitor.visit_block(body);
    visitor.facts
}

impl BodyVisitor<'_> {
    /// `bang` is `"!"` for a macro's path, so that the message names it as written.
    fn check_path(&self, path: &syn::Path, bang: &str) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        for rule in FORBIDDEN {
            if segments.len() >= rule.suffix.len()
                && segments[segments.len() - rule.suffix.len()..]
                    .iter()
                    .zip(rule.suffix)
                    .all(|(a, b)| a == b)
            {
                self.cx.error_spanned_by(
                    path,
                    format!(
                        "`{}{bang}` cannot be used in a #[workflow]: it {}\n\nhelp: {}",
                        segments.join("::"),
                        rule.why,
                        rule.help
                    ),
                );
            }
        }
    }
}

impl BodyVisitor<'_> {
    /// A function called by `path` is a task candidate when its name is snake case.
    fn record_call(&mut self, path: &syn::Path) {
        if let Some(last) = path.segments.last() {
            let name = last.ident.to_string();
            if name.starts_with(|c: char| c.is_lowercase() || c == '_') {
                self.facts.calls.insert(name);
            }
        }
    }
}

impl<'ast> Visit<'ast> for BodyVisitor<'_> {
    fn visit_item(&mut self, _: &'ast syn::Item) {
        // Items nested in the body are not part of the workflow's steps.
    }

    fn visit_expr_path(&mut self, node: &'ast syn::ExprPath) {
        self.check_path(&node.path, "");
        visit::visit_expr_path(self, node);
    }

    fn visit_macro(&mut self, node: &'ast syn::Macro) {
        self.check_path(&node.path, "!");
        visit::visit_macro(self, node);
    }

    fn visit_expr_call(&mut self, node: &'ast ExprCall) {
        if let Expr::Path(path) = &*node.func {
            self.record_call(&path.path);
        }
        visit::visit_expr_call(self, node);
    }

    fn visit_expr_method_call(&mut self, node: &'ast ExprMethodCall) {
        let method = node.method.to_string();
        match method.as_str() {
            "run" => {
                // `saga.run(step(x), compensation)`: the compensation is a function passed by
                // name, called when the saga compensates.
                if let Some(Expr::Path(path)) = node.args.iter().nth(1) {
                    if path.qself.is_none() {
                        self.record_call(&path.path);
                    }
                }
            }
            "call_task" => {
                // `ctx.call_task::<T>(input)`: `T` is the task's type, named like its fn.
                if let Some(turbofish) = &node.turbofish {
                    for arg in &turbofish.args {
                        if let GenericArgument::Type(syn::Type::Path(ty)) = arg {
                            self.record_call(&ty.path);
                        }
                    }
                }
            }
            "call_task_by_name" => {
                if let Some(Expr::Lit(lit)) = node.args.first() {
                    if let Lit::Str(name) = &lit.lit {
                        self.facts.named_tasks.insert(name.value());
                    }
                }
            }
            "sleep" | "sleep_until" => {
                let args = node
                    .args
                    .iter()
                    .map(|arg| as_written(quote::quote!(#arg)))
                    .collect::<Vec<_>>();
                self.facts
                    .timers
                    .insert(format!("{method}({})", args.join(", ")));
            }
            "expect_signal" | "wait_for_signal" | "signals" => {
                if let Some(Expr::Lit(lit)) = node.args.first() {
                    if let Lit::Str(name) = &lit.lit {
                        self.facts.signals.insert(name.value());
                    }
                }
            }
            "child" => {
                if let Some(turbofish) = &node.turbofish {
                    for arg in &turbofish.args {
                        if let GenericArgument::Type(syn::Type::Path(ty)) = arg {
                            if let Some(last) = ty.path.segments.last() {
                                self.facts.children.insert(last.ident.to_string());
                            }
                        }
                    }
                }
            }
            "emit" => {
                if let Some(Expr::Struct(event)) = node.args.first() {
                    if let Some(last) = event.path.segments.last() {
                        self.facts.events.insert(last.ident.to_string());
                    }
                }
            }
            _ => {}
        }
        visit::visit_expr_method_call(self, node);
    }
}

/// Tokens as a person writes them: `Duration::from_secs(5)`, not `Duration :: from_secs (5)`.
pub(crate) fn as_written(tokens: proc_macro2::TokenStream) -> String {
    let mut text = tokens.to_string();
    for (spaced, tight) in [
        (" :: ", "::"),
        (" (", "("),
        ("( ", "("),
        (" )", ")"),
        (" ,", ","),
        (" . ", "."),
        (" !", "!"),
    ] {
        text = text.replace(spaced, tight);
    }
    text
}

/// Parses an `#[on_event]` pattern with the runtime's own parser; returns it as compact JSON.
pub(crate) fn check_pattern(cx: &Ctxt, lit: &LitStr) -> Option<String> {
    let text = lit.value();
    match eventual_pattern::EventPattern::parse(&text) {
        Ok(_) => match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(value) => Some(value.to_string()),
            Err(error) => {
                cx.error_spanned_by(lit, format!("Event pattern is not valid. Reason: {error}"));
                None
            }
        },
        Err(error) => {
            cx.error_spanned_by(lit, error.to_string());
            None
        }
    }
}
