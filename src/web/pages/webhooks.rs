//! Settings > Webhooks (owner only): the endpoints with how their deliveries are going, adding
//! one (URL and events; the signing secret is generated), removing one, and each endpoint's
//! delivery log with a Resend button.

use super::{ok, render, when, Chrome, PageError, Svc};
use crate::domain::outbox::OutboxStatus;
use crate::domain::webhooks::WebhookEvent;
use crate::domain::RuleError;
use crate::service::webhooks::{health, Health, LOG_LIMIT};
use crate::service::ServiceError;
use crate::web::auth::{self, Fields, Posted, SignedIn};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use uuid::Uuid;

/// An endpoint's row.
pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub events: String,
    /// `quiet`, `healthy` or `failing` (the badge's class).
    pub status: &'static str,
    pub status_label: &'static str,
    pub last_error: String,
    pub created: String,
}

/// An event's checkbox on the add form: (name, description, ticked).
pub struct EventChoice {
    pub name: &'static str,
    pub describe: &'static str,
    pub checked: bool,
}

/// A delivery's row.
pub struct DeliveryRow {
    pub id: String,
    pub event: String,
    pub order: Option<u64>,
    pub status: &'static str,
    pub attempts: u32,
    pub response: String,
    pub last_error: String,
    pub created: String,
    pub next: String,
}

#[derive(Template)]
#[template(path = "settings/webhooks.html")]
struct WebhooksPage {
    chrome: Chrome,
    endpoints: Vec<EndpointRow>,
    url: String,
    events: Vec<EventChoice>,
    /// (field, message) of a refused add.
    error: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "settings/webhook.html")]
struct WebhookPage {
    chrome: Chrome,
    endpoint: EndpointRow,
    secret: String,
    deliveries: Vec<DeliveryRow>,
}

fn owner_only(who: &SignedIn) -> Result<(), PageError> {
    if who.member.role.can_manage_tokens() {
        Ok(())
    } else {
        Err(PageError::Forbidden(
            "Only the owner can manage webhooks.".into(),
        ))
    }
}

fn endpoint_id(raw: &str) -> Result<Uuid, PageError> {
    raw.parse()
        .map_err(|_| PageError::NotFound("No such webhook endpoint".into()))
}

fn row(e: &crate::domain::webhooks::Endpoint, h: &Health) -> EndpointRow {
    let (status, status_label, last_error) = match h {
        Health::Quiet => ("quiet", "No deliveries yet", String::new()),
        Health::Healthy => ("healthy", "Delivering", String::new()),
        Health::Failing { last_error } => ("failing", "Failing", last_error.clone()),
    };
    EndpointRow {
        id: e.id.to_string(),
        url: e.url.clone(),
        events: e
            .events
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        status,
        status_label,
        last_error,
        created: when(e.created_at),
    }
}

async fn list_page(
    req: &HttpRequest,
    who: &SignedIn,
    svc: &Svc,
    posted: Option<&Fields>,
    error: Option<(String, String)>,
) -> Result<WebhooksPage, PageError> {
    let mut endpoints = Vec::new();
    for e in svc.webhooks().await? {
        let recent = svc.webhook_deliveries(e.id, 20).await?;
        endpoints.push(row(&e, &health(&recent)));
    }
    let events = WebhookEvent::ALL
        .iter()
        .map(|e| EventChoice {
            name: e.as_str(),
            describe: e.describe(),
            checked: posted
                .is_some_and(|f| f.0.iter().any(|(k, v)| k == "events" && v == e.as_str())),
        })
        .collect();
    Ok(WebhooksPage {
        chrome: Chrome::new(req, who, "settings", "Webhooks"),
        endpoints,
        url: posted.map(|f| f.get("url").to_string()).unwrap_or_default(),
        events,
        error,
    })
}

async fn show(req: HttpRequest, who: SignedIn, svc: Svc) -> Result<HttpResponse, PageError> {
    owner_only(&who)?;
    let p = list_page(&req, &who, &svc, None, None).await?;
    Ok(ok(&req, &p.chrome, &p))
}

async fn add(req: HttpRequest, form: Posted, svc: Svc) -> Result<HttpResponse, PageError> {
    owner_only(&form.who)?;
    let events: Vec<String> = form
        .fields
        .0
        .iter()
        .filter(|(k, _)| k == "events")
        .map(|(_, v)| v.clone())
        .collect();
    match svc.add_webhook(form.fields.get("url"), &events).await {
        Ok(e) => Ok(auth::redirect_with_flash(
            &req,
            &format!("/settings/webhooks/{}", e.id),
            "Endpoint added. Give its signing secret to the receiver so it can verify each delivery.",
        )),
        Err(ServiceError::Rule(r)) => {
            let (field, message) = match &r {
                RuleError::Invalid { field, message } => (
                    field.clone(),
                    format!(
                        "{} {message}",
                        if field == "url" { "URL" } else { "Events" }
                    ),
                ),
                other => ("url".to_string(), other.to_string()),
            };
            let p = list_page(
                &req,
                &form.who,
                &svc,
                Some(&form.fields),
                Some((field, message)),
            )
            .await?;
            Ok(render(
                &req,
                StatusCode::UNPROCESSABLE_ENTITY,
                &p.chrome,
                &p,
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn endpoint(
    req: HttpRequest,
    who: SignedIn,
    svc: Svc,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    owner_only(&who)?;
    let e = svc.webhook(endpoint_id(&path)?).await?;
    let log = svc.webhook_deliveries(e.id, LOG_LIMIT).await?;
    let deliveries = log
        .iter()
        .map(|m| DeliveryRow {
            id: m.id.to_string(),
            event: m.event.clone(),
            order: m.order_number,
            status: m.status.as_str(),
            attempts: m.attempts,
            response: m.response_status.map(|s| s.to_string()).unwrap_or_default(),
            last_error: m.last_error.clone().unwrap_or_default(),
            created: when(m.created_at),
            next: if m.status == OutboxStatus::Pending {
                when(m.next_attempt_at)
            } else {
                String::new()
            },
        })
        .collect();
    let p = WebhookPage {
        chrome: Chrome::new(&req, &who, "settings", format!("Webhook {}", e.url)),
        endpoint: row(&e, &health(&log)),
        secret: e.secret.clone(),
        deliveries,
    };
    Ok(ok(&req, &p.chrome, &p))
}

async fn remove(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    owner_only(&form.who)?;
    svc.remove_webhook(endpoint_id(&path)?).await?;
    Ok(auth::redirect_with_flash(
        &req,
        "/settings/webhooks",
        "Endpoint removed; its waiting deliveries were given up.",
    ))
}

async fn resend(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    owner_only(&form.who)?;
    let (endpoint, delivery) = path.into_inner();
    let endpoint = endpoint_id(&endpoint)?;
    let delivery = delivery
        .parse()
        .map_err(|_| PageError::NotFound("No such delivery".into()))?;
    svc.resend_delivery(endpoint, delivery).await?;
    Ok(auth::redirect_with_flash(
        &req,
        &format!("/settings/webhooks/{endpoint}"),
        "The delivery is on its way again, with the same delivery id.",
    ))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings/webhooks", web::get().to(show))
        .route("/settings/webhooks", web::post().to(add))
        .route("/settings/webhooks/{id}", web::get().to(endpoint))
        .route("/settings/webhooks/{id}/remove", web::post().to(remove))
        .route(
            "/settings/webhooks/{id}/deliveries/{delivery}/resend",
            web::post().to(resend),
        );
}
