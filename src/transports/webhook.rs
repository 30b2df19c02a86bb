//! Webhook delivery: a signed `POST` to the endpoint's URL (docs/API.md, Webhooks). Any 2xx answer within
//! [`TIMEOUT`] is delivered; another status, no answer in time or no connection is a failed
//! attempt, retried by the outbox with backoff.

use crate::ports::{DeliveryError, WebhookAnswer, WebhookPost};
use std::time::Duration;

/// How long a receiver has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP client for webhook receivers, built once by the outbox worker; reuses connections.
#[derive(Debug, Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
}

impl WebhookClient {
    /// Builds the client (TLS through the same rustls + ring stack as the SMS gateway's).
    pub fn new() -> Result<WebhookClient, String> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(super::sms::tls_config()?)
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            // A receiver's redirect is not followed: the signed body goes where it was
            // registered to go, and a 3xx is a failed attempt the log shows.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("orderdeck-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("the HTTP client could not be built: {e}"))?;
        Ok(WebhookClient { http })
    }

    /// Posts one delivery.
    pub async fn post(&self, p: &WebhookPost<'_>) -> WebhookAnswer {
        let sent = self
            .http
            .post(p.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Orderdeck-Event", p.event)
            .header("X-Orderdeck-Delivery", p.delivery.to_string())
            .header("X-Orderdeck-Timestamp", p.timestamp.to_string())
            .header("X-Orderdeck-Signature", p.signature.as_str())
            .body(p.body.to_string())
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                let why = if e.is_timeout() {
                    format!("No answer within {} s", TIMEOUT.as_secs())
                } else if e.is_connect() {
                    format!("Could not connect: {}", root_cause(&e))
                } else {
                    format!("Request failed: {}", root_cause(&e))
                };
                return WebhookAnswer {
                    status: None,
                    result: Err(DeliveryError::Failed {
                        message: why,
                        source: Some(Box::new(e)),
                    }),
                };
            }
        };
        let status = resp.status();
        if status.is_success() {
            return WebhookAnswer {
                status: Some(status.as_u16()),
                result: Ok(()),
            };
        }
        let body = tokio::time::timeout(Duration::from_secs(2), resp.text())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let snippet: String = body.trim().chars().take(200).collect();
        WebhookAnswer {
            status: Some(status.as_u16()),
            result: Err(DeliveryError::failed(if snippet.is_empty() {
                format!("The receiver answered {status}")
            } else {
                format!("The receiver answered {status}: {snippet}")
            })),
        }
    }
}

/// The innermost cause of an HTTP error ("connection refused" rather than "error sending
/// request").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
