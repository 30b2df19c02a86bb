//! `orderdeck copy --from SRC --to DST`: opens the two stores (each a data directory or a
//! PostgreSQL URL), copies one into the other (`store::copy`) and checks the destination the
//! way `orderdeck check` does.

use super::redacted;
use crate::ports::{Part, Storage, StoreError};
use crate::store::copy::{copy, Copied, CopyError};
use crate::store::postgres::PgStore;
use crate::store::report::{CheckReport, Progress};
use crate::store::sled::SledStore;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Dir(PathBuf),
    Database(String),
}

impl Location {
    /// A `postgres://` (or `postgresql://`) URL names a database; anything else a data
    /// directory.
    pub fn parse(s: &str) -> Self {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Location::Database(s.to_string())
        } else {
            Location::Dir(PathBuf::from(s))
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Dir(d) => write!(f, "{}", d.display()),
            Location::Database(url) => write!(f, "{}", redacted(url)),
        }
    }
}

/// An open store of either backend.
pub enum Opened {
    Embedded(Arc<SledStore>),
    Postgres(PgStore),
}

impl Opened {
    /// Opens a store. `existing` refuses a data directory that holds no store (a source).
    pub async fn open(at: &Location, existing: bool) -> anyhow::Result<Self> {
        use anyhow::Context;
        match at {
            Location::Database(url) => {
                Ok(Opened::Postgres(PgStore::connect(url).await.with_context(
                    || format!("cannot open the database {}", redacted(url)),
                )?))
            }
            Location::Dir(dir) => {
                if existing && !dir.join("db").exists() {
                    anyhow::bail!("there is no orderdeck store in {}", dir.display());
                }
                let store = SledStore::open(dir).with_context(|| {
                    format!(
                        "cannot open the store in {} (stop the server using it first)",
                        dir.display()
                    )
                })?;
                Ok(Opened::Embedded(Arc::new(store)))
            }
        }
    }

    /// The store behind the ports.
    pub fn storage(&self) -> &dyn Storage {
        match self {
            Opened::Embedded(s) => s.as_ref(),
            Opened::Postgres(s) => s,
        }
    }

    /// The consistency check of `orderdeck check`.
    pub async fn check(
        &self,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<CheckReport, StoreError> {
        match self {
            Opened::Embedded(s) => crate::store::sled::check::check_with_progress(s, progress),
            Opened::Postgres(s) => crate::store::postgres::check::check(s, progress).await,
        }
    }
}

/// Copies `from` into `to` (refused unless `to` is empty), reporting progress, then checks
/// `to`. A destination data directory that did not exist and was left half-written by a
/// refused copy is removed again.
pub async fn run(
    from: &Location,
    to: &Location,
    progress: &mut (dyn FnMut(Part, u64, u64) + Send),
    checking: &mut dyn FnMut(&Progress),
) -> anyhow::Result<(Copied, CheckReport)> {
    if from == to {
        anyhow::bail!("--from and --to name the same store");
    }
    let src = Opened::open(from, true).await?;
    let created = match to {
        Location::Dir(d) => !d.exists(),
        Location::Database(_) => false,
    };
    let dst = Opened::open(to, false).await?;
    let copied = match copy(src.storage(), dst.storage(), progress).await {
        Ok(c) => c,
        Err(e) => {
            if let (true, Location::Dir(d), false) = (created, to, matches!(e, CopyError::NotEmpty))
            {
                drop(dst);
                remove_new_dir(d);
            }
            return Err(e.into());
        }
    };
    drop(src);
    let report = dst.check(checking).await?;
    Ok((copied, report))
}

fn remove_new_dir(d: &Path) {
    if let Err(e) = std::fs::remove_dir_all(d) {
        log::warn!("could not remove the half-copied {}: {e}", d.display());
    }
}
