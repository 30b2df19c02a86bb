//! Use cases: load, ask the domain, apply through the store, wait for durability, return.
//! The pages and the JSON API both call these functions, so they can never disagree.

use crate::domain::intake::OrderDraft;
use crate::domain::workflow::execute;
use crate::domain::{Actor, Command, Ctx, CustomerId, CustomerSnapshot, Order, RuleError};
use crate::notify::worker::{Deliverer, DeliveryError};
use crate::notify::{triggers, Channel, OutboxMessage, OutboxStatus, Renderer, Silent, Trigger};
use crate::scripting::{Package, Party, RateItem, RateRequest, RatesResult, ScriptRegistry};
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

/// Setting keys that may be changed from the command line (`orderdeck settings set`).
pub const SETTABLE: &[&str] = &[
    "store.name",
    "store.email",
    "store.currency",
    "store.address.line1",
    "store.address.line2",
    "store.address.city",
    "store.address.region",
    "store.address.postal_code",
    "store.address.country",
    "smtp.host",
    "smtp.port",
    "smtp.tls",
    "smtp.username",
    "smtp.password",
    "smtp.from",
    "sms.url",
    "sms.auth_header",
];

/// Changes one setting durably, outside the async runtime (command line, control socket).
pub fn set_setting_blocking(
    store: &dyn OrderStore,
    key: &str,
    value: &str,
) -> Result<(), ServiceError> {
    let known = SETTABLE.contains(&key)
        || (key.starts_with("notify.") && (key.ends_with(".email") || key.ends_with(".sms")));
    if !known {
        return Err(RuleError::invalid(
            "key",
            format!("{key:?} is not a setting; known: {}", SETTABLE.join(", ")),
        )
        .into());
    }
    let value = crate::domain::rules::clean_text("value", value, 500, false)?;
    if key == "smtp.tls" && !["none", "starttls", "tls"].contains(&value.as_str()) {
        return Err(RuleError::invalid("value", "smtp.tls must be none, starttls or tls").into());
    }
    if key == "smtp.port" && value.parse::<u16>().is_err() {
        return Err(RuleError::invalid("value", "smtp.port must be a port number").into());
    }
    if key.starts_with("notify.") && value != "on" && value != "off" {
        return Err(RuleError::invalid("value", "notification switches are on or off").into());
    }
    store.put_setting(key, &value)?;
    store
        .durability()
        .wait_blocking()
        .map_err(|e| ServiceError::Store(StoreError::Durability(e)))
}

/// The store-wide settings the use cases need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    pub name: String,
    pub email: String,
    pub currency: String,
    /// The store's address (the default ship-from address and shipper).
    pub address: crate::domain::Address,
}

impl StoreSettings {
    /// The address as lines (for templates and labels).
    pub fn address_lines(&self) -> String {
        let a = &self.address;
        [
            a.line1.clone(),
            a.line2.clone(),
            format!("{} {} {}", a.postal_code, a.city, a.region)
                .trim()
                .to_string(),
            a.country.clone(),
        ]
        .into_iter()
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
    }
}

/// A package preset (Settings > Shipping).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PackagePreset {
    pub name: String,
    pub length_cm: rust_decimal::Decimal,
    pub width_cm: rust_decimal::Decimal,
    pub height_cm: rust_decimal::Decimal,
    /// The empty package's weight.
    pub weight_grams: u32,
}

/// The package of a carrier fulfilment: a preset, or dimensions and weight.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PackageInput {
    pub preset: Option<String>,
    pub length_cm: Option<rust_decimal::Decimal>,
    pub width_cm: Option<rust_decimal::Decimal>,
    pub height_cm: Option<rust_decimal::Decimal>,
    /// Gross weight; absent means the preset's empty weight plus the items' weight.
    pub weight_grams: Option<u32>,
}

/// Everything a carrier fulfilment asks (SPEC 1.4 Carrier fulfill; SPEC 5 carrier-fulfil fields).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CarrierFields {
    pub items: Vec<crate::domain::ItemQty>,
    pub package: PackageInput,
    pub recipient: Option<crate::scripting::Party>,
    pub shipper: Option<crate::scripting::Party>,
    pub ship_from: Option<crate::scripting::Party>,
    pub drop_off_date: Option<chrono::NaiveDate>,
    pub insurance: rust_decimal::Decimal,
    pub declared_value: Option<rust_decimal::Decimal>,
    pub dangerous_goods: bool,
    pub signature: bool,
}

/// The application's use cases.
#[derive(Clone)]
pub struct Service {
    store: Arc<dyn OrderStore>,
    renderer: Arc<dyn Renderer>,
    wake: Arc<Notify>,
    scripts: Option<Arc<ScriptRegistry>>,
    scripts_dir: Option<std::path::PathBuf>,
}

fn script_error(e: crate::scripting::ScriptError) -> ServiceError {
    use crate::scripting::ScriptError as E;
    match e {
        E::NotFound { what } => ServiceError::NotFound(what),
        E::Declined { carrier, reason } => ServiceError::Refused {
            code: "carrier_declined",
            message: format!("{carrier} declined: {reason}"),
        },
        other => ServiceError::Refused {
            code: "script_error",
            message: other.to_string(),
        },
    }
}

fn party_of(a: &crate::domain::Address, phone: &str, email: &str) -> Party {
    Party {
        name: a.name.clone(),
        company: String::new(),
        phone: phone.to_string(),
        email: email.to_string(),
        line1: a.line1.clone(),
        line2: a.line2.clone(),
        city: a.city.clone(),
        region: a.region.clone(),
        postal_code: a.postal_code.clone(),
        country: a.country.clone(),
    }
}

/// Presets offered when the merchant has not set any.
pub fn default_presets() -> Vec<PackagePreset> {
    let d = |v: i64| rust_decimal::Decimal::new(v, 0);
    vec![
        PackagePreset {
            name: "Padded envelope".into(),
            length_cm: d(30),
            width_cm: d(23),
            height_cm: d(3),
            weight_grams: 40,
        },
        PackagePreset {
            name: "Small box".into(),
            length_cm: d(20),
            width_cm: d(15),
            height_cm: d(10),
            weight_grams: 150,
        },
        PackagePreset {
            name: "Medium box".into(),
            length_cm: d(30),
            width_cm: d(25),
            height_cm: d(15),
            weight_grams: 300,
        },
        PackagePreset {
            name: "Large box".into(),
            length_cm: d(40),
            width_cm: d(30),
            height_cm: d(25),
            weight_grams: 550,
        },
    ]
}

/// Whether an event's e-mail and SMS are switched on (Settings > Notifications; on by default).
pub fn channel_enabled(store: &dyn OrderStore, event: &str, channel: Channel) -> bool {
    let key = format!("notify.{event}.{}", channel.as_str());
    !matches!(store.setting(&key), Ok(Some(v)) if v == "off")
}

/// The on/off switches of every event and channel, read once before a transaction (plain store
/// reads must not happen inside one: sled holds its global write lock while the closure runs).
#[derive(Debug, Clone, Default)]
pub struct Switches(std::collections::HashSet<(String, &'static str)>);

impl Switches {
    /// Reads every switch.
    pub fn read(store: &dyn OrderStore) -> Self {
        let mut off = std::collections::HashSet::new();
        for e in crate::notify::EVENTS {
            for c in [Channel::Email, Channel::Sms] {
                if !channel_enabled(store, e, c) {
                    off.insert((e.to_string(), c.as_str()));
                }
            }
        }
        Switches(off)
    }

    /// Whether this event may go out on this channel.
    pub fn on(&self, event: &str, channel: Channel) -> bool {
        !self.0.contains(&(event.to_string(), channel.as_str()))
    }
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
            scripts: None,
            scripts_dir: None,
        }
    }

    /// Uses the Rhai scripts for notifications and carriers; `dir` is reloaded by Reload.
    pub fn with_scripts(
        mut self,
        registry: Arc<ScriptRegistry>,
        dir: Option<std::path::PathBuf>,
    ) -> Self {
        self.renderer = registry.clone();
        self.scripts = Some(registry);
        self.scripts_dir = dir;
        self
    }

    /// The loaded scripts.
    pub fn scripts(&self) -> Option<&Arc<ScriptRegistry>> {
        self.scripts.as_ref()
    }

    /// The folder scripts are loaded from (None: the embedded defaults only).
    pub fn scripts_dir(&self) -> Option<&std::path::Path> {
        self.scripts_dir.as_deref()
    }

    /// Recompiles every script; swaps them in only if all compile.
    pub fn reload_scripts(&self) -> Result<(), Vec<crate::scripting::ScriptError>> {
        match &self.scripts {
            Some(r) => r.reload(self.scripts_dir.as_deref()),
            None => Ok(()),
        }
    }

    fn host(&self) -> Result<Arc<crate::scripting::ScriptHost>, ServiceError> {
        self.scripts
            .as_ref()
            .map(|r| r.current())
            .ok_or_else(|| ServiceError::Refused {
                code: "carrier_unavailable",
                message: "No carrier scripts are loaded".into(),
            })
    }

    /// The carriers and their services.
    pub fn carriers(&self) -> Vec<crate::scripting::CarrierInfo> {
        self.host().map(|h| h.carriers()).unwrap_or_default()
    }

    /// The package presets (Settings > Shipping), or sensible defaults.
    pub fn package_presets(&self) -> Vec<PackagePreset> {
        match self.store.setting("shipping.presets") {
            Ok(Some(json)) => serde_json::from_str(&json).unwrap_or_else(|_| default_presets()),
            _ => default_presets(),
        }
    }

    /// Saves the package presets.
    pub async fn set_package_presets(&self, presets: &[PackagePreset]) -> Result<(), ServiceError> {
        let json =
            serde_json::to_string(presets).map_err(|e| ServiceError::BadRequest(e.to_string()))?;
        self.store.put_setting("shipping.presets", &json)?;
        self.durable().await
    }

    /// Builds the carriers' request for an order, checking items and quantities with the same
    /// rule as the fulfilment itself.
    pub fn rate_request(
        &self,
        order: &Order,
        f: &CarrierFields,
    ) -> Result<RateRequest, ServiceError> {
        let settings = self.settings()?;
        let probe = Command::CarrierFulfill(crate::domain::workflow::CarrierFulfillInput {
            items: f.items.clone(),
            shipping_point: crate::domain::ShippingPoint::Local,
            carrier: String::new(),
            service: String::new(),
            tracking_number: String::new(),
            tracking_url: None,
            expected_delivery: None,
            price: rust_decimal::Decimal::ZERO,
            label: Default::default(),
        });
        let ctx = Ctx::new(Utc::now(), Actor::System, [Uuid::nil(), Uuid::nil()]);
        crate::domain::decide(order, &probe, &ctx)?;
        let items: Vec<RateItem> = f
            .items
            .iter()
            .filter(|i| i.quantity > 0)
            .filter_map(|iq| {
                order.item(iq.item_id).map(|it| RateItem {
                    sku: it.sku.clone(),
                    name: it.name.clone(),
                    quantity: iq.quantity,
                    weight_grams: it.weight_grams,
                    unit_price: it.unit_price,
                })
            })
            .collect();
        let preset = match &f.package.preset {
            Some(name) if !name.trim().is_empty() => Some(
                self.package_presets()
                    .into_iter()
                    .find(|p| p.name == name.trim())
                    .ok_or_else(|| {
                        RuleError::invalid(
                            "package.preset",
                            format!("{name:?} is not a package preset"),
                        )
                    })?,
            ),
            _ => None,
        };
        let dim = |field: &str,
                   v: Option<rust_decimal::Decimal>,
                   from_preset: Option<rust_decimal::Decimal>|
         -> Result<rust_decimal::Decimal, ServiceError> {
            let d = v.or(from_preset).ok_or_else(|| {
                RuleError::invalid(field, "is required (or choose a package preset)")
            })?;
            if d <= rust_decimal::Decimal::ZERO || d > rust_decimal::Decimal::new(300, 0) {
                return Err(RuleError::invalid(field, "must be between 0 and 300 cm").into());
            }
            Ok(d)
        };
        let items_weight: u32 = items
            .iter()
            .map(|i| i.weight_grams.saturating_mul(i.quantity))
            .sum();
        let weight = match f.package.weight_grams {
            Some(w) if w > 0 => w,
            _ => preset
                .as_ref()
                .map(|p| p.weight_grams)
                .unwrap_or(0)
                .saturating_add(items_weight),
        };
        if weight > 70_000 {
            return Err(
                RuleError::invalid("package.weight_grams", "must be at most 70000 g").into(),
            );
        }
        let package = Package {
            preset: preset.as_ref().map(|p| p.name.clone()),
            length_cm: dim(
                "package.length_cm",
                f.package.length_cm,
                preset.as_ref().map(|p| p.length_cm),
            )?,
            width_cm: dim(
                "package.width_cm",
                f.package.width_cm,
                preset.as_ref().map(|p| p.width_cm),
            )?,
            height_cm: dim(
                "package.height_cm",
                f.package.height_cm,
                preset.as_ref().map(|p| p.height_cm),
            )?,
            weight_grams: weight,
        };
        let recipient = f.recipient.clone().unwrap_or_else(|| {
            party_of(
                &order.shipping_address,
                &order.customer.phone,
                &order.customer.email,
            )
        });
        let shipper = f
            .shipper
            .clone()
            .unwrap_or_else(|| party_of(&settings.address, "", &settings.email));
        let req = RateRequest {
            items,
            package,
            recipient,
            shipper,
            ship_from: f.ship_from.clone(),
            drop_off_date: f.drop_off_date.unwrap_or_else(|| Utc::now().date_naive()),
            insurance: f.insurance,
            declared_value: f.declared_value,
            dangerous_goods: f.dangerous_goods,
            signature: f.signature,
            currency: order.currency.clone(),
        };
        req.validate().map_err(|m| ServiceError::Refused {
            code: "invalid_field",
            message: m,
        })?;
        Ok(req)
    }

    /// Get rates: every carrier's quotes (or refusals) for this fulfilment.
    pub fn rates(&self, number: u64, f: &CarrierFields) -> Result<RatesResult, ServiceError> {
        let order = self.order(number)?;
        let req = self.rate_request(&order, f)?;
        Ok(self.host()?.rates(&req))
    }

    /// Buy label: the carrier script issues the tracking number and label; the shipment is created.
    pub async fn buy_label(
        &self,
        number: u64,
        f: &CarrierFields,
        carrier: &str,
        service: &str,
        actor: Actor,
    ) -> Result<Order, ServiceError> {
        let order = self.order(number)?;
        let req = self.rate_request(&order, f)?;
        let host = self.host()?;
        let label = host
            .buy_label(carrier, service, &req)
            .map_err(script_error)?;
        let info = host.carriers().into_iter().find(|c| c.id == carrier);
        let mut fields = label.fields.clone();
        let to = &req.recipient;
        let from = req.origin();
        for (prefix, p) in [("to", to), ("from", from)] {
            fields.insert(format!("{prefix}.name"), p.name.clone());
            fields.insert(format!("{prefix}.company"), p.company.clone());
            fields.insert(format!("{prefix}.line1"), p.line1.clone());
            fields.insert(format!("{prefix}.line2"), p.line2.clone());
            fields.insert(
                format!("{prefix}.city"),
                format!("{} {} {}", p.postal_code, p.city, p.region)
                    .trim()
                    .to_string(),
            );
            fields.insert(format!("{prefix}.country"), p.country.clone());
            fields.insert(format!("{prefix}.phone"), p.phone.clone());
        }
        fields.insert(
            "carrier_name".into(),
            info.as_ref()
                .map(|c| c.name.clone())
                .unwrap_or_else(|| carrier.to_string()),
        );
        fields.insert(
            "service_name".into(),
            info.as_ref()
                .and_then(|c| c.service_name(service).map(str::to_string))
                .unwrap_or_else(|| service.to_string()),
        );
        fields.insert(
            "package".into(),
            format!(
                "{} × {} × {} cm, {} g",
                req.package.length_cm,
                req.package.width_cm,
                req.package.height_cm,
                req.package.weight_grams
            ),
        );
        fields.insert("drop_off_date".into(), req.drop_off_date.to_string());
        if req.signature {
            fields.insert("signature".into(), "required".into());
        }
        if req.dangerous_goods {
            fields.insert("dangerous_goods".into(), "yes".into());
        }
        let international = !to.country.is_empty()
            && !from.country.is_empty()
            && !to.country.eq_ignore_ascii_case(&from.country);
        let cmd = Command::CarrierFulfill(crate::domain::workflow::CarrierFulfillInput {
            items: f.items.clone(),
            shipping_point: if international {
                crate::domain::ShippingPoint::International
            } else {
                crate::domain::ShippingPoint::Local
            },
            carrier: carrier.to_string(),
            service: service.to_string(),
            tracking_number: label.tracking_number.clone(),
            tracking_url: Some(label.tracking_url.clone()),
            expected_delivery: Some(label.estimated_delivery),
            price: label.price,
            label: fields,
        });
        self.act(number, cmd, actor).await
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
            "store": {"name": settings.name, "email": settings.email, "currency": settings.currency,
                      "address": settings.address_lines(), "dashboard_url": null},
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
        switches: &Switches,
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
                            if !email_to.is_empty() && switches.on(event, Channel::Email) {
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
                            if !sms_to.is_empty() && switches.on(event, Channel::Sms) {
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
        // Nothing to attempt while no transport is configured: the messages stay pending as
        // they are (the outbox page says why) instead of being rewritten on every pass.
        if !deliverer.ready(Channel::Email) && !deliverer.ready(Channel::Sms) {
            return Ok(0);
        }
        let due = self.store.outbox_due(Utc::now(), 50)?;
        let n = due.len();
        // Messages whose channel has no transport yet are put back together, in one write:
        // nothing was sent, and a store without SMTP must not rewrite its outbox one message
        // at a time (that competed with intake for the write lock).
        let mut waiting = Vec::new();
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
                    // Not an attempt: it waits, readable in the outbox page, until a transport
                    // is configured (not logged on the timeline: nothing happened to the order).
                    m.last_error = Some(why);
                    m.next_attempt_at = now + chrono::Duration::seconds(30);
                    waiting.push(m);
                    continue;
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
                    // A change like any other: concurrent actions must see it.
                    next.version += 1;
                    Ok(Change::quiet(next))
                });
                if let Err(e) = r {
                    log::warn!("could not log delivery on order {number}: {e}");
                }
            }
        }
        if !waiting.is_empty() {
            self.store.outbox_put_many(&waiting)?;
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

    /// Renders an event's messages with the notification templates (Settings > Notifications
    /// preview); nothing is queued.
    pub fn preview(
        &self,
        event: &str,
        ctx: &serde_json::Value,
    ) -> Result<Option<crate::notify::Rendered>, String> {
        self.renderer.render(event, ctx)
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
        let store = self.settings()?.name;
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
        self.store.outbox_add(std::slice::from_ref(&m))?;
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

    /// Whether an SMTP server and an SMS gateway are configured.
    pub fn transports_configured(&self) -> (bool, bool) {
        (
            crate::notify::scripted::smtp_config(self.store.as_ref()).is_some(),
            crate::notify::scripted::sms_config(self.store.as_ref()).is_some(),
        )
    }

    /// The store's name (every page's header: one read, not the whole settings).
    pub fn store_name(&self) -> Result<String, ServiceError> {
        Ok(self
            .store
            .setting("store.name")?
            .unwrap_or_else(|| "My Store".to_string()))
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
            address: crate::domain::Address {
                name: get("store.name", "My Store")?,
                line1: get("store.address.line1", "")?,
                line2: get("store.address.line2", "")?,
                city: get("store.address.city", "")?,
                region: get("store.address.region", "")?,
                postal_code: get("store.address.postal_code", "")?,
                country: get("store.address.country", "US")?,
            },
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
        self.intake(draft, actor, idempotency, false).await
    }

    /// The dashboard's Place Test Order: a realistic sample, allowed until a real order exists.
    pub async fn place_test_order(&self, actor: Actor) -> Result<Order, ServiceError> {
        let draft = crate::sample::sample_order(true);
        Ok(self.intake(&draft, actor, None, true).await?.0)
    }

    /// Stores a new order with its `order_placed` messages, then waits for durability.
    async fn intake(
        &self,
        draft: &OrderDraft,
        actor: Actor,
        idempotency: Option<(String, [u8; 32])>,
        only_before_real_orders: bool,
    ) -> Result<(Order, bool), ServiceError> {
        let valid = draft.validate()?;
        let settings = self.settings()?;
        let new = NewOrder {
            item_ids: (0..valid.items.len()).map(|_| Uuid::now_v7()).collect(),
            valid,
            order_id: Uuid::now_v7(),
            payment_id: Uuid::now_v7(),
            new_customer_id: CustomerId(Uuid::now_v7()),
            now: Utc::now(),
            actor,
            store_currency: settings.currency.clone(),
            idempotency,
            only_before_real_orders,
        };
        let switches = Switches::read(self.store.as_ref());
        let placed = [Trigger {
            event: "order_placed",
            shipment: None,
        }];
        let created = self.store.create_order(&new, &|o: &Order| {
            let mut o = o.clone();
            self.messages(&mut o, &placed, &settings, &switches, new.now)
        })?;
        self.durable().await?;
        self.wake.notify_one();
        Ok(match created {
            Created::New(o) => (o, false),
            Created::Replayed(o) => (o, true),
        })
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
        let switches = Switches::read(self.store.as_ref());
        // Decide and render outside the transaction (sled holds its global lock while the
        // closure runs); inside, use the result only if the order has not changed meanwhile.
        let current = self.store.get_order(number)?;
        let (mut next, events) = execute(&current, &cmd, &ctx)?;
        let list = triggers(&current, &next, &events);
        let outbox = self.messages(&mut next, &list, &settings, &switches, ctx.now);
        let prepared = Change {
            order: next,
            outbox,
        };
        let mut queued = false;
        let order = self.store.update_order(number, &mut |stored: &Order| {
            if stored.version == current.version {
                queued = !prepared.outbox.is_empty();
                return Ok(prepared.clone());
            }
            let (mut next, events) = execute(stored, &cmd, &ctx)?;
            let list = triggers(stored, &next, &events);
            let outbox = self.messages(&mut next, &list, &settings, &switches, ctx.now);
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
    /// would (recorded as the carrier's simulated tracking, like a real tracking event), so a merchant can watch the statuses and messages of a whole delivery.
    pub async fn simulate_carrier_event(
        &self,
        number: u64,
        shipment_id: crate::domain::ShipmentId,
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
