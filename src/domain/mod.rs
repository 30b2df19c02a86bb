//! The pure domain: orders, their facts, derived statuses and the rules of every action.
//! No IO here: no clock, no randomness, no storage, no HTTP.

pub mod bulk;
pub mod decimal_json;
pub mod intake;
pub mod money;
pub mod notifications;
pub mod order;
pub mod outbox;
pub mod rules;
pub mod sample;
pub mod shipping;
pub mod status;
pub mod team;
pub mod webhooks;
pub mod workflow;

#[cfg(test)]
mod tests;
#[cfg(test)]
pub mod tests_support;

pub use order::*;
pub use rules::RuleError;
pub use status::{FulfillmentStatus, PaymentStatus, ShipmentStatus};
pub use workflow::{decide, execute, Command, Ctx, Event};
