//! Settings on PostgreSQL, cached in each process: every intake and action reads some twenty
//! settings, and a round trip for them each time would cost more than the rest of the read.
//!
//! A change is written together with `pg_notify('orderdeck_settings', key)`; every process
//! listens on that channel on a connection of its own and drops its cache when a notice comes
//! (so a change made on one instance is in force on all within milliseconds). When the
//! listening connection is lost, notices may have been missed: the cache is dropped, and while
//! the listener is down the cache is kept at most one second. A cache is also never older than
//! [`MAX_AGE`] — the periodic reload that covers anything else.

use super::{db, PgStore};
use crate::ports::{SettingsRepo, StoreError};
use async_trait::async_trait;
use sqlx::postgres::PgListener;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

/// The channel settings changes are announced on.
pub const CHANNEL: &str = "orderdeck_settings";
/// The oldest a cache may be while notices arrive.
pub const MAX_AGE: Duration = Duration::from_secs(10);
/// The oldest a cache may be while the listener is down.
const MAX_AGE_UNHEARD: Duration = Duration::from_secs(1);

type Settings = Arc<BTreeMap<String, String>>;

/// A copy of the settings: when it was read, and in which generation.
type Copy = (Instant, u64, Settings);

/// One process's copy of the settings.
#[derive(Default)]
pub(crate) struct SettingsCache {
    copy: RwLock<Option<Copy>>,
    /// Moves on every invalidation: a reload started before one is not kept.
    generation: AtomicU64,
    /// Whether notices can be heard now.
    listening: AtomicBool,
}

impl SettingsCache {
    fn fresh(&self) -> Option<Settings> {
        let max_age = if self.listening.load(Ordering::Acquire) {
            MAX_AGE
        } else {
            MAX_AGE_UNHEARD
        };
        let copy = self.copy.read().unwrap_or_else(|p| p.into_inner());
        match copy.as_ref() {
            Some((at, generation, map))
                if at.elapsed() < max_age
                    && *generation == self.generation.load(Ordering::Acquire) =>
            {
                Some(map.clone())
            }
            _ => None,
        }
    }

    fn keep(&self, generation: u64, map: Settings) {
        let mut copy = self.copy.write().unwrap_or_else(|p| p.into_inner());
        if generation == self.generation.load(Ordering::Acquire) {
            *copy = Some((Instant::now(), generation, map));
        }
    }

    fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        *self.copy.write().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// Starts listening for settings changes on a connection of its own (`url`), for as long as
/// the cache lives. Without a listener the cache is kept one second at most.
pub(crate) async fn listen(url: &str, cache: &Arc<SettingsCache>) {
    let mut listener = match PgListener::connect(url).await {
        Ok(l) => l,
        Err(e) => {
            log::warn!("cannot listen for settings changes ({e}); re-reading them every second");
            return;
        }
    };
    if let Err(e) = listener.listen(CHANNEL).await {
        log::warn!("cannot listen for settings changes ({e}); re-reading them every second");
        return;
    }
    cache.listening.store(true, Ordering::Release);
    let weak: Weak<SettingsCache> = Arc::downgrade(cache);
    tokio::spawn(async move {
        loop {
            let heard = listener.try_recv().await;
            let Some(cache) = weak.upgrade() else { break };
            cache.invalidate();
            match heard {
                Ok(Some(_)) => {}
                // The connection was lost and made again: notices may have been missed.
                Ok(None) => cache.listening.store(true, Ordering::Release),
                Err(e) => {
                    cache.listening.store(false, Ordering::Release);
                    log::warn!("lost the settings-change listener ({e}); trying again");
                    drop(cache);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    if listener.listen(CHANNEL).await.is_ok() {
                        if let Some(c) = weak.upgrade() {
                            c.invalidate();
                            c.listening.store(true, Ordering::Release);
                        }
                    }
                }
            }
        }
    });
}

impl PgStore {
    async fn all_settings(&self) -> Result<Settings, StoreError> {
        if let Some(map) = self.settings_cache.fresh() {
            return Ok(map);
        }
        let generation = self.settings_cache.generation.load(Ordering::Acquire);
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT key, value FROM settings")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        let map = Arc::new(rows.into_iter().collect::<BTreeMap<_, _>>());
        self.settings_cache.keep(generation, map.clone());
        Ok(map)
    }
}

/// Tells every instance's listener that `key` changed; delivered when the transaction commits.
async fn notify(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    key: &str,
) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(key)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(())
}

#[async_trait]
impl SettingsRepo for PgStore {
    async fn settings(&self) -> Result<BTreeMap<String, String>, StoreError> {
        Ok(self.all_settings().await?.as_ref().clone())
    }

    async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.all_settings().await?.get(key).cloned())
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.retry(|mut tx| async move {
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            )
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            notify(&mut tx, key).await?;
            Ok(((), tx))
        })
        .await?;
        self.settings_cache.invalidate();
        Ok(())
    }

    async fn remove_setting(&self, key: &str) -> Result<(), StoreError> {
        self.retry(|mut tx| async move {
            sqlx::query("DELETE FROM settings WHERE key = $1")
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            notify(&mut tx, key).await?;
            Ok(((), tx))
        })
        .await?;
        self.settings_cache.invalidate();
        Ok(())
    }
}
