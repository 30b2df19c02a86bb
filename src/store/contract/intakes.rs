//! The contract's clause on intakes arriving at once: whatever a backend writes them through
//! (one by one, or together), each order is stored once with its messages, replays answer with
//! the order they made, and customers and counters add up.

use super::{created, message, new_order, unchanged};
use crate::ports::{Storage, StoreError};

/// Forty-eight intakes at once: new customers (half with a key), one known customer's orders
/// (half with a key), replays of keys used before, and two first orders of one new customer.
pub(super) async fn intakes_at_once_are_each_written_once(s: &dyn Storage) {
    let known = new_order(s, "known@example.com", "+1 555 0300").await;
    let (known_first, _) = created(s.insert_order(&known).await.unwrap());
    let mut earlier = Vec::new();
    for i in 0..8u8 {
        let mut new = new_order(s, &format!("replayed{i}@example.com"), "").await;
        new.idempotency = Some((format!("at-once-{i}"), [i; 32]));
        earlier.push(created(s.insert_order(&new).await.unwrap()).0);
    }
    let before = s.counts().await.unwrap().all;

    let mut at_once = Vec::new();
    for i in 0..16u8 {
        let mut new = new_order(s, &format!("fresh{i}@example.com"), "").await;
        new.outbox = vec![message(Some(new.order.number), 0)];
        if i % 2 == 0 {
            new.idempotency = Some((format!("fresh-{i}"), [i; 32]));
        }
        at_once.push(new);
    }
    for i in 0..16u8 {
        let mut new = unchanged(new_order(s, "known@example.com", "+1 555 0300").await);
        new.outbox = vec![message(Some(new.order.number), 0)];
        if i % 2 == 1 {
            new.idempotency = Some((format!("known-{i}"), [i; 32]));
        }
        at_once.push(new);
    }
    for i in 0..8u8 {
        // The same key and body as an order stored before: from the same customer, or one
        // the store has not seen.
        let email = if i % 2 == 0 {
            format!("replayed{i}@example.com")
        } else {
            format!("unseen{i}@example.com")
        };
        let mut new = unchanged(new_order(s, &email, "").await);
        new.idempotency = Some((format!("at-once-{i}"), [i; 32]));
        at_once.push(new);
    }
    for _ in 0..2 {
        at_once.push(new_order(s, "twice@example.com", "").await);
    }

    let stored = futures_util::future::join_all(at_once.iter().map(|n| s.insert_order(n))).await;
    let mut written = 0;
    for (new, outcome) in at_once.iter().zip(stored) {
        let (order, replay) = created(outcome.unwrap());
        let key = new.idempotency.as_ref().map(|(k, _)| k.as_str());
        if let Some(i) = key.and_then(|k| k.strip_prefix("at-once-")) {
            let i: usize = i.parse().unwrap();
            assert!(replay, "{key:?} replays");
            assert_eq!(order.number, earlier[i].number);
            assert!(matches!(
                s.get_order(new.order.number).await,
                Err(StoreError::NotFound(_))
            ));
            continue;
        }
        assert!(!replay, "{key:?}: a new order");
        assert_eq!(order.number, new.order.number);
        let back = s.get_order(order.number).await.unwrap();
        assert_eq!(back.customer.id, order.customer.id);
        let msgs = s.outbox_list(Some(order.number), None, 10).await.unwrap();
        assert_eq!(msgs.len(), new.outbox.len(), "order {}", order.number);
        if let Some(k) = key {
            assert_eq!(
                s.idempotency_key(k).await.unwrap().map(|(n, _)| n),
                Some(order.number)
            );
        }
        written += 1;
    }
    assert_eq!(written, 34);
    assert_eq!(s.counts().await.unwrap().all, before + 34);

    for i in 0..16 {
        let c = s
            .customer_by_contact(&format!("fresh{i}@example.com"), "")
            .await
            .unwrap()
            .expect("made by their first order");
        assert_eq!(c.orders_count, 1);
    }
    let known = s.customer(known_first.customer.id).await.unwrap();
    assert_eq!(known.orders_count, 17);
    let twice = s
        .customer_by_contact("twice@example.com", "")
        .await
        .unwrap()
        .expect("made once");
    assert_eq!(twice.orders_count, 2);
    for i in (1..8).step_by(2) {
        assert!(
            s.customer_by_contact(&format!("unseen{i}@example.com"), "")
                .await
                .unwrap()
                .is_none(),
            "a replay makes no customer"
        );
    }
}
