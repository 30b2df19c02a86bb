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
