//! `orderdeck check`: walks every tree and reports where derived data (summaries, indexes,
//! search postings, counters, customer counts, outbox indexes) disagrees with the orders.
//!
//! Memory stays bounded by the number of customers and counters, not by the number of index
//! entries: expected entries are looked up one by one, and the (slower) search for stale entries
//! only runs when a tree holds more entries than the orders explain.

use super::{counter_keys, customer_term_key, customer_terms_of, due_key, SledStore};
use crate::domain::outbox::{OutboxMessage, OutboxStatus};
use crate::domain::{CustomerId, FulfillmentStatus, Order, PaymentStatus};
use crate::ports::{CustomerRecord, StoreError, Summary};
use crate::store::codec::{decode, decode_u64};
use crate::store::keys::{self, IndexFields};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

/// What kind of mismatch a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A record does not decode.
    Undecodable,
    /// An order has no summary, or its summary differs from the order.
    SummaryMismatch,
    /// A summary exists for a number without an order.
    SummaryStale,
    /// An index entry the order needs is missing.
    IndexMissing,
    /// An index entry no order explains.
    IndexStale,
    /// A search posting the order needs is missing.
    TermMissing,
    /// A search posting no order explains.
    TermStale,
    /// A posted term is not in the vocabulary, so searches cannot find it.
    VocabMissing,
    /// A status counter differs from a recount.
    CounterWrong,
    /// `order_ids` does not map an order's id to its number, or maps an id to no order.
    OrderIdWrong,
    /// `next_number` is not above every order number.
    NextNumber,
    /// An order's customer does not exist.
    CustomerMissing,
    /// A customer's `orders_count` differs from a recount.
    CustomerCount,
    /// A `customer_keys` entry points to no customer.
    CustomerKeyDangling,
    /// A customer search posting is missing or names no customer.
    CustomerTermWrong,
    /// An idempotency key names no order.
    IdempotencyDangling,
    /// An `outbox_due` entry points to no pending message (or to one due at another time).
    OutboxDueDangling,
    /// A pending message has no `outbox_due` entry.
    OutboxDueMissing,
    /// `outbox_by_order` disagrees with the messages.
    OutboxByOrderWrong,
}

/// One mismatch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub kind: ProblemKind,
    pub detail: String,
}

/// The outcome of a check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Orders examined.
    pub orders: u64,
    /// Customers examined.
    pub customers: u64,
    /// Outbox messages examined.
    pub messages: u64,
    /// Every mismatch found, in the order found.
    pub problems: Vec<Problem>,
}

impl CheckReport {
    /// True when nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// How many problems of one kind were found.
    pub fn count(&self, kind: ProblemKind) -> usize {
        self.problems.iter().filter(|p| p.kind == kind).count()
    }

    fn report(&mut self, kind: ProblemKind, detail: impl Into<String>) {
        self.problems.push(Problem {
            kind,
            detail: detail.into(),
        });
    }
}

impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "checked {} orders, {} customers, {} outbox messages: {}",
            self.orders,
            self.customers,
            self.messages,
            if self.is_clean() {
                "no problems".to_string()
            } else {
                format!("{} problem(s)", self.problems.len())
            }
        )?;
        for p in &self.problems {
            writeln!(f, "  {:?}: {}", p.kind, p.detail)?;
        }
        Ok(())
    }
}

fn num(k: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(k.try_into().ok()?))
}

fn show(k: &[u8]) -> String {
    match std::str::from_utf8(k) {
        Ok(s) if !s.contains('\0') => format!("{s:?}"),
        _ => hex::encode(k),
    }
}

/// A term posting key shown as `term#number`.
fn show_term(k: &[u8]) -> String {
    match (keys::number_of_key(k), k.len().checked_sub(9)) {
        (Some(n), Some(end)) => format!("{:?}#{n}", String::from_utf8_lossy(&k[..end])),
        _ => hex::encode(k),
    }
}

/// Checks every tree of `store` against its orders. Writes are paused while it runs, so the
/// report describes one consistent state.
pub fn check(store: &SledStore) -> Result<CheckReport, StoreError> {
    let _paused = store.pause_writes();
    let t = store.trees();
    let mut r = CheckReport::default();

    // Orders and what each one implies.
    let mut undecodable: HashSet<u64> = HashSet::new();
    let mut counters: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    let mut customer_orders: HashMap<CustomerId, u64> = HashMap::new();
    let mut max_number = 0u64;
    let mut expected_idx = 0u64;
    let mut expected_terms = 0u64;
    for item in t.orders.iter() {
        let (k, v) = item?;
        let Some(number) = num(&k) else {
            r.report(ProblemKind::Undecodable, format!("order key {}", show(&k)));
            continue;
        };
        max_number = max_number.max(number);
        r.orders += 1;
        let order: Order = match decode("order", &v) {
            Ok(o) => o,
            Err(e) => {
                undecodable.insert(number);
                r.report(ProblemKind::Undecodable, format!("order {number}: {e}"));
                continue;
            }
        };
        if order.number != number {
            r.report(
                ProblemKind::Undecodable,
                format!("order stored under {number} says it is {}", order.number),
            );
        }
        match t.summaries.get(k)? {
            None => r.report(
                ProblemKind::SummaryMismatch,
                format!("order {number} has no summary"),
            ),
            Some(b) => match super::read_summary(&b, true) {
                Ok((s, terms))
                    if s == Summary::of(&order)
                        && terms.iter().eq(keys::order_terms(&order).iter()) => {}
                Ok(_) => r.report(
                    ProblemKind::SummaryMismatch,
                    format!("order {number}: the summary differs from the order"),
                ),
                Err(e) => r.report(ProblemKind::Undecodable, format!("summary {number}: {e}")),
            },
        }
        let fields = IndexFields::of(&order);
        let idx_keys = keys::index_keys(&fields);
        expected_idx += idx_keys.len() as u64;
        for key in &idx_keys {
            if !t.idx.contains_key(key)? {
                r.report(
                    ProblemKind::IndexMissing,
                    format!("order {number}: index entry {}", hex::encode(key)),
                );
            }
        }
        let terms = keys::order_terms(&order);
        expected_terms += terms.len() as u64;
        for term in &terms {
            if !t.terms.contains_key(keys::term_key(term, number))? {
                r.report(
                    ProblemKind::TermMissing,
                    format!("order {number}: search term {term:?}"),
                );
            }
            if !t.vocab.contains_key(term.as_bytes())? {
                r.report(
                    ProblemKind::VocabMissing,
                    format!("order {number}: term {term:?} is not in the vocabulary"),
                );
            }
        }
        for c in counter_keys(&fields) {
            *counters.entry(c).or_default() += 1;
        }
        *customer_orders.entry(order.customer.id).or_default() += 1;
        match t.order_ids.get(order.id.0.as_bytes())? {
            Some(b) if num(&b) == Some(number) => {}
            _ => r.report(
                ProblemKind::OrderIdWrong,
                format!("order {number}: its id {} does not map to it", order.id.0),
            ),
        }
    }

    // Summaries without orders.
    for item in t.summaries.iter() {
        let (k, _) = item?;
        if !t.orders.contains_key(&k)? {
            r.report(
                ProblemKind::SummaryStale,
                format!("summary of missing order {}", num(&k).unwrap_or_default()),
            );
        }
    }

    // Stale index entries and postings: only searched for when the counts say there are some.
    let explained = |n: Option<u64>| -> Option<Order> {
        let n = n?;
        if undecodable.contains(&n) {
            return None;
        }
        t.orders
            .get(n.to_be_bytes())
            .ok()
            .flatten()
            .and_then(|b| decode::<Order>("order", &b).ok())
    };
    if t.idx.len() as u64 != expected_idx || r.count(ProblemKind::IndexMissing) > 0 {
        let mut cache: Option<(u64, std::collections::BTreeSet<Vec<u8>>)> = None;
        for item in t.idx.iter() {
            let (k, _) = item?;
            let n = keys::number_of_key(&k);
            if n.is_some_and(|n| undecodable.contains(&n)) {
                continue;
            }
            let wanted = match (&cache, n) {
                (Some((c, set)), Some(n)) if *c == n => set.contains(k.as_ref()),
                _ => {
                    let set = explained(n)
                        .map(|o| keys::index_keys(&IndexFields::of(&o)))
                        .unwrap_or_default();
                    let hit = set.contains(k.as_ref());
                    cache = n.map(|n| (n, set));
                    hit
                }
            };
            if !wanted {
                r.report(
                    ProblemKind::IndexStale,
                    format!(
                        "index entry {} (order {})",
                        hex::encode(&k),
                        n.map_or("?".into(), |n| n.to_string())
                    ),
                );
            }
        }
    }
    if t.terms.len() as u64 != expected_terms || r.count(ProblemKind::TermMissing) > 0 {
        for item in t.terms.iter() {
            let (k, _) = item?;
            let n = keys::number_of_key(&k);
            if n.is_some_and(|n| undecodable.contains(&n)) {
                continue;
            }
            let wanted = match (explained(n), k.len().checked_sub(9)) {
                (Some(o), Some(end)) => std::str::from_utf8(&k[..end])
                    .is_ok_and(|term| keys::order_terms(&o).contains(term)),
                _ => false,
            };
            if !wanted {
                r.report(
                    ProblemKind::TermStale,
                    format!("search posting {}", show_term(&k)),
                );
            }
        }
    }

    // order_ids entries that name no order.
    for item in t.order_ids.iter() {
        let (k, v) = item?;
        let ok = match num(&v) {
            Some(n) => t.orders.contains_key(n.to_be_bytes())?,
            None => false,
        };
        if !ok {
            r.report(
                ProblemKind::OrderIdWrong,
                format!("id {} maps to no order", show(&k)),
            );
        }
    }

    // Counters and the next number. A recount is meaningless when orders do not decode.
    if undecodable.is_empty() {
        let mut names: Vec<Vec<u8>> = vec![
            b"c:all".to_vec(),
            b"c:test:0".to_vec(),
            b"c:test:1".to_vec(),
        ];
        names.extend(
            PaymentStatus::ALL
                .iter()
                .map(|p| format!("c:ps:{}", p.code()).into_bytes()),
        );
        names.extend(
            FulfillmentStatus::ALL
                .iter()
                .map(|f| format!("c:fs:{}", f.code()).into_bytes()),
        );
        for name in names {
            let stored = match t.meta.get(&name)? {
                Some(v) => match decode_u64("counter", &v) {
                    Ok(n) => n,
                    Err(e) => {
                        r.report(ProblemKind::Undecodable, format!("{}: {e}", show(&name)));
                        continue;
                    }
                },
                None => 0,
            };
            let recount = counters.get(&name).copied().unwrap_or(0);
            if stored != recount {
                r.report(
                    ProblemKind::CounterWrong,
                    format!(
                        "{} is {stored}, a recount gives {recount}",
                        String::from_utf8_lossy(&name)
                    ),
                );
            }
        }
    }
    match t.meta.get(b"next_number")? {
        Some(v) => match decode_u64("next number", &v) {
            Ok(next) if r.orders == 0 || next > max_number => {}
            Ok(next) => r.report(
                ProblemKind::NextNumber,
                format!("next_number {next} is not above the highest order {max_number}"),
            ),
            Err(e) => r.report(ProblemKind::Undecodable, e.to_string()),
        },
        None if r.orders > 0 => r.report(
            ProblemKind::NextNumber,
            format!("next_number is missing but order {max_number} exists"),
        ),
        None => {}
    }

    // Customers.
    let mut customer_ids: HashSet<CustomerId> = HashSet::new();
    let mut expected_customer_terms = 0u64;
    for item in t.customers.iter() {
        let (k, v) = item?;
        r.customers += 1;
        let c: CustomerRecord = match decode("customer", &v) {
            Ok(c) => c,
            Err(e) => {
                r.report(
                    ProblemKind::Undecodable,
                    format!("customer {}: {e}", show(&k)),
                );
                continue;
            }
        };
        customer_ids.insert(c.id);
        if undecodable.is_empty() {
            let recount = customer_orders.get(&c.id).copied().unwrap_or(0);
            if c.orders_count != recount {
                r.report(
                    ProblemKind::CustomerCount,
                    format!(
                        "customer {} ({}) has orders_count {}, a recount gives {recount}",
                        c.id, c.name, c.orders_count
                    ),
                );
            }
        }
        let terms = customer_terms_of(&c);
        expected_customer_terms += terms.len() as u64;
        for term in &terms {
            if !t
                .customer_terms
                .contains_key(customer_term_key(term, c.id))?
            {
                r.report(
                    ProblemKind::CustomerTermWrong,
                    format!("customer {}: search term {term:?} is missing", c.id),
                );
            }
        }
    }
    for id in customer_orders.keys() {
        if !customer_ids.contains(id) {
            r.report(
                ProblemKind::CustomerMissing,
                format!("orders name customer {id}, which does not exist"),
            );
        }
    }
    if t.customer_terms.len() as u64 != expected_customer_terms {
        r.report(
            ProblemKind::CustomerTermWrong,
            format!(
                "{} customer search postings, the customers explain {expected_customer_terms}",
                t.customer_terms.len()
            ),
        );
    }
    for item in t.customer_keys.iter() {
        let (k, v) = item?;
        let ok = uuid::Uuid::from_slice(&v)
            .ok()
            .is_some_and(|id| customer_ids.contains(&CustomerId(id)));
        if !ok {
            r.report(
                ProblemKind::CustomerKeyDangling,
                format!("customer key {} points to no customer", show(&k)),
            );
        }
    }

    // Idempotency keys.
    for item in t.idempotency.iter() {
        let (k, v) = item?;
        match decode::<(Vec<u8>, u64)>("idempotency", &v) {
            Ok((_, n)) if t.orders.contains_key(n.to_be_bytes())? => {}
            Ok((_, n)) => r.report(
                ProblemKind::IdempotencyDangling,
                format!("idempotency key {} names missing order {n}", show(&k)),
            ),
            Err(e) => r.report(ProblemKind::Undecodable, e.to_string()),
        }
    }

    // Outbox.
    let mut by_order_expected = 0u64;
    for item in t.outbox.iter() {
        let (k, v) = item?;
        r.messages += 1;
        let m: OutboxMessage = match decode("outbox message", &v) {
            Ok(m) => m,
            Err(e) => {
                r.report(
                    ProblemKind::Undecodable,
                    format!("message {}: {e}", hex::encode(&k)),
                );
                continue;
            }
        };
        if m.status == OutboxStatus::Pending && !t.outbox_due.contains_key(due_key(&m))? {
            r.report(
                ProblemKind::OutboxDueMissing,
                format!("pending message {} has no due entry", m.id),
            );
        }
        if let Some(n) = m.order_number {
            by_order_expected += 1;
            let mut bk = n.to_be_bytes().to_vec();
            bk.extend_from_slice(m.id.as_bytes());
            if !t.outbox_by_order.contains_key(bk)? {
                r.report(
                    ProblemKind::OutboxByOrderWrong,
                    format!("message {} of order {n} is not listed under it", m.id),
                );
            }
        }
    }
    for item in t.outbox_due.iter() {
        let (k, _) = item?;
        let msg = match k.get(8..24).and_then(|b| uuid::Uuid::from_slice(b).ok()) {
            Some(id) => t.outbox.get(id.as_bytes())?,
            None => None,
        };
        let ok = msg
            .and_then(|b| decode::<OutboxMessage>("outbox message", &b).ok())
            .is_some_and(|m| m.status == OutboxStatus::Pending && due_key(&m) == k.as_ref());
        if !ok {
            r.report(
                ProblemKind::OutboxDueDangling,
                format!("due entry {} points to no pending message", hex::encode(&k)),
            );
        }
    }
    if t.outbox_by_order.len() as u64 != by_order_expected {
        r.report(
            ProblemKind::OutboxByOrderWrong,
            format!(
                "{} per-order outbox entries, the messages explain {by_order_expected}",
                t.outbox_by_order.len()
            ),
        );
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::SortField;

    fn filled() -> (tempfile::TempDir, SledStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        crate::app::demo::fill(&store, 40, |_| {}).unwrap();
        (dir, store)
    }

    fn only(r: &CheckReport, kind: ProblemKind) {
        assert_eq!(r.problems.len(), 1, "{r}");
        assert_eq!(r.problems[0].kind, kind, "{r}");
    }

    #[test]
    fn a_clean_store_passes() {
        let (_d, store) = filled();
        let r = check(&store).unwrap();
        assert!(r.is_clean(), "{r}");
        assert_eq!(r.orders, 40);
        assert!(r.customers > 0);
    }

    #[test]
    fn an_empty_store_passes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        assert!(check(&store).unwrap().is_clean());
    }

    #[test]
    fn indexes_of_an_older_layout_are_rebuilt_when_the_store_opens() {
        let dir = tempfile::tempdir().unwrap();
        let expected = {
            let store = SledStore::open(dir.path()).unwrap();
            crate::app::demo::fill(&store, 30, |_| {}).unwrap();
            let expected = store.trees().idx.len();
            // What layout 1 also wrote: the other sorts within each filter value.
            let o = store.get_order(1003).unwrap();
            let f = IndexFields::of(&o);
            let old = keys::index_key(SortField::Total, keys::Partition::Payment(f.payment), &f);
            store.trees().idx.insert(old, &[]).unwrap();
            store
                .trees()
                .meta
                .insert(b"index_scheme", &1u64.to_be_bytes())
                .unwrap();
            assert!(!check(&store).unwrap().is_clean());
            store.flush().unwrap();
            expected
        };
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.trees().idx.len(), expected);
        let r = check(&store).unwrap();
        assert!(r.is_clean(), "{r}");
    }

    #[test]
    fn a_missing_index_entry_is_reported_exactly() {
        let (_d, store) = filled();
        let o = store.get_order(1010).unwrap();
        let key = keys::index_keys(&IndexFields::of(&o))
            .into_iter()
            .next()
            .unwrap();
        store.trees().idx.remove(&key).unwrap();
        let r = check(&store).unwrap();
        only(&r, ProblemKind::IndexMissing);
        assert!(r.problems[0].detail.contains("order 1010"), "{r}");
    }

    #[test]
    fn a_corrupted_index_entry_is_reported_as_missing_and_stale() {
        let (_d, store) = filled();
        let o = store.get_order(1020).unwrap();
        let key = keys::index_keys(&IndexFields::of(&o))
            .into_iter()
            .next_back()
            .unwrap();
        store.trees().idx.remove(&key).unwrap();
        let mut bad = key.clone();
        bad[3] ^= 0xff; // the sort key, not the number
        store.trees().idx.insert(&bad, &[]).unwrap();
        let r = check(&store).unwrap();
        assert_eq!(r.problems.len(), 2, "{r}");
        assert_eq!(r.count(ProblemKind::IndexMissing), 1, "{r}");
        assert_eq!(r.count(ProblemKind::IndexStale), 1, "{r}");
    }

    #[test]
    fn a_stale_search_posting_is_reported_exactly() {
        let (_d, store) = filled();
        store
            .trees()
            .terms
            .insert(keys::term_key("zzzghost", 1005), &[])
            .unwrap();
        let r = check(&store).unwrap();
        only(&r, ProblemKind::TermStale);
        assert!(r.problems[0].detail.contains("zzzghost"), "{r}");
    }

    #[test]
    fn stale_vocabulary_is_allowed() {
        let (_d, store) = filled();
        store.trees().vocab.insert(b"neverused", &[]).unwrap();
        assert!(check(&store).unwrap().is_clean());
    }

    #[test]
    fn a_deleted_summary_is_reported_exactly() {
        let (_d, store) = filled();
        store
            .trees()
            .summaries
            .remove(1003u64.to_be_bytes())
            .unwrap();
        let r = check(&store).unwrap();
        only(&r, ProblemKind::SummaryMismatch);
        assert!(r.problems[0].detail.contains("1003"), "{r}");
    }

    #[test]
    fn a_skewed_counter_is_reported_exactly() {
        let (_d, store) = filled();
        let meta = store.trees().meta;
        let all = decode_u64("c", &meta.get(b"c:all").unwrap().unwrap()).unwrap();
        meta.insert(b"c:all", &(all + 3).to_be_bytes()).unwrap();
        let r = check(&store).unwrap();
        only(&r, ProblemKind::CounterWrong);
        assert!(r.problems[0].detail.contains("c:all is 43"), "{r}");
    }

    #[test]
    fn a_damaged_order_record_is_reported() {
        let (_d, store) = filled();
        let orders = store.trees().orders;
        let mut bytes = orders.get(1001u64.to_be_bytes()).unwrap().unwrap().to_vec();
        bytes.truncate(bytes.len() / 2);
        orders.insert(1001u64.to_be_bytes(), bytes).unwrap();
        let r = check(&store).unwrap();
        assert_eq!(r.count(ProblemKind::Undecodable), 1, "{r}");
        // Its index entries are not reported as stale on top.
        assert_eq!(r.count(ProblemKind::IndexStale), 0, "{r}");
    }

    #[test]
    fn a_lost_due_entry_and_a_dangling_one_are_reported() {
        let (_d, store) = filled();
        let msgs: Vec<OutboxMessage> = (0..3)
            .map(|i| {
                OutboxMessage::new(
                    uuid::Uuid::now_v7(),
                    Some(1001 + i),
                    "order_placed",
                    crate::domain::outbox::Channel::Email,
                    "ann@example.com",
                    "Thanks".into(),
                    "Hello".into(),
                    None,
                    chrono::Utc::now(),
                )
            })
            .collect();
        store.outbox_add(&msgs).unwrap();
        assert!(check(&store).unwrap().is_clean());
        let t = store.trees();
        let (k, _) = t.outbox_due.iter().next().unwrap().unwrap();
        t.outbox_due.remove(&k).unwrap();
        let r = check(&store).unwrap();
        only(&r, ProblemKind::OutboxDueMissing);
        let mut ghost = k.to_vec();
        ghost[0] ^= 1;
        t.outbox_due.insert(&k, &[]).unwrap();
        t.outbox_due.insert(ghost, &[]).unwrap();
        let r = check(&store).unwrap();
        only(&r, ProblemKind::OutboxDueDangling);
    }

    #[test]
    fn wrong_customer_counts_and_dangling_customer_keys_are_reported() {
        let (_d, store) = filled();
        let t = store.trees();
        let (k, v) = t.customers.iter().next().unwrap().unwrap();
        let mut c: CustomerRecord = decode("c", &v).unwrap();
        c.orders_count += 1;
        t.customers
            .insert(&k, crate::store::codec::encode(&c).unwrap())
            .unwrap();
        t.customer_keys
            .insert(b"e:nobody@example.com", uuid::Uuid::nil().as_bytes())
            .unwrap();
        let r = check(&store).unwrap();
        assert_eq!(r.problems.len(), 2, "{r}");
        assert_eq!(r.count(ProblemKind::CustomerCount), 1, "{r}");
        assert_eq!(r.count(ProblemKind::CustomerKeyDangling), 1, "{r}");
    }
}
