//! Saved views: named list queries shared by the team, shown as tabs above the orders list.
//! Kept as settings (`view.<id>`, JSON), so every instance sees a change as it sees any
//! setting. The query is kept as the list's query parameters; the web layer checks them
//! before a view is saved and reads them back into a list query.

use super::{Service, ServiceError};
use crate::domain::rules::required_text;
use crate::domain::RuleError;
use crate::ports::{ListQuery, SortField};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Settings key prefix of the views.
pub const KEY_PREFIX: &str = "view.";
/// Most views a store keeps (each is a tab).
pub const MAX_VIEWS: usize = 20;
/// Longest view name.
pub const MAX_NAME: usize = 60;
/// Up to how many orders a tab counts exactly ("1000+" above).
pub const COUNT_CAP: u64 = 1000;

/// A saved view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedView {
    pub id: Uuid,
    pub name: String,
    /// The list's query parameters (`payment_status=paid`, `tag=…` possibly repeated, …).
    pub query: Vec<(String, String)>,
    pub created_at: DateTime<Utc>,
}

/// The views in a settings snapshot, oldest first (a damaged value is logged and left out).
pub fn views_of(all: &BTreeMap<String, String>) -> Vec<SavedView> {
    let mut out: Vec<SavedView> = all
        .range(KEY_PREFIX.to_string()..)
        .take_while(|(k, _)| k.starts_with(KEY_PREFIX))
        .filter_map(|(k, v)| match serde_json::from_str(v) {
            Ok(view) => Some(view),
            Err(e) => {
                log::error!("saved view {k} does not read: {e}");
                None
            }
        })
        .collect();
    out.sort_by_key(|v: &SavedView| (v.created_at, v.id));
    out
}

/// How many orders a list matches: exact up to [`COUNT_CAP`], `(COUNT_CAP, true)` above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub n: u64,
    pub more: bool,
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.more {
            write!(f, "{}+", self.n)
        } else {
            write!(f, "{}", self.n)
        }
    }
}

/// How long a count read through an index is reused.
pub const COUNT_TTL: Duration = Duration::from_secs(5);

/// Counts of lists read through their index, each kept for [`COUNT_TTL`] (at most 256). One
/// list is counted by one request at a time: the others that want it wait for that count
/// rather than each reading the same index again.
#[derive(Debug, Default)]
pub struct CountCache {
    counts: Mutex<HashMap<String, (Instant, Count)>>,
    counting: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl CountCache {
    /// The lock held while `key` is counted.
    fn counting(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.counting.lock().unwrap_or_else(|p| p.into_inner());
        // Locks nobody holds or waits for are dropped as the map grows.
        if map.len() >= 256 {
            map.retain(|_, l| Arc::strong_count(l) > 1);
        }
        map.entry(key.to_string()).or_default().clone()
    }

    fn get(&self, key: &str) -> Option<Count> {
        let map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key)
            .filter(|(at, _)| at.elapsed() < COUNT_TTL)
            .map(|(_, c)| *c)
    }

    fn put(&self, key: String, c: Count) {
        let mut map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= 256 {
            map.retain(|_, (at, _)| at.elapsed() < COUNT_TTL);
            if map.len() >= 256 {
                map.clear();
            }
        }
        map.insert(key, (Instant::now(), c));
    }
}

impl Service {
    /// Every saved view, oldest first.
    pub async fn saved_views(&self) -> Result<Vec<SavedView>, ServiceError> {
        Ok(views_of(&self.settings_snapshot().await?))
    }

    /// One saved view.
    pub async fn saved_view(&self, id: Uuid) -> Result<SavedView, ServiceError> {
        self.saved_views()
            .await?
            .into_iter()
            .find(|v| v.id == id)
            .ok_or_else(|| ServiceError::NotFound(format!("View {id} not found")))
    }

    /// Saves a view under `name` (unique, ignoring case) with the list parameters `query`
    /// (already checked by the caller).
    pub async fn save_view(
        &self,
        name: &str,
        query: Vec<(String, String)>,
    ) -> Result<SavedView, ServiceError> {
        let name = required_text("name", name, MAX_NAME, false)?;
        let existing = self.saved_views().await?;
        if existing
            .iter()
            .any(|v| v.name.to_lowercase() == name.to_lowercase())
        {
            return Err(RuleError::invalid("name", "is already the name of a view").into());
        }
        if existing.len() >= MAX_VIEWS {
            return Err(RuleError::invalid(
                "name",
                format!("cannot be added: a store has at most {MAX_VIEWS} views"),
            )
            .into());
        }
        let view = SavedView {
            id: Uuid::now_v7(),
            name,
            query,
            created_at: Utc::now(),
        };
        let value = serde_json::to_string(&view)
            .map_err(|e| ServiceError::Internal(format!("view not encodable: {e}")))?;
        self.store
            .put_setting(&format!("{KEY_PREFIX}{}", view.id), &value)
            .await?;
        Ok(view)
    }

    /// Removes a view.
    pub async fn remove_view(&self, id: Uuid) -> Result<(), ServiceError> {
        self.saved_view(id).await?;
        self.store
            .remove_setting(&format!("{KEY_PREFIX}{id}"))
            .await?;
        Ok(())
    }

    /// How many orders `q` matches. A list with at most one status or type filter is counted
    /// by the status counters; any other is counted through its index, up to [`COUNT_CAP`],
    /// and that count is reused for [`COUNT_TTL`] (a page shows it on every load).
    pub async fn count_matching(&self, q: &ListQuery) -> Result<Count, ServiceError> {
        let key = format!(
            "{:?}",
            ListQuery {
                cursor: None,
                limit: 0,
                sort: SortField::Created,
                desc: true,
                ..q.clone()
            }
        );
        if let Some(c) = self.counts.get(&key) {
            return Ok(c);
        }
        let lock = self.counts.counting(&key);
        let _counting = lock.lock().await;
        if let Some(c) = self.counts.get(&key) {
            return Ok(c);
        }
        let c = self.count_now(q).await?;
        self.counts.put(key, c);
        Ok(c)
    }

    async fn count_now(&self, q: &ListQuery) -> Result<Count, ServiceError> {
        let plain = q.q.trim().is_empty()
            && q.tags.is_empty()
            && q.created_from.is_none()
            && q.created_before.is_none();
        let filters =
            q.payment.is_some() as u8 + q.fulfillment.is_some() as u8 + q.test.is_some() as u8;
        if plain && filters <= 1 {
            let c = self.store.counts().await?;
            let n = if let Some(p) = q.payment {
                c.payment.get(&p).copied().unwrap_or(0)
            } else if let Some(f) = q.fulfillment {
                c.fulfillment.get(&f).copied().unwrap_or(0)
            } else {
                match q.test {
                    Some(true) => c.test,
                    Some(false) => c.real,
                    None => c.all,
                }
            };
            return Ok(Count { n, more: false });
        }
        Ok(match self.numbers_matching(q, COUNT_CAP as usize).await? {
            Some(numbers) => Count {
                n: numbers.len() as u64,
                more: false,
            },
            None => Count {
                n: COUNT_CAP,
                more: true,
            },
        })
    }
}
