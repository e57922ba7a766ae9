//! Expansion snapshots of `#[workflow]`, `#[task]`, `#[on_event]`, `#[api]` and `#[entity]`.
//!
//! A proc-macro crate can export only macros, and its entry points need the compiler's
//! `proc_macro` bridge. The work happens in `expand::dispatch`, which is written against
//! `proc_macro2`, `syn` and `quote` alone, so this test compiles the crate's modules (all but
//! `lib.rs`) into itself with `#[path]` and calls `dispatch` directly, under the same module
//! names so that their `crate::...` paths resolve.
//!
//! Snapshots live in `tests/snapshots/`. After a deliberate change to the expansion, review
//! and accept with `INSTA_UPDATE=always cargo test -p eventual-macros --test expand` (or
//! `cargo insta review`); in CI (`CI=true`) a missing or changed snapshot fails.

#[allow(dead_code)]
#[path = "../src/attr/mod.rs"]
mod attr;
#[allow(dead_code)]
#[path = "../src/check.rs"]
mod check;
#[allow(dead_code)]
#[path = "../src/ctxt.rs"]
mod ctxt;
#[allow(dead_code)]
#[path = "../src/duration.rs"]
mod duration;
#[allow(dead_code)]
#[path = "../src/entity.rs"]
mod entity;
#[allow(dead_code)]
#[path = "../src/expand/mod.rs"]
mod expand;
#[allow(dead_code)]
#[path = "../src/flow/mod.rs"]
mod flow;
#[allow(dead_code)]
#[path = "../src/model.rs"]
mod model;
#[allow(dead_code)]
#[path = "../src/route.rs"]
mod route;

use model::Kind;
use proc_macro2::TokenStream;
use quote::quote;

/// Runs one attribute the way its entry point does, formats the result and compares it with
/// snapshot `name`, whose header shows the input.
fn check(name: &str, kind: Kind, args: TokenStream, item: TokenStream) {
    let description = format!("#[{kind}({args})]\n{}", pretty_input(&item));
    snapshot(name, description, expand::dispatch(kind, args, item));
}

fn pretty_input(item: &TokenStream) -> String {
    syn::parse2::<syn::File>(item.clone())
        .map_or_else(|_| item.to_string(), |file| prettyplease::unparse(&file))
}

/// Compares the formatted `tokens` with snapshot `name`.
fn snapshot(name: &str, description: String, tokens: TokenStream) {
    let file: syn::File = match syn::parse2(tokens.clone()) {
        Ok(file) => file,
        Err(error) => panic!("the expansion is not a valid file: {error}\n{tokens}"),
    };
    let expanded = prettyplease::unparse(&file);
    let mut settings = insta::Settings::clone_current();
    settings.set_omit_expression(true);
    settings.set_description(description);
    settings.bind(|| insta::assert_snapshot!(name, expanded));
}

#[test]
fn workflow_plain() {
    check(
        "workflow_plain",
        Kind::Workflow,
        quote!(),
        quote! {
            async fn count(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
                let a = add_one(n).await?;
                ctx.sleep(Duration::from_secs(5)).await;
                Ok(a)
            }
        },
    );
}

#[test]
fn workflow_without_input() {
    check(
        "workflow_without_input",
        Kind::Workflow,
        quote!(),
        quote! {
            pub async fn nightly(ctx: WorkflowContext) -> Result<(), WorkflowError> {
                ctx.sleep(Duration::from_secs(86_400)).await;
                Ok(())
            }
        },
    );
}

#[test]
fn workflow_with_options_and_facts() {
    check(
        "workflow_with_options_and_facts",
        Kind::Workflow,
        quote!(name = "orders.place", timeout = "1h 30m", retention = "30d"),
        quote! {
            /// Places an order.
            pub async fn place_order(
                ctx: WorkflowContext,
                order: Order,
            ) -> Result<OrderStatus, WorkflowError> {
                let reservation = reserve_inventory(order.clone()).await?;
                let receipt = payments::charge_card(order.clone(), reservation).await?;
                let approval = ctx
                    .expect_signal::<Approval>("approve", Duration::from_secs(3600))
                    .await?;
                let cancel = ctx.wait_for_signal::<Cancel>("cancel");
                let shipment = ctx.child::<ship_order>(order.clone()).await?;
                ctx.emit(OrderPlaced { id: order.id, amount: order.total }).await?;
                let _ = (receipt, approval, cancel, shipment);
                Ok(OrderStatus::Placed)
            }
        },
    );
}

#[test]
fn workflow_flow_with_branches_loops_and_joins() {
    check(
        "workflow_flow_with_branches_loops_and_joins",
        Kind::Workflow,
        quote!(),
        quote! {
            async fn restock(ctx: WorkflowContext, skus: Vec<String>) -> Result<(), WorkflowError> {
                let saga = ctx.saga();
                saga.run(hold(skus.clone()), |hold| unhold(hold)).await?;
                for sku in skus {
                    match count(sku.clone()).await? {
                        0 => order_more(sku).await?,
                        n if n > 100 => {
                            saga.compensate().await;
                            return Ok(());
                        }
                        _ => {}
                    }
                }
                let (first, _) = race(vec![
                    ctx.sleep(Duration::from_secs(60)),
                    ctx.sleep_until(deadline),
                ]).await;
                futures::join!(ctx.child::<audit>(()), ctx.emit(Restocked { first }));
                Ok(())
            }
        },
    );
}

#[test]
fn workflow_scheduled_with_default_input_and_policies() {
    check(
        "workflow_scheduled_with_default_input_and_policies",
        Kind::Workflow,
        quote!(
            schedule = "cron(0 12 ? * MON-FRI *)",
            overlap = "allow",
            catch_up = "all"
        ),
        quote! {
            async fn report(ctx: WorkflowContext, options: ReportOptions) -> Result<(), WorkflowError> {
                Ok(())
            }
        },
    );
}

#[test]
fn workflow_scheduled_without_input() {
    check(
        "workflow_scheduled_without_input",
        Kind::Workflow,
        quote!(schedule = "rate(5 minutes)"),
        quote! {
            async fn sweep(ctx: WorkflowContext) -> Result<(), WorkflowError> {
                Ok(())
            }
        },
    );
}

#[test]
fn task_one_param() {
    check(
        "task_one_param",
        Kind::Task,
        quote!(),
        quote! {
            async fn add_one(n: u64) -> Result<u64, StepError> {
                Ok(n + 1)
            }
        },
    );
}

#[test]
fn task_all_options_and_patterns() {
    check(
        "task_all_options_and_patterns",
        Kind::Task,
        quote!(
            name = "payments.charge",
            timeout = "30s",
            heartbeat = "5s",
            retry(
                max_attempts = 5,
                backoff = "fixed",
                initial = "250ms",
                max = "2m",
                multiplier = 1.5,
                jitter = 0.2
            )
        ),
        quote! {
            #[doc = "Charges a card."]
            pub(crate) async fn charge(
                Card { number, .. }: Card,
                (amount, currency): (u64, String),
                mut note: String,
                _: (),
            ) -> Result<Receipt, PaymentError> {
                note.push('!');
                Ok(Receipt::new(number, amount, currency, note))
            }
        },
    );
}

#[test]
fn task_no_params_crate_override() {
    check(
        "task_no_params_crate_override",
        Kind::Task,
        quote!(crate = "renamed::rt", retry(max_attempts = 2)),
        quote! {
            async fn next_id() -> Result<u64, StepError> {
                Ok(7)
            }
        },
    );
}

#[test]
fn on_event_with_retry_no_dead_letter() {
    check(
        "on_event_with_retry_no_dead_letter",
        Kind::OnEvent,
        quote!(
            pattern = r#"{"detail-type": ["OrderPlaced"], "detail": {"amount": [{"numeric": [">", 100]}]}, "source": ["orders"]}"#,
            name = "notify-big-order",
            retry(max_attempts = 4, initial = "2s"),
            dead_letter = false
        ),
        quote! {
            pub async fn notify_big_order(event: Event<OrderPlaced>) -> Result<(), HandlerError> {
                notify(&event.detail).await
            }
        },
    );
}

#[test]
fn on_event_plain() {
    check(
        "on_event_plain",
        Kind::OnEvent,
        quote!(pattern = r#"{"source": ["orders"]}"#),
        quote! {
            async fn audit(event: Event<serde_json::Value>) -> Result<(), String> {
                let _ = event;
                Ok(())
            }
        },
    );
}

/// On errors, every error is emitted, then the function unchanged.
#[test]
fn errors_are_collected_and_the_function_kept() {
    check(
        "errors_are_collected_and_the_function_kept",
        Kind::Task,
        quote!(timeout = "soon", retries = 3, retry(jitter = 2.0)),
        quote! {
            fn add_one<T>(ctx: WorkflowContext, n: u64) -> Result<u64, StepError> {
                Ok(n + 1)
            }
        },
    );
}

#[test]
fn api_post_with_body_and_response() {
    check(
        "api_post_with_body_and_response",
        Kind::Api,
        quote!(POST "/orders", auth = "jwt"),
        quote! {
            pub async fn create_order(
                ctx: ApiContext,
                Json(order): Json<Order>,
            ) -> Result<ApiResponse<OrderAccepted>, ApiError> {
                let started = ctx.start::<place_order>(order).await?;
                Ok(ApiResponse::accepted(OrderAccepted::from(started)))
            }
        },
    );
}

#[test]
fn api_get_with_path_query_and_headers() {
    check(
        "api_get_with_path_query_and_headers",
        Kind::Api,
        quote!(GET "/customers/{customer}/orders/{id}", name = "customer-order"),
        quote! {
            async fn customer_order(
                id: u64,
                headers: Headers,
                customer: String,
                Query(page): Query<Page>,
            ) -> Result<OrderView, OrderError> {
                lookup(customer, id, page, headers.get("accept-language")).await
            }
        },
    );
}

/// `#[entity]` on an impl block: the snapshot shows the impl kept as written, the
/// `<State>Ref` client, the `Entity` impl and the registry entry.
#[test]
fn entity_with_commands_and_snapshots() {
    let args = quote!(snapshot_every = 100);
    let item = quote! {
        impl Account {
            fn apply(&mut self, event: &AccountEvent) {
                match event {
                    AccountEvent::Deposited { amount } => self.balance += amount,
                    AccountEvent::Withdrew { amount } => self.balance -= amount,
                }
            }

            /// Takes `amount` if the balance covers it.
            async fn withdraw(&self, ctx: EntityContext, amount: u64) -> Result<Vec<AccountEvent>, AccountError> {
                if self.balance < amount {
                    return Err(AccountError::Insufficient);
                }
                Ok(vec![AccountEvent::Withdrew { amount }])
            }

            #[command(name = "close")]
            async fn close_account(&self, ctx: EntityContext, reason: String, at: u64) -> Result<Vec<AccountEvent>, AccountError> {
                Ok(Vec::new())
            }
        }
    };
    let description = format!("#[entity({args})]\n{}", pretty_input(&item));
    snapshot(
        "entity_with_commands_and_snapshots",
        description,
        expand::entity::dispatch(args, item),
    );
}
