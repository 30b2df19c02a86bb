//! Use cases: load, ask the domain, apply through the store, wait for durability, return.
//! The pages and the JSON API both call these functions, so they can never disagree.

use crate::domain::intake::OrderDraft;
use crate::domain::workflow::execute;
use crate::domain::{Actor, Command, Ctx, CustomerId, CustomerSnapshot, Order, RuleError};
use crate::store::{
    Counts, Created, CustomerRecord, ListPage, ListQuery, NewOrder, OrderStore, StoreError,
    TokenRecord,
};
use chrono::Utc;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use uuid::Uuid;

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
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ServiceError::NotFound(format!("{what} not found")),
            StoreError::Rejected(r) => ServiceError::Rule(r),
            StoreError::Conflict(m) => ServiceError::Conflict(m),
            StoreError::BadCursor(m) => ServiceError::BadRequest(m),
            StoreError::TooBroad(m) => ServiceError::Refused {
                code: "search_too_broad",
                message: m,
            },
            other => ServiceError::Store(other),
        }
    }
}

/// The store-wide settings the use cases need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    pub name: String,
    pub email: String,
    pub currency: String,
}

/// The application's use cases.
#[derive(Clone)]
pub struct Service {
    store: Arc<dyn OrderStore>,
}

/// A new API token: the secret is shown once and never stored.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub secret: String,
    pub record: TokenRecord,
}

/// SHA-256 of a token secret (tokens are 256-bit random, so a fast hash is the right tool).
pub fn token_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// SHA-256 of a request body (idempotency checks).
pub fn body_hash(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}

fn random_secret() -> Result<String, ServiceError> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf)
        .map_err(|e| ServiceError::BadRequest(format!("no randomness: {e}")))?;
    Ok(format!("od_{}", hex::encode(buf)))
}

impl Service {
    /// Wraps a store.
    pub fn new(store: Arc<dyn OrderStore>) -> Self {
        Service { store }
    }

    /// The store underneath (for command-line tools).
    pub fn store(&self) -> &Arc<dyn OrderStore> {
        &self.store
    }

    async fn durable(&self) -> Result<(), ServiceError> {
        self.store
            .durability()
            .wait()
            .await
            .map_err(|e| ServiceError::Store(StoreError::Durability(e)))
    }

    /// Store settings with their defaults.
    pub fn settings(&self) -> Result<StoreSettings, ServiceError> {
        let get = |k: &str, d: &str| -> Result<String, ServiceError> {
            Ok(self.store.setting(k)?.unwrap_or_else(|| d.to_string()))
        };
        Ok(StoreSettings {
            name: get("store.name", "My Store")?,
            email: get("store.email", "")?,
            currency: get("store.currency", "USD")?,
        })
    }

    /// Order intake (API and test orders). Returns the order and whether it is a replay of an
    /// earlier request with the same idempotency key.
    pub async fn place_order(
        &self,
        draft: &OrderDraft,
        actor: Actor,
        idempotency: Option<(String, [u8; 32])>,
    ) -> Result<(Order, bool), ServiceError> {
        let valid = draft.validate()?;
        let settings = self.settings()?;
        let new = NewOrder {
            item_ids: (0..valid.items.len()).map(|_| Uuid::now_v7()).collect(),
            valid,
            order_id: Uuid::now_v7(),
            payment_id: Uuid::now_v7(),
            new_customer_id: CustomerId(Uuid::now_v7()),
            now: Utc::now(),
            actor,
            store_currency: settings.currency,
            idempotency,
            only_before_real_orders: false,
        };
        let created = self.store.create_order(&new)?;
        self.durable().await?;
        Ok(match created {
            Created::New(o) => (o, false),
            Created::Replayed(o) => (o, true),
        })
    }

    /// The dashboard's Place Test Order: a realistic sample, allowed until a real order exists.
    pub async fn place_test_order(&self, actor: Actor) -> Result<Order, ServiceError> {
        let draft = crate::sample::sample_order(true);
        let valid = draft.validate()?;
        let settings = self.settings()?;
        let new = NewOrder {
            item_ids: (0..valid.items.len()).map(|_| Uuid::now_v7()).collect(),
            valid,
            order_id: Uuid::now_v7(),
            payment_id: Uuid::now_v7(),
            new_customer_id: CustomerId(Uuid::now_v7()),
            now: Utc::now(),
            actor,
            store_currency: settings.currency,
            idempotency: None,
            only_before_real_orders: true,
        };
        let created = self.store.create_order(&new)?;
        self.durable().await?;
        match created {
            Created::New(o) | Created::Replayed(o) => Ok(o),
        }
    }

    /// Whether the Place Test Order button is offered (no real order yet).
    pub fn test_orders_allowed(&self) -> Result<bool, ServiceError> {
        Ok(self.store.counts()?.real == 0)
    }

    /// One order.
    pub fn order(&self, number: u64) -> Result<Order, ServiceError> {
        Ok(self.store.get_order(number)?)
    }

    /// Runs one action on an order: the domain decides, the store applies atomically.
    pub async fn act(
        &self,
        number: u64,
        cmd: Command,
        actor: Actor,
    ) -> Result<Order, ServiceError> {
        let ctx = Ctx::new(Utc::now(), actor, [Uuid::now_v7(), Uuid::now_v7()]);
        let order = self.store.update_order(number, &mut |current: &Order| {
            execute(current, &cmd, &ctx).map(|(next, _events)| next)
        })?;
        self.durable().await?;
        Ok(order)
    }

    /// Change customer: the snapshot comes from the customer record.
    pub async fn change_customer(
        &self,
        number: u64,
        customer_id: CustomerId,
        actor: Actor,
    ) -> Result<Order, ServiceError> {
        let c = self.store.customer(customer_id)?;
        let cmd = Command::ChangeCustomer {
            customer: CustomerSnapshot {
                id: c.id,
                name: c.name,
                email: c.email,
                phone: c.phone,
            },
        };
        self.act(number, cmd, actor).await
    }

    /// A page of orders.
    pub fn list(&self, q: &ListQuery) -> Result<ListPage, ServiceError> {
        Ok(self.store.list_orders(q)?)
    }

    /// Status counters.
    pub fn counts(&self) -> Result<Counts, ServiceError> {
        Ok(self.store.counts()?)
    }

    /// Customers matching a search.
    pub fn customers(&self, q: &str, limit: usize) -> Result<Vec<CustomerRecord>, ServiceError> {
        Ok(self.store.customers(q, limit)?)
    }

    fn new_token(&self, name: &str) -> Result<NewToken, ServiceError> {
        let name = crate::domain::rules::required_text("name", name, 100, false)?;
        let secret = random_secret()?;
        let record = TokenRecord {
            id: Uuid::now_v7(),
            name,
            created_at: Utc::now(),
            revoked: false,
        };
        self.store.put_token(token_hash(&secret), &record)?;
        Ok(NewToken { secret, record })
    }

    /// Creates an API token; the secret is returned once.
    pub async fn create_token(&self, name: &str) -> Result<NewToken, ServiceError> {
        let t = self.new_token(name)?;
        self.durable().await?;
        Ok(t)
    }

    /// [`Self::create_token`] for threads outside the async runtime (command line, control socket).
    pub fn create_token_blocking(&self, name: &str) -> Result<NewToken, ServiceError> {
        let t = self.new_token(name)?;
        self.store
            .durability()
            .wait_blocking()
            .map_err(|e| ServiceError::Store(StoreError::Durability(e)))?;
        Ok(t)
    }

    /// Every API token (secrets are not kept).
    pub fn tokens(&self) -> Result<Vec<TokenRecord>, ServiceError> {
        Ok(self.store.tokens()?)
    }

    /// Revokes an API token.
    pub async fn revoke_token(&self, id: Uuid) -> Result<(), ServiceError> {
        self.store.revoke_token(id)?;
        self.durable().await
    }

    /// The token a bearer secret belongs to, if it is valid and not revoked.
    pub fn authenticate(&self, secret: &str) -> Result<Option<TokenRecord>, ServiceError> {
        Ok(self
            .store
            .find_token(token_hash(secret))?
            .filter(|t| !t.revoked))
    }
}
