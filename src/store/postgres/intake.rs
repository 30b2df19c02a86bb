//! Intakes written together: the intakes that reach the write at about the same time go to the
//! database in one statement, which checks each order's claims and writes the orders whose
//! claims hold. Under load one statement, one commit and one WAL flush serve many orders; alone,
//! an order is a batch of one.
//!
//! Each order's customer was read with its number (`number_and_customer`). The statement checks,
//! per order, the claims its write rests on — the `Idempotency-Key` is free, and the customer is
//! still as read (their row, and each of their keys naming them) or, for a new customer, their
//! contact key is free — and only for the orders whose claims all hold writes the order row,
//! its counters, search terms, outbox messages and the customer's count or new row. One
//! statement is atomic on its own, so no `BEGIN` and `COMMIT` are sent, except for a batch with
//! an order that claims both a key and a new customer: there the key's claim may go through and
//! the customer's not, so that batch runs in a transaction and is undone whole when it does.
//!
//! Whatever the statement leaves unwritten goes the transactional way in `orders.rs`, alone: a
//! key claimed before (a replay or a conflict), a customer made or changed by another intake in
//! between (two first orders of one new customer in one batch: the first makes them), a
//! customer whose contact details this order changes, a test order that must come before real
//! ones, and every order of a batch of several whose statement failed.
//!
//! A batch is written by a task of its own, so a request that goes away (its client hung up)
//! does not take the other orders of its batch with it.

use super::customers;
use super::orders::Outgoing;
use super::{counter_names, counter_slot, customer_search, db, Columns};
use crate::domain::Order;
use crate::ports::{NewOrder, StoreError};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::postgres::PgPool;
use sqlx::{Connection, PgConnection, Row};
use std::sync::{Arc, Mutex};
use tokio::sync::{oneshot, Semaphore};
use uuid::Uuid;

/// Batch statements in flight at once, per process. Fewer make larger batches: on two cores
/// at 100,000 orders, 1 gave 1,690 intakes/s, 2 gave 1,600, 4 gave 1,340 and 8 gave 1,110.
/// Two, so that one statement waiting on a lock (a replayed key) does not hold up every intake
/// of the process.
const WRITERS: usize = 2;
/// Most orders in one statement.
const MOST: usize = 64;

/// What the statement does for an order's customer.
enum Customer {
    /// Known, and the order leaves their details as they are: one more in their count, if
    /// their row still holds these details and each of `keys` names them.
    Counted {
        name: String,
        email: String,
        phone: String,
        keys: Vec<String>,
    },
    /// New: their row, claimed by the order's contact key, with their other keys.
    New {
        key: String,
        others: Vec<String>,
        name: String,
        email: String,
        phone: String,
        search: String,
    },
}

/// One order, encoded for the statement.
struct Entry {
    number: i64,
    id: Uuid,
    version: i64,
    created_at: DateTime<Utc>,
    customer_id: Uuid,
    cols: Columns,
    counters: Vec<String>,
    outbox: Outgoing,
    idempotency: Option<(String, Vec<u8>)>,
    customer: Customer,
}

impl Entry {
    /// `None` when the statement cannot take the order (see the module's notes).
    fn of(new: &NewOrder) -> Result<Option<Entry>, StoreError> {
        if new.only_before_real_orders {
            return Ok(None);
        }
        let order = &new.order;
        let customer = match &new.customer {
            Some(seen) if seen.id == order.customer.id && customers::unchanged_by(seen, order) => {
                Customer::Counted {
                    keys: customers::keys_of(seen),
                    name: seen.name.clone(),
                    email: seen.email.clone(),
                    phone: seen.phone.clone(),
                }
            }
            Some(_) => return Ok(None),
            None => {
                let c = &order.customer;
                let key = customers::contact_key(&c.email, &c.phone);
                let rec = customers::created_by(order);
                let others = customers::keys_of(&rec)
                    .into_iter()
                    .filter(|k| *k != key)
                    .collect();
                Customer::New {
                    key,
                    others,
                    search: customer_search(&rec),
                    name: rec.name,
                    email: rec.email,
                    phone: rec.phone,
                }
            }
        };
        Ok(Some(Entry {
            number: order.number as i64,
            id: order.id.0,
            version: order.version as i64,
            created_at: order.created_at,
            customer_id: order.customer.id.0,
            cols: Columns::of(order)?,
            counters: counter_names(order),
            outbox: Outgoing::of(&new.outbox)?,
            idempotency: new
                .idempotency
                .as_ref()
                .map(|(key, hash)| (key.clone(), hash.to_vec())),
            customer,
        }))
    }

    fn claims_key_and_new_customer(&self) -> bool {
        self.idempotency.is_some() && matches!(self.customer, Customer::New { .. })
    }
}

/// An order waiting for its batch, and where its outcome goes: whether it was written.
struct Waiting {
    entry: Entry,
    reply: oneshot::Sender<Result<bool, StoreError>>,
}

/// The intakes of this process waiting to be written.
pub(super) struct Intakes {
    queue: Mutex<Vec<Waiting>>,
    writers: Arc<Semaphore>,
}

impl Default for Intakes {
    fn default() -> Self {
        Intakes {
            queue: Mutex::new(Vec::new()),
            writers: Arc::new(Semaphore::new(WRITERS)),
        }
    }
}

impl Intakes {
    /// Writes `new` with whatever other intakes are waiting: `Some(order)` as stored (its
    /// customer linked), or `None` when nothing was written and the transactional way must
    /// take it.
    pub(super) async fn write(
        &self,
        pool: &PgPool,
        new: &NewOrder,
    ) -> Result<Option<Order>, StoreError> {
        let Some(entry) = Entry::of(new)? else {
            return Ok(None);
        };
        let (reply, mut outcome) = oneshot::channel();
        self.lock().push(Waiting { entry, reply });
        // Until the outcome is in, whoever gets a writer's place writes what is waiting (this
        // order, or others while this one's batch is being written).
        let written = loop {
            tokio::select! {
                biased;
                r = &mut outcome => break r,
                place = self.writers.clone().acquire_owned() => {
                    let place = place.map_err(StoreError::unavailable)?;
                    let batch: Vec<Waiting> = {
                        let mut q = self.lock();
                        let n = q.len().min(MOST);
                        q.drain(..n).collect()
                    };
                    if batch.is_empty() {
                        // This order is being written by another.
                        drop(place);
                        break (&mut outcome).await;
                    }
                    let pool = pool.clone();
                    tokio::spawn(async move {
                        write_batch(&pool, batch).await;
                        drop(place);
                    });
                }
            }
        };
        match written {
            Ok(Ok(true)) => Ok(Some(new.order.clone())),
            Ok(Ok(false)) => Ok(None),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(StoreError::unavailable(std::io::Error::other(
                "the intake's write was stopped",
            ))),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Waiting>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Writes a batch and tells each order whether it was written. When the statement of a batch
/// of several fails, each order goes the transactional way alone (where a bad one fails alone).
async fn write_batch(pool: &PgPool, batch: Vec<Waiting>) {
    let (entries, replies): (Vec<Entry>, Vec<_>) =
        batch.into_iter().map(|w| (w.entry, w.reply)).unzip();
    match run(pool, entries).await {
        Ok(written) => {
            for (reply, ok) in replies.into_iter().zip(written) {
                let _ = reply.send(Ok(ok));
            }
        }
        Err(e) if replies.len() == 1 => {
            let _ = replies.into_iter().next().map(|r| r.send(Err(e)));
        }
        Err(e) => {
            log::debug!("a batch of {} intakes goes one by one: {e}", replies.len());
            for reply in replies {
                let _ = reply.send(Ok(false));
            }
        }
    }
}

/// Runs the statement (in a transaction when a half claim is possible); whether each order was
/// written, in the batch's order.
async fn run(pool: &PgPool, entries: Vec<Entry>) -> Result<Vec<bool>, StoreError> {
    // Orders are told apart by number (each reserved once); two of one number go one by one.
    let numbers: std::collections::HashSet<i64> = entries.iter().map(|e| e.number).collect();
    if numbers.len() != entries.len() {
        return Err(StoreError::unavailable(std::io::Error::other(
            "two intakes of one number in a batch",
        )));
    }
    let in_transaction = entries.iter().any(Entry::claims_key_and_new_customer);
    let p = Params::of(entries);
    let mut conn = pool.acquire().await.map_err(db)?;
    if !in_transaction {
        return Ok(statement(&mut conn, &p)
            .await?
            .into_iter()
            .map(|(ok, _)| ok)
            .collect());
    }
    let mut tx = conn.begin().await.map_err(db)?;
    let outcome = statement(&mut tx, &p).await?;
    if outcome.iter().any(|&(ok, claimed)| claimed && !ok) {
        // A key claimed for an order that was not written: undo the batch.
        tx.rollback().await.map_err(db)?;
        return Ok(vec![false; p.number.len()]);
    }
    tx.commit().await.map_err(db)?;
    Ok(outcome.into_iter().map(|(ok, _)| ok).collect())
}

/// The statement. `i` holds one row per order; `k` claims the idempotency keys, `ck` the new
/// customers' contact keys (only once the order's key is claimed); `go` is the orders whose
/// claims hold, and every write joins it. Rows that several orders add to (counters, a
/// customer's count) are added up first, in key order, so that batches lock them in one order.
const SQL: &str = "WITH i AS (SELECT * FROM unnest($1::int8[], $2::uuid[], $3::int8[], \
     $4::timestamptz[], $5::uuid[], $6::text[], $7::text[], $8::text[], $9::numeric[], \
     $10::text[], $11::int2[], $12::int2[], $13::bool[], $14::int4[], $15::text[], \
     $16::bytea[], $17::text[], $18::bytea[], $19::bool[], $20::text[], $21::text[], \
     $22::text[], $23::text[], $24::text[], $25::int8[], $26::text[]) \
     AS i(number, id, version, created_at, customer_id, customer_name, customer_email, \
     customer_sort, total, currency, payment_status, fulfillment_status, test, items_count, \
     search, body, ikey, ihash, new_customer, c_name, c_email, c_phone, k1, k2, nkeys, \
     c_search)), \
     k AS (INSERT INTO idempotency_keys (key, hash, number) \
     SELECT ikey, ihash, number FROM i WHERE ikey IS NOT NULL \
     ON CONFLICT (key) DO NOTHING RETURNING number), \
     ck AS (INSERT INTO customer_keys (key, customer_id) \
     SELECT k1, customer_id FROM i \
     WHERE new_customer AND (ikey IS NULL OR number IN (SELECT number FROM k)) \
     ON CONFLICT (key) DO NOTHING RETURNING customer_id), \
     go AS MATERIALIZED (SELECT i.* FROM i \
     WHERE (ikey IS NULL OR number IN (SELECT number FROM k)) AND CASE WHEN new_customer \
     THEN customer_id IN (SELECT customer_id FROM ck) \
     ELSE EXISTS (SELECT 1 FROM customers c WHERE c.id = i.customer_id AND c.name = i.c_name \
     AND c.email = i.c_email AND c.phone = i.c_phone) \
     AND (SELECT count(*) FROM customer_keys x WHERE x.key IN (i.k1, i.k2) \
     AND x.customer_id = i.customer_id) = i.nkeys END), \
     o AS (INSERT INTO orders (number, id, version, created_at, customer_id, customer_name, \
     customer_email, customer_sort, total, currency, payment_status, fulfillment_status, \
     test, items_count, search, body, tags) \
     SELECT number, id, version, created_at, customer_id, customer_name, customer_email, \
     customer_sort, total, currency, payment_status, fulfillment_status, test, items_count, \
     search, body, ARRAY(SELECT g.tag FROM unnest($27::int8[], $28::text[]) \
     WITH ORDINALITY AS g(number, tag, nth) WHERE g.number = go.number ORDER BY g.nth) \
     FROM go), \
     c AS (INSERT INTO order_counts (name, slot, n) \
     SELECT x.name, $29, count(*) FROM unnest($30::int8[], $31::text[]) AS x(number, name) \
     JOIN go USING (number) GROUP BY x.name ORDER BY x.name \
     ON CONFLICT (name, slot) DO UPDATE SET n = order_counts.n + EXCLUDED.n), \
     r AS (INSERT INTO real_orders_exist (flag) SELECT true FROM go WHERE NOT test LIMIT 1 \
     ON CONFLICT DO NOTHING), \
     t AS (INSERT INTO order_terms (term, created_at, number) \
     SELECT x.term, go.created_at, go.number \
     FROM unnest($32::int8[], $33::text[]) AS x(number, term) JOIN go USING (number)), \
     m AS (INSERT INTO outbox (id, order_number, status, next_attempt_at, body, endpoint) \
     SELECT u.id, u.order_number, u.status, u.due, u.body, u.endpoint \
     FROM unnest($34::int8[], $35::uuid[], $36::int8[], $37::int2[], $38::timestamptz[], \
     $39::bytea[], $40::uuid[]) AS u(owner, id, order_number, status, due, body, endpoint) \
     JOIN go ON go.number = u.owner), \
     cu AS (INSERT INTO customers (id, name, email, phone, created_at, orders_count, search) \
     SELECT customer_id, c_name, c_email, c_phone, created_at, 1, c_search FROM go \
     WHERE new_customer), \
     pk AS (INSERT INTO customer_keys (key, customer_id) \
     SELECT DISTINCT ON (x.key) x.key, x.customer_id \
     FROM unnest($41::uuid[], $42::text[]) WITH ORDINALITY AS x(customer_id, key, nth) \
     JOIN go ON go.customer_id = x.customer_id AND go.new_customer \
     ORDER BY x.key, x.nth DESC \
     ON CONFLICT (key) DO UPDATE SET customer_id = EXCLUDED.customer_id), \
     n AS (INSERT INTO customer_counts (customer_id, slot, n) \
     SELECT customer_id, $29, count(*) FROM go WHERE NOT new_customer \
     GROUP BY customer_id ORDER BY customer_id \
     ON CONFLICT (customer_id, slot) DO UPDATE SET n = customer_counts.n + EXCLUDED.n) \
     SELECT i.number, i.number IN (SELECT number FROM go) AS ok, \
     i.number IN (SELECT number FROM k) AS claimed FROM i";

/// One order's row of `i`, and the rows it adds to the flattened lists.
#[derive(Default)]
struct Params {
    number: Vec<i64>,
    id: Vec<Uuid>,
    version: Vec<i64>,
    created_at: Vec<DateTime<Utc>>,
    customer_id: Vec<Uuid>,
    customer_name: Vec<String>,
    customer_email: Vec<String>,
    customer_sort: Vec<String>,
    total: Vec<Decimal>,
    currency: Vec<String>,
    payment_status: Vec<i16>,
    fulfillment_status: Vec<i16>,
    test: Vec<bool>,
    items_count: Vec<i32>,
    search: Vec<String>,
    body: Vec<Vec<u8>>,
    ikey: Vec<Option<String>>,
    ihash: Vec<Option<Vec<u8>>>,
    new_customer: Vec<bool>,
    c_name: Vec<String>,
    c_email: Vec<String>,
    c_phone: Vec<String>,
    k1: Vec<Option<String>>,
    k2: Vec<Option<String>>,
    nkeys: Vec<i64>,
    c_search: Vec<Option<String>>,
    tags: (Vec<i64>, Vec<String>),
    counters: (Vec<i64>, Vec<String>),
    terms: (Vec<i64>, Vec<String>),
    outbox_owner: Vec<i64>,
    outbox: Outgoing,
    other_keys: (Vec<Uuid>, Vec<String>),
}

impl Params {
    /// The batch's orders, moved into the statement's columns (nothing copied).
    fn of(entries: Vec<Entry>) -> Params {
        let mut p = Params::default();
        for e in entries {
            let n = e.number;
            let s = e.cols.summary;
            p.number.push(n);
            p.id.push(e.id);
            p.version.push(e.version);
            p.created_at.push(e.created_at);
            p.customer_id.push(e.customer_id);
            p.customer_name.push(s.customer_name);
            p.customer_email.push(s.customer_email);
            p.customer_sort.push(e.cols.customer_sort);
            p.total.push(s.total);
            p.currency.push(s.currency);
            p.payment_status.push(i16::from(s.payment_status.code()));
            p.fulfillment_status
                .push(i16::from(s.fulfillment_status.code()));
            p.test.push(s.test);
            p.items_count.push(s.items_count as i32);
            p.search.push(e.cols.search);
            p.body.push(e.cols.body);
            let (ikey, ihash) = e.idempotency.unzip();
            p.ikey.push(ikey);
            p.ihash.push(ihash);
            // The customer's columns: as read (a known one) or as made (a new one).
            let (new_customer, name, email, phone, k1, k2, nkeys, search) = match e.customer {
                Customer::Counted {
                    name,
                    email,
                    phone,
                    keys,
                } => {
                    let nkeys = keys.len() as i64;
                    let mut keys = keys.into_iter();
                    let (k1, k2) = (keys.next(), keys.next());
                    (false, name, email, phone, k1, k2, nkeys, None)
                }
                Customer::New {
                    key,
                    others,
                    name,
                    email,
                    phone,
                    search,
                } => {
                    p.other_keys.0.extend(others.iter().map(|_| e.customer_id));
                    p.other_keys.1.extend(others);
                    (true, name, email, phone, Some(key), None, 1, Some(search))
                }
            };
            p.new_customer.push(new_customer);
            p.c_name.push(name);
            p.c_email.push(email);
            p.c_phone.push(phone);
            p.k1.push(k1);
            p.k2.push(k2);
            p.nkeys.push(nkeys);
            p.c_search.push(search);
            for (list, items) in [
                (&mut p.tags, s.tags),
                (&mut p.counters, e.counters),
                (&mut p.terms, e.cols.terms.into_iter().collect()),
            ] {
                list.0.extend(items.iter().map(|_| n));
                list.1.extend(items);
            }
            let o = e.outbox;
            p.outbox_owner.extend(o.ids.iter().map(|_| n));
            p.outbox.ids.extend(o.ids);
            p.outbox.numbers.extend(o.numbers);
            p.outbox.statuses.extend(o.statuses);
            p.outbox.due.extend(o.due);
            p.outbox.bodies.extend(o.bodies);
            p.outbox.endpoints.extend(o.endpoints);
        }
        p
    }
}

/// Runs the statement: for each order, whether it was written and whether its key was claimed.
async fn statement(conn: &mut PgConnection, p: &Params) -> Result<Vec<(bool, bool)>, StoreError> {
    let rows = sqlx::query(SQL)
        .bind(&p.number)
        .bind(&p.id)
        .bind(&p.version)
        .bind(&p.created_at)
        .bind(&p.customer_id)
        .bind(&p.customer_name)
        .bind(&p.customer_email)
        .bind(&p.customer_sort)
        .bind(&p.total)
        .bind(&p.currency)
        .bind(&p.payment_status)
        .bind(&p.fulfillment_status)
        .bind(&p.test)
        .bind(&p.items_count)
        .bind(&p.search)
        .bind(&p.body)
        .bind(&p.ikey)
        .bind(&p.ihash)
        .bind(&p.new_customer)
        .bind(&p.c_name)
        .bind(&p.c_email)
        .bind(&p.c_phone)
        .bind(&p.k1)
        .bind(&p.k2)
        .bind(&p.nkeys)
        .bind(&p.c_search)
        .bind(&p.tags.0)
        .bind(&p.tags.1)
        .bind(counter_slot())
        .bind(&p.counters.0)
        .bind(&p.counters.1)
        .bind(&p.terms.0)
        .bind(&p.terms.1)
        .bind(&p.outbox_owner)
        .bind(&p.outbox.ids)
        .bind(&p.outbox.numbers)
        .bind(&p.outbox.statuses)
        .bind(&p.outbox.due)
        .bind(&p.outbox.bodies)
        .bind(&p.outbox.endpoints)
        .bind(&p.other_keys.0)
        .bind(&p.other_keys.1)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    let mut by_number = std::collections::HashMap::with_capacity(rows.len());
    for row in &rows {
        let number: i64 = row.try_get(0).map_err(db)?;
        let ok: bool = row.try_get(1).map_err(db)?;
        let claimed: bool = row.try_get(2).map_err(db)?;
        by_number.insert(number, (ok, claimed));
    }
    p.number
        .iter()
        .map(|n| {
            by_number.get(n).copied().ok_or_else(|| {
                StoreError::unavailable(std::io::Error::other(
                    "the intake statement left an order unanswered",
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::SQL;

    #[test]
    fn the_statement_uses_every_parameter_once_numbered_without_a_gap() {
        let mut used: Vec<u32> = SQL
            .split('$')
            .skip(1)
            .map(|s| {
                s.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .map(|n| n.parse().unwrap())
            .collect();
        used.sort();
        used.dedup();
        assert_eq!(used, (1..=42).collect::<Vec<u32>>());
    }
}
