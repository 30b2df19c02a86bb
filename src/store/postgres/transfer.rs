//! Whole-store transfer on PostgreSQL (`orderdeck copy`): each part is one table read in key
//! order; an imported page is one transaction, its orders counted once per counter.

use super::customers::customer_of;
use super::orders::{bump, enqueue, mark_real_orders, write_row};
use super::{counter_names, customer_search, db, PgStore};
use crate::domain::CustomerId;
use crate::ports::{ExportPage, Part, Record, StoreError, Transfer};
use crate::store::codec::{decode, encode};
use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, Row};
use std::collections::BTreeMap;

/// A part's table, its key column, and how a key is kept in an export cursor.
fn table(part: Part) -> (&'static str, &'static str, KeyKind) {
    match part {
        Part::Settings => ("settings", "key", KeyKind::Text),
        Part::Members => ("members", "username", KeyKind::Text),
        Part::Sessions => ("sessions", "key", KeyKind::Bytes),
        Part::Tokens => ("tokens", "hash", KeyKind::Bytes),
        // A customer with their order count (their row's and their slots').
        Part::Customers => ("customers_counted", "id", KeyKind::Uuid),
        Part::CustomerKeys => ("customer_keys", "key", KeyKind::Text),
        Part::Orders => ("orders", "number", KeyKind::Number),
        Part::IdempotencyKeys => ("idempotency_keys", "key", KeyKind::Text),
        Part::Outbox => ("outbox", "id", KeyKind::Uuid),
    }
}

#[derive(Clone, Copy)]
enum KeyKind {
    Text,
    Bytes,
    Uuid,
    Number,
}

fn bad_cursor() -> StoreError {
    StoreError::Refused(crate::ports::Refusal::BadCursor(
        "not a cursor of this export".into(),
    ))
}

fn hash_of(what: &str, bytes: Vec<u8>) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what}: a hash takes 32 bytes")))
}

fn record(part: Part, row: &PgRow) -> Result<Record, StoreError> {
    let bytes = |c: &str| row.try_get::<Vec<u8>, _>(c).map_err(db);
    let string = |c: &str| row.try_get::<String, _>(c).map_err(db);
    Ok(match part {
        Part::Settings => Record::Setting {
            key: string("key")?,
            value: string("value")?,
        },
        Part::Members => Record::Member(decode("member", &bytes("body")?)?),
        Part::Sessions => Record::Session {
            key: hash_of("session", bytes("key")?)?,
            session: decode("session", &bytes("body")?)?,
        },
        Part::Tokens => Record::Token {
            hash: hash_of("token", bytes("hash")?)?,
            record: decode("token", &bytes("body")?)?,
        },
        Part::Customers => Record::Customer(customer_of(row)?),
        Part::CustomerKeys => Record::CustomerKey {
            key: string("key")?,
            customer: CustomerId(row.try_get("customer_id").map_err(db)?),
        },
        Part::Orders => Record::Order(Box::new(decode("order", &bytes("body")?)?)),
        Part::IdempotencyKeys => Record::IdempotencyKey {
            key: string("key")?,
            hash: hash_of("idempotency", bytes("hash")?)?,
            number: row.try_get::<i64, _>("number").map_err(db)? as u64,
        },
        Part::Outbox => Record::Outbox(decode("outbox message", &bytes("body")?)?),
    })
}

/// Writes one record as it was (orders uncounted: the caller counts a page at once).
async fn put(
    conn: &mut PgConnection,
    r: &Record,
    counts: &mut BTreeMap<String, i64>,
    real: &mut bool,
) -> Result<(), StoreError> {
    let q = match r {
        Record::Setting { key, value } => sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(key)
        .bind(value),
        Record::Member(m) => sqlx::query("INSERT INTO members (username, body) VALUES ($1, $2)")
            .bind(&m.username)
            .bind(encode(m)?),
        Record::Session { key, session } => sqlx::query(
            "INSERT INTO sessions (key, username, expires_at, body) VALUES ($1, $2, $3, $4)",
        )
        .bind(key.to_vec())
        .bind(&session.username)
        .bind(session.expires_at)
        .bind(encode(session)?),
        Record::Token { hash, record } => {
            sqlx::query("INSERT INTO tokens (hash, id, body) VALUES ($1, $2, $3)")
                .bind(hash.to_vec())
                .bind(record.id)
                .bind(encode(record)?)
        }
        Record::Customer(c) => sqlx::query(
            "INSERT INTO customers (id, name, email, phone, created_at, orders_count, search) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(c.id.0)
        .bind(&c.name)
        .bind(&c.email)
        .bind(&c.phone)
        .bind(c.created_at)
        .bind(c.orders_count as i64)
        .bind(customer_search(c)),
        Record::CustomerKey { key, customer } => sqlx::query(
            "INSERT INTO customer_keys (key, customer_id) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET customer_id = EXCLUDED.customer_id",
        )
        .bind(key)
        .bind(customer.0),
        Record::Order(o) => {
            write_row(conn, o).await?;
            for name in counter_names(o) {
                *counts.entry(name).or_default() += 1;
            }
            *real |= !o.test;
            return Ok(());
        }
        Record::IdempotencyKey { key, hash, number } => {
            sqlx::query("INSERT INTO idempotency_keys (key, hash, number) VALUES ($1, $2, $3)")
                .bind(key)
                .bind(hash.to_vec())
                .bind(*number as i64)
        }
        Record::Outbox(m) => return enqueue(conn, std::slice::from_ref(m)).await,
    };
    q.execute(&mut *conn).await.map_err(db)?;
    Ok(())
}

#[async_trait]
impl Transfer for PgStore {
    async fn export_count(&self, part: Part) -> Result<u64, StoreError> {
        let (t, _, _) = table(part);
        // Table and column names come from `table`, never from input.
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {t}")))
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(n as u64)
    }

    async fn export_page(
        &self,
        part: Part,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<ExportPage, StoreError> {
        let (t, key, kind) = table(part);
        let sql = match after {
            Some(_) => format!("SELECT * FROM {t} WHERE {key} > $1 ORDER BY {key} LIMIT $2"),
            None => format!("SELECT * FROM {t} ORDER BY {key} LIMIT $1"),
        };
        let mut q = sqlx::query(AssertSqlSafe(sql));
        if let Some(a) = after {
            q = match kind {
                KeyKind::Text => q.bind(String::from_utf8(a.to_vec()).map_err(|_| bad_cursor())?),
                KeyKind::Bytes => q.bind(a.to_vec()),
                KeyKind::Uuid => q.bind(uuid::Uuid::from_slice(a).map_err(|_| bad_cursor())?),
                KeyKind::Number => {
                    q.bind(i64::from_be_bytes(a.try_into().map_err(|_| bad_cursor())?))
                }
            };
        }
        let rows = q
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        let mut page = ExportPage::default();
        for row in &rows {
            page.records.push(record(part, row)?);
        }
        if rows.len() == limit {
            if let Some(row) = rows.last() {
                page.next = Some(match kind {
                    KeyKind::Text => row.try_get::<String, _>(key).map_err(db)?.into_bytes(),
                    KeyKind::Bytes => row.try_get::<Vec<u8>, _>(key).map_err(db)?,
                    KeyKind::Uuid => row
                        .try_get::<uuid::Uuid, _>(key)
                        .map_err(db)?
                        .as_bytes()
                        .to_vec(),
                    KeyKind::Number => row
                        .try_get::<i64, _>(key)
                        .map_err(db)?
                        .to_be_bytes()
                        .to_vec(),
                });
            }
        }
        Ok(page)
    }

    async fn next_number(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM order_numbers",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok(n as u64)
    }

    async fn is_empty(&self) -> Result<bool, StoreError> {
        let any: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM orders) OR EXISTS (SELECT 1 FROM customers) \
             OR EXISTS (SELECT 1 FROM members) OR EXISTS (SELECT 1 FROM tokens) \
             OR EXISTS (SELECT 1 FROM settings) OR EXISTS (SELECT 1 FROM outbox)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok(!any)
    }

    async fn import(&self, records: &[Record]) -> Result<(), StoreError> {
        let written = self
            .retry(|mut tx| async move {
                let mut counts = BTreeMap::new();
                let mut real = false;
                for r in records {
                    put(&mut tx, r, &mut counts, &mut real).await?;
                }
                bump(&mut tx, &counts).await?;
                if real {
                    mark_real_orders(&mut tx).await?;
                }
                Ok(((), tx))
            })
            .await;
        self.counts_cache.invalidate();
        written
    }

    async fn set_next_number(&self, next: u64) -> Result<(), StoreError> {
        let top: Option<i64> = sqlx::query_scalar("SELECT max(number) FROM orders")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        let next = (next as i64)
            .max(top.map_or(0, |t| t + 1))
            .max(self.next_number().await? as i64);
        sqlx::query("SELECT setval('order_numbers', $1, false)")
            .bind(next)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }
}
