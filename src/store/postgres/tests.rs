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
