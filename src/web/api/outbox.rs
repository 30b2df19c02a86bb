//! The outbox over the API: the notification messages, filtered by order and status.

use super::openapi;
use super::ApiCaller;
use crate::service::Service;
use crate::web::error::ApiError;
use crate::web::views;
use actix_web::{web, HttpResponse};
use std::collections::HashMap;

/// `GET /outbox`: notification messages, newest first, filtered by order number and status.
#[utoipa::path(
    get, path = "/outbox", tag = "Outbox",
    params(
        ("order" = Option<u64>, Query, description = "Only this order's messages"),
        ("status" = Option<String>, Query, description = "pending, sent or failed"),
    ),
    responses((status = 200, description = "The newest 200 messages", body = openapi::MessageList), openapi::Refusals)
)]
pub(super) async fn list_outbox(
    svc: web::Data<Service>,
    _caller: ApiCaller,
    params: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let order = match params
        .get("order")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        Some(v) => Some(
            v.trim_start_matches('#')
                .parse::<u64>()
                .map_err(|_| ApiError::malformed("order must be an order number"))?,
        ),
        None => None,
    };
    let status = match params
        .get("status")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        Some(v) => Some(
            crate::domain::outbox::OutboxStatus::parse(v).ok_or_else(|| {
                ApiError::malformed("status must be one of pending, sent, failed")
            })?,
        ),
        None => None,
    };
    let list = svc.outbox(order, status, 200).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "messages": list.iter().map(views::outbox_message).collect::<Vec<_>>()
    })))
}
