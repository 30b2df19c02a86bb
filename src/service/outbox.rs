//! The outbox: delivering due messages through a [`Deliverer`] and recording each delivery,
//! failure and retry (on the message and on its order's timeline); resending; test messages.

use super::messages::{addresses, email_subject, template_context};
use super::webhooks::endpoints_of;
use super::{Service, ServiceError};
use crate::domain::notifications::Recipient;
use crate::domain::outbox::{Channel, OutboxMessage, OutboxStatus};
use crate::domain::webhooks::Endpoint;
use crate::domain::{Actor, RuleError};
use crate::ports::{Conflict, Deliverer, DeliveryError, StoreError};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

fn channel_label(c: Channel) -> &'static str {
    match c {
        Channel::Email => "E-mail",
        Channel::Sms => "SMS",
        Channel::Webhook => "Webhook",
    }
}

fn summary(m: &OutboxMessage) -> String {
    if m.channel == Channel::Email {
        m.subject.clone()
    } else {
        m.text.chars().take(40).collect()
    }
}

impl Service {
    /// Delivers every due message once; returns how many were attempted.
    pub async fn deliver_due(&self, deliverer: &dyn Deliverer) -> Result<usize, ServiceError> {
        // Nothing to attempt while no transport is configured: the messages stay pending as
        // they are (the outbox page says why) instead of being rewritten on every pass.
        let endpoints = endpoints_of(&self.settings_snapshot().await?);
        let webhooks = deliverer.ready(Channel::Webhook) && !endpoints.is_empty();
        if !deliverer.ready(Channel::Email) && !deliverer.ready(Channel::Sms) && !webhooks {
            return Ok(0);
        }
        let mut due = self.store.outbox_due(Utc::now(), 50).await?;
        // One order's messages go out in the order they were written (ids are time-ordered): a
        // message waits while an earlier one to the same order and channel is still pending.
        due.sort_by_key(|m| m.id);
        let n = due.len();
        // E-mail and SMS in one queue, each webhook endpoint's deliveries in their own, the
        // queues side by side: a receiver that takes its full 10 s delays only its own.
        let mut queues: BTreeMap<Option<Uuid>, Vec<OutboxMessage>> = BTreeMap::new();
        for m in due {
            queues.entry(m.endpoint).or_default().push(m);
        }
        let done = futures_util::future::join_all(
            queues
                .into_values()
                .map(|queue| self.deliver_queue(queue, deliverer, &endpoints)),
        )
        .await;
        // Messages whose channel has no transport yet are put back together, in one write:
        // nothing was sent, and a store without SMTP must not rewrite its outbox one message
        // at a time (that competed with intake for the write lock).
        let mut waiting = Vec::new();
        for w in done {
            waiting.extend(w?);
        }
        if !waiting.is_empty() {
            self.store.outbox_put(&waiting).await?;
        }
        Ok(n)
    }

    /// Attempts one queue of due messages in order; returns those put back to wait.
    async fn deliver_queue(
        &self,
        due: Vec<OutboxMessage>,
        deliverer: &dyn Deliverer,
        endpoints: &[Endpoint],
    ) -> Result<Vec<OutboxMessage>, ServiceError> {
        // (order, channel, webhook endpoint): a webhook delivery waits only behind earlier ones
        // to the same endpoint.
        let mut behind: HashMap<(u64, Channel, Option<Uuid>), DateTime<Utc>> = HashMap::new();
        let mut waiting = Vec::new();
        for mut m in due {
            if let Some(number) = m.order_number {
                let key = (number, m.channel, m.endpoint);
                let earlier = match behind.get(&key) {
                    Some(at) => Some(*at),
                    None => self.earlier_pending(number, &m).await?,
                };
                if let Some(at) = earlier {
                    m.last_error = Some("Waits for an earlier message to the same order".into());
                    m.next_attempt_at = at.max(Utc::now());
                    behind.insert(key, m.next_attempt_at);
                    waiting.push(m);
                    continue;
                }
            }
            let result = if m.channel == Channel::Webhook {
                let Some(ep) = endpoints.iter().find(|e| Some(e.id) == m.endpoint) else {
                    // Removed while this delivery waited: nothing to sign it with.
                    m.status = OutboxStatus::Failed;
                    m.last_error = Some("The webhook endpoint was removed".into());
                    self.store.outbox_put(std::slice::from_ref(&m)).await?;
                    continue;
                };
                self.post_delivery(&mut m, ep, deliverer).await
            } else {
                deliverer.deliver(&m).await
            };
            let now = Utc::now();
            let line = match result {
                Ok(()) => {
                    m.delivered(now);
                    format!(
                        "{} “{}” sent to {}",
                        channel_label(m.channel),
                        summary(&m),
                        m.to
                    )
                }
                Err(DeliveryError::NotConfigured(why)) => {
                    // Not an attempt: it waits, readable in the outbox page, until a transport
                    // is configured (not logged on the timeline: nothing happened to the order).
                    m.last_error = Some(why);
                    m.next_attempt_at = now + chrono::Duration::seconds(30);
                    waiting.push(m);
                    continue;
                }
                Err(e @ DeliveryError::Failed { .. }) => {
                    let e = e.to_string();
                    m.attempt_failed(e.clone(), now);
                    if let (Some(number), OutboxStatus::Pending) = (m.order_number, m.status) {
                        behind.insert((number, m.channel, m.endpoint), m.next_attempt_at);
                    }
                    if m.status == OutboxStatus::Failed {
                        format!(
                            "{} “{}” to {} failed after {} attempts: {e}",
                            channel_label(m.channel),
                            summary(&m),
                            m.to,
                            m.attempts
                        )
                    } else {
                        format!(
                            "{} “{}” to {} failed (attempt {}): {e}; retrying at {}",
                            channel_label(m.channel),
                            summary(&m),
                            m.to,
                            m.attempts,
                            m.next_attempt_at.format("%H:%M:%S")
                        )
                    }
                }
            };
            // The order's timeline first, so that whoever sees the attempt on the message also
            // sees it on the order. (Webhook deliveries have their own log, Settings >
            // Webhooks: a storefront's receiver is not news on the order.)
            if let (Some(number), false) = (m.order_number, m.channel == Channel::Webhook) {
                let kind = if m.status == OutboxStatus::Sent {
                    "notification"
                } else {
                    "notification_failed"
                };
                if let Err(e) = self.log_on_order(number, kind, &line, now).await {
                    log::warn!("could not log delivery on order {number}: {e}");
                }
            }
            self.store.outbox_put(std::slice::from_ref(&m)).await?;
        }
        Ok(waiting)
    }

    /// Renders a message whose template had failed, with the scripts loaded now, from the
    /// order as it is now (the order's state at the time of the event is not kept).
    async fn render_again(&self, m: &mut OutboxMessage) -> Result<(), ServiceError> {
        let refused = |message: String| ServiceError::Refused {
            code: "not_rendered",
            message,
        };
        let number = m
            .order_number
            .ok_or_else(|| refused("This message belongs to no order".into()))?;
        let order = self.order(number).await?;
        let settings = self.settings().await?;
        let recipient = if m.event == "order_placed_store" {
            Recipient::Store
        } else {
            Recipient::Customer
        };
        // The message does not record which shipment it was about: the latest one.
        let shipment = (m.event == "shipment_updated")
            .then(|| order.shipments.last().map(|s| s.id))
            .flatten();
        let ctx = template_context(
            &m.event,
            &order,
            shipment,
            recipient,
            &settings.store_info(),
        );
        let rendered = match self.renderer.render(&m.event, &ctx) {
            Ok(Some(r)) => r,
            Ok(None) => {
                return Err(refused(
                    "The template now sends nothing for this event".into(),
                ))
            }
            Err(e) => return Err(refused(format!("The template still fails: {e}"))),
        };
        let (_, email_to, sms_to) = addresses(&order, recipient, &settings);
        match (rendered.email, rendered.sms) {
            (Some(e), _) => {
                m.channel = Channel::Email;
                m.to = email_to;
                m.subject = email_subject(&order, recipient, e.subject);
                m.text = e.text;
                m.html = e.html;
            }
            (None, Some(text)) if !sms_to.is_empty() => {
                m.channel = Channel::Sms;
                m.to = sms_to;
                m.subject = String::new();
                m.text = text;
                m.html = None;
            }
            _ => {
                return Err(refused(
                    "The template renders nothing that can be sent here".into(),
                ))
            }
        }
        Ok(())
    }

    /// When the earliest still-pending message written before `m` to the same order and
    /// channel is next tried, if there is one.
    async fn earlier_pending(
        &self,
        number: u64,
        m: &OutboxMessage,
    ) -> Result<Option<DateTime<Utc>>, ServiceError> {
        let pending = self
            .store
            .outbox_list(Some(number), Some(OutboxStatus::Pending), 50)
            .await?;
        Ok(pending
            .iter()
            .filter(|p| p.channel == m.channel && p.endpoint == m.endpoint && p.id < m.id)
            .map(|p| p.next_attempt_at)
            .min())
    }

    /// Adds a system line to an order's timeline (a change like any other: concurrent actions
    /// must see it, so the version moves and a lost race is retried).
    async fn log_on_order(
        &self,
        number: u64,
        kind: &str,
        line: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        loop {
            let current = self.store.get_order(number).await?;
            let mut next = current.clone();
            next.log(now, &Actor::System, kind, line.to_string());
            next.version += 1;
            match self.store.update_order(current.version, &next, &[]).await {
                Err(StoreError::Conflict(Conflict::Version { .. })) => continue,
                other => return Ok(other?),
            }
        }
    }

    /// The outbox, newest first.
    pub async fn outbox(
        &self,
        order: Option<u64>,
        status: Option<OutboxStatus>,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, ServiceError> {
        Ok(self.store.outbox_list(order, status, limit).await?)
    }

    /// Sends a failed or waiting message again now.
    pub async fn resend(&self, id: Uuid) -> Result<OutboxMessage, ServiceError> {
        let mut m = self.store.outbox_get(id).await?;
        // A webhook delivery can be sent again after it arrived (a receiver that lost it).
        if m.status == OutboxStatus::Sent && m.channel != Channel::Webhook {
            return Err(ServiceError::Refused {
                code: "not_resendable",
                message: "Only pending or failed messages can be sent again".into(),
            });
        }
        if m.is_unrendered() {
            self.render_again(&mut m).await?;
        }
        if m.to.trim().is_empty() {
            // Kept because the store had no e-mail address when it was written: it goes to the
            // address the store has now.
            let for_store = m.event == "order_placed_store"
                || match m.order_number {
                    Some(n) => self.order(n).await?.test,
                    None => false,
                };
            let email = self.settings().await?.email;
            if !for_store {
                return Err(ServiceError::Refused {
                    code: "no_recipient",
                    message: "This message has no address to send to".into(),
                });
            }
            if email.trim().is_empty() {
                return Err(ServiceError::Refused {
                    code: "no_recipient",
                    message: "The store still has no e-mail address: add it in Settings, then \
                              send the message again"
                        .into(),
                });
            }
            m.to = email;
        }
        m.status = OutboxStatus::Pending;
        m.attempts = 0;
        m.next_attempt_at = Utc::now();
        self.store.outbox_put(std::slice::from_ref(&m)).await?;
        self.wake.notify_one();
        Ok(m)
    }

    /// Queues a test message (no order) to `to` and wakes the outbox worker.
    pub async fn send_test(
        &self,
        channel: Channel,
        to: &str,
    ) -> Result<OutboxMessage, ServiceError> {
        let to = to.trim();
        if to.is_empty() {
            return Err(RuleError::invalid("to", "is required").into());
        }
        let store = self.settings().await?.name;
        let m = OutboxMessage::new(
            Uuid::now_v7(),
            None,
            "test",
            channel,
            to,
            if channel == Channel::Email {
                format!("Test message from {store}")
            } else {
                String::new()
            },
            format!(
                "This is a test message from {store} (orderdeck). Your notification settings work."
            ),
            None,
            Utc::now(),
        );
        self.store.outbox_add(std::slice::from_ref(&m)).await?;
        self.wake.notify_one();
        Ok(m)
    }
}
