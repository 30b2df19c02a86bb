//! JSON shapes of the API (docs/API.md), built from domain values (the API answers with them and notification
//! templates receive them). Money always travels as a decimal string.

use crate::domain::money::fmt;
use crate::domain::*;
use crate::ports::{CustomerRecord, Summary};
use serde::Serialize;
use serde_json::{json, Value};

fn address(a: &Address) -> Value {
    json!({
        "name": a.name, "line1": a.line1, "line2": a.line2, "city": a.city,
        "region": a.region, "postal_code": a.postal_code, "country": a.country,
    })
}

fn item_qtys(items: &[ItemQty]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|i| json!({"item_id": i.item_id, "quantity": i.quantity}))
            .collect(),
    )
}

/// The full order (`GET /orders/{number}` and every action's answer).
pub fn order(o: &Order) -> Value {
    json!({
        "id": o.id,
        "number": o.number,
        "test": o.test,
        "created_at": o.created_at,
        "currency": o.currency,
        "customer": {"id": o.customer.id, "name": o.customer.name, "email": o.customer.email, "phone": o.customer.phone},
        "shipping_address": address(&o.shipping_address),
        "billing_address": address(&o.billing_address),
        "items": o.items.iter().map(|i| json!({
            "id": i.id, "sku": i.sku, "name": i.name, "variant": i.variant,
            "unit_price": fmt(i.unit_price), "quantity": i.quantity,
            "weight_grams": i.weight_grams, "image_url": i.image_url,
        })).collect::<Vec<_>>(),
        "shipping": {"method": o.shipping.method, "price": fmt(o.shipping.price)},
        "totals": {
            "subtotal": fmt(o.subtotal()), "shipping": fmt(o.shipping.price), "tax": fmt(o.tax),
            "discount": fmt(o.discount), "total": fmt(o.total), "paid": fmt(o.paid()),
            "refunded": fmt(o.refunded()),
        },
        "payment_method": o.payment_method.as_str(),
        "payment_status": o.payment_status().as_str(),
        "fulfillment_status": o.fulfillment_status().as_str(),
        "dispatched_at": o.dispatched_at,
        "payments": o.payments.iter().map(|p| json!({
            "id": p.id, "amount": fmt(p.amount), "reference": p.reference, "at": p.at, "actor": p.actor,
        })).collect::<Vec<_>>(),
        "refunds": o.refunds.iter().map(|r| json!({
            "id": r.id, "items": item_qtys(&r.items), "refund_shipping": fmt(r.shipping),
            "adjustment_refund": fmt(r.adjustment_refund), "adjustment_fee": fmt(r.adjustment_fee),
            "amount": fmt(r.amount), "reason": r.reason, "at": r.at, "actor": r.actor,
        })).collect::<Vec<_>>(),
        "shipments": o.shipments.iter().map(|s| json!({
            "id": s.id, "kind": s.kind.as_str(), "shipping_point": s.shipping_point.as_str(),
            "carrier": s.carrier, "service": s.service,
            "carrier_name": s.carrier_name(), "service_name": s.service_name(),
            "tracking_number": s.tracking_number,
            "tracking_url": s.tracking_url, "status": s.status.as_str(),
            "expected_delivery": s.expected_delivery, "items": item_qtys(&s.items),
            "history": s.history.iter().map(|h| json!({"status": h.status.as_str(), "at": h.at})).collect::<Vec<_>>(),
            "created_at": s.created_at,
        })).collect::<Vec<_>>(),
        "returns": o.returns.iter().map(|r| json!({
            "id": r.id, "items": item_qtys(&r.items), "reason": r.reason, "at": r.at, "actor": r.actor,
        })).collect::<Vec<_>>(),
        "cancellation": o.cancellation.as_ref().map(|c| json!({"reason": c.reason, "at": c.at, "actor": c.actor})),
        "notes": o.notes.iter().map(|n| json!({
            "id": n.id, "author": n.author, "body": n.body, "created_at": n.created_at, "updated_at": n.updated_at,
        })).collect::<Vec<_>>(),
        "timeline": o.timeline.iter().map(|t| json!({
            "at": t.at, "actor": t.actor, "kind": t.kind, "message": t.message,
        })).collect::<Vec<_>>(),
        "tags": o.tags,
    })
}

/// One row of `GET /orders`.
#[derive(Serialize)]
pub struct ListRow<'a> {
    pub id: OrderId,
    pub number: u64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub customer_name: &'a str,
    pub customer_email: &'a str,
    pub total: String,
    pub currency: &'a str,
    pub payment_status: &'static str,
    pub fulfillment_status: &'static str,
    pub test: bool,
    pub items_count: u32,
    pub tags: &'a [String],
}

impl<'a> ListRow<'a> {
    /// From a stored summary.
    pub fn of(s: &'a Summary) -> Self {
        ListRow {
            id: s.id,
            number: s.number,
            created_at: s.created_at,
            customer_name: &s.customer_name,
            customer_email: &s.customer_email,
            total: fmt(s.total),
            currency: &s.currency,
            payment_status: s.payment_status.as_str(),
            fulfillment_status: s.fulfillment_status.as_str(),
            test: s.test,
            items_count: s.items_count,
            tags: &s.tags,
        }
    }
}

/// One customer of `GET /customers`.
pub fn customer(c: &CustomerRecord) -> Value {
    json!({"id": c.id, "name": c.name, "email": c.email, "phone": c.phone, "orders_count": c.orders_count})
}

/// A webhook endpoint (`secret` only when it was just created: docs/API.md, Webhooks), with how it is doing.
pub fn webhook(
    e: &crate::domain::webhooks::Endpoint,
    health: Option<&super::webhooks::Health>,
    with_secret: bool,
) -> Value {
    use super::webhooks::Health;
    let mut v = json!({
        "id": e.id, "url": e.url,
        "events": e.events.iter().map(|e| e.as_str()).collect::<Vec<_>>(),
        "created_at": e.created_at,
    });
    if with_secret {
        v["secret"] = json!(e.secret);
    }
    if let Some(h) = health {
        let (status, error) = match h {
            Health::Quiet => ("quiet", None),
            Health::Healthy => ("healthy", None),
            Health::Failing { last_error } => ("failing", Some(last_error)),
        };
        v["status"] = json!(status);
        v["last_error"] = json!(error);
    }
    v
}

/// One webhook delivery (docs/API.md, Webhooks), with when it is next tried and when it arrived.
pub fn delivery(m: &crate::domain::outbox::OutboxMessage) -> Value {
    json!({
        "id": m.id, "event": m.event, "status": m.status.as_str(), "attempts": m.attempts,
        "response_status": m.response_status, "last_error": m.last_error,
        "created_at": m.created_at, "order_number": m.order_number,
        "next_attempt_at": m.next_attempt_at, "sent_at": m.sent_at,
    })
}

/// One message of `GET /outbox`.
pub fn outbox_message(m: &crate::domain::outbox::OutboxMessage) -> Value {
    json!({
        "id": m.id, "order_number": m.order_number, "event": m.event, "channel": m.channel.as_str(),
        "to": m.to, "subject": m.subject, "status": m.status.as_str(), "attempts": m.attempts,
        "last_error": m.last_error, "next_attempt_at": m.next_attempt_at,
        "created_at": m.created_at, "sent_at": m.sent_at,
    })
}
