//! SMS delivery through an HTTP gateway: `POST {url}` with JSON `{"to", "text"}`.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// The SMS gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsConfig {
    /// The gateway's endpoint, `https://…` (or `http://` on a trusted network).
    pub url: String,
    /// One header sent with every request: a full line like `Authorization: Bearer abc` or
    /// `X-Api-Key: abc`; a value without a header name (`Bearer abc`) is sent as `Authorization`.
    #[serde(default)]
    pub auth_header: Option<String>,
}

/// An HTTP client for the gateway, built once; reuses connections across sends.
#[derive(Debug, Clone)]
pub struct SmsClient {
    http: reqwest::Client,
    config: SmsConfig,
    header: Option<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
}

pub(super) fn tls_config() -> Result<rustls::ClientConfig, String> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    // ring, like lettre: one crypto stack for SMTP and HTTPS.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn parse_header(
    raw: &str,
) -> Result<(reqwest::header::HeaderName, reqwest::header::HeaderValue), String> {
    use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};
    let raw = raw.trim();
    let (name, value) = match raw.split_once(':') {
        Some((n, v)) if !n.is_empty() && !n.contains(' ') => (
            HeaderName::from_bytes(n.trim().as_bytes())
                .map_err(|_| format!("{n:?} is not a valid header name"))?,
            v.trim(),
        ),
        _ => (AUTHORIZATION, raw),
    };
    let mut value = HeaderValue::from_str(value)
        .map_err(|_| "the auth header value is not valid".to_string())?;
    value.set_sensitive(true);
    Ok((name, value))
}

impl SmsClient {
    /// Checks the config and builds the client.
    pub fn new(config: &SmsConfig) -> Result<SmsClient, String> {
        let url = reqwest::Url::parse(config.url.trim())
            .map_err(|e| format!("the SMS gateway URL {:?} is not valid: {e}", config.url))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "the SMS gateway URL {:?} must be http(s)",
                config.url
            ));
        }
        let header = match config.auth_header.as_deref() {
            Some(h) if !h.trim().is_empty() => Some(parse_header(h)?),
            _ => None,
        };
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config()?)
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("orderdeck/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("the HTTP client could not be built: {e}"))?;
        Ok(SmsClient {
            http,
            config: config.clone(),
            header,
        })
    }

    /// Sends one text to `to`. Any 2xx answer is success; otherwise the error carries the
    /// status and the start of the gateway's answer, for the outbox page.
    pub async fn send(&self, to: &str, text: &str) -> Result<(), String> {
        let mut req = self
            .http
            .post(self.config.url.trim())
            .json(&serde_json::json!({"to": to, "text": text}));
        if let Some((name, value)) = &self.header {
            req = req.header(name.clone(), value.clone());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("SMS gateway unreachable: {e}"))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let body = resp.text().await.unwrap_or_default();
        let snippet: String = body.chars().take(300).collect();
        Err(format!("SMS gateway answered {status}: {}", snippet.trim()))
    }
}

/// Sends one SMS with a client built for this call. Prefer a long-lived [`SmsClient`] in the
/// outbox worker; this is for the settings page's "send a test".
pub async fn send_sms(config: &SmsConfig, to: &str, text: &str) -> Result<(), String> {
    SmsClient::new(config)?.send(to, text).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_headers_take_both_forms() {
        let (n, v) = parse_header("X-Api-Key: abc").unwrap();
        assert_eq!(n.as_str(), "x-api-key");
        assert_eq!(v.to_str().unwrap(), "abc");
        let (n, v) = parse_header("Bearer abc").unwrap();
        assert_eq!(n.as_str(), "authorization");
        assert_eq!(v.to_str().unwrap(), "Bearer abc");
    }

    #[test]
    fn bad_urls_are_refused() {
        let cfg = |u: &str| SmsConfig {
            url: u.into(),
            auth_header: None,
        };
        assert!(SmsClient::new(&cfg("not a url")).is_err());
        assert!(SmsClient::new(&cfg("ftp://x")).is_err());
        assert!(SmsClient::new(&cfg("https://sms.example.com/send")).is_ok());
    }
}
