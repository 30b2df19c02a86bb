//! orderdeck: a self-hosted Orders dashboard for online-store merchants.
//!
//! Layers (every arrow points down; `docs/ARCHITECTURE.md` explains each):
//! `app` (startup, loops) → `web` (pages, JSON API) → `service` (use cases) → `domain` (pure
//! rules), with `ports` (the traits the service needs) implemented by `store` (sled),
//! `scripting` (Rhai) and `transports` (SMTP, SMS).
#![forbid(unsafe_code)]

pub mod app;
pub mod domain;
pub mod ports;
pub mod scripting;
pub mod service;
pub mod store;
pub mod transports;
pub mod web;
