//! The PostgreSQL store: the storage port on a database that any number of `orderdeck serve`
//! processes share. The schema (`migrations/`, embedded in the binary and applied on start) has
//! a column for everything the lists sort, filter and search by; an order's facts are kept in
//! `body` as the same versioned record the embedded store writes (`store::codec`).
//!
//! Correct with several instances: order numbers come from a `SEQUENCE`; an `Idempotency-Key`
//! is a unique key claimed in the order's own transaction; an order changes only at the version
//! it was decided on (`UPDATE … WHERE version = $expected`); counters are spread over slots so
//! intakes do not queue on one row. Serialization failures and deadlocks are retried in one
//! place ([`PgStore::retry`]). No advisory locks (see `docs/POSTGRES.md`).

pub mod check;
mod customers;
mod intake;
mod lists;
mod orders;
mod repos;
mod search;
mod settings;
pub mod testdb;
#[cfg(test)]
mod tests;
mod transfer;

use crate::domain::outbox::OutboxStatus;
use crate::domain::Order;
use crate::ports::{CustomerRecord, StoreError, Summary};
use crate::store::keys::{self, IndexFields};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use std::collections::BTreeSet;
use std::future::Future;

/// Connections per process unless told otherwise (`--database-pool`), besides the one that
/// listens for settings changes.
pub const POOL_SIZE: u32 = 16;
/// Slots per counter: concurrent intakes update different rows.
const COUNTER_SLOTS: i16 = 16;

/// The store, around a connection pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    settings_cache: std::sync::Arc<settings::SettingsCache>,
    counts_cache: std::sync::Arc<lists::CountsCache>,
    intakes: std::sync::Arc<intake::Intakes>,
}

/// A database failure as the port reports it (the cause kept as its source).
pub(crate) fn db(e: sqlx::Error) -> StoreError {
    StoreError::unavailable(e)
}

/// Whether a failure is worth running the transaction again: a serialization failure or a
/// deadlock.
fn retryable(e: &StoreError) -> bool {
    let StoreError::Unavailable(source) = e else {
        return false;
    };
    source
        .downcast_ref::<sqlx::Error>()
        .and_then(|e| e.as_database_error())
        .and_then(|d| d.code())
        .is_some_and(|c| c == "40001" || c == "40P01")
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/db`) and brings the schema up to
    /// date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with_pool(url, POOL_SIZE).await
    }

    /// As [`PgStore::connect`], with at most `connections` in the pool (at least one).
    pub async fn connect_with_pool(url: &str, connections: u32) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(connections.max(1))
            // A database that does not answer makes /readyz say so within seconds.
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(db)?;
        // No advisory lock (engines a merchant may move to lack them): when two servers start
        // at once and one loses the race to create the schema, it finds the schema made.
        let mut migrator = sqlx::migrate!("./migrations");
        migrator.set_locking(false);
        let mut attempt = 0;
        loop {
            match migrator.run(&pool).await {
                Ok(()) => break,
                Err(e) if attempt < 3 => {
                    log::warn!("migrating the database failed, trying again: {e}");
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
                Err(e) => return Err(StoreError::unavailable(e)),
            }
        }
        let settings_cache = std::sync::Arc::new(settings::SettingsCache::default());
        settings::listen(url, &settings_cache).await;
        Ok(PgStore {
            pool,
            settings_cache,
            counts_cache: Default::default(),
            intakes: Default::default(),
        })
    }

    /// The pool (for the tools that copy and check a whole store).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs `f` in a transaction, again (a few times) when the database reports a
    /// serialization failure or a deadlock.
    pub(crate) async fn retry<T, F, Fut>(&self, mut f: F) -> Result<T, StoreError>
    where
        F: FnMut(Transaction<'static, Postgres>) -> Fut,
        Fut: Future<Output = Result<(T, Transaction<'static, Postgres>), StoreError>>,
    {
        let mut attempt = 0;
        loop {
            let tx = self.pool.begin().await.map_err(db)?;
            let outcome = match f(tx).await {
                Ok((value, tx)) => tx.commit().await.map_err(db).map(|()| value),
                Err(e) => Err(e),
            };
            match outcome {
                Err(e) if retryable(&e) && attempt < 5 => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(5 << attempt)).await;
                }
                other => return other,
            }
        }
    }
}

/// The searchable text of a set of terms: " t1 t2 … " (a query word matches a term's start
/// with `LIKE '% word%'`, a whole term with `LIKE '% term %'`).
pub(crate) fn search_text(terms: &BTreeSet<String>) -> String {
    let mut s = String::from(" ");
    for t in terms {
        s.push_str(t);
        s.push(' ');
    }
    s
}

/// A word for use inside a `LIKE` pattern (`%`, `_` and `\` taken literally).
pub(crate) fn like_escape(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The status counters an order counts towards.
pub(crate) fn counter_names(o: &Order) -> Vec<String> {
    keys::counter_names(&IndexFields::of(o))
}

/// The outbox status as stored.
pub(crate) fn status_code(s: OutboxStatus) -> i16 {
    match s {
        OutboxStatus::Pending => 0,
        OutboxStatus::Sent => 1,
        OutboxStatus::Failed => 2,
    }
}

/// The lowercase name the customer sort orders by.
pub(crate) fn customer_sort(name: &str) -> String {
    name.to_lowercase()
}

/// An order's list columns.
pub(crate) struct Columns {
    pub summary: Summary,
    pub customer_sort: String,
    /// The order's search terms (posted in `order_terms`), and as one text (`search`).
    pub terms: BTreeSet<String>,
    pub search: String,
    pub body: Vec<u8>,
}

impl Columns {
    pub fn of(o: &Order) -> Result<Self, StoreError> {
        let terms = keys::search_words(o);
        Ok(Columns {
            summary: Summary::of(o),
            customer_sort: customer_sort(&o.customer.name),
            search: search_text(&terms),
            terms,
            body: crate::store::codec::encode(o)?,
        })
    }
}

/// A customer's search text.
pub(crate) fn customer_search(c: &CustomerRecord) -> String {
    search_text(&keys::customer_terms(c))
}

/// Which slot a counter change goes to.
pub(crate) fn counter_slot() -> i16 {
    rand::random_range(0..COUNTER_SLOTS)
}
