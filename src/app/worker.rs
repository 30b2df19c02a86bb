//! The outbox worker loop: on top of everything, it asks the service to deliver what is due
//! through the transports the settings name at that moment, and sleeps until woken or a second
//! passes. The service never knows this loop exists.

use crate::service::Service;
use crate::transports::Transports;
use std::time::Duration;

/// Runs until the process stops.
pub async fn run(service: Service) {
    let wake = service.outbox_wake();
    loop {
        let pass = async {
            let settings = service.settings_snapshot().await?;
            let transports = Transports::from_settings(&settings);
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
