//! The only place bytes become domain types. Every record starts with its schema version;
//! bytes that do not decode are an error, never skipped.
//!
//! Format history:
//! - 0: orders had no `version` field; every other record as in format 1.
//! - 1: outbox messages had no `endpoint` and `response_status`; as format 2 otherwise.
//! - 2: orders and list rows had no `tags`; as format 3 otherwise.
//! - 3: current.
//!
//! Older records are migrated when read and written back in the current format with the next
//! change of their order.

use crate::domain::outbox::OutboxMessage;
use crate::domain::Order;
use crate::ports::{StoreError, Summary};
use serde::{de::DeserializeOwned, Serialize};
use std::any::Any;

/// Current record format. Bump it (and add a migration in `decode`) when a stored type changes.
pub const SCHEMA_VERSION: u8 = 3;

/// Oldest record format `decode` still reads.
pub const OLDEST_READABLE_VERSION: u8 = 0;

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Encodes a record with its schema version.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![SCHEMA_VERSION];
    out.extend_from_slice(&encode_body(value)?);
    Ok(out)
}

fn encode_body<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    bincode::serde::encode_to_vec(value, config())
        .map_err(|e| StoreError::Corrupt(format!("cannot encode record: {e}")))
}

/// Decodes a record, checking its schema version. `what` names the record in error messages.
pub fn decode<T: DeserializeOwned + 'static>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    let (version, body) = bytes
        .split_first()
        .ok_or_else(|| StoreError::Corrupt(format!("{what}: empty record")))?;
    match *version {
        SCHEMA_VERSION => decode_body(what, body),
        0 if is::<T, Order>() => {
            let old: v0::Order = decode_body(what, body)?;
            migrated(what, Order::from(old))
        }
        1 | 2 if is::<T, Order>() => decode_body(what, &with_empty_tags(body)),
        0 | 1 if is::<T, OutboxMessage>() => {
            let old: v1::OutboxMessage = decode_body(what, body)?;
            migrated(what, OutboxMessage::from(old))
        }
        // Format 0 differs from format 1 only in orders, format 1 from 2 only in outbox
        // messages, format 2 from 3 only in orders and list rows.
        0..=2 => decode_body(what, body),
        v => Err(StoreError::Corrupt(format!(
            "{what}: record format {v} is not supported by this version of orderdeck (reads {OLDEST_READABLE_VERSION} to {SCHEMA_VERSION})"
        ))),
    }
}

/// A format 1 or 2 order or list row followed by an empty `tags` list: the same value in
/// format 3, where `tags` is the last field (an empty list is one zero byte).
fn with_empty_tags(body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 1);
    v.extend_from_slice(body);
    v.push(0);
    v
}

fn is<T: 'static, U: 'static>() -> bool {
    std::any::TypeId::of::<T>() == std::any::TypeId::of::<U>()
}

fn migrated<T: 'static, U: 'static>(what: &str, value: U) -> Result<T, StoreError> {
    let boxed: Box<dyn Any> = Box::new(value);
    boxed
        .downcast::<T>()
        .map(|b| *b)
        .map_err(|_| StoreError::Corrupt(format!("{what}: migration type mismatch")))
}

/// Encodes a record whose tail is decoded only on demand: version, head, tail.
pub fn encode_with_tail<H: Serialize, T: Serialize>(
    head: &H,
    tail: &T,
) -> Result<Vec<u8>, StoreError> {
    let mut out = encode(head)?;
    out.extend_from_slice(&encode_body(tail)?);
    Ok(out)
}

/// Decodes the list row at the head of an order's `summaries` record (written by
/// [`encode_with_tail`]) and returns the undecoded tail.
pub fn decode_row<'a>(what: &str, bytes: &'a [u8]) -> Result<(Summary, &'a [u8]), StoreError> {
    match bytes.split_first() {
        Some((&SCHEMA_VERSION, body)) => {
            let (value, used) = decode_prefix(what, body)?;
            Ok((value, &body[used..]))
        }
        // List rows are the same in formats 1 and 2, and had no tags.
        Some((&(1 | 2), body)) => {
            let (value, used) = decode_prefix::<v2::Summary>(what, body)?;
            Ok((value.into(), &body[used..]))
        }
        Some((v, _)) => Err(StoreError::Corrupt(format!(
            "{what}: record format {v} is not supported here"
        ))),
        None => Err(StoreError::Corrupt(format!("{what}: empty record"))),
    }
}

/// Decodes the tail [`decode_head`] returned.
pub fn decode_tail<T: DeserializeOwned>(what: &str, tail: &[u8]) -> Result<T, StoreError> {
    decode_body(what, tail)
}

/// Decodes a value from the start of `body`; returns it and the bytes it took.
fn decode_prefix<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<(T, usize), StoreError> {
    bincode::serde::decode_from_slice(body, config())
        .map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn decode_body<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, StoreError> {
    let (value, used) = decode_prefix(what, body)?;
    if used != body.len() {
        return Err(StoreError::Corrupt(format!("{what}: trailing bytes")));
    }
    Ok(value)
}

/// Record format 0.
pub mod v0 {
    use crate::domain::{
        Address, Cancellation, CustomerSnapshot, LineItem, Note, OrderId, Payment, PaymentMethod,
        Refund, ReturnRecord, Shipment, ShippingLine, TimelineEntry,
    };
    use chrono::{DateTime, Utc};
    use rust_decimal::Decimal;
    use serde::{Deserialize, Serialize};

    /// An order as format 0 stored it: the current order without `version`.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Order {
        pub id: OrderId,
        pub number: u64,
        pub created_at: DateTime<Utc>,
        pub test: bool,
        pub currency: String,
        pub customer: CustomerSnapshot,
        pub shipping_address: Address,
        pub billing_address: Address,
        pub items: Vec<LineItem>,
        pub shipping: ShippingLine,
        pub tax: Decimal,
        pub discount: Decimal,
        pub total: Decimal,
        pub payment_method: PaymentMethod,
        pub payments: Vec<Payment>,
        pub refunds: Vec<Refund>,
        pub dispatched_at: Option<DateTime<Utc>>,
        pub shipments: Vec<Shipment>,
        pub returns: Vec<ReturnRecord>,
        pub cancellation: Option<Cancellation>,
        pub notes: Vec<Note>,
        pub timeline: Vec<TimelineEntry>,
    }

    impl From<Order> for crate::domain::Order {
        fn from(o: Order) -> Self {
            // Every accepted change added a timeline entry, so its length is a version that
            // only grows from here.
            let version = (o.timeline.len() as u64).max(1);
            crate::domain::Order {
                id: o.id,
                number: o.number,
                created_at: o.created_at,
                test: o.test,
                currency: o.currency,
                customer: o.customer,
                shipping_address: o.shipping_address,
                billing_address: o.billing_address,
                items: o.items,
                shipping: o.shipping,
                tax: o.tax,
                discount: o.discount,
                total: o.total,
                payment_method: o.payment_method,
                payments: o.payments,
                refunds: o.refunds,
                dispatched_at: o.dispatched_at,
                shipments: o.shipments,
                returns: o.returns,
                cancellation: o.cancellation,
                notes: o.notes,
                timeline: o.timeline,
                version,
                tags: Vec::new(),
            }
        }
    }

    impl From<&crate::domain::Order> for Order {
        fn from(o: &crate::domain::Order) -> Self {
            let o = o.clone();
            Order {
                id: o.id,
                number: o.number,
                created_at: o.created_at,
                test: o.test,
                currency: o.currency,
                customer: o.customer,
                shipping_address: o.shipping_address,
                billing_address: o.billing_address,
                items: o.items,
                shipping: o.shipping,
                tax: o.tax,
                discount: o.discount,
                total: o.total,
                payment_method: o.payment_method,
                payments: o.payments,
                refunds: o.refunds,
                dispatched_at: o.dispatched_at,
                shipments: o.shipments,
                returns: o.returns,
                cancellation: o.cancellation,
                notes: o.notes,
                timeline: o.timeline,
            }
        }
    }

    /// Encodes a format-0 record (fixtures and migration tests only).
    pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, crate::ports::StoreError> {
        let mut out = vec![0u8];
        let body = bincode::serde::encode_to_vec(value, super::config())
            .map_err(|e| crate::ports::StoreError::Corrupt(format!("cannot encode record: {e}")))?;
        out.extend_from_slice(&body);
        Ok(out)
    }
}

/// Record format 1.
pub mod v1 {
    use crate::domain::outbox::{Channel, OutboxStatus};
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Serialize};
    use uuid::Uuid;

    /// An outbox message as formats 0 and 1 stored it: without `endpoint` and
    /// `response_status`.
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
    }

    impl From<OutboxMessage> for crate::domain::outbox::OutboxMessage {
        fn from(m: OutboxMessage) -> Self {
            crate::domain::outbox::OutboxMessage {
                id: m.id,
                order_number: m.order_number,
                event: m.event,
                channel: m.channel,
                to: m.to,
                subject: m.subject,
                text: m.text,
                html: m.html,
                status: m.status,
                attempts: m.attempts,
                last_error: m.last_error,
                next_attempt_at: m.next_attempt_at,
                created_at: m.created_at,
                sent_at: m.sent_at,
                endpoint: None,
                response_status: None,
            }
        }
    }

    /// Encodes a format-1 record (fixtures and migration tests only).
    pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, crate::ports::StoreError> {
        let mut out = vec![1u8];
        let body = bincode::serde::encode_to_vec(value, super::config())
            .map_err(|e| crate::ports::StoreError::Corrupt(format!("cannot encode record: {e}")))?;
        out.extend_from_slice(&body);
        Ok(out)
    }
}

/// Record format 2.
pub mod v2 {
    use crate::domain::{FulfillmentStatus, OrderId, PaymentStatus};
    use chrono::{DateTime, Utc};
    use rust_decimal::Decimal;
    use serde::{Deserialize, Serialize};

    /// An order's list row as formats 1 and 2 stored it: without `tags`.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Summary {
        pub id: OrderId,
        pub number: u64,
        #[serde(with = "chrono::serde::ts_nanoseconds")]
        pub created_at: DateTime<Utc>,
        pub customer_name: String,
        pub customer_email: String,
        #[serde(with = "crate::ports::decimal_bytes")]
        pub total: Decimal,
        pub currency: String,
        pub payment_status: PaymentStatus,
        pub fulfillment_status: FulfillmentStatus,
        pub test: bool,
        pub items_count: u32,
    }

    impl From<Summary> for crate::ports::Summary {
        fn from(s: Summary) -> Self {
            crate::ports::Summary {
                id: s.id,
                number: s.number,
                created_at: s.created_at,
                customer_name: s.customer_name,
                customer_email: s.customer_email,
                total: s.total,
                currency: s.currency,
                payment_status: s.payment_status,
                fulfillment_status: s.fulfillment_status,
                test: s.test,
                items_count: s.items_count,
                tags: Vec::new(),
            }
        }
    }

    /// Encodes a format-2 record (fixtures and migration tests only).
    pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, crate::ports::StoreError> {
        let mut out = vec![2u8];
        let body = bincode::serde::encode_to_vec(value, super::config())
            .map_err(|e| crate::ports::StoreError::Corrupt(format!("cannot encode record: {e}")))?;
        out.extend_from_slice(&body);
        Ok(out)
    }
}

/// A big-endian u64 value (counters, order numbers).
pub fn decode_u64(what: &str, bytes: &[u8]) -> Result<u64, StoreError> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what}: not an 8-byte number")))?;
    Ok(u64::from_be_bytes(arr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::intake::{NewOrderIds, OrderDraft};
    use crate::domain::{Actor, CustomerId, Order};

    fn sample() -> Order {
        let draft: OrderDraft = crate::domain::sample::sample_order(true);
        let v = draft.validate().unwrap();
        v.build(
            &NewOrderIds {
                order_id: uuid::Uuid::now_v7(),
                number: 1001,
                customer_id: CustomerId(uuid::Uuid::now_v7()),
                item_ids: (0..v.items.len()).map(|_| uuid::Uuid::now_v7()).collect(),
                payment_id: uuid::Uuid::now_v7(),
            },
            "EUR",
            chrono::Utc::now(),
            &Actor::System,
        )
    }

    #[test]
    fn orders_round_trip_through_the_record_format() {
        let o = sample();
        let bytes = encode(&o).unwrap();
        assert_eq!(bytes[0], SCHEMA_VERSION);
        let back: Order = decode("order", &bytes).unwrap();
        assert_eq!(back, o);
    }

    #[test]
    fn damaged_or_foreign_records_are_errors_not_skipped() {
        let bytes = encode(&sample()).unwrap();
        let mut other_version = bytes.clone();
        other_version[0] = SCHEMA_VERSION + 1;
        assert!(matches!(
            decode::<Order>("order", &other_version),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            decode::<Order>("order", &bytes[..bytes.len() / 2]),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            decode::<Order>("order", &[]),
            Err(StoreError::Corrupt(_))
        ));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(
            decode::<Order>("order", &trailing),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn format_1_outbox_messages_are_migrated_and_other_format_1_records_read_as_they_are() {
        use crate::domain::outbox::{Channel, OutboxMessage};
        let now = chrono::Utc::now();
        let m = OutboxMessage::new(
            uuid::Uuid::now_v7(),
            Some(1001),
            "order_placed",
            Channel::Sms,
            "+441234",
            String::new(),
            "Thanks".into(),
            None,
            now,
        );
        let old = v1::OutboxMessage {
            id: m.id,
            order_number: m.order_number,
            event: m.event.clone(),
            channel: m.channel,
            to: m.to.clone(),
            subject: m.subject.clone(),
            text: m.text.clone(),
            html: None,
            status: m.status,
            attempts: 0,
            last_error: None,
            next_attempt_at: now,
            created_at: now,
            sent_at: None,
        };
        for bytes in [v1::encode(&old).unwrap(), v0::encode(&old).unwrap()] {
            assert_eq!(decode::<OutboxMessage>("message", &bytes).unwrap(), m);
        }
        // A format-2 message is not read as a format-1 one.
        let mut hooked = m.clone();
        hooked.endpoint = Some(uuid::Uuid::now_v7());
        hooked.response_status = Some(204);
        let bytes = encode(&hooked).unwrap();
        assert_eq!(decode::<OutboxMessage>("message", &bytes).unwrap(), hooked);
        let mut as_old = bytes;
        as_old[0] = 1;
        assert!(decode::<OutboxMessage>("message", &as_old).is_err());
    }

    #[test]
    fn format_1_and_2_orders_and_list_rows_read_with_no_tags() {
        let o = sample();
        assert!(o.tags.is_empty());
        // Formats 1 and 2 wrote an order as format 3 does, without the trailing tag list.
        let now = encode(&o).unwrap();
        assert_eq!(now.last(), Some(&0), "an empty tag list is one zero byte");
        for v in [1u8, 2] {
            let mut old = now[..now.len() - 1].to_vec();
            old[0] = v;
            assert_eq!(decode::<Order>("order", &old).unwrap(), o);
        }
        let mut tagged = o.clone();
        tagged.tags = vec!["vip".into(), "wholesale".into()];
        assert_eq!(
            decode::<Order>("order", &encode(&tagged).unwrap()).unwrap(),
            tagged
        );
        // A list row with its terms tail, in format 2 and in format 3.
        let row = Summary::of(&tagged);
        let old_row = v2::Summary {
            id: row.id,
            number: row.number,
            created_at: row.created_at,
            customer_name: row.customer_name.clone(),
            customer_email: row.customer_email.clone(),
            total: row.total,
            currency: row.currency.clone(),
            payment_status: row.payment_status,
            fulfillment_status: row.fulfillment_status,
            test: row.test,
            items_count: row.items_count,
        };
        let terms = vec!["ann".to_string(), "1001".to_string()];
        let mut old = v2::encode(&old_row).unwrap();
        old.extend_from_slice(&encode_body(&terms).unwrap());
        let (read, tail) = decode_row("row", &old).unwrap();
        assert_eq!(
            read,
            Summary {
                tags: Vec::new(),
                ..row.clone()
            }
        );
        assert_eq!(decode_tail::<Vec<String>>("terms", tail).unwrap(), terms);
        let new = encode_with_tail(&row, &terms).unwrap();
        let (read, tail) = decode_row("row", &new).unwrap();
        assert_eq!(read, row);
        assert_eq!(decode_tail::<Vec<String>>("terms", tail).unwrap(), terms);
    }

    #[test]
    fn format_0_orders_are_migrated_when_read() {
        let o = sample();
        let old = v0::encode(&v0::Order::from(&o)).unwrap();
        assert_eq!(old[0], 0);
        let back: Order = decode("order", &old).unwrap();
        assert_eq!(back.version, (o.timeline.len() as u64).max(1));
        assert_eq!(
            Order {
                version: o.version,
                ..back
            },
            o
        );
        // Other records of format 0 read as they are.
        let s = v0::encode(&("k".to_string(), 7u64)).unwrap();
        assert_eq!(decode::<(String, u64)>("x", &s).unwrap(), ("k".into(), 7));
        // A current-format order is not mistaken for an old one, nor the reverse.
        let mut as_old = encode(&o).unwrap();
        as_old[0] = 0;
        assert!(decode::<Order>("order", &as_old).is_err());
    }

    const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/v0-store");
    const FIXTURE_ORDERS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/v0-store.orders.json"
    );

    /// Rewrites every codec record of a store in format 0 (the generator of the fixture).
    fn downgrade_to_v0(store: &crate::store::sled::SledStore) {
        let t = store.trees();
        for item in t.orders.iter() {
            let (k, v) = item.unwrap();
            let o: Order = decode("order", &v).unwrap();
            t.orders
                .insert(k, v0::encode(&v0::Order::from(&o)).unwrap())
                .unwrap();
        }
        for tree in [t.summaries, t.customers, t.outbox, t.idempotency] {
            for item in tree.iter() {
                let (k, v) = item.unwrap();
                let mut v = v.to_vec();
                assert_eq!(v[0], SCHEMA_VERSION);
                v[0] = 0;
                tree.insert(k, v).unwrap();
            }
        }
        let tokens = store.db().open_tree("tokens").unwrap();
        for item in tokens.iter() {
            let (k, v) = item.unwrap();
            let mut v = v.to_vec();
            v[0] = 0;
            tokens.insert(k, v).unwrap();
        }
    }

    /// Writes `tests/fixtures/v0-store` (run once, by hand, with `--ignored`; the result is
    /// checked in so that later versions are tested against bytes an old version wrote).
    #[test]
    #[ignore]
    fn write_the_format_0_fixture() {
        let dir = std::path::Path::new(FIXTURE);
        let _ = std::fs::remove_dir_all(dir);
        let store = crate::store::sled::SledStore::open(dir).unwrap();
        crate::app::demo::fill(&store, 12, |_| {}).unwrap();
        store.put_setting("store_name", "Old Shop").unwrap();
        store
            .put_token(
                [7u8; 32],
                &crate::ports::TokenRecord {
                    id: uuid::Uuid::now_v7(),
                    name: "legacy".into(),
                    created_at: chrono::Utc::now(),
                    revoked: false,
                },
            )
            .unwrap();
        let msg = crate::domain::outbox::OutboxMessage::new(
            uuid::Uuid::now_v7(),
            Some(1001),
            "order_placed",
            crate::domain::outbox::Channel::Email,
            "old@example.com",
            "Thanks".into(),
            "Hello".into(),
            None,
            chrono::Utc::now(),
        );
        store.outbox_add(&[msg]).unwrap();
        let orders: Vec<Order> = (1001..1013).map(|n| store.get_order(n).unwrap()).collect();
        std::fs::write(
            FIXTURE_ORDERS,
            serde_json::to_string_pretty(&orders).unwrap(),
        )
        .unwrap();
        downgrade_to_v0(&store);
        store.flush().unwrap();
    }

    fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let target = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy_dir(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), target).unwrap();
            }
        }
    }

    #[test]
    fn a_data_dir_written_in_format_0_is_read_by_this_version() {
        use crate::ports::ListQuery;
        let tmp = tempfile::tempdir().unwrap();
        // Work on a copy: opening a store writes to it.
        copy_dir(std::path::Path::new(FIXTURE), tmp.path());
        let store = crate::store::sled::SledStore::open(tmp.path()).unwrap();
        let raw = store
            .trees()
            .orders
            .get(1001u64.to_be_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(raw[0], 0, "the fixture holds format-0 records");
        let expected: Vec<Order> =
            serde_json::from_str(&std::fs::read_to_string(FIXTURE_ORDERS).unwrap()).unwrap();
        assert_eq!(expected.len(), 12);
        for e in &expected {
            let got = store.get_order(e.number).unwrap();
            assert_eq!(got.version, (e.timeline.len() as u64).max(1));
            assert_eq!(
                &Order {
                    version: e.version,
                    ..got
                },
                e
            );
        }
        let page = store
            .list_orders(&ListQuery {
                limit: 100,
                ..ListQuery::default()
            })
            .unwrap();
        assert_eq!(page.orders.len(), 12);
        let name = expected[0].customer.name.split_whitespace().next().unwrap();
        let found = store
            .list_orders(&ListQuery {
                q: name.to_string(),
                ..ListQuery::default()
            })
            .unwrap();
        assert!(found.orders.iter().any(|s| s.number == 1001));
        assert_eq!(
            store.setting("store_name").unwrap().as_deref(),
            Some("Old Shop")
        );
        assert_eq!(store.tokens().unwrap().len(), 1);
        assert_eq!(store.outbox_list(Some(1001), None, 10).unwrap().len(), 1);
        let report = crate::store::sled::check::check(&store).unwrap();
        assert!(report.is_clean(), "{report}");
        // A change writes the order back in the current format.
        let mut changed = store.get_order(1001).unwrap();
        changed.version += 1;
        store
            .update_order(changed.version - 1, &changed, &[])
            .unwrap();
        let raw = store
            .trees()
            .orders
            .get(1001u64.to_be_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(raw[0], SCHEMA_VERSION);
        assert_eq!(store.get_order(1001).unwrap(), changed);
        assert!(crate::store::sled::check::check(&store).unwrap().is_clean());
    }
}
