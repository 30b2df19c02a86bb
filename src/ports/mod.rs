//! Ports: the traits the service needs from the outside world — storage, the notification
//! renderer and the message deliverer — with their own error types. Their signatures name no
//! engine, crate or transport; `store`, `scripting` and `transports` implement them, and
//! `app` wires the implementations in.

pub mod storage;
pub mod transfer;

pub use storage::*;
pub use transfer::{ExportPage, Part, Record, Transfer};

/// The setting keys that configure the transports (Settings > Notifications): written by the
/// service, read from a settings snapshot by the transports.
pub mod transport_keys {
    pub const SMTP_HOST: &str = "smtp.host";
    pub const SMTP_PORT: &str = "smtp.port";
    pub const SMTP_TLS: &str = "smtp.tls";
    pub const SMTP_USERNAME: &str = "smtp.username";
    pub const SMTP_PASSWORD: &str = "smtp.password";
    pub const SMTP_FROM: &str = "smtp.from";
    pub const SMS_URL: &str = "sms.url";
    pub const SMS_AUTH: &str = "sms.auth_header";
}

use crate::domain::notifications::Rendered;
use crate::domain::outbox::{Channel, OutboxMessage};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;

/// Why a notification could not be rendered. `Display` is the template's own error (file, line,
/// what went wrong), which the outbox and the timeline show to the merchant.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct RenderError(pub Box<dyn std::error::Error + Send + Sync>);

/// Renders an event's messages (implemented by the script host).
pub trait Renderer: Send + Sync {
    /// `ctx` is `{"event", "order", "store", "shipment", "recipient"}`
    /// (`service::messages::template_context`). `Ok(None)` sends nothing.
    fn render(&self, event: &str, ctx: &Value) -> Result<Option<Rendered>, RenderError>;
}

/// A renderer that sends nothing (where no templates are loaded, e.g. demo data).
pub struct Silent;

impl Renderer for Silent {
    fn render(&self, _event: &str, _ctx: &Value) -> Result<Option<Rendered>, RenderError> {
        Ok(None)
    }
}

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// No transport is configured for this channel: the message waits in the outbox.
    #[error("{0}")]
    NotConfigured(String),
    /// The transport refused or failed: retried with backoff. `Display` is what the outbox
    /// shows; the cause is kept as the source.
    #[error("{message}")]
    Failed {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl DeliveryError {
    /// A failure described by `message` alone.
    pub fn failed(message: impl Into<String>) -> Self {
        DeliveryError::Failed {
            message: message.into(),
            source: None,
        }
    }
}

/// A boxed delivery future.
pub type DeliveryFuture<'a> = Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>>;

/// A webhook delivery as it goes out (docs/API.md, Webhooks): `POST url` with `body` and the
/// `X-Orderdeck-*` headers.
#[derive(Debug, Clone)]
pub struct WebhookPost<'a> {
    pub url: &'a str,
    /// `X-Orderdeck-Event`.
    pub event: &'a str,
    /// `X-Orderdeck-Delivery`: the same on every attempt.
    pub delivery: uuid::Uuid,
    /// `X-Orderdeck-Timestamp`: unix seconds of this attempt.
    pub timestamp: i64,
    /// `X-Orderdeck-Signature`: `sha256=<hex>`.
    pub signature: String,
    pub body: &'a str,
}

/// What a webhook receiver answered: its HTTP status when it answered at all, and whether that
/// counts as delivered (a 2xx within the time allowed).
#[derive(Debug)]
pub struct WebhookAnswer {
    pub status: Option<u16>,
    pub result: Result<(), DeliveryError>,
}

/// A boxed webhook delivery future.
pub type WebhookFuture<'a> = Pin<Box<dyn Future<Output = WebhookAnswer> + Send + 'a>>;

/// Sends one message over its channel.
pub trait Deliverer: Send + Sync {
    /// Delivers `msg` (e-mail over SMTP, SMS over the gateway).
    fn deliver<'a>(&'a self, msg: &'a OutboxMessage) -> DeliveryFuture<'a>;

    /// Posts one webhook delivery (signed by the caller).
    fn post_webhook<'a>(&'a self, post: WebhookPost<'a>) -> WebhookFuture<'a> {
        let _ = post;
        Box::pin(async {
            WebhookAnswer {
                status: None,
                result: Err(DeliveryError::NotConfigured(
                    "No webhook client is running".into(),
                )),
            }
        })
    }

    /// Whether messages of this channel can be attempted at all (a transport is configured).
    /// When no channel can, the outbox is left untouched until one can.
    fn ready(&self, channel: Channel) -> bool {
        let _ = channel;
        true
    }
}
