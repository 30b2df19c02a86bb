//! Startup wiring: open the store, load the scripts, build the service, start the outbox worker
//! and the control socket, serve HTTP until a signal arrives. The one place that chooses the
//! implementations behind the ports.

pub mod admin;
pub mod copy;
pub mod demo;
pub mod worker;

use crate::ports::StoreError;
use crate::service::accounts::{AccountError, Accounts};
use crate::service::Service;
use crate::store::postgres::PgStore;
use crate::store::sled::SledStore;
use actix_web::{middleware, web, App, HttpServer};
use std::path::PathBuf;
use std::sync::Arc;

/// Prints a line to stdout, ignoring a closed pipe (the server must not die because whoever
/// started it stopped reading).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Server configuration (from the command line or `ORDERDECK_*` variables).
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: String,
    pub data_dir: PathBuf,
    pub scripts_dir: Option<PathBuf>,
    /// Most index entries one list page examines (see `SledStore::with_scan_budget`).
    pub scan_budget: usize,
    /// Megabytes of sled's cache of tree nodes (see `SledStore::open_with_cache`).
    pub cache_mb: u64,
    /// A `postgres://` URL: keep everything in that database instead of `data_dir`.
    pub database_url: Option<String>,
    /// Connections this process keeps to that database.
    pub database_pool: u32,
    /// HTTP worker threads; `None`: one per core.
    pub workers: Option<usize>,
}

/// A database URL as it may be shown: without its password.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// Opens the store a command names: the PostgreSQL database when a URL is given, else the
/// embedded store in the data directory.
pub async fn open_any(
    data_dir: &std::path::Path,
    database_url: Option<&str>,
) -> Result<Arc<dyn crate::ports::Storage>, StoreError> {
    match database_url {
        Some(url) => Ok(Arc::new(
            crate::store::postgres::PgStore::connect(url).await?,
        )),
        None => Ok(open_store(data_dir)?),
    }
}

/// Opens the store in the data directory.
pub fn open_store(data_dir: &std::path::Path) -> Result<Arc<SledStore>, StoreError> {
    Ok(Arc::new(SledStore::open(data_dir)?))
}

/// The shared state of every worker: the use cases and the team accounts (sessions).
#[derive(Clone)]
pub struct AppState {
    pub service: web::Data<Service>,
    pub accounts: web::Data<Accounts>,
}

impl AppState {
    /// Registers the state on an app.
    pub fn register(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(self.service.clone())
            .app_data(self.accounts.clone());
    }
}

/// Builds the app state around a service.
pub async fn build_state(service: Service) -> Result<AppState, AccountError> {
    let accounts = Accounts::open(service.store().clone()).await?;
    Ok(AppState {
        service: web::Data::new(service),
        accounts: web::Data::new(accounts),
    })
}

/// The scripts folder in force: the configured one, else `./scripts` when it exists, else none
/// (the embedded defaults).
pub fn scripts_dir(configured: Option<PathBuf>) -> Option<PathBuf> {
    configured.or_else(|| {
        let local = PathBuf::from("scripts");
        local.is_dir().then_some(local)
    })
}

/// Compiles every script; a failure names each `file:line:column: message`.
pub fn load_scripts(
    dir: Option<&std::path::Path>,
) -> std::io::Result<Arc<crate::scripting::ScriptRegistry>> {
    crate::scripting::ScriptRegistry::load(dir)
        .map(Arc::new)
        .map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            std::io::Error::other(format!("the scripts do not compile:\n{}", lines.join("\n")))
        })
}

/// Runs the server until SIGINT/SIGTERM; in-flight requests finish and the store is flushed.
pub async fn serve(config: Config) -> std::io::Result<()> {
    let dir = scripts_dir(config.scripts_dir.clone());
    let scripts = load_scripts(dir.as_deref())?;
    // The store, built once before the HTTP workers start (they share its connections).
    let (store, sled): (Arc<dyn crate::ports::Storage>, Option<Arc<SledStore>>) =
        match &config.database_url {
            Some(url) => {
                let pg = PgStore::connect_with_pool(url, config.database_pool)
                    .await
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                (Arc::new(pg), None)
            }
            None => {
                let s = SledStore::open_with_cache(&config.data_dir, config.cache_mb)
                    .map(|s| Arc::new(s.with_scan_budget(config.scan_budget)))
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                (s.clone(), Some(s))
            }
        };
    let service = Service::new(store).with_scripts(scripts, dir.clone());
    let state = build_state(service.clone())
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    // The control socket lets command-line tools reach a store this process holds open; a
    // database takes their connections directly.
    let admin = match &sled {
        Some(s) => Some(admin::AdminSocket::start(
            &config.data_dir,
            service.clone(),
            s.clone(),
        )?),
        None => None,
    };
    let worker = actix_web::rt::spawn(worker::run(service));
    let setup_state = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .configure(|cfg| state.register(cfg))
            .wrap(middleware::Logger::new(r#"%a "%r" %s %b %Dms"#))
            .configure(crate::web::configure)
    })
    .shutdown_timeout(10);
    let server = match config.workers {
        Some(n) => server.workers(n),
        None => server,
    }
    .bind(&config.bind)?;
    for addr in server.addrs() {
        // Tests and scripts read this line to find the port.
        say!("orderdeck listening on http://{addr}");
    }
    if let (Some(token), Some(addr)) = (setup_state.accounts.setup_token(), server.addrs().first())
    {
        let host = if addr.ip().is_unspecified() {
            std::net::SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
        } else {
            *addr
        };
        // Printed once per start while no account exists; tests read this line.
        say!("orderdeck setup: create the owner account at http://{host}/setup?token={token}");
    }
    match &config.database_url {
        // Tests read this line (either form) to know the server is up.
        Some(url) => say!("database: {}", redacted(url)),
        None => say!("data directory: {}", config.data_dir.display()),
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let result = server.run().await;
    worker.abort();
    drop(admin);
    if let Some(s) = sled {
        s.flush()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        log::info!("stopped; all data flushed to disk");
    } else {
        log::info!("stopped");
    }
    result
}
