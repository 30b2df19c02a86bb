//! Webhooks as the rules see them: the events a storefront can subscribe to, an endpoint and
//! what it may be, which events an order change fires, and the signature every delivery
//! carries (docs/API.md, Webhooks). Delivery itself goes through the outbox like any message.

use super::rules::RuleError;
use super::{Event, Order};
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

/// What a webhook endpoint can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum WebhookEvent {
    #[serde(rename = "order.created")]
    OrderCreated,
    #[serde(rename = "order.payment_status_changed")]
    PaymentStatusChanged,
    #[serde(rename = "order.fulfillment_status_changed")]
    FulfillmentStatusChanged,
    #[serde(rename = "shipment.updated")]
    ShipmentUpdated,
    /// Any other change: a note, the customer, a refund that keeps the payment status …
    #[serde(rename = "order.updated")]
    OrderUpdated,
}

impl WebhookEvent {
    /// Every event, in the order the settings page lists them.
    pub const ALL: [WebhookEvent; 5] = [
        WebhookEvent::OrderCreated,
        WebhookEvent::PaymentStatusChanged,
        WebhookEvent::FulfillmentStatusChanged,
        WebhookEvent::ShipmentUpdated,
        WebhookEvent::OrderUpdated,
    ];

    /// The event's name, as the API and the `X-Orderdeck-Event` header spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::OrderCreated => "order.created",
            WebhookEvent::PaymentStatusChanged => "order.payment_status_changed",
            WebhookEvent::FulfillmentStatusChanged => "order.fulfillment_status_changed",
            WebhookEvent::ShipmentUpdated => "shipment.updated",
            WebhookEvent::OrderUpdated => "order.updated",
        }
    }

    /// An event by its name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }

    /// What the event means, for the settings page.
    pub fn describe(self) -> &'static str {
        match self {
            WebhookEvent::OrderCreated => "An order is placed",
            WebhookEvent::PaymentStatusChanged => "An order's payment status changes",
            WebhookEvent::FulfillmentStatusChanged => "An order's fulfilment status changes",
            WebhookEvent::ShipmentUpdated => {
                "A shipment is created, edited, moves on, is delivered or voided"
            }
            WebhookEvent::OrderUpdated => {
                "Any other change: a note, the customer, a refund that keeps the payment status"
            }
        }
    }
}

/// Most endpoints a store may register.
pub const MAX_ENDPOINTS: usize = 20;
/// Longest URL accepted.
pub const MAX_URL: usize = 2000;

/// A registered receiver of webhooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    /// The signing secret (`whsec_` and 64 hex digits), generated when the endpoint is added.
    pub secret: String,
    pub created_at: DateTime<Utc>,
}

impl Endpoint {
    /// A new endpoint, checked: an `http` or `https` URL with a host, at least one known event.
    /// `random` is 32 fresh random bytes for the secret.
    pub fn new(
        id: Uuid,
        url: &str,
        events: &[String],
        random: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Endpoint, RuleError> {
        Ok(Endpoint {
            id,
            url: check_url(url)?,
            events: parse_events(events)?,
            secret: format!("whsec_{}", hex::encode(random)),
            created_at: now,
        })
    }

    /// Whether the endpoint hears about `event`.
    pub fn wants(&self, event: WebhookEvent) -> bool {
        self.events.contains(&event)
    }
}

/// Checks a receiver's URL: `http://` or `https://`, a host, no spaces or control characters.
pub fn check_url(raw: &str) -> Result<String, RuleError> {
    let url = raw.trim();
    if url.is_empty() {
        return Err(RuleError::invalid("url", "is required"));
    }
    if url.len() > MAX_URL {
        return Err(RuleError::invalid(
            "url",
            format!("is longer than {MAX_URL} characters"),
        ));
    }
    let lower = url.to_ascii_lowercase();
    let rest = if let Some(r) = lower.strip_prefix("https://") {
        r
    } else if let Some(r) = lower.strip_prefix("http://") {
        r
    } else {
        return Err(RuleError::invalid(
            "url",
            "must start with http:// or https:// (only web addresses receive webhooks)",
        ));
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(RuleError::invalid(
            "url",
            "must not contain spaces or control characters",
        ));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(RuleError::invalid("url", "has no host name"));
    }
    Ok(url.to_string())
}

/// Reads event names: at least one, every one known, each once (in the order of
/// [`WebhookEvent::ALL`]).
pub fn parse_events(names: &[String]) -> Result<Vec<WebhookEvent>, RuleError> {
    let mut out = Vec::new();
    for name in names {
        let e = WebhookEvent::parse(name.trim()).ok_or_else(|| {
            RuleError::invalid(
                "events",
                format!(
                    "has an unknown event {:?}: use {}",
                    name,
                    WebhookEvent::ALL.map(|e| e.as_str()).join(", ")
                ),
            )
        })?;
        if !out.contains(&e) {
            out.push(e);
        }
    }
    if out.is_empty() {
        return Err(RuleError::invalid("events", "must name at least one event"));
    }
    out.sort();
    Ok(out)
}

/// The webhook events an accepted change fires: a new order is `order.created`; otherwise each
/// of the payment status, the fulfilment status and the shipments that changed fires its own
/// event, and a change that moved none of them is `order.updated`.
pub fn fired(before: Option<&Order>, after: &Order, events: &[Event]) -> Vec<WebhookEvent> {
    let Some(before) = before else {
        return vec![WebhookEvent::OrderCreated];
    };
    if events.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    if before.payment_status() != after.payment_status() {
        out.push(WebhookEvent::PaymentStatusChanged);
    }
    if before.fulfillment_status() != after.fulfillment_status() {
        out.push(WebhookEvent::FulfillmentStatusChanged);
    }
    if before.shipments != after.shipments
        || events
            .iter()
            .any(|e| matches!(e, Event::ShipmentNotify { .. }))
    {
        out.push(WebhookEvent::ShipmentUpdated);
    }
    if out.is_empty() {
        out.push(WebhookEvent::OrderUpdated);
    }
    out
}

/// The `X-Orderdeck-Signature` value: `sha256=` and the hex HMAC-SHA256, keyed with the
/// endpoint's secret, of the timestamp (unix seconds), `.`, and the raw body.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `header` is the signature of `body` at `timestamp` (compared in constant time), and
/// the timestamp is within `tolerance_secs` of `now` — what a receiver checks.
pub fn verify(
    secret: &str,
    timestamp: i64,
    body: &[u8],
    header: &str,
    now: i64,
    tolerance_secs: i64,
) -> bool {
    let Some(hex_sig) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(given) = hex::decode(hex_sig) else {
        return false;
    };
    if (now - timestamp).abs() > tolerance_secs {
        return false;
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_web_addresses() {
        assert!(check_url("https://shop.example/hooks").is_ok());
        assert!(check_url(" http://127.0.0.1:8080/x ").is_ok());
        for bad in [
            "",
            "ftp://x.example/",
            "mailto:a@b.c",
            "javascript:alert(1)",
            "https://",
            "http:///path",
            "https://a b.example/",
            "//example.com/x",
        ] {
            let e = check_url(bad).unwrap_err();
            assert_eq!(e.field(), Some("url"), "{bad}");
        }
        assert!(check_url(&format!("https://x.example/{}", "a".repeat(MAX_URL))).is_err());
    }

    #[test]
    fn events_are_known_names_at_least_one() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_events(&names(&["order.updated", "order.created", "order.created"])).unwrap(),
            vec![WebhookEvent::OrderCreated, WebhookEvent::OrderUpdated]
        );
        let e = parse_events(&names(&["order.paid"])).unwrap_err();
        assert!(e.to_string().contains("order.paid"), "{e}");
        assert!(parse_events(&[]).is_err());
        for e in WebhookEvent::ALL {
            assert_eq!(WebhookEvent::parse(e.as_str()), Some(e));
            assert_eq!(serde_json::to_value(e).unwrap(), e.as_str());
        }
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Checked against Python's hmac module:
        // hmac.new(b"Jefe", b"1700000000.{}", hashlib.sha256).hexdigest()
        let sig = signature("Jefe", 1_700_000_000, b"{}");
        assert_eq!(
            sig,
            "sha256=d3793e2b4103edfbd98cc19591832f5fad701d413db9fcae0ae7dab8184ed207"
        );
        assert!(verify(
            "Jefe",
            1_700_000_000,
            b"{}",
            &sig,
            1_700_000_100,
            300
        ));
        assert!(!verify(
            "Jefe",
            1_700_000_000,
            b"{} ",
            &sig,
            1_700_000_100,
            300
        ));
        assert!(!verify(
            "other",
            1_700_000_000,
            b"{}",
            &sig,
            1_700_000_100,
            300
        ));
        assert!(!verify(
            "Jefe",
            1_700_000_000,
            b"{}",
            &sig,
            1_700_000_301,
            300
        ));
        assert!(!verify(
            "Jefe",
            1_700_000_001,
            b"{}",
            &sig,
            1_700_000_100,
            300
        ));
    }
}
