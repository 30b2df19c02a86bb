//! Notifications out of orderdeck: the transports that deliver rendered messages (SMTP email and
//! an HTTP SMS gateway). The durable outbox and its worker build on these.

pub mod sms;
pub mod smtp;

pub use sms::{send_sms, SmsClient, SmsConfig};
pub use smtp::{send_email, Mailer, SmtpConfig, SmtpTls};
