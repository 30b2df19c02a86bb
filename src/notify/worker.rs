//! The delivery worker: takes due messages from the outbox, hands them to a [`Deliverer`]
//! (SMTP / SMS gateway), and records each delivery, failure and retry.

use super::OutboxMessage;
use crate::service::Service;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Why a message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryError {
    /// No transport is configured for this channel: the message waits in the outbox.
    NotConfigured(String),
    /// The transport refused or failed: retried with backoff.
    Failed(String),
}

/// A boxed delivery future.
pub type DeliveryFuture<'a> = Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + 'a>>;

/// Sends one message over its channel.
pub trait Deliverer {
    /// Delivers `msg` (e-mail over SMTP, SMS over the gateway).
    fn deliver<'a>(&'a self, msg: &'a OutboxMessage) -> DeliveryFuture<'a>;

    /// Whether messages of this channel can be attempted at all (a transport is configured).
    /// When no channel can, the worker leaves the outbox untouched until one can.
    fn ready(&self, channel: super::Channel) -> bool {
        let _ = channel;
        true
    }
}

/// Runs until the process stops: delivers due messages, sleeping until woken or a second passes.
pub async fn run(service: Service, deliverer: Arc<dyn Deliverer>) {
    let wake = service.outbox_wake();
    loop {
        match service.deliver_due(deliverer.as_ref()).await {
            Ok(0) => {
                let _ = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
            }
            Ok(_) => {}
            Err(e) => {
                log::error!("outbox worker: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
