//! The web layer: the JSON API (and, next to it, the pages). Thin: extract, call the service, answer.

pub mod api;
pub mod error;

pub use crate::views;

use actix_web::web;

/// Registers every route; shared by `main` and the tests.
pub fn configure(cfg: &mut web::ServiceConfig) {
    api::configure(cfg);
}
