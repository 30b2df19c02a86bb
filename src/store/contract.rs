//! The storage port's contract as a reusable test suite: every backend's tests call [`run`] on
//! a fresh, empty store. It states what the service relies on and nothing about how: numbers
//! never handed out twice, atomic order writes with their messages, the version check,
//! idempotency keys, customer linking by contact, the test-order guard, one first member, lists and counters kept
//! in step, the outbox's due index, tokens, settings, members and sessions, and `NotFound` for
//! what does not exist.

mod intakes;
mod lists;

use crate::domain::intake::NewOrderIds;
use crate::domain::outbox::{Channel, OutboxMessage, OutboxStatus};
use crate::domain::team::{Member, Role, Session};
use crate::domain::{Actor, Command, Ctx, CustomerId, Order, PaymentStatus};
use crate::ports::{
    Conflict, Created, CustomerRecord, ListQuery, NewOrder, SortField, Storage, StoreError,
    TokenRecord,
};
use chrono::{Duration, Utc};
use std::sync::Arc;
use uuid::Uuid;

/// A new real order for `email` (phone `phone`), numbered by the store.
async fn new_order(store: &dyn Storage, email: &str, phone: &str) -> NewOrder {
    let mut draft = crate::domain::sample::sample_order(false);
    draft.customer.email = email.into();
    draft.customer.phone = phone.into();
    draft.payment.paid = false;
    let valid = draft.validate().expect("a sample order is valid");
    let (number, customer) = store
        .number_and_customer(email, phone)
        .await
        .expect("a number");
    let ids = NewOrderIds {
        order_id: Uuid::now_v7(),
        number,
        customer_id: customer
            .as_ref()
            .map_or_else(|| CustomerId(Uuid::now_v7()), |c| c.id),
        item_ids: (0..valid.items.len()).map(|_| Uuid::now_v7()).collect(),
        payment_id: Uuid::now_v7(),
    };
    NewOrder {
        order: valid.build(&ids, "USD", Utc::now(), &Actor::Token("contract".into())),
        outbox: Vec::new(),
        idempotency: None,
        customer,
        only_before_real_orders: false,
    }
}

fn message(order: Option<u64>, due_in_secs: i64) -> OutboxMessage {
    let now = Utc::now();
    OutboxMessage::new(
        Uuid::now_v7(),
        order,
        "order_placed",
        Channel::Email,
        "buyer@example.com",
        "Thanks".into(),
        "Hello".into(),
        None,
        now + Duration::seconds(due_in_secs),
    )
}

/// The order from a checkout that gives its known customer's details as they are (the name
/// too; a sample order's is random).
fn unchanged(mut new: NewOrder) -> NewOrder {
    if let Some(c) = &new.customer {
        new.order.customer.name = c.name.clone();
    }
    new
}

fn created(c: Created) -> (Order, bool) {
    match c {
        Created::New(o) => (o, false),
        Created::Replayed(o) => (o, true),
    }
}

/// Runs every clause of the contract on an empty store; panics on the first one broken.
pub async fn run(store: Arc<dyn Storage>) {
    let s = store.as_ref();
    orders(s).await;
    customers_are_linked_by_contact(s).await;
    the_test_order_guard_holds(s).await;
    intakes::intakes_at_once_are_each_written_once(s).await;
    outbox(s).await;
    tokens_settings_and_accounts(s).await;
    lists::search_pages_in_date_order(s).await;
    lists::filtered_pages_in_date_order(s).await;
}

async fn orders(s: &dyn Storage) {
    assert!(matches!(
        s.get_order(999_999).await,
        Err(StoreError::NotFound(_))
    ));
    let a = s.reserve_numbers(1).await.unwrap();
    let b = s.reserve_numbers(3).await.unwrap();
    assert!(b > a, "numbers increase and are never handed out twice");
    assert!(s.reserve_numbers(1).await.unwrap() >= b + 3);

    // An order and its messages are stored together.
    let mut new = new_order(s, "ada@example.com", "+1 555 0101").await;
    new.outbox = vec![message(Some(new.order.number), 0)];
    new.idempotency = Some(("key-1".into(), [7; 32]));
    let (order, replay) = created(s.insert_order(&new).await.unwrap());
    assert!(!replay);
    assert_eq!(s.get_order(order.number).await.unwrap(), order);
    let msgs = s.outbox_list(Some(order.number), None, 10).await.unwrap();
    assert_eq!(msgs.len(), 1);

    // The idempotency key answers with the same order, or refuses another body.
    assert_eq!(
        s.idempotency_key("key-1").await.unwrap(),
        Some((order.number, [7; 32]))
    );
    let mut again = new_order(s, "ada@example.com", "").await;
    again.idempotency = Some(("key-1".into(), [7; 32]));
    let (same, replay) = created(s.insert_order(&again).await.unwrap());
    assert!(replay);
    assert_eq!(same.number, order.number);
    again.idempotency = Some(("key-1".into(), [8; 32]));
    assert!(matches!(
        s.insert_order(&again).await,
        Err(StoreError::Conflict(Conflict::IdempotencyKey))
    ));
    // The same customer with the same details (nothing about them changes), and a new
    // customer: a key already claimed writes neither an order nor a customer.
    for (email, phone) in [("ada@example.com", "+1 555 0101"), ("zed@example.com", "")] {
        let mut again = unchanged(new_order(s, email, phone).await);
        again.idempotency = Some(("key-1".into(), [7; 32]));
        let (same, replay) = created(s.insert_order(&again).await.unwrap());
        assert!(replay, "{email}: replayed");
        assert_eq!(same.number, order.number);
        assert!(matches!(
            s.get_order(again.order.number).await,
            Err(StoreError::NotFound(_))
        ));
    }
    assert_eq!(s.customer(order.customer.id).await.unwrap().orders_count, 1);
    assert_eq!(
        s.customer_by_contact("zed@example.com", "").await.unwrap(),
        None
    );

    // A change applies only to the version it was decided on.
    let ctx = Ctx::new(Utc::now(), Actor::System, [Uuid::now_v7(), Uuid::now_v7()]);
    let pay = Command::RecordPayment {
        amount: None,
        reference: None,
    };
    let (paid, _) = crate::domain::execute(&order, &pay, &ctx).unwrap();
    s.update_order(order.version, &paid, &[message(Some(order.number), 0)])
        .await
        .unwrap();
    assert!(matches!(
        s.update_order(order.version, &paid, &[]).await,
        Err(StoreError::Conflict(Conflict::Version { .. }))
    ));
    let stored = s.get_order(order.number).await.unwrap();
    assert_eq!(stored.version, paid.version);
    assert_eq!(stored.payment_status(), PaymentStatus::Paid);
    assert_eq!(
        s.outbox_list(Some(order.number), None, 10)
            .await
            .unwrap()
            .len(),
        2,
        "the change's message was stored with it"
    );

    // Lists, search and counters follow the change.
    let counts = s.counts().await.unwrap();
    assert_eq!(counts.all, 1);
    assert_eq!(counts.real, 1);
    assert_eq!(counts.payment.get(&PaymentStatus::Paid), Some(&1));
    let paid_only = ListQuery {
        payment: Some(PaymentStatus::Paid),
        ..ListQuery::default()
    };
    let page = s.list_orders(&paid_only).await.unwrap();
    assert_eq!(page.orders.len(), 1);
    assert_eq!(page.orders[0].number, order.number);
    let unpaid = ListQuery {
        payment: Some(PaymentStatus::Unpaid),
        ..ListQuery::default()
    };
    assert!(s.list_orders(&unpaid).await.unwrap().orders.is_empty());
    let by_number = ListQuery {
        q: order.number.to_string(),
        sort: SortField::Number,
        ..ListQuery::default()
    };
    assert_eq!(s.list_orders(&by_number).await.unwrap().orders.len(), 1);
    // An e-mail domain finds the orders at that domain, typed with its "@" or not.
    for q in [
        "@example.com",
        "example.com",
        "ada@example.com",
        "@ADA@example.com",
    ] {
        let domain = ListQuery {
            q: q.into(),
            ..ListQuery::default()
        };
        assert_eq!(s.list_orders(&domain).await.unwrap().orders.len(), 1, "{q}");
    }
    let elsewhere = ListQuery {
        q: "@nowhere.invalid".into(),
        ..ListQuery::default()
    };
    assert!(s.list_orders(&elsewhere).await.unwrap().orders.is_empty());

    // Tags: on the list row, filtered (all must match), found by search, and gone when removed.
    let mut tagged = stored.clone();
    for t in ["wholesale", "rush order"] {
        tagged = crate::domain::execute(&tagged, &Command::AddTag { tag: t.into() }, &ctx)
            .unwrap()
            .0;
    }
    s.update_order(stored.version, &tagged, &[]).await.unwrap();
    let with = |tags: &[&str]| ListQuery {
        tags: tags.iter().map(|t| t.to_string()).collect(),
        ..ListQuery::default()
    };
    let page = s.list_orders(&with(&["wholesale"])).await.unwrap();
    assert_eq!(page.orders.len(), 1);
    assert_eq!(page.orders[0].tags, vec!["rush order", "wholesale"]);
    let both = s.list_orders(&with(&["wholesale", "rush order"])).await;
    assert_eq!(both.unwrap().orders.len(), 1);
    let prefix_only = s.list_orders(&with(&["whole"])).await.unwrap();
    assert!(prefix_only.orders.is_empty(), "a tag filter is exact");
    let other = s.list_orders(&with(&["wholesale", "vip"])).await.unwrap();
    assert!(other.orders.is_empty());
    let search = ListQuery {
        q: "rush".into(),
        ..ListQuery::default()
    };
    assert_eq!(s.list_orders(&search).await.unwrap().orders.len(), 1);
    let untagged = crate::domain::execute(
        &tagged,
        &Command::RemoveTag {
            tag: "wholesale".into(),
        },
        &ctx,
    )
    .unwrap()
    .0;
    s.update_order(tagged.version, &untagged, &[])
        .await
        .unwrap();
    assert!(s
        .list_orders(&with(&["wholesale"]))
        .await
        .unwrap()
        .orders
        .is_empty());
    assert_eq!(
        s.get_order(order.number).await.unwrap().tags,
        vec!["rush order"]
    );

    let bad_cursor = ListQuery {
        cursor: Some("not-a-cursor".into()),
        ..ListQuery::default()
    };
    assert!(matches!(
        s.list_orders(&bad_cursor).await,
        Err(StoreError::Refused(_))
    ));
}

async fn customers_are_linked_by_contact(s: &dyn Storage) {
    let first = created(
        s.insert_order(&new_order(s, "grace@example.com", "").await)
            .await
            .unwrap(),
    )
    .0;
    let second = created(
        s.insert_order(&new_order(s, "grace@example.com", "").await)
            .await
            .unwrap(),
    )
    .0;
    assert_eq!(
        first.customer.id, second.customer.id,
        "one customer per e-mail"
    );
    let c = s.customer(first.customer.id).await.unwrap();
    assert_eq!(c.orders_count, 2);
    assert_eq!(
        s.customer_by_contact("grace@example.com", "")
            .await
            .unwrap()
            .map(|c| c.id),
        Some(c.id)
    );
    assert!(s
        .customers("grace", 10)
        .await
        .unwrap()
        .iter()
        .any(|x| x.id == c.id));
    assert!(matches!(
        s.customer(CustomerId(Uuid::now_v7())).await,
        Err(StoreError::NotFound(_))
    ));

    // An intake that read its customer before another checkout changed their name: the
    // latest checkout's details win, and both orders count.
    let stale = unchanged(new_order(s, "grace@example.com", "").await);
    let mut renamed = new_order(s, "grace@example.com", "").await;
    renamed.order.customer.name = "Grace Renamed".into();
    s.insert_order(&renamed).await.unwrap();
    let was = s.customer(first.customer.id).await.unwrap();
    assert_eq!((was.name.as_str(), was.orders_count), ("Grace Renamed", 3));
    let (late, _) = created(s.insert_order(&stale).await.unwrap());
    assert_eq!(late.customer.id, first.customer.id);
    let now = s.customer(first.customer.id).await.unwrap();
    assert_eq!(
        now.name, stale.order.customer.name,
        "the later checkout's name"
    );
    assert_eq!(now.orders_count, 4);
    // Details as they are: counted, nothing else changes.
    let same = unchanged(new_order(s, "grace@example.com", "").await);
    s.insert_order(&same).await.unwrap();
    assert_eq!(
        s.customer(first.customer.id).await.unwrap(),
        CustomerRecord {
            orders_count: 5,
            ..now
        }
    );

    // Zed, whose replayed intake made nothing (`orders`), is made by their first order.
    let (zed, _) = created(
        s.insert_order(&new_order(s, "zed@example.com", "").await)
            .await
            .unwrap(),
    );
    let c = s.customer(zed.customer.id).await.unwrap();
    assert_eq!((c.email.as_str(), c.orders_count), ("zed@example.com", 1));

    // A new customer's first orders arriving at once (some with an idempotency key) make one
    // customer, who counts them all.
    let mut firsts = Vec::new();
    for i in 0..8 {
        let mut new = new_order(s, "hedy@example.com", "+1 555 0199").await;
        if i % 2 == 0 {
            new.idempotency = Some((format!("hedy-{i}"), [i; 32]));
        }
        firsts.push(new);
    }
    let stored = futures_util::future::join_all(firsts.iter().map(|n| s.insert_order(n))).await;
    let ids: std::collections::BTreeSet<_> = stored
        .into_iter()
        .map(|c| created(c.unwrap()).0.customer.id)
        .collect();
    assert_eq!(ids.len(), 1, "one customer: {ids:?}");
    let hedy = s.customer(*ids.first().unwrap()).await.unwrap();
    assert_eq!(hedy.orders_count, 8);
    assert_eq!(
        s.customer_by_contact("", "+1 555 0199")
            .await
            .unwrap()
            .map(|c| c.id),
        Some(hedy.id)
    );
}

async fn the_test_order_guard_holds(s: &dyn Storage) {
    let mut test = new_order(s, "t@example.com", "").await;
    test.order.test = true;
    test.only_before_real_orders = true;
    assert!(matches!(
        s.insert_order(&test).await,
        Err(StoreError::Conflict(Conflict::RealOrdersExist))
    ));
}

async fn outbox(s: &dyn Storage) {
    let later = message(None, 3600);
    let now = message(None, -1);
    s.outbox_add(&[later.clone(), now.clone()]).await.unwrap();
    let due = s.outbox_due(Utc::now(), 100).await.unwrap();
    assert!(due.iter().any(|m| m.id == now.id));
    assert!(!due.iter().any(|m| m.id == later.id), "not due yet");
    let mut sent = now.clone();
    sent.delivered(Utc::now());
    s.outbox_put(std::slice::from_ref(&sent)).await.unwrap();
    assert!(!s
        .outbox_due(Utc::now(), 100)
        .await
        .unwrap()
        .iter()
        .any(|m| m.id == now.id));
    assert_eq!(
        s.outbox_get(now.id).await.unwrap().status,
        OutboxStatus::Sent
    );
    assert!(s
        .outbox_list(None, Some(OutboxStatus::Sent), 10)
        .await
        .unwrap()
        .iter()
        .all(|m| m.status == OutboxStatus::Sent));
    assert!(matches!(
        s.outbox_get(Uuid::now_v7()).await,
        Err(StoreError::NotFound(_))
    ));

    // Webhook deliveries: listed by endpoint, newest first, with what the receiver answered.
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let hook = |endpoint: Uuid| {
        let mut m = message(None, 0);
        m.channel = Channel::Webhook;
        m.endpoint = Some(endpoint);
        m
    };
    let (a1, b1, a2) = (hook(a), hook(b), hook(a));
    s.outbox_add(&[a1.clone(), b1.clone(), a2.clone()])
        .await
        .unwrap();
    let ids = |v: Vec<OutboxMessage>| v.into_iter().map(|m| m.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.outbox_for_endpoint(a, 10).await.unwrap()),
        vec![a2.id, a1.id]
    );
    assert_eq!(ids(s.outbox_for_endpoint(a, 1).await.unwrap()), vec![a2.id]);
    let mut answered = b1.clone();
    answered.response_status = Some(503);
    answered.attempt_failed("The receiver answered 503".into(), Utc::now());
    s.outbox_put(std::slice::from_ref(&answered)).await.unwrap();
    assert_eq!(s.outbox_for_endpoint(b, 10).await.unwrap(), vec![answered]);
    assert!(s
        .outbox_for_endpoint(Uuid::now_v7(), 10)
        .await
        .unwrap()
        .is_empty());
    let mut done = a1.clone();
    done.delivered(Utc::now());
    done.response_status = Some(204);
    s.outbox_put(&[done.clone(), {
        let mut x = a2.clone();
        x.delivered(Utc::now());
        x
    }])
    .await
    .unwrap();
    assert_eq!(s.outbox_get(a1.id).await.unwrap(), done);
}

async fn tokens_settings_and_accounts(s: &dyn Storage) {
    let t = TokenRecord {
        id: Uuid::now_v7(),
        name: "storefront".into(),
        created_at: Utc::now(),
        revoked: false,
    };
    s.put_token([3; 32], &t).await.unwrap();
    assert_eq!(s.find_token([3; 32]).await.unwrap(), Some(t.clone()));
    assert_eq!(s.find_token([4; 32]).await.unwrap(), None);
    s.revoke_token(t.id).await.unwrap();
    assert!(s.tokens().await.unwrap().iter().all(|x| x.revoked));
    assert!(matches!(
        s.revoke_token(Uuid::now_v7()).await,
        Err(StoreError::NotFound(_))
    ));

    assert_eq!(s.setting("store.name").await.unwrap(), None);
    s.put_setting("store.name", "Alder & Co").await.unwrap();
    assert_eq!(
        s.setting("store.name").await.unwrap().as_deref(),
        Some("Alder & Co")
    );
    assert_eq!(
        s.settings()
            .await
            .unwrap()
            .get("store.name")
            .map(String::as_str),
        Some("Alder & Co")
    );
    s.put_setting("webhook.x", "{}").await.unwrap();
    s.remove_setting("webhook.x").await.unwrap();
    s.remove_setting("webhook.never-there").await.unwrap();
    assert_eq!(s.setting("webhook.x").await.unwrap(), None);
    assert!(!s.settings().await.unwrap().contains_key("webhook.x"));

    assert!(!s.has_members().await.unwrap());
    let owner = Member {
        username: "ada".into(),
        display_name: "Ada".into(),
        role: Role::Owner,
        password_hash: "$argon2id$x".into(),
        created_at: Utc::now(),
    };
    s.insert_first_member(&owner).await.unwrap();
    assert!(matches!(
        s.insert_member(&owner).await,
        Err(StoreError::Conflict(Conflict::Taken(_)))
    ));
    let second = Member {
        username: "eve".into(),
        ..owner.clone()
    };
    assert!(
        matches!(
            s.insert_first_member(&second).await,
            Err(StoreError::Conflict(Conflict::Other(_)))
        ),
        "one owner through the setup link, once"
    );
    assert_eq!(s.member("ada").await.unwrap(), Some(owner.clone()));
    assert_eq!(s.members().await.unwrap().len(), 1);
    let now = Utc::now();
    let live = Session {
        username: "ada".into(),
        csrf: "c".into(),
        created_at: now,
        expires_at: now + Duration::days(1),
    };
    let old = Session {
        expires_at: now - Duration::days(1),
        ..live.clone()
    };
    s.put_session([1; 32], &live).await.unwrap();
    s.put_session([2; 32], &old).await.unwrap();
    s.purge_sessions(now).await.unwrap();
    assert_eq!(s.session([1; 32]).await.unwrap(), Some(live.clone()));
    assert_eq!(
        s.session_with_member([1; 32]).await.unwrap(),
        Some((live, Some(owner.clone())))
    );
    assert_eq!(s.session_with_member([3; 32]).await.unwrap(), None);
    assert_eq!(s.session([2; 32]).await.unwrap(), None);
    s.remove_member("ada").await.unwrap();
    assert_eq!(
        s.session([1; 32]).await.unwrap(),
        None,
        "signed out everywhere"
    );
    assert!(!s.has_members().await.unwrap());
}

/// Every record of every part of a store, in a comparable order (read in pages of 3, so that
/// paging is exercised).
async fn everything(s: &dyn Storage) -> Vec<(crate::ports::Part, Vec<String>)> {
    let mut out = Vec::new();
    for part in crate::ports::Part::ALL {
        let mut all = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = s.export_page(part, after.as_deref(), 3).await.unwrap();
            all.extend(page.records.into_iter().map(|r| match r {
                // A backend may keep a customer's first-order time to the microsecond only.
                crate::ports::Record::Customer(mut c) => {
                    c.created_at = chrono::DurationRound::duration_trunc(
                        c.created_at,
                        Duration::microseconds(1),
                    )
                    .unwrap();
                    format!("{c:?}")
                }
                r => format!("{r:?}"),
            }));
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        all.sort();
        assert_eq!(all.len() as u64, s.export_count(part).await.unwrap());
        out.push((part, all));
    }
    out
}

/// A list page as a person reads it (times kept to the microsecond, as a backend may).
async fn rows(s: &dyn Storage, q: &ListQuery) -> Vec<String> {
    let page = s.list_orders(q).await.unwrap();
    page.orders
        .iter()
        .map(|o| {
            format!(
                "{} {} {} {} {:?} {:?} {} {}",
                o.number,
                o.created_at.timestamp_micros(),
                o.customer_name,
                o.total,
                o.payment_status,
                o.fulfillment_status,
                o.test,
                o.items_count
            )
        })
        .collect()
}

/// `orderdeck copy`: `src` (filled by [`run`]) copied into the empty `dst` holds the same
/// records, lists, counts and next number, and goes on as the source would.
pub async fn copies_exactly(src: Arc<dyn Storage>, dst: Arc<dyn Storage>) {
    use crate::store::copy::{copy, CopyError};
    let (s, d) = (src.as_ref(), dst.as_ref());
    assert!(d.is_empty().await.unwrap() && !s.is_empty().await.unwrap());
    // Accounts come along: a member and their session.
    let member = Member {
        username: "grace".into(),
        display_name: "Grace".into(),
        role: Role::Staff,
        password_hash: "$argon2id$y".into(),
        created_at: Utc::now(),
    };
    s.insert_member(&member).await.unwrap();
    let session = Session {
        username: "grace".into(),
        csrf: "k".into(),
        created_at: Utc::now(),
        expires_at: Utc::now() + Duration::days(1),
    };
    s.put_session([9; 32], &session).await.unwrap();
    let mut seen = Vec::new();
    let copied = copy(s, d, &mut |part, done, total| {
        seen.push((part, done, total))
    })
    .await
    .unwrap();
    assert!(seen.iter().all(|(_, done, total)| done <= total));
    assert!(copied.count(crate::ports::Part::Orders) > 0);
    assert_eq!(everything(s).await, everything(d).await);
    assert_eq!(s.counts().await.unwrap(), d.counts().await.unwrap());
    assert_eq!(
        s.next_number().await.unwrap(),
        d.next_number().await.unwrap()
    );
    for sort in SortField::ALL {
        for desc in [false, true] {
            let q = ListQuery {
                sort,
                desc,
                limit: 100,
                ..ListQuery::default()
            };
            assert_eq!(
                rows(s, &q).await,
                rows(d, &q).await,
                "sorted by {}",
                sort.as_str()
            );
        }
    }
    let q = ListQuery {
        q: "ada".into(),
        ..ListQuery::default()
    };
    assert_eq!(rows(s, &q).await, rows(d, &q).await);
    assert_eq!(
        s.customers("", 100).await.unwrap().len(),
        d.customers("", 100).await.unwrap().len()
    );
    assert_eq!(d.member("grace").await.unwrap(), Some(member));
    assert_eq!(d.session([9; 32]).await.unwrap(), Some(session));
    // A second copy into it is refused, and changes nothing.
    assert!(matches!(
        copy(s, d, &mut |_, _, _| {}).await,
        Err(CopyError::NotEmpty)
    ));
    // It goes on: new numbers follow the source's, a known contact finds its customer.
    let next = s.next_number().await.unwrap();
    let known = s.customer_by_contact("ada@example.com", "").await.unwrap();
    let new = new_order(d, "ada@example.com", "").await;
    assert!(new.order.number >= next);
    let (order, _) = created(d.insert_order(&new).await.unwrap());
    if let Some(c) = known {
        assert_eq!(order.customer.id, c.id);
    }
}
