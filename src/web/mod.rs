//! The web layer: the JSON API and the merchant's pages. Thin: extract, call the service, answer.

pub mod api;
pub mod auth;
pub mod error;
pub mod pages;
pub mod query;

pub use crate::service::views;

use actix_web::web;

/// Registers every route; shared by `main` and the tests.
pub fn configure(cfg: &mut web::ServiceConfig) {
    api::configure(cfg);
    pages::configure(cfg);
}
