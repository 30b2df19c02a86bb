//! The store's operations, synchronous: what the port's async methods run (see `repos.rs`),
//! and what command-line tools and tests call directly.

use super::{abort, customer_terms_of, due_key, lift, tx_err, SledStore, SCAN_BUDGET};
use crate::domain::outbox::{OutboxMessage, OutboxStatus};
use crate::domain::{CustomerId, FulfillmentStatus, Order, PaymentStatus};
use crate::ports::{
    Conflict, Counts, Created, CustomerRecord, ListPage, ListQuery, NewOrder, StoreError,
    TokenRecord,
};
use crate::store::codec::{decode, decode_u64, encode};
use crate::store::keys;
use chrono::{DateTime, Utc};
use sled::transaction::Transactional;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;

impl SledStore {
    /// Stores a new order (see [`crate::ports::OrderRepo::insert_order`]).
    pub fn insert_order(&self, new: &NewOrder) -> Result<Created, StoreError> {
        self.order_tx(|tx| {
            if let Some((key, hash)) = &new.idempotency {
                if let Some(prev) = tx.idempotency.get(key.as_bytes())? {
                    let (prev_hash, number): (Vec<u8>, u64) = lift(decode("idempotency", &prev))?;
                    if prev_hash.as_slice() != hash.as_slice() {
                        return abort(StoreError::Conflict(Conflict::IdempotencyKey));
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
                    return abort(StoreError::Conflict(Conflict::RealOrdersExist));
                }
            }
            let mut order = new.order.clone();
            let number = order.number;
            tx.raise_next_number(number + 1)?;
            // The customer with this contact gets the order (a concurrent first order of the
            // same customer may have created them since the service looked).
            let c = &order.customer;
            order.customer.id =
                tx.resolve_contact(&c.name, &c.email, &c.phone, order.created_at, c.id)?;
            tx.order_ids
                .insert(order.id.0.as_bytes(), &number.to_be_bytes())?;
            tx.write_order(None, &order)?;
            tx.enqueue(&new.outbox)?;
            if let Some((key, hash)) = &new.idempotency {
                tx.idempotency
                    .insert(key.as_bytes(), lift(encode(&(hash.to_vec(), number)))?)?;
            }
            Ok(Created::New(order))
        })
    }

    /// The order number and body hash an idempotency key was first used with.
    pub fn idempotency_key(&self, key: &str) -> Result<Option<(u64, [u8; 32])>, StoreError> {
        match self.idempotency.get(key.as_bytes())? {
            Some(v) => {
                let (hash, number): (Vec<u8>, u64) = decode("idempotency", &v)?;
                let hash: [u8; 32] = hash
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("idempotency hash".into()))?;
                Ok(Some((number, hash)))
            }
            None => Ok(None),
        }
    }

    /// Reserves `count` consecutive numbers. One (an intake) is handed out in memory and
    /// recorded by the intake's own write; several (a bulk import) are recorded at once.
    pub fn reserve_numbers(&self, count: u64) -> Result<u64, StoreError> {
        let first = self.numbers.fetch_add(count, Ordering::SeqCst);
        if count > 1 {
            self.order_tx(|tx| tx.raise_next_number(first + count))?;
        }
        Ok(first)
    }

    /// Stores complete orders in one transaction (bulk loading).
    pub fn import_orders(&self, orders: &[Order]) -> Result<Vec<Order>, StoreError> {
        self.order_tx(|tx| {
            let mut out = Vec::with_capacity(orders.len());
            for order in orders {
                let mut order = order.clone();
                let c = &order.customer;
                order.customer.id =
                    tx.resolve_contact(&c.name, &c.email, &c.phone, order.created_at, c.id)?;
                tx.order_ids
                    .insert(order.id.0.as_bytes(), &order.number.to_be_bytes())?;
                tx.raise_next_number(order.number + 1)?;
                tx.write_order(None, &order)?;
                out.push(order);
            }
            Ok(out)
        })
    }

    /// Loads an order by number.
    pub fn get_order(&self, number: u64) -> Result<Order, StoreError> {
        match self.orders.get(number.to_be_bytes())? {
            Some(b) => decode("order", &b),
            None => Err(StoreError::NotFound(format!("Order {number}"))),
        }
    }

    /// Replaces an order if its stored version is `expected_version`, with its messages.
    pub fn update_order(
        &self,
        expected_version: u64,
        order: &Order,
        outbox: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        let number = order.number;
        self.order_tx(|tx| {
            let old = tx.get_order(number)?;
            if old.version != expected_version {
                return abort(StoreError::Conflict(Conflict::Version { number }));
            }
            tx.write_order(Some(&old), order)?;
            tx.enqueue(outbox)?;
            Ok(())
        })
    }

    /// See the port method of the same name.
    pub fn list_orders(&self, q: &ListQuery) -> Result<ListPage, StoreError> {
        let mut words = keys::query_terms(&q.q);
        // A tag filter reads the tag's postings (each row's tags are then checked exactly).
        words.extend(q.tags.iter().map(|t| keys::tag_term(t)));
        if words.is_empty() {
            self.list_by_index(q, &[])
        } else {
            self.search(q, &words)
        }
    }

    /// See the port method of the same name.
    pub fn orders_with_term(&self, term: &str, limit: usize) -> Result<Vec<u64>, StoreError> {
        let t: String = term
            .to_lowercase()
            .chars()
            .take(keys::MAX_TERM_LEN)
            .collect();
        let mut prefix = t.into_bytes();
        prefix.push(0);
        let mut out = Vec::new();
        for item in self.terms.scan_prefix(&prefix).rev() {
            let (k, v) = item?;
            let numbers = keys::posting_numbers(&k, &v).ok_or_else(|| {
                StoreError::Corrupt("search posting is not a list of orders".into())
            })?;
            out.extend(numbers.into_iter().rev());
            if out.len() >= limit {
                out.truncate(limit);
                break;
            }
        }
        Ok(out)
    }

    /// See the port method of the same name.
    pub fn counts(&self) -> Result<Counts, StoreError> {
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

    /// See the port method of the same name.
    pub fn customers(&self, q: &str, limit: usize) -> Result<Vec<CustomerRecord>, StoreError> {
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

    /// See the port method of the same name.
    pub fn customer(&self, id: CustomerId) -> Result<CustomerRecord, StoreError> {
        match self.customers.get(id.0.as_bytes())? {
            Some(b) => decode("customer", &b),
            None => Err(StoreError::NotFound(format!("Customer {id}"))),
        }
    }

    /// See the port method of the same name.
    pub fn put_token(&self, hash: [u8; 32], record: &TokenRecord) -> Result<(), StoreError> {
        let _gate = self.write_gate();
        self.tokens.insert(hash, encode(record)?)?;
        Ok(())
    }

    /// See the port method of the same name.
    pub fn find_token(&self, hash: [u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        match self.tokens.get(hash)? {
            Some(b) => Ok(Some(decode("token", &b)?)),
            None => Ok(None),
        }
    }

    /// See the port method of the same name.
    pub fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let mut out: Vec<TokenRecord> = Vec::new();
        for item in self.tokens.iter() {
            let (_, v) = item?;
            out.push(decode("token", &v)?);
        }
        out.sort_by_key(|t| t.created_at);
        Ok(out)
    }

    /// See the port method of the same name.
    pub fn revoke_token(&self, id: uuid::Uuid) -> Result<(), StoreError> {
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

    /// Every setting (from memory after the first read).
    pub fn settings_map(&self) -> Result<BTreeMap<String, String>, StoreError> {
        if let Some(all) = &*self
            .settings_cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
        {
            return Ok(all.clone());
        }
        let mut cache = self
            .settings_cache
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if cache.is_none() {
            let mut all = BTreeMap::new();
            for item in self.settings.iter() {
                let (k, v) = item?;
                all.insert(
                    String::from_utf8_lossy(&k).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                );
            }
            *cache = Some(all);
        }
        Ok(cache.clone().unwrap_or_default())
    }

    /// One setting.
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        if let Some(all) = &*self
            .settings_cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
        {
            return Ok(all.get(key).cloned());
        }
        Ok(self.settings_map()?.get(key).cloned())
    }

    /// Changes a setting (written through the cache).
    pub fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
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

    /// See the port method of the same name.
    pub fn remove_setting(&self, key: &str) -> Result<(), StoreError> {
        let _gate = self.write_gate();
        let mut cache = self
            .settings_cache
            .write()
            .unwrap_or_else(|p| p.into_inner());
        self.settings.remove(key.as_bytes())?;
        if let Some(all) = cache.as_mut() {
            all.remove(key);
        }
        Ok(())
    }

    /// See the port method of the same name.
    pub fn outbox_due(
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

    /// Saves messages (keeps the due index in step).
    pub fn outbox_put(&self, msgs: &[OutboxMessage]) -> Result<(), StoreError> {
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

    /// See the port method of the same name.
    pub fn outbox_add(&self, msgs: &[OutboxMessage]) -> Result<(), StoreError> {
        self.order_tx(|tx| tx.enqueue(msgs))
    }

    /// See the port method of the same name.
    pub fn outbox_get(&self, id: uuid::Uuid) -> Result<OutboxMessage, StoreError> {
        match self.outbox.get(id.as_bytes())? {
            Some(b) => decode("outbox message", &b),
            None => Err(StoreError::NotFound(format!("Message {id}"))),
        }
    }

    /// See the port method of the same name.
    pub fn outbox_list(
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

    /// See the port method of the same name: the newest [`SCAN_BUDGET`] messages are examined
    /// (webhook deliveries have no index of their own here).
    pub fn outbox_for_endpoint(
        &self,
        endpoint: uuid::Uuid,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let mut out = Vec::new();
        for (examined, item) in self.outbox.iter().rev().enumerate() {
            if examined > SCAN_BUDGET || out.len() >= limit {
                break;
            }
            let (_, bytes) = item?;
            let m: OutboxMessage = decode("outbox message", &bytes)?;
            if m.endpoint == Some(endpoint) {
                out.push(m);
            }
        }
        Ok(out)
    }
}
