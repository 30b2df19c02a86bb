//! Use cases: load, ask the domain, apply through the storage port, return what the caller
//! needs. The pages and the JSON API both call these functions, so they can never disagree.
//! One file per concern: orders, messages (notification contexts and rendering), shipping
//! (carrier rates and labels), outbox delivery, settings, tokens, accounts, and the JSON views.

pub mod accounts;
pub mod bulk;
pub mod messages;
pub mod orders;
pub mod outbox;
pub mod saved_views;
pub mod settings;
pub mod shipping;
pub mod tokens;
pub mod views;
pub mod webhooks;

pub use orders::{Outcome, Probe};
pub use settings::{default_presets, PackagePreset, StoreSettings, Switches, SETTABLE};
pub use shipping::{CarrierFields, PackageInput};
pub use tokens::{body_hash, token_hash, NewToken};

use crate::domain::RuleError;
use crate::ports::{Conflict, Refusal, Renderer, Silent, Storage, StoreError};
use crate::scripting::ScriptRegistry;
use std::sync::Arc;
use tokio::sync::Notify;

/// What a use case can fail with. Only `web/error.rs` turns this into HTTP.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    /// The storage failed (unreachable, or damaged data): not the user's doing.
    #[error(transparent)]
    Store(StoreError),
    /// Something this process needs is missing (no randomness from the OS).
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ServiceError::NotFound(format!("{what} not found")),
            StoreError::Conflict(Conflict::RealOrdersExist) => {
                ServiceError::Rule(RuleError::TestOrdersClosed)
            }
            StoreError::Conflict(c) => ServiceError::Conflict(c.to_string()),
            StoreError::Refused(Refusal::BadCursor(m)) => ServiceError::BadRequest(m),
            StoreError::Refused(Refusal::TooBroad(m)) => ServiceError::Refused {
                code: "search_too_broad",
                message: m,
            },
            other => ServiceError::Store(other),
        }
    }
}

/// Logs an error with its whole cause chain (the one place a failure reaching a loop or a
/// response is written to the log).
pub fn log_error(context: &str, e: &dyn std::error::Error) {
    let mut line = format!("{context}: {e}");
    let mut source = e.source();
    while let Some(s) = source {
        line.push_str(&format!(": {s}"));
        source = s.source();
    }
    log::error!("{line}");
}

/// The application's use cases.
#[derive(Clone)]
pub struct Service {
    store: Arc<dyn Storage>,
    renderer: Arc<dyn Renderer>,
    wake: Arc<Notify>,
    scripts: Option<Arc<ScriptRegistry>>,
    scripts_dir: Option<std::path::PathBuf>,
    /// Recent list counts (the orders page's tabs and "all N matching"), see
    /// [`saved_views::CountCache`].
    counts: Arc<saved_views::CountCache>,
}

impl Service {
    /// Wraps a store; notifications render nothing until [`Self::with_renderer`].
    pub fn new(store: Arc<dyn Storage>) -> Self {
        Service {
            store,
            renderer: Arc::new(Silent),
            wake: Arc::new(Notify::new()),
            scripts: None,
            scripts_dir: None,
            counts: Arc::default(),
        }
    }

    /// Uses the Rhai scripts for notifications and carriers; `dir` is reloaded by Reload.
    pub fn with_scripts(
        mut self,
        registry: Arc<ScriptRegistry>,
        dir: Option<std::path::PathBuf>,
    ) -> Self {
        self.renderer = registry.clone();
        self.scripts = Some(registry);
        self.scripts_dir = dir;
        self
    }

    /// Uses `renderer` (the notification templates) for every event.
    pub fn with_renderer(mut self, renderer: Arc<dyn Renderer>) -> Self {
        self.renderer = renderer;
        self
    }

    /// Woken whenever messages are added to the outbox.
    pub fn outbox_wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Whether the storage answers (`GET /readyz`); the reason is logged, not shown.
    pub async fn ready(&self) -> bool {
        match self.store.ping().await {
            Ok(()) => true,
            Err(e) => {
                log::warn!("not ready: the storage does not answer: {e}");
                false
            }
        }
    }

    /// Writes a consistent copy of the whole store to the file `path` (Settings > Backup). It can
    /// take seconds on a large store, so it runs on the blocking pool, not on a request worker.
    pub async fn backup_to(
        &self,
        path: std::path::PathBuf,
    ) -> Result<crate::ports::BackupInfo, ServiceError> {
        let store = self.store.clone();
        let done = tokio::task::spawn_blocking(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| ServiceError::Internal(format!("backup runtime: {e}")))?;
            rt.block_on(store.backup_to(&path))
                .map_err(ServiceError::from)
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("the backup stopped: {e}")))?;
        done
    }

    /// The store underneath (for command-line tools and whole-store operations).
    pub fn store(&self) -> &Arc<dyn Storage> {
        &self.store
    }
}
