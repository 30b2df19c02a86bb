//! The storage port on sled: each async method runs the synchronous operation (`ops.rs`) and,
//! for a write, returns once the group commit has flushed it.
//!
//! The operations run on the calling task rather than on the blocking pool: they read sled's
//! page cache and take its write lock for well under a millisecond, so a thread hand-off per
//! call would cost more than it frees (`docs/ARCHITECTURE.md`, "Trade-offs"). The one wait
//! that can be long — the flush — is awaited asynchronously.

use super::SledStore;
use crate::domain::outbox::{OutboxMessage, OutboxStatus};
use crate::domain::team::{Allowance, Member, Session};
use crate::domain::{CustomerId, Order};
use crate::ports::{
    AccountRepo, BackupInfo, Counts, Created, CustomerRecord, CustomerRepo, ListPage, ListQuery,
    Maintenance, NewOrder, OrderRepo, OutboxRepo, SettingsRepo, StoreError, TokenRecord, TokenRepo,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use uuid::Uuid;

impl SledStore {
    /// Waits until every write made before this call is on disk.
    pub(crate) async fn durable(&self) -> Result<(), StoreError> {
        self.commit.wait().await.map_err(super::unavailable)
    }

    /// [`Self::durable`] for threads outside the async runtime.
    pub fn durable_blocking(&self) -> Result<(), StoreError> {
        self.commit.wait_blocking().map_err(super::unavailable)
    }
}

#[async_trait]
impl OrderRepo for SledStore {
    async fn reserve_numbers(&self, count: u64) -> Result<u64, StoreError> {
        SledStore::reserve_numbers(self, count)
    }

    async fn number_and_customer(
        &self,
        email: &str,
        phone: &str,
    ) -> Result<(u64, Option<CustomerRecord>), StoreError> {
        Ok((
            SledStore::reserve_numbers(self, 1)?,
            self.contact_customer(email, phone)?,
        ))
    }

    async fn idempotency_key(&self, key: &str) -> Result<Option<(u64, [u8; 32])>, StoreError> {
        SledStore::idempotency_key(self, key)
    }

    async fn insert_order(&self, new: &NewOrder) -> Result<Created, StoreError> {
        let created = SledStore::insert_order(self, new)?;
        self.durable().await?;
        Ok(created)
    }

    async fn import_orders(&self, orders: &[Order]) -> Result<Vec<Order>, StoreError> {
        let stored = SledStore::import_orders(self, orders)?;
        self.durable().await?;
        Ok(stored)
    }

    async fn get_order(&self, number: u64) -> Result<Order, StoreError> {
        SledStore::get_order(self, number)
    }

    async fn update_order(
        &self,
        expected_version: u64,
        order: &Order,
        outbox: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        SledStore::update_order(self, expected_version, order, outbox)?;
        self.durable().await
    }

    async fn list_orders(&self, q: &ListQuery) -> Result<ListPage, StoreError> {
        SledStore::list_orders(self, q)
    }

    async fn orders_with_term(&self, term: &str, limit: usize) -> Result<Vec<u64>, StoreError> {
        SledStore::orders_with_term(self, term, limit)
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        SledStore::counts(self)
    }
}

#[async_trait]
impl CustomerRepo for SledStore {
    async fn customer_by_contact(
        &self,
        email: &str,
        phone: &str,
    ) -> Result<Option<CustomerRecord>, StoreError> {
        self.contact_customer(email, phone)
    }

    async fn customers(&self, q: &str, limit: usize) -> Result<Vec<CustomerRecord>, StoreError> {
        SledStore::customers(self, q, limit)
    }

    async fn customer(&self, id: CustomerId) -> Result<CustomerRecord, StoreError> {
        SledStore::customer(self, id)
    }
}

#[async_trait]
impl TokenRepo for SledStore {
    async fn put_token(&self, hash: [u8; 32], record: &TokenRecord) -> Result<(), StoreError> {
        SledStore::put_token(self, hash, record)?;
        self.durable().await
    }

    async fn find_token(&self, hash: [u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        SledStore::find_token(self, hash)
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        SledStore::tokens(self)
    }

    async fn revoke_token(&self, id: Uuid) -> Result<(), StoreError> {
        SledStore::revoke_token(self, id)?;
        self.durable().await
    }
}

#[async_trait]
impl SettingsRepo for SledStore {
    async fn settings(&self) -> Result<BTreeMap<String, String>, StoreError> {
        self.settings_map()
    }

    async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        SledStore::setting(self, key)
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        SledStore::put_setting(self, key, value)?;
        self.durable().await
    }

    async fn remove_setting(&self, key: &str) -> Result<(), StoreError> {
        SledStore::remove_setting(self, key)?;
        self.durable().await
    }
}

#[async_trait]
impl OutboxRepo for SledStore {
    async fn outbox_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        SledStore::outbox_due(self, now, limit)
    }

    async fn outbox_put(&self, msgs: &[OutboxMessage]) -> Result<(), StoreError> {
        SledStore::outbox_put(self, msgs)?;
        self.durable().await
    }

    async fn outbox_add(&self, msgs: &[OutboxMessage]) -> Result<(), StoreError> {
        SledStore::outbox_add(self, msgs)?;
        self.durable().await
    }

    async fn outbox_get(&self, id: Uuid) -> Result<OutboxMessage, StoreError> {
        SledStore::outbox_get(self, id)
    }

    async fn outbox_list(
        &self,
        order: Option<u64>,
        status: Option<OutboxStatus>,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        SledStore::outbox_list(self, order, status, limit)
    }

    async fn outbox_for_endpoint(
        &self,
        endpoint: Uuid,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        SledStore::outbox_for_endpoint(self, endpoint, limit)
    }
}

#[async_trait]
impl AccountRepo for SledStore {
    async fn insert_member(&self, m: &Member) -> Result<(), StoreError> {
        SledStore::insert_member(self, m)?;
        self.durable().await
    }

    async fn insert_first_member(&self, m: &Member) -> Result<(), StoreError> {
        SledStore::insert_first_member(self, m)?;
        self.durable().await
    }

    async fn take_attempt(
        &self,
        key: &str,
        allowance: Allowance,
        now: DateTime<Utc>,
    ) -> Result<Option<chrono::Duration>, StoreError> {
        let mut map = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        // Keep memory bounded: allowances already whole again are forgotten.
        if map.len() > 10_000 {
            map.retain(|_, tat| *tat > now);
        }
        match allowance.take(map.get(key).copied(), now) {
            Ok(tat) => {
                map.insert(key.to_string(), tat);
                Ok(None)
            }
            Err(wait) => Ok(Some(wait)),
        }
    }

    async fn remove_member(&self, username: &str) -> Result<(), StoreError> {
        SledStore::remove_member(self, username)?;
        self.durable().await
    }

    async fn member(&self, username: &str) -> Result<Option<Member>, StoreError> {
        SledStore::member(self, username)
    }

    async fn members(&self) -> Result<Vec<Member>, StoreError> {
        SledStore::members(self)
    }

    async fn has_members(&self) -> Result<bool, StoreError> {
        Ok(!self.members.is_empty())
    }

    async fn put_session(&self, key: [u8; 32], s: &Session) -> Result<(), StoreError> {
        SledStore::put_session(self, key, s)?;
        self.durable().await
    }

    async fn session(&self, key: [u8; 32]) -> Result<Option<Session>, StoreError> {
        SledStore::session(self, key)
    }

    async fn remove_session(&self, key: [u8; 32]) -> Result<(), StoreError> {
        SledStore::remove_session(self, key)?;
        self.durable().await
    }

    async fn purge_sessions(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        SledStore::purge_sessions(self, now)
    }
}

#[async_trait]
impl Maintenance for SledStore {
    async fn backup_to(&self, path: &std::path::Path) -> Result<BackupInfo, StoreError> {
        let info = super::backup::backup(self, path).map_err(|e| match e {
            super::backup::BackupError::Store(e) => e,
            other => StoreError::unavailable(other),
        })?;
        Ok(BackupInfo {
            records: info.records,
            bytes: info.bytes,
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.setting("store.name").map(|_| ())
    }
}
