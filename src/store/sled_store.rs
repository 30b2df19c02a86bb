//! The sled implementation of [`OrderStore`].
//!
//! Trees: `orders` (number → order), `summaries` (number → list row), `order_ids` (id → number),
//! `idx` (sort/partition/sort-key/number → ∅), `terms` (term 0 number → ∅), `vocab` (term → ∅),
//! `customers` (id → record), `customer_keys` ("e:"email / "p:"digits → id), `customer_terms`
//! (term 0 id → ∅), `meta` (counters, next number), `idempotency` (key → hash+number),
//! `tokens` (sha256 → record), `settings` (key → value), `outbox` (id → message), `outbox_due`
//! (due time, id → ∅), `outbox_by_order` (number, id → ∅).
//!
//! Every write takes the snapshot gate for reading; a backup or a consistency check takes it for
//! writing, so it sees no write half-done across trees.

use super::codec::{decode, decode_u64, encode};
use super::durability::GroupCommit;
use super::keys::{self, IndexFields, SortField};
use super::*;
use sled::transaction::Transactional;
use sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionError,
    TransactionalTree,
};
use sled::Tree;
use std::collections::{BTreeSet, BinaryHeap, HashSet};
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Most index entries one list request may examine before it returns what it has with a cursor.
pub const SCAN_BUDGET: usize = 20_000;
/// Most terms a search word may expand to before the search falls back to a bounded index scan.
const MAX_EXPANSION: usize = 64;
/// Most matches a search sorts in memory when sorted by something other than date.
const SORT_CAP: usize = 2_000;

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
    vocab: Tree,
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
    commit: GroupCommit,
    /// Held for reading by every write, for writing by backups and checks (see the module doc).
    gate: std::sync::Arc<RwLock<()>>,
    /// The next order number to hand out. Numbers are taken before an intake's transaction
    /// (which records the highest stored); one whose transaction fails is skipped, never reused.
    numbers: AtomicU64,
    /// The `settings` tree, read once: every intake and action reads some twenty settings and
    /// notification switches, and once any transaction has run, sled makes every read wait
    /// while a transaction is in progress.
    settings_cache: RwLock<Option<std::collections::HashMap<String, String>>>,
}

/// Read access to every tree of the store, for the consistency check and backups.
pub(crate) struct StoreTrees<'a> {
    pub orders: &'a Tree,
    pub summaries: &'a Tree,
    pub order_ids: &'a Tree,
    pub idx: &'a Tree,
    pub terms: &'a Tree,
    pub vocab: &'a Tree,
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
type KvIter = Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>>;

fn abort<T>(e: StoreError) -> Tx<T> {
    Err(ConflictableTransactionError::Abort(e))
}

fn tx_err(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::Db(e),
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
    vocab: &'a TransactionalTree,
    customers: &'a TransactionalTree,
    customer_keys: &'a TransactionalTree,
    customer_terms: &'a TransactionalTree,
    meta: &'a TransactionalTree,
    idempotency: &'a TransactionalTree,
    outbox: &'a TransactionalTree,
    outbox_due: &'a TransactionalTree,
    outbox_by_order: &'a TransactionalTree,
}

/// The counters an order with these fields counts towards.
pub(crate) fn counter_keys(f: &IndexFields) -> Vec<Vec<u8>> {
    vec![
        b"c:all".to_vec(),
        format!("c:test:{}", u8::from(f.test)).into_bytes(),
        format!("c:ps:{}", f.payment.code()).into_bytes(),
        format!("c:fs:{}", f.fulfillment.code()).into_bytes(),
    ]
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
    let mut out = BTreeSet::new();
    keys::terms_of_text(&c.name, &mut out);
    keys::terms_of_text(&c.email, &mut out);
    let d = keys::digits(&c.phone);
    if !d.is_empty() {
        out.insert(d);
    }
    out
}

/// A customer search posting: term, separator, customer id.
pub(crate) fn customer_term_key(term: &str, id: CustomerId) -> Vec<u8> {
    let mut k = term.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(id.0.as_bytes());
    k
}

/// The `customer_keys` key an intake finds its customer by: the email, or the phone's digits
/// when there is no email.
fn contact_key(email: &str, phone: &str) -> String {
    if email.is_empty() {
        format!("p:{}", keys::digits(phone))
    } else {
        format!("e:{email}")
    }
}

/// The `outbox_due` key of a pending message.
pub(crate) fn due_key(m: &OutboxMessage) -> Vec<u8> {
    let mut k = keys::time_key(m.next_attempt_at).to_vec();
    k.extend_from_slice(m.id.as_bytes());
    k
}

fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
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
    let (s, tail) = codec::decode_head::<Summary>("summary", bytes)?;
    let terms = if with_terms {
        codec::decode_tail("summary terms", tail)?
    } else {
        Vec::new()
    };
    Ok((s, terms))
}

impl OrderTx<'_> {
    /// Writes an order and brings every derived entry (summary, indexes, terms, counters,
    /// customer order counts) from `old`'s state to `new`'s.
    fn write_order(&self, old: Option<&Order>, new: &Order) -> Tx<()> {
        let number = new.number.to_be_bytes();
        self.orders.insert(&number, lift(encode(new))?)?;
        let new_terms = keys::order_terms(new);
        let old_terms = old.map(keys::order_terms).unwrap_or_default();
        let summary = Summary::of(new);
        // A note or a timeline line leaves the list row as it was: no need to write it again.
        if old.is_none_or(|o| Summary::of(o) != summary || old_terms != new_terms) {
            self.summaries
                .insert(&number, lift(summary_record(&summary, &new_terms))?)?;
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
            self.terms.remove(keys::term_key(t, new.number))?;
        }
        for t in new_terms.difference(&old_terms) {
            self.terms.insert(keys::term_key(t, new.number), &[])?;
            // Reads are much cheaper than writes in sled: most terms are already known.
            if self.vocab.get(t.as_bytes())?.is_none() {
                self.vocab.insert(t.as_bytes(), &[])?;
            }
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

    /// Finds the customer by email (or phone when there is no email), creating one if new.
    fn resolve_customer(&self, new: &NewOrder) -> Tx<CustomerId> {
        let v = &new.valid;
        self.resolve_contact(
            &v.customer_name,
            &v.customer_email,
            &v.customer_phone,
            new.now,
            new.new_customer_id,
        )
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

/// Where the sled database lives inside a data directory.
pub(crate) fn db_path(dir: &Path) -> std::path::PathBuf {
    dir.join("db")
}

impl SledStore {
    /// Opens (or creates) a store in `dir`. Fails with a clear message when another process
    /// holds the directory.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Durability(format!("cannot create {}: {e}", dir.display())))?;
        let open = || {
            sled::Config::new()
                .path(db_path(dir))
                .cache_capacity(64 * 1024 * 1024)
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
            sled::Error::Io(io) if is_locked(&io) => StoreError::Durability(format!(
                "the data directory {} is in use by another orderdeck process ({io})",
                dir.display()
            )),
            other => StoreError::Db(other),
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
            vocab: t("vocab")?,
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
            db,
            commit,
            gate: std::sync::Arc::new(RwLock::new(())),
            numbers: AtomicU64::new(FIRST_NUMBER),
            settings_cache: RwLock::new(None),
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
        if stored != 0 {
            log::info!(
                "rebuilding list rows and indexes for {} orders (layout {stored} -> {})",
                self.orders.len(),
                keys::INDEX_SCHEME
            );
            self.idx.clear()?;
            self.summaries.clear()?;
            let mut rows = sled::Batch::default();
            let mut idx = sled::Batch::default();
            let mut pending = 0usize;
            for item in self.orders.iter() {
                let (k, v) = item?;
                let order: Order = decode("order", &v)?;
                let terms = keys::order_terms(&order);
                rows.insert(k, summary_record(&Summary::of(&order), &terms)?);
                for key in keys::index_keys(&IndexFields::of(&order)) {
                    idx.insert(key, &[]);
                }
                pending += 1;
                if pending >= 5_000 {
                    self.summaries.apply_batch(std::mem::take(&mut rows))?;
                    self.idx.apply_batch(std::mem::take(&mut idx))?;
                    pending = 0;
                }
            }
            self.summaries.apply_batch(rows)?;
            self.idx.apply_batch(idx)?;
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
            vocab: &self.vocab,
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

    /// Pauses every write of this store until the guard is dropped (a consistent view for a
    /// backup or a check). Do not write through the store while holding it.
    /// The snapshot gate, for sibling stores (accounts) that write into the same database.
    pub fn snapshot_gate(&self) -> std::sync::Arc<RwLock<()>> {
        self.gate.clone()
    }

    pub(crate) fn pause_writes(&self) -> RwLockWriteGuard<'_, ()> {
        self.gate.write().unwrap_or_else(|p| p.into_inner())
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
        let trees: [&Tree; 14] = [
            &self.orders,
            &self.summaries,
            &self.order_ids,
            &self.idx,
            &self.terms,
            &self.vocab,
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
                    vocab: &v[5],
                    customers: &v[6],
                    customer_keys: &v[7],
                    customer_terms: &v[8],
                    meta: &v[9],
                    idempotency: &v[10],
                    outbox: &v[11],
                    outbox_due: &v[12],
                    outbox_by_order: &v[13],
                };
                f(&tx)
            })
            .map_err(tx_err)
    }

    /// The customer an intake's contact details name today, if any (read outside a
    /// transaction; the transaction resolves it again).
    fn known_customer(&self, new: &NewOrder) -> Result<Option<CustomerId>, StoreError> {
        let key = contact_key(&new.valid.customer_email, &new.valid.customer_phone);
        Ok(self
            .customer_keys
            .get(key.as_bytes())?
            .and_then(|id| uuid::Uuid::from_slice(&id).ok())
            .filter(|id| self.customers.contains_key(id.as_bytes()).unwrap_or(false))
            .map(CustomerId))
    }

    /// An order's list row, with its search terms when `with_terms`.
    fn summary(
        &self,
        number: u64,
        with_terms: bool,
    ) -> Result<Option<(Summary, Vec<String>)>, StoreError> {
        match self.summaries.get(number.to_be_bytes())? {
            Some(b) => Ok(Some(read_summary(&b, with_terms)?)),
            None => Ok(None),
        }
    }

    fn matches_filters(q: &ListQuery, s: &Summary) -> bool {
        q.payment.is_none_or(|p| p == s.payment_status)
            && q.fulfillment.is_none_or(|f| f == s.fulfillment_status)
            && q.test.is_none_or(|t| t == s.test)
            && q.created_from.is_none_or(|from| s.created_at >= from)
            && q.created_before.is_none_or(|to| s.created_at < to)
    }

    fn matches_words(words: &[String], terms: &[String]) -> bool {
        words
            .iter()
            .all(|w| terms.iter().any(|t| t.starts_with(w.as_str())))
    }

    /// A list straight off one index (no search words, or too broad ones checked row by row).
    fn list_by_index(&self, q: &ListQuery, words: &[String]) -> Result<ListPage, StoreError> {
        let part = keys::partition_for(q.sort, q.payment, q.fulfillment, q.test);
        let prefix = keys::index_prefix(q.sort, part);
        // Cursors carry the whole index key; the pinned part only narrows the range read.
        let mut range_prefix = prefix.clone();
        range_prefix.extend_from_slice(&keys::pinned_sort_bytes(q.sort, q.payment, q.fulfillment));
        let mut lo = Bound::Included(range_prefix.clone());
        let mut hi = match prefix_end(&range_prefix) {
            Some(e) => Bound::Excluded(e),
            None => Bound::Unbounded,
        };
        if q.sort == SortField::Created {
            if let Some(from) = q.created_from {
                let mut k = prefix.clone();
                k.extend_from_slice(&keys::time_key(from));
                lo = Bound::Included(k);
            }
            if let Some(to) = q.created_before {
                let mut k = prefix.clone();
                k.extend_from_slice(&keys::time_key(to));
                hi = Bound::Excluded(k);
            }
        }
        if let Some(c) = &q.cursor {
            let key = c
                .strip_prefix('k')
                .and_then(|h| hex::decode(h).ok())
                .filter(|k| k.starts_with(&range_prefix) && k.len() >= prefix.len() + 8)
                .ok_or_else(|| {
                    StoreError::BadCursor("The cursor does not belong to this list".into())
                })?;
            if q.desc {
                hi = Bound::Excluded(key);
            } else {
                lo = Bound::Excluded(key);
            }
        }
        let iter = self.idx.range::<Vec<u8>, _>((lo, hi));
        let iter: KvIter = if q.desc {
            Box::new(iter.rev())
        } else {
            Box::new(iter)
        };
        let mut rows = Vec::new();
        let mut last_key: Option<Vec<u8>> = None;
        let mut examined = 0usize;
        for item in iter {
            let (k, _) = item?;
            examined += 1;
            if examined > SCAN_BUDGET {
                // Bounded work per request: hand back what we have and where to go on.
                return Ok(ListPage {
                    orders: rows,
                    next_cursor: last_key.map(|k| format!("k{}", hex::encode(k))),
                });
            }
            let number = keys::number_of_key(&k)
                .ok_or_else(|| StoreError::Corrupt("index key without a number".into()))?;
            let (s, terms) = self.summary(number, !words.is_empty())?.ok_or_else(|| {
                StoreError::Corrupt(format!("index names missing order {number}"))
            })?;
            if Self::matches_filters(q, &s) && Self::matches_words(words, &terms) {
                if rows.len() == q.limit {
                    return Ok(ListPage {
                        orders: rows,
                        next_cursor: last_key.map(|k| format!("k{}", hex::encode(k))),
                    });
                }
                rows.push(s);
            }
            last_key = Some(k.to_vec());
        }
        Ok(ListPage {
            orders: rows,
            next_cursor: None,
        })
    }

    /// Terms in the vocabulary starting with `word`, up to `max + 1`.
    fn expand(&self, word: &str, max: usize) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for item in self.vocab.scan_prefix(word.as_bytes()) {
            let (k, _) = item?;
            out.push(String::from_utf8_lossy(&k).into_owned());
            if out.len() > max {
                break;
            }
        }
        Ok(out)
    }

    /// Search: merge the posting lists of the most selective word's terms in number order.
    fn search(&self, q: &ListQuery, words: &[String]) -> Result<ListPage, StoreError> {
        let mut best: Option<Vec<String>> = None;
        for w in words {
            let terms = self.expand(w, MAX_EXPANSION)?;
            if terms.is_empty() {
                if q.cursor
                    .as_deref()
                    .is_some_and(|c| !c.starts_with('s') && !c.starts_with('o'))
                {
                    return Err(StoreError::BadCursor(
                        "The cursor does not belong to this search".into(),
                    ));
                }
                return Ok(ListPage {
                    orders: Vec::new(),
                    next_cursor: None,
                });
            }
            if best.as_ref().is_none_or(|b| terms.len() < b.len()) {
                best = Some(terms);
            }
        }
        let driver = best.unwrap_or_default();
        if driver.len() > MAX_EXPANSION {
            // Every word is very short: walk the chosen index and check each row (bounded).
            return self.list_by_index(q, words);
        }
        let by_date = matches!(q.sort, SortField::Created | SortField::Number);
        let (desc, cursor_number, offset) = if by_date {
            let n = match &q.cursor {
                Some(c) => Some(
                    c.strip_prefix('s')
                        .and_then(|n| n.parse::<u64>().ok())
                        .ok_or_else(|| {
                            StoreError::BadCursor(
                                "The cursor does not belong to this search".into(),
                            )
                        })?,
                ),
                None => None,
            };
            (q.desc, n, 0)
        } else {
            let off = match &q.cursor {
                Some(c) => c
                    .strip_prefix('o')
                    .and_then(|n| n.parse::<usize>().ok())
                    .filter(|n| *n <= SORT_CAP)
                    .ok_or_else(|| {
                        StoreError::BadCursor("The cursor does not belong to this search".into())
                    })?,
                None => 0,
            };
            (true, None, off)
        };
        let mut iters: Vec<KvIter> = Vec::new();
        for t in &driver {
            let start = keys::term_key(t, 0);
            let end = keys::term_key(t, u64::MAX);
            let (lo, hi) = match (cursor_number, desc) {
                (Some(n), true) => (
                    Bound::Included(start),
                    Bound::Excluded(keys::term_key(t, n)),
                ),
                (Some(n), false) => (Bound::Excluded(keys::term_key(t, n)), Bound::Included(end)),
                (None, _) => (Bound::Included(start), Bound::Included(end)),
            };
            let r = self.terms.range::<Vec<u8>, _>((lo, hi));
            iters.push(if desc { Box::new(r.rev()) } else { Box::new(r) });
        }
        // k-way merge on order number.
        let mut heap = BinaryHeap::new();
        let key_num = |k: &[u8]| keys::number_of_key(k);
        for (i, it) in iters.iter_mut().enumerate() {
            if let Some(item) = it.next() {
                let (k, _) = item?;
                if let Some(n) = key_num(&k) {
                    heap.push(if desc { (n, i) } else { (u64::MAX - n, i) });
                }
            }
        }
        let limit = if by_date { q.limit } else { SORT_CAP };
        let mut rows: Vec<Summary> = Vec::new();
        let mut seen = HashSet::new();
        let mut examined = 0usize;
        let mut last_number = None;
        while let Some((hk, i)) = heap.pop() {
            let n = if desc { hk } else { u64::MAX - hk };
            if let Some(item) = iters[i].next() {
                let (k, _) = item?;
                if let Some(m) = key_num(&k) {
                    heap.push(if desc { (m, i) } else { (u64::MAX - m, i) });
                }
            }
            if !seen.insert(n) {
                continue;
            }
            examined += 1;
            if examined > SCAN_BUDGET {
                if by_date {
                    return Ok(ListPage {
                        orders: rows,
                        next_cursor: last_number.map(|n| format!("s{n}")),
                    });
                }
                return Err(StoreError::TooBroad(
                    "The search matches too many orders to sort this way; refine it or sort by date".into(),
                ));
            }
            // One word: its postings are the matches. More: check the others on the row.
            let Some((s, terms)) = self.summary(n, words.len() > 1)? else {
                continue;
            };
            if Self::matches_filters(q, &s)
                && (words.len() < 2 || Self::matches_words(words, &terms))
            {
                if rows.len() == limit {
                    if by_date {
                        return Ok(ListPage {
                            orders: rows,
                            next_cursor: last_number.map(|n| format!("s{n}")),
                        });
                    }
                    return Err(StoreError::TooBroad(format!(
                        "The search matches more than {SORT_CAP} orders; refine it or sort by date"
                    )));
                }
                rows.push(s);
            }
            last_number = Some(n);
        }
        if by_date {
            return Ok(ListPage {
                orders: rows,
                next_cursor: None,
            });
        }
        let sort_key = |s: &Summary| -> Vec<u8> {
            let mut k = keys::sort_bytes(q.sort, &s.index_fields());
            k.extend_from_slice(&s.number.to_be_bytes());
            k
        };
        rows.sort_by_cached_key(sort_key);
        if q.desc {
            rows.reverse();
        }
        let total = rows.len();
        let page: Vec<Summary> = rows.into_iter().skip(offset).take(q.limit).collect();
        let next = offset + page.len();
        Ok(ListPage {
            orders: page,
            next_cursor: (next < total).then(|| format!("o{next}")),
        })
    }
}

impl OrderStore for SledStore {
    fn create_order(&self, new: &NewOrder, placed: &PlacedFn<'_>) -> Result<Created, StoreError> {
        // The order is built and its messages rendered before the transaction, so that sled's
        // global write lock is not held while a script runs (a third of an intake's time). That
        // needs the number and the customer first: the number comes from the in-memory
        // allocator, the customer from a read that the transaction confirms (re-rendering in
        // the rare case a concurrent order created the same customer meanwhile).
        let replay = match &new.idempotency {
            Some((key, _)) => self.idempotency.contains_key(key.as_bytes())?,
            None => false,
        };
        let closed = new.only_before_real_orders && self.counts()?.real > 0;
        // A replay or a refused test order takes no number (the transaction answers both).
        let number = if replay || closed {
            0
        } else {
            self.numbers.fetch_add(1, Ordering::SeqCst)
        };
        let build = |customer_id: CustomerId| {
            let ids = crate::domain::intake::NewOrderIds {
                order_id: new.order_id,
                number,
                customer_id,
                item_ids: new.item_ids.clone(),
                payment_id: new.payment_id,
            };
            new.valid
                .build(&ids, &new.store_currency, new.now, &new.actor)
        };
        let guessed = self.known_customer(new)?.unwrap_or(new.new_customer_id);
        let prepared = if number == 0 {
            None
        } else {
            let order = build(guessed);
            let messages = placed(&order);
            Some((order, messages))
        };
        self.order_tx(|tx| {
            if let Some((key, hash)) = &new.idempotency {
                if let Some(prev) = tx.idempotency.get(key.as_bytes())? {
                    let (prev_hash, number): (Vec<u8>, u64) = lift(decode("idempotency", &prev))?;
                    if prev_hash.as_slice() != hash.as_slice() {
                        return abort(StoreError::Conflict(
                            "This Idempotency-Key was already used with a different request body"
                                .into(),
                        ));
                    }
                    return Ok(Created::Replayed(tx.get_order(number)?));
                }
            }
            if new.only_before_real_orders {
                let real = match tx.meta.get(b"c:test:0")? {
                    Some(v) => lift(decode_u64("counter", &v))?,
                    None => 0,
                };
                if real > 0 {
                    return abort(StoreError::Rejected(RuleError::TestOrdersClosed));
                }
            }
            let Some((order, messages)) = &prepared else {
                // Checked before as a replay or a closed test order, and no longer so.
                return abort(StoreError::Conflict(
                    "The store changed while this order was placed; send it again".into(),
                ));
            };
            tx.raise_next_number(number + 1)?;
            let customer_id = tx.resolve_customer(new)?;
            let (order, messages) = if customer_id == guessed {
                (order.clone(), messages.clone())
            } else {
                let order = build(customer_id);
                let messages = placed(&order);
                (order, messages)
            };
            tx.order_ids
                .insert(order.id.0.as_bytes(), &number.to_be_bytes())?;
            tx.write_order(None, &order)?;
            tx.enqueue(&messages)?;
            if let Some((key, hash)) = &new.idempotency {
                tx.idempotency
                    .insert(key.as_bytes(), lift(encode(&(hash.to_vec(), number)))?)?;
            }
            Ok(Created::New(order))
        })
    }

    fn reserve_numbers(&self, count: u64) -> Result<u64, StoreError> {
        let first = self.numbers.fetch_add(count, Ordering::SeqCst);
        self.order_tx(|tx| {
            tx.raise_next_number(first + count)?;
            Ok(first)
        })
    }

    fn import_orders(&self, orders: &[Order]) -> Result<Vec<Order>, StoreError> {
        self.order_tx(|tx| {
            let mut out = Vec::with_capacity(orders.len());
            for order in orders {
                let mut order = order.clone();
                let c = &order.customer;
                order.customer.id =
                    tx.resolve_contact(&c.name, &c.email, &c.phone, order.created_at, c.id)?;
                tx.order_ids
                    .insert(order.id.0.as_bytes(), &order.number.to_be_bytes())?;
                tx.write_order(None, &order)?;
                out.push(order);
            }
            Ok(out)
        })
    }

    fn get_order(&self, number: u64) -> Result<Order, StoreError> {
        match self.orders.get(number.to_be_bytes())? {
            Some(b) => decode("order", &b),
            None => Err(StoreError::NotFound(format!("Order {number}"))),
        }
    }

    fn update_order(&self, number: u64, f: &mut UpdateFn<'_>) -> Result<Order, StoreError> {
        let f = std::cell::RefCell::new(f);
        self.order_tx(|tx| {
            let old = tx.get_order(number)?;
            let change = match (f.borrow_mut())(&old) {
                Ok(c) => c,
                Err(e) => return abort(StoreError::Rejected(e)),
            };
            tx.write_order(Some(&old), &change.order)?;
            tx.enqueue(&change.outbox)?;
            Ok(change.order)
        })
    }

    fn list_orders(&self, q: &ListQuery) -> Result<ListPage, StoreError> {
        let words = keys::query_terms(&q.q);
        if words.is_empty() {
            self.list_by_index(q, &[])
        } else {
            self.search(q, &words)
        }
    }

    fn orders_with_term(&self, term: &str, limit: usize) -> Result<Vec<u64>, StoreError> {
        let t: String = term
            .to_lowercase()
            .chars()
            .take(keys::MAX_TERM_LEN)
            .collect();
        let mut prefix = t.into_bytes();
        prefix.push(0);
        let mut out = Vec::new();
        for item in self.terms.scan_prefix(&prefix).rev().take(limit) {
            let (k, _) = item?;
            if let Some(n) = keys::number_of_key(&k) {
                out.push(n);
            }
        }
        Ok(out)
    }

    fn counts(&self) -> Result<Counts, StoreError> {
        // One range read over the adjacent "c:" keys rather than a lookup per counter.
        let mut c = Counts::default();
        for p in PaymentStatus::ALL {
            c.payment.insert(*p, 0);
        }
        for f in FulfillmentStatus::ALL {
            c.fulfillment.insert(*f, 0);
        }
        for item in self.meta.scan_prefix(b"c:") {
            let (k, v) = item?;
            let n = decode_u64("counter", &v)?;
            let name = &k[2..];
            let code = |prefix: &[u8]| -> Option<u8> {
                let rest = name.strip_prefix(prefix)?;
                std::str::from_utf8(rest).ok()?.parse().ok()
            };
            if name == b"all" {
                c.all = n;
            } else if name == b"test:1" {
                c.test = n;
            } else if name == b"test:0" {
                c.real = n;
            } else if let Some(x) = code(b"ps:") {
                if let Some(p) = PaymentStatus::ALL.iter().find(|p| p.code() == x) {
                    c.payment.insert(*p, n);
                }
            } else if let Some(x) = code(b"fs:") {
                if let Some(f) = FulfillmentStatus::ALL.iter().find(|f| f.code() == x) {
                    c.fulfillment.insert(*f, n);
                }
            }
        }
        Ok(c)
    }

    fn customers(&self, q: &str, limit: usize) -> Result<Vec<CustomerRecord>, StoreError> {
        let words = keys::query_terms(q);
        let mut out = Vec::new();
        let Some(first) = words.iter().max_by_key(|w| w.len()) else {
            for item in self.customers.iter().rev().take(limit) {
                let (_, v) = item?;
                out.push(decode("customer", &v)?);
            }
            return Ok(out);
        };
        let mut seen = HashSet::new();
        for (examined, item) in self
            .customer_terms
            .scan_prefix(first.as_bytes())
            .enumerate()
        {
            if examined > SCAN_BUDGET || out.len() >= limit {
                break;
            }
            let (k, _) = item?;
            let Some(id) = k
                .get(k.len().saturating_sub(16)..)
                .and_then(|b| uuid::Uuid::from_slice(b).ok())
            else {
                continue;
            };
            if !seen.insert(id) {
                continue;
            }
            let c = self.customer(CustomerId(id))?;
            let terms = customer_terms_of(&c);
            if words
                .iter()
                .all(|w| terms.iter().any(|t| t.starts_with(w.as_str())))
            {
                out.push(c);
            }
        }
        Ok(out)
    }

    fn customer(&self, id: CustomerId) -> Result<CustomerRecord, StoreError> {
        match self.customers.get(id.0.as_bytes())? {
            Some(b) => decode("customer", &b),
            None => Err(StoreError::NotFound(format!("Customer {id}"))),
        }
    }

    fn put_token(&self, hash: [u8; 32], record: &TokenRecord) -> Result<(), StoreError> {
        let _gate = self.write_gate();
        self.tokens.insert(hash, encode(record)?)?;
        Ok(())
    }

    fn find_token(&self, hash: [u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        match self.tokens.get(hash)? {
            Some(b) => Ok(Some(decode("token", &b)?)),
            None => Ok(None),
        }
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let mut out: Vec<TokenRecord> = Vec::new();
        for item in self.tokens.iter() {
            let (_, v) = item?;
            out.push(decode("token", &v)?);
        }
        out.sort_by_key(|t| t.created_at);
        Ok(out)
    }

    fn revoke_token(&self, id: uuid::Uuid) -> Result<(), StoreError> {
        for item in self.tokens.iter() {
            let (k, v) = item?;
            let mut t: TokenRecord = decode("token", &v)?;
            if t.id == id {
                t.revoked = true;
                let _gate = self.write_gate();
                self.tokens.insert(k, encode(&t)?)?;
                return Ok(());
            }
        }
        Err(StoreError::NotFound(format!("Token {id}")))
    }

    fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        if let Some(all) = &*self
            .settings_cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
        {
            return Ok(all.get(key).cloned());
        }
        let mut cache = self
            .settings_cache
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if cache.is_none() {
            let mut all = std::collections::HashMap::new();
            for item in self.settings.iter() {
                let (k, v) = item?;
                all.insert(
                    String::from_utf8_lossy(&k).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                );
            }
            *cache = Some(all);
        }
        Ok(cache.as_ref().and_then(|all| all.get(key).cloned()))
    }

    fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let _gate = self.write_gate();
        // Held across the write, so that no reader fills the cache from the tree in between.
        let mut cache = self
            .settings_cache
            .write()
            .unwrap_or_else(|p| p.into_inner());
        self.settings.insert(key.as_bytes(), value.as_bytes())?;
        if let Some(all) = cache.as_mut() {
            all.insert(key.to_string(), value.to_string());
        }
        Ok(())
    }

    fn outbox_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let end = keys::time_key(now).to_vec();
        let mut out = Vec::new();
        for item in self.outbox_due.range(..=end) {
            let (k, _) = item?;
            let Some(id) = k.get(8..24).and_then(|b| uuid::Uuid::from_slice(b).ok()) else {
                return Err(StoreError::Corrupt("outbox due key".into()));
            };
            match self.outbox.get(id.as_bytes())? {
                Some(b) => out.push(decode("outbox message", &b)?),
                None => {
                    let _gate = self.write_gate();
                    self.outbox_due.remove(k)?;
                }
            }
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn outbox_put(&self, msg: &OutboxMessage) -> Result<(), StoreError> {
        self.outbox_put_many(std::slice::from_ref(msg))
    }

    fn outbox_put_many(&self, msgs: &[OutboxMessage]) -> Result<(), StoreError> {
        let _gate = self.write_gate();
        (&self.outbox, &self.outbox_due)
            .transaction(|(outbox, due)| {
                for msg in msgs {
                    if let Some(prev) = outbox.get(msg.id.as_bytes())? {
                        let prev: OutboxMessage = lift(decode("outbox message", &prev))?;
                        due.remove(due_key(&prev))?;
                    }
                    outbox.insert(msg.id.as_bytes(), lift(encode(msg))?)?;
                    if msg.status == OutboxStatus::Pending {
                        due.insert(due_key(msg), &[])?;
                    }
                }
                Ok(())
            })
            .map_err(tx_err)
    }

    fn outbox_add(&self, msgs: &[OutboxMessage]) -> Result<(), StoreError> {
        self.order_tx(|tx| tx.enqueue(msgs))
    }

    fn outbox_get(&self, id: uuid::Uuid) -> Result<OutboxMessage, StoreError> {
        match self.outbox.get(id.as_bytes())? {
            Some(b) => decode("outbox message", &b),
            None => Err(StoreError::NotFound(format!("Message {id}"))),
        }
    }

    fn outbox_list(
        &self,
        order: Option<u64>,
        status: Option<OutboxStatus>,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let mut out = Vec::new();
        let ids: Box<dyn Iterator<Item = sled::Result<uuid::Uuid>>> = match order {
            Some(n) => Box::new(
                self.outbox_by_order
                    .scan_prefix(n.to_be_bytes())
                    .rev()
                    .map(|r| r.map(|(k, _)| uuid::Uuid::from_slice(&k[8..]).unwrap_or_default())),
            ),
            None => Box::new(
                self.outbox
                    .iter()
                    .rev()
                    .map(|r| r.map(|(k, _)| uuid::Uuid::from_slice(&k).unwrap_or_default())),
            ),
        };
        for (examined, id) in ids.enumerate() {
            if examined > SCAN_BUDGET || out.len() >= limit {
                break;
            }
            let m = self.outbox_get(id?)?;
            if status.is_none_or(|s| s == m.status) {
                out.push(m);
            }
        }
        Ok(out)
    }

    fn durability(&self) -> &GroupCommit {
        &self.commit
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        self.commit.stop();
        let _ = self.db.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Actor;

    fn new_order(email: &str, key: Option<&str>) -> NewOrder {
        let mut draft = crate::sample::sample_order(false);
        draft.customer.email = email.into();
        let valid = draft.validate().unwrap();
        NewOrder {
            item_ids: (0..valid.items.len()).map(|_| Uuid::now_v7()).collect(),
            valid,
            order_id: Uuid::now_v7(),
            payment_id: Uuid::now_v7(),
            new_customer_id: CustomerId(Uuid::now_v7()),
            now: chrono::Utc::now(),
            actor: Actor::Token("test".into()),
            store_currency: "USD".into(),
            idempotency: key.map(|k| (k.to_string(), [1u8; 32])),
            only_before_real_orders: false,
        }
    }

    fn place(store: &SledStore, new: &NewOrder) -> Created {
        store.create_order(new, &|_| Vec::new()).unwrap()
    }

    fn number(c: &Created) -> u64 {
        match c {
            Created::New(o) | Created::Replayed(o) => o.number,
        }
    }

    #[test]
    fn settings_are_read_from_memory_and_written_through_to_disk() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            assert_eq!(store.setting("store.name").unwrap(), None);
            store.put_setting("store.name", "Alder & Co").unwrap();
            assert_eq!(
                store.setting("store.name").unwrap().as_deref(),
                Some("Alder & Co")
            );
            store.put_setting("store.name", "Birch").unwrap();
            store
                .put_setting("store.email", "shop@example.com")
                .unwrap();
            assert_eq!(
                store.setting("store.name").unwrap().as_deref(),
                Some("Birch")
            );
            // The tree holds what the cache answers.
            assert_eq!(
                store.settings.get(b"store.name").unwrap().as_deref(),
                Some(&b"Birch"[..])
            );
            store.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            store.setting("store.name").unwrap().as_deref(),
            Some("Birch")
        );
        assert_eq!(
            store.setting("store.email").unwrap().as_deref(),
            Some("shop@example.com")
        );
    }

    #[test]
    fn numbers_follow_on_without_gaps_for_replays_and_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            let first = place(&store, &new_order("a@example.com", Some("k1")));
            assert_eq!(number(&first), FIRST_NUMBER);
            // A replay answers with the first order and takes no number.
            let again = place(&store, &new_order("a@example.com", Some("k1")));
            assert!(matches!(again, Created::Replayed(_)));
            assert_eq!(number(&again), FIRST_NUMBER);
            let second = place(&store, &new_order("b@example.com", None));
            assert_eq!(number(&second), FIRST_NUMBER + 1);
            store.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        let third = place(&store, &new_order("c@example.com", None));
        assert_eq!(number(&third), FIRST_NUMBER + 2);
        // Demo numbers are reserved from the same sequence.
        assert_eq!(store.reserve_numbers(10).unwrap(), FIRST_NUMBER + 3);
        let after = place(&store, &new_order("d@example.com", None));
        assert_eq!(number(&after), FIRST_NUMBER + 13);
    }

    #[test]
    fn concurrent_first_orders_of_one_customer_share_the_customer() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(SledStore::open(dir.path()).unwrap());
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || {
                    let c = place(&store, &new_order("same@example.com", None));
                    match c {
                        Created::New(o) => (o.number, o.customer.id),
                        Created::Replayed(_) => unreachable!(),
                    }
                })
            })
            .collect();
        let placed: Vec<(u64, CustomerId)> =
            handles.into_iter().map(|h| h.join().unwrap()).collect();
        let ids: std::collections::HashSet<CustomerId> = placed.iter().map(|p| p.1).collect();
        assert_eq!(ids.len(), 1, "one customer for one email");
        let mut numbers: Vec<u64> = placed.iter().map(|p| p.0).collect();
        numbers.sort();
        assert_eq!(
            numbers,
            (FIRST_NUMBER..FIRST_NUMBER + 8).collect::<Vec<_>>()
        );
        let c = store.customer(*ids.iter().next().unwrap()).unwrap();
        assert_eq!(c.orders_count, 8);
        // Every stored order names the customer the store resolved.
        for (n, id) in &placed {
            assert_eq!(store.get_order(*n).unwrap().customer.id, *id);
        }
        assert!(crate::store::check::check(&store).unwrap().is_clean());
    }
}
