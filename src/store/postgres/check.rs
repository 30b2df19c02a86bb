//! `orderdeck check` on PostgreSQL: reads one consistent snapshot (a REPEATABLE READ, READ ONLY
//! transaction; writers are never paused) and reports where the derived columns and tables
//! disagree with the orders: list columns and search text against each order's record, status
//! counters and customers' order counts against a recount, customer search text and keys,
//! idempotency keys, the outbox's columns, and the order number sequence.

use super::{counter_names, customer_search, db, status_code, Columns, PgStore};
use crate::domain::outbox::OutboxMessage;
use crate::domain::{CustomerId, Order};
use crate::ports::StoreError;
use crate::store::codec::decode;
use crate::store::report::{CheckReport, ProblemKind, Progress};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Orders read per round trip.
const BATCH: i64 = 1_000;

/// Checks the store (see the module documentation).
pub async fn check(
    store: &PgStore,
    progress: &mut dyn FnMut(&Progress),
) -> Result<CheckReport, StoreError> {
    let mut tx = store.pool().begin().await.map_err(db)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let mut r = CheckReport::default();
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;

    // Orders, in batches by number.
    let mut counters: BTreeMap<String, i64> = BTreeMap::new();
    let mut customer_orders: HashMap<CustomerId, u64> = HashMap::new();
    let mut undecodable = false;
    let mut after = 0i64;
    let mut max_number = None;
    loop {
        let rows = sqlx::query(
            "SELECT number, version, customer_id, customer_name, customer_email, customer_sort, \
             total, currency, payment_status, fulfillment_status, test, items_count, search, \
             body, tags FROM orders WHERE number > $1 ORDER BY number LIMIT $2",
        )
        .bind(after)
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let number: i64 = row.try_get("number").map_err(db)?;
            after = number;
            max_number = Some(number);
            r.orders += 1;
            let body: Vec<u8> = row.try_get("body").map_err(db)?;
            let order: Order = match decode("order", &body) {
                Ok(o) => o,
                Err(e) => {
                    undecodable = true;
                    r.report(ProblemKind::Undecodable, format!("order {number}: {e}"));
                    continue;
                }
            };
            let want = Columns::of(&order)?;
            let s = &want.summary;
            let same = row.try_get::<i64, _>("version").map_err(db)? == order.version as i64
                && row.try_get::<uuid::Uuid, _>("customer_id").map_err(db)? == order.customer.id.0
                && row.try_get::<String, _>("customer_name").map_err(db)? == s.customer_name
                && row.try_get::<String, _>("customer_email").map_err(db)? == s.customer_email
                && row.try_get::<String, _>("customer_sort").map_err(db)? == want.customer_sort
                && row
                    .try_get::<rust_decimal::Decimal, _>("total")
                    .map_err(db)?
                    == s.total
                && row.try_get::<String, _>("currency").map_err(db)? == s.currency
                && row.try_get::<i16, _>("payment_status").map_err(db)?
                    == i16::from(s.payment_status.code())
                && row.try_get::<i16, _>("fulfillment_status").map_err(db)?
                    == i16::from(s.fulfillment_status.code())
                && row.try_get::<bool, _>("test").map_err(db)? == s.test
                && row.try_get::<i32, _>("items_count").map_err(db)? == s.items_count as i32
                && row.try_get::<Vec<String>, _>("tags").map_err(db)? == s.tags;
            if !same {
                r.report(
                    ProblemKind::SummaryMismatch,
                    format!("order {number}: its list columns differ from the order"),
                );
            }
            if row.try_get::<String, _>("search").map_err(db)? != want.search {
                r.report(
                    ProblemKind::TermMissing,
                    format!("order {number}: its search text differs from its terms"),
                );
            }
            for name in counter_names(&order) {
                *counters.entry(name).or_default() += 1;
            }
            *customer_orders.entry(order.customer.id).or_default() += 1;
        }
        progress(&Progress {
            stage: "orders".into(),
            done: r.orders,
            total: total as u64,
        });
    }

    // Status counters against the recount.
    if !undecodable {
        let stored: Vec<(String, i64)> =
            sqlx::query_as("SELECT name, sum(n)::bigint FROM order_counts GROUP BY name")
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
        let stored: BTreeMap<String, i64> = stored.into_iter().collect();
        let names: HashSet<&String> = stored.keys().chain(counters.keys()).collect();
        let mut names: Vec<&String> = names.into_iter().collect();
        names.sort();
        for name in names {
            let (have, want) = (
                stored.get(name).copied().unwrap_or(0),
                counters.get(name).copied().unwrap_or(0),
            );
            if have != want {
                r.report(
                    ProblemKind::CounterWrong,
                    format!("{name} is {have}, a recount gives {want}"),
                );
            }
        }
    }

    // Customers: order counts, search text, and the orders' customers existing.
    let rows = sqlx::query("SELECT * FROM customers_counted ORDER BY id")
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    let mut customers: HashSet<CustomerId> = HashSet::new();
    for row in &rows {
        r.customers += 1;
        let c = super::customers::customer_of(row)?;
        customers.insert(c.id);
        let recount = customer_orders.get(&c.id).copied().unwrap_or(0);
        if !undecodable && c.orders_count != recount {
            r.report(
                ProblemKind::CustomerCount,
                format!(
                    "customer {} ({}) has orders_count {}, a recount gives {recount}",
                    c.id, c.name, c.orders_count
                ),
            );
        }
        if row.try_get::<String, _>("search").map_err(db)? != customer_search(&c) {
            r.report(
                ProblemKind::CustomerTermWrong,
                format!(
                    "customer {}: the search text differs from the details",
                    c.id
                ),
            );
        }
    }
    let mut absent: Vec<&CustomerId> = customer_orders
        .keys()
        .filter(|id| !customers.contains(id))
        .collect();
    absent.sort();
    for id in absent {
        r.report(
            ProblemKind::CustomerMissing,
            format!("orders name customer {id}, which does not exist"),
        );
    }
    let dangling: Vec<String> = sqlx::query_scalar(
        "SELECT k.key FROM customer_keys k LEFT JOIN customers c ON c.id = k.customer_id \
         WHERE c.id IS NULL ORDER BY k.key",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    for key in dangling {
        r.report(
            ProblemKind::CustomerKeyDangling,
            format!("customer key {key} points to no customer"),
        );
    }

    // Idempotency keys that name no order.
    let dangling: Vec<(String, i64)> = sqlx::query_as(
        "SELECT i.key, i.number FROM idempotency_keys i \
         LEFT JOIN orders o ON o.number = i.number WHERE o.number IS NULL ORDER BY i.key",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    for (key, n) in dangling {
        r.report(
            ProblemKind::IdempotencyDangling,
            format!("idempotency key {key} names missing order {n}"),
        );
    }

    // The outbox's columns against each message.
    let rows =
        sqlx::query("SELECT id, order_number, status, next_attempt_at, endpoint, body FROM outbox")
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
    for row in &rows {
        r.messages += 1;
        let id: uuid::Uuid = row.try_get("id").map_err(db)?;
        let body: Vec<u8> = row.try_get("body").map_err(db)?;
        let m: OutboxMessage = match decode("outbox message", &body) {
            Ok(m) => m,
            Err(e) => {
                r.report(ProblemKind::Undecodable, format!("message {id}: {e}"));
                continue;
            }
        };
        let same = m.id == id
            && row.try_get::<Option<i64>, _>("order_number").map_err(db)?
                == m.order_number.map(|n| n as i64)
            && row.try_get::<i16, _>("status").map_err(db)? == status_code(m.status)
            && row
                .try_get::<chrono::DateTime<chrono::Utc>, _>("next_attempt_at")
                .map_err(db)?
                .timestamp_micros()
                == m.next_attempt_at.timestamp_micros()
            && row
                .try_get::<Option<uuid::Uuid>, _>("endpoint")
                .map_err(db)?
                == m.endpoint;
        if !same {
            r.report(
                ProblemKind::OutboxByOrderWrong,
                format!("message {id}: its columns differ from the message"),
            );
        }
    }

    // The sequence hands out numbers above every order's.
    if let Some(max) = max_number {
        let (last, called): (i64, bool) =
            sqlx::query_as("SELECT last_value, is_called FROM order_numbers")
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
        let next = if called { last + 1 } else { last };
        if next <= max {
            r.report(
                ProblemKind::NextNumber,
                format!("the next number {next} is not above the highest order {max}"),
            );
        }
    }
    tx.rollback().await.map_err(db)?;
    Ok(r)
}
