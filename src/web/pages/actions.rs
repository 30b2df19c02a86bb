//! The order's action forms (Record payment, Refund, Dispatch, Fulfill, Return order, Cancel
//! order), the shipment menu (Edit, Mark as delivered, Track, Print label, Void/Cancel) and note
//! deletion. Each is a form (when it has fields) → a confirmation page that says what cannot be
//! undone → the action, run through `service.act`. Refusals come from the domain (`decide`) and
//! are shown next to their field with the input kept (422). Works without JavaScript.

use super::order::{describe, number, probe_ctx};
use super::{money, ok, render, when, Chrome, PageError, Svc};
use crate::domain::money::{fmt, parse_amount};
use crate::domain::workflow::{ManualFulfillInput, RefundInput, ShipmentEdit};
use crate::domain::{
    decide, Command, Event, ItemQty, NoteId, Order, RuleError, Shipment, ShipmentId, ShipmentKind,
    ShipmentStatus, ShippingPoint,
};
use crate::service::ServiceError;
use crate::web::auth::{self, Fields, Posted, SignedIn};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// Which action a form is for.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Payment,
    Refund,
    Dispatch,
    Fulfill,
    Return,
    Cancel,
    EditShipment(ShipmentId),
    Deliver(ShipmentId),
    Void(ShipmentId),
    DeleteNote(NoteId),
}

/// A refusal to show: on a field, or at the top of the form when it has no field.
#[derive(Debug, Clone)]
struct FieldError {
    field: Option<String>,
    message: String,
}

impl From<RuleError> for FieldError {
    fn from(e: RuleError) -> Self {
        FieldError {
            field: e.field().map(str::to_string),
            message: e.to_string(),
        }
    }
}

fn field_error(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: Some(field.to_string()),
        message: message.into(),
    }
}

/// A form field for the template.
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    /// text, money, textarea, select, checkbox, date
    pub kind: &'static str,
    pub value: String,
    pub placeholder: String,
    pub help: String,
    pub options: Vec<(String, String)>,
    pub error: Option<String>,
}

impl Field {
    fn new(
        name: &'static str,
        label: &'static str,
        kind: &'static str,
        value: impl Into<String>,
    ) -> Self {
        Field {
            name,
            label,
            kind,
            value: value.into(),
            placeholder: String::new(),
            help: String::new(),
            options: Vec::new(),
            error: None,
        }
    }

    fn help(mut self, h: impl Into<String>) -> Self {
        self.help = h.into();
        self
    }

    fn placeholder(mut self, p: impl Into<String>) -> Self {
        self.placeholder = p.into();
        self
    }

    fn options(mut self, o: Vec<(String, String)>) -> Self {
        self.options = o;
        self
    }

    /// Whether a checkbox is ticked.
    pub fn is_checked(&self) -> bool {
        !self.value.is_empty()
    }
}

/// An item quantity input.
pub struct ItemInput {
    pub id: String,
    pub name: String,
    pub variant: String,
    pub sku: String,
    pub unit_price: String,
    /// Plain decimal for the live refund total.
    pub price_raw: String,
    pub max: u32,
    pub value: String,
    /// Fulfil: a tick box per item (help page: "Tick the corresponding item").
    pub tick: bool,
    pub ticked: bool,
}

#[derive(Template)]
#[template(path = "orders/action.html")]
struct ActionPage {
    chrome: Chrome,
    number: u64,
    title: String,
    intro: String,
    slug: &'static str,
    url: String,
    fields: Vec<Field>,
    items: Vec<ItemInput>,
    items_legend: &'static str,
    items_error: Option<String>,
    error: Option<String>,
    refundable: String,
    /// Carrier scripts are loaded (Carrier Fulfill is offered).
    carriers: bool,
}

#[derive(Template)]
#[template(path = "orders/review.html")]
struct ReviewPage {
    chrome: Chrome,
    number: u64,
    title: String,
    summary: Vec<(String, String)>,
    warning: String,
    url: String,
    carried: Vec<(String, String)>,
    confirm_label: &'static str,
    danger: bool,
    has_form: bool,
    error: Option<String>,
}

fn shipment(order: &Order, id: ShipmentId) -> Result<&Shipment, PageError> {
    order
        .shipment(id)
        .ok_or_else(|| PageError::NotFound("No such shipment on this order".into()))
}

impl Kind {
    fn from_slug(s: &str) -> Option<Kind> {
        Some(match s {
            "payment" => Kind::Payment,
            "refund" => Kind::Refund,
            "dispatch" => Kind::Dispatch,
            "fulfill" => Kind::Fulfill,
            "return" => Kind::Return,
            "cancel" => Kind::Cancel,
            _ => return None,
        })
    }

    fn slug(self) -> &'static str {
        match self {
            Kind::Payment => "payment",
            Kind::Refund => "refund",
            Kind::Dispatch => "dispatch",
            Kind::Fulfill => "fulfill",
            Kind::Return => "return",
            Kind::Cancel => "cancel",
            Kind::EditShipment(_) => "shipment-edit",
            Kind::Deliver(_) => "deliver",
            Kind::Void(_) => "void",
            Kind::DeleteNote(_) => "note-delete",
        }
    }

    fn url(self, n: u64) -> String {
        match self {
            Kind::EditShipment(s) => format!("/orders/{n}/shipments/{s}/edit"),
            Kind::Deliver(s) => format!("/orders/{n}/shipments/{s}/deliver"),
            Kind::Void(s) => format!("/orders/{n}/shipments/{s}/void"),
            Kind::DeleteNote(id) => format!("/orders/{n}/notes/{id}/delete"),
            other => format!("/orders/{n}/act/{}", other.slug()),
        }
    }

    fn title(self, order: &Order) -> String {
        let n = order.number;
        match self {
            Kind::Payment => format!("Record payment for #{n}"),
            Kind::Refund => format!("Refund #{n}"),
            Kind::Dispatch => format!("Dispatch #{n}"),
            Kind::Fulfill => format!("Fulfill #{n}"),
            Kind::Return => format!("Return items of #{n}"),
            Kind::Cancel => format!("Cancel order #{n}"),
            Kind::EditShipment(_) => "Edit shipment".into(),
            Kind::Deliver(_) => "Mark shipment as delivered".into(),
            Kind::Void(s) => match order.shipment(s).map(|s| s.kind) {
                Some(ShipmentKind::Carrier) => "Void shipment label".into(),
                _ => "Cancel shipment".into(),
            },
            Kind::DeleteNote(_) => "Delete note".into(),
        }
    }

    fn confirm_label(self) -> &'static str {
        match self {
            Kind::Payment => "Record payment",
            Kind::Refund => "Refund",
            Kind::Dispatch => "Mark as dispatched",
            Kind::Fulfill => "Fulfill",
            Kind::Return => "Return",
            Kind::Cancel => "Cancel order",
            Kind::EditShipment(_) => "Save shipment",
            Kind::Deliver(_) => "Mark as delivered",
            Kind::Void(_) => "Cancel shipment",
            Kind::DeleteNote(_) => "Delete note",
        }
    }

    fn danger(self) -> bool {
        matches!(
            self,
            Kind::Cancel | Kind::Void(_) | Kind::DeleteNote(_) | Kind::Refund
        )
    }

    fn has_form(self) -> bool {
        !matches!(
            self,
            Kind::Dispatch | Kind::Deliver(_) | Kind::Void(_) | Kind::DeleteNote(_)
        )
    }

    /// What cannot be undone (help page: "you will not be able to reset it").
    fn warning(self, order: &Order, fields: &Fields) -> String {
        match self {
            Kind::Payment => "A recorded payment cannot be removed or changed afterwards.".into(),
            Kind::Refund => "A refund cannot be undone. orderdeck records it but does not move money: after confirming, refund the money in your payment provider's dashboard.".into(),
            Kind::Dispatch => "The order will be marked as packed and ready for the carrier. This cannot be undone.".into(),
            Kind::Fulfill => "A shipment will be created in Awaiting Shipment and the customer notified. It cannot be deleted, only canceled while it is not delivered.".into(),
            Kind::Return => "Returned quantities cannot be undone.".into(),
            Kind::Cancel => {
                let mut w = "Canceling cannot be undone: the order can no longer be paid, dispatched or fulfilled.".to_string();
                if fields.checked("refund") && order.refundable() > Decimal::ZERO {
                    w.push_str(&format!(
                        " {} will be recorded as refunded; refund the money in your payment provider.",
                        money(order.refundable(), &order.currency)
                    ));
                }
                w
            }
            Kind::EditShipment(_) => "Shipment statuses only move forward: a status change cannot be undone.".into(),
            Kind::Deliver(_) => "Delivered is final: the shipment can no longer be edited or canceled.".into(),
            Kind::Void(_) => "Canceling a shipment is final; its items can then be fulfilled again in a new shipment.".into(),
            Kind::DeleteNote(_) => "A deleted note cannot be restored.".into(),
        }
    }

    fn intro(self, order: &Order) -> String {
        let m = |d| money(d, &order.currency);
        match self {
            Kind::Payment => format!("Total {} · paid {} · balance {}. Leave the amount empty to record the whole balance.", m(order.total), m(order.paid()), m(order.balance())),
            Kind::Refund => "Choose the quantities to refund and any shipping or adjustment. Amount = items + refund shipping + adjustment refund − adjustment fee.".into(),
            Kind::Fulfill => "Manual Fulfill: you deliver with your own delivery service. Tick the items and quantities for this shipment.".into(),
            Kind::Return => "Indicate how many delivered items the customer sent back.".into(),
            Kind::Cancel => "Only orders with nothing shipped can be canceled.".into(),
            Kind::EditShipment(_) => "Only manual shipments can be edited.".into(),
            _ => String::new(),
        }
    }

    /// The form's fields and item inputs, filled from `values` (or defaults for a new form).
    fn form(
        self,
        order: &Order,
        values: Option<&Fields>,
    ) -> Result<(Vec<Field>, Vec<ItemInput>), PageError> {
        let v = |name: &str, default: &str| {
            values
                .map(|f| f.get(name).to_string())
                .unwrap_or_else(|| default.to_string())
        };
        let cb = |name: &str, default: bool| {
            let on = values.map(|f| f.checked(name)).unwrap_or(default);
            if on {
                "on".to_string()
            } else {
                String::new()
            }
        };
        let items = |max_of: &dyn Fn(&crate::domain::LineItem) -> u32,
                     default_full: bool,
                     tick: bool|
         -> Vec<ItemInput> {
            order
                .items
                .iter()
                .map(|i| {
                    let max = max_of(i);
                    let key = format!("qty_{}", i.id);
                    let default = if default_full {
                        max.to_string()
                    } else {
                        "0".to_string()
                    };
                    ItemInput {
                        id: i.id.to_string(),
                        name: i.name.clone(),
                        variant: i.variant.clone().unwrap_or_default(),
                        sku: i.sku.clone(),
                        unit_price: money(i.unit_price, &order.currency),
                        price_raw: fmt(i.unit_price),
                        max,
                        value: values.map(|f| f.get(&key).to_string()).unwrap_or(default),
                        tick,
                        ticked: values
                            .map(|f| f.checked(&format!("tick_{}", i.id)))
                            .unwrap_or(max > 0),
                    }
                })
                .collect()
        };
        Ok(match self {
            Kind::Payment => (
                vec![
                    Field::new("amount", "Amount", "money", v("amount", ""))
                        .placeholder(fmt(order.balance()))
                        .help(format!(
                            "In {}; empty = the balance of {}",
                            order.currency,
                            fmt(order.balance())
                        )),
                    Field::new(
                        "reference",
                        "Reference (optional)",
                        "text",
                        v("reference", ""),
                    )
                    .help("e.g. bank transfer id or receipt number"),
                ],
                vec![],
            ),
            Kind::Refund => (
                vec![
                    Field::new(
                        "refund_shipping",
                        "Refund shipping",
                        "money",
                        v("refund_shipping", "0.00"),
                    )
                    .help(format!(
                        "At most {} ({} paid for shipping, {} already refunded)",
                        fmt((order.shipping.price - order.refunded_shipping()).max(Decimal::ZERO)),
                        fmt(order.shipping.price),
                        fmt(order.refunded_shipping())
                    )),
                    Field::new(
                        "adjustment_refund",
                        "Adjustment refund",
                        "money",
                        v("adjustment_refund", "0.00"),
                    )
                    .help("An extra amount to give back (e.g. a goodwill gesture)"),
                    Field::new(
                        "adjustment_fee",
                        "Adjustment fee",
                        "money",
                        v("adjustment_fee", "0.00"),
                    )
                    .help("An amount to keep (e.g. a restocking fee)"),
                    Field::new("reason", "Reason (optional)", "text", v("reason", "")),
                ],
                items(
                    &|i| i.quantity.saturating_sub(order.refunded_of(i.id)),
                    false,
                    false,
                ),
            ),
            Kind::Dispatch | Kind::Deliver(_) | Kind::Void(_) | Kind::DeleteNote(_) => {
                (vec![], vec![])
            }
            Kind::Fulfill => (
                vec![
                    Field::new(
                        "shipping_point",
                        "Shipping point",
                        "select",
                        v("shipping_point", "local"),
                    )
                    .options(
                        ShippingPoint::ALL
                            .iter()
                            .map(|p| (p.as_str().to_string(), p.label().to_string()))
                            .collect(),
                    ),
                    Field::new("carrier", "Carrier", "text", v("carrier", ""))
                        .help("Required for international shipments"),
                    Field::new(
                        "tracking_number",
                        "Tracking number",
                        "text",
                        v("tracking_number", ""),
                    )
                    .help("Required for international shipments"),
                ],
                items(
                    &|i| i.quantity.saturating_sub(order.shipped_of(i.id)),
                    true,
                    true,
                ),
            ),
            Kind::Return => (
                vec![Field::new(
                    "reason",
                    "Reason (optional)",
                    "text",
                    v("reason", ""),
                )],
                items(
                    &|i| {
                        order
                            .delivered_of(i.id)
                            .saturating_sub(order.returned_of(i.id))
                    },
                    false,
                    false,
                ),
            ),
            Kind::Cancel => (
                vec![
                    Field::new("reason", "Reason", "text", v("reason", ""))
                        .help("Required; shown on the timeline"),
                    Field::new(
                        "refund",
                        "Also record a full refund of what was paid",
                        "checkbox",
                        cb("refund", false),
                    )
                    .help(format!(
                        "{} paid and not yet refunded",
                        money(order.refundable(), &order.currency)
                    )),
                ],
                vec![],
            ),
            Kind::EditShipment(id) => {
                let s = shipment(order, id)?;
                let mut options = vec![(
                    s.status.as_str().to_string(),
                    format!("{} (current)", s.status.label()),
                )];
                for next in s.status.next_statuses() {
                    options.push((next.as_str().to_string(), next.label().to_string()));
                }
                if !s.status.is_final() {
                    options.push((
                        ShipmentStatus::Canceled.as_str().into(),
                        ShipmentStatus::Canceled.label().into(),
                    ));
                }
                (
                    vec![
                        Field::new(
                            "carrier",
                            "Carrier",
                            "text",
                            v("carrier", s.carrier.as_deref().unwrap_or("")),
                        ),
                        Field::new(
                            "tracking_number",
                            "Tracking number",
                            "text",
                            v(
                                "tracking_number",
                                s.tracking_number.as_deref().unwrap_or(""),
                            ),
                        ),
                        Field::new("status", "Status", "select", v("status", s.status.as_str()))
                            .options(options),
                        Field::new(
                            "expected_delivery",
                            "Expected delivery",
                            "date",
                            v(
                                "expected_delivery",
                                &s.expected_delivery
                                    .map(|d| d.to_string())
                                    .unwrap_or_default(),
                            ),
                        ),
                        Field::new(
                            "notify_customer",
                            "Send notification to the customer after updates",
                            "checkbox",
                            cb("notify_customer", false),
                        ),
                    ],
                    vec![],
                )
            }
        })
    }

    /// Turns the posted fields into the engine's command (web-level parsing only: numbers, ids).
    fn command(self, order: &Order, f: &Fields) -> Result<Command, FieldError> {
        let amount = |name: &str| -> Result<Decimal, FieldError> {
            let raw = f.get(name).trim();
            if raw.is_empty() {
                return Ok(Decimal::ZERO);
            }
            parse_amount(raw).map_err(|e| field_error(name, format!("{} {e}", label_of(name))))
        };
        let items = |tick: bool| -> Result<Vec<ItemQty>, FieldError> {
            let mut out = Vec::new();
            for i in &order.items {
                if tick && !f.checked(&format!("tick_{}", i.id)) {
                    continue;
                }
                let raw = f.get(&format!("qty_{}", i.id)).trim();
                let q: u32 = if raw.is_empty() {
                    0
                } else {
                    raw.parse().map_err(|_| {
                        field_error(
                            "items",
                            format!("The quantity of {} must be a whole number", i.name),
                        )
                    })?
                };
                if q > 0 {
                    out.push(ItemQty {
                        item_id: i.id,
                        quantity: q,
                    });
                }
            }
            Ok(out)
        };
        let text = |name: &str| -> Option<String> {
            let t = f.get(name);
            (!t.trim().is_empty()).then(|| t.to_string())
        };
        Ok(match self {
            Kind::Payment => Command::RecordPayment {
                amount: if f.get("amount").trim().is_empty() {
                    None
                } else {
                    Some(amount("amount")?)
                },
                reference: text("reference"),
            },
            Kind::Refund => Command::Refund(RefundInput {
                items: items(false)?,
                refund_shipping: amount("refund_shipping")?,
                adjustment_refund: amount("adjustment_refund")?,
                adjustment_fee: amount("adjustment_fee")?,
                reason: text("reason"),
            }),
            Kind::Dispatch => Command::Dispatch,
            Kind::Fulfill => Command::ManualFulfill(ManualFulfillInput {
                items: items(true)?,
                shipping_point: ShippingPoint::parse(f.get("shipping_point"))
                    .ok_or_else(|| field_error("shipping_point", "Choose a shipping point"))?,
                carrier: text("carrier"),
                tracking_number: text("tracking_number"),
            }),
            Kind::Return => Command::Return {
                items: items(false)?,
                reason: text("reason"),
            },
            Kind::Cancel => Command::Cancel {
                reason: f.get("reason").to_string(),
                refund: f.checked("refund"),
            },
            Kind::EditShipment(id) => {
                let s = order
                    .shipment(id)
                    .ok_or_else(|| field_error("status", "No such shipment"))?;
                let changed = |name: &str, current: &Option<String>| {
                    let new = f.get(name).trim();
                    (new != current.as_deref().unwrap_or("")).then(|| new.to_string())
                };
                let status = ShipmentStatus::parse(f.get("status"))
                    .ok_or_else(|| field_error("status", "Choose a status"))?;
                let date_raw = f.get("expected_delivery").trim();
                let date = if date_raw.is_empty() {
                    None
                } else {
                    Some(
                        NaiveDate::parse_from_str(date_raw, "%Y-%m-%d").map_err(|_| {
                            field_error(
                                "expected_delivery",
                                "Expected delivery must be a date like 2026-12-24",
                            )
                        })?,
                    )
                };
                Command::EditShipment {
                    shipment_id: id,
                    edit: ShipmentEdit {
                        carrier: changed("carrier", &s.carrier),
                        tracking_number: changed("tracking_number", &s.tracking_number),
                        status: (status != s.status).then_some(status),
                        expected_delivery: (date != s.expected_delivery).then_some(date),
                        notify_customer: f.checked("notify_customer"),
                    },
                }
            }
            Kind::Deliver(id) => Command::DeliverShipment { shipment_id: id },
            Kind::Void(id) => Command::VoidShipment { shipment_id: id },
            Kind::DeleteNote(id) => Command::DeleteNote { id },
        })
    }

    /// What the confirmation page lists, from the events the domain would record.
    fn summary(self, order: &Order, events: &[Event], f: &Fields) -> Vec<(String, String)> {
        let m = |d: Decimal| money(d, &order.currency);
        let mut out: Vec<(String, String)> = Vec::new();
        for e in events {
            match e {
                Event::PaymentRecorded(p) => {
                    out.push(("Payment".into(), m(p.amount)));
                    if let Some(r) = &p.reference {
                        out.push(("Reference".into(), r.clone()));
                    }
                }
                Event::Refunded(r) => {
                    if !r.items.is_empty() {
                        out.push(("Items".into(), describe(order, &r.items)));
                    }
                    if !r.shipping.is_zero() {
                        out.push(("Refund shipping".into(), m(r.shipping)));
                    }
                    if !r.adjustment_refund.is_zero() {
                        out.push(("Adjustment refund".into(), m(r.adjustment_refund)));
                    }
                    if !r.adjustment_fee.is_zero() {
                        out.push((
                            "Adjustment fee".into(),
                            format!("− {}", m(r.adjustment_fee)),
                        ));
                    }
                    out.push(("Amount to refund".into(), m(r.amount)));
                    out.push((
                        "Still refundable after this".into(),
                        m(order.refundable() - r.amount),
                    ));
                    if let Some(reason) = &r.reason {
                        out.push(("Reason".into(), reason.clone()));
                    }
                }
                Event::Dispatched { .. } => out.push((
                    "Fulfillment".into(),
                    "Dispatched (packed, ready for the carrier)".into(),
                )),
                Event::ShipmentCreated(s) => {
                    out.push(("Items".into(), describe(order, &s.items)));
                    out.push(("Shipping point".into(), s.shipping_point.label().into()));
                    if let Some(c) = &s.carrier {
                        out.push(("Carrier".into(), c.clone()));
                    }
                    if let Some(t) = &s.tracking_number {
                        out.push(("Tracking number".into(), t.clone()));
                    }
                }
                Event::ShipmentEdited {
                    carrier,
                    tracking_number,
                    expected_delivery,
                    ..
                } => {
                    let shown = |v: &str| {
                        if v.is_empty() {
                            "(cleared)".to_string()
                        } else {
                            v.to_string()
                        }
                    };
                    if let Some(c) = carrier {
                        out.push(("Carrier".into(), shown(c)));
                    }
                    if let Some(t) = tracking_number {
                        out.push(("Tracking number".into(), shown(t)));
                    }
                    if let Some(d) = expected_delivery {
                        out.push((
                            "Expected delivery".into(),
                            d.map(|d| d.to_string())
                                .unwrap_or_else(|| "(cleared)".into()),
                        ));
                    }
                }
                Event::ShipmentStatusChanged {
                    shipment_id,
                    status,
                    ..
                } => {
                    let from = order
                        .shipment(*shipment_id)
                        .map(|s| s.status.label())
                        .unwrap_or("?");
                    out.push(("Status".into(), format!("{from} → {}", status.label())));
                }
                Event::ShipmentNotify { .. } => {
                    out.push(("Customer".into(), "will be notified".into()))
                }
                Event::Returned(r) => {
                    out.push(("Items returned".into(), describe(order, &r.items)));
                    if let Some(reason) = &r.reason {
                        out.push(("Reason".into(), reason.clone()));
                    }
                }
                Event::Canceled(c) => out.push(("Reason".into(), c.reason.clone())),
                Event::NoteDeleted { id } => {
                    if let Some(n) = order.notes.iter().find(|n| n.id == *id) {
                        out.push(("Note".into(), n.body.clone()));
                        out.push((
                            "Written by".into(),
                            format!("{} · {}", n.author, when(n.created_at)),
                        ));
                    }
                }
                _ => {}
            }
        }
        if matches!(self, Kind::Cancel) && !f.checked("refund") {
            out.push(("Refund".into(), "none (you can refund later)".into()));
        }
        out
    }

    fn done(self, before: &Order, after: &Order) -> String {
        let m = |d: Decimal| money(d, &after.currency);
        match self {
            Kind::Payment => format!("Payment of {} recorded.", m(after.paid() - before.paid())),
            Kind::Refund => format!(
                "Refund of {} recorded. Now refund the money in your payment provider.",
                m(after.refunded() - before.refunded())
            ),
            Kind::Dispatch => "Order marked as dispatched.".into(),
            Kind::Fulfill => "Shipment created.".into(),
            Kind::Return => "Return recorded.".into(),
            Kind::Cancel => "Order canceled.".into(),
            Kind::EditShipment(_) => "Shipment saved.".into(),
            Kind::Deliver(_) => "Shipment marked as delivered.".into(),
            Kind::Void(_) => "Shipment canceled.".into(),
            Kind::DeleteNote(_) => "Note deleted.".into(),
        }
    }

    fn back(self, n: u64) -> String {
        match self {
            Kind::DeleteNote(_) => format!("/orders/{n}#notes"),
            Kind::EditShipment(_) | Kind::Deliver(_) | Kind::Void(_) | Kind::Fulfill => {
                format!("/orders/{n}#shipments")
            }
            _ => format!("/orders/{n}"),
        }
    }
}

fn label_of(name: &str) -> &'static str {
    match name {
        "amount" => "Amount",
        "refund_shipping" => "Refund shipping",
        "adjustment_refund" => "Adjustment refund",
        "adjustment_fee" => "Adjustment fee",
        _ => "The value",
    }
}

fn form_page(
    req: &HttpRequest,
    who: &SignedIn,
    svc: &Svc,
    kind: Kind,
    order: &Order,
    values: Option<&Fields>,
    error: Option<FieldError>,
) -> Result<ActionPage, PageError> {
    let (mut fields, items) = kind.form(order, values)?;
    let mut top = None;
    let mut items_error = None;
    if let Some(e) = error {
        match e.field.as_deref() {
            Some("items") if !items.is_empty() => items_error = Some(e.message),
            Some(name) => match fields.iter_mut().find(|f| f.name == name) {
                Some(f) => f.error = Some(e.message),
                None => top = Some(e.message),
            },
            None => top = Some(e.message),
        }
    }
    Ok(ActionPage {
        chrome: Chrome::new(req, who, "orders", kind.title(order)),
        number: order.number,
        title: kind.title(order),
        intro: kind.intro(order),
        slug: kind.slug(),
        url: kind.url(order.number),
        fields,
        items,
        items_legend: match kind {
            Kind::Refund => "Items to refund",
            Kind::Fulfill => "Items to fulfil",
            Kind::Return => "Items returned",
            _ => "Items",
        },
        items_error,
        error: top,
        refundable: money(order.refundable(), &order.currency),
        carriers: !svc.carriers().is_empty(),
    })
}

#[allow(clippy::too_many_arguments)] // one per thing the confirmation page shows
fn review_page(
    req: &HttpRequest,
    who: &SignedIn,
    svc: &Svc,
    kind: Kind,
    order: &Order,
    fields: &Fields,
    events: &[Event],
    error: Option<String>,
) -> ReviewPage {
    ReviewPage {
        chrome: Chrome::new(
            req,
            who,
            "orders",
            format!("Confirm: {}", kind.title(order)),
        ),
        number: order.number,
        title: kind.title(order),
        summary: kind.summary(order, events, fields),
        warning: kind.warning(order, fields),
        url: kind.url(order.number),
        carried: fields.carried(),
        confirm_label: kind.confirm_label(),
        danger: kind.danger(),
        has_form: kind.has_form(),
        error,
    }
}

/// GET: the form, or straight to the confirmation for actions without fields.
async fn show(
    req: &HttpRequest,
    who: &SignedIn,
    svc: &Svc,
    kind: Kind,
    order: &Order,
) -> Result<HttpResponse, PageError> {
    if kind.has_form() {
        let p = form_page(req, who, svc, kind, order, None, None)?;
        return Ok(ok(req, &p.chrome, &p));
    }
    let empty = Fields::default();
    let ctx = probe_ctx(who);
    match kind
        .command(order, &empty)
        .map(|cmd| decide(order, &cmd, &ctx))
    {
        Ok(Ok(events)) => {
            let p = review_page(req, who, svc, kind, order, &empty, &events, None);
            Ok(ok(req, &p.chrome, &p))
        }
        Ok(Err(rule)) => {
            let p = review_page(
                req,
                who,
                svc,
                kind,
                order,
                &empty,
                &[],
                Some(rule.to_string()),
            );
            Ok(render(req, StatusCode::UNPROCESSABLE_ENTITY, &p.chrome, &p))
        }
        Err(e) => Err(PageError::BadRequest(e.message)),
    }
}

/// POST: step "edit" re-shows the form, "review" checks and shows the confirmation, "confirm" acts.
async fn submit(
    req: &HttpRequest,
    form: Posted,
    svc: &Svc,
    kind: Kind,
    order: Order,
) -> Result<HttpResponse, PageError> {
    let who = &form.who;
    let f = &form.fields;
    let refuse = |e: FieldError| -> Result<HttpResponse, PageError> {
        if kind.has_form() {
            let p = form_page(req, who, svc, kind, &order, Some(f), Some(e))?;
            Ok(render(req, StatusCode::UNPROCESSABLE_ENTITY, &p.chrome, &p))
        } else {
            let p = review_page(req, who, svc, kind, &order, f, &[], Some(e.message));
            Ok(render(req, StatusCode::UNPROCESSABLE_ENTITY, &p.chrome, &p))
        }
    };
    let step = match f.get("step") {
        "" if kind.has_form() => "review",
        "" => "confirm",
        s => s,
    };
    if step == "edit" && kind.has_form() {
        let p = form_page(req, who, svc, kind, &order, Some(f), None)?;
        return Ok(ok(req, &p.chrome, &p));
    }
    let cmd = match kind.command(&order, f) {
        Ok(c) => c,
        Err(e) => return refuse(e),
    };
    if step == "review" {
        return match decide(&order, &cmd, &probe_ctx(who)) {
            Ok(events) => {
                let p = review_page(req, who, svc, kind, &order, f, &events, None);
                Ok(ok(req, &p.chrome, &p))
            }
            Err(rule) => refuse(rule.into()),
        };
    }
    match svc.act(order.number, cmd, who.actor()).await {
        Ok(after) => Ok(auth::redirect_with_flash(
            req,
            &kind.back(order.number),
            &kind.done(&order, &after),
        )),
        Err(ServiceError::Rule(rule)) if !rule.is_not_found() => {
            // The order may have changed since the form was shown: show it as it is now.
            let current = svc.order(order.number).await?;
            let e: FieldError = rule.into();
            if kind.has_form() {
                let p = form_page(req, who, svc, kind, &current, Some(f), Some(e))?;
                Ok(render(req, StatusCode::UNPROCESSABLE_ENTITY, &p.chrome, &p))
            } else {
                let p = review_page(req, who, svc, kind, &current, f, &[], Some(e.message));
                Ok(render(req, StatusCode::UNPROCESSABLE_ENTITY, &p.chrome, &p))
            }
        }
        Err(e) => Err(e.into()),
    }
}

fn order_action(raw_n: &str, slug: &str) -> Result<(u64, Kind), PageError> {
    let n = number(raw_n)?;
    let kind = Kind::from_slug(slug)
        .ok_or_else(|| PageError::NotFound("There is no such action.".into()))?;
    Ok((n, kind))
}

async fn action_form(
    req: HttpRequest,
    who: SignedIn,
    svc: Svc,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (n, kind) = order_action(&path.0, &path.1)?;
    let order = svc.order(n).await?;
    show(&req, &who, &svc, kind, &order).await
}

async fn action_submit(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (n, kind) = order_action(&path.0, &path.1)?;
    let order = svc.order(n).await?;
    submit(&req, form, &svc, kind, order).await
}

fn shipment_kind(order: &Order, sid: &str, op: &str) -> Result<Kind, PageError> {
    let id = sid
        .parse::<ShipmentId>()
        .map_err(|_| PageError::NotFound("No such shipment on this order".into()))?;
    let s = shipment(order, id)?;
    Ok(match op {
        "edit" => Kind::EditShipment(id),
        "deliver" => Kind::Deliver(id),
        "void" => Kind::Void(id),
        _ => {
            let _ = s;
            return Err(PageError::NotFound(
                "There is no such shipment action.".into(),
            ));
        }
    })
}

async fn shipment_form(
    req: HttpRequest,
    who: SignedIn,
    svc: Svc,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, PageError> {
    let (n, sid, op) = path.into_inner();
    let order = svc.order(number(&n)?).await?;
    match op.as_str() {
        "track" => return track(&req, &who, &svc, &order, &sid),
        "label" => return label(&req, &who, &svc, &order, &sid),
        _ => {}
    }
    let kind = shipment_kind(&order, &sid, &op)?;
    show(&req, &who, &svc, kind, &order).await
}

async fn shipment_submit(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, PageError> {
    let (n, sid, op) = path.into_inner();
    let order = svc.order(number(&n)?).await?;
    let kind = shipment_kind(&order, &sid, &op)?;
    submit(&req, form, &svc, kind, order).await
}

fn note_kind(order: &Order, id: &str) -> Result<Kind, PageError> {
    let id = id
        .parse::<NoteId>()
        .map_err(|_| PageError::NotFound("No such note on this order".into()))?;
    if !order.notes.iter().any(|n| n.id == id) {
        return Err(PageError::NotFound("No such note on this order".into()));
    }
    Ok(Kind::DeleteNote(id))
}

async fn note_delete_form(
    req: HttpRequest,
    who: SignedIn,
    svc: Svc,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let order = svc.order(number(&path.0)?).await?;
    let kind = note_kind(&order, &path.1)?;
    show(&req, &who, &svc, kind, &order).await
}

async fn note_delete(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let order = svc.order(number(&path.0)?).await?;
    let kind = note_kind(&order, &path.1)?;
    submit(&req, form, &svc, kind, order).await
}

#[derive(Template)]
#[template(path = "orders/track.html")]
struct TrackPage {
    chrome: Chrome,
    number: u64,
    title: String,
    status: &'static str,
    status_label: &'static str,
    carrier: String,
    tracking: String,
    tracking_url: Option<String>,
    expected: String,
    items: String,
    history: Vec<(String, &'static str, &'static str)>,
}

fn track(
    req: &HttpRequest,
    who: &SignedIn,
    svc: &Svc,
    order: &Order,
    sid: &str,
) -> Result<HttpResponse, PageError> {
    let id = sid
        .parse::<ShipmentId>()
        .map_err(|_| PageError::NotFound("No such shipment on this order".into()))?;
    let s = shipment(order, id)?;
    let p = TrackPage {
        chrome: Chrome::new(req, who, "orders", "Track shipment"),
        number: order.number,
        title: format!("Track shipment of #{}", order.number),
        status: s.status.as_str(),
        status_label: s.status.label(),
        carrier: [s.carrier.clone(), s.service.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · "),
        tracking: s.tracking_number.clone().unwrap_or_default(),
        tracking_url: s
            .tracking_url
            .clone()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
        expected: s
            .expected_delivery
            .map(|d| d.to_string())
            .unwrap_or_default(),
        items: describe(order, &s.items),
        history: s
            .history
            .iter()
            .rev()
            .map(|h| (when(h.at), h.status.as_str(), h.status.label()))
            .collect(),
    };
    Ok(ok(req, &p.chrome, &p))
}

#[derive(Template)]
#[template(path = "orders/label.html")]
struct LabelPage {
    chrome: Chrome,
    number: u64,
    carrier: String,
    tracking: String,
    ship_to: Vec<String>,
    items: String,
    details: Vec<(String, String)>,
    /// Code 128 of the tracking number as inline SVG (from `barcoders`); None if it cannot be
    /// encoded (non-ASCII characters).
    barcode: Option<String>,
    from: Vec<String>,
    service: String,
    package: String,
}

fn label(
    req: &HttpRequest,
    who: &SignedIn,
    svc: &Svc,
    order: &Order,
    sid: &str,
) -> Result<HttpResponse, PageError> {
    let id = sid
        .parse::<ShipmentId>()
        .map_err(|_| PageError::NotFound("No such shipment on this order".into()))?;
    let s = shipment(order, id)?;
    if s.kind != ShipmentKind::Carrier {
        return Err(PageError::NotFound(
            "Only carrier shipments have a label.".into(),
        ));
    }
    let tracking = s.tracking_number.clone().unwrap_or_default();
    let barcode = code128_svg(&tracking);
    let l = &s.label;
    let lv = |k: &str| l.get(k).cloned().unwrap_or_default();
    let lines = |prefix: &str| -> Vec<String> {
        [
            "name", "company", "line1", "line2", "city", "country", "phone",
        ]
        .iter()
        .map(|k| lv(&format!("{prefix}.{k}")))
        .filter(|v| !v.trim().is_empty())
        .collect()
    };
    let a = &order.shipping_address;
    let p = LabelPage {
        chrome: Chrome::new(req, who, "orders", "Shipping label"),
        number: order.number,
        carrier: l
            .get("carrier_name")
            .cloned()
            .or_else(|| s.carrier.clone())
            .unwrap_or_default(),
        tracking,
        ship_to: if l.contains_key("to.name") {
            lines("to")
        } else {
            [
                a.name.clone(),
                a.line1.clone(),
                a.line2.clone(),
                format!("{} {} {}", a.postal_code, a.city, a.region),
                a.country.clone(),
            ]
            .into_iter()
            .filter(|l| !l.trim().is_empty())
            .collect()
        },
        items: describe(order, &s.items),
        from: lines("from"),
        service: lv("service_name"),
        package: lv("package"),
        // The rest of the carrier's label data (addresses, carrier and package are shown above).
        details: s
            .label
            .iter()
            .filter(|(k, v)| {
                !v.trim().is_empty()
                    && !k.starts_with("to.")
                    && !k.starts_with("from.")
                    && !matches!(k.as_str(), "carrier_name" | "service_name" | "package")
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        barcode,
    };
    Ok(ok(req, &p.chrome, &p))
}

/// The Code 128 barcode (character set B) of `data` as an SVG element, drawn by `barcoders`.
pub fn code128_svg(data: &str) -> Option<String> {
    use barcoders::generators::svg::SVG;
    use barcoders::sym::code128::Code128;
    if data.is_empty() || !data.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return None;
    }
    let code = Code128::new(format!("\u{0181}{data}")).ok()?;
    let svg = SVG::new(80).xdim(2).generate(code.encode()).ok()?;
    // The crate's markup; only digits, hex colours and our fixed attributes, never user text.
    Some(svg.replacen(
        "<svg ",
        "<svg class=\"barcode\" role=\"img\" aria-label=\"Code 128 barcode\" preserveAspectRatio=\"none\" ",
        1,
    ))
}

/// Registers the action forms, the shipment menu and note deletion.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orders/{n}/act/{action}", web::get().to(action_form))
        .route("/orders/{n}/act/{action}", web::post().to(action_submit))
        .route(
            "/orders/{n}/shipments/{sid}/{op}",
            web::get().to(shipment_form),
        )
        .route(
            "/orders/{n}/shipments/{sid}/{op}",
            web::post().to(shipment_submit),
        )
        .route(
            "/orders/{n}/notes/{id}/delete",
            web::get().to(note_delete_form),
        )
        .route("/orders/{n}/notes/{id}/delete", web::post().to(note_delete));
}
