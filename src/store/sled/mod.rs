//! The embedded store: the storage port ([`crate::ports::Storage`]) on sled, the default
//! backend. Everything that names sled lives under this folder.
//!
//! Trees: `orders` (number → order), `summaries` (number → list row), `order_ids` (id → number),
//! `idx` (sort/partition/sort-key/number → ∅), `terms` (term 0 block → which of the block's
//! 256 order numbers, 4,096 for a phone term, have the term; a search word finds the terms it
//! begins by skipping from one term's postings to the next),
//! `customers` (id → record), `customer_keys` ("e:"email / "p:"digits → id), `customer_terms`
//! (term 0 id → ∅), `meta` (counters, next number), `idempotency` (key → hash+number),
//! `tokens` (sha256 → record), `settings` (key → value), `outbox` (id → message), `outbox_due`
//! (due time, id → ∅), `outbox_by_order` (number, id → ∅), `members` (username → member),
//! `sessions` (sha256 of the cookie → session).
//!
//! Every write takes the snapshot gate for reading; a backup or a consistency check takes it for
//! writing, so it sees no write half-done across trees.

mod accounts;
pub mod backup;
pub mod check;
pub mod durability;
mod ops;
mod repos;
mod search;
mod slices;
mod streams;
#[cfg(test)]
mod tests;
mod transfer;

use crate::domain::outbox::{OutboxMessage, OutboxStatus};
use crate::domain::{CustomerId, Order};
use crate::ports::{CustomerRecord, StoreError, Summary};
use crate::store::codec::{self, decode, decode_u64, encode};
use crate::store::keys::{self, IndexFields};
use durability::GroupCommit;
use sled::transaction::Transactional;
use sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionError,
    TransactionalTree,
};
use sled::Tree;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Most index entries one list request may examine before it returns what it has with a cursor.
pub const SCAN_BUDGET: usize = 20_000;
/// Longest one list request looks before it returns what it has with a cursor (a page may then
/// hold no orders yet: the caller says "still searching", never "no orders").
pub const TIME_BUDGET: std::time::Duration = std::time::Duration::from_millis(150);

const FIRST_NUMBER: u64 = 1001;

/// Where the index layout in use is recorded (`meta` tree).
const INDEX_SCHEME_KEY: &[u8] = b"index_scheme";

/// The sled-backed store.
pub struct SledStore {
    db: sled::Db,
    orders: Tree,
    summaries: Tree,
    order_ids: Tree,
    idx: Tree,
    terms: Tree,
    customers: Tree,
    customer_keys: Tree,
    customer_terms: Tree,
    meta: Tree,
    idempotency: Tree,
    outbox: Tree,
    outbox_due: Tree,
    outbox_by_order: Tree,
    tokens: Tree,
    settings: Tree,
    members: Tree,
    sessions: Tree,
    commit: GroupCommit,
    /// Held for reading by every write, for writing by backups and checks (see the module doc).
    gate: std::sync::Arc<RwLock<()>>,
    /// The next order number to hand out. Numbers are taken before an intake's transaction
    /// (which records the highest stored); one whose transaction fails is skipped, never reused.
    numbers: AtomicU64,
    /// The `settings` tree, read once: every intake and action reads some twenty settings and
    /// notification switches, and once any transaction has run, sled makes every read wait
    /// while a transaction is in progress.
    settings_cache: RwLock<Option<std::collections::BTreeMap<String, String>>>,
    /// Most index entries one list request examines ([`SCAN_BUDGET`] unless tuned).
    scan_budget: usize,
    /// Most posting blocks a search word's matches are read whole from (see `search.rs`).
    gather_blocks: usize,
    /// What writes touch while a check runs.
    watch: Watch,
    /// Held by the running check (one at a time).
    pub(crate) checking: std::sync::Mutex<()>,
    /// Held while the first member (the owner) is added.
    first_member: std::sync::Mutex<()>,
    /// Sign-in allowances by key (one process serves this store: memory is shared enough).
    pub(crate) attempts:
        std::sync::Mutex<std::collections::HashMap<String, chrono::DateTime<chrono::Utc>>>,
}

/// Read access to every tree of the store, for the consistency check and backups.
pub(crate) struct StoreTrees<'a> {
    pub orders: &'a Tree,
    pub summaries: &'a Tree,
    pub order_ids: &'a Tree,
    pub idx: &'a Tree,
    pub terms: &'a Tree,
    pub customers: &'a Tree,
    pub customer_keys: &'a Tree,
    pub customer_terms: &'a Tree,
    pub meta: &'a Tree,
    pub idempotency: &'a Tree,
    pub outbox: &'a Tree,
    pub outbox_due: &'a Tree,
    pub outbox_by_order: &'a Tree,
}

type Tx<T> = ConflictableTransactionResult<T, StoreError>;

/// sled failing to read or write is the backend being unavailable (the cause is kept).
pub(crate) fn db_err(e: sled::Error) -> StoreError {
    StoreError::unavailable(e)
}

/// A failure described in words (no error value to keep as the source).
pub(crate) fn unavailable(message: String) -> StoreError {
    StoreError::unavailable(std::io::Error::other(message))
}

// sled failing to read or write is the backend being unavailable; the adapter's `?` on sled
// calls converts so (the port itself names no engine).
impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        db_err(e)
    }
}
pub(crate) type KvIter = Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>>;

fn abort<T>(e: StoreError) -> Tx<T> {
    Err(ConflictableTransactionError::Abort(e))
}

fn tx_err(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::unavailable(e),
    }
}

fn lift<T>(r: Result<T, StoreError>) -> Tx<T> {
    r.map_err(ConflictableTransactionError::Abort)
}

/// Views of the trees an order write touches, in a fixed order.
struct OrderTx<'a> {
    orders: &'a TransactionalTree,
    summaries: &'a TransactionalTree,
    order_ids: &'a TransactionalTree,
    idx: &'a TransactionalTree,
    terms: &'a TransactionalTree,
    customers: &'a TransactionalTree,
    customer_keys: &'a TransactionalTree,
    customer_terms: &'a TransactionalTree,
    meta: &'a TransactionalTree,
    idempotency: &'a TransactionalTree,
    outbox: &'a TransactionalTree,
    outbox_due: &'a TransactionalTree,
    outbox_by_order: &'a TransactionalTree,
    /// Notes the orders and customers a write touches while a check runs.
    watch: &'a Watch,
}

/// What the writes touched since a check started watching (`None`: no check is running).
#[derive(Debug, Default)]
pub(crate) struct Touched {
    pub orders: std::collections::HashSet<u64>,
    pub customers: std::collections::HashSet<CustomerId>,
}

/// Shared between the writers and a running check.
pub(crate) type Watch = std::sync::Mutex<Option<Touched>>;

/// The counters an order with these fields counts towards, as `meta` keys.
pub(crate) fn counter_keys(f: &IndexFields) -> Vec<Vec<u8>> {
    keys::counter_names(f)
        .into_iter()
        .map(String::into_bytes)
        .collect()
}

fn bump(t: &TransactionalTree, key: &[u8], delta: i64) -> Tx<()> {
    let cur = match t.get(key)? {
        Some(v) => lift(decode_u64("counter", &v))?,
        None => 0,
    };
    let next = if delta < 0 {
        cur.saturating_sub(delta.unsigned_abs())
    } else {
        cur + delta as u64
    };
    t.insert(key, &next.to_be_bytes())?;
    Ok(())
}

/// A customer's search terms.
pub(crate) fn customer_terms_of(c: &CustomerRecord) -> BTreeSet<String> {
    keys::customer_terms(c)
}

/// A customer search posting: term, separator, customer id.
pub(crate) fn customer_term_key(term: &str, id: CustomerId) -> Vec<u8> {
    let mut k = term.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(id.0.as_bytes());
    k
}

use keys::contact_key;

/// The `outbox_due` key of a pending message.
pub(crate) fn due_key(m: &OutboxMessage) -> Vec<u8> {
    let mut k = keys::time_key(m.next_attempt_at).to_vec();
    k.extend_from_slice(m.id.as_bytes());
    k
}

pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The `summaries` record of an order: its list row, then its search terms (decoded only when
/// a search has to check them).
pub(crate) fn summary_record(s: &Summary, terms: &BTreeSet<String>) -> Result<Vec<u8>, StoreError> {
    codec::encode_with_tail(s, terms)
}

/// Reads a `summaries` record's list row, and its terms when `with_terms`.
pub(crate) fn read_summary(
    bytes: &[u8],
    with_terms: bool,
) -> Result<(Summary, Vec<String>), StoreError> {
    let (s, tail) = codec::decode_row("summary", bytes)?;
    let terms = if with_terms {
        codec::decode_tail("summary terms", tail)?
    } else {
        Vec::new()
    };
    Ok((s, terms))
}

impl OrderTx<'_> {
    /// Adds an order to its term's posting block, or takes it out (a block left empty goes).
    fn set_posting(&self, term: &str, number: u64, on: bool) -> Tx<()> {
        let key = keys::posting_key(term, number);
        let was = self.terms.get(&key)?;
        match keys::posting_with(term, was.as_deref(), number, on) {
            None => abort(StoreError::Corrupt(format!(
                "search posting of {term:?} is not a list of orders"
            ))),
            Some(None) => {
                self.terms.remove(key)?;
                Ok(())
            }
            Some(Some(v)) => {
                if was.as_deref() != Some(v.as_slice()) {
                    self.terms.insert(key, v)?;
                }
                Ok(())
            }
        }
    }

    /// Writes an order and brings every derived entry (summary, indexes, terms, counters,
    /// customer order counts) from `old`'s state to `new`'s.
    fn write_order(&self, old: Option<&Order>, new: &Order) -> Tx<()> {
        if let Some(t) = self
            .watch
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            t.orders.insert(new.number);
            t.customers.insert(new.customer.id);
            if let Some(o) = old {
                t.customers.insert(o.customer.id);
            }
        }
        let number = new.number.to_be_bytes();
        self.orders.insert(&number, lift(encode(new))?)?;
        let new_terms = keys::order_terms(new);
        let old_terms = old.map(keys::order_terms).unwrap_or_default();
        let summary = Summary::of(new);
        let row_terms = keys::row_terms(new);
        // A note or a timeline line leaves the list row as it was: no need to write it again.
        if old.is_none_or(|o| Summary::of(o) != summary || keys::row_terms(o) != row_terms) {
            self.summaries
                .insert(&number, lift(summary_record(&summary, &row_terms))?)?;
        }
        let new_f = IndexFields::of(new);
        let old_f = old.map(IndexFields::of);
        let new_keys = keys::index_keys(&new_f);
        let old_keys = old_f.as_ref().map(keys::index_keys).unwrap_or_default();
        for k in old_keys.difference(&new_keys) {
            self.idx.remove(k.as_slice())?;
        }
        for k in new_keys.difference(&old_keys) {
            self.idx.insert(k.as_slice(), &[])?;
        }
        for t in old_terms.difference(&new_terms) {
            self.set_posting(t, new.number, false)?;
        }
        for t in new_terms.difference(&old_terms) {
            self.set_posting(t, new.number, true)?;
        }
        let old_counters = old_f.as_ref().map(counter_keys).unwrap_or_default();
        let new_counters = counter_keys(&new_f);
        for k in &old_counters {
            if !new_counters.contains(k) {
                bump(self.meta, k, -1)?;
            }
        }
        for k in &new_counters {
            if !old_counters.contains(k) {
                bump(self.meta, k, 1)?;
            }
        }
        if let Some(old) = old {
            if old.customer.id != new.customer.id {
                self.adjust_customer_orders(old.customer.id, -1)?;
                self.adjust_customer_orders(new.customer.id, 1)?;
            }
        }
        Ok(())
    }

    fn adjust_customer_orders(&self, id: CustomerId, delta: i64) -> Tx<()> {
        if let Some(bytes) = self.customers.get(id.0.as_bytes())? {
            let mut c: CustomerRecord = lift(decode("customer", &bytes))?;
            c.orders_count = if delta < 0 {
                c.orders_count.saturating_sub(1)
            } else {
                c.orders_count + 1
            };
            self.customers.insert(id.0.as_bytes(), lift(encode(&c))?)?;
        }
        Ok(())
    }

    fn put_customer(&self, old: Option<&CustomerRecord>, c: &CustomerRecord) -> Tx<()> {
        self.customers.insert(c.id.0.as_bytes(), lift(encode(c))?)?;
        let new_terms = customer_terms_of(c);
        let old_terms = old.map(customer_terms_of).unwrap_or_default();
        for t in old_terms.difference(&new_terms) {
            self.customer_terms.remove(customer_term_key(t, c.id))?;
        }
        for t in new_terms.difference(&old_terms) {
            self.customer_terms
                .insert(customer_term_key(t, c.id), &[])?;
        }
        let mut contact_keys = Vec::new();
        if !c.email.is_empty() {
            contact_keys.push(format!("e:{}", c.email));
        }
        let d = keys::digits(&c.phone);
        if !d.is_empty() {
            contact_keys.push(format!("p:{d}"));
        }
        for k in contact_keys {
            let current = self.customer_keys.get(k.as_bytes())?;
            if current.as_deref() != Some(c.id.0.as_bytes().as_slice()) {
                self.customer_keys.insert(k.as_bytes(), c.id.0.as_bytes())?;
            }
        }
        Ok(())
    }

    /// Finds the customer with this email (or phone when there is no email), creating one with
    /// `new_id` if new, and counts one more order for them.
    fn resolve_contact(
        &self,
        name: &str,
        email: &str,
        phone: &str,
        now: chrono::DateTime<chrono::Utc>,
        new_id: CustomerId,
    ) -> Tx<CustomerId> {
        let key = contact_key(email, phone);
        let existing = match self.customer_keys.get(key.as_bytes())? {
            Some(id) => {
                let id = uuid::Uuid::from_slice(&id).map_err(|e| {
                    ConflictableTransactionError::Abort(StoreError::Corrupt(format!(
                        "customer key: {e}"
                    )))
                })?;
                match self.customers.get(id.as_bytes())? {
                    Some(b) => Some(lift(decode::<CustomerRecord>("customer", &b))?),
                    None => None,
                }
            }
            None => None,
        };
        let (old, mut rec) = match existing {
            Some(c) => (Some(c.clone()), c),
            None => (
                None,
                CustomerRecord {
                    id: new_id,
                    name: name.to_string(),
                    email: email.to_string(),
                    phone: phone.to_string(),
                    created_at: now,
                    orders_count: 0,
                },
            ),
        };
        // The latest checkout's contact details are the freshest.
        rec.name = name.to_string();
        if !phone.is_empty() {
            rec.phone = phone.to_string();
        }
        if !email.is_empty() {
            rec.email = email.to_string();
        }
        rec.orders_count += 1;
        self.put_customer(old.as_ref(), &rec)?;
        Ok(rec.id)
    }

    /// Records that numbers below `next` are taken (the stored mark only moves up: numbers
    /// are handed out in memory and their transactions may commit out of order).
    fn raise_next_number(&self, next: u64) -> Tx<()> {
        let stored = match self.meta.get(b"next_number")? {
            Some(v) => lift(decode_u64("next number", &v))?,
            None => FIRST_NUMBER,
        };
        if next > stored {
            self.meta.insert(b"next_number", &next.to_be_bytes())?;
        }
        Ok(())
    }

    fn enqueue(&self, msgs: &[OutboxMessage]) -> Tx<()> {
        for m in msgs {
            self.outbox.insert(m.id.as_bytes(), lift(encode(m))?)?;
            if m.status == OutboxStatus::Pending {
                self.outbox_due.insert(due_key(m), &[])?;
            }
            if let Some(n) = m.order_number {
                let mut k = n.to_be_bytes().to_vec();
                k.extend_from_slice(m.id.as_bytes());
                self.outbox_by_order.insert(k, &[])?;
            }
        }
        Ok(())
    }

    fn get_order(&self, number: u64) -> Tx<Order> {
        match self.orders.get(number.to_be_bytes())? {
            Some(b) => lift(decode("order", &b)),
            None => abort(StoreError::NotFound(format!("order {number}"))),
        }
    }
}

/// sled's cache of tree nodes for the server, in megabytes (`--cache-mb`). Measured at 100,000
/// demo orders under load: 16 MB left 186 MB resident and 476 new orders a second, 64 MB
/// 254 MB and 542 a second (`bench/RESULTS.md`); search answered within 17 ms at p99 either way.
pub const SERVE_CACHE_MB: u64 = 16;
/// sled's cache for the command-line tools (`demo`, `copy`, `check`, `backup`): short-lived
/// bulk reads and writes, where a larger cache halves a demo's seeding time.
pub const TOOL_CACHE_MB: u64 = 64;

/// Where the sled database lives inside a data directory.
pub(crate) fn db_path(dir: &Path) -> std::path::PathBuf {
    dir.join("db")
}

impl SledStore {
    /// Opens (or creates) a store in `dir` with a cache of [`TOOL_CACHE_MB`]. Fails with a
    /// clear message when another process holds the directory.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with_cache(dir, TOOL_CACHE_MB)
    }

    /// [`Self::open`] with sled's cache of tree nodes limited to `cache_mb` megabytes (the
    /// server's `--cache-mb`).
    pub fn open_with_cache(dir: &Path, cache_mb: u64) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| unavailable(format!("cannot create {}: {e}", dir.display())))?;
        let open = || {
            sled::Config::new()
                .path(db_path(dir))
                .cache_capacity(cache_mb.max(1) * 1024 * 1024)
                .flush_every_ms(Some(1000))
                .open()
        };
        let is_locked = |io: &std::io::Error| {
            io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("lock")
        };
        // A database dropped a moment ago (a restore, a restart) releases its lock from sled's
        // background threads: wait briefly for it before calling the directory busy.
        let mut attempt = open();
        for _ in 0..20 {
            match &attempt {
                Err(sled::Error::Io(io)) if is_locked(io) => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    attempt = open();
                }
                _ => break,
            }
        }
        let db = attempt.map_err(|e| match e {
            sled::Error::Io(io) if is_locked(&io) => unavailable(format!(
                "the data directory {} is in use by another orderdeck process ({io})",
                dir.display()
            )),
            other => db_err(other),
        })?;
        let t = |name: &str| db.open_tree(name);
        let flush_db = db.clone();
        let commit = GroupCommit::start(Box::new(move || {
            flush_db.flush().map(|_| ()).map_err(|e| e.to_string())
        }));
        let store = SledStore {
            orders: t("orders")?,
            summaries: t("summaries")?,
            order_ids: t("order_ids")?,
            idx: t("idx")?,
            terms: t("terms")?,
            customers: t("customers")?,
            customer_keys: t("customer_keys")?,
            customer_terms: t("customer_terms")?,
            meta: t("meta")?,
            idempotency: t("idempotency")?,
            outbox: t("outbox")?,
            outbox_due: t("outbox_due")?,
            outbox_by_order: t("outbox_by_order")?,
            tokens: t("tokens")?,
            settings: t("settings")?,
            members: t("members")?,
            sessions: t("sessions")?,
            db,
            commit,
            gate: std::sync::Arc::new(RwLock::new(())),
            numbers: AtomicU64::new(FIRST_NUMBER),
            settings_cache: RwLock::new(None),
            scan_budget: SCAN_BUDGET,
            gather_blocks: search::WORD_GATHER_BLOCKS,
            watch: Watch::default(),
            checking: std::sync::Mutex::new(()),
            first_member: std::sync::Mutex::new(()),
            attempts: std::sync::Mutex::new(std::collections::HashMap::new()),
        };
        store.ensure_index_scheme()?;
        let next = match store.meta.get(b"next_number")? {
            Some(v) => decode_u64("next number", &v)?,
            None => FIRST_NUMBER,
        };
        store.numbers.store(next, Ordering::SeqCst);
        Ok(store)
    }

    /// Rebuilds the list rows and indexes from the orders when they were written with another
    /// layout than [`keys::INDEX_SCHEME`] (once, on the first start after an upgrade or a
    /// restore of an older backup). Interrupted, it starts over on the next open.
    fn ensure_index_scheme(&self) -> Result<(), StoreError> {
        let stored = match self.meta.get(INDEX_SCHEME_KEY)? {
            Some(v) => decode_u64("index scheme", &v)?,
            None if self.orders.is_empty() => 0,
            // Stores from before the scheme was recorded used layout 1.
            None => 1,
        };
        if stored == keys::INDEX_SCHEME {
            return Ok(());
        }
        // Layouts before 5 kept every term once more in a `vocab` tree.
        if stored != 0 && stored < 5 {
            log::info!("dropping the search vocabulary (layout {stored} -> 5): search words now find their terms in the postings");
            self.db.drop_tree("vocab")?;
        }
        if stored != 0 && stored < 7 {
            log::info!(
                "rebuilding list rows, indexes and search postings for {} orders (layout {stored} -> {})",
                self.orders.len(),
                keys::INDEX_SCHEME
            );
            self.idx.clear()?;
            self.summaries.clear()?;
            self.terms.clear()?;
            let mut rows = sled::Batch::default();
            let mut idx = sled::Batch::default();
            // Orders are read in number order, so a block's orders are all gathered before the
            // batch holding it is written (a block is never split over two batches).
            type Blocks = BTreeMap<Vec<u8>, (u64, Vec<u16>)>;
            let mut postings: Blocks = BTreeMap::new();
            let mut pending = 0usize;
            let mut block = 0;
            let write_postings = |postings: &mut Blocks| -> Result<(), StoreError> {
                let mut batch = sled::Batch::default();
                for (k, (width, offsets)) in std::mem::take(postings) {
                    batch.insert(k, keys::block_value(width, &offsets));
                }
                Ok(self.terms.apply_batch(batch)?)
            };
            for item in self.orders.iter() {
                let (k, v) = item?;
                let order: Order = decode("order", &v)?;
                let terms = keys::order_terms(&order);
                // Every block width divides the widest.
                if pending >= 5_000 && order.number / keys::PHONE_BLOCK_ORDERS != block {
                    self.summaries.apply_batch(std::mem::take(&mut rows))?;
                    self.idx.apply_batch(std::mem::take(&mut idx))?;
                    write_postings(&mut postings)?;
                    pending = 0;
                }
                block = order.number / keys::PHONE_BLOCK_ORDERS;
                for t in &terms {
                    // Numbers ascend, so each list stays in order.
                    let width = keys::block_orders(t.as_bytes());
                    postings
                        .entry(keys::posting_key(t, order.number))
                        .or_insert_with(|| (width, Vec::new()))
                        .1
                        .push(keys::block_offset(width, order.number));
                }
                rows.insert(
                    k,
                    summary_record(&Summary::of(&order), &keys::row_terms(&order))?,
                );
                for key in keys::index_keys(&IndexFields::of(&order)) {
                    idx.insert(key, &[]);
                }
                pending += 1;
            }
            self.summaries.apply_batch(rows)?;
            self.idx.apply_batch(idx)?;
            write_postings(&mut postings)?;
        }
        // Customer postings last changed in layout 4.
        if stored != 0 && stored < 4 {
            self.customer_terms.clear()?;
            let mut customer_postings = sled::Batch::default();
            for (i, item) in self.customers.iter().enumerate() {
                let (_, v) = item?;
                let c: CustomerRecord = decode("customer", &v)?;
                for t in customer_terms_of(&c) {
                    customer_postings.insert(customer_term_key(&t, c.id), &[]);
                }
                if i % 5_000 == 4_999 {
                    self.customer_terms
                        .apply_batch(std::mem::take(&mut customer_postings))?;
                }
            }
            self.customer_terms.apply_batch(customer_postings)?;
        }
        self.meta
            .insert(INDEX_SCHEME_KEY, &keys::INDEX_SCHEME.to_be_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    /// Every tree, read-only by convention (checks and backups).
    pub(crate) fn trees(&self) -> StoreTrees<'_> {
        StoreTrees {
            orders: &self.orders,
            summaries: &self.summaries,
            order_ids: &self.order_ids,
            idx: &self.idx,
            terms: &self.terms,
            customers: &self.customers,
            customer_keys: &self.customer_keys,
            customer_terms: &self.customer_terms,
            meta: &self.meta,
            idempotency: &self.idempotency,
            outbox: &self.outbox,
            outbox_due: &self.outbox_due,
            outbox_by_order: &self.outbox_by_order,
        }
    }

    /// The snapshot gate, for sibling stores (accounts) that write into the same database.
    pub fn snapshot_gate(&self) -> std::sync::Arc<RwLock<()>> {
        self.gate.clone()
    }

    /// Pauses every write of this store until the guard is dropped (a consistent view for a
    /// backup or a check). Do not write through the store while holding it.
    pub(crate) fn pause_writes(&self) -> RwLockWriteGuard<'_, ()> {
        self.gate.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts noting what writes touch; returns what they touched since the last call.
    pub(crate) fn watch_writes(&self) -> Touched {
        self.watch
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(Touched::default())
            .unwrap_or_default()
    }

    /// Stops noting what writes touch.
    pub(crate) fn unwatch_writes(&self) {
        *self.watch.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Taken by every write for its duration.
    fn write_gate(&self) -> RwLockReadGuard<'_, ()> {
        self.gate.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Flushes everything to disk now (command-line tools, shutdown).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// The underlying database, for sibling stores (accounts, outbox) that keep their own trees
    /// and share this store's durability.
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    /// Bytes the database takes on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }

    fn order_tx<A>(&self, f: impl Fn(&OrderTx<'_>) -> Tx<A>) -> Result<A, StoreError> {
        let trees: [&Tree; 13] = [
            &self.orders,
            &self.summaries,
            &self.order_ids,
            &self.idx,
            &self.terms,
            &self.customers,
            &self.customer_keys,
            &self.customer_terms,
            &self.meta,
            &self.idempotency,
            &self.outbox,
            &self.outbox_due,
            &self.outbox_by_order,
        ];
        let _gate = self.write_gate();
        trees[..]
            .transaction(|v: &Vec<TransactionalTree>| {
                let tx = OrderTx {
                    orders: &v[0],
                    summaries: &v[1],
                    order_ids: &v[2],
                    idx: &v[3],
                    terms: &v[4],
                    customers: &v[5],
                    customer_keys: &v[6],
                    customer_terms: &v[7],
                    meta: &v[8],
                    idempotency: &v[9],
                    outbox: &v[10],
                    outbox_due: &v[11],
                    outbox_by_order: &v[12],
                    watch: &self.watch,
                };
                f(&tx)
            })
            .map_err(tx_err)
    }

    /// The customer these contact details name today, if any (read outside a transaction).
    pub(crate) fn contact_customer(
        &self,
        email: &str,
        phone: &str,
    ) -> Result<Option<CustomerRecord>, StoreError> {
        let key = contact_key(email, phone);
        let Some(id) = self
            .customer_keys
            .get(key.as_bytes())?
            .and_then(|id| uuid::Uuid::from_slice(&id).ok())
        else {
            return Ok(None);
        };
        match self.customers.get(id.as_bytes())? {
            Some(b) => Ok(Some(decode("customer", &b)?)),
            None => Ok(None),
        }
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        self.commit.stop();
        let _ = self.db.flush();
    }
}
