//! SMTP delivery of rendered emails (lettre, rustls): plain text, or text + HTML alternatives.

use crate::domain::notifications::RenderedEmail as Email;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain text (a relay on localhost, or tests). Credentials would travel unencrypted.
    None,
    /// Plain connection upgraded with STARTTLS, required (usually port 587).
    #[default]
    Starttls,
    /// TLS from the first byte, "SMTPS" (usually port 465).
    Tls,
}

/// Where and how to send email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    #[serde(default)]
    pub tls: SmtpTls,
    /// Empty: no authentication.
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    /// The sender, `shop@example.com` or `Acme Goods <shop@example.com>`.
    pub from: String,
}

/// An SMTP transport built once from a config; reuses connections (a small pool) across sends.
/// Create, use and drop it inside a Tokio runtime (actix's is one): the pool closes its
/// connections on a task when dropped, and panics without a runtime.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Checks the config and builds the transport (no connection is made yet).
    pub fn new(config: &SmtpConfig) -> Result<Mailer, String> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| format!("the sender address {:?} is not valid: {e}", config.from))?;
        if config.host.trim().is_empty() {
            return Err("the SMTP host is empty".into());
        }
        let host = config.host.trim();
        let builder = match config.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|e| format!("SMTP TLS setup for {host}: {e}"))?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|e| format!("SMTP TLS setup for {host}: {e}"))?,
        };
        let mut builder = builder
            .port(config.port)
            .timeout(Some(Duration::from_secs(30)));
        if !config.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                config.username.clone(),
                config.password.clone(),
            ));
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
        })
    }

    /// Sends one email to `to`. The error says what failed (address, connection, or the
    /// server's answer), for the outbox page.
    pub async fn send(&self, to: &str, email: &Email) -> Result<(), String> {
        let message = build_message(&self.from, to, email)?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| format!("SMTP delivery to {to} failed: {e}"))
    }
}

/// The MIME message: text/plain alone, or multipart/alternative with text then HTML.
pub fn build_message(from: &Mailbox, to: &str, email: &Email) -> Result<Message, String> {
    let to: Mailbox = to
        .trim()
        .parse()
        .map_err(|e| format!("the recipient address {to:?} is not valid: {e}"))?;
    let builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(email.subject.clone())
        // A Message-ID (random, @hostname) and a Date: spam filters penalise mail without them.
        .message_id(None)
        .date_now();
    let built = match &email.html {
        Some(html) => builder.multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(email.text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html.clone()),
                ),
        ),
        None => builder.singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(email.text.clone()),
        ),
    };
    built.map_err(|e| format!("the email could not be built: {e}"))
}

/// Sends one email with a transport built for this call. Prefer a long-lived [`Mailer`] in the
/// outbox worker; this is for the settings page's "send a test".
pub async fn send_email(config: &SmtpConfig, to: &str, email: &Email) -> Result<(), String> {
    Mailer::new(config)?.send(to, email).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(html: Option<&str>) -> Email {
        Email {
            subject: "Order #1001 confirmed — thank you".into(),
            text: "Hello\nThanks".into(),
            html: html.map(str::to_string),
        }
    }

    #[test]
    fn html_emails_are_multipart_alternative() {
        let from: Mailbox = "Acme <shop@example.com>".parse().unwrap();
        let m = build_message(&from, "olivia@example.com", &email(Some("<p>Hello</p>"))).unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("text/plain") && raw.contains("text/html"));
        assert!(raw.contains("Message-ID:"));
    }

    #[test]
    fn text_only_emails_are_one_part() {
        let from: Mailbox = "shop@example.com".parse().unwrap();
        let m = build_message(&from, "olivia@example.com", &email(None)).unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(!raw.contains("multipart"), "{raw}");
    }

    #[tokio::test]
    async fn tls_and_starttls_transports_build() {
        for tls in [SmtpTls::Tls, SmtpTls::Starttls, SmtpTls::None] {
            let cfg = SmtpConfig {
                host: "smtp.example.com".into(),
                port: 465,
                tls,
                username: "shop".into(),
                password: "secret".into(),
                from: "Acme <shop@example.com>".into(),
            };
            assert!(Mailer::new(&cfg).is_ok(), "{tls:?}");
        }
        let json = serde_json::json!({"host": "h", "port": 587, "from": "a@b.c"});
        let cfg: SmtpConfig = serde_json::from_value(json).unwrap();
        assert_eq!(cfg.tls, SmtpTls::Starttls);
    }

    #[test]
    fn bad_addresses_are_reported() {
        let from: Mailbox = "shop@example.com".parse().unwrap();
        let e = build_message(&from, "not an address", &email(None)).unwrap_err();
        assert!(e.contains("recipient address"), "{e}");
        let cfg = SmtpConfig {
            host: "localhost".into(),
            port: 25,
            tls: SmtpTls::None,
            username: String::new(),
            password: String::new(),
            from: "nope".into(),
        };
        assert!(Mailer::new(&cfg).unwrap_err().contains("sender address"));
    }
}
