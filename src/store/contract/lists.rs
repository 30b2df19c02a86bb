//! The contract's clauses on lists: search and filtered lists page in date order, in both
//! directions, each order once.

use super::{created, new_order};
use crate::domain::{Actor, Command, Ctx, PaymentStatus};
use crate::ports::{ListQuery, SortField, Storage};
use chrono::Utc;
use uuid::Uuid;

/// A list filtered by a status or the test flag pages in date order in both directions, each
/// order once, and its numbers matching agree (whatever index a backend reads it through).
pub(super) async fn filtered_pages_in_date_order(s: &dyn Storage) {
    // Paid orders among pending ones, older and newer.
    for i in 0..6 {
        let new = new_order(s, &format!("filter{i}@example.com"), "").await;
        let (o, _) = created(s.insert_order(&new).await.unwrap());
        if i % 2 == 0 {
            let ctx = Ctx::new(Utc::now(), Actor::System, [Uuid::now_v7(), Uuid::now_v7()]);
            let pay = Command::RecordPayment {
                amount: None,
                reference: None,
            };
            let (paid, _) = crate::domain::execute(&o, &pay, &ctx).unwrap();
            s.update_order(o.version, &paid, &[]).await.unwrap();
        }
    }
    let everything = ListQuery {
        limit: 1000,
        ..ListQuery::default()
    };
    let all = s.list_orders(&everything).await.unwrap().orders;
    for filter in [
        ListQuery {
            payment: Some(PaymentStatus::Paid),
            ..ListQuery::default()
        },
        ListQuery {
            payment: Some(PaymentStatus::Unpaid),
            ..ListQuery::default()
        },
        ListQuery {
            test: Some(false),
            ..ListQuery::default()
        },
    ] {
        let newest_first: Vec<u64> = all
            .iter()
            .filter(|o| filter.payment.is_none_or(|p| o.payment_status == p))
            .filter(|o| filter.test.is_none_or(|t| o.test == t))
            .map(|o| o.number)
            .collect();
        assert!(newest_first.len() >= 3, "{filter:?}");
        for desc in [true, false] {
            for limit in [1, 2, 3, 50] {
                let got = pages(
                    s,
                    ListQuery {
                        desc,
                        limit,
                        ..filter.clone()
                    },
                )
                .await;
                let mut want = newest_first.clone();
                if !desc {
                    want.reverse();
                }
                assert_eq!(got, want, "{filter:?} desc {desc} limit {limit}");
            }
        }
        let mut matching = s.numbers_matching(&filter, 1000).await.unwrap().unwrap();
        matching.sort_unstable_by(|a, b| b.cmp(a));
        let mut want = newest_first.clone();
        want.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(matching, want, "{filter:?}");
    }
}

/// Every page of a search, following its cursor, in the direction asked.
async fn all_pages(s: &dyn Storage, q: &str, desc: bool, limit: usize) -> Vec<u64> {
    let query = ListQuery {
        q: q.into(),
        desc,
        limit,
        ..ListQuery::default()
    };
    pages(s, query).await
}

/// The numbers on every page of a list, following its cursor.
async fn pages(s: &dyn Storage, mut query: ListQuery) -> Vec<u64> {
    let mut out = Vec::new();
    loop {
        let page = s.list_orders(&query).await.unwrap();
        assert!(page.orders.len() <= query.limit);
        out.extend(page.orders.iter().map(|o| o.number));
        assert!(out.len() <= 100_000, "a cursor that never ends: {query:?}");
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => return out,
        }
    }
}

/// Search in date order: a word finds every term it begins, page after page in both
/// directions, each order once; several words must all match; filters apply; a term an order
/// loses no longer finds it; the numbers matching a search agree with its pages.
pub(super) async fn search_pages_in_date_order(s: &dyn Storage) {
    let before = s.counts().await.unwrap().all;
    let mut numbers = Vec::new();
    for i in 0..7 {
        let mut new = new_order(s, &format!("zq{i}@quill.example"), "").await;
        new.order.customer.name = if i % 2 == 0 {
            "Zoë Quillon"
        } else {
            "Zoë Quillby"
        }
        .into();
        let (o, _) = created(s.insert_order(&new).await.unwrap());
        numbers.push(o.number);
    }
    // A store's own writes show in its counts at once.
    assert_eq!(s.counts().await.unwrap().all, before + 7);
    let newest_first: Vec<u64> = numbers.iter().rev().copied().collect();
    for limit in [1, 2, 3, 50] {
        assert_eq!(
            all_pages(s, "quill", true, limit).await,
            newest_first,
            "limit {limit}"
        );
        assert_eq!(
            all_pages(s, "QUILL", false, limit).await,
            numbers,
            "limit {limit}"
        );
    }
    let evens: Vec<u64> = numbers.iter().step_by(2).rev().copied().collect();
    assert_eq!(all_pages(s, "zoë quillon", true, 2).await, evens);
    assert_eq!(all_pages(s, "quillon zo", true, 2).await, evens);
    assert!(all_pages(s, "quillon quillby", true, 2).await.is_empty());
    assert!(all_pages(s, "quillx", true, 2).await.is_empty());

    // A filter applies to the search.
    let first = s.get_order(numbers[0]).await.unwrap();
    let ctx = Ctx::new(Utc::now(), Actor::System, [Uuid::now_v7(), Uuid::now_v7()]);
    let pay = Command::RecordPayment {
        amount: None,
        reference: None,
    };
    let (paid, _) = crate::domain::execute(&first, &pay, &ctx).unwrap();
    s.update_order(first.version, &paid, &[]).await.unwrap();
    let paid_quill = ListQuery {
        q: "quill".into(),
        payment: Some(PaymentStatus::Paid),
        limit: 2,
        ..ListQuery::default()
    };
    let page = s.list_orders(&paid_quill).await.unwrap();
    assert_eq!(
        page.orders.iter().map(|o| o.number).collect::<Vec<_>>(),
        vec![numbers[0]]
    );
    assert!(page.next_cursor.is_none());

    // The numbers a search matches, up to a cap.
    let quill = ListQuery {
        q: "quill".into(),
        ..ListQuery::default()
    };
    assert_eq!(
        s.numbers_matching(&quill, 7).await.unwrap(),
        Some(newest_first.clone())
    );
    assert_eq!(s.numbers_matching(&quill, 6).await.unwrap(), None);
    assert_eq!(
        s.numbers_matching(&paid_quill, 7).await.unwrap(),
        Some(vec![numbers[0]])
    );

    // A name changed: the old term no longer finds the order, the new one does.
    let mut renamed = paid.clone();
    renamed.customer.name = "Zoë Marsh".into();
    renamed.version += 1;
    s.update_order(paid.version, &renamed, &[]).await.unwrap();
    assert_eq!(
        all_pages(s, "quillon", true, 50).await,
        evens[..evens.len() - 1].to_vec()
    );
    assert_eq!(all_pages(s, "marsh", true, 50).await, vec![numbers[0]]);

    // A word that begins many terms (more than a backend may merge) finds them all.
    let mut many = Vec::new();
    for i in 0..33 {
        let mut new = new_order(s, &format!("yq{i}@many.example"), "").await;
        new.order.customer.name = format!("Yqa{i:02} Yqb{i:02}");
        many.push(created(s.insert_order(&new).await.unwrap()).0.number);
    }
    many.reverse();
    assert_eq!(all_pages(s, "yq", true, 20).await, many);
    assert_eq!(all_pages(s, "yqa", true, 50).await, many);
    assert_eq!(
        all_pages(s, "yqb0", true, 50).await,
        many[many.len() - 10..].to_vec()
    );

    // Sorted otherwise, a search still finds every match.
    let by_total = ListQuery {
        q: "quill".into(),
        sort: SortField::Total,
        ..ListQuery::default()
    };
    assert_eq!(s.list_orders(&by_total).await.unwrap().orders.len(), 7);
}
