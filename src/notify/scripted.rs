//! Glue: the Rhai templates ([`ScriptRegistry`]) as the notification [`Renderer`], and the SMTP /
//! SMS transports configured in Settings as the outbox worker's [`Deliverer`].

use super::worker::{Deliverer, DeliveryError, DeliveryFuture};
use super::{Channel, OutboxMessage, Rendered, RenderedEmail, Renderer};
use crate::scripting::ScriptRegistry;
use crate::store::OrderStore;
use serde_json::Value;
use std::sync::Arc;

impl Renderer for ScriptRegistry {
    fn render(&self, event: &str, ctx: &Value) -> Result<Option<Rendered>, String> {
        let out = self
            .current()
            .render(event, ctx)
            .map_err(|e| e.to_string())?;
        Ok(out.map(|r| Rendered {
            email: r.email.map(|e| RenderedEmail {
                subject: e.subject,
                text: e.text,
                html: e.html,
            }),
            sms: r.sms,
        }))
    }
}

/// Setting keys of the transports (Settings > Notifications).
pub mod keys {
    pub const SMTP_HOST: &str = "smtp.host";
    pub const SMTP_PORT: &str = "smtp.port";
    pub const SMTP_TLS: &str = "smtp.tls";
    pub const SMTP_USERNAME: &str = "smtp.username";
    pub const SMTP_PASSWORD: &str = "smtp.password";
    pub const SMTP_FROM: &str = "smtp.from";
    pub const SMS_URL: &str = "sms.url";
    pub const SMS_AUTH: &str = "sms.auth_header";
}

/// Reads the SMTP settings; `None` when no host is configured.
pub fn smtp_config(store: &dyn OrderStore) -> Option<super::SmtpConfig> {
    let get = |k: &str| store.setting(k).ok().flatten().unwrap_or_default();
    let host = get(keys::SMTP_HOST);
    if host.trim().is_empty() {
        return None;
    }
    let tls = match get(keys::SMTP_TLS).as_str() {
        "tls" => super::SmtpTls::Tls,
        "starttls" => super::SmtpTls::Starttls,
        _ => super::SmtpTls::None,
    };
    let default_port = match tls {
        super::SmtpTls::Tls => 465,
        super::SmtpTls::Starttls => 587,
        super::SmtpTls::None => 25,
    };
    let username = get(keys::SMTP_USERNAME);
    let password = get(keys::SMTP_PASSWORD);
    let from = get(keys::SMTP_FROM);
    Some(super::SmtpConfig {
        host: host.trim().to_string(),
        port: get(keys::SMTP_PORT).trim().parse().unwrap_or(default_port),
        tls,
        username,
        password,
        from: if from.is_empty() {
            store
                .setting("store.email")
                .ok()
                .flatten()
                .unwrap_or_else(|| "orderdeck@localhost".into())
        } else {
            from
        },
    })
}

/// Reads the SMS gateway settings; `None` when no URL is configured.
pub fn sms_config(store: &dyn OrderStore) -> Option<super::SmsConfig> {
    let url = store
        .setting(keys::SMS_URL)
        .ok()
        .flatten()
        .unwrap_or_default();
    if url.trim().is_empty() {
        return None;
    }
    let auth = store
        .setting(keys::SMS_AUTH)
        .ok()
        .flatten()
        .unwrap_or_default();
    Some(super::SmsConfig {
        url: url.trim().to_string(),
        auth_header: (!auth.is_empty()).then_some(auth),
    })
}

/// Delivers through whatever transports the settings name at the moment of delivery.
pub struct ConfiguredTransports {
    pub store: Arc<dyn OrderStore>,
}

impl Deliverer for ConfiguredTransports {
    fn ready(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => smtp_config(self.store.as_ref()).is_some(),
            Channel::Sms => sms_config(self.store.as_ref()).is_some(),
        }
    }

    fn deliver<'a>(&'a self, msg: &'a OutboxMessage) -> DeliveryFuture<'a> {
        Box::pin(async move {
            match msg.channel {
                Channel::Email => {
                    let Some(cfg) = smtp_config(self.store.as_ref()) else {
                        return Err(DeliveryError::NotConfigured(
                            "No SMTP server is configured (Settings > Notifications)".into(),
                        ));
                    };
                    let email = crate::scripting::Email {
                        subject: msg.subject.clone(),
                        text: msg.text.clone(),
                        html: msg.html.clone(),
                    };
                    super::send_email(&cfg, &msg.to, &email)
                        .await
                        .map_err(DeliveryError::Failed)
                }
                Channel::Sms => {
                    let Some(cfg) = sms_config(self.store.as_ref()) else {
                        return Err(DeliveryError::NotConfigured(
                            "No SMS gateway is configured (Settings > Notifications)".into(),
                        ));
                    };
                    super::send_sms(&cfg, &msg.to, &msg.text)
                        .await
                        .map_err(DeliveryError::Failed)
                }
            }
        })
    }
}
