//! Starting the server: open the store, build the service, serve HTTP until a signal arrives.

use crate::service::Service;
use crate::store::{SledStore, StoreError};
use actix_web::{middleware, web, App, HttpServer};
use std::path::PathBuf;
use std::sync::Arc;

/// Server configuration (from the command line or `ORDERDECK_*` variables).
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: String,
    pub data_dir: PathBuf,
    pub scripts_dir: Option<PathBuf>,
}

/// Opens the store in the data directory.
pub fn open_store(data_dir: &std::path::Path) -> Result<Arc<SledStore>, StoreError> {
    Ok(Arc::new(SledStore::open(data_dir)?))
}

/// Runs the server until SIGINT/SIGTERM; in-flight requests finish and the store is flushed.
pub async fn serve(config: Config) -> std::io::Result<()> {
    let store = open_store(&config.data_dir).map_err(|e| std::io::Error::other(e.to_string()))?;
    let service = Service::new(store.clone());
    let admin = crate::admin::AdminSocket::start(&config.data_dir, service.clone())?;
    let worker = actix_web::rt::spawn(crate::notify::worker::run(
        service.clone(),
        Arc::new(crate::notify::worker::Unconfigured),
    ));
    let data = web::Data::new(service);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(middleware::Logger::new(r#"%a "%r" %s %b %Dms"#))
            .configure(crate::web::configure)
    })
    .shutdown_timeout(10)
    .bind(&config.bind)?;
    for addr in server.addrs() {
        // Tests and scripts read this line to find the port.
        println!("orderdeck listening on http://{addr}");
    }
    println!("data directory: {}", config.data_dir.display());
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let result = server.run().await;
    worker.abort();
    drop(admin);
    store
        .flush()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    log::info!("stopped; all data flushed to disk");
    result
}
