//! Search on PostgreSQL through term postings: `order_terms` holds one row per search term of
//! each order, keyed (term, created_at, number), so the orders with a term come newest first
//! straight from the index.
//!
//! A word matches the terms it begins. A page in date order takes the longest word, finds the
//! terms it begins (a few index probes: a loose scan of the key), and reads their postings
//! merged in date order (PostgreSQL's Merge Append over one backward index scan per term); each
//! order read is checked for the other words and the filters, and the read stops when the page
//! is full. The cost follows the page, not how many orders match. A word that begins more than
//! [`MAX_TERMS`] terms ("a", "1"), and lists in another order, use the trigram index instead.

use super::{db, like_escape};
use crate::ports::{ListQuery, SortField, StoreError};
use crate::store::keys;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};

/// The most terms one word is read through.
pub const MAX_TERMS: usize = 64;

/// The first string after every string that begins with `w` (in the byte order of
/// `COLLATE "C"`, which is the order of code points); `None` when there is none.
fn after_prefix(w: &str) -> Option<String> {
    let mut chars: Vec<char> = w.chars().collect();
    while let Some(c) = chars.pop() {
        let mut next = c as u32 + 1;
        while next <= char::MAX as u32 {
            if let Some(n) = char::from_u32(next) {
                chars.push(n);
                return Some(chars.into_iter().collect());
            }
            next += 1;
        }
    }
    None
}

/// Starts a query with `WITH RECURSIVE t(term) AS (…)`: the terms that begin `word`, one index
/// probe each (every step seeks the next term after the previous one). The bound is a plain
/// condition (never `OR`), so that it bounds the index scan.
fn terms_cte(word: &str) -> QueryBuilder<Postgres> {
    let hi = after_prefix(word);
    let mut b = QueryBuilder::new(
        "WITH RECURSIVE t(term) AS ((SELECT term FROM order_terms WHERE term >= ",
    );
    b.push_bind(word.to_string());
    if let Some(hi) = &hi {
        b.push(" AND term < ").push_bind(hi.clone());
    }
    b.push(
        " ORDER BY term LIMIT 1) UNION ALL \
         SELECT (SELECT term FROM order_terms WHERE term > t.term",
    );
    if let Some(hi) = hi {
        b.push(" AND term < ").push_bind(hi);
    }
    b.push(" ORDER BY term LIMIT 1) FROM t WHERE t.term IS NOT NULL)");
    b
}

/// The terms `word` begins, up to `MAX_TERMS + 1` of them (more means too many).
pub async fn terms_beginning(pool: &PgPool, word: &str) -> Result<Vec<String>, StoreError> {
    let mut b = terms_cte(word);
    b.push(format!(
        " SELECT term FROM t WHERE term IS NOT NULL LIMIT {}",
        MAX_TERMS + 1
    ));
    b.build_query_scalar().fetch_all(pool).await.map_err(db)
}

/// The conditions on a posting's date: after the cursor, within the query's dates.
fn push_range(b: &mut QueryBuilder<Postgres>, q: &ListQuery, range: &Range) {
    if let Some((at, number)) = range.after {
        let op = if range.desc { "<" } else { ">" };
        b.push(format!(" AND (created_at, number) {op} ("))
            .push_bind(at)
            .push(", ")
            .push_bind(number)
            .push(")");
    }
    if let Some(from) = q.created_from {
        b.push(" AND created_at >= ").push_bind(from);
    }
    if let Some(to) = q.created_before {
        b.push(" AND created_at < ").push_bind(to);
    }
}

/// Whether a search is one word and nothing else but dates: its page is then one query
/// ([`one_word_page`]).
pub fn one_word(q: &ListQuery, others: &[String]) -> bool {
    others.is_empty()
        && q.payment.is_none()
        && q.fulfillment.is_none()
        && q.test.is_none()
        && q.tags.is_empty()
}

/// A page of a one-word search in one query: the terms the word begins, the first `limit`
/// postings of each (enough: an order among the page's is among the first `limit` of each of
/// its terms), merged, and their orders. Each row also says how many terms the word begins
/// (up to `MAX_TERMS + 1`; more than [`MAX_TERMS`] and the page is not to be used).
pub fn one_word_page(
    columns: &str,
    word: &str,
    q: &ListQuery,
    range: &Range,
    limit: usize,
) -> QueryBuilder<Postgres> {
    let dir = if range.desc { "DESC" } else { "ASC" };
    let mut b = terms_cte(word);
    b.push(format!(
        ", terms AS (SELECT term FROM t WHERE term IS NOT NULL LIMIT {}) \
         SELECT {columns}, (SELECT count(*) FROM terms) AS terms FROM ( \
         SELECT DISTINCT ON (p.created_at, p.number) p.created_at, p.number \
         FROM terms CROSS JOIN LATERAL (SELECT created_at, number FROM order_terms \
         WHERE term = terms.term",
        MAX_TERMS + 1
    ));
    push_range(&mut b, q, range);
    b.push(format!(
        " ORDER BY created_at {dir}, number {dir} LIMIT {limit}) p \
         ORDER BY p.created_at {dir}, p.number {dir} LIMIT {limit}) s \
         JOIN orders o ON o.number = s.number ORDER BY s.created_at {dir}, s.number {dir}"
    ));
    b
}

/// The word a search reads its postings by: the longest (the likeliest to be rare), and the
/// others, which each order read is checked for.
pub fn driving_word(q: &ListQuery) -> Option<(String, Vec<String>)> {
    if q.sort != SortField::Created {
        return None;
    }
    let mut words = keys::query_terms(&q.q);
    if words.is_empty() {
        return None;
    }
    let longest = (0..words.len())
        .max_by_key(|&i| (words[i].chars().count(), std::cmp::Reverse(i)))
        .expect("a word");
    let w = words.remove(longest);
    Some((w, words))
}

/// Where a page in date order starts, and its direction.
pub struct Range {
    pub desc: bool,
    pub after: Option<(DateTime<Utc>, i64)>,
}

/// A query over the postings of `terms` merged in date order: `SELECT {select} FROM (…) s`,
/// joined to `orders o` when `join` (for the filters and the other words), up to `limit` rows.
pub fn postings_query(
    select: &str,
    terms: &[String],
    others: &[String],
    q: &ListQuery,
    range: &Range,
    join: bool,
    limit: usize,
) -> QueryBuilder<Postgres> {
    let dir = if range.desc { "DESC" } else { "ASC" };
    let mut b = QueryBuilder::new(format!(
        "SELECT DISTINCT ON (s.created_at, s.number) {select} FROM ("
    ));
    for (i, term) in terms.iter().enumerate() {
        if i > 0 {
            b.push(" UNION ALL ");
        }
        b.push("(SELECT created_at, number FROM order_terms WHERE term = ")
            .push_bind(term.clone());
        push_range(&mut b, q, range);
        b.push(format!(" ORDER BY created_at {dir}, number {dir})"));
    }
    b.push(") s");
    if join {
        b.push(" JOIN orders o ON o.number = s.number WHERE true");
        // Literal codes, as in the lists (`lists::push_filters`).
        if let Some(p) = q.payment {
            b.push(format!(" AND o.payment_status = {}", p.code()));
        }
        if let Some(f) = q.fulfillment {
            b.push(format!(" AND o.fulfillment_status = {}", f.code()));
        }
        if let Some(t) = q.test {
            b.push(format!(" AND o.test = {t}"));
        }
        if !q.tags.is_empty() {
            b.push(" AND o.tags @> ").push_bind(q.tags.clone());
        }
        for w in others {
            b.push(" AND o.search LIKE ")
                .push_bind(format!("% {}%", like_escape(w)));
        }
    }
    // A literal limit: PostgreSQL keeps one plan for the statement.
    b.push(format!(
        " ORDER BY s.created_at {dir}, s.number {dir} LIMIT {limit}"
    ));
    b
}

/// Whether a query needs the order rows besides the postings of its driving word.
pub fn needs_rows(q: &ListQuery, others: &[String]) -> bool {
    q.payment.is_some()
        || q.fulfillment.is_some()
        || q.test.is_some()
        || !q.tags.is_empty()
        || !others.is_empty()
}

/// Writes the postings of `added` and removes those of `removed` for an order.
pub async fn change_terms(
    conn: &mut PgConnection,
    number: u64,
    created_at: DateTime<Utc>,
    added: &[&String],
    removed: &[&String],
) -> Result<(), StoreError> {
    if !removed.is_empty() {
        sqlx::query(
            "DELETE FROM order_terms WHERE term = ANY($1) AND created_at = $2 AND number = $3",
        )
        .bind(removed)
        .bind(created_at)
        .bind(number as i64)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    if !added.is_empty() {
        sqlx::query(
            "INSERT INTO order_terms (term, created_at, number) \
             SELECT t, $2, $3 FROM unnest($1::text[]) AS t ON CONFLICT DO NOTHING",
        )
        .bind(added)
        .bind(created_at)
        .bind(number as i64)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_after_a_prefix_is_the_next_code_point() {
        assert_eq!(after_prefix("chlo").as_deref(), Some("chlp"));
        assert_eq!(after_prefix("chloé").as_deref(), Some("chloê"));
        assert_eq!(after_prefix("a\u{d7ff}").as_deref(), Some("a\u{e000}"));
        assert_eq!(after_prefix("a\u{10ffff}").as_deref(), Some("b"));
        assert_eq!(after_prefix("\u{10ffff}"), None);
        let (w, hi) = ("chlo", after_prefix("chlo").unwrap());
        for t in ["chlo", "chloé", "chlo\u{10ffff}x", "chlozzz"] {
            assert!(t >= w && t < hi.as_str(), "{t}");
        }
        for t in ["chln", "chlp", "chlq"] {
            assert!(!(t >= w && t < hi.as_str()), "{t}");
        }
    }
}
