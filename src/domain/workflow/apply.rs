//! Recording decided events on an order, each with its timeline entry.

use super::*;
use crate::domain::money::fmt;
use crate::domain::rules::RuleError;
use crate::domain::status::ShipmentStatus;

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
                    let how = match (s.carrier_name(), &s.tracking_number) {
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
                Event::Tagged { tag } => {
                    if let Err(at) = self.tags.binary_search(tag) {
                        self.tags.insert(at, tag.clone());
                    }
                    ("tag", format!("Tagged {tag}"))
                }
                Event::Untagged { tag } => {
                    self.tags.retain(|t| t != tag);
                    ("tag", format!("Tag {tag} removed"))
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
