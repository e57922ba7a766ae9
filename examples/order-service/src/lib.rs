//! The order service of the "EDA on AWS" seed, written with eventual-rs.
//!
//! `place_order` reserves inventory, charges the card and ships, emitting `OrderPlaced` and
//! `OrderShipped`. When a step fails, the saga undoes the earlier ones in reverse order
//! (refund the payment, release the inventory). Two handlers react to the events: one flags
//! big orders, one notifies the customer.
//!
//! Customers reach it through two routes: `POST /orders` starts `place_order` and answers 202
//! with a `Location`; `GET /orders/{id}` says where the order stands.
//!
//! The side effects are simulated so the service runs anywhere: SKUs starting with `OUT-`
//! are out of stock, totals above 1,000,000 cents are declined, region `mars` cannot be
//! shipped to.

use eventual_runtime::api::{ApiContext, ApiError, ApiResponse, Json};
use eventual_runtime::engine::ServiceError;
use eventual_runtime::prelude::*;
use eventual_runtime::workflow::Outcome;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An order as the customer placed it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Order {
    /// The order id.
    pub id: String,
    /// Who ordered.
    pub customer: String,
    /// What.
    pub items: Vec<LineItem>,
    /// The amount to charge, in cents.
    pub total_cents: u64,
    /// Where to ship.
    pub region: String,
}

/// One line of an order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LineItem {
    /// The product.
    pub sku: String,
    /// How many.
    pub quantity: u32,
}

/// Inventory held for an order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reservation {
    /// The reservation id.
    pub id: String,
    /// The order.
    pub order_id: String,
}

/// A charge on the customer's card.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    /// The payment id.
    pub id: String,
    /// The order.
    pub order_id: String,
    /// The amount, in cents.
    pub amount_cents: u64,
}

/// A parcel on its way.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shipment {
    /// The carrier's tracking number.
    pub tracking: String,
    /// The order.
    pub order_id: String,
}

/// What `place_order` returns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OrderConfirmation {
    /// The order.
    pub order_id: String,
    /// The amount charged, in cents.
    pub charged_cents: u64,
    /// The tracking number.
    pub tracking: String,
}

/// Emitted when an order is accepted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderPlaced {
    /// The order.
    pub order_id: String,
    /// Who ordered.
    pub customer: String,
    /// The amount, in cents.
    pub total_cents: u64,
    /// Where it ships.
    pub region: String,
}

/// Emitted when an order has shipped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderShipped {
    /// The order.
    pub order_id: String,
    /// The tracking number.
    pub tracking: String,
}

/// Why an order failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum OrderError {
    /// A product is out of stock.
    #[error("{sku} is out of stock")]
    OutOfStock {
        /// The product.
        sku: String,
    },
    /// The card was declined.
    #[error("payment declined: {reason}")]
    PaymentDeclined {
        /// Why.
        reason: String,
    },
    /// No carrier serves the region.
    #[error("cannot ship to {region}")]
    ShippingUnavailable {
        /// The region.
        region: String,
    },
    /// A step timed out, panicked or could not run.
    #[error(transparent)]
    Step(#[from] StepError),
}

/// Holds the order's items in the warehouse.
#[task(timeout = "10s", retry(max_attempts = 3, initial = "1s"))]
pub async fn reserve_inventory(order: Order) -> Result<Reservation, OrderError> {
    if let Some(item) = order.items.iter().find(|item| item.sku.starts_with("OUT-")) {
        return Err(OrderError::OutOfStock {
            sku: item.sku.clone(),
        });
    }
    Ok(Reservation {
        id: format!("res-{}", order.id),
        order_id: order.id,
    })
}

/// Gives reserved items back (compensation of `reserve_inventory`).
#[task(timeout = "10s", retry(max_attempts = 5, initial = "1s"))]
pub async fn release_inventory(reservation: Reservation) -> Result<(), OrderError> {
    let _ = reservation;
    Ok(())
}

/// Charges the customer's card.
#[task(
    timeout = "30s",
    retry(max_attempts = 5, backoff = "exponential", initial = "1s", max = "30s")
)]
pub async fn charge_card(order: Order) -> Result<Payment, OrderError> {
    if order.total_cents > 1_000_000 {
        return Err(OrderError::PaymentDeclined {
            reason: "amount above the card's limit".to_owned(),
        });
    }
    Ok(Payment {
        id: format!("pay-{}", order.id),
        order_id: order.id,
        amount_cents: order.total_cents,
    })
}

/// Refunds a payment (compensation of `charge_card`).
#[task(timeout = "30s", retry(max_attempts = 5, initial = "1s"))]
pub async fn refund_payment(payment: Payment) -> Result<(), OrderError> {
    let _ = payment;
    Ok(())
}

/// Hands the parcel to a carrier.
#[task(timeout = "1m", retry(max_attempts = 3, initial = "5s"))]
pub async fn ship_order(order: Order, reservation: Reservation) -> Result<Shipment, OrderError> {
    if order.region == "mars" {
        return Err(OrderError::ShippingUnavailable {
            region: order.region,
        });
    }
    Ok(Shipment {
        tracking: format!("trk-{}", reservation.id),
        order_id: order.id,
    })
}

/// Places an order: reserve → charge → ship, undoing earlier steps when a later one fails.
#[workflow(timeout = "1h")]
pub async fn place_order(
    ctx: WorkflowContext,
    order: Order,
) -> Result<OrderConfirmation, OrderError> {
    ctx.emit(OrderPlaced {
        order_id: order.id.clone(),
        customer: order.customer.clone(),
        total_cents: order.total_cents,
        region: order.region.clone(),
    })
    .await?;

    // `query <execution> stage` reads where the order is, without touching its history.
    ctx.answer_query("stage", "reserving");
    let saga = ctx.saga();
    let reservation = saga
        .run(reserve_inventory(order.clone()), release_inventory)
        .await?;
    ctx.answer_query("stage", "charging");
    let payment = match saga.run(charge_card(order.clone()), refund_payment).await {
        Ok(payment) => payment,
        Err(error) => {
            saga.compensate().await;
            return Err(error);
        }
    };
    ctx.answer_query("stage", "shipping");
    let shipment = match ship_order(order.clone(), reservation).await {
        Ok(shipment) => shipment,
        Err(error) => {
            saga.compensate().await;
            return Err(error);
        }
    };

    ctx.answer_query("stage", "shipped");
    ctx.emit(OrderShipped {
        order_id: order.id.clone(),
        tracking: shipment.tracking.clone(),
    })
    .await?;
    Ok(OrderConfirmation {
        order_id: order.id,
        charged_cents: payment.amount_cents,
        tracking: shipment.tracking,
    })
}

/// Flags orders above 100.00 for review.
#[on_event(
    pattern = r#"{"detail-type": ["OrderPlaced"], "detail": {"total_cents": [{"numeric": [">", 10000]}]}}"#,
    retry(max_attempts = 3, initial = "1s")
)]
pub async fn flag_big_order(event: Event<OrderPlaced>) -> Result<(), OrderError> {
    tracing::info!(order = %event.detail.order_id, "big order flagged for review");
    Ok(())
}

/// Tells the customer their parcel is on its way.
#[on_event(
    pattern = r#"{"detail-type": ["OrderShipped"]}"#,
    retry(max_attempts = 5)
)]
pub async fn notify_customer(event: Event<OrderShipped>) -> Result<(), OrderError> {
    tracing::info!(order = %event.detail.order_id, tracking = %event.detail.tracking, "customer notified");
    Ok(())
}

/// The answer to `POST /orders`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OrderAccepted {
    /// The order.
    pub order_id: String,
    /// The `place_order` execution that handles it.
    pub execution_id: String,
    /// `false` when the order had been placed before (the request is idempotent).
    pub created: bool,
}

/// Where an order stands: the answer to `GET /orders/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OrderStatus {
    /// The order.
    pub order_id: String,
    /// The `place_order` execution that handles it.
    pub execution_id: String,
    /// `running`, `succeeded`, `failed`, `cancelled`, ...
    pub status: String,
    /// What was charged and the tracking number, once the order succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<OrderConfirmation>,
    /// Why it failed, once it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The execution that handles order `order_id`: one per order, so placing it twice is safe.
pub fn order_execution_id(order_id: &str) -> String {
    format!("order-{order_id}")
}

/// Places an order: starts `place_order` for it and answers 202 with where to follow it.
#[api(POST "/orders")]
pub async fn create_order(
    ctx: ApiContext,
    Json(order): Json<Order>,
) -> Result<ApiResponse<OrderAccepted>, ApiError> {
    if order.id.is_empty() {
        return Err(ApiError::bad_request("body: `id` must not be empty"));
    }
    let order_id = order.id.clone();
    let started = ctx
        .start_named::<place_order>(order_execution_id(&order_id), order)
        .await?;
    let location = format!("/orders/{order_id}");
    Ok(ApiResponse::accepted(OrderAccepted {
        order_id,
        execution_id: started.execution_id,
        created: started.created,
    })
    .with_header("location", location))
}

/// Where order `id` stands.
#[api(GET "/orders/{id}")]
pub async fn get_order(ctx: ApiContext, id: String) -> Result<OrderStatus, ApiError> {
    let execution_id = order_execution_id(&id);
    let execution = ctx
        .execution(&execution_id)
        .await
        .map_err(|error| match error {
            ServiceError::NotFound(_) => ApiError::not_found(format!("no order `{id}`")),
            other => other.into(),
        })?;
    let (confirmation, error) = match execution.outcome {
        Some(Outcome::Succeeded { result }) => (serde_json::from_value(result).ok(), None),
        Some(Outcome::Failed { error }) => (None, Some(error.message)),
        _ => (None, None),
    };
    Ok(OrderStatus {
        order_id: id,
        execution_id,
        status: execution.status.as_str().to_owned(),
        confirmation,
        error,
    })
}

/// An example order.
pub fn sample_order(id: &str, total_cents: u64, region: &str) -> Order {
    Order {
        id: id.to_owned(),
        customer: "ada@example.com".to_owned(),
        items: vec![LineItem {
            sku: "BOOK-42".to_owned(),
            quantity: 1,
        }],
        total_cents,
        region: region.to_owned(),
    }
}

/// Links this crate's registrations into a binary that names nothing else from it.
///
/// The linker drops a dependency crate that a binary never references, and with it that
/// crate's registry entries; a service binary calls this once so they are kept.
pub fn link() {}
