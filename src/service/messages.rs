//! Notification messages: the one context builder every template receives, and rendering the
//! messages an accepted change causes (stored in the same write as the change).

use super::settings::{StoreSettings, Switches};
use super::Service;
use crate::domain::notifications::{Recipient, Rendered, StoreInfo, Trigger};
use crate::domain::outbox::{Channel, OutboxMessage, OutboxStatus};
use crate::domain::{Actor, Order, ShipmentId};
use crate::ports::RenderError;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

impl StoreSettings {
    /// The store as templates see it.
    pub fn store_info(&self) -> StoreInfo {
        StoreInfo {
            name: self.name.clone(),
            email: self.email.clone(),
            currency: self.currency.clone(),
            address: self.address_lines(),
            dashboard_url: None,
        }
    }
}

/// The context a notification template receives: `{"event", "order": views::order(order),
/// "store", "shipment": the shipment's JSON or null, "to_ship": units still to ship,
/// "recipient"}`.
pub fn template_context(
    event: &str,
    order: &Order,
    shipment: Option<ShipmentId>,
    recipient: Recipient,
    store: &StoreInfo,
) -> Value {
    let order_json = super::views::order(order);
    let shipment_json = shipment
        .and_then(|id| {
            let id = json!(id);
            order_json["shipments"]
                .as_array()
                .and_then(|all| all.iter().find(|s| s["id"] == id))
                .cloned()
        })
        .unwrap_or(Value::Null);
    json!({
        "event": event,
        "order": order_json,
        "store": store,
        "shipment": shipment_json,
        "to_ship": order.to_ship_qty(),
        "recipient": recipient.as_str(),
    })
}

/// Where a recipient's messages go: `(to the store, e-mail address, phone)`. A test order's
/// customer messages go to the store (by e-mail only); an empty address means none is known.
pub(super) fn addresses(
    order: &Order,
    recipient: Recipient,
    settings: &StoreSettings,
) -> (bool, String, String) {
    if recipient == Recipient::Store || order.test {
        (true, settings.email.clone(), String::new())
    } else {
        (
            false,
            order.customer.email.clone(),
            order.customer.phone.clone(),
        )
    }
}

/// A rendered subject as sent: a test order's mail to the customer goes to the store, marked
/// "[Test]" once (the default templates already mark it).
pub(super) fn email_subject(order: &Order, recipient: Recipient, subject: String) -> String {
    if order.test && recipient == Recipient::Customer && !subject.starts_with("[Test]") {
        format!("[Test] {subject}")
    } else {
        subject
    }
}

impl Service {
    /// Renders an event's messages with the notification templates (Settings > Notifications
    /// preview); nothing is queued.
    pub fn preview_message(
        &self,
        event: &str,
        ctx: &Value,
    ) -> Result<Option<Rendered>, RenderError> {
        self.renderer.render(event, ctx)
    }

    /// Renders the messages for `triggers` on `order`. A template that fails becomes a failed
    /// message carrying the error (and a timeline line), never a failed action.
    pub(super) fn messages(
        &self,
        order: &mut Order,
        list: &[Trigger],
        settings: &StoreSettings,
        switches: &Switches,
        now: DateTime<Utc>,
    ) -> Vec<OutboxMessage> {
        let store = settings.store_info();
        let mut out = Vec::new();
        for t in list {
            for (event, recipient) in t.targets() {
                let (to_store, email_to, sms_to) = addresses(order, recipient, settings);
                let ctx = template_context(event, order, t.shipment, recipient, &store);
                match self.renderer.render(event, &ctx) {
                    Ok(None) => {}
                    Ok(Some(r)) => {
                        let sms_goes = r.sms.is_some()
                            && !sms_to.is_empty()
                            && switches.on(event, Channel::Sms);
                        if let Some(e) = r.email {
                            // No address: kept as a failed message saying why (never dropped),
                            // unless an SMS reaches the customer instead.
                            let nowhere = match (email_to.is_empty(), to_store) {
                                (false, _) => None,
                                (true, true) => Some(
                                    "The store has no e-mail address: add it in Settings, then \
                                     resend this message",
                                ),
                                (true, false) if sms_goes => None,
                                (true, false) => Some(
                                    "The customer has no e-mail address or phone number to \
                                     send to",
                                ),
                            };
                            if switches.on(event, Channel::Email)
                                && (!email_to.is_empty() || nowhere.is_some())
                            {
                                let subject = email_subject(order, recipient, e.subject);
                                let mut m = OutboxMessage::new(
                                    Uuid::now_v7(),
                                    Some(order.number),
                                    event,
                                    Channel::Email,
                                    &email_to,
                                    subject,
                                    e.text,
                                    e.html,
                                    now,
                                );
                                if let Some(why) = nowhere {
                                    m.status = OutboxStatus::Failed;
                                    m.last_error = Some(why.to_string());
                                }
                                out.push(m);
                            }
                        }
                        if let Some(text) = r.sms {
                            if sms_goes {
                                out.push(OutboxMessage::new(
                                    Uuid::now_v7(),
                                    Some(order.number),
                                    event,
                                    Channel::Sms,
                                    &sms_to,
                                    String::new(),
                                    text,
                                    None,
                                    now,
                                ));
                            }
                        }
                    }
                    Err(err) => {
                        log::warn!(
                            "notification template {event} failed for order {}: {err}",
                            order.number
                        );
                        let mut m = OutboxMessage::new(
                            Uuid::now_v7(),
                            Some(order.number),
                            event,
                            Channel::Email,
                            &email_to,
                            format!("({event} could not be rendered)"),
                            String::new(),
                            None,
                            now,
                        );
                        m.status = OutboxStatus::Failed;
                        m.last_error = Some(format!("Template error: {err}"));
                        out.push(m);
                        order.log(
                            now,
                            &Actor::System,
                            "notification",
                            format!("The {event} notification could not be rendered: {err}"),
                        );
                    }
                }
            }
        }
        out
    }
}
