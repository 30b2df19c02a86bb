//! Customers on PostgreSQL: which customer an intake's order belongs to, and counting the order
//! on them.
//!
//! Many intakes may come from one customer at once (a storefront's test buyer, a wholesale
//! account). Their customer is found without a lock; their order is counted in one of their
//! slots (`customer_counts`, migration 0007), not on their row, which is written only when their
//! contact details change — by the last statement before the commit, and only if it still holds
//! what was read (otherwise it is read again under a lock and written from that).

use super::{counter_slot, customer_search, db};
use crate::domain::{CustomerId, Order};
use crate::ports::{CustomerRecord, StoreError};
use crate::store::keys;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

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

/// The customer an order is for, as found before its order is written.
pub(super) enum Contact {
    /// A customer who already was, as read (without a lock); `keyed` tells whether each of the
    /// order's contact keys already names them.
    Known { record: CustomerRecord, keyed: bool },
    /// A customer created by this transaction (their row written and counted already).
    Created(CustomerId),
}

impl Contact {
    pub fn id(&self) -> CustomerId {
        match self {
            Contact::Known { record, .. } => record.id,
            Contact::Created(id) => *id,
        }
    }
}

/// The keys a customer is found by after this order: their e-mail and their phone's digits.
pub(super) fn keys_of(rec: &CustomerRecord) -> Vec<String> {
    let mut out = Vec::new();
    if !rec.email.is_empty() {
        out.push(format!("e:{}", rec.email));
    }
    let d = keys::digits(&rec.phone);
    if !d.is_empty() {
        out.push(format!("p:{d}"));
    }
    out
}

/// The customer record after an order from `rec`: the latest checkout's contact details are
/// the freshest (an empty one keeps the old).
fn merged(mut rec: CustomerRecord, o: &Order) -> CustomerRecord {
    let c = &o.customer;
    rec.name = c.name.clone();
    if !c.phone.is_empty() {
        rec.phone = c.phone.clone();
    }
    if !c.email.is_empty() {
        rec.email = c.email.clone();
    }
    rec.orders_count += 1;
    rec
}

/// The customer an order creates (as the order's own customer id), counted once.
pub(super) fn created_by(o: &Order) -> CustomerRecord {
    merged(
        CustomerRecord {
            id: o.customer.id,
            name: String::new(),
            email: String::new(),
            phone: String::new(),
            created_at: o.created_at,
            orders_count: 0,
        },
        o,
    )
}

/// Whether an order leaves its known customer's contact details as they are.
pub(super) fn unchanged_by(rec: &CustomerRecord, o: &Order) -> bool {
    let after = merged(rec.clone(), o);
    after.name == rec.name && after.email == rec.email && after.phone == rec.phone
}

/// Finds the customer an order is for, or creates them (as the order's own customer id). A
/// known customer is not locked and not yet counted: [`count_order`] does that last.
pub(super) async fn find_or_create(
    conn: &mut PgConnection,
    o: &Order,
) -> Result<Contact, StoreError> {
    let c = &o.customer;
    let key = contact_key(&c.email, &c.phone);
    loop {
        if let Some(found) = find(conn, &key, o).await? {
            return Ok(found);
        }
        // Claim the key for a new customer; a concurrent claim of the same key waits for this
        // transaction, then finds the key taken and the customer made.
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
        if !claimed {
            continue;
        }
        let rec = created_by(o);
        sqlx::query(
            "INSERT INTO customers (id, name, email, phone, created_at, orders_count, search) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
        point_keys(conn, &keys_of(&rec), rec.id).await?;
        return Ok(Contact::Created(rec.id));
    }
}

/// The customer `key` names, and whether each key they are found by after the order names them
/// already (one query when the order carries both its contacts).
async fn find(
    conn: &mut PgConnection,
    key: &str,
    o: &Order,
) -> Result<Option<Contact>, StoreError> {
    let own = keys_of(&CustomerRecord {
        id: o.customer.id,
        name: String::new(),
        email: o.customer.email.clone(),
        phone: o.customer.phone.clone(),
        created_at: o.created_at,
        orders_count: 0,
    });
    // An order carries at most two keys (its e-mail's and its phone's). Two parameters, not an
    // array: PostgreSQL then keeps one plan for the statement instead of planning each call.
    let row = sqlx::query(
        "SELECT c.*, ARRAY(SELECT o.key FROM customer_keys o \
         WHERE o.key IN ($2, $3) AND o.customer_id = c.id) AS keyed \
         FROM customer_keys k JOIN customers c ON c.id = k.customer_id WHERE k.key = $1",
    )
    .bind(key)
    .bind(own.first())
    .bind(own.get(1))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    let Some(row) = row else { return Ok(None) };
    let record = customer_of(&row)?;
    let have: Vec<String> = row.try_get("keyed").map_err(db)?;
    let unchecked: Vec<String> = keys_of(&merged(record.clone(), o))
        .into_iter()
        .filter(|k| !have.contains(k))
        .collect();
    // A key the order does not carry comes from the customer's record: look at it too.
    let keyed = if unchecked.iter().any(|k| own.contains(k)) {
        false
    } else if unchecked.is_empty() {
        true
    } else {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM customer_keys WHERE key = ANY($1) AND customer_id = $2",
        )
        .bind(&unchecked)
        .bind(record.id.0)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        n as usize == unchecked.len()
    };
    Ok(Some(Contact::Known { keyed, record }))
}

/// Makes each key find `id` (a key moves to the customer who used it last).
async fn point_keys(
    conn: &mut PgConnection,
    keys: &[String],
    id: CustomerId,
) -> Result<(), StoreError> {
    let mut keys = keys.to_vec();
    keys.sort();
    sqlx::query(
        "INSERT INTO customer_keys (key, customer_id) SELECT k, $2 FROM unnest($1::text[]) AS k \
         ON CONFLICT (key) DO UPDATE SET customer_id = EXCLUDED.customer_id",
    )
    .bind(&keys)
    .bind(id.0)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Adds `delta` to a customer's order count, in a random one of their slots.
async fn add_count(conn: &mut PgConnection, id: CustomerId, delta: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO customer_counts (customer_id, slot, n) VALUES ($1, $2, $3) \
         ON CONFLICT (customer_id, slot) DO UPDATE SET n = customer_counts.n + EXCLUDED.n",
    )
    .bind(id.0)
    .bind(counter_slot())
    .bind(delta)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Counts the order on a known customer and takes in its contact details when they changed:
/// one UPDATE that goes through only if their row still holds what was read, else read again
/// under a lock.
pub(super) async fn count_order(
    conn: &mut PgConnection,
    contact: &Contact,
    o: &Order,
) -> Result<(), StoreError> {
    let Contact::Known { record, keyed } = contact else {
        return Ok(());
    };
    let same = unchanged_by(record, o);
    let after = merged(record.clone(), o);
    let written = same
        || sqlx::query(
            "UPDATE customers SET name = $2, email = $3, phone = $4, search = $5 \
             WHERE id = $1 AND name = $6 AND email = $7 AND phone = $8",
        )
        .bind(record.id.0)
        .bind(&after.name)
        .bind(&after.email)
        .bind(&after.phone)
        .bind(customer_search(&after))
        .bind(&record.name)
        .bind(&record.email)
        .bind(&record.phone)
        .execute(&mut *conn)
        .await
        .map_err(db)?
        .rows_affected()
            == 1;
    let after = if written {
        after
    } else {
        // Another checkout changed their details in between: start from what it wrote.
        let row = sqlx::query("SELECT * FROM customers WHERE id = $1 FOR UPDATE")
            .bind(record.id.0)
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
        let after = merged(customer_of(&row)?, o);
        sqlx::query(
            "UPDATE customers SET name = $2, email = $3, phone = $4, search = $5 WHERE id = $1",
        )
        .bind(after.id.0)
        .bind(&after.name)
        .bind(&after.email)
        .bind(&after.phone)
        .bind(customer_search(&after))
        .execute(&mut *conn)
        .await
        .map_err(db)?;
        after
    };
    add_count(conn, after.id, 1).await?;
    if !written || !keyed {
        point_keys(conn, &keys_of(&after), after.id).await?;
    }
    Ok(())
}

/// Adds one to (or takes one from) a customer's order count.
pub(super) async fn adjust(
    conn: &mut PgConnection,
    id: CustomerId,
    delta: i64,
) -> Result<(), StoreError> {
    add_count(conn, id, delta).await
}
