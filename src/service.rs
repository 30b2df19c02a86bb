//! Use cases: load, ask the domain, apply through the store, wait for durability, return.
//! The pages and the JSON API both call these functions, so they can never disagree.

use crate::domain::intake::OrderDraft;
use crate::domain::workflow::execute;
use crate::domain::{Actor, Command, Ctx, CustomerId, CustomerSnapshot, Order, RuleError};
use crate::notify::worker::{Deliverer, DeliveryError};
use crate::notify::{triggers, Channel, OutboxMessage, OutboxStatus, Renderer, Silent, Trigger};
use crate::store::{
    Change, Counts, Created, CustomerRecord, ListPage, ListQuery, NewOrder, OrderStore, StoreError,
    TokenRecord,
};
use chrono::Utc;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::sync::Notify;
use uuid::Uuid;

/// What a use case can fail with. Only `web/error.rs` turns this into HTTP.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ServiceError::NotFound(format!("{what} not found")),
            StoreError::Rejected(r) => ServiceError::Rule(r),
            StoreError::Conflict(m) => ServiceError::Conflict(m),
            StoreError::BadCursor(m) => ServiceError::BadRequest(m),
            StoreError::TooBroad(m) => ServiceError::Refused {
                code: "search_too_broad",
                message: m,
            },
            other => ServiceError::Store(other),
        }
    }
}

/// The store-wide settings the use cases need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    pub name: String,
    pub email: String,
    pub currency: String,
}

/// The application's use cases.
#[derive(Clone)]
pub struct Service {
    store: Arc<dyn OrderStore>,
    renderer: Arc<dyn Renderer>,
    wake: Arc<Notify>,
}

/// Whether an event's e-mail and SMS are switched on (Settings > Notifications; on by default).
pub fn channel_enabled(store: &dyn OrderStore, event: &str, channel: Channel) -> bool {
    let key = format!("notify.{event}.{}", channel.as_str());
    !matches!(store.setting(&key), Ok(Some(v)) if v == "off")
}

/// A new API token: the secret is shown once and never stored.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub secret: String,
    pub record: TokenRecord,
}

/// SHA-256 of a token secret (tokens are 256-bit random, so a fast hash is the right tool).
pub fn token_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// SHA-256 of a request body (idempotency checks).
pub fn body_hash(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}

fn random_secret() -> Result<String, ServiceError> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf)
        .map_err(|e| ServiceError::BadRequest(format!("no randomness: {e}")))?;
    Ok(format!("od_{}", hex::encode(buf)))
}

impl Service {
    /// Wraps a store; notifications render nothing until [`Self::with_renderer`].
    pub fn new(store: Arc<dyn OrderStore>) -> Self {
        Service {
            store,
            renderer: Arc::new(Silent),
            wake: Arc::new(Notify::new()),
        }
    }

    /// Uses `renderer` (the notification templates) for every event.
    pub fn with_renderer(mut self, renderer: Arc<dyn Renderer>) -> Self {
        self.renderer = renderer;
        self
    }

    /// Woken whenever messages are added to the outbox.
    pub fn outbox_wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// The context a notification template receives.
    pub fn template_context(
        &self,
        event: &str,
        order: &Order,
        shipment: Option<crate::domain::ShipmentId>,
        recipient: &str,
        settings: &StoreSettings,
    ) -> serde_json::Value {
        let shipment = shipment
            .and_then(|id| order.shipment(id))
            .and_then(|s| {
                let all = crate::views::order(order);
                all["shipments"]
                    .as_array()
                    .and_then(|list| list.iter().find(|j| j["id"] == json!(s.id)).cloned())
            })
            .unwrap_or(serde_json::Value::Null);
        json!({
            "event": event,
            "order": crate::views::order(order),
            "store": {"name": settings.name, "email": settings.email, "currency": settings.currency},
            "shipment": shipment,
            "recipient": recipient,
        })
    }

    /// Renders the messages for `triggers` on `order`. A template that fails becomes a failed
    /// message carrying the error (and a timeline line), never a failed action.
    fn messages(
        &self,
        order: &mut Order,
        list: &[Trigger],
        settings: &StoreSettings,
        now: chrono::DateTime<Utc>,
    ) -> Vec<OutboxMessage> {
        let mut out = Vec::new();
        for t in list {
            let mut targets = vec![(t.event, "customer")];
            if t.event == "order_placed" {
                targets.push(("order_placed_store", "store"));
            }
            for (event, recipient) in targets {
                let email_to = if recipient == "store" || order.test {
                    settings.email.clone()
                } else {
                    order.customer.email.clone()
                };
                let sms_to = if recipient == "store" || order.test {
                    String::new()
                } else {
                    order.customer.phone.clone()
                };
                let ctx = self.template_context(event, order, t.shipment, recipient, settings);
                match self.renderer.render(event, &ctx) {
                    Ok(None) => {}
                    Ok(Some(r)) => {
                        if let Some(e) = r.email {
                            if !email_to.is_empty()
                                && channel_enabled(self.store.as_ref(), event, Channel::Email)
                            {
                                let subject = if order.test && recipient == "customer" {
                                    format!("[Test] {}", e.subject)
                                } else {
                                    e.subject
                                };
                                out.push(OutboxMessage::new(
                                    Uuid::now_v7(),
                                    Some(order.number),
                                    event,
                                    Channel::Email,
                                    &email_to,
                                    subject,
                                    e.text,
                                    e.html,
                                    now,
                                ));
                            }
                        }
                        if let Some(text) = r.sms {
                            if !sms_to.is_empty()
                                && channel_enabled(self.store.as_ref(), event, Channel::Sms)
                            {
                                out.push(OutboxMessage::new(
                                    Uuid::now_v7(),
                                    Some(order.number),
                                    event,
                                    Channel::Sms,
                                    &sms_to,
                                    String::new(),
                                    text,
                                    None,
                                    now,
                                ));
                            }
                        }
                    }
                    Err(err) => {
                        log::warn!(
                            "notification template {event} failed for order {}: {err}",
                            order.number
                        );
                        let mut m = OutboxMessage::new(
                            Uuid::now_v7(),
                            Some(order.number),
                            event,
                            Channel::Email,
                            &email_to,
                            format!("({event} could not be rendered)"),
                            String::new(),
                            None,
                            now,
                        );
                        m.status = OutboxStatus::Failed;
                        m.last_error = Some(format!("Template error: {err}"));
                        out.push(m);
                        order.log(
                            now,
                            &Actor::System,
                            "notification",
                            format!("The {event} notification could not be rendered: {err}"),
                        );
                    }
                }
            }
        }
        out
    }

    /// Delivers every due message once; returns how many were attempted.
    pub async fn deliver_due(&self, deliverer: &dyn Deliverer) -> Result<usize, ServiceError> {
        let due = self.store.outbox_due(Utc::now(), 50)?;
        let n = due.len();
        for mut m in due {
            let result = deliverer.deliver(&m).await;
            let now = Utc::now();
            let line = match result {
                Ok(()) => {
                    m.delivered(now);
                    Some(format!(
                        "{} “{}” sent to {}",
                        channel_label(m.channel),
                        summary(&m),
                        m.to
                    ))
                }
                Err(DeliveryError::NotConfigured(why)) => {
                    // Not an attempt: it waits, readable in the outbox, until a transport exists.
                    let first = m.last_error.is_none();
                    m.last_error = Some(why.clone());
                    m.next_attempt_at = now + chrono::Duration::seconds(30);
                    first.then(|| {
                        format!(
                            "{} “{}” to {} is waiting in the outbox: {why}",
                            channel_label(m.channel),
                            summary(&m),
                            m.to
                        )
                    })
                }
                Err(DeliveryError::Failed(e)) => {
                    m.attempt_failed(e.clone(), now);
                    Some(if m.status == OutboxStatus::Failed {
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
                    })
                }
            };
            self.store.outbox_put(&m)?;
            if let (Some(line), Some(number)) = (line, m.order_number) {
                let kind = if m.status == OutboxStatus::Sent {
                    "notification"
                } else {
                    "notification_failed"
                };
                let r = self.store.update_order(number, &mut |o: &Order| {
                    let mut next = o.clone();
                    next.log(now, &Actor::System, kind, line.clone());
                    Ok(Change::quiet(next))
                });
                if let Err(e) = r {
                    log::warn!("could not log delivery on order {number}: {e}");
                }
            }
        }
        if n > 0 {
            self.durable().await?;
        }
        Ok(n)
    }

    /// The outbox, newest first.
    pub fn outbox(
        &self,
        order: Option<u64>,
        status: Option<OutboxStatus>,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, ServiceError> {
        Ok(self.store.outbox_list(order, status, limit)?)
    }

    /// Sends a failed or waiting message again now.
    pub async fn resend(&self, id: Uuid) -> Result<OutboxMessage, ServiceError> {
        let mut m = self.store.outbox_get(id)?;
        if m.status == OutboxStatus::Sent
            || m.text.is_empty() && m.status == OutboxStatus::Failed && m.subject.starts_with('(')
        {
            return Err(ServiceError::Refused {
                code: "not_resendable",
                message: "Only pending or failed messages that were rendered can be sent again"
                    .into(),
            });
        }
        m.status = OutboxStatus::Pending;
        m.attempts = 0;
        m.next_attempt_at = Utc::now();
        self.store.outbox_put(&m)?;
        self.durable().await?;
        self.wake.notify_one();
        Ok(m)
    }

    /// The store underneath (for command-line tools).
    pub fn store(&self) -> &Arc<dyn OrderStore> {
        &self.store
    }

    async fn durable(&self) -> Result<(), ServiceError> {
        self.store
            .durability()
            .wait()
            .await
            .map_err(|e| ServiceError::Store(StoreError::Durability(e)))
    }

    /// Store settings with their defaults.
    pub fn settings(&self) -> Result<StoreSettings, ServiceError> {
        let get = |k: &str, d: &str| -> Result<String, ServiceError> {
            Ok(self.store.setting(k)?.unwrap_or_else(|| d.to_string()))
        };
        Ok(StoreSettings {
            name: get("store.name", "My Store")?,
            email: get("store.email", "")?,
            currency: get("store.currency", "USD")?,
        })
    }

    /// Order intake (API and test orders). Returns the order and whether it is a replay of an
    /// earlier request with the same idempotency key.
    pub async fn place_order(
        &self,
        draft: &OrderDraft,
        actor: Actor,
        idempotency: Option<(String, [u8; 32])>,
    ) -> Result<(Order, bool), ServiceError> {
        let valid = draft.validate()?;
        let settings = self.settings()?;
        let settings_for_msgs = settings.clone();
        let new = NewOrder {
            item_ids: (0..valid.items.len()).map(|_| Uuid::now_v7()).collect(),
            valid,
            order_id: Uuid::now_v7(),
            payment_id: Uuid::now_v7(),
            new_customer_id: CustomerId(Uuid::now_v7()),
            now: Utc::now(),
            actor,
            store_currency: settings.currency,
            idempotency,
            only_before_real_orders: false,
        };
        let now = new.now;
        let created = self.store.create_order(&new, &|o: &Order| {
            let mut o = o.clone();
            self.messages(
                &mut o,
                &[Trigger {
                    event: "order_placed",
                    shipment: None,
                }],
                &settings_for_msgs,
                now,
            )
        })?;
        self.durable().await?;
        self.wake.notify_one();
        Ok(match created {
            Created::New(o) => (o, false),
            Created::Replayed(o) => (o, true),
        })
    }

    /// The dashboard's Place Test Order: a realistic sample, allowed until a real order exists.
    pub async fn place_test_order(&self, actor: Actor) -> Result<Order, ServiceError> {
        let draft = crate::sample::sample_order(true);
        let valid = draft.validate()?;
        let settings = self.settings()?;
        let settings_for_msgs = settings.clone();
        let new = NewOrder {
            item_ids: (0..valid.items.len()).map(|_| Uuid::now_v7()).collect(),
            valid,
            order_id: Uuid::now_v7(),
            payment_id: Uuid::now_v7(),
            new_customer_id: CustomerId(Uuid::now_v7()),
            now: Utc::now(),
            actor,
            store_currency: settings.currency,
            idempotency: None,
            only_before_real_orders: true,
        };
        let now = new.now;
        let created = self.store.create_order(&new, &|o: &Order| {
            let mut o = o.clone();
            self.messages(
                &mut o,
                &[Trigger {
                    event: "order_placed",
                    shipment: None,
                }],
                &settings_for_msgs,
                now,
            )
        })?;
        self.durable().await?;
        self.wake.notify_one();
        match created {
            Created::New(o) | Created::Replayed(o) => Ok(o),
        }
    }

    /// Whether the Place Test Order button is offered (no real order yet).
    pub fn test_orders_allowed(&self) -> Result<bool, ServiceError> {
        Ok(self.store.counts()?.real == 0)
    }

    /// One order.
    pub fn order(&self, number: u64) -> Result<Order, ServiceError> {
        Ok(self.store.get_order(number)?)
    }

    /// Runs one action on an order: the domain decides, the store applies atomically.
    pub async fn act(
        &self,
        number: u64,
        cmd: Command,
        actor: Actor,
    ) -> Result<Order, ServiceError> {
        let ctx = Ctx::new(Utc::now(), actor, [Uuid::now_v7(), Uuid::now_v7()]);
        let settings = self.settings()?;
        let mut queued = false;
        let order = self.store.update_order(number, &mut |current: &Order| {
            let (mut next, events) = execute(current, &cmd, &ctx)?;
            let list = triggers(current, &next, &events);
            let outbox = self.messages(&mut next, &list, &settings, ctx.now);
            queued = !outbox.is_empty();
            Ok(Change {
                order: next,
                outbox,
            })
        })?;
        self.durable().await?;
        if queued {
            self.wake.notify_one();
        }
        Ok(order)
    }

    /// A carrier's tracking update, found by carrier and tracking number (SPEC 5
    /// `POST /carriers/{carrier}/events`).
    pub async fn carrier_event(
        &self,
        carrier: &str,
        tracking_number: &str,
        status: crate::domain::ShipmentStatus,
        at: Option<chrono::DateTime<Utc>>,
        actor: Actor,
    ) -> Result<Order, ServiceError> {
        let tracking = tracking_number.trim();
        if tracking.is_empty() {
            return Err(RuleError::invalid("tracking_number", "is required").into());
        }
        for number in self.store.orders_with_term(tracking, 20)? {
            let order = self.store.get_order(number)?;
            let found = order.shipments.iter().find(|s| {
                s.kind == crate::domain::ShipmentKind::Carrier
                    && s.carrier.as_deref() == Some(carrier)
                    && s.tracking_number.as_deref() == Some(tracking)
            });
            if let Some(s) = found {
                let cmd = Command::CarrierEvent {
                    shipment_id: s.id,
                    status,
                    at,
                };
                return self.act(number, cmd, actor).await;
            }
        }
        Err(ServiceError::NotFound(format!(
            "No {carrier} shipment with tracking number {tracking}"
        )))
    }

    /// Test orders only: moves a carrier shipment one step along its delivery, as the carrier
    /// would, so a merchant can watch the statuses and messages of a whole delivery.
    pub async fn simulate_carrier_event(
        &self,
        number: u64,
        shipment_id: crate::domain::ShipmentId,
        actor: Actor,
    ) -> Result<Order, ServiceError> {
        use crate::domain::ShipmentStatus::*;
        let order = self.store.get_order(number)?;
        if !order.test {
            return Err(ServiceError::Refused {
                code: "not_a_test_order",
                message: "Carrier events can only be simulated on test orders".into(),
            });
        }
        let s = order
            .shipment(shipment_id)
            .ok_or_else(|| RuleError::ShipmentNotFound {
                id: shipment_id.to_string(),
            })?;
        let next = match s.status {
            AwaitingShipment => Shipped,
            Shipped => InTransit,
            InTransit | DeliveryFailed => OutForDelivery,
            OutForDelivery => Delivered,
            Delivered | Canceled => {
                return Err(RuleError::ShipmentFinal {
                    status: s.status.label(),
                }
                .into())
            }
        };
        let carrier = s.carrier.clone().unwrap_or_default();
        let _ = actor;
        let cmd = Command::CarrierEvent {
            shipment_id,
            status: next,
            at: None,
        };
        self.act(
            number,
            cmd,
            Actor::Token(format!("{carrier} tracking (simulated)")),
        )
        .await
    }

    /// Change customer: the snapshot comes from the customer record.
    pub async fn change_customer(
        &self,
        number: u64,
        customer_id: CustomerId,
        actor: Actor,
    ) -> Result<Order, ServiceError> {
        let c = self.store.customer(customer_id)?;
        let cmd = Command::ChangeCustomer {
            customer: CustomerSnapshot {
                id: c.id,
                name: c.name,
                email: c.email,
                phone: c.phone,
            },
        };
        self.act(number, cmd, actor).await
    }

    /// A page of orders.
    pub fn list(&self, q: &ListQuery) -> Result<ListPage, ServiceError> {
        Ok(self.store.list_orders(q)?)
    }

    /// Status counters.
    pub fn counts(&self) -> Result<Counts, ServiceError> {
        Ok(self.store.counts()?)
    }

    /// Customers matching a search.
    pub fn customers(&self, q: &str, limit: usize) -> Result<Vec<CustomerRecord>, ServiceError> {
        Ok(self.store.customers(q, limit)?)
    }

    fn new_token(&self, name: &str) -> Result<NewToken, ServiceError> {
        let name = crate::domain::rules::required_text("name", name, 100, false)?;
        let secret = random_secret()?;
        let record = TokenRecord {
            id: Uuid::now_v7(),
            name,
            created_at: Utc::now(),
            revoked: false,
        };
        self.store.put_token(token_hash(&secret), &record)?;
        Ok(NewToken { secret, record })
    }

    /// Creates an API token; the secret is returned once.
    pub async fn create_token(&self, name: &str) -> Result<NewToken, ServiceError> {
        let t = self.new_token(name)?;
        self.durable().await?;
        Ok(t)
    }

    /// [`Self::create_token`] for threads outside the async runtime (command line, control socket).
    pub fn create_token_blocking(&self, name: &str) -> Result<NewToken, ServiceError> {
        let t = self.new_token(name)?;
        self.store
            .durability()
            .wait_blocking()
            .map_err(|e| ServiceError::Store(StoreError::Durability(e)))?;
        Ok(t)
    }

    /// Every API token (secrets are not kept).
    pub fn tokens(&self) -> Result<Vec<TokenRecord>, ServiceError> {
        Ok(self.store.tokens()?)
    }

    /// Revokes an API token.
    pub async fn revoke_token(&self, id: Uuid) -> Result<(), ServiceError> {
        self.store.revoke_token(id)?;
        self.durable().await
    }

    /// The token a bearer secret belongs to, if it is valid and not revoked.
    pub fn authenticate(&self, secret: &str) -> Result<Option<TokenRecord>, ServiceError> {
        Ok(self
            .store
            .find_token(token_hash(secret))?
            .filter(|t| !t.revoked))
    }
}

fn channel_label(c: Channel) -> &'static str {
    match c {
        Channel::Email => "E-mail",
        Channel::Sms => "SMS",
    }
}

fn summary(m: &OutboxMessage) -> String {
    if m.channel == Channel::Email {
        m.subject.clone()
    } else {
        m.text.chars().take(40).collect()
    }
}
