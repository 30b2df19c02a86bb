//! An intake in one statement, where it can be. The customer was read with the order's number
//! (`number_and_customer`, one round trip); one statement then checks the claims the write
//! rests on — the `Idempotency-Key` is free, and the customer is still as read (their row, and
//! each of their keys naming them) or, for a new customer, their contact key is free — and,
//! only if every one holds, writes the order, its counters, search terms, outbox messages and
//! the customer's count or new row. One statement is atomic on its own, so no `BEGIN` and
//! `COMMIT` are sent: an intake is two round trips (number and customer, the write) where the
//! transaction takes seven.
//!
//! Whatever the one statement does not cover goes the transactional way in `orders.rs`, which
//! this path always falls back to when it writes nothing: a key claimed before (a replay or a
//! conflict), a customer made or changed by another intake in between, a customer whose
//! contact details this order changes, a test order that must come before real ones.

use super::customers;
use super::orders::{bind_columns, Outgoing};
use super::{counter_names, counter_slot, customer_search, db, Columns};
use crate::domain::Order;
use crate::ports::{CustomerRecord, NewOrder, StoreError};
use sqlx::postgres::PgPool;
use sqlx::{Connection, PgConnection, Row};

/// What the one statement does for the order's customer.
enum Customer {
    /// Known, and the order leaves their details as they are: one more in their count, if
    /// their row still holds `seen` and each of `keys` names them.
    Counted {
        seen: CustomerRecord,
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

/// The statement for an intake with (or without) an idempotency key and a new (or known)
/// customer. Parameters `$1`–`$26` are the order's; the key's, then the customer's follow.
fn statement(keyed: bool, new_customer: bool) -> String {
    let mut sql = String::from("WITH ");
    let mut next = 27;
    let mut claims = Vec::new();
    if keyed {
        sql += "k AS (INSERT INTO idempotency_keys (key, hash, number) SELECT $27, $28, $1 \
                ON CONFLICT (key) DO NOTHING RETURNING 1), ";
        claims.push("EXISTS (SELECT 1 FROM k)".to_string());
        next = 29;
    }
    if new_customer {
        // Claimed only once the idempotency key is: a claim that fails then writes nothing.
        let after_key = if keyed {
            " WHERE EXISTS (SELECT 1 FROM k)"
        } else {
            ""
        };
        sql += &format!(
            "ck AS (INSERT INTO customer_keys (key, customer_id) SELECT ${next}, $5{after_key} \
             ON CONFLICT (key) DO NOTHING RETURNING 1), "
        );
        claims.push("EXISTS (SELECT 1 FROM ck)".to_string());
    } else {
        let (name, email, phone, k1, k2, n) =
            (next, next + 1, next + 2, next + 3, next + 4, next + 5);
        claims.push(format!(
            "EXISTS (SELECT 1 FROM customers WHERE id = $5 AND name = ${name} \
             AND email = ${email} AND phone = ${phone}) \
             AND (SELECT count(*) FROM customer_keys WHERE key IN (${k1}, ${k2}) \
             AND customer_id = $5) = ${n}"
        ));
    }
    let go = if claims.is_empty() {
        "true".to_string()
    } else {
        claims.join(" AND ")
    };
    sql += &format!(
        "go AS (SELECT {go} AS ok), \
         o AS (INSERT INTO orders (number, id, version, created_at, customer_id, \
         customer_name, customer_email, customer_sort, total, currency, payment_status, \
         fulfillment_status, test, items_count, search, body, tags) \
         SELECT $1, $2, $3, $4, $5, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19 \
         FROM go WHERE ok), \
         c AS (INSERT INTO order_counts (name, slot, n) \
         SELECT name, $6, 1 FROM go, unnest($7::text[]) AS name WHERE ok \
         ON CONFLICT (name, slot) DO UPDATE SET n = order_counts.n + 1), \
         r AS (INSERT INTO real_orders_exist (flag) SELECT true FROM go WHERE ok AND NOT $15 \
         ON CONFLICT DO NOTHING), \
         t AS (INSERT INTO order_terms (term, created_at, number) \
         SELECT term, $4, $1 FROM go, unnest($20::text[]) AS term WHERE ok), \
         m AS (INSERT INTO outbox (id, order_number, status, next_attempt_at, body, endpoint) \
         SELECT u.* FROM go, unnest($21::uuid[], $22::int8[], $23::int2[], \
         $24::timestamptz[], $25::bytea[], $26::uuid[]) AS u WHERE ok), "
    );
    if new_customer {
        let (others, name, email, phone, search) =
            (next + 1, next + 2, next + 3, next + 4, next + 5);
        sql += &format!(
            "cu AS (INSERT INTO customers (id, name, email, phone, created_at, orders_count, \
             search) SELECT $5, ${name}, ${email}, ${phone}, $4, 1, ${search} FROM go WHERE ok), \
             pk AS (INSERT INTO customer_keys (key, customer_id) \
             SELECT key, $5 FROM go, unnest(${others}::text[]) AS key WHERE ok \
             ON CONFLICT (key) DO UPDATE SET customer_id = EXCLUDED.customer_id) "
        );
    } else {
        sql += "n AS (INSERT INTO customer_counts (customer_id, slot, n) \
                SELECT $5, $6, 1 FROM go WHERE ok \
                ON CONFLICT (customer_id, slot) DO UPDATE SET n = customer_counts.n + 1) ";
    }
    sql + "SELECT ok FROM go"
}

/// The four statements, built once: `[keyed * 2 + new_customer]`.
static STATEMENTS: std::sync::LazyLock<[String; 4]> = std::sync::LazyLock::new(|| {
    [
        statement(false, false),
        statement(false, true),
        statement(true, false),
        statement(true, true),
    ]
});

/// Writes `new` in one statement when its case allows: `Some(order)` as stored (its customer
/// linked), or `None` when nothing was written and the transactional way must take it.
pub(super) async fn in_one_statement(
    pool: &PgPool,
    new: &NewOrder,
) -> Result<Option<Order>, StoreError> {
    if new.only_before_real_orders {
        return Ok(None);
    }
    let order = &new.order;
    let customer = match &new.customer {
        Some(seen) if seen.id == order.customer.id && customers::unchanged_by(seen, order) => {
            Customer::Counted {
                keys: customers::keys_of(seen),
                seen: seen.clone(),
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
    let mut conn = pool.acquire().await.map_err(db)?;
    let keyed = new.idempotency.is_some();
    let new_customer = matches!(customer, Customer::New { .. });
    // With both claims, the key's may go through and the customer's not: that is undone.
    if keyed && new_customer {
        let mut tx = conn.begin().await.map_err(db)?;
        let ok = write(&mut tx, order, new, &customer).await?;
        if !ok {
            tx.rollback().await.map_err(db)?;
            return Ok(None);
        }
        tx.commit().await.map_err(db)?;
        return Ok(Some(order.clone()));
    }
    let ok = write(&mut conn, order, new, &customer).await?;
    Ok(ok.then(|| order.clone()))
}

/// Runs the statement; whether it wrote the order.
async fn write(
    conn: &mut PgConnection,
    order: &Order,
    new: &NewOrder,
    customer: &Customer,
) -> Result<bool, StoreError> {
    let cols = Columns::of(order)?;
    let mut names = counter_names(order);
    names.sort();
    let out = Outgoing::of(&new.outbox)?;
    let sql: &'static str = &STATEMENTS[usize::from(new.idempotency.is_some()) * 2
        + usize::from(matches!(customer, Customer::New { .. }))];
    let q = sqlx::query(sql)
        .bind(order.number as i64)
        .bind(order.id.0)
        .bind(order.version as i64)
        .bind(order.created_at)
        .bind(order.customer.id.0)
        .bind(counter_slot())
        .bind(&names);
    let mut q = bind_columns(q, &cols)
        .bind(cols.terms.iter().collect::<Vec<_>>())
        .bind(&out.ids)
        .bind(&out.numbers)
        .bind(&out.statuses)
        .bind(&out.due)
        .bind(&out.bodies)
        .bind(&out.endpoints);
    if let Some((key, hash)) = &new.idempotency {
        q = q.bind(key).bind(hash.as_slice());
    }
    match customer {
        Customer::Counted { seen, keys } => {
            q = q
                .bind(&seen.name)
                .bind(&seen.email)
                .bind(&seen.phone)
                .bind(keys.first())
                .bind(keys.get(1))
                .bind(keys.len() as i64);
        }
        Customer::New {
            key,
            others,
            name,
            email,
            phone,
            search,
        } => {
            q = q
                .bind(key)
                .bind(others)
                .bind(name)
                .bind(email)
                .bind(phone)
                .bind(search);
        }
    }
    let row = q.fetch_one(&mut *conn).await.map_err(db)?;
    row.try_get(0).map_err(db)
}

#[cfg(test)]
mod tests {
    use super::statement;

    #[test]
    fn each_case_numbers_its_parameters_without_a_gap() {
        for (keyed, new_customer, last) in [
            (false, false, 32),
            (true, false, 34),
            (false, true, 32),
            (true, true, 34),
        ] {
            let sql = statement(keyed, new_customer);
            let mut used: Vec<u32> = sql
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
            assert_eq!(used, (1..=last).collect::<Vec<u32>>(), "{sql}");
        }
    }
}
