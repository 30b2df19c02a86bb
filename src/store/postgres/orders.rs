//! Orders on PostgreSQL: intake with its customer, idempotency key and counters in one
//! transaction, the version-checked update, keyset-paged lists and search.

use super::{
    counter_names, counter_slot, customer_search, db, like_escape, status_code, Columns, PgStore,
};
use crate::domain::outbox::OutboxMessage;
use crate::domain::{CustomerId, FulfillmentStatus, Order, PaymentStatus};
use crate::ports::{
    Conflict, Counts, Created, CustomerRecord, ListPage, ListQuery, NewOrder, OrderRepo, Refusal,
    SortField, StoreError, Summary,
};
use crate::store::codec::{decode, encode};
use crate::store::keys;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use uuid::Uuid;

/// Adds `delta` to each counter, in name order (so concurrent writers never deadlock).
async fn bump(conn: &mut PgConnection, names: &[String], delta: i64) -> Result<(), StoreError> {
    let mut names: Vec<&String> = names.iter().collect();
    names.sort();
    for name in names {
        sqlx::query(
            "INSERT INTO order_counts (name, slot, n) VALUES ($1, $2, $3) \
             ON CONFLICT (name, slot) DO UPDATE SET n = order_counts.n + EXCLUDED.n",
        )
        .bind(name)
        .bind(counter_slot())
        .bind(delta)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

pub(super) use keys::contact_key;

pub(super) fn customer_of(row: &PgRow) -> Result<CustomerRecord, StoreError> {
    Ok(CustomerRecord {
        id: CustomerId(row.try_get("id").map_err(db)?),
        name: row.try_get("name").map_err(db)?,
        email: row.try_get("email").map_err(db)?,
        phone: row.try_get("phone").map_err(db)?,
        created_at: row.try_get("created_at").map_err(db)?,
        orders_count: row.try_get::<i64, _>("orders_count").map_err(db)? as u64,
    })
}

/// Links an order to the customer with its contact (creating them as `new_id` when new),
/// counts one more order for them and returns their id. The latest checkout's contact
/// details are the freshest.
async fn resolve_contact(conn: &mut PgConnection, o: &Order) -> Result<CustomerId, StoreError> {
    let c = &o.customer;
    let key = contact_key(&c.email, &c.phone);
    // Claim the key for a new customer; a concurrent intake of the same contact waits here.
    let claimed = sqlx::query(
        "INSERT INTO customer_keys (key, customer_id) VALUES ($1, $2) \
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(&key)
    .bind(c.id.0)
    .execute(&mut *conn)
    .await
    .map_err(db)?
    .rows_affected()
        == 1;
    let mut rec = if claimed {
        CustomerRecord {
            id: c.id,
            name: c.name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            created_at: o.created_at,
            orders_count: 0,
        }
    } else {
        let id: Uuid = sqlx::query_scalar("SELECT customer_id FROM customer_keys WHERE key = $1")
            .bind(&key)
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
        let row = sqlx::query("SELECT * FROM customers WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?
            .ok_or_else(|| StoreError::Corrupt(format!("customer key {key} names no customer")))?;
        customer_of(&row)?
    };
    rec.name = c.name.clone();
    if !c.phone.is_empty() {
        rec.phone = c.phone.clone();
    }
    if !c.email.is_empty() {
        rec.email = c.email.clone();
    }
    rec.orders_count += 1;
    sqlx::query(
        "INSERT INTO customers (id, name, email, phone, created_at, orders_count, search) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, \
         phone = EXCLUDED.phone, orders_count = EXCLUDED.orders_count, search = EXCLUDED.search",
    )
    .bind(rec.id.0)
    .bind(&rec.name)
    .bind(&rec.email)
    .bind(&rec.phone)
    .bind(rec.created_at)
    .bind(rec.orders_count as i64)
    .bind(customer_search(&rec))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    // Both of their contacts now find them.
    let mut others = Vec::new();
    if !rec.email.is_empty() {
        others.push(format!("e:{}", rec.email));
    }
    let d = keys::digits(&rec.phone);
    if !d.is_empty() {
        others.push(format!("p:{d}"));
    }
    for k in others {
        sqlx::query(
            "INSERT INTO customer_keys (key, customer_id) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET customer_id = EXCLUDED.customer_id",
        )
        .bind(&k)
        .bind(rec.id.0)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(rec.id)
}

/// Adds one to (or takes one from) a customer's order count.
async fn adjust_customer(
    conn: &mut PgConnection,
    id: CustomerId,
    delta: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE customers SET orders_count = GREATEST(orders_count + $2, 0) WHERE id = $1")
        .bind(id.0)
        .bind(delta)
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

/// Writes a new order row (its customer already linked) and counts it.
async fn insert_row(conn: &mut PgConnection, o: &Order) -> Result<(), StoreError> {
    write_row(conn, o).await?;
    bump(conn, &counter_names(o), 1).await?;
    if !o.test {
        mark_real_orders(conn).await?;
    }
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

/// Adds to each counter (a whole batch's changes at once: see [`bump`]).
pub(super) async fn bump_each(
    conn: &mut PgConnection,
    deltas: &std::collections::BTreeMap<String, i64>,
) -> Result<(), StoreError> {
    for (name, delta) in deltas {
        bump(conn, std::slice::from_ref(name), *delta).await?;
    }
    Ok(())
}

/// Writes a new order row, uncounted.
pub(super) async fn write_row(conn: &mut PgConnection, o: &Order) -> Result<(), StoreError> {
    let c = Columns::of(o)?;
    let q = sqlx::query(
        "INSERT INTO orders (number, id, version, created_at, customer_id, customer_name, \
         customer_email, customer_sort, total, currency, payment_status, fulfillment_status, \
         test, items_count, search, body, tags) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind(o.number as i64)
    .bind(o.id.0)
    .bind(o.version as i64)
    .bind(o.created_at)
    .bind(o.customer.id.0);
    bind_columns(q, &c).execute(&mut *conn).await.map_err(db)?;
    Ok(())
}

pub(super) async fn enqueue(
    conn: &mut PgConnection,
    msgs: &[OutboxMessage],
) -> Result<(), StoreError> {
    for m in msgs {
        sqlx::query(
            "INSERT INTO outbox (id, order_number, status, next_attempt_at, body, endpoint) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (id) DO UPDATE SET order_number = EXCLUDED.order_number, \
             status = EXCLUDED.status, next_attempt_at = EXCLUDED.next_attempt_at, \
             leased_until = NULL, body = EXCLUDED.body, endpoint = EXCLUDED.endpoint",
        )
        .bind(m.id)
        .bind(m.order_number.map(|n| n as i64))
        .bind(status_code(m.status))
        .bind(m.next_attempt_at)
        .bind(encode(m)?)
        .bind(m.endpoint)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
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

fn summary_of(row: &PgRow) -> Result<Summary, StoreError> {
    let code =
        |c: &str| -> Result<u8, StoreError> { Ok(row.try_get::<i16, _>(c).map_err(db)? as u8) };
    Ok(Summary {
        id: crate::domain::OrderId(row.try_get("id").map_err(db)?),
        number: row.try_get::<i64, _>("number").map_err(db)? as u64,
        created_at: row.try_get("created_at").map_err(db)?,
        customer_name: row.try_get("customer_name").map_err(db)?,
        customer_email: row.try_get("customer_email").map_err(db)?,
        total: row.try_get("total").map_err(db)?,
        currency: row.try_get("currency").map_err(db)?,
        payment_status: PaymentStatus::from_code(code("payment_status")?)
            .ok_or_else(|| StoreError::Corrupt("payment status".into()))?,
        fulfillment_status: FulfillmentStatus::from_code(code("fulfillment_status")?)
            .ok_or_else(|| StoreError::Corrupt("fulfillment status".into()))?,
        test: row.try_get("test").map_err(db)?,
        items_count: row.try_get::<i32, _>("items_count").map_err(db)? as u32,
        tags: row.try_get("tags").map_err(db)?,
    })
}

/// Where a list page starts: the sort value and number of the previous page's last row.
#[derive(serde::Serialize, serde::Deserialize)]
struct Cursor {
    sort: String,
    value: String,
    number: u64,
}

fn bad_cursor() -> StoreError {
    StoreError::Refused(Refusal::BadCursor(
        "The cursor does not belong to this list".into(),
    ))
}

/// The sort value of a list row, as its cursor keeps it.
fn sort_value(sort: SortField, s: &Summary) -> String {
    match sort {
        SortField::Created => s.created_at.timestamp_micros().to_string(),
        SortField::Number => String::new(),
        SortField::Total => s.total.to_string(),
        SortField::PaymentStatus => s.payment_status.code().to_string(),
        SortField::FulfillmentStatus => s.fulfillment_status.code().to_string(),
        SortField::Customer => super::customer_sort(&s.customer_name),
    }
}

fn sort_column(sort: SortField) -> &'static str {
    match sort {
        SortField::Created => "created_at",
        SortField::Number => "number",
        SortField::Total => "total",
        SortField::PaymentStatus => "payment_status",
        SortField::FulfillmentStatus => "fulfillment_status",
        SortField::Customer => "customer_sort",
    }
}

/// Binds a cursor's sort value with the column's type.
fn push_value(
    b: &mut QueryBuilder<Postgres>,
    sort: SortField,
    value: &str,
) -> Result<(), StoreError> {
    match sort {
        SortField::Created => {
            let micros: i64 = value.parse().map_err(|_| bad_cursor())?;
            let t = DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(bad_cursor)?;
            b.push_bind(t);
        }
        SortField::Number => {
            b.push_bind(0i64);
        }
        SortField::Total => {
            let d: Decimal = value.parse().map_err(|_| bad_cursor())?;
            b.push_bind(d);
        }
        SortField::PaymentStatus | SortField::FulfillmentStatus => {
            let c: i16 = value.parse().map_err(|_| bad_cursor())?;
            b.push_bind(c);
        }
        SortField::Customer => {
            b.push_bind(value.to_string());
        }
    }
    Ok(())
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
                order.customer.id = resolve_contact(&mut tx, &order).await?;
                insert_row(&mut tx, &order).await?;
                enqueue(&mut tx, &new.outbox).await?;
                Ok((Ok(order), tx))
            })
            .await?;
        match outcome {
            Ok(order) => Ok(Created::New(order)),
            Err(number) => Ok(Created::Replayed(self.get_order(number).await?)),
        }
    }

    async fn import_orders(&self, orders: &[Order]) -> Result<Vec<Order>, StoreError> {
        self.retry(|mut tx| async move {
            let mut out = Vec::with_capacity(orders.len());
            for o in orders {
                let mut order = o.clone();
                order.customer.id = resolve_contact(&mut tx, &order).await?;
                insert_row(&mut tx, &order).await?;
                out.push(order);
            }
            Ok((out, tx))
        })
        .await
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
        self.retry(|mut tx| async move {
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
            let (before, after) = (counter_names(&old), counter_names(order));
            let gone: Vec<String> = before
                .iter()
                .filter(|n| !after.contains(n))
                .cloned()
                .collect();
            let came: Vec<String> = after
                .iter()
                .filter(|n| !before.contains(n))
                .cloned()
                .collect();
            bump(&mut tx, &gone, -1).await?;
            bump(&mut tx, &came, 1).await?;
            if old.customer.id != order.customer.id {
                adjust_customer(&mut tx, old.customer.id, -1).await?;
                adjust_customer(&mut tx, order.customer.id, 1).await?;
            }
            enqueue(&mut tx, outbox).await?;
            Ok(((), tx))
        })
        .await
    }

    async fn list_orders(&self, q: &ListQuery) -> Result<ListPage, StoreError> {
        let sort = q.sort;
        let col = sort_column(sort);
        let cursor = match &q.cursor {
            Some(c) => {
                let raw = c
                    .strip_prefix('p')
                    .and_then(|h| hex::decode(h).ok())
                    .ok_or_else(bad_cursor)?;
                let cur: Cursor = serde_json::from_slice(&raw).map_err(|_| bad_cursor())?;
                if cur.sort != sort.as_str() {
                    return Err(bad_cursor());
                }
                Some(cur)
            }
            None => None,
        };
        let mut b: QueryBuilder<Postgres> = QueryBuilder::new(
            "SELECT id, number, created_at, customer_name, customer_email, total, currency, \
             payment_status, fulfillment_status, test, items_count, tags FROM orders WHERE true",
        );
        if let Some(p) = q.payment {
            b.push(" AND payment_status = ")
                .push_bind(i16::from(p.code()));
        }
        if let Some(f) = q.fulfillment {
            b.push(" AND fulfillment_status = ")
                .push_bind(i16::from(f.code()));
        }
        if let Some(t) = q.test {
            b.push(" AND test = ").push_bind(t);
        }
        if let Some(from) = q.created_from {
            b.push(" AND created_at >= ").push_bind(from);
        }
        if let Some(to) = q.created_before {
            b.push(" AND created_at < ").push_bind(to);
        }
        if !q.tags.is_empty() {
            b.push(" AND tags @> ").push_bind(q.tags.clone());
        }
        for w in keys::query_terms(&q.q) {
            b.push(" AND search LIKE ")
                .push_bind(format!("% {}%", like_escape(&w)));
        }
        let op = if q.desc { "<" } else { ">" };
        if let Some(cur) = &cursor {
            if sort == SortField::Number {
                b.push(format!(" AND number {op} "))
                    .push_bind(cur.number as i64);
            } else {
                b.push(format!(" AND ({col}, number) {op} ("));
                push_value(&mut b, sort, &cur.value)?;
                b.push(", ").push_bind(cur.number as i64).push(")");
            }
        }
        let dir = if q.desc { "DESC" } else { "ASC" };
        if sort == SortField::Number {
            b.push(format!(" ORDER BY number {dir}"));
        } else {
            b.push(format!(" ORDER BY {col} {dir}, number {dir}"));
        }
        b.push(" LIMIT ").push_bind((q.limit + 1) as i64);
        let rows = b.build().fetch_all(&self.pool).await.map_err(db)?;
        let mut orders = rows.iter().map(summary_of).collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if orders.len() > q.limit {
            orders.truncate(q.limit);
            let last = orders.last().expect("a full page");
            let cur = Cursor {
                sort: sort.as_str().to_string(),
                value: sort_value(sort, last),
                number: last.number,
            };
            Some(format!(
                "p{}",
                hex::encode(serde_json::to_vec(&cur).map_err(StoreError::unavailable)?)
            ))
        } else {
            None
        };
        Ok(ListPage {
            orders,
            next_cursor,
        })
    }

    async fn orders_with_term(&self, term: &str, limit: usize) -> Result<Vec<u64>, StoreError> {
        let t: String = term
            .to_lowercase()
            .chars()
            .take(keys::MAX_TERM_LEN)
            .collect();
        let numbers: Vec<i64> = sqlx::query_scalar(
            "SELECT number FROM orders WHERE search LIKE $1 ORDER BY number DESC LIMIT $2",
        )
        .bind(format!("% {} %", like_escape(&t)))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(numbers.into_iter().map(|n| n as u64).collect())
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT name, sum(n)::bigint FROM order_counts GROUP BY name")
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        let mut c = Counts::default();
        for p in PaymentStatus::ALL {
            c.payment.insert(*p, 0);
        }
        for f in FulfillmentStatus::ALL {
            c.fulfillment.insert(*f, 0);
        }
        for (name, n) in rows {
            let n = n.max(0) as u64;
            let code = |prefix: &str| -> Option<u8> { name.strip_prefix(prefix)?.parse().ok() };
            if name == "c:all" {
                c.all = n;
            } else if name == "c:test:1" {
                c.test = n;
            } else if name == "c:test:0" {
                c.real = n;
            } else if let Some(x) = code("c:ps:") {
                if let Some(p) = PaymentStatus::from_code(x) {
                    c.payment.insert(p, n);
                }
            } else if let Some(x) = code("c:fs:") {
                if let Some(f) = FulfillmentStatus::from_code(x) {
                    c.fulfillment.insert(f, n);
                }
            }
        }
        Ok(c)
    }
}
