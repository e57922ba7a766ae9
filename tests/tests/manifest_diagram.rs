//! The workflow diagrams (`<workflow>.mmd`): `#[workflow]` reads the body's durable steps in
//! order and the manifest draws them. Fixtures here use every construct the diagram knows;
//! each chart is snapshotted and checked structurally (`eventual_tests::mermaid`).

use eventual_runtime::manifest::{diagram, generate, Inventory, WorkflowInfo};
use eventual_runtime::prelude::*;
use eventual_tests::mermaid::{self, Flowchart};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;

/// This test binary's crate: its own items only.
const CRATE: &str = "manifest_diagram";

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Parcel {
    id: String,
    sku: String,
    items: Vec<String>,
    amount: u64,
    express: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Fulfilled {
    id: String,
}

#[task]
async fn check_stock(sku: String) -> Result<u32, StepError> {
    Ok(sku.len() as u32)
}

#[task(retry(max_attempts = 4))]
async fn reserve(sku: String) -> Result<String, StepError> {
    Ok(format!("res-{sku}"))
}

#[task]
async fn release(reservation: String) -> Result<(), StepError> {
    let _ = reservation;
    Ok(())
}

#[task(retry(max_attempts = 3))]
async fn charge(amount: u64) -> Result<String, StepError> {
    Ok(format!("pay-{amount}"))
}

#[task]
async fn refund(payment: String) -> Result<(), StepError> {
    let _ = payment;
    Ok(())
}

#[task]
async fn pack(item: String) -> Result<(), StepError> {
    let _ = item;
    Ok(())
}

#[task]
async fn quote_carrier(carrier: String) -> Result<u64, StepError> {
    Ok(carrier.len() as u64)
}

#[task]
async fn notify(message: String) -> Result<(), StepError> {
    let _ = message;
    Ok(())
}

/// Not a task: awaited in a body, it takes no durable step and is not drawn.
async fn format_label(id: &str) -> String {
    format!("label-{id}")
}

#[workflow]
async fn audit(_ctx: WorkflowContext, id: String) -> Result<String, WorkflowError> {
    Ok(id)
}

#[on_event(pattern = r#"{"detail-type": ["Fulfilled"]}"#)]
async fn on_fulfilled(event: Event<Fulfilled>) -> Result<(), StepError> {
    let _ = event;
    Ok(())
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Every construct the diagram draws: a saga step and its compensation, an `if` chain that
/// compensates and returns, a timer, a `match` with a guard and a signal wait with a
/// timeout, a loop of tasks, a join, a race of a signal and a timer, a child workflow, an
/// emitted event and a `while let` loop over a signal stream that breaks or compensates.
#[workflow(timeout = "1d")]
async fn fulfil(ctx: WorkflowContext, parcel: Parcel) -> Result<String, WorkflowError> {
    let saga = ctx.saga();
    let reservation = saga.run(reserve(parcel.sku.clone()), release).await?;
    let _label = format_label(&parcel.id).await;
    if parcel.amount > 1_000 {
        // No durable step in either arm: the branch is not drawn.
        let _big = format_label("big").await;
    }
    let stock = check_stock(parcel.sku.clone()).await?;
    if stock == 0 {
        saga.compensate().await;
        return Err(WorkflowError::new("OutOfStock", reservation));
    } else if parcel.express {
        ctx.sleep(Duration::from_secs(60)).await;
    }
    let payment = match charge(parcel.amount).await {
        Ok(payment) => payment,
        Err(error) if error.kind == StepErrorKind::TimedOut => {
            ctx.expect_signal::<String>("approve", Duration::from_secs(3600))
                .await?
        }
        Err(error) => {
            saga.compensate().await;
            return Err(error.into());
        }
    };
    let refunded = payment.clone();
    saga.add_compensation(move || refund(refunded));
    for item in parcel.items.clone() {
        pack(item).await?;
    }
    let quotes = all(vec![
        quote_carrier("ups".to_owned()),
        quote_carrier("dhl".to_owned()),
    ])
    .await?;
    let pickup: Vec<Boxed<'_, bool>> = vec![
        Box::pin(async { ctx.wait_for_signal::<String>("picked_up").await.is_ok() }),
        Box::pin(async {
            ctx.sleep(Duration::from_secs(86_400)).await;
            false
        }),
    ];
    let (picked_up, _) = race(pickup).await;
    ctx.child::<audit>(parcel.id.clone()).await?;
    ctx.emit(Fulfilled {
        id: parcel.id.clone(),
    })
    .await?;
    let mut updates = ctx.signals::<String>("update");
    while let Some(update) = updates.next().await {
        let update = update?;
        if update == "done" {
            break;
        }
        if update == "cancel" {
            saga.compensate().await;
            return Err(WorkflowError::new("Cancelled", update));
        }
        notify(format!("{} update", parcel.id)).await?;
    }
    Ok(format!("{payment} {quotes:?} {picked_up}"))
}

/// Charges, then ships: the order test's fixture.
#[workflow]
async fn charge_then_pack(_ctx: WorkflowContext, amount: u64) -> Result<(), WorkflowError> {
    charge(amount).await?;
    pack("box".to_owned()).await?;
    Ok(())
}

/// The same steps as `charge_then_pack`, swapped.
#[workflow]
async fn pack_then_charge(_ctx: WorkflowContext, amount: u64) -> Result<(), WorkflowError> {
    pack("box".to_owned()).await?;
    charge(amount).await?;
    Ok(())
}

/// A `loop` with `continue` and a labelled `break`, and work that continues as new.
#[workflow]
async fn poll_stock(ctx: WorkflowContext, rounds: u32) -> Result<(), WorkflowError> {
    let mut seen = 0;
    'poll: loop {
        let stock = check_stock("BOOK".to_owned()).await?;
        if stock == 0 {
            ctx.sleep(Duration::from_secs(30)).await;
            continue;
        }
        seen += 1;
        if seen > 3 {
            break 'poll;
        }
    }
    if rounds > 10 {
        return ctx.continue_as_new(rounds - 10).await;
    }
    Ok(())
}

fn inventory() -> Inventory {
    Inventory::linked().of_crate(CRATE)
}

fn workflow<'a>(inventory: &'a Inventory, name: &str) -> &'a WorkflowInfo {
    inventory
        .workflows
        .iter()
        .find(|w| w.name == name)
        .unwrap_or_else(|| panic!("workflow `{name}` is not linked"))
}

/// The checked diagram of workflow `name`.
fn chart(name: &str) -> (String, Flowchart) {
    let inventory = inventory();
    let text = diagram(workflow(&inventory, name), &inventory);
    let chart = mermaid::check(&text).unwrap_or_else(|error| panic!("{error}\n{text}"));
    (text, chart)
}

/// The one node labelled `label`.
fn node<'a>(chart: &'a Flowchart, label: &str) -> &'a str {
    match chart.nodes_labelled(label).as_slice() {
        [one] => one,
        other => panic!("{} nodes labelled {label:?}: {other:?}", other.len()),
    }
}

#[test]
fn every_construct_is_drawn() {
    let (text, _) = chart("fulfil");
    insta::assert_snapshot!("fulfil.mmd", text);
}

#[test]
fn loops_continue_break_and_continue_as_new() {
    let (text, chart) = chart("poll_stock");
    insta::assert_snapshot!("poll_stock.mmd", text);
    let (head, timer) = (node(&chart, "loop"), node(&chart, "timer: sleep 30s"));
    assert!(
        chart.flows(timer, head),
        "`continue` goes back to the loop\n{text}"
    );
    let again = node(&chart, "continue as new");
    assert!(chart.flows(again, "start"), "a new run starts over\n{text}");
}

#[test]
fn steps_are_drawn_in_the_order_the_body_runs_them() {
    for (name, first, second) in [
        ("charge_then_pack", "charge", "pack"),
        ("pack_then_charge", "pack", "charge"),
    ] {
        let (text, chart) = chart(name);
        let first = node(
            &chart,
            &format!("task: {first}<br/>attempts {}", attempts(first)),
        );
        let second = node(
            &chart,
            &format!("task: {second}<br/>attempts {}", attempts(second)),
        );
        assert!(chart.flows("start", first), "{name}\n{text}");
        assert!(chart.flows(first, second), "{name}\n{text}");
        assert!(chart.flows(second, "finish"), "{name}\n{text}");
        assert_eq!(chart.edges.len(), 3, "{name}\n{text}");
    }
}

fn attempts(task: &str) -> u32 {
    match task {
        "charge" => 3,
        _ => 1,
    }
}

#[test]
fn branches_are_labelled_with_conditions_and_patterns() {
    let (text, chart) = chart("fulfil");
    let labels: Vec<&str> = chart
        .edges
        .iter()
        .filter_map(|edge| edge.label.as_deref())
        .collect();
    for expected in [
        "stock == 0",
        "parcel.express",
        "else",
        "Ok(payment)",
        "Err(error) if error.kind == StepErrorKi…",
        "Err(error)",
        "next",
        "done",
        "undo 1",
        "undo 2",
        "may match",
    ] {
        assert!(labels.contains(&expected), "no edge {expected:?}\n{text}");
    }
    // Not a task: not drawn, nor the branch around it.
    assert!(!text.contains("format_label"), "{text}");
    assert!(!text.contains("1_000"), "{text}");
}

#[test]
fn the_build_writes_the_diagrams() {
    let artifacts = generate("diagram-fixtures", &inventory(), &[CRATE]).unwrap();
    let (text, _) = chart("fulfil");
    assert_eq!(artifacts.files["fulfil.mmd"], text);
    for (name, text) in &artifacts.files {
        if name.ends_with(".mmd") {
            mermaid::check(text).unwrap_or_else(|error| panic!("{name}: {error}\n{text}"));
        }
    }
}

#[test]
fn labels_are_escaped() {
    let mut inventory = inventory();
    let mut info = workflow(&inventory, "charge_then_pack").clone();
    info.name = "say \"hi\" <b>#1</b>".to_owned();
    inventory.workflows.push(info.clone());
    let text = eventual_runtime::manifest::flowchart(
        &info,
        &[eventual_runtime::registry::FlowNode::Step(
            eventual_runtime::registry::FlowStep::Signal {
                name: "a \"quoted\" <name>",
                timeout: None,
            },
        )],
        &inventory,
    );
    mermaid::check(&text).unwrap_or_else(|error| panic!("{error}\n{text}"));
    assert!(
        text.contains("say #quot;hi#quot; #lt;b#gt;#35;1#lt;/b#gt;"),
        "{text}"
    );
    assert!(
        text.contains("signal: a #quot;quoted#quot; #lt;name#gt;"),
        "{text}"
    );
}
