//! Notification scripts: one `notifications/<event>.rhai` per event, whose `render(ctx)` returns
//! the email (subject, text, optional HTML) and the SMS text, or `()` to send nothing.

use super::{convert, ScriptError, ScriptHost};
use crate::domain::{Order, ShipmentId};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Every notification event, in the order the settings page lists them.
/// `order_placed` goes to the customer, `order_placed_store` to the store's own email.
pub const EVENTS: &[&str] = &[
    "order_placed",
    "order_placed_store",
    "payment_status_changed",
    "fulfillment_status_changed",
    "shipment_updated",
];

/// An email's content (addresses are the transport's business).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    /// One line, trimmed.
    pub subject: String,
    pub text: String,
    /// When present the email is sent as multipart/alternative (text + HTML).
    pub html: Option<String>,
}

/// What a notification script produced. At least one of the two is present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendered {
    pub email: Option<Email>,
    pub sms: Option<String>,
}

/// Who a message is for (`ctx.recipient`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    Customer,
    Store,
}

impl Recipient {
    /// The name scripts see.
    pub fn as_str(self) -> &'static str {
        match self {
            Recipient::Customer => "customer",
            Recipient::Store => "store",
        }
    }
}

/// The store as scripts see it (`ctx.store`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreInfo {
    pub name: String,
    pub email: String,
    pub currency: String,
    /// The postal address, one line per `\n`.
    pub address: String,
    /// The dashboard's public base URL (no trailing slash), for links in store emails.
    #[serde(default)]
    pub dashboard_url: Option<String>,
}

/// Builds a script's `ctx`: `{"event", "order": views::order(order), "store", "shipment":
/// the shipment's JSON or null, "recipient"}`.
pub fn notification_context(
    event: &str,
    order: &Order,
    store: &StoreInfo,
    shipment: Option<ShipmentId>,
    recipient: Recipient,
) -> Value {
    let order_json = crate::web::views::order(order);
    let shipment_json = shipment
        .and_then(|id| {
            let id = id.to_string();
            order_json["shipments"]
                .as_array()
                .and_then(|all| all.iter().find(|s| s["id"].as_str() == Some(id.as_str())))
                .cloned()
        })
        .unwrap_or(Value::Null);
    json!({
        "event": event,
        "order": order_json,
        "store": store,
        "shipment": shipment_json,
        "recipient": recipient.as_str(),
    })
}

impl ScriptHost {
    /// Renders `event` for `ctx` (see [`notification_context`]). `Ok(None)`: send nothing (the
    /// script returned `()`, or its file is empty). Unknown event: `ScriptError::NotFound`.
    pub fn render(&self, event: &str, ctx: &Value) -> Result<Option<Rendered>, ScriptError> {
        let script = self
            .notifications
            .get(event)
            .ok_or_else(|| ScriptError::NotFound {
                what: format!(
                    "no notification event {event:?} (events: {})",
                    EVENTS.join(", ")
                ),
            })?;
        let Some(ast) = &script.ast else {
            return Ok(None);
        };
        let arg = convert::json_to_dynamic(ctx).map_err(|message| ScriptError::Runtime {
            path: script.path.clone(),
            function: "render".into(),
            message: format!("the context could not be converted: {message}"),
        })?;
        let out = self.call(&script.path, ast, "render", (arg,))?;
        convert::rendered(out).map_err(|message| ScriptError::BadReturn {
            path: script.path.clone(),
            function: "render".into(),
            message,
        })
    }
}
