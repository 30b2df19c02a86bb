//! Transports: deliver a rendered message over SMTP or an SMS gateway, configured from a snapshot
//! of the store's settings (Settings > Notifications). They never read the store themselves.

pub mod sms;
pub mod smtp;
pub mod webhook;

pub use sms::{send_sms, SmsClient, SmsConfig};
pub use smtp::{send_email, Mailer, SmtpConfig, SmtpTls};
pub use webhook::WebhookClient;

use crate::domain::outbox::{Channel, OutboxMessage};
use crate::ports::{
    Deliverer, DeliveryError, DeliveryFuture, WebhookAnswer, WebhookFuture, WebhookPost,
};
use std::collections::BTreeMap;

use crate::ports::transport_keys as keys;

fn get<'a>(settings: &'a BTreeMap<String, String>, key: &str) -> &'a str {
    settings.get(key).map(String::as_str).unwrap_or_default()
}

/// The SMTP settings; `None` when no host is configured.
pub fn smtp_config(settings: &BTreeMap<String, String>) -> Option<SmtpConfig> {
    let host = get(settings, keys::SMTP_HOST);
    if host.trim().is_empty() {
        return None;
    }
    let tls = match get(settings, keys::SMTP_TLS) {
        "tls" => SmtpTls::Tls,
        "starttls" => SmtpTls::Starttls,
        _ => SmtpTls::None,
    };
    let default_port = match tls {
        SmtpTls::Tls => 465,
        SmtpTls::Starttls => 587,
        SmtpTls::None => 25,
    };
    let from = get(settings, keys::SMTP_FROM);
    Some(SmtpConfig {
        host: host.trim().to_string(),
        port: get(settings, keys::SMTP_PORT)
            .trim()
            .parse()
            .unwrap_or(default_port),
        tls,
        username: get(settings, keys::SMTP_USERNAME).to_string(),
        password: get(settings, keys::SMTP_PASSWORD).to_string(),
        from: if from.is_empty() {
            settings
                .get("store.email")
                .cloned()
                .unwrap_or_else(|| "orderdeck@localhost".into())
        } else {
            from.to_string()
        },
    })
}

/// The SMS gateway settings; `None` when no URL is configured.
pub fn sms_config(settings: &BTreeMap<String, String>) -> Option<SmsConfig> {
    let url = get(settings, keys::SMS_URL);
    if url.trim().is_empty() {
        return None;
    }
    let auth = get(settings, keys::SMS_AUTH);
    Some(SmsConfig {
        url: url.trim().to_string(),
        auth_header: (!auth.is_empty()).then(|| auth.to_string()),
    })
}

/// The transports one snapshot of the settings names.
#[derive(Debug, Clone)]
pub struct Transports {
    pub smtp: Option<SmtpConfig>,
    pub sms: Option<SmsConfig>,
    /// The webhook client, when this process posts webhooks (the outbox worker's).
    pub webhooks: Option<WebhookClient>,
}

impl Transports {
    /// Reads the transports' settings.
    pub fn from_settings(settings: &BTreeMap<String, String>) -> Self {
        Transports {
            smtp: smtp_config(settings),
            sms: sms_config(settings),
            webhooks: None,
        }
    }
}

impl Deliverer for Transports {
    fn ready(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.smtp.is_some(),
            Channel::Sms => self.sms.is_some(),
            Channel::Webhook => self.webhooks.is_some(),
        }
    }

    fn post_webhook<'a>(&'a self, post: WebhookPost<'a>) -> WebhookFuture<'a> {
        Box::pin(async move {
            match &self.webhooks {
                Some(client) => client.post(&post).await,
                None => WebhookAnswer {
                    status: None,
                    result: Err(DeliveryError::NotConfigured(
                        "No webhook client is running".into(),
                    )),
                },
            }
        })
    }

    fn deliver<'a>(&'a self, msg: &'a OutboxMessage) -> DeliveryFuture<'a> {
        Box::pin(async move {
            match msg.channel {
                Channel::Email => {
                    let Some(cfg) = &self.smtp else {
                        return Err(DeliveryError::NotConfigured(
                            "No SMTP server is configured (Settings > Notifications)".into(),
                        ));
                    };
                    let email = crate::domain::notifications::RenderedEmail {
                        subject: msg.subject.clone(),
                        text: msg.text.clone(),
                        html: msg.html.clone(),
                    };
                    send_email(cfg, &msg.to, &email)
                        .await
                        .map_err(DeliveryError::failed)
                }
                Channel::Sms => {
                    let Some(cfg) = &self.sms else {
                        return Err(DeliveryError::NotConfigured(
                            "No SMS gateway is configured (Settings > Notifications)".into(),
                        ));
                    };
                    send_sms(cfg, &msg.to, &msg.text)
                        .await
                        .map_err(DeliveryError::failed)
                }
                // Signed by the outbox with the endpoint's secret and posted through
                // `post_webhook`.
                Channel::Webhook => Err(DeliveryError::failed(
                    "A webhook delivery is posted with its signature, not as a message",
                )),
            }
        })
    }
}
