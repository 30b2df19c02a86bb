//! Webhooks (docs/API.md, Webhooks): the endpoints, the deliveries an accepted change writes into the outbox
//! in the same write as the change, and posting a delivery signed with its endpoint's secret.
//!
//! Endpoints are kept as settings (`webhook.<id>` → the endpoint's JSON): every intake and
//! action already reads a settings snapshot, so knowing who to tell costs no extra read, and on
//! PostgreSQL every instance's settings cache hears of a new or removed endpoint at once.

use super::{Service, ServiceError};
use crate::domain::outbox::{Channel, OutboxMessage, OutboxStatus};
use crate::domain::webhooks::{fired, signature, Endpoint, MAX_ENDPOINTS};
use crate::domain::{Event, Order, RuleError};
use crate::ports::{Deliverer, DeliveryError, WebhookPost};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::BTreeMap;
use uuid::Uuid;

/// The settings key prefix of endpoints.
pub const KEY_PREFIX: &str = "webhook.";

/// Most deliveries an endpoint's log shows.
pub const LOG_LIMIT: usize = 100;

/// The endpoints in a settings snapshot, oldest first. One that does not read is logged and
/// left out (it would have been written by this code, so it means a damaged value).
pub fn endpoints_of(all: &BTreeMap<String, String>) -> Vec<Endpoint> {
    let mut out: Vec<Endpoint> = all
        .range(KEY_PREFIX.to_string()..)
        .take_while(|(k, _)| k.starts_with(KEY_PREFIX))
        .filter_map(|(k, v)| match serde_json::from_str(v) {
            Ok(e) => Some(e),
            Err(e) => {
                log::error!("webhook endpoint {k} does not read: {e}");
                None
            }
        })
        .collect();
    out.sort_by_key(|e: &Endpoint| (e.created_at, e.id));
    out
}

/// How an endpoint is doing, from its newest deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Nothing was sent to it yet.
    Quiet,
    /// Its last attempt was answered with a 2xx.
    Healthy,
    /// Its last attempt failed: the error, and how many deliveries wait or gave up.
    Failing { last_error: String },
}

/// An endpoint's health from its deliveries (newest first).
pub fn health(deliveries: &[OutboxMessage]) -> Health {
    // The newest delivery that was attempted decides. One sent again keeps its arrival until
    // the new attempt is recorded (its attempts start again from 0).
    match deliveries
        .iter()
        .find(|m| m.attempts > 0 || m.sent_at.is_some())
    {
        None => Health::Quiet,
        Some(m) if m.status == OutboxStatus::Sent || m.attempts == 0 => Health::Healthy,
        Some(m) => Health::Failing {
            last_error: m
                .last_error
                .clone()
                .unwrap_or_else(|| "The last attempt failed".into()),
        },
    }
}

fn webhook_not_found(id: Uuid) -> ServiceError {
    ServiceError::NotFound(format!("Webhook endpoint {id} not found"))
}

impl Service {
    /// Every endpoint, oldest first.
    pub async fn webhooks(&self) -> Result<Vec<Endpoint>, ServiceError> {
        Ok(endpoints_of(&self.settings_snapshot().await?))
    }

    /// One endpoint.
    pub async fn webhook(&self, id: Uuid) -> Result<Endpoint, ServiceError> {
        self.webhooks()
            .await?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| webhook_not_found(id))
    }

    /// Registers an endpoint for `events`, with a freshly generated secret.
    pub async fn add_webhook(
        &self,
        url: &str,
        events: &[String],
    ) -> Result<Endpoint, ServiceError> {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random)
            .map_err(|e| ServiceError::Internal(format!("no randomness for the secret: {e}")))?;
        let endpoint = Endpoint::new(Uuid::now_v7(), url, events, random, Utc::now())?;
        if self.webhooks().await?.len() >= MAX_ENDPOINTS {
            return Err(RuleError::invalid(
                "url",
                format!("cannot be added: a store has at most {MAX_ENDPOINTS} webhook endpoints"),
            )
            .into());
        }
        let value = serde_json::to_string(&endpoint)
            .map_err(|e| ServiceError::Internal(format!("endpoint not encodable: {e}")))?;
        self.store
            .put_setting(&format!("{KEY_PREFIX}{}", endpoint.id), &value)
            .await?;
        Ok(endpoint)
    }

    /// Removes an endpoint. Its deliveries still waiting are given up (kept in the outbox as
    /// failed, saying why), so nothing waits for a receiver no one will sign for.
    pub async fn remove_webhook(&self, id: Uuid) -> Result<(), ServiceError> {
        self.webhook(id).await?;
        self.store
            .remove_setting(&format!("{KEY_PREFIX}{id}"))
            .await?;
        let mut waiting: Vec<OutboxMessage> = self
            .store
            .outbox_for_endpoint(id, LOG_LIMIT)
            .await?
            .into_iter()
            .filter(|m| m.status == OutboxStatus::Pending)
            .collect();
        for m in &mut waiting {
            m.status = OutboxStatus::Failed;
            m.last_error = Some("The webhook endpoint was removed".into());
        }
        if !waiting.is_empty() {
            self.store.outbox_put(&waiting).await?;
        }
        Ok(())
    }

    /// An endpoint's deliveries, newest first.
    pub async fn webhook_deliveries(
        &self,
        id: Uuid,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, ServiceError> {
        Ok(self.store.outbox_for_endpoint(id, limit).await?)
    }

    /// Sends one of an endpoint's deliveries again now (the same delivery id and body).
    pub async fn resend_delivery(
        &self,
        endpoint: Uuid,
        delivery: Uuid,
    ) -> Result<OutboxMessage, ServiceError> {
        self.webhook(endpoint).await?;
        let m = self.store.outbox_get(delivery).await?;
        if m.endpoint != Some(endpoint) {
            return Err(ServiceError::NotFound(format!(
                "Delivery {delivery} of endpoint {endpoint} not found"
            )));
        }
        self.resend(delivery).await
    }

    /// The deliveries an accepted change causes: one per endpoint and event it subscribed to,
    /// each `{"id","event","created_at","order"}` with the order as it is after the change.
    pub(super) fn webhook_messages(
        &self,
        endpoints: &[Endpoint],
        before: Option<&Order>,
        after: &Order,
        events: &[Event],
        now: DateTime<Utc>,
    ) -> Vec<OutboxMessage> {
        if endpoints.is_empty() {
            return Vec::new();
        }
        let fired = fired(before, after, events);
        let mut out = Vec::new();
        let mut order_json = None;
        for event in fired {
            for ep in endpoints.iter().filter(|e| e.wants(event)) {
                let order = order_json.get_or_insert_with(|| super::views::order(after));
                let id = Uuid::now_v7();
                let body = json!({
                    "id": id,
                    "event": event.as_str(),
                    "created_at": now,
                    "order": order,
                })
                .to_string();
                let mut m = OutboxMessage::new(
                    id,
                    Some(after.number),
                    event.as_str(),
                    Channel::Webhook,
                    &ep.url,
                    String::new(),
                    body,
                    None,
                    now,
                );
                m.endpoint = Some(ep.id);
                out.push(m);
            }
        }
        out
    }

    /// Posts one delivery to `ep`, signed now with its secret; records the receiver's status on
    /// the message.
    pub(super) async fn post_delivery(
        &self,
        m: &mut OutboxMessage,
        ep: &Endpoint,
        deliverer: &dyn Deliverer,
    ) -> Result<(), DeliveryError> {
        let timestamp = Utc::now().timestamp();
        let answer = deliverer
            .post_webhook(WebhookPost {
                url: &ep.url,
                event: &m.event,
                delivery: m.id,
                timestamp,
                signature: signature(&ep.secret, timestamp, m.text.as_bytes()),
                body: &m.text,
            })
            .await;
        m.response_status = answer.status;
        answer.result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery() -> OutboxMessage {
        OutboxMessage::new(
            Uuid::new_v4(),
            Some(1001),
            "order.created",
            Channel::Webhook,
            "https://shop.example/in",
            String::new(),
            "{}".into(),
            None,
            Utc::now(),
        )
    }

    #[test]
    fn the_newest_attempted_delivery_decides_an_endpoints_health() {
        assert!(matches!(health(&[]), Health::Quiet));
        // Written but not yet attempted: still quiet.
        assert!(matches!(health(&[delivery()]), Health::Quiet));
        let mut sent = delivery();
        sent.delivered(Utc::now());
        let mut failing = delivery();
        failing.attempt_failed("HTTP 500".into(), Utc::now());
        // Newest first: a later failure outweighs an earlier arrival, and the other way round.
        assert!(matches!(
            health(&[failing.clone(), sent.clone()]),
            Health::Failing { ref last_error } if last_error == "HTTP 500"
        ));
        assert!(matches!(
            health(&[sent.clone(), failing.clone()]),
            Health::Healthy
        ));
        // A delivery not yet attempted does not hide the one before it.
        assert!(matches!(
            health(&[delivery(), failing.clone()]),
            Health::Failing { .. }
        ));
        // One that arrived and is being sent again keeps its arrival until the new attempt is
        // recorded; one that failed and is sent again waits like a new one, so the delivery
        // before it decides.
        let mut resent = sent.clone();
        resent.status = OutboxStatus::Pending;
        resent.attempts = 0;
        assert!(matches!(
            health(&[resent, failing.clone()]),
            Health::Healthy
        ));
        let mut retried = failing.clone();
        retried.attempts = 0;
        assert!(matches!(health(&[retried, sent]), Health::Healthy));
    }
}
