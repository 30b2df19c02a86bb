//! The outbox: every notification message, newest first, filtered by status and order number,
//! with Resend for pending and failed messages.

use super::{ok, when, Chrome, PageError, Svc};
use crate::domain::outbox::{Channel, OutboxStatus};
use crate::web::auth::{self, Posted, SignedIn};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use std::collections::HashMap;
use uuid::Uuid;

/// A message row.
pub struct Row {
    pub id: String,
    pub order: Option<u64>,
    pub event: String,
    pub channel: &'static str,
    pub to: String,
    /// A webhook delivery's endpoint page (`to` is then the receiver's host).
    pub to_link: Option<String>,
    pub subject: String,
    pub status: &'static str,
    pub attempts: u32,
    pub last_error: String,
    pub created: String,
    pub sent: String,
    pub resendable: bool,
    /// Its template had failed: Resend renders it again first.
    pub render_again: bool,
}

#[derive(Template)]
#[template(path = "outbox/list.html")]
struct OutboxPage {
    chrome: Chrome,
    rows: Vec<Row>,
    status: String,
    order: String,
    error: Option<String>,
    /// Why pending messages are not sent, when no transport is configured.
    waiting: Option<&'static str>,
    no_store_email: bool,
}

async fn list(
    req: HttpRequest,
    who: SignedIn,
    svc: Svc,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let status_raw = q.get("status").map(|s| s.trim()).unwrap_or("").to_string();
    let order_raw: String = q
        .get("order")
        .map(|s| s.trim().trim_start_matches('#').chars().take(20).collect())
        .unwrap_or_default();
    let mut error = None;
    let status = match status_raw.as_str() {
        "" => None,
        s => match OutboxStatus::parse(s) {
            Some(x) => Some(x),
            None => {
                error = Some("Unknown status; showing every status.".to_string());
                None
            }
        },
    };
    let order = match order_raw.as_str() {
        "" => None,
        s => match s.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                error = Some("The order number must be a number like 1001.".to_string());
                None
            }
        },
    };
    let rows = svc
        .outbox(order, status, 200)
        .await?
        .into_iter()
        .map(|m| Row {
            id: m.id.to_string(),
            order: m.order_number,
            event: m.event.clone(),
            channel: match m.channel {
                Channel::Email => "Email",
                Channel::Sms => "SMS",
                Channel::Webhook => "Webhook",
            },
            to: if m.channel == Channel::Webhook {
                receiver_host(&m.to)
            } else {
                m.to.clone()
            },
            to_link: m.endpoint.map(|e| format!("/settings/webhooks/{e}")),
            subject: match (m.channel, m.response_status) {
                (Channel::Email, _) => m.subject.clone(),
                (Channel::Sms, _) => m.text.chars().take(60).collect(),
                (Channel::Webhook, Some(status)) => format!("Receiver answered HTTP {status}"),
                (Channel::Webhook, None) => "Signed POST of the order".into(),
            },
            status: m.status.as_str(),
            attempts: m.attempts,
            last_error: m.last_error.clone().unwrap_or_default(),
            created: when(m.created_at),
            sent: m.sent_at.map(when).unwrap_or_default(),
            resendable: m.status != OutboxStatus::Sent,
            render_again: m.is_unrendered(),
        })
        .collect();
    let p = OutboxPage {
        chrome: Chrome::new(&req, &who, "outbox", "Outbox"),
        rows,
        status: status_raw,
        order: order_raw,
        error,
        no_store_email: svc.store_email_missing().await?,
        waiting: match svc.transports_configured().await? {
            (false, false) => Some(
                "No SMTP server or SMS gateway is configured: messages wait here as pending and \
                 are sent once one is.",
            ),
            _ => None,
        },
    };
    Ok(ok(&req, &p.chrome, &p))
}

/// The host (and port) of a receiver's URL: the outbox's column stays narrow; the endpoint's
/// page has the whole URL.
fn receiver_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#'])
        .next()
        .unwrap_or(rest)
        .to_string()
}

async fn resend(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let _ = &form.who;
    let id = path
        .parse::<Uuid>()
        .map_err(|_| PageError::NotFound("No such message".into()))?;
    let m = svc.resend(id).await?;
    Ok(auth::redirect_with_flash(
        &req,
        "/outbox",
        &format!("The message to {} will be sent again now.", m.to),
    ))
}

/// Registers the outbox page.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/outbox", web::get().to(list))
        .route("/outbox/{id}/resend", web::post().to(resend));
}
