//! `orderdeck check`: walks every tree and reports where derived data (summaries, indexes,
//! search postings, counters, customer counts, outbox indexes) disagrees with the orders.
//!
//! The store keeps serving while it runs: trees are read in slices that each pause writes for
//! a few milliseconds. Writers note the orders and customers they touch while a check runs;
//! those are checked again at the end, in one short pause that also compares the tallies
//! (status counters, customers' order counts, entries per order) with what was read.
//!
//! Memory grows with the number of orders and customers (a few small figures each), not with
//! the number of index entries or postings: expected entries are looked up one by one, and
//! stale ones are searched for only among the orders whose entry counts do not add up.

pub use crate::store::report::Progress;
mod per_order;

use super::slices::{walk, Reporter, BREATHER, SLICE};
use super::{customer_term_key, customer_terms_of, due_key, SledStore};
use crate::domain::outbox::{OutboxMessage, OutboxStatus};
use crate::domain::{CustomerId, Order};
use crate::ports::{CustomerRecord, StoreError};
use crate::store::codec::{decode, decode_u64};
use crate::store::keys::{self, IndexFields};
use per_order::{check_order, counter_names, Seen};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

pub use crate::store::report::{CheckReport, Problem, ProblemKind};

fn num(k: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(k.try_into().ok()?))
}

fn show(k: &[u8]) -> String {
    match std::str::from_utf8(k) {
        Ok(s) if !s.contains('\0') => format!("{s:?}"),
        _ => hex::encode(k),
    }
}

/// An order's search posting shown as `term#number`.
fn show_term(k: &[u8], n: u64) -> String {
    match keys::posting_term(k) {
        Some(term) => format!("{:?}#{n}", String::from_utf8_lossy(term)),
        None => hex::encode(k),
    }
}

/// Checks every tree of `store` against its orders. Writes are paused while it runs, so the
/// report describes one consistent state.
/// Checks the store with no progress shown (see [`check_with_progress`]).
pub fn check(store: &SledStore) -> Result<CheckReport, StoreError> {
    check_with_progress(store, &mut |_| {})
}

/// Checks every tree while the store keeps serving: the trees are read in slices that each
/// pause writes for a few milliseconds. Orders written meanwhile are noted by the writers and
/// checked again at the end, in one short pause that also compares the tallies (status
/// counters, customers' order counts, entries per order) with what was read.
pub fn check_with_progress(
    store: &SledStore,
    progress: &mut dyn FnMut(&Progress),
) -> Result<CheckReport, StoreError> {
    let _one_at_a_time = store.checking.lock().unwrap_or_else(|p| p.into_inner());
    store.watch_writes();
    let result = run(store, progress);
    store.unwatch_writes();
    result
}

fn run(store: &SledStore, progress: &mut dyn FnMut(&Progress)) -> Result<CheckReport, StoreError> {
    let t = store.trees();
    let mut r = CheckReport::default();
    let mut reporter = Reporter {
        sink: progress,
        last: None,
    };
    let stored_count = |name: &[u8]| -> u64 {
        t.meta
            .get(name)
            .ok()
            .flatten()
            .and_then(|v| decode_u64("counter", &v).ok())
            .unwrap_or(0)
    };
    let orders_total = stored_count(b"c:all");

    // Orders, one by one.
    let mut seen: HashMap<u64, Seen> = HashMap::new();
    let mut undecodable: HashSet<u64> = HashSet::new();
    let mut missing_for: HashSet<u64> = HashSet::new();
    walk(
        store,
        t.orders,
        "orders",
        orders_total,
        &mut reporter,
        |k, v| {
            let Some(number) = num(k) else {
                r.report(ProblemKind::Undecodable, format!("order key {}", show(k)));
                return Ok(());
            };
            r.orders += 1;
            match check_order(&t, &mut r, number, v, &mut missing_for)? {
                Some(s) => {
                    seen.insert(number, s);
                }
                None => {
                    undecodable.insert(number);
                }
            }
            Ok(())
        },
    )?;

    // Summaries without orders.
    walk(
        store,
        t.summaries,
        "summaries",
        orders_total,
        &mut reporter,
        |k, _| {
            if !t.orders.contains_key(k)? {
                r.report(
                    ProblemKind::SummaryStale,
                    format!("summary of missing order {}", num(k).unwrap_or_default()),
                );
            }
            Ok(())
        },
    )?;

    // Index entries and postings per order (compared with what each order needs at the end).
    let mut idx_per_order: HashMap<u64, u32> = HashMap::new();
    walk(store, t.idx, "index entries", 0, &mut reporter, |k, _| {
        match keys::number_of_key(k) {
            Some(n) => *idx_per_order.entry(n).or_default() += 1,
            None => r.report(
                ProblemKind::IndexStale,
                format!("index entry {} (order ?)", hex::encode(k)),
            ),
        }
        Ok(())
    })?;
    let mut terms_per_order: HashMap<u64, u32> = HashMap::new();
    walk(
        store,
        t.terms,
        "search postings",
        0,
        &mut reporter,
        |k, v| {
            match keys::posting_numbers(k, v) {
                Some(numbers) if !numbers.is_empty() => {
                    for n in numbers {
                        *terms_per_order.entry(n).or_default() += 1;
                    }
                }
                _ => r.report(
                    ProblemKind::TermStale,
                    format!("search posting {} is no list of orders", hex::encode(k)),
                ),
            }
            Ok(())
        },
    )?;

    // order_ids entries that name no order.
    walk(
        store,
        t.order_ids,
        "order ids",
        orders_total,
        &mut reporter,
        |k, v| {
            let ok = match num(v) {
                Some(n) => t.orders.contains_key(n.to_be_bytes())?,
                None => false,
            };
            if !ok {
                r.report(
                    ProblemKind::OrderIdWrong,
                    format!("id {} maps to no order", show(k)),
                );
            }
            Ok(())
        },
    )?;

    // Customers: their search postings, and their order counts (compared at the end).
    let mut customers: HashMap<CustomerId, u64> = HashMap::new();
    let mut cterms_expected: HashMap<CustomerId, u32> = HashMap::new();
    walk(store, t.customers, "customers", 0, &mut reporter, |k, v| {
        r.customers += 1;
        let c: CustomerRecord = match decode("customer", v) {
            Ok(c) => c,
            Err(e) => {
                r.report(
                    ProblemKind::Undecodable,
                    format!("customer {}: {e}", show(k)),
                );
                return Ok(());
            }
        };
        customers.insert(c.id, c.orders_count);
        let terms = customer_terms_of(&c);
        cterms_expected.insert(c.id, terms.len() as u32);
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
        Ok(())
    })?;
    let mut cterms_seen: HashMap<CustomerId, u32> = HashMap::new();
    walk(
        store,
        t.customer_terms,
        "customer postings",
        0,
        &mut reporter,
        |k, _| {
            let id = k
                .len()
                .checked_sub(16)
                .and_then(|i| uuid::Uuid::from_slice(&k[i..]).ok());
            match id {
                Some(id) if t.customers.contains_key(id.as_bytes())? => {
                    *cterms_seen.entry(CustomerId(id)).or_default() += 1;
                }
                _ => r.report(
                    ProblemKind::CustomerTermWrong,
                    format!("customer posting {} names no customer", show(k)),
                ),
            }
            Ok(())
        },
    )?;
    walk(
        store,
        t.customer_keys,
        "customer keys",
        0,
        &mut reporter,
        |k, v| {
            let ok = match uuid::Uuid::from_slice(v) {
                Ok(id) => t.customers.contains_key(id.as_bytes())?,
                Err(_) => false,
            };
            if !ok {
                r.report(
                    ProblemKind::CustomerKeyDangling,
                    format!("customer key {} points to no customer", show(k)),
                );
            }
            Ok(())
        },
    )?;

    // Idempotency keys.
    walk(
        store,
        t.idempotency,
        "idempotency keys",
        0,
        &mut reporter,
        |k, v| {
            match decode::<(Vec<u8>, u64)>("idempotency", v) {
                Ok((_, n)) if t.orders.contains_key(n.to_be_bytes())? => {}
                Ok((_, n)) => r.report(
                    ProblemKind::IdempotencyDangling,
                    format!("idempotency key {} names missing order {n}", show(k)),
                ),
                Err(e) => r.report(ProblemKind::Undecodable, e.to_string()),
            }
            Ok(())
        },
    )?;

    // Outbox.
    walk(store, t.outbox, "outbox", 0, &mut reporter, |k, v| {
        r.messages += 1;
        let m: OutboxMessage = match decode("outbox message", v) {
            Ok(m) => m,
            Err(e) => {
                r.report(
                    ProblemKind::Undecodable,
                    format!("message {}: {e}", hex::encode(k)),
                );
                return Ok(());
            }
        };
        if m.status == OutboxStatus::Pending && !t.outbox_due.contains_key(due_key(&m))? {
            r.report(
                ProblemKind::OutboxDueMissing,
                format!("pending message {} has no due entry", m.id),
            );
        }
        if let Some(n) = m.order_number {
            let mut bk = n.to_be_bytes().to_vec();
            bk.extend_from_slice(m.id.as_bytes());
            if !t.outbox_by_order.contains_key(bk)? {
                r.report(
                    ProblemKind::OutboxByOrderWrong,
                    format!("message {} of order {n} is not listed under it", m.id),
                );
            }
        }
        Ok(())
    })?;
    walk(
        store,
        t.outbox_due,
        "outbox due times",
        0,
        &mut reporter,
        |k, _| {
            let msg = match k.get(8..24).and_then(|b| uuid::Uuid::from_slice(b).ok()) {
                Some(id) => t.outbox.get(id.as_bytes())?,
                None => None,
            };
            let ok = msg
                .and_then(|b| decode::<OutboxMessage>("outbox message", &b).ok())
                .is_some_and(|m| m.status == OutboxStatus::Pending && due_key(&m) == k);
            if !ok {
                r.report(
                    ProblemKind::OutboxDueDangling,
                    format!("due entry {} points to no pending message", hex::encode(k)),
                );
            }
            Ok(())
        },
    )?;
    walk(
        store,
        t.outbox_by_order,
        "outbox by order",
        0,
        &mut reporter,
        |k, _| {
            let number = k.get(..8).and_then(num);
            let msg = match k.get(8..24).and_then(|b| uuid::Uuid::from_slice(b).ok()) {
                Some(id) => t.outbox.get(id.as_bytes())?,
                None => None,
            };
            let ok = msg
                .and_then(|b| decode::<OutboxMessage>("outbox message", &b).ok())
                .is_some_and(|m| m.order_number.is_some() && m.order_number == number);
            if !ok {
                r.report(
                    ProblemKind::OutboxByOrderWrong,
                    format!(
                        "per-order outbox entry {} names no message of that order",
                        hex::encode(k)
                    ),
                );
            }
            Ok(())
        },
    )?;

    // Orders and customers written during the check are checked again, in slices, until
    // few are left; the last of them in one short pause that also reads the stored tallies.
    let mut rechecked: HashSet<u64> = HashSet::new();
    let mut touched_customers: HashSet<CustomerId> = HashSet::new();
    let recheck = |n: u64,
                   r: &mut CheckReport,
                   seen: &mut HashMap<u64, Seen>,
                   undecodable: &mut HashSet<u64>,
                   missing_for: &mut HashSet<u64>|
     -> Result<(), StoreError> {
        seen.remove(&n);
        undecodable.remove(&n);
        if let Some(v) = t.orders.get(n.to_be_bytes())? {
            match check_order(&t, r, n, &v, missing_for)? {
                Some(s) => {
                    seen.insert(n, s);
                }
                None => {
                    undecodable.insert(n);
                }
            }
        }
        Ok(())
    };
    for _round in 0..8 {
        let touched = {
            let _paused = store.pause_writes();
            store.watch_writes()
        };
        touched_customers.extend(touched.customers);
        let mut numbers: Vec<u64> = touched.orders.into_iter().collect();
        numbers.sort_unstable();
        rechecked.extend(numbers.iter().copied());
        let few = numbers.len() < 64;
        let mut rest = numbers.as_slice();
        while !rest.is_empty() {
            let _paused = store.pause_writes();
            let started = Instant::now();
            while let Some((&n, tail)) = rest.split_first() {
                recheck(n, &mut r, &mut seen, &mut undecodable, &mut missing_for)?;
                rest = tail;
                if started.elapsed() >= SLICE {
                    break;
                }
            }
            drop(_paused);
            reporter.report("orders written meanwhile", 0, 0, rest.is_empty());
            std::thread::sleep(BREATHER);
        }
        if few {
            break;
        }
    }
    let stored_counters: BTreeMap<Vec<u8>, Result<u64, String>>;
    let next_number: Option<Result<u64, String>>;
    {
        let _paused = store.pause_writes();
        let touched = store.watch_writes();
        touched_customers.extend(touched.customers);
        for n in touched.orders {
            rechecked.insert(n);
            recheck(n, &mut r, &mut seen, &mut undecodable, &mut missing_for)?;
        }
        for id in &touched_customers {
            match t.customers.get(id.0.as_bytes())? {
                Some(b) => match decode::<CustomerRecord>("customer", &b) {
                    Ok(c) => {
                        customers.insert(c.id, c.orders_count);
                    }
                    Err(e) => r.report(ProblemKind::Undecodable, format!("customer {id}: {e}")),
                },
                None => {
                    customers.remove(id);
                }
            }
        }
        stored_counters = counter_names()
            .into_iter()
            .map(|name| {
                let v = match t.meta.get(&name) {
                    Ok(Some(v)) => decode_u64("counter", &v).map_err(|e| e.to_string()),
                    Ok(None) => Ok(0),
                    Err(e) => Err(e.to_string()),
                };
                (name, v)
            })
            .collect();
        next_number = t
            .meta
            .get(b"next_number")?
            .map(|v| decode_u64("next number", &v).map_err(|e| e.to_string()));
    }
    // Postings of customers written during the check were counted while they changed.
    for id in &touched_customers {
        cterms_expected.remove(id);
    }
    r.orders = seen.len() as u64 + undecodable.len() as u64;

    // The tallies against what the store held at that moment. A recount is meaningless when
    // orders do not decode.
    let mut counters: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    let mut customer_orders: HashMap<CustomerId, u64> = HashMap::new();
    for s in seen.values() {
        for name in [
            b"c:all".to_vec(),
            format!("c:test:{}", u8::from(s.test)).into_bytes(),
            format!("c:ps:{}", s.payment).into_bytes(),
            format!("c:fs:{}", s.fulfillment).into_bytes(),
        ] {
            *counters.entry(name).or_default() += 1;
        }
        *customer_orders.entry(s.customer).or_default() += 1;
    }
    if undecodable.is_empty() {
        for (name, stored) in &stored_counters {
            let stored = match stored {
                Ok(n) => *n,
                Err(e) => {
                    r.report(ProblemKind::Undecodable, format!("{}: {e}", show(name)));
                    continue;
                }
            };
            let recount = counters.get(name).copied().unwrap_or(0);
            if stored != recount {
                r.report(
                    ProblemKind::CounterWrong,
                    format!(
                        "{} is {stored}, a recount gives {recount}",
                        String::from_utf8_lossy(name)
                    ),
                );
            }
        }
        let mut wrong: Vec<(CustomerId, u64, u64)> = customers
            .iter()
            .filter_map(|(id, stored)| {
                let recount = customer_orders.get(id).copied().unwrap_or(0);
                (*stored != recount).then_some((*id, *stored, recount))
            })
            .collect();
        wrong.sort();
        for (id, stored, recount) in wrong {
            r.report(
                ProblemKind::CustomerCount,
                format!("customer {id} has orders_count {stored}, a recount gives {recount}"),
            );
        }
    }
    let mut absent: Vec<&CustomerId> = customer_orders
        .keys()
        .filter(|id| !customers.contains_key(id))
        .collect();
    absent.sort();
    for id in absent {
        r.report(
            ProblemKind::CustomerMissing,
            format!("orders name customer {id}, which does not exist"),
        );
    }
    let max_number = seen.keys().chain(undecodable.iter()).max().copied();
    match (next_number, max_number) {
        (Some(Ok(next)), max) if max.is_none_or(|m| next > m) => {}
        (Some(Ok(next)), max) => r.report(
            ProblemKind::NextNumber,
            format!(
                "next_number {next} is not above the highest order {}",
                max.unwrap_or_default()
            ),
        ),
        (Some(Err(e)), _) => r.report(ProblemKind::Undecodable, e),
        (None, Some(max)) => r.report(
            ProblemKind::NextNumber,
            format!("next_number is missing but order {max} exists"),
        ),
        (None, None) => {}
    }

    // Entries per order: more than the order needs (or entries of no order) means stale ones,
    // found exactly below. Orders written during the check are left out: their entries were
    // counted while they changed.
    let mut suspects: HashSet<u64> = HashSet::new();
    for (per_order, idx) in [(&idx_per_order, true), (&terms_per_order, false)] {
        for (n, count) in per_order {
            if rechecked.contains(n) || undecodable.contains(n) {
                continue;
            }
            let want = seen.get(n).map(|s| if idx { s.idx } else { s.terms });
            if want != Some(*count) || missing_for.contains(n) {
                suspects.insert(*n);
            }
        }
    }
    let mut wrong: Vec<(&CustomerId, u32, u32)> = cterms_expected
        .iter()
        .filter_map(|(id, want)| {
            let got = cterms_seen.get(id).copied().unwrap_or(0);
            (got != *want).then_some((id, got, *want))
        })
        .collect();
    wrong.sort();
    for (id, got, want) in wrong {
        r.report(
            ProblemKind::CustomerTermWrong,
            format!("customer {id} has {got} search postings, its details explain {want}"),
        );
    }

    // The stale entries of the suspects, exactly.
    if !suspects.is_empty() {
        let explained = |n: u64| -> Result<Option<Order>, StoreError> {
            Ok(t.orders
                .get(n.to_be_bytes())?
                .and_then(|b| decode::<Order>("order", &b).ok()))
        };
        let mut cache: Option<(u64, std::collections::BTreeSet<Vec<u8>>)> = None;
        walk(
            store,
            t.idx,
            "stale index entries",
            0,
            &mut reporter,
            |k, _| {
                let Some(n) = keys::number_of_key(k).filter(|n| suspects.contains(n)) else {
                    return Ok(());
                };
                if cache.as_ref().is_none_or(|(c, _)| *c != n) {
                    let set = explained(n)?
                        .map(|o| keys::index_keys(&IndexFields::of(&o)))
                        .unwrap_or_default();
                    cache = Some((n, set));
                }
                if !cache.as_ref().is_some_and(|(_, set)| set.contains(k)) {
                    r.report(
                        ProblemKind::IndexStale,
                        format!("index entry {} (order {n})", hex::encode(k)),
                    );
                }
                Ok(())
            },
        )?;
        walk(
            store,
            t.terms,
            "stale search postings",
            0,
            &mut reporter,
            |k, v| {
                let numbers = keys::posting_numbers(k, v).unwrap_or_default();
                for n in numbers.into_iter().filter(|n| suspects.contains(n)) {
                    let wanted = match (explained(n)?, keys::posting_term(k)) {
                        (Some(o), Some(term)) => std::str::from_utf8(term)
                            .is_ok_and(|term| keys::order_terms(&o).contains(term)),
                        _ => false,
                    };
                    if !wanted {
                        r.report(
                            ProblemKind::TermStale,
                            format!("search posting {}", show_term(k, n)),
                        );
                    }
                }
                Ok(())
            },
        )?;
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::SortField;
    use std::time::Duration;

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
            .insert(
                keys::posting_key("zzzghost", 1005),
                keys::block_value(
                    keys::BLOCK_ORDERS,
                    &[keys::block_offset(keys::BLOCK_ORDERS, 1005)],
                ),
            )
            .unwrap();
        let r = check(&store).unwrap();
        only(&r, ProblemKind::TermStale);
        assert!(r.problems[0].detail.contains("zzzghost"), "{r}");
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

    #[test]
    fn a_check_runs_in_slices_while_orders_are_written_and_finds_nothing_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(SledStore::open(dir.path()).unwrap());
        crate::app::demo::fill(&store, 2_000, |_| {}).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (store, stop) = (store.clone(), stop.clone());
            std::thread::spawn(move || {
                // New orders, and changes that move index entries, postings and counters.
                let (mut writes, mut slowest) = (0u32, Duration::ZERO);
                let mut i = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let started = Instant::now();
                    if i.is_multiple_of(3) {
                        crate::app::demo::fill(&store, 1, |_| {}).unwrap();
                    } else {
                        let mut o = store.get_order(1001 + (i * 7) % 2_000).unwrap();
                        let v = o.version;
                        o.version += 1;
                        o.test = !o.test;
                        o.customer.name = format!("Renamed Customer {i}");
                        store.update_order(v, &o, &[]).unwrap();
                    }
                    slowest = slowest.max(started.elapsed());
                    writes += 1;
                    i += 1;
                }
                (writes, slowest)
            })
        };
        std::thread::sleep(Duration::from_millis(20));
        let mut stages = Vec::new();
        let started = Instant::now();
        let r = check_with_progress(&store, &mut |p| {
            if stages.last() != Some(&p.stage) {
                stages.push(p.stage.clone());
            }
        })
        .unwrap();
        let took = started.elapsed();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (writes, slowest) = writer.join().unwrap();
        assert!(r.is_clean(), "{r}");
        assert!(writes > 10, "only {writes} writes during a {took:?} check");
        // Writers never waited for the whole check, only for a slice of it.
        assert!(
            slowest < took / 4,
            "a write waited {slowest:?} during a check of {took:?}"
        );
        assert!(stages.starts_with(&["orders".to_string()]), "{stages:?}");
        assert!(stages.contains(&"outbox".to_string()), "{stages:?}");
        // The same store, checked again when quiet, agrees.
        assert!(check(&store).unwrap().is_clean());
    }
}
