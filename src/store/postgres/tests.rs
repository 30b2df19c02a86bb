//! The PostgreSQL store against a real server started for the test.

use super::testdb::TestDb;
use super::PgStore;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_storage_contract_holds_on_postgres() {
    let server = TestDb::start();
    let store = PgStore::connect(&server.new_database()).await.unwrap();
    crate::store::contract::run(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_apply_once_and_readiness_follows_the_server() {
    use crate::ports::Maintenance;
    let server = TestDb::start();
    let url = server.new_database();
    let store = PgStore::connect(&url).await.unwrap();
    // A second process on the same database finds the schema current.
    let again = PgStore::connect(&url).await.unwrap();
    assert!(store.ping().await.is_ok() && again.ping().await.is_ok());
    server.stop();
    assert!(
        store.ping().await.is_err(),
        "not ready while the server is down"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_go_both_ways_between_the_embedded_store_and_postgres() {
    use crate::store::sled::SledStore;
    let server = TestDb::start();
    // Embedded → PostgreSQL.
    let a = tempfile::tempdir().unwrap();
    let embedded = Arc::new(SledStore::open(a.path()).unwrap());
    crate::store::contract::run(embedded.clone()).await;
    let pg = Arc::new(PgStore::connect(&server.new_database()).await.unwrap());
    crate::store::contract::copies_exactly(embedded, pg.clone()).await;
    let report = super::check::check(&pg, &mut |_| {}).await.unwrap();
    assert!(report.is_clean(), "{report}");
    // PostgreSQL → embedded.
    let source = Arc::new(PgStore::connect(&server.new_database()).await.unwrap());
    crate::store::contract::run(source.clone()).await;
    let b = tempfile::tempdir().unwrap();
    let back = Arc::new(SledStore::open(b.path()).unwrap());
    crate::store::contract::copies_exactly(source, back.clone()).await;
    let report = crate::store::sled::check::check(&back).unwrap();
    assert!(report.is_clean(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instances_orders_show_in_the_counts_within_a_second() {
    use crate::ports::OrderRepo;
    let server = TestDb::start();
    let url = server.new_database();
    let a = PgStore::connect(&url).await.unwrap();
    let b = PgStore::connect(&url).await.unwrap();
    assert_eq!(a.counts().await.unwrap().all, 0);
    let mut draft = crate::domain::sample::sample_order(false);
    draft.payment.paid = false;
    let valid = draft.validate().unwrap();
    let ids = crate::domain::intake::NewOrderIds {
        order_id: uuid::Uuid::now_v7(),
        number: b.reserve_numbers(1).await.unwrap(),
        customer_id: crate::domain::CustomerId(uuid::Uuid::now_v7()),
        item_ids: (0..valid.items.len())
            .map(|_| uuid::Uuid::now_v7())
            .collect(),
        payment_id: uuid::Uuid::now_v7(),
    };
    let actor = crate::domain::Actor::Token("test".into());
    let new = crate::ports::NewOrder {
        order: valid.build(&ids, "USD", chrono::Utc::now(), &actor),
        outbox: Vec::new(),
        idempotency: None,
        customer: None,
        only_before_real_orders: false,
    };
    b.insert_order(&new).await.unwrap();
    assert_eq!(b.counts().await.unwrap().all, 1, "its own write at once");
    let started = std::time::Instant::now();
    while a.counts().await.unwrap().all != 1 {
        assert!(
            started.elapsed()
                < super::lists::COUNTS_MAX_AGE + std::time::Duration::from_millis(500),
            "the other instance's counts stayed stale"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
