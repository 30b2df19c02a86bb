//! Notifications as the rules see them: the events an order change fires, who a message is for,
//! and what a notification template produces. Rendering (Rhai) and delivery (SMTP, SMS) live
//! behind the ports; this module only names things.

use super::{Event, Order, ShipmentId};
use crate::domain::status::ShipmentStatus;
use serde::{Deserialize, Serialize};

/// Every notification event by its script name, in the order the settings page lists them.
/// `order_placed` goes to the customer, `order_placed_store` to the store's own e-mail.
pub const EVENTS: &[&str] = &[
    "order_placed",
    "order_placed_store",
    "payment_status_changed",
    "fulfillment_status_changed",
    "shipment_updated",
];

/// Who a message is for (`ctx.recipient` in a template).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    Customer,
    Store,
}

impl Recipient {
    /// The name templates see.
    pub fn as_str(self) -> &'static str {
        match self {
            Recipient::Customer => "customer",
            Recipient::Store => "store",
        }
    }
}

/// The store as templates see it (`ctx.store`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreInfo {
    pub name: String,
    pub email: String,
    pub currency: String,
    /// The postal address, one line per `\n`.
    pub address: String,
    /// The dashboard's public base URL (no trailing slash), for links in store e-mails.
    #[serde(default)]
    pub dashboard_url: Option<String>,
}

/// An e-mail as a template renders it (addresses are the transport's business).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedEmail {
    /// One line, trimmed.
    pub subject: String,
    pub text: String,
    /// When present the e-mail is sent as multipart/alternative (text + HTML).
    pub html: Option<String>,
}

/// What a template produced for one event: an e-mail, an SMS, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendered {
    pub email: Option<RenderedEmail>,
    pub sms: Option<String>,
}

/// One event to notify about, with the shipment it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub event: &'static str,
    pub shipment: Option<ShipmentId>,
}

impl Trigger {
    /// The messages this trigger addresses: the event for the customer, and for a new order
    /// also `order_placed_store` for the store.
    pub fn targets(&self) -> Vec<(&'static str, Recipient)> {
        let mut out = vec![(self.event, Recipient::Customer)];
        if self.event == "order_placed" {
            out.push(("order_placed_store", Recipient::Store));
        }
        out
    }
}

/// The events an accepted change fires. A payment status change fires
/// `payment_status_changed`. Every shipment an event concerns gets exactly one message about it:
/// `shipment_updated` when the customer is to hear of it (an edit with "notify customer"
/// ticked, a carrier tracking event), else `fulfillment_status_changed` about that shipment when
/// it was created or canceled, or when the order's fulfillment status moved with it. A
/// fulfillment status change with no shipment in it (dispatch, cancel, return) fires
/// `fulfillment_status_changed` on its own.
pub fn triggers(before: &Order, after: &Order, events: &[Event]) -> Vec<Trigger> {
    let mut out = Vec::new();
    if before.payment_status() != after.payment_status() {
        out.push(Trigger {
            event: "payment_status_changed",
            shipment: None,
        });
    }
    let status_moved = before.fulfillment_status() != after.fulfillment_status();
    // (shipment, created or canceled here, the customer is to be told)
    let mut about: Vec<(ShipmentId, bool, bool)> = Vec::new();
    for e in events {
        let (id, news, notify) = match e {
            Event::ShipmentCreated(s) => (s.id, true, false),
            Event::ShipmentStatusChanged {
                shipment_id,
                status,
                ..
            } => (*shipment_id, *status == ShipmentStatus::Canceled, false),
            Event::ShipmentNotify { shipment_id } => (*shipment_id, false, true),
            _ => continue,
        };
        match about.iter_mut().find(|a| a.0 == id) {
            Some(a) => {
                a.1 |= news;
                a.2 |= notify;
            }
            None => about.push((id, news, notify)),
        }
    }
    for (id, news, notify) in &about {
        let event = if *notify {
            "shipment_updated"
        } else if *news || status_moved {
            "fulfillment_status_changed"
        } else {
            continue;
        };
        out.push(Trigger {
            event,
            shipment: Some(*id),
        });
    }
    if about.is_empty() && status_moved {
        out.push(Trigger {
            event: "fulfillment_status_changed",
            shipment: None,
        });
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

    #[test]
    fn a_new_order_also_tells_the_store() {
        let t = Trigger {
            event: "order_placed",
            shipment: None,
        };
        assert_eq!(
            t.targets(),
            vec![
                ("order_placed", Recipient::Customer),
                ("order_placed_store", Recipient::Store)
            ]
        );
    }
}
