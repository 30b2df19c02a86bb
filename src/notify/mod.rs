//! Notifications: which events an order change fires, rendering them into messages through a
//! [`Renderer`] (the Rhai templates), the durable outbox record, and the delivery worker.

pub mod outbox;
pub mod scripted;
pub mod sms;
pub mod smtp;
pub mod worker;

use crate::domain::{Event, Order};
use serde_json::Value;

pub use outbox::{Channel, OutboxMessage, OutboxStatus};
pub use sms::{send_sms, SmsClient, SmsConfig};
pub use smtp::{send_email, Mailer, SmtpConfig, SmtpTls};

/// Events of SPEC 2, by their script names.
pub const EVENTS: &[&str] = &[
    "order_placed",
    "order_placed_store",
    "payment_status_changed",
    "fulfillment_status_changed",
    "shipment_updated",
];

/// An e-mail as a template renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

/// What a template produced for one event: an e-mail, an SMS, both or neither.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub email: Option<RenderedEmail>,
    pub sms: Option<String>,
}

/// Renders an event's messages (implemented by the script host).
pub trait Renderer: Send + Sync {
    /// `ctx` is `{"event", "order", "store", "shipment", "recipient"}`. `Ok(None)` sends nothing.
    fn render(&self, event: &str, ctx: &Value) -> Result<Option<Rendered>, String>;
}

/// A renderer that sends nothing (used where no templates are loaded, e.g. demo data).
pub struct Silent;

impl Renderer for Silent {
    fn render(&self, _event: &str, _ctx: &Value) -> Result<Option<Rendered>, String> {
        Ok(None)
    }
}

/// One event to notify about, with the shipment it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub event: &'static str,
    pub shipment: Option<crate::domain::ShipmentId>,
}

/// The events an accepted change fires (SPEC 2): status changes are found by comparing the
/// derived statuses before and after, shipment updates by the domain's notify events.
pub fn triggers(before: &Order, after: &Order, events: &[Event]) -> Vec<Trigger> {
    let mut out = Vec::new();
    if before.payment_status() != after.payment_status() {
        out.push(Trigger {
            event: "payment_status_changed",
            shipment: None,
        });
    }
    if before.fulfillment_status() != after.fulfillment_status() {
        out.push(Trigger {
            event: "fulfillment_status_changed",
            shipment: None,
        });
    }
    for e in events {
        if let Event::ShipmentNotify { shipment_id } = e {
            out.push(Trigger {
                event: "shipment_updated",
                shipment: Some(*shipment_id),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_changes_and_shipment_notices_fire_events() {
        let o = crate::domain::tests_support::order();
        let ctx = crate::domain::tests_support::ctx();
        let (paid, ev) = crate::domain::execute(
            &o,
            &crate::domain::Command::RecordPayment {
                amount: None,
                reference: None,
            },
            &ctx,
        )
        .unwrap();
        let t = triggers(&o, &paid, &ev);
        assert_eq!(
            t,
            vec![Trigger {
                event: "payment_status_changed",
                shipment: None
            }]
        );
        let (noted, ev) = crate::domain::execute(
            &o,
            &crate::domain::Command::AddNote { body: "hi".into() },
            &ctx,
        )
        .unwrap();
        assert!(triggers(&o, &noted, &ev).is_empty());
    }
}
