//! Webhook endpoints over the API (docs/API.md, Webhooks): register, list, remove, and each one's deliveries.

use super::openapi;
use super::{parse, ApiBody, ApiCaller};
use crate::service::webhooks::{health, LOG_LIMIT};
use crate::service::Service;
use crate::web::error::ApiError;
use crate::web::views;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use uuid::Uuid;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookBody {
    #[serde(default)]
    url: String,
    #[serde(default)]
    events: Vec<String>,
}

/// An endpoint or delivery id from the path; anything else is a 404.
fn id(raw: &str, what: &str) -> Result<Uuid, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::not_found(format!("{what} {raw} not found")))
}

/// `POST /webhooks`: registers an endpoint; 201 with its generated secret.
#[utoipa::path(
    post, path = "/webhooks", tag = "Webhooks",
    request_body = openapi::WebhookRequest,
    responses((status = 201, description = "The endpoint, with its generated signing secret (answered this once)", body = openapi::WebhookCreated), openapi::Refusals)
)]
pub(super) async fn create(
    svc: web::Data<Service>,
    _caller: ApiCaller,
    body: ApiBody,
) -> Result<HttpResponse, ApiError> {
    let b: WebhookBody = parse(&body.0)?;
    let e = svc.add_webhook(&b.url, &b.events).await?;
    Ok(HttpResponse::Created().json(views::webhook(&e, None, true)))
}

/// `GET /webhooks`: every endpoint with how its deliveries are going (no secrets).
#[utoipa::path(
    get, path = "/webhooks", tag = "Webhooks",
    responses((status = 200, description = "Every endpoint and how its deliveries are going", body = openapi::WebhookList), openapi::Refusals)
)]
pub(super) async fn list(
    svc: web::Data<Service>,
    _caller: ApiCaller,
) -> Result<HttpResponse, ApiError> {
    let mut out = Vec::new();
    for e in svc.webhooks().await? {
        let recent = svc.webhook_deliveries(e.id, 20).await?;
        out.push(views::webhook(&e, Some(&health(&recent)), false));
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "webhooks": out })))
}

/// `DELETE /webhooks/{id}`: removes an endpoint; 204.
#[utoipa::path(
    delete, path = "/webhooks/{id}", tag = "Webhooks", params(("id" = Uuid, Path, description = "The endpoint id")),
    responses((status = 204, description = "Removed; its waiting deliveries were given up"), openapi::Refusals)
)]
pub(super) async fn delete(
    svc: web::Data<Service>,
    _caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    svc.remove_webhook(id(&path, "Webhook endpoint")?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /webhooks/{id}/deliveries`: the endpoint's deliveries, newest first.
#[utoipa::path(
    get, path = "/webhooks/{id}/deliveries", tag = "Webhooks", params(("id" = Uuid, Path, description = "The endpoint id")),
    responses((status = 200, description = "The newest 100 deliveries", body = openapi::DeliveryList), openapi::Refusals)
)]
pub(super) async fn deliveries(
    svc: web::Data<Service>,
    _caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let endpoint = svc.webhook(id(&path, "Webhook endpoint")?).await?;
    let list = svc.webhook_deliveries(endpoint.id, LOG_LIMIT).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "deliveries": list.iter().map(views::delivery).collect::<Vec<_>>()
    })))
}

/// `POST /webhooks/{id}/deliveries/{delivery}/resend`: sends a delivery again now (the same
/// delivery id and body, signed afresh).
#[utoipa::path(
    post, path = "/webhooks/{id}/deliveries/{delivery}/resend", tag = "Webhooks",
    params(("id" = Uuid, Path, description = "The endpoint id"), ("delivery" = Uuid, Path, description = "The delivery id")),
    responses((status = 200, description = "The delivery, on its way again with the same id and body", body = openapi::Delivery), openapi::Refusals)
)]
pub(super) async fn resend(
    svc: web::Data<Service>,
    _caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (endpoint, delivery) = path.into_inner();
    let m = svc
        .resend_delivery(
            id(&endpoint, "Webhook endpoint")?,
            id(&delivery, "Delivery")?,
        )
        .await?;
    Ok(HttpResponse::Ok().json(views::delivery(&m)))
}
