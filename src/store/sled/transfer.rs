//! Whole-store transfer on the embedded store (`orderdeck copy`): each part is one tree read in
//! key order; imported orders and customers go through the same transaction code as live
//! writes, so their list rows, indexes, search terms and counters are built as usual.

use super::{lift, SledStore};
use crate::domain::CustomerId;
use crate::ports::{ExportPage, Part, Record, StoreError, Transfer};
use crate::store::codec::{decode, encode};
use async_trait::async_trait;
use sled::Tree;
use std::ops::Bound;
use std::sync::atomic::Ordering;

impl SledStore {
    fn part_tree(&self, part: Part) -> &Tree {
        match part {
            Part::Settings => &self.settings,
            Part::Members => &self.members,
            Part::Sessions => &self.sessions,
            Part::Tokens => &self.tokens,
            Part::Customers => &self.customers,
            Part::CustomerKeys => &self.customer_keys,
            Part::Orders => &self.orders,
            Part::IdempotencyKeys => &self.idempotency,
            Part::Outbox => &self.outbox,
        }
    }
}

fn hash_of(what: &str, bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what}: a hash takes 32 bytes")))
}

fn text(what: &str, bytes: &[u8]) -> Result<String, StoreError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| StoreError::Corrupt(format!("{what}: not text")))
}

/// Decodes one stored entry of a part.
fn record(part: Part, k: &[u8], v: &[u8]) -> Result<Record, StoreError> {
    Ok(match part {
        Part::Settings => Record::Setting {
            key: text("setting key", k)?,
            value: text("setting", v)?,
        },
        Part::Members => Record::Member(decode("member", v)?),
        Part::Sessions => Record::Session {
            key: hash_of("session", k)?,
            session: decode("session", v)?,
        },
        Part::Tokens => Record::Token {
            hash: hash_of("token", k)?,
            record: decode("token", v)?,
        },
        Part::Customers => Record::Customer(decode("customer", v)?),
        Part::CustomerKeys => Record::CustomerKey {
            key: text("customer key", k)?,
            customer: CustomerId(
                uuid::Uuid::from_slice(v)
                    .map_err(|e| StoreError::Corrupt(format!("customer key: {e}")))?,
            ),
        },
        Part::Orders => Record::Order(Box::new(decode("order", v)?)),
        Part::IdempotencyKeys => {
            let (hash, number): (Vec<u8>, u64) = decode("idempotency", v)?;
            Record::IdempotencyKey {
                key: text("idempotency key", k)?,
                hash: hash_of("idempotency", &hash)?,
                number,
            }
        }
        Part::Outbox => Record::Outbox(decode("outbox message", v)?),
    })
}

#[async_trait]
impl Transfer for SledStore {
    async fn export_count(&self, part: Part) -> Result<u64, StoreError> {
        Ok(self.part_tree(part).len() as u64)
    }

    async fn export_page(
        &self,
        part: Part,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<ExportPage, StoreError> {
        let tree = self.part_tree(part);
        let from = match after {
            Some(k) => Bound::Excluded(k.to_vec()),
            None => Bound::Unbounded,
        };
        let mut page = ExportPage::default();
        let mut last = None;
        for item in tree
            .range::<Vec<u8>, _>((from, Bound::Unbounded))
            .take(limit)
        {
            let (k, v) = item?;
            page.records.push(record(part, &k, &v)?);
            last = Some(k.to_vec());
        }
        if page.records.len() == limit {
            page.next = last;
        }
        Ok(page)
    }

    async fn next_number(&self) -> Result<u64, StoreError> {
        Ok(self.numbers.load(Ordering::SeqCst))
    }

    async fn is_empty(&self) -> Result<bool, StoreError> {
        Ok([
            Part::Settings,
            Part::Members,
            Part::Tokens,
            Part::Customers,
            Part::Orders,
            Part::Outbox,
        ]
        .iter()
        .all(|p| self.part_tree(*p).is_empty()))
    }

    async fn import(&self, records: &[Record]) -> Result<(), StoreError> {
        for r in records {
            match r {
                Record::Setting { key, value } => self.put_setting(key, value)?,
                Record::Member(m) => self.insert_member(m)?,
                Record::Session { key, session } => self.put_session(*key, session)?,
                Record::Token { hash, record } => self.put_token(*hash, record)?,
                _ => {}
            }
        }
        self.order_tx(|tx| {
            for r in records {
                match r {
                    Record::Customer(c) => tx.put_customer(None, c)?,
                    Record::CustomerKey { key, customer } => {
                        tx.customer_keys
                            .insert(key.as_bytes(), customer.0.as_bytes().as_slice())?;
                    }
                    Record::Order(o) => {
                        tx.order_ids
                            .insert(o.id.0.as_bytes(), &o.number.to_be_bytes())?;
                        tx.raise_next_number(o.number + 1)?;
                        tx.write_order(None, o)?;
                    }
                    Record::IdempotencyKey { key, hash, number } => {
                        tx.idempotency
                            .insert(key.as_bytes(), lift(encode(&(hash.to_vec(), *number)))?)?;
                    }
                    Record::Outbox(m) => tx.enqueue(std::slice::from_ref(m))?,
                    _ => {}
                }
            }
            Ok(())
        })?;
        if let Some(top) = records.iter().rev().find_map(|r| match r {
            Record::Order(o) => Some(o.number + 1),
            _ => None,
        }) {
            self.numbers.fetch_max(top, Ordering::SeqCst);
        }
        self.durable().await
    }

    async fn set_next_number(&self, next: u64) -> Result<(), StoreError> {
        // Only ever raised: the stored number is never above the one in memory.
        let next = next.max(self.numbers.load(Ordering::SeqCst));
        self.order_tx(|tx| tx.raise_next_number(next))?;
        self.numbers.fetch_max(next, Ordering::SeqCst);
        self.durable().await
    }
}
