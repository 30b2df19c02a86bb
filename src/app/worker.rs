//! The outbox worker loop: on top of everything, it asks the service to deliver what is due
//! through the transports the settings name at that moment, and sleeps until woken or a second
//! passes. The service never knows this loop exists.

use crate::service::Service;
use crate::transports::{Transports, WebhookClient};
use std::time::Duration;

/// Runs until the process stops.
pub async fn run(service: Service) {
    let wake = service.outbox_wake();
    // One client for every webhook delivery of this process (connections are reused).
    let webhooks = match WebhookClient::new() {
        Ok(c) => Some(c),
        Err(e) => {
            log::error!("webhooks will not be delivered: {e}");
            None
        }
    };
    loop {
        let pass = async {
            let settings = service.settings_snapshot().await?;
            let mut transports = Transports::from_settings(&settings);
            transports.webhooks = webhooks.clone();
            service.deliver_due(&transports).await
        };
        match pass.await {
            Ok(0) => {
                let _ = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
            }
            Ok(_) => {}
            Err(e) => {
                crate::service::log_error("outbox worker", &e);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
