//! The confirmation step of an action: what will happen (from the events the rules would
//! apply), what cannot be undone, and the message shown once it is done.

use super::Kind;
use crate::domain::{Event, Order};
use crate::web::auth::{Fields, SignedIn};
use crate::web::pages::order::describe;
use crate::web::pages::{money, when, Chrome};
use actix_web::HttpRequest;
use askama::Template;
use rust_decimal::Decimal;

#[derive(Template)]
#[template(path = "orders/review.html")]
pub(super) struct ReviewPage {
    pub(super) chrome: Chrome,
    /// The way out without doing anything.
    leave_label: &'static str,
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

impl Kind {
    /// What cannot be undone (help page: "you will not be able to reset it").
    pub(super) fn warning(self, order: &Order, fields: &Fields) -> String {
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

    /// What the confirmation page lists, from the events the domain would record.
    pub(super) fn summary(
        self,
        order: &Order,
        events: &[Event],
        f: &Fields,
    ) -> Vec<(String, String)> {
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

    pub(super) fn done(self, before: &Order, after: &Order) -> String {
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
}

#[allow(clippy::too_many_arguments)] // one per thing the confirmation page shows
pub(super) fn review_page(
    req: &HttpRequest,
    who: &SignedIn,
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
        // Never a bare "Cancel" next to "Cancel this order".
        leave_label: match kind {
            Kind::Cancel => "Keep the order",
            _ => "Back to the order",
        },
        danger: kind.danger(),
        has_form: kind.has_form(),
        error,
    }
}
