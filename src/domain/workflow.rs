//! Actions on an order (SPEC 1.4): `decide` checks a command against the facts and yields the
//! events to record; `Order::apply` records them. Pure: time, actor and new ids come in `Ctx`.

use super::money::{check_amount, fmt};
use super::order::*;
use super::rules::{clean_text, optional_text, required_text, RuleError};
use super::status::{FulfillmentStatus, ShipmentStatus};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashSet};
use uuid::Uuid;

/// Longest note body accepted.
pub const MAX_NOTE_CHARS: usize = 5000;
/// Longest reason, carrier name, tracking number or reference accepted.
pub const MAX_SHORT_TEXT: usize = 200;

/// Everything an action needs from outside the domain.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub now: DateTime<Utc>,
    pub actor: Actor,
    /// Fresh ids for whatever the action creates (an action creates at most two things).
    pub ids: [Uuid; 2],
}

impl Ctx {
    /// A context with fresh v7 ids (the one place the domain is handed randomness, by callers).
    pub fn new(now: DateTime<Utc>, actor: Actor, ids: [Uuid; 2]) -> Self {
        Ctx { now, actor, ids }
    }
}

/// A refund request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefundInput {
    pub items: Vec<ItemQty>,
    pub refund_shipping: Decimal,
    pub adjustment_refund: Decimal,
    pub adjustment_fee: Decimal,
    pub reason: Option<String>,
}

/// A manual fulfilment request.
#[derive(Debug, Clone, PartialEq)]
pub struct ManualFulfillInput {
    pub items: Vec<ItemQty>,
    pub shipping_point: ShippingPoint,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
}

/// A carrier fulfilment whose label has been bought (the carrier script supplied the details).
#[derive(Debug, Clone, PartialEq)]
pub struct CarrierFulfillInput {
    pub items: Vec<ItemQty>,
    pub shipping_point: ShippingPoint,
    pub carrier: String,
    pub service: String,
    pub tracking_number: String,
    pub tracking_url: Option<String>,
    pub expected_delivery: Option<NaiveDate>,
    pub price: Decimal,
    pub label: BTreeMap<String, String>,
}

/// A shipment edit (manual shipments only). `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShipmentEdit {
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub status: Option<ShipmentStatus>,
    /// `Some(None)` clears the date.
    pub expected_delivery: Option<Option<NaiveDate>>,
    pub notify_customer: bool,
}

/// What the merchant, the storefront or a carrier asks to do to an order.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    RecordPayment {
        amount: Option<Decimal>,
        reference: Option<String>,
    },
    Refund(RefundInput),
    Dispatch,
    ManualFulfill(ManualFulfillInput),
    CarrierFulfill(CarrierFulfillInput),
    EditShipment {
        shipment_id: ShipmentId,
        edit: ShipmentEdit,
    },
    DeliverShipment {
        shipment_id: ShipmentId,
    },
    VoidShipment {
        shipment_id: ShipmentId,
    },
    CarrierEvent {
        shipment_id: ShipmentId,
        status: ShipmentStatus,
        at: Option<DateTime<Utc>>,
    },
    Return {
        items: Vec<ItemQty>,
        reason: Option<String>,
    },
    Cancel {
        reason: String,
        refund: bool,
    },
    AddNote {
        body: String,
    },
    EditNote {
        id: NoteId,
        body: String,
    },
    DeleteNote {
        id: NoteId,
    },
    ChangeCustomer {
        customer: CustomerSnapshot,
    },
}

impl Command {
    /// A short name for logs and the timeline.
    pub fn name(&self) -> &'static str {
        match self {
            Command::RecordPayment { .. } => "record payment",
            Command::Refund(_) => "refund",
            Command::Dispatch => "dispatch",
            Command::ManualFulfill(_) => "fulfil",
            Command::CarrierFulfill(_) => "fulfil",
            Command::EditShipment { .. } => "edit shipment",
            Command::DeliverShipment { .. } => "mark as delivered",
            Command::VoidShipment { .. } => "void shipment",
            Command::CarrierEvent { .. } => "tracking update",
            Command::Return { .. } => "return",
            Command::Cancel { .. } => "cancel",
            Command::AddNote { .. } => "add note",
            Command::EditNote { .. } => "edit note",
            Command::DeleteNote { .. } => "delete note",
            Command::ChangeCustomer { .. } => "change customer",
        }
    }
}

/// A fact to record on the order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    PaymentRecorded(Payment),
    Refunded(Refund),
    Dispatched {
        at: DateTime<Utc>,
    },
    ShipmentCreated(Shipment),
    ShipmentEdited {
        shipment_id: ShipmentId,
        carrier: Option<String>,
        tracking_number: Option<String>,
        expected_delivery: Option<Option<NaiveDate>>,
    },
    ShipmentStatusChanged {
        shipment_id: ShipmentId,
        status: ShipmentStatus,
        at: DateTime<Utc>,
    },
    /// The customer should hear about a shipment change (an edit with "notify customer" ticked,
    /// or a carrier tracking event).
    ShipmentNotify {
        shipment_id: ShipmentId,
    },
    Returned(ReturnRecord),
    Canceled(Cancellation),
    NoteAdded(Note),
    NoteEdited {
        id: NoteId,
        body: String,
        at: DateTime<Utc>,
    },
    NoteDeleted {
        id: NoteId,
    },
    CustomerChanged {
        from: CustomerSnapshot,
        to: CustomerSnapshot,
    },
}

/// Checks that a list of item quantities names known items once each with positive quantities.
fn check_items(order: &Order, items: &[ItemQty]) -> Result<Vec<ItemQty>, RuleError> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for iq in items {
        let item = order
            .item(iq.item_id)
            .ok_or_else(|| RuleError::UnknownItem {
                item_id: iq.item_id.to_string(),
            })?;
        if !seen.insert(iq.item_id) {
            return Err(RuleError::DuplicateItem {
                item: item.name.clone(),
            });
        }
        if iq.quantity > 0 {
            out.push(*iq);
        }
    }
    Ok(out)
}

fn amount_field(field: &'static str, d: Decimal) -> Result<Decimal, RuleError> {
    check_amount(d).map_err(|e| RuleError::invalid(field, e.to_string()))
}

fn shipment(order: &Order, id: ShipmentId) -> Result<&Shipment, RuleError> {
    order
        .shipment(id)
        .ok_or_else(|| RuleError::ShipmentNotFound { id: id.to_string() })
}

fn not_canceled(order: &Order, action: &'static str) -> Result<(), RuleError> {
    if order.is_canceled() {
        Err(RuleError::OrderCanceled { action })
    } else {
        Ok(())
    }
}

/// Checks `cmd` against the order's facts; on success returns the events to apply.
pub fn decide(order: &Order, cmd: &Command, ctx: &Ctx) -> Result<Vec<Event>, RuleError> {
    let actor = ctx.actor.to_string();
    match cmd {
        Command::RecordPayment { amount, reference } => {
            not_canceled(order, "recording a payment")?;
            let paid = order.paid();
            if paid >= order.total {
                return Err(RuleError::AlreadyPaid {
                    paid,
                    total: order.total,
                });
            }
            let balance = order.total - paid;
            let amount = match amount {
                Some(a) => amount_field("amount", *a)?,
                None => balance,
            };
            if amount <= Decimal::ZERO {
                return Err(RuleError::NotPositive { field: "amount" });
            }
            if amount > balance {
                return Err(RuleError::PaymentExceedsBalance { amount, balance });
            }
            let reference = optional_text("reference", reference.as_deref(), MAX_SHORT_TEXT)?;
            Ok(vec![Event::PaymentRecorded(Payment {
                id: FactId(ctx.ids[0]),
                amount,
                reference,
                at: ctx.now,
                actor,
            })])
        }
        Command::Refund(input) => {
            let items = check_items(order, &input.items)?;
            let mut amount = Decimal::ZERO;
            for iq in &items {
                let item = order.item(iq.item_id).expect("checked");
                let available = item.quantity - order.refunded_of(iq.item_id).min(item.quantity);
                if iq.quantity > available {
                    return Err(RuleError::RefundQuantityExceeds {
                        item: item.name.clone(),
                        requested: iq.quantity,
                        available,
                    });
                }
                amount += item.unit_price * Decimal::from(iq.quantity);
            }
            let shipping = amount_field("refund_shipping", input.refund_shipping)?;
            let shipping_left =
                (order.shipping.price - order.refunded_shipping()).max(Decimal::ZERO);
            if shipping > shipping_left {
                return Err(RuleError::RefundShippingExceeds {
                    requested: shipping,
                    available: shipping_left,
                });
            }
            let adj_refund = amount_field("adjustment_refund", input.adjustment_refund)?;
            let adj_fee = amount_field("adjustment_fee", input.adjustment_fee)?;
            amount = amount + shipping + adj_refund - adj_fee;
            if amount <= Decimal::ZERO {
                return Err(RuleError::RefundNotPositive { amount });
            }
            let available = order.refundable();
            if amount > available {
                return Err(RuleError::RefundExceedsPaid { amount, available });
            }
            let reason = optional_text("reason", input.reason.as_deref(), MAX_SHORT_TEXT)?;
            Ok(vec![Event::Refunded(Refund {
                id: FactId(ctx.ids[0]),
                items,
                shipping,
                adjustment_refund: adj_refund,
                adjustment_fee: adj_fee,
                amount,
                reason,
                at: ctx.now,
                actor,
            })])
        }
        Command::Dispatch => {
            not_canceled(order, "dispatching")?;
            let status = order.fulfillment_status();
            if status != FulfillmentStatus::Unfulfilled {
                return Err(RuleError::DispatchNotAllowed {
                    status: status.label(),
                });
            }
            Ok(vec![Event::Dispatched { at: ctx.now }])
        }
        Command::ManualFulfill(input) => {
            not_canceled(order, "fulfilling")?;
            let items = check_fulfil_items(order, &input.items)?;
            let carrier = optional_text("carrier", input.carrier.as_deref(), MAX_SHORT_TEXT)?;
            let tracking = optional_text(
                "tracking_number",
                input.tracking_number.as_deref(),
                MAX_SHORT_TEXT,
            )?;
            if input.shipping_point == ShippingPoint::International
                && (carrier.is_none() || tracking.is_none())
            {
                return Err(RuleError::TrackingRequired);
            }
            Ok(vec![Event::ShipmentCreated(Shipment {
                id: ShipmentId(ctx.ids[0]),
                kind: ShipmentKind::Manual,
                shipping_point: input.shipping_point,
                carrier,
                service: None,
                tracking_number: tracking,
                tracking_url: None,
                status: ShipmentStatus::AwaitingShipment,
                expected_delivery: None,
                items,
                history: vec![StatusChange {
                    status: ShipmentStatus::AwaitingShipment,
                    at: ctx.now,
                }],
                label_price: None,
                label: BTreeMap::new(),
                created_at: ctx.now,
            })])
        }
        Command::CarrierFulfill(input) => {
            not_canceled(order, "fulfilling")?;
            let items = check_fulfil_items(order, &input.items)?;
            Ok(vec![Event::ShipmentCreated(Shipment {
                id: ShipmentId(ctx.ids[0]),
                kind: ShipmentKind::Carrier,
                shipping_point: input.shipping_point,
                carrier: Some(input.carrier.clone()),
                service: Some(input.service.clone()),
                tracking_number: Some(input.tracking_number.clone()),
                tracking_url: input.tracking_url.clone(),
                status: ShipmentStatus::AwaitingShipment,
                expected_delivery: input.expected_delivery,
                items,
                history: vec![StatusChange {
                    status: ShipmentStatus::AwaitingShipment,
                    at: ctx.now,
                }],
                label_price: Some(input.price),
                label: input.label.clone(),
                created_at: ctx.now,
            })])
        }
        Command::EditShipment { shipment_id, edit } => {
            let s = shipment(order, *shipment_id)?;
            if s.kind == ShipmentKind::Carrier {
                return Err(RuleError::CarrierShipmentNotEditable);
            }
            if s.status.is_final() {
                return Err(RuleError::ShipmentFinal {
                    status: s.status.label(),
                });
            }
            let carrier = match &edit.carrier {
                Some(c) => Some(clean_text("carrier", c, MAX_SHORT_TEXT, false)?),
                None => None,
            };
            let tracking = match &edit.tracking_number {
                Some(t) => Some(clean_text("tracking_number", t, MAX_SHORT_TEXT, false)?),
                None => None,
            };
            if s.shipping_point == ShippingPoint::International {
                let c = carrier.as_deref().or(s.carrier.as_deref()).unwrap_or("");
                let t = tracking
                    .as_deref()
                    .or(s.tracking_number.as_deref())
                    .unwrap_or("");
                if c.is_empty() || t.is_empty() {
                    return Err(RuleError::TrackingRequired);
                }
            }
            let mut events = Vec::new();
            let changed_fields = (carrier.is_some() && carrier != s.carrier)
                || (tracking.is_some() && tracking != s.tracking_number)
                || (edit.expected_delivery.is_some()
                    && edit.expected_delivery != Some(s.expected_delivery));
            if changed_fields {
                events.push(Event::ShipmentEdited {
                    shipment_id: *shipment_id,
                    carrier,
                    tracking_number: tracking,
                    expected_delivery: edit.expected_delivery,
                });
            }
            if let Some(to) = edit.status {
                if to != s.status {
                    if to == ShipmentStatus::Canceled {
                        // Canceling through the edit form is the same as Void/Cancel.
                    } else if !s.status.can_move_to(to) {
                        return Err(RuleError::InvalidShipmentTransition {
                            from: s.status.label(),
                            to: to.label(),
                        });
                    }
                    events.push(Event::ShipmentStatusChanged {
                        shipment_id: *shipment_id,
                        status: to,
                        at: ctx.now,
                    });
                }
            }
            if events.is_empty() {
                return Err(RuleError::NothingToChange);
            }
            if edit.notify_customer {
                events.push(Event::ShipmentNotify {
                    shipment_id: *shipment_id,
                });
            }
            Ok(events)
        }
        Command::DeliverShipment { shipment_id } => {
            let s = shipment(order, *shipment_id)?;
            if s.status.is_final() {
                return Err(RuleError::ShipmentFinal {
                    status: s.status.label(),
                });
            }
            Ok(vec![Event::ShipmentStatusChanged {
                shipment_id: *shipment_id,
                status: ShipmentStatus::Delivered,
                at: ctx.now,
            }])
        }
        Command::VoidShipment { shipment_id } => {
            let s = shipment(order, *shipment_id)?;
            if s.status.is_final() {
                return Err(RuleError::ShipmentFinal {
                    status: s.status.label(),
                });
            }
            if s.kind == ShipmentKind::Carrier && s.status != ShipmentStatus::AwaitingShipment {
                return Err(RuleError::CarrierShipmentHandled {
                    status: s.status.label(),
                });
            }
            Ok(vec![Event::ShipmentStatusChanged {
                shipment_id: *shipment_id,
                status: ShipmentStatus::Canceled,
                at: ctx.now,
            }])
        }
        Command::CarrierEvent {
            shipment_id,
            status,
            at,
        } => {
            let s = shipment(order, *shipment_id)?;
            if s.status.is_final() {
                return Err(RuleError::ShipmentFinal {
                    status: s.status.label(),
                });
            }
            if !s.status.can_move_to(*status) {
                return Err(RuleError::InvalidShipmentTransition {
                    from: s.status.label(),
                    to: status.label(),
                });
            }
            Ok(vec![
                Event::ShipmentStatusChanged {
                    shipment_id: *shipment_id,
                    status: *status,
                    at: at.unwrap_or(ctx.now),
                },
                Event::ShipmentNotify {
                    shipment_id: *shipment_id,
                },
            ])
        }
        Command::Return { items, reason } => {
            let items = check_items(order, items)?;
            if items.is_empty() {
                return Err(RuleError::NoItems);
            }
            for iq in &items {
                let item = order.item(iq.item_id).expect("checked");
                let available = order
                    .delivered_of(iq.item_id)
                    .saturating_sub(order.returned_of(iq.item_id));
                if iq.quantity > available {
                    return Err(RuleError::ReturnQuantityExceeds {
                        item: item.name.clone(),
                        requested: iq.quantity,
                        available,
                    });
                }
            }
            let reason = optional_text("reason", reason.as_deref(), MAX_SHORT_TEXT)?;
            Ok(vec![Event::Returned(ReturnRecord {
                id: FactId(ctx.ids[0]),
                items,
                reason,
                at: ctx.now,
                actor,
            })])
        }
        Command::Cancel { reason, refund } => {
            if order.is_canceled() {
                return Err(RuleError::AlreadyCanceled);
            }
            if order.shipped_qty() > 0 {
                return Err(RuleError::CancelAfterShipment);
            }
            let reason = clean_text("reason", reason, MAX_SHORT_TEXT, false)?;
            if reason.is_empty() {
                return Err(RuleError::ReasonRequired);
            }
            let mut events = vec![Event::Canceled(Cancellation {
                reason: reason.clone(),
                at: ctx.now,
                actor: actor.clone(),
            })];
            let refundable = order.refundable();
            if *refund && refundable > Decimal::ZERO {
                events.push(Event::Refunded(Refund {
                    id: FactId(ctx.ids[1]),
                    items: Vec::new(),
                    shipping: Decimal::ZERO,
                    adjustment_refund: refundable,
                    adjustment_fee: Decimal::ZERO,
                    amount: refundable,
                    reason: Some(format!("Order canceled: {reason}")),
                    at: ctx.now,
                    actor,
                }));
            }
            Ok(events)
        }
        Command::AddNote { body } => {
            let body = required_text("body", body, MAX_NOTE_CHARS, true)?;
            Ok(vec![Event::NoteAdded(Note {
                id: NoteId(ctx.ids[0]),
                author: actor,
                body,
                created_at: ctx.now,
                updated_at: ctx.now,
            })])
        }
        Command::EditNote { id, body } => {
            let note = order
                .notes
                .iter()
                .find(|n| n.id == *id)
                .ok_or_else(|| RuleError::NoteNotFound { id: id.to_string() })?;
            let body = required_text("body", body, MAX_NOTE_CHARS, true)?;
            if body == note.body {
                return Err(RuleError::NothingToChange);
            }
            Ok(vec![Event::NoteEdited {
                id: *id,
                body,
                at: ctx.now,
            }])
        }
        Command::DeleteNote { id } => {
            if !order.notes.iter().any(|n| n.id == *id) {
                return Err(RuleError::NoteNotFound { id: id.to_string() });
            }
            Ok(vec![Event::NoteDeleted { id: *id }])
        }
        Command::ChangeCustomer { customer } => {
            if customer.id == order.customer.id {
                return Err(RuleError::CustomerUnchanged);
            }
            Ok(vec![Event::CustomerChanged {
                from: order.customer.clone(),
                to: customer.clone(),
            }])
        }
    }
}

fn check_fulfil_items(order: &Order, items: &[ItemQty]) -> Result<Vec<ItemQty>, RuleError> {
    let items = check_items(order, items)?;
    if items.is_empty() {
        return Err(RuleError::NoItems);
    }
    for iq in &items {
        let item = order.item(iq.item_id).expect("checked");
        let available = item.quantity.saturating_sub(order.shipped_of(iq.item_id));
        if iq.quantity > available {
            return Err(RuleError::FulfillQuantityExceeds {
                item: item.name.clone(),
                requested: iq.quantity,
                available,
            });
        }
    }
    Ok(items)
}

fn describe_items(order: &Order, items: &[ItemQty]) -> String {
    items
        .iter()
        .map(|iq| {
            let name = order
                .item(iq.item_id)
                .map(|i| i.name.as_str())
                .unwrap_or("?");
            format!("{} × {}", iq.quantity, name)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Order {
    /// Records events (already checked by [`decide`]) and their timeline entries.
    pub fn apply(&mut self, events: &[Event], ctx: &Ctx) {
        let actor = ctx.actor.to_string();
        for e in events {
            let (kind, message) = match e {
                Event::PaymentRecorded(p) => {
                    self.payments.push(p.clone());
                    let reference = p
                        .reference
                        .as_ref()
                        .map(|r| format!(" (reference {r})"))
                        .unwrap_or_default();
                    (
                        "payment",
                        format!(
                            "Payment of {} {} recorded{reference}",
                            fmt(p.amount),
                            self.currency
                        ),
                    )
                }
                Event::Refunded(r) => {
                    self.refunds.push(r.clone());
                    let what = if r.items.is_empty() {
                        String::new()
                    } else {
                        format!(" for {}", describe_items(self, &r.items))
                    };
                    (
                        "refund",
                        format!(
                            "Refund of {} {} recorded{what}; refund the money in the payment provider",
                            fmt(r.amount),
                            self.currency
                        ),
                    )
                }
                Event::Dispatched { at } => {
                    self.dispatched_at = Some(*at);
                    (
                        "dispatch",
                        "Order packed and ready for the carrier".to_string(),
                    )
                }
                Event::ShipmentCreated(s) => {
                    let how = match (&s.carrier, &s.tracking_number) {
                        (Some(c), Some(t)) => format!(" with {c}, tracking {t}"),
                        (Some(c), None) => format!(" with {c}"),
                        _ => String::new(),
                    };
                    let msg = format!(
                        "Shipment created ({}): {}{how}",
                        s.shipping_point.label(),
                        describe_items(self, &s.items)
                    );
                    self.shipments.push(s.clone());
                    ("shipment", msg)
                }
                Event::ShipmentEdited {
                    shipment_id,
                    carrier,
                    tracking_number,
                    expected_delivery,
                } => {
                    let mut parts = Vec::new();
                    if let Some(s) = self.shipments.iter_mut().find(|s| s.id == *shipment_id) {
                        if let Some(c) = carrier {
                            s.carrier = if c.is_empty() { None } else { Some(c.clone()) };
                            parts.push(format!(
                                "carrier {}",
                                if c.is_empty() { "cleared" } else { c }
                            ));
                        }
                        if let Some(t) = tracking_number {
                            s.tracking_number = if t.is_empty() { None } else { Some(t.clone()) };
                            parts.push(format!(
                                "tracking number {}",
                                if t.is_empty() { "cleared" } else { t }
                            ));
                        }
                        if let Some(d) = expected_delivery {
                            s.expected_delivery = *d;
                            parts.push(match d {
                                Some(d) => format!("expected delivery {d}"),
                                None => "expected delivery cleared".to_string(),
                            });
                        }
                    }
                    ("shipment", format!("Shipment edited: {}", parts.join(", ")))
                }
                Event::ShipmentStatusChanged {
                    shipment_id,
                    status,
                    at,
                } => {
                    let mut msg = String::new();
                    if let Some(s) = self.shipments.iter_mut().find(|s| s.id == *shipment_id) {
                        s.status = *status;
                        s.history.push(StatusChange {
                            status: *status,
                            at: *at,
                        });
                        let label = if *status == ShipmentStatus::Delivered
                            && s.shipping_point == ShippingPoint::InStorePickup
                        {
                            "Picked Up"
                        } else {
                            status.label()
                        };
                        msg = format!(
                            "Shipment{} is now {label}",
                            s.tracking_number
                                .as_ref()
                                .map(|t| format!(" {t}"))
                                .unwrap_or_default()
                        );
                    }
                    ("shipment", msg)
                }
                Event::ShipmentNotify { .. } => continue,
                Event::Returned(r) => {
                    let msg = format!("Returned {}", describe_items(self, &r.items));
                    self.returns.push(r.clone());
                    ("return", msg)
                }
                Event::Canceled(c) => {
                    self.cancellation = Some(c.clone());
                    ("cancel", format!("Order canceled: {}", c.reason))
                }
                Event::NoteAdded(n) => {
                    self.notes.push(n.clone());
                    ("note", "Note added".to_string())
                }
                Event::NoteEdited { id, body, at } => {
                    if let Some(n) = self.notes.iter_mut().find(|n| n.id == *id) {
                        n.body = body.clone();
                        n.updated_at = *at;
                    }
                    ("note", "Note edited".to_string())
                }
                Event::NoteDeleted { id } => {
                    self.notes.retain(|n| n.id != *id);
                    ("note", "Note deleted".to_string())
                }
                Event::CustomerChanged { from, to } => {
                    self.customer = to.clone();
                    (
                        "customer",
                        format!(
                            "Customer changed from {} <{}> to {} <{}>",
                            from.name, from.email, to.name, to.email
                        ),
                    )
                }
            };
            self.timeline.push(TimelineEntry {
                at: ctx.now,
                actor: actor.clone(),
                kind: kind.to_string(),
                message,
            });
        }
        self.version += 1;
    }

    /// Records a line on the timeline that is not a fact (e.g. a notification sent).
    pub fn log(&mut self, at: DateTime<Utc>, actor: &Actor, kind: &str, message: String) {
        self.timeline.push(TimelineEntry {
            at,
            actor: actor.to_string(),
            kind: kind.to_string(),
            message,
        });
    }
}

/// Runs `decide` and `apply` on a copy: the order after the command, and the events.
pub fn execute(order: &Order, cmd: &Command, ctx: &Ctx) -> Result<(Order, Vec<Event>), RuleError> {
    let events = decide(order, cmd, ctx)?;
    let mut next = order.clone();
    next.apply(&events, ctx);
    Ok((next, events))
}
