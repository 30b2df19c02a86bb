//! Lists on PostgreSQL: keyset-paged pages in any sort with their filters, searches in date
//! order through the term postings (`search.rs`), the numbers a list matches, and the status
//! counters.

use super::{db, like_escape, search, PgStore};
use crate::domain::{FulfillmentStatus, PaymentStatus};
use crate::ports::{Counts, ListPage, ListQuery, Refusal, SortField, StoreError, Summary};
use crate::store::keys;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row};

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

/// A page from its rows (one more than the page when there are more) and its next cursor.
fn page_of(rows: &[PgRow], q: &ListQuery) -> Result<ListPage, StoreError> {
    let mut orders = rows.iter().map(summary_of).collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if orders.len() > q.limit {
        orders.truncate(q.limit);
        let last = orders.last().expect("a full page");
        let cur = Cursor {
            sort: q.sort.as_str().to_string(),
            value: sort_value(q.sort, last),
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

/// Where a page in date order starts: the previous page's last date and number.
fn date_cursor(cur: &Cursor) -> Result<(DateTime<Utc>, i64), StoreError> {
    let micros: i64 = cur.value.parse().map_err(|_| bad_cursor())?;
    let at = DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(bad_cursor)?;
    Ok((at, cur.number as i64))
}

/// A list row's columns, read from the orders table as `o`.
const ROW_COLUMNS: &str = "o.id, o.number, o.created_at, o.customer_name, o.customer_email, \
     o.total, o.currency, o.payment_status, o.fulfillment_status, o.test, o.items_count, o.tags";

/// How long this process shows the status counters it read, unless it writes an order first.
/// Another instance's intakes and actions show in the counts within this time; the lists
/// themselves are always read afresh.
pub(super) const COUNTS_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(1);

/// The status counters this process read last (every Orders page shows them).
#[derive(Default)]
pub(crate) struct CountsCache {
    copy: std::sync::Mutex<Option<(std::time::Instant, u64, Counts)>>,
    /// Moves on every write of this process: a read started before one is not kept.
    generation: std::sync::atomic::AtomicU64,
}

impl CountsCache {
    fn fresh(&self) -> Option<Counts> {
        let copy = self.copy.lock().unwrap_or_else(|p| p.into_inner());
        match copy.as_ref() {
            Some((at, generation, c))
                if at.elapsed() < COUNTS_MAX_AGE && *generation == self.generation() =>
            {
                Some(c.clone())
            }
            _ => None,
        }
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    fn keep(&self, generation: u64, c: &Counts) {
        let mut copy = self.copy.lock().unwrap_or_else(|p| p.into_inner());
        if generation == self.generation() {
            *copy = Some((std::time::Instant::now(), generation, c.clone()));
        }
    }

    /// Called after this process commits a change to the orders.
    pub fn invalidate(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        *self.copy.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

impl PgStore {
    /// The status counters, read at most [`COUNTS_MAX_AGE`] ago and after this process's last
    /// write.
    pub(super) async fn cached_counts(&self) -> Result<Counts, StoreError> {
        if let Some(c) = self.counts_cache.fresh() {
            return Ok(c);
        }
        let generation = self.counts_cache.generation();
        let rows: Vec<(String, i64)> = sqlx::query_as(COUNTS)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        let c = counts_of(rows);
        self.counts_cache.keep(generation, &c);
        Ok(c)
    }
}

/// The status counters: each counter's slots summed.
pub(super) const COUNTS: &str = "SELECT name, sum(n)::bigint AS n FROM order_counts GROUP BY name";

/// The status counters from each counter's total.
pub(super) fn counts_of(rows: impl IntoIterator<Item = (String, i64)>) -> Counts {
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
    c
}

/// The conditions of a list query's filters and search words; the `lead` filter is left to
/// the caller (see [`lead`]). Statuses and the test flag are literals (codes of ours), so
/// PostgreSQL plans each for its value.
fn push_filters(b: &mut QueryBuilder<Postgres>, q: &ListQuery, lead: Option<&str>) {
    let mut eq = |col: &str, v: String| {
        if lead != Some(col) {
            b.push(format!(" AND {col} = {v}"));
        }
    };
    if let Some(p) = q.payment {
        eq("payment_status", p.code().to_string());
    }
    if let Some(f) = q.fulfillment {
        eq("fulfillment_status", f.code().to_string());
    }
    if let Some(t) = q.test {
        eq("test", t.to_string());
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
}

/// The filter a list in date order reads through its own index, `(column, created_at,
/// number)`: the fulfilment status, else the payment status, else the test flag. Its value is a
/// literal (a code of ours, never the request's text).
///
/// It is written as a range, `column >= v AND column <= v`, with the column first in the
/// `ORDER BY`, and a cursor as `(column, created_at, number) < (v, …)`. As `column = v`,
/// PostgreSQL drops the column from the order (one value) and, when the value is common,
/// walks the date index skipping every newer order of another status instead: 29,000 rows and
/// 44 ms for "delivered" once the newest orders were unfulfilled.
fn lead(q: &ListQuery, sort: SortField) -> Option<(&'static str, String)> {
    if sort != SortField::Created {
        return None;
    }
    if let Some(f) = q.fulfillment {
        Some(("fulfillment_status", f.code().to_string()))
    } else if let Some(p) = q.payment {
        Some(("payment_status", p.code().to_string()))
    } else {
        q.test.map(|t| ("test", t.to_string()))
    }
}

/// The lead filter's range: `column >= v AND column <= v`, with the side a cursor bounds (it
/// adds `(column, created_at, number) < (v, …)`) left to it.
fn push_lead(
    b: &mut QueryBuilder<Postgres>,
    lead: &Option<(&str, String)>,
    desc: bool,
    cursor: bool,
) {
    let Some((c, v)) = lead else { return };
    let (first, back) = if desc { (">=", "<=") } else { ("<=", ">=") };
    b.push(format!(" AND {c} {first} {v}"));
    if !cursor {
        b.push(format!(" AND {c} {back} {v}"));
    }
}

impl PgStore {
    /// A page of orders.
    pub(super) async fn list(&self, q: &ListQuery) -> Result<ListPage, StoreError> {
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
        // A search in date order reads its driving word's postings.
        if let Some((word, others)) = search::driving_word(q) {
            let range = search::Range {
                desc: q.desc,
                after: cursor.as_ref().map(date_cursor).transpose()?,
            };
            if search::one_word(q, &others) {
                let limit = q.limit + 1;
                let mut b = search::one_word_page(ROW_COLUMNS, &word, q, &range, limit);
                let rows = b.build().fetch_all(&self.pool).await.map_err(db)?;
                // An empty page may be a word of too many terms (only the first ones read):
                // it is looked at again below.
                if let Some(r) = rows.first() {
                    let terms: i64 = r.try_get("terms").map_err(db)?;
                    if terms as usize <= search::MAX_TERMS {
                        return page_of(&rows, q);
                    }
                }
            }
            let terms = search::terms_beginning(&self.pool, &word).await?;
            if terms.len() <= search::MAX_TERMS {
                if terms.is_empty() {
                    return page_of(&[], q);
                }
                let limit = q.limit + 1;
                let mut b =
                    search::postings_query(ROW_COLUMNS, &terms, &others, q, &range, true, limit);
                let rows = b.build().fetch_all(&self.pool).await.map_err(db)?;
                return page_of(&rows, q);
            }
        }
        let mut b: QueryBuilder<Postgres> =
            QueryBuilder::new(format!("SELECT {ROW_COLUMNS} FROM orders o WHERE true"));
        let lead = lead(q, sort);
        push_filters(&mut b, q, lead.as_ref().map(|(c, _)| *c));
        let op = if q.desc { "<" } else { ">" };
        push_lead(&mut b, &lead, q.desc, cursor.is_some());
        if let Some(cur) = &cursor {
            if let Some((c, v)) = &lead {
                b.push(format!(" AND ({c}, created_at, number) {op} ({v}, "));
                push_value(&mut b, sort, &cur.value)?;
                b.push(", ").push_bind(cur.number as i64).push(")");
            } else if sort == SortField::Number {
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
            let first = lead
                .map(|(c, _)| format!("{c} {dir}, "))
                .unwrap_or_default();
            b.push(format!(" ORDER BY {first}{col} {dir}, number {dir}"));
        }
        // The limit is written into the statement, so that PostgreSQL keeps one plan for it
        // (with a parameter it plans the statement again on every call).
        b.push(format!(" LIMIT {}", q.limit + 1));
        let rows = b.build().fetch_all(&self.pool).await.map_err(db)?;
        page_of(&rows, q)
    }

    /// The numbers of the orders a list matches, up to `cap` (see
    /// [`crate::ports::OrderRepo::numbers_matching`]).
    pub(super) async fn matching(
        &self,
        q: &ListQuery,
        cap: usize,
    ) -> Result<Option<Vec<u64>>, StoreError> {
        // One query, stopped one past the cap: through the postings of a search's driving
        // word, or else through the list's index.
        let mut q = q.clone();
        q.sort = SortField::Created;
        let q = &q;
        if let Some((word, others)) = search::driving_word(q) {
            let terms = search::terms_beginning(&self.pool, &word).await?;
            if terms.len() <= search::MAX_TERMS {
                if terms.is_empty() {
                    return Ok(Some(Vec::new()));
                }
                let range = search::Range {
                    desc: q.desc,
                    after: None,
                };
                let join = search::needs_rows(q, &others);
                let mut b =
                    search::postings_query("s.number", &terms, &others, q, &range, join, cap + 1);
                let numbers: Vec<i64> = b
                    .build_query_scalar()
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                return Ok(
                    (numbers.len() <= cap).then(|| numbers.into_iter().map(|n| n as u64).collect())
                );
            }
        }
        let mut b: QueryBuilder<Postgres> =
            QueryBuilder::new("SELECT number FROM orders WHERE true");
        let lead = lead(q, SortField::Created);
        push_filters(&mut b, q, lead.as_ref().map(|(c, _)| *c));
        let dir = if q.desc { "DESC" } else { "ASC" };
        push_lead(&mut b, &lead, q.desc, false);
        let first = lead
            .map(|(c, _)| format!("{c} {dir}, "))
            .unwrap_or_default();
        b.push(format!(
            " ORDER BY {first}created_at {dir}, number {dir} LIMIT {}",
            cap + 1
        ));
        let numbers: Vec<i64> = b
            .build_query_scalar()
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        Ok((numbers.len() <= cap).then(|| numbers.into_iter().map(|n| n as u64).collect()))
    }
}
