//! The web layer: the JSON API and the merchant's pages. Thin: extract, call the service, answer.

pub mod api;
pub mod auth;
pub mod error;
pub mod pages;
pub mod query;

pub use crate::service::views;

use crate::service::Service;
use actix_web::{web, HttpResponse};

/// `GET /healthz`: the process runs.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: the storage answers (503 when it does not; the reason is only logged).
async fn readyz(svc: web::Data<Service>) -> HttpResponse {
    if svc.ready().await {
        HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
    } else {
        HttpResponse::ServiceUnavailable().json(serde_json::json!({"status": "unavailable"}))
    }
}

/// Registers every route; shared by `main` and the tests.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
    api::configure(cfg);
    pages::configure(cfg);
}
