//! Deciding a command: every rule an action must pass, checked against the order's facts,
//! yielding the events to record or the rule that refuses it.

use super::*;
use crate::domain::money::check_amount;
use crate::domain::rules::{clean_text, optional_text, required_text, RuleError};
use crate::domain::status::{FulfillmentStatus, ShipmentStatus};
use std::collections::HashSet;

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
        // Tags are the merchant's own labels: any order may carry them, canceled ones too.
        Command::AddTag { tag } => {
            let tag = tag_of("tag", tag)?;
            if order.tags.contains(&tag) {
                return Ok(Vec::new());
            }
            if order.tags.len() >= MAX_TAGS {
                return Err(RuleError::TooManyTags { max: MAX_TAGS });
            }
            Ok(vec![Event::Tagged { tag }])
        }
        Command::RemoveTag { tag } => {
            let tag = tag_of("tag", tag)?;
            Ok(if order.tags.contains(&tag) {
                vec![Event::Untagged { tag }]
            } else {
                Vec::new()
            })
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
        let available = order.fulfillable_of(iq.item_id);
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
