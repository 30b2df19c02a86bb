//! The sled adapter's own behaviour: its settings cache, its numbering and its customer linking
//! under concurrency. What every backend must do is in `store::contract`.

use super::*;
use crate::domain::intake::NewOrderIds;
use crate::domain::Actor;
use crate::ports::{Created, NewOrder};
use uuid::Uuid;

/// A sample order for `email`, numbered from the store, as the service would build it.
fn new_order(store: &SledStore, email: &str, key: Option<&str>) -> NewOrder {
    let mut draft = crate::domain::sample::sample_order(false);
    draft.customer.email = email.into();
    let valid = draft.validate().unwrap();
    let ids = NewOrderIds {
        order_id: Uuid::now_v7(),
        number: store.reserve_numbers(1).unwrap(),
        customer_id: CustomerId(Uuid::now_v7()),
        item_ids: (0..valid.items.len()).map(|_| Uuid::now_v7()).collect(),
        payment_id: Uuid::now_v7(),
    };
    NewOrder {
        order: valid.build(
            &ids,
            "USD",
            chrono::Utc::now(),
            &Actor::Token("test".into()),
        ),
        outbox: Vec::new(),
        idempotency: key.map(|k| (k.to_string(), [1u8; 32])),
        customer: None,
        only_before_real_orders: false,
    }
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
        store
            .settings_map()
            .unwrap()
            .get("store.email")
            .map(String::as_str),
        Some("shop@example.com")
    );
}

#[test]
fn numbers_follow_on_after_reopening_and_bulk_reservations() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStore::open(dir.path()).unwrap();
        let first = store
            .insert_order(&new_order(&store, "a@example.com", Some("k1")))
            .unwrap();
        assert_eq!(number(&first), FIRST_NUMBER);
        let second = store
            .insert_order(&new_order(&store, "b@example.com", None))
            .unwrap();
        assert_eq!(number(&second), FIRST_NUMBER + 1);
        store.flush().unwrap();
    }
    let store = SledStore::open(dir.path()).unwrap();
    let third = store
        .insert_order(&new_order(&store, "c@example.com", None))
        .unwrap();
    assert_eq!(number(&third), FIRST_NUMBER + 2);
    // Demo numbers are reserved from the same sequence.
    assert_eq!(store.reserve_numbers(10).unwrap(), FIRST_NUMBER + 3);
    let after = store
        .insert_order(&new_order(&store, "d@example.com", None))
        .unwrap();
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
                let new = new_order(&store, "same@example.com", None);
                match store.insert_order(&new).unwrap() {
                    Created::New(o) => (o.number, o.customer.id),
                    Created::Replayed(_) => unreachable!(),
                }
            })
        })
        .collect();
    let placed: Vec<(u64, CustomerId)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
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
    // Every stored order names the customer the store linked.
    for (n, id) in &placed {
        assert_eq!(store.get_order(*n).unwrap().customer.id, *id);
    }
    assert!(check::check(&store).unwrap().is_clean());
}

#[test]
fn the_storage_contract_holds() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(SledStore::open(dir.path()).unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(crate::store::contract::run(store));
}

#[test]
fn a_copy_holds_everything_the_store_held() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let src = std::sync::Arc::new(SledStore::open(a.path()).unwrap());
    let dst = std::sync::Arc::new(SledStore::open(b.path()).unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(crate::store::contract::run(src.clone()));
    rt.block_on(crate::store::contract::copies_exactly(src, dst.clone()));
    assert!(check::check(&dst).unwrap().is_clean());
}

/// The numbers of the orders a search finds (first page).
fn found(store: &SledStore, q: &str) -> Vec<u64> {
    let query = crate::ports::ListQuery {
        q: q.into(),
        limit: 500,
        ..Default::default()
    };
    let mut n: Vec<u64> = store
        .list_orders(&query)
        .unwrap()
        .orders
        .iter()
        .map(|s| s.number)
        .collect();
    n.sort();
    n
}

#[test]
fn a_search_word_finds_every_term_it_begins_and_only_live_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let mut numbers = Vec::new();
    for (i, name) in ["Ann Smith", "Bo Smithson", "Cy Smit", "Di Smyth"]
        .iter()
        .enumerate()
    {
        let mut new = new_order(&store, &format!("buyer{i}@shop.test"), None);
        new.order.customer.name = (*name).into();
        numbers.push(number(&store.insert_order(&new).unwrap()));
    }
    assert_eq!(found(&store, "smith"), numbers[..2].to_vec());
    assert_eq!(found(&store, "smi"), numbers[..3].to_vec());
    assert_eq!(found(&store, "sm"), numbers.clone());
    assert_eq!(found(&store, "smz"), Vec::<u64>::new());
    // A term no order has any more is not found (the name changed).
    let mut o = store.get_order(numbers[1]).unwrap();
    o.customer.name = "Bo Jones".into();
    o.version += 1;
    store.update_order(o.version - 1, &o, &[]).unwrap();
    assert_eq!(found(&store, "smiths"), Vec::<u64>::new());
    assert_eq!(found(&store, "smith"), vec![numbers[0]]);
    // "shop" (the e-mail) begins with "s" too.
    assert_eq!(found(&store, "s"), numbers);
}

#[test]
fn a_layout_4_store_drops_its_vocabulary_rebuilds_its_postings_and_finds_the_same_orders() {
    let dir = tempfile::tempdir().unwrap();
    let first = {
        let store = SledStore::open(dir.path()).unwrap();
        let mut new = new_order(&store, "vocab@shop.test", None);
        new.order.customer.name = "Vera Vocab".into();
        let n = number(&store.insert_order(&new).unwrap());
        // As a store written by an earlier release: layout 4, with its vocabulary tree and a
        // posting per term and order (term 0 number → nothing).
        store.terms.clear().unwrap();
        for t in keys::order_terms(&store.get_order(n).unwrap()) {
            let mut k = t.into_bytes();
            k.push(0);
            k.extend_from_slice(&n.to_be_bytes());
            store.terms.insert(k, &[]).unwrap();
        }
        let vocab = store.db().open_tree("vocab").unwrap();
        vocab.insert(b"vera", &[]).unwrap();
        vocab.insert(b"stale", &[]).unwrap();
        store
            .meta
            .insert(INDEX_SCHEME_KEY, &4u64.to_be_bytes())
            .unwrap();
        store.db().flush().unwrap();
        n
    };
    let store = SledStore::open(dir.path()).unwrap();
    assert!(!store
        .db()
        .tree_names()
        .iter()
        .any(|t| t.as_ref() == b"vocab"));
    assert_eq!(
        decode_u64(
            "scheme",
            &store.meta.get(INDEX_SCHEME_KEY).unwrap().unwrap()
        )
        .unwrap(),
        keys::INDEX_SCHEME
    );
    assert_eq!(found(&store, "vera"), vec![first]);
    assert!(check::check(&store).unwrap().is_clean());
}

/// Every order a search finds, seven per page, following the cursors.
fn search_pages(store: &SledStore, q: &str, desc: bool) -> Vec<u64> {
    let mut got = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_orders(&crate::ports::ListQuery {
                q: q.into(),
                limit: 7,
                desc,
                cursor: cursor.clone(),
                ..Default::default()
            })
            .unwrap();
        got.extend(page.orders.iter().map(|s| s.number));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    got
}

/// Every "blocky" order, newest first and oldest first.
fn blocky_pages(store: &SledStore) -> [Vec<u64>; 2] {
    [true, false].map(|desc| search_pages(store, "blocky", desc))
}

#[test]
fn search_pages_through_posting_blocks_in_both_directions() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    // 150 orders over four blocks of numbers (numbers are skipped between them); every third
    // one is Blocky's.
    let mut want = Vec::new();
    for i in 0..150 {
        if i % 40 == 39 {
            store.reserve_numbers(keys::PHONE_BLOCK_ORDERS).unwrap();
        }
        let mut new = new_order(&store, &format!("b{i}@shop.test"), None);
        if i % 3 == 0 {
            new.order.customer.name = "Bea Blocky".into();
        }
        let n = number(&store.insert_order(&new).unwrap());
        if i % 3 == 0 {
            want.push(n);
        }
    }
    assert!(want.last().unwrap() / keys::BLOCK_ORDERS - want[0] / keys::BLOCK_ORDERS >= 3);
    // One leaves the term (taken out of a block others still use).
    let gone = want.remove(10);
    let mut o = store.get_order(gone).unwrap();
    o.customer.name = "Bea Other".into();
    o.version += 1;
    store.update_order(o.version - 1, &o, &[]).unwrap();
    let newest_first: Vec<u64> = want.iter().rev().copied().collect();
    // Read whole, and merged from the posting lists.
    assert_eq!(blocky_pages(&store), [newest_first.clone(), want.clone()]);
    assert_eq!(
        store.orders_with_term("Blocky", 5).unwrap(),
        newest_first[..5].to_vec()
    );
    assert!(check::check(&store).unwrap().is_clean());
    drop(store);
    let store = SledStore::open(dir.path()).unwrap().with_gather_blocks(0);
    assert_eq!(blocky_pages(&store), [newest_first, want]);
}

/// Every order a search finds, newest first.
fn search_all(store: &SledStore, q: &str) -> Vec<u64> {
    search_pages(store, q, true)
}

#[test]
fn a_surname_finds_its_email_addresses_through_their_stem() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let mut with_digits = Vec::new();
    let mut all = Vec::new();
    for i in 0..60 {
        let mut new = new_order(&store, &format!("zorblat{i}@shop.test"), None);
        new.order.customer.name = "Ann Other".into();
        let n = number(&store.insert_order(&new).unwrap());
        all.push(n);
        if i == 4 || (40..50).contains(&i) {
            with_digits.push(n);
        }
    }
    for email in ["x1@shop.test", "zorblatt@shop.test", "zorblat7x@shop.test"] {
        let mut new = new_order(&store, email, None);
        if email.starts_with('x') {
            new.order.customer.name = "Zed Zorblat".into();
        } else {
            new.order.customer.name = "Ann Other".into();
        }
        all.push(number(&store.insert_order(&new).unwrap()));
    }
    let odd_one = *all.last().unwrap();
    all.reverse();
    with_digits.reverse();
    let finds = |store: &SledStore| {
        assert_eq!(search_all(store, "zorblat"), all);
        assert_eq!(search_all(store, "zorb"), all);
        assert_eq!(search_all(store, "zorblat4"), with_digits);
        assert_eq!(search_all(store, "zorblat7x"), vec![odd_one]);
        assert_eq!(search_all(store, "zorblat Zed"), vec![all[2]]);
    };
    // Read whole, and merged from the posting lists.
    finds(&store);
    assert!(check::check(&store).unwrap().is_clean());
    drop(store);
    finds(&SledStore::open(dir.path()).unwrap().with_gather_blocks(0));
}

/// Every order a search finds sorted by total (read whole, then sorted), as a set.
fn search_by_total(store: &SledStore, q: &str) -> std::collections::BTreeSet<u64> {
    let page = store
        .list_orders(&crate::ports::ListQuery {
            q: q.into(),
            limit: 1_000,
            sort: crate::ports::SortField::Total,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.next_cursor, None);
    page.orders.iter().map(|s| s.number).collect()
}

#[test]
fn two_words_are_intersected_on_their_postings_in_both_directions_and_under_a_small_budget() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    // 400 orders over about twenty blocks of numbers, with gaps of several blocks between
    // runs of them. "quin" begins two first names; "vor" two surnames and an e-mail stem.
    let mut want = Vec::new();
    let mut rare = 0;
    for i in 0..400u64 {
        if i % 50 == 49 {
            store.reserve_numbers(3 * keys::BLOCK_ORDERS).unwrap();
        }
        let email = if i == 201 {
            "rarebird@shop.test".to_string()
        } else if i % 7 == 0 {
            format!("vorbox{i}@shop.test")
        } else {
            format!("c{i}@shop.test")
        };
        let mut new = new_order(&store, &email, None);
        let first = ["Quinzel", "Quinby", "Ann"][(i % 3) as usize];
        let last = ["Vortex", "Vorpal", "Smith", "Jones", "Brown"][(i % 5) as usize];
        new.order.customer.name = format!("{first} {last}");
        let n = number(&store.insert_order(&new).unwrap());
        if i == 201 {
            rare = n;
        }
        if i % 3 != 2 && (i % 5 < 2 || i % 7 == 0) {
            want.push(n);
        }
    }
    let newest_first: Vec<u64> = want.iter().rev().copied().collect();
    let finds = |store: &SledStore, sorts: bool| {
        for q in ["quin vor", "vor quin", "quin vor quin"] {
            assert_eq!(search_pages(store, q, true), newest_first, "{q}");
            assert_eq!(search_pages(store, q, false), want, "{q}");
        }
        if sorts {
            assert_eq!(
                search_by_total(store, "quin vor"),
                want.iter().copied().collect()
            );
        }
        // A word that meets the others nowhere.
        assert_eq!(
            search_pages(store, "quinzel vorbox ann", true),
            Vec::<u64>::new()
        );
        // A rare word (read whole) with common ones (merged).
        assert_eq!(search_all(store, "rarebird quin vor"), vec![rare]);
        assert_eq!(search_all(store, "vor rarebird ann"), Vec::<u64>::new());
    };
    // Words read whole, merged, and merged under a budget that stops every few steps.
    finds(&store, true);
    drop(store);
    finds(
        &SledStore::open(dir.path()).unwrap().with_gather_blocks(0),
        true,
    );
    finds(
        &SledStore::open(dir.path())
            .unwrap()
            .with_gather_blocks(0)
            .with_scan_budget(1),
        false,
    );
}

#[test]
fn a_word_that_begins_too_many_terms_pages_along_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap().with_gather_blocks(0);
    let mut want = Vec::new();
    for i in 0..(search::MAX_EXPANSION as u64 + 20) {
        let mut new = new_order(&store, &format!("c{i}@shop.test"), None);
        new.order.customer.name = format!("Buyer 7000{i:04}");
        want.push(number(&store.insert_order(&new).unwrap()));
    }
    let newest_first: Vec<u64> = want.iter().rev().copied().collect();
    assert_eq!(search_pages(&store, "7000", true), newest_first);
    assert_eq!(search_pages(&store, "7000", false), want);
    assert_eq!(search_pages(&store, "7000 buyer", true), newest_first);
}
