//! The schema types of the OpenAPI document: the answers `service/views.rs` builds, the
//! request bodies the handlers read, and the errors. Read by the derive macros, never built.

#![allow(dead_code)]

use crate::domain::outbox::{Channel, OutboxStatus};
use crate::domain::webhooks::WebhookEvent;
use crate::domain::{
    FulfillmentStatus, PaymentMethod, PaymentStatus, ShipmentStatus, ShippingPoint,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use std::borrow::Cow;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoResponses, PartialSchema, ToSchema};
use uuid::Uuid;

/// A string schema limited to `names`.
fn names(description: &str, names: Vec<&'static str>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(names))
        .into()
}

/// A schema type written by hand: `$name` with the schema `$schema`.
macro_rules! hand_schema {
    ($(#[$m:meta])* $name:ident => $schema:expr) => {
        $(#[$m])*
        pub struct $name;
        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema
            }
        }
        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

hand_schema!(
    /// Money in an answer: a decimal string with two places.
    Money => ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r"^-?[0-9]+\.[0-9]{2}$"))
        .description(Some("An amount as a decimal string with two places"))
        .examples([json!("19.99")])
        .into()
);

hand_schema!(
    /// A decimal in a request: a JSON string (`"19.99"`) or a JSON number (`19.99`), read
    /// exactly from its text.
    DecimalIn => OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::String).examples([json!("19.99")]))
        .item(ObjectBuilder::new().schema_type(Type::Number).examples([json!(19.99)]))
        .description(Some(
            "A decimal as a string or a number, read exactly from its text (never through a \
             float); money has at most two places",
        ))
        .into()
);

hand_schema!(PaymentStatusName => names(
    "A payment status",
    PaymentStatus::ALL.iter().map(|s| s.as_str()).collect()
));
hand_schema!(FulfillmentStatusName => names(
    "A fulfilment status",
    FulfillmentStatus::ALL.iter().map(|s| s.as_str()).collect()
));
hand_schema!(ShipmentStatusName => names(
    "A shipment status",
    ShipmentStatus::ALL.iter().map(|s| s.as_str()).collect()
));
hand_schema!(PaymentMethodName => names(
    "A payment method: card, mobile and online are online methods, the others manual",
    PaymentMethod::ALL.iter().map(|m| m.as_str()).collect()
));
hand_schema!(ShippingPointName => names(
    "Where a manual shipment leaves from",
    ShippingPoint::ALL.iter().map(|p| p.as_str()).collect()
));
hand_schema!(ShipmentKind => names("How a shipment was made", vec!["manual", "carrier"]));
hand_schema!(WebhookEventName => names(
    "A webhook event",
    WebhookEvent::ALL.iter().map(|e| e.as_str()).collect()
));
hand_schema!(MessageStatus => names(
    "Where a message or delivery is in its delivery",
    [OutboxStatus::Pending, OutboxStatus::Sent, OutboxStatus::Failed]
        .iter()
        .map(|s| s.as_str())
        .collect()
));
hand_schema!(ChannelName => names(
    "How a message travels",
    [Channel::Email, Channel::Sms, Channel::Webhook]
        .iter()
        .map(|c| c.as_str())
        .collect()
));

/// Every error: `{"error": {"code", "message", "field"?}}`.
#[derive(ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(ToSchema)]
pub struct ErrorDetail {
    /// Stable name of the error or of the rule that refused (`refund_exceeds_paid`, …).
    pub code: String,
    /// What went wrong, in words a user can read.
    pub message: String,
    /// The field the error is about, as a JSON path (`items[0].quantity`), when there is one.
    pub field: Option<String>,
}

/// The errors any call can answer.
#[derive(IntoResponses)]
pub enum Refusals {
    /// Malformed: not JSON, a wrong type, an unknown field (the message names the JSON path),
    /// a bad query parameter or cursor.
    #[response(status = 400)]
    Malformed(ErrorBody),
    /// No token, or a token that is unknown or revoked.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// No such order, shipment, note, customer, endpoint or delivery.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// A conflict: an idempotency key reused with another body.
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// The body is over 1 MiB.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// A rule refused it (`code` names the rule, `field` the field); nothing changed.
    #[response(status = 422)]
    Refused(ErrorBody),
}

/// A postal address.
#[derive(ToSchema)]
pub struct Address {
    pub name: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

/// The order's customer.
#[derive(ToSchema)]
pub struct OrderCustomer {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub phone: String,
}

/// A line item.
#[derive(ToSchema)]
pub struct Item {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
    pub variant: Option<String>,
    pub unit_price: Money,
    pub quantity: u32,
    pub weight_grams: u32,
    pub image_url: Option<String>,
}

/// The shipping line.
#[derive(ToSchema)]
pub struct ShippingLine {
    pub method: String,
    pub price: Money,
}

/// The order's totals.
#[derive(ToSchema)]
pub struct Totals {
    pub subtotal: Money,
    pub shipping: Money,
    pub tax: Money,
    pub discount: Money,
    pub total: Money,
    pub paid: Money,
    pub refunded: Money,
}

/// A quantity of one line item.
#[derive(ToSchema)]
pub struct ItemQty {
    pub item_id: Uuid,
    pub quantity: u32,
}

/// A recorded payment.
#[derive(ToSchema)]
pub struct Payment {
    pub id: Uuid,
    pub amount: Money,
    pub reference: Option<String>,
    pub at: DateTime<Utc>,
    /// Who recorded it (a team member, `name (API)` for a token, or `orderdeck`).
    pub actor: String,
}

/// A refund.
#[derive(ToSchema)]
pub struct Refund {
    pub id: Uuid,
    pub items: Vec<ItemQty>,
    pub refund_shipping: Money,
    pub adjustment_refund: Money,
    pub adjustment_fee: Money,
    pub amount: Money,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
    pub actor: String,
}

/// One status a shipment reached.
#[derive(ToSchema)]
pub struct StatusChange {
    pub status: ShipmentStatusName,
    pub at: DateTime<Utc>,
}

/// A shipment.
#[derive(ToSchema)]
pub struct Shipment {
    pub id: Uuid,
    pub kind: ShipmentKind,
    pub shipping_point: ShippingPointName,
    pub carrier: Option<String>,
    pub service: Option<String>,
    pub carrier_name: Option<String>,
    pub service_name: Option<String>,
    pub tracking_number: Option<String>,
    pub tracking_url: Option<String>,
    pub status: ShipmentStatusName,
    pub expected_delivery: Option<NaiveDate>,
    pub items: Vec<ItemQty>,
    pub history: Vec<StatusChange>,
    pub created_at: DateTime<Utc>,
}

/// Returned items.
#[derive(ToSchema)]
pub struct Return {
    pub id: Uuid,
    pub items: Vec<ItemQty>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
    pub actor: String,
}

/// Why and when the order was canceled.
#[derive(ToSchema)]
pub struct Cancellation {
    pub reason: String,
    pub at: DateTime<Utc>,
    pub actor: String,
}

/// A note.
#[derive(ToSchema)]
pub struct Note {
    pub id: Uuid,
    pub author: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A line of the order's timeline.
#[derive(ToSchema)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub kind: String,
    pub message: String,
}

/// An order: what `GET /orders/{n}` and every action answer.
#[derive(ToSchema)]
pub struct Order {
    pub id: Uuid,
    pub number: u64,
    pub test: bool,
    pub created_at: DateTime<Utc>,
    pub currency: String,
    pub customer: OrderCustomer,
    pub shipping_address: Address,
    pub billing_address: Address,
    pub items: Vec<Item>,
    pub shipping: ShippingLine,
    pub totals: Totals,
    pub payment_method: PaymentMethodName,
    pub payment_status: PaymentStatusName,
    pub fulfillment_status: FulfillmentStatusName,
    pub dispatched_at: Option<DateTime<Utc>>,
    pub payments: Vec<Payment>,
    pub refunds: Vec<Refund>,
    pub shipments: Vec<Shipment>,
    pub returns: Vec<Return>,
    pub cancellation: Option<Cancellation>,
    pub notes: Vec<Note>,
    pub timeline: Vec<TimelineEntry>,
    /// The merchant's tags, lower case and sorted.
    pub tags: Vec<String>,
}

/// One row of the order list.
#[derive(ToSchema)]
pub struct OrderRow {
    pub id: Uuid,
    pub number: u64,
    pub created_at: DateTime<Utc>,
    pub customer_name: String,
    pub customer_email: String,
    pub total: Money,
    pub currency: String,
    pub payment_status: PaymentStatusName,
    pub fulfillment_status: FulfillmentStatusName,
    pub test: bool,
    pub items_count: u32,
    pub tags: Vec<String>,
}

/// A page of the order list.
#[derive(ToSchema)]
pub struct OrderPage {
    pub orders: Vec<OrderRow>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A customer.
#[derive(ToSchema)]
pub struct Customer {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub orders_count: u64,
}

/// Customers matching a search.
#[derive(ToSchema)]
pub struct CustomerList {
    pub customers: Vec<Customer>,
}

/// A notification message or webhook delivery in the outbox.
#[derive(ToSchema)]
pub struct Message {
    pub id: Uuid,
    pub order_number: Option<u64>,
    pub event: String,
    pub channel: ChannelName,
    pub to: String,
    pub subject: String,
    pub status: MessageStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// The outbox, newest first.
#[derive(ToSchema)]
pub struct MessageList {
    pub messages: Vec<Message>,
}

/// A carrier's quote.
#[derive(ToSchema)]
pub struct Rate {
    pub carrier: String,
    pub carrier_name: String,
    pub service: String,
    pub service_name: String,
    pub price: Money,
    pub currency: String,
    /// Business days in transit.
    pub days: u32,
    pub estimated_delivery: NaiveDate,
}

/// A carrier that quoted nothing, and why.
#[derive(ToSchema)]
pub struct Declined {
    pub carrier: String,
    pub carrier_name: String,
    pub reason: String,
}

/// Every carrier's answer: quotes cheapest first, and the carriers that declined.
#[derive(ToSchema)]
pub struct Rates {
    pub rates: Vec<Rate>,
    pub declined: Vec<Declined>,
}

/// A webhook endpoint as created: with its signing secret (answered this once).
#[derive(ToSchema)]
pub struct WebhookCreated {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<WebhookEventName>,
    /// `whsec_` and 64 hex digits: the HMAC-SHA256 key of `X-Orderdeck-Signature`.
    pub secret: String,
    pub created_at: DateTime<Utc>,
}

/// A webhook endpoint and how its deliveries are going.
#[derive(ToSchema)]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<WebhookEventName>,
    pub created_at: DateTime<Utc>,
    /// `quiet` (nothing attempted yet), `healthy` (the newest attempted delivery arrived) or
    /// `failing`.
    pub status: String,
    /// Why the newest attempted delivery failed, when it did.
    pub last_error: Option<String>,
}

/// The webhook endpoints, oldest first.
#[derive(ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<Webhook>,
}

/// One webhook delivery.
#[derive(ToSchema)]
pub struct Delivery {
    /// Also `X-Orderdeck-Delivery` and the body's `id`: the same on every attempt.
    pub id: Uuid,
    pub event: WebhookEventName,
    pub status: MessageStatus,
    pub attempts: u32,
    /// The receiver's last HTTP status (`null` when it did not answer).
    pub response_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub order_number: Option<u64>,
    pub next_attempt_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// An endpoint's deliveries, newest first.
#[derive(ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<Delivery>,
}

/// The body of a webhook delivery (`POST` to the endpoint's URL), signed with
/// `X-Orderdeck-Signature: sha256=<hex HMAC-SHA256(secret, X-Orderdeck-Timestamp + "." + body)>`.
#[derive(ToSchema)]
pub struct WebhookPayload {
    pub id: Uuid,
    pub event: WebhookEventName,
    pub created_at: DateTime<Utc>,
    /// The order after the change.
    pub order: Order,
}

// Requests.

/// The customer of a new order.
#[derive(ToSchema)]
pub struct NewCustomer {
    pub name: String,
    #[schema(default = "")]
    pub email: Option<String>,
    #[schema(default = "")]
    pub phone: Option<String>,
}

/// An address of a new order.
#[derive(ToSchema)]
pub struct NewAddress {
    pub name: Option<String>,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

/// A line item of a new order.
#[derive(ToSchema)]
pub struct NewItem {
    pub sku: String,
    pub name: String,
    pub variant: Option<String>,
    pub unit_price: DecimalIn,
    /// 1 to 100,000.
    pub quantity: u32,
    pub weight_grams: Option<u32>,
    pub image_url: Option<String>,
}

/// The shipping line of a new order.
#[derive(ToSchema)]
pub struct NewShipping {
    pub method: String,
    pub price: DecimalIn,
}

/// How a new order is paid.
#[derive(ToSchema)]
pub struct NewPayment {
    pub method: PaymentMethodName,
    /// `true` records a payment of the total.
    pub paid: Option<bool>,
}

/// A new order (`POST /orders`): `total = Σ unit_price × quantity + shipping + tax − discount`.
#[derive(ToSchema)]
pub struct NewOrder {
    pub customer: NewCustomer,
    pub shipping_address: NewAddress,
    /// The shipping address when absent.
    pub billing_address: Option<NewAddress>,
    pub items: Vec<NewItem>,
    pub shipping: NewShipping,
    pub tax: Option<DecimalIn>,
    pub discount: Option<DecimalIn>,
    /// ISO 4217; the store's when absent.
    pub currency: Option<String>,
    pub payment: NewPayment,
    pub test: Option<bool>,
}

/// `POST /orders/{n}/payments`.
#[derive(ToSchema)]
pub struct PaymentRequest {
    /// The balance when absent.
    pub amount: Option<DecimalIn>,
    pub reference: Option<String>,
}

/// `POST /orders/{n}/refunds`.
#[derive(ToSchema)]
pub struct RefundRequest {
    pub items: Option<Vec<ItemQty>>,
    pub refund_shipping: Option<DecimalIn>,
    pub adjustment_refund: Option<DecimalIn>,
    pub adjustment_fee: Option<DecimalIn>,
    pub reason: Option<String>,
}

/// A manual fulfilment.
#[derive(ToSchema)]
pub struct ManualFulfillment {
    /// `manual`.
    #[schema(rename = "type", pattern = "^manual$")]
    pub kind: String,
    pub items: Vec<ItemQty>,
    /// `local` when absent.
    pub shipping_point: Option<ShippingPointName>,
    /// Required for `international`.
    pub carrier: Option<String>,
    /// Required for `international`.
    pub tracking_number: Option<String>,
}

/// A parcel: a preset from Settings > Shipping and/or dimensions and weight.
#[derive(ToSchema)]
pub struct Package {
    pub preset: Option<String>,
    /// Centimetres, more than 0 and at most 300.
    pub length_cm: Option<DecimalIn>,
    pub width_cm: Option<DecimalIn>,
    pub height_cm: Option<DecimalIn>,
    /// Gross weight; the preset's empty weight plus the items' when absent.
    pub weight_grams: Option<u32>,
}

/// A party of a carrier shipment (every field optional; the order's or the store's address
/// fills in the rest).
#[derive(ToSchema)]
pub struct Party {
    pub name: Option<String>,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

/// The carrier-fulfil fields (`POST /orders/{n}/rates`).
#[derive(ToSchema)]
pub struct RateRequest {
    pub items: Vec<ItemQty>,
    pub package: Package,
    pub recipient: Option<Party>,
    pub shipper: Option<Party>,
    pub ship_from: Option<Party>,
    /// `YYYY-MM-DD`; today when absent.
    pub drop_off_date: Option<NaiveDate>,
    pub insurance: Option<DecimalIn>,
    pub declared_value: Option<DecimalIn>,
    pub dangerous_goods: Option<bool>,
    pub signature: Option<bool>,
}

/// The quote a carrier fulfilment buys.
#[derive(ToSchema)]
pub struct CarrierChoice {
    /// `carrier`.
    #[schema(rename = "type", pattern = "^carrier$")]
    pub kind: String,
    pub carrier: String,
    pub service: String,
}

hand_schema!(
    /// A carrier fulfilment: the carrier-fulfil fields of a rate request and the quote to buy.
    CarrierFulfillment => AllOfBuilder::new()
        .item(Ref::from_schema_name("RateRequest"))
        .item(Ref::from_schema_name("CarrierChoice"))
        .description(Some("The carrier-fulfil fields and the carrier and service to buy"))
        .into()
);

hand_schema!(
    /// `POST /orders/{n}/fulfillments`: manual (`"type": "manual"`), or a bought label
    /// (`"type": "carrier"`).
    FulfillmentRequest => OneOfBuilder::new()
        .item(Ref::from_schema_name("ManualFulfillment"))
        .item(Ref::from_schema_name("CarrierFulfillment"))
        .description(Some("A manual fulfilment, or a carrier fulfilment that buys a label"))
        .into()
);

/// `PATCH /orders/{n}/shipments/{id}`.
#[derive(ToSchema)]
pub struct ShipmentEdit {
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub status: Option<ShipmentStatusName>,
    /// `YYYY-MM-DD`, or `null` to clear it.
    pub expected_delivery: Option<NaiveDate>,
    pub notify_customer: Option<bool>,
}

/// `POST /orders/{n}/returns`.
#[derive(ToSchema)]
pub struct ReturnRequest {
    pub items: Vec<ItemQty>,
    pub reason: Option<String>,
}

/// `POST /orders/{n}/cancel`.
#[derive(ToSchema)]
pub struct CancelRequest {
    pub reason: String,
    /// Also refund everything paid.
    pub refund: Option<bool>,
}

/// A note's text.
#[derive(ToSchema)]
pub struct NoteRequest {
    pub body: String,
}

/// `PUT /orders/{n}/customer`.
#[derive(ToSchema)]
pub struct CustomerChange {
    pub customer_id: Uuid,
}

/// `POST /carriers/{carrier}/events`: a tracking update.
#[derive(ToSchema)]
pub struct CarrierEvent {
    pub tracking_number: String,
    pub status: ShipmentStatusName,
    /// RFC 3339; now when absent.
    pub at: Option<DateTime<Utc>>,
}

/// `POST /webhooks`.
#[derive(ToSchema)]
pub struct WebhookRequest {
    /// `http://` or `https://`, at most 2,000 characters.
    pub url: String,
    pub events: Vec<WebhookEventName>,
}

/// An empty JSON object.
#[derive(ToSchema)]
pub struct Empty {}
