//! The outbox record: a rendered message waiting for, or done with, delivery.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    /// A signed `POST` to a webhook endpoint (`to` is its URL, `text` the JSON body).
    Webhook,
}

impl Channel {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Webhook => "webhook",
        }
    }
}

/// Where a message is in its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    /// Waiting for its first or next attempt (or for a transport to be configured).
    Pending,
    Sent,
    /// Gave up after the last retry, or could not be rendered.
    Failed,
}

impl OutboxStatus {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Failed => "failed",
        }
    }

    /// Parses the JSON name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(OutboxStatus::Pending),
            "sent" => Some(OutboxStatus::Sent),
            "failed" => Some(OutboxStatus::Failed),
            _ => None,
        }
    }
}

/// One message in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMessage {
    pub id: Uuid,
    pub order_number: Option<u64>,
    pub event: String,
    pub channel: Channel,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub status: OutboxStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// The webhook endpoint a delivery is for (webhooks only; record format 2).
    pub endpoint: Option<Uuid>,
    /// The HTTP status of the receiver's last answer (webhooks only; record format 2).
    pub response_status: Option<u16>,
}

/// Most delivery attempts before a message is marked failed.
pub const MAX_ATTEMPTS: u32 = 6;

/// Wait before attempt `n + 1` after `n` failures: 10 s, 20 s, 40 s, … capped at an hour.
pub fn backoff(attempts: u32) -> chrono::Duration {
    let secs = 10i64.saturating_mul(1i64 << attempts.min(12)).min(3600);
    chrono::Duration::seconds(secs)
}

impl OutboxMessage {
    /// A message ready for its first attempt.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: Uuid,
        order_number: Option<u64>,
        event: &str,
        channel: Channel,
        to: &str,
        subject: String,
        text: String,
        html: Option<String>,
        now: DateTime<Utc>,
    ) -> Self {
        OutboxMessage {
            id,
            order_number,
            event: event.to_string(),
            channel,
            to: to.to_string(),
            subject,
            text,
            html,
            status: OutboxStatus::Pending,
            attempts: 0,
            last_error: None,
            next_attempt_at: now,
            created_at: now,
            sent_at: None,
            endpoint: None,
            response_status: None,
        }
    }

    /// Records a failed attempt: retried later with backoff, or failed for good.
    pub fn attempt_failed(&mut self, error: String, now: DateTime<Utc>) {
        self.attempts += 1;
        self.last_error = Some(error);
        if self.attempts >= MAX_ATTEMPTS {
            self.status = OutboxStatus::Failed;
        } else {
            self.next_attempt_at = now + backoff(self.attempts - 1);
        }
    }

    /// Whether this is the record of a template that failed (nothing was rendered to send).
    pub fn is_unrendered(&self) -> bool {
        self.status == OutboxStatus::Failed && self.text.is_empty() && self.subject.starts_with('(')
    }

    /// Records a successful delivery.
    pub fn delivered(&mut self, now: DateTime<Utc>) {
        self.attempts += 1;
        self.status = OutboxStatus::Sent;
        self.sent_at = Some(now);
        self.last_error = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_then_give_up() {
        let now = Utc::now();
        let mut m = OutboxMessage::new(
            Uuid::nil(),
            Some(1001),
            "order_placed",
            Channel::Email,
            "a@b.c",
            "s".into(),
            "t".into(),
            None,
            now,
        );
        m.attempt_failed("connection refused".into(), now);
        assert_eq!(m.status, OutboxStatus::Pending);
        assert_eq!(m.next_attempt_at, now + chrono::Duration::seconds(10));
        m.attempt_failed("connection refused".into(), now);
        assert_eq!(m.next_attempt_at, now + chrono::Duration::seconds(20));
        for _ in 2..MAX_ATTEMPTS {
            m.attempt_failed("connection refused".into(), now);
        }
        assert_eq!(m.status, OutboxStatus::Failed);
        assert_eq!(m.attempts, MAX_ATTEMPTS);
        assert_eq!(m.last_error.as_deref(), Some("connection refused"));
    }
}
