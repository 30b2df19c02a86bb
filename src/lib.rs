//! orderdeck: a self-hosted Orders dashboard for online-store merchants.
//!
//! Layers (data flows one way): `web` → `service` → `domain` (pure rules), with `store`
//! (sled) beneath the service. See ARCHITECTURE in the repository's shared docs and the README.
#![forbid(unsafe_code)]

pub mod accounts;
pub mod admin;
pub mod app;
pub mod demo;
pub mod domain;
pub mod notify;
pub mod sample;
pub mod scripting;
pub mod service;
pub mod store;
pub mod views;
pub mod web;
