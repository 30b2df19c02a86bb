//! Orders on PostgreSQL: intake with its customer, idempotency key, counters and search terms
//! in one transaction, and the version-checked update. Lists are read in `lists.rs`.

use super::{counter_names, counter_slot, db, status_code, Columns, PgStore};
use super::{customers, retryable, search};
use crate::domain::outbox::OutboxMessage;
use crate::domain::Order;
use crate::ports::{
    Conflict, Counts, Created, CustomerRecord, ListPage, ListQuery, NewOrder, OrderRepo, StoreError,
};
use crate::store::codec::{decode, encode};
use crate::store::keys;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, Row};
use uuid::Uuid;

/// Adds to each counter in one statement, in name order (so concurrent writers never deadlock),
/// on one slot.
pub(super) async fn bump(
    conn: &mut PgConnection,
    deltas: &std::collections::BTreeMap<String, i64>,
) -> Result<(), StoreError> {
    if deltas.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = deltas.keys().map(String::as_str).collect();
    let ns: Vec<i64> = deltas.values().copied().collect();
    sqlx::query(
        "INSERT INTO order_counts (name, slot, n) \
         SELECT name, $2, n FROM unnest($1::text[], $3::int8[]) AS t(name, n) \
         ON CONFLICT (name, slot) DO UPDATE SET n = order_counts.n + EXCLUDED.n",
    )
    .bind(&names)
    .bind(counter_slot())
    .bind(&ns)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Binds an order's list columns, from `customer_name` to `tags`, to the next twelve
/// placeholders (the same order in the INSERT and the UPDATE).
fn bind_columns<'q>(
    q: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    c: &'q Columns,
) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    let s = &c.summary;
    q.bind(&s.customer_name)
        .bind(&s.customer_email)
        .bind(&c.customer_sort)
        .bind(s.total)
        .bind(&s.currency)
        .bind(i16::from(s.payment_status.code()))
        .bind(i16::from(s.fulfillment_status.code()))
        .bind(s.test)
        .bind(s.items_count as i32)
        .bind(&c.search)
        .bind(&c.body)
        .bind(&s.tags)
}

/// Writes a new order row (its customer already linked), counts it and, for a real order,
/// notes that real orders exist: one statement.
async fn insert_row(conn: &mut PgConnection, o: &Order) -> Result<(), StoreError> {
    let c = Columns::of(o)?;
    let mut names = counter_names(o);
    names.sort();
    let q = sqlx::query(
        "WITH o AS (INSERT INTO orders (number, id, version, created_at, customer_id, \
         customer_name, customer_email, customer_sort, total, currency, payment_status, \
         fulfillment_status, test, items_count, search, body, tags) \
         VALUES ($1, $2, $3, $4, $5, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)), \
         c AS (INSERT INTO order_counts (name, slot, n) \
         SELECT name, $6, 1 FROM unnest($7::text[]) AS name \
         ON CONFLICT (name, slot) DO UPDATE SET n = order_counts.n + 1), \
         r AS (INSERT INTO real_orders_exist (flag) SELECT true WHERE NOT $15 \
         ON CONFLICT DO NOTHING), \
         t AS (INSERT INTO order_terms (term, created_at, number) \
         SELECT term, $4, $1 FROM unnest($20::text[]) AS term) \
         SELECT 1",
    )
    .bind(o.number as i64)
    .bind(o.id.0)
    .bind(o.version as i64)
    .bind(o.created_at)
    .bind(o.customer.id.0)
    .bind(counter_slot())
    .bind(names);
    bind_columns(q, &c)
        .bind(c.terms.iter().collect::<Vec<_>>())
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// Notes that a real order exists (see [`NewOrder::only_before_real_orders`]).
pub(super) async fn mark_real_orders(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO real_orders_exist (flag) VALUES (true) ON CONFLICT DO NOTHING")
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// Writes a new order row and its search terms, uncounted.
pub(super) async fn write_row(conn: &mut PgConnection, o: &Order) -> Result<(), StoreError> {
    let c = Columns::of(o)?;
    let q = sqlx::query(
        "WITH o AS (INSERT INTO orders (number, id, version, created_at, customer_id, \
         customer_name, customer_email, customer_sort, total, currency, payment_status, \
         fulfillment_status, test, items_count, search, body, tags) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)) \
         INSERT INTO order_terms (term, created_at, number) \
         SELECT term, $4, $1 FROM unnest($18::text[]) AS term",
    )
    .bind(o.number as i64)
    .bind(o.id.0)
    .bind(o.version as i64)
    .bind(o.created_at)
    .bind(o.customer.id.0);
    bind_columns(q, &c)
        .bind(c.terms.iter().collect::<Vec<_>>())
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// Outbox messages as the columns of `unnest(…)`.
#[derive(Default)]
pub(super) struct Outgoing {
    pub ids: Vec<Uuid>,
    pub numbers: Vec<Option<i64>>,
    pub statuses: Vec<i16>,
    pub due: Vec<DateTime<Utc>>,
    pub bodies: Vec<Vec<u8>>,
    pub endpoints: Vec<Option<Uuid>>,
}

impl Outgoing {
    pub fn of(msgs: &[OutboxMessage]) -> Result<Self, StoreError> {
        Ok(Outgoing {
            ids: msgs.iter().map(|m| m.id).collect(),
            numbers: msgs
                .iter()
                .map(|m| m.order_number.map(|n| n as i64))
                .collect(),
            statuses: msgs.iter().map(|m| status_code(m.status)).collect(),
            due: msgs.iter().map(|m| m.next_attempt_at).collect(),
            bodies: msgs.iter().map(encode).collect::<Result<_, _>>()?,
            endpoints: msgs.iter().map(|m| m.endpoint).collect(),
        })
    }
}

/// Writes outbox messages (new, or a new state of one): one statement.
pub(super) async fn enqueue(
    conn: &mut PgConnection,
    msgs: &[OutboxMessage],
) -> Result<(), StoreError> {
    if msgs.is_empty() {
        return Ok(());
    }
    let out = Outgoing::of(msgs)?;
    sqlx::query(
        "INSERT INTO outbox (id, order_number, status, next_attempt_at, body, endpoint) \
         SELECT * FROM unnest($1::uuid[], $2::int8[], $3::int2[], $4::timestamptz[], \
         $5::bytea[], $6::uuid[]) \
         ON CONFLICT (id) DO UPDATE SET order_number = EXCLUDED.order_number, \
         status = EXCLUDED.status, next_attempt_at = EXCLUDED.next_attempt_at, \
         leased_until = NULL, body = EXCLUDED.body, endpoint = EXCLUDED.endpoint",
    )
    .bind(out.ids)
    .bind(out.numbers)
    .bind(out.statuses)
    .bind(out.due)
    .bind(out.bodies)
    .bind(out.endpoints)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

async fn load_order(conn: &mut PgConnection, number: u64) -> Result<Order, StoreError> {
    let body: Option<Vec<u8>> = sqlx::query_scalar("SELECT body FROM orders WHERE number = $1")
        .bind(number as i64)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    match body {
        Some(b) => decode("order", &b),
        None => Err(StoreError::NotFound(format!("Order {number}"))),
    }
}

#[async_trait]
impl OrderRepo for PgStore {
    async fn reserve_numbers(&self, count: u64) -> Result<u64, StoreError> {
        let count = count.max(1) as i64;
        loop {
            let (first, last): (i64, i64) = sqlx::query_as(
                "SELECT min(v), max(v) FROM \
                 (SELECT nextval('order_numbers') AS v FROM generate_series(1, $1)) s",
            )
            .bind(count)
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
            // Another instance's numbers fell in between: these become gaps; take a fresh run.
            if last - first + 1 == count {
                return Ok(first as u64);
            }
        }
    }

    async fn number_and_customer(
        &self,
        email: &str,
        phone: &str,
    ) -> Result<(u64, Option<CustomerRecord>), StoreError> {
        let row = sqlx::query(
            "SELECT nextval('order_numbers') AS number, c.* FROM (SELECT 1) AS one \
             LEFT JOIN (customer_keys k JOIN customers_counted c ON c.id = k.customer_id) \
             ON k.key = $1",
        )
        .bind(customers::contact_key(email, phone))
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        let number: i64 = row.try_get("number").map_err(db)?;
        let found: Option<Uuid> = row.try_get("id").map_err(db)?;
        let customer = match found {
            Some(_) => Some(customers::customer_of(&row)?),
            None => None,
        };
        Ok((number as u64, customer))
    }

    async fn idempotency_key(&self, key: &str) -> Result<Option<(u64, [u8; 32])>, StoreError> {
        let row: Option<(Vec<u8>, i64)> =
            sqlx::query_as("SELECT hash, number FROM idempotency_keys WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        match row {
            Some((hash, n)) => {
                let hash: [u8; 32] = hash
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("idempotency hash".into()))?;
                Ok(Some((n as u64, hash)))
            }
            None => Ok(None),
        }
    }

    async fn insert_order(&self, new: &NewOrder) -> Result<Created, StoreError> {
        // Most intakes are written in one statement with the others of the moment; the rest,
        // and any that statement leaves unwritten, take the transaction below.
        match self.intakes.write(&self.pool, new).await {
            Ok(Some(order)) => {
                self.counts_cache.invalidate();
                return Ok(Created::New(order));
            }
            Ok(None) => {}
            Err(e) if retryable(&e) => {}
            Err(e) => return Err(e),
        }
        let outcome = self
            .retry(|mut tx| async move {
                if let Some((key, hash)) = &new.idempotency {
                    // Claimed in this transaction; a concurrent claim of the same key waits
                    // for this one to end.
                    let claimed = sqlx::query(
                        "INSERT INTO idempotency_keys (key, hash, number) VALUES ($1, $2, $3) \
                         ON CONFLICT (key) DO NOTHING",
                    )
                    .bind(key)
                    .bind(hash.as_slice())
                    .bind(new.order.number as i64)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?
                    .rows_affected()
                        == 1;
                    if !claimed {
                        let (prev, number): (Vec<u8>, i64) = sqlx::query_as(
                            "SELECT hash, number FROM idempotency_keys WHERE key = $1",
                        )
                        .bind(key)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db)?;
                        if prev.as_slice() != hash.as_slice() {
                            return Err(StoreError::Conflict(Conflict::IdempotencyKey));
                        }
                        return Ok((Err(number as u64), tx));
                    }
                }
                if new.only_before_real_orders {
                    // Real intakes insert into this table: they wait while this test order is
                    // written, so none slips in between the look and the write.
                    sqlx::query("LOCK TABLE real_orders_exist IN SHARE ROW EXCLUSIVE MODE")
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    let real: bool =
                        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM real_orders_exist)")
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(db)?;
                    if real {
                        return Err(StoreError::Conflict(Conflict::RealOrdersExist));
                    }
                }
                let mut order = new.order.clone();
                let contact = customers::find_or_create(&mut tx, &order).await?;
                order.customer.id = contact.id();
                insert_row(&mut tx, &order).await?;
                enqueue(&mut tx, &new.outbox).await?;
                // Last, so that intakes from one customer queue on their row only briefly.
                customers::count_order(&mut tx, &contact, &order).await?;
                Ok((Ok(order), tx))
            })
            .await?;
        self.counts_cache.invalidate();
        match outcome {
            Ok(order) => Ok(Created::New(order)),
            Err(number) => Ok(Created::Replayed(self.get_order(number).await?)),
        }
    }

    async fn import_orders(&self, orders: &[Order]) -> Result<Vec<Order>, StoreError> {
        let stored = self
            .retry(|mut tx| async move {
                let mut out = Vec::with_capacity(orders.len());
                // The batch's counters change once, at the end.
                let mut counts = std::collections::BTreeMap::<String, i64>::new();
                for o in orders {
                    let mut order = o.clone();
                    let contact = customers::find_or_create(&mut tx, &order).await?;
                    order.customer.id = contact.id();
                    write_row(&mut tx, &order).await?;
                    customers::count_order(&mut tx, &contact, &order).await?;
                    for name in counter_names(&order) {
                        *counts.entry(name).or_default() += 1;
                    }
                    out.push(order);
                }
                bump(&mut tx, &counts).await?;
                if out.iter().any(|o| !o.test) {
                    mark_real_orders(&mut tx).await?;
                }
                Ok((out, tx))
            })
            .await;
        self.counts_cache.invalidate();
        stored
    }

    async fn get_order(&self, number: u64) -> Result<Order, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        load_order(&mut conn, number).await
    }

    async fn update_order(
        &self,
        expected_version: u64,
        order: &Order,
        outbox: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        let updated = self
            .retry(|mut tx| async move {
                let number = order.number;
                let body: Option<Vec<u8>> =
                    sqlx::query_scalar("SELECT body FROM orders WHERE number = $1 FOR UPDATE")
                        .bind(number as i64)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db)?;
                let old: Order = match body {
                    Some(b) => decode("order", &b)?,
                    None => return Err(StoreError::NotFound(format!("Order {number}"))),
                };
                if old.version != expected_version {
                    return Err(StoreError::Conflict(Conflict::Version { number }));
                }
                let c = Columns::of(order)?;
                let q = sqlx::query(
                    "UPDATE orders SET version = $2, customer_id = $3, customer_name = $4, \
                 customer_email = $5, customer_sort = $6, total = $7, currency = $8, \
                 payment_status = $9, fulfillment_status = $10, test = $11, items_count = $12, \
                 search = $13, body = $14, tags = $15 WHERE number = $1",
                )
                .bind(number as i64)
                .bind(order.version as i64)
                .bind(order.customer.id.0);
                bind_columns(q, &c).execute(&mut *tx).await.map_err(db)?;
                let (was, is) = (keys::search_words(&old), &c.terms);
                if old.created_at == order.created_at {
                    let added: Vec<&String> = is.difference(&was).collect();
                    let removed: Vec<&String> = was.difference(is).collect();
                    search::change_terms(&mut tx, number, order.created_at, &added, &removed)
                        .await?;
                } else {
                    search::change_terms(
                        &mut tx,
                        number,
                        old.created_at,
                        &[],
                        &was.iter().collect::<Vec<_>>(),
                    )
                    .await?;
                    search::change_terms(
                        &mut tx,
                        number,
                        order.created_at,
                        &is.iter().collect::<Vec<_>>(),
                        &[],
                    )
                    .await?;
                }
                let mut deltas = std::collections::BTreeMap::<String, i64>::new();
                for name in counter_names(&old) {
                    *deltas.entry(name).or_default() -= 1;
                }
                for name in counter_names(order) {
                    *deltas.entry(name).or_default() += 1;
                }
                deltas.retain(|_, d| *d != 0);
                bump(&mut tx, &deltas).await?;
                if old.customer.id != order.customer.id {
                    customers::adjust(&mut tx, old.customer.id, -1).await?;
                    customers::adjust(&mut tx, order.customer.id, 1).await?;
                }
                enqueue(&mut tx, outbox).await?;
                Ok(((), tx))
            })
            .await;
        self.counts_cache.invalidate();
        updated
    }

    async fn list_orders(&self, q: &ListQuery) -> Result<ListPage, StoreError> {
        self.list(q).await
    }

    async fn numbers_matching(
        &self,
        q: &ListQuery,
        cap: usize,
    ) -> Result<Option<Vec<u64>>, StoreError> {
        self.matching(q, cap).await
    }

    async fn orders_with_term(&self, term: &str, limit: usize) -> Result<Vec<u64>, StoreError> {
        let t: String = term
            .to_lowercase()
            .chars()
            .take(keys::MAX_TERM_LEN)
            .collect();
        let numbers: Vec<i64> = sqlx::query_scalar(
            "SELECT number FROM order_terms WHERE term = $1 ORDER BY number DESC LIMIT $2",
        )
        .bind(&t)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(numbers.into_iter().map(|n| n as u64).collect())
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        self.cached_counts().await
    }
}
