//! The outbox delivering through the service with a stand-in SMS gateway: one order's messages
//! reach the customer in the order they were written, even when an earlier one is retried.

use orderdeck::domain::notifications::Rendered;
use orderdeck::domain::outbox::{Channel, OutboxMessage, OutboxStatus};
use orderdeck::domain::{Actor, Command};
use orderdeck::ports::{Deliverer, DeliveryError, DeliveryFuture, RenderError, Renderer};
use orderdeck::service::Service;
use orderdeck::store::sled::SledStore;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Every event as a one-line SMS naming it.
struct SmsOnly;

impl Renderer for SmsOnly {
    fn render(&self, event: &str, _ctx: &Value) -> Result<Option<Rendered>, RenderError> {
        Ok(Some(Rendered {
            email: None,
            sms: Some(event.to_string()),
        }))
    }
}

/// A template set that fails until it is fixed (as when a merchant breaks a script, then fixes
/// it and reloads).
struct Fixable {
    broken: AtomicBool,
}

#[derive(Debug)]
struct Broken;

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("payment_status_changed.rhai: render(): syntax error")
    }
}

impl std::error::Error for Broken {}

impl Renderer for Fixable {
    fn render(&self, event: &str, _ctx: &Value) -> Result<Option<Rendered>, RenderError> {
        if event == "payment_status_changed" && self.broken.load(Ordering::SeqCst) {
            return Err(RenderError(Box::new(Broken)));
        }
        Ok(Some(Rendered {
            email: Some(orderdeck::domain::notifications::RenderedEmail {
                subject: format!("About your order ({event})"),
                text: "Hello".into(),
                html: None,
            }),
            sms: None,
        }))
    }
}

/// A gateway that is down for its first message, then delivers.
struct Gateway {
    down: AtomicBool,
    sent: Mutex<Vec<String>>,
}

impl Deliverer for Gateway {
    fn deliver<'a>(&'a self, msg: &'a OutboxMessage) -> DeliveryFuture<'a> {
        Box::pin(async move {
            assert_eq!(msg.channel, Channel::Sms);
            if self.down.swap(false, Ordering::SeqCst) {
                return Err(DeliveryError::failed("gateway down"));
            }
            self.sent.lock().unwrap().push(msg.text.clone());
            Ok(())
        })
    }
}

/// A sample order (adjusted by `edit`), placed unpaid, then paid in full: an `order_placed` and a
/// `payment_status_changed` message.
async fn placed_and_paid(
    svc: &Service,
    edit: impl FnOnce(&mut orderdeck::domain::intake::OrderDraft),
) -> orderdeck::domain::Order {
    let mut draft = orderdeck::domain::sample::sample_order(false);
    draft.payment.paid = false;
    edit(&mut draft);
    let (order, _) = svc
        .place_order(&draft, Actor::Token("shop".into()), None)
        .await
        .unwrap();
    svc.act(
        order.number,
        Command::RecordPayment {
            amount: None,
            reference: None,
        },
        Actor::Member("Dana".into()),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn one_orders_messages_arrive_in_the_order_they_were_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open(dir.path()).unwrap());
    let svc = Service::new(store).with_renderer(Arc::new(SmsOnly));
    let order = placed_and_paid(&svc, |d| d.customer.phone = "+1 555 446 5066".into()).await;
    let gateway = Gateway {
        down: AtomicBool::new(true),
        sent: Mutex::new(Vec::new()),
    };
    // The confirmation fails and is retried later (in 10 s); the payment text, due meanwhile,
    // waits behind it. (The due index has one-second steps: a message comes due within a
    // second of its time.)
    for _ in 0..30 {
        svc.deliver_due(&gateway).await.unwrap();
        if !gateway.down.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    svc.deliver_due(&gateway).await.unwrap();
    assert!(gateway.sent.lock().unwrap().is_empty());
    let messages = svc
        .outbox(Some(order.number), Some(OutboxStatus::Pending), 10)
        .await
        .unwrap();
    assert_eq!(messages.len(), 2, "{messages:?}");
    let placed = messages.iter().find(|m| m.event == "order_placed").unwrap();
    let paid = messages
        .iter()
        .find(|m| m.event == "payment_status_changed")
        .unwrap();
    assert_eq!(placed.attempts, 1);
    assert_eq!(paid.attempts, 0, "not attempted before the confirmation");
    assert!(
        paid.last_error
            .as_deref()
            .is_some_and(|e| e.contains("earlier message")),
        "{paid:?}"
    );
    assert!(paid.next_attempt_at >= placed.next_attempt_at);
    // Both due now: they go out confirmation first.
    for m in [placed, paid] {
        svc.resend(m.id).await.unwrap();
    }
    for _ in 0..30 {
        svc.deliver_due(&gateway).await.unwrap();
        if gateway.sent.lock().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        *gateway.sent.lock().unwrap(),
        vec![
            "order_placed".to_string(),
            "payment_status_changed".to_string()
        ]
    );
}

#[tokio::test]
async fn a_message_whose_template_failed_is_rendered_again_and_sent_once_the_script_is_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open(dir.path()).unwrap());
    let templates = Arc::new(Fixable {
        broken: AtomicBool::new(true),
    });
    let svc = Service::new(store).with_renderer(templates.clone());
    let order = placed_and_paid(&svc, |d| d.customer.email = "ann@example.com".into()).await;
    let failed = svc
        .outbox(Some(order.number), Some(OutboxStatus::Failed), 10)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.event == "payment_status_changed")
        .expect("the failed render is kept");
    assert!(failed.is_unrendered());
    // Still broken: Resend says so and changes nothing.
    let e = svc.resend(failed.id).await.unwrap_err();
    assert!(e.to_string().contains("still fails"), "{e}");
    // Fixed: Resend renders it again and queues it for the customer.
    templates.broken.store(false, Ordering::SeqCst);
    let m = svc.resend(failed.id).await.unwrap();
    assert_eq!(m.status, OutboxStatus::Pending);
    assert_eq!(m.to, "ann@example.com");
    assert_eq!(m.subject, "About your order (payment_status_changed)");
    assert_eq!(m.text, "Hello");
}
