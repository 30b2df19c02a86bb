//! Storage: a narrow trait the service uses, and its sled implementation.
//! A fact and every index entry it touches change in one transaction; writes are acknowledged
//! only after a group-committed flush ([`durability::GroupCommit`]).

pub mod backup;
pub mod check;
pub mod codec;
pub mod durability;
pub mod keys;
pub mod sled_store;

use crate::domain::intake::ValidOrder;
use crate::domain::{
    Actor, CustomerId, FulfillmentStatus, Order, OrderId, PaymentStatus, RuleError,
};
use crate::notify::{OutboxMessage, OutboxStatus};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

pub use keys::SortField;
pub use sled_store::SledStore;

/// What can go wrong below the service.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Rejected(#[from] RuleError),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadCursor(String),
    #[error("{0}")]
    TooBroad(String),
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    #[error("storage error: {0}")]
    Db(#[from] sled::Error),
    #[error("could not write to disk: {0}")]
    Durability(String),
}

/// The row of an order list: enough to render a list without loading the order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
///
/// Stored compactly (a timestamp and a decimal as numbers, not text) because a list page decodes
/// fifty of them; the order's search terms follow it in the same record and are decoded only
/// when a search needs them (see `codec::encode_with_tail`).
pub struct Summary {
    pub id: OrderId,
    pub number: u64,
    #[serde(with = "chrono::serde::ts_nanoseconds")]
    pub created_at: DateTime<Utc>,
    pub customer_name: String,
    pub customer_email: String,
    #[serde(with = "decimal_bytes")]
    pub total: Decimal,
    pub currency: String,
    pub payment_status: PaymentStatus,
    pub fulfillment_status: FulfillmentStatus,
    pub test: bool,
    pub items_count: u32,
}

/// A decimal as its 16-byte binary form (exact, and no text to parse).
mod decimal_bytes {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&d.serialize())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let bytes = <Vec<u8>>::deserialize(d)?;
        let raw: [u8; 16] = bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("a decimal takes 16 bytes"))?;
        Ok(Decimal::deserialize(raw))
    }
}

impl Summary {
    /// The indexed fields of the order this row lists.
    pub fn index_fields(&self) -> keys::IndexFields {
        keys::IndexFields {
            number: self.number,
            created_at: self.created_at,
            total: self.total,
            payment: self.payment_status,
            fulfillment: self.fulfillment_status,
            test: self.test,
            customer_name: self.customer_name.clone(),
        }
    }

    /// Builds the list row of an order.
    pub fn of(order: &Order) -> Self {
        Summary {
            id: order.id,
            number: order.number,
            created_at: order.created_at,
            customer_name: order.customer.name.clone(),
            customer_email: order.customer.email.clone(),
            total: order.total,
            currency: order.currency.clone(),
            payment_status: order.payment_status(),
            fulfillment_status: order.fulfillment_status(),
            test: order.test,
            items_count: order.items_count(),
        }
    }
}

/// A customer of the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRecord {
    pub id: CustomerId,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub created_at: DateTime<Utc>,
    pub orders_count: u64,
}

/// An API token (only a hash of the secret is stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub revoked: bool,
}

/// A list request (SPEC 5 `GET /orders`).
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub q: String,
    pub payment: Option<PaymentStatus>,
    pub fulfillment: Option<FulfillmentStatus>,
    pub test: Option<bool>,
    pub created_from: Option<DateTime<Utc>>,
    /// Exclusive upper bound.
    pub created_before: Option<DateTime<Utc>>,
    pub sort: SortField,
    pub desc: bool,
    pub limit: usize,
    pub cursor: Option<String>,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            q: String::new(),
            payment: None,
            fulfillment: None,
            test: None,
            created_from: None,
            created_before: None,
            sort: SortField::Created,
            desc: true,
            limit: 50,
            cursor: None,
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    pub orders: Vec<Summary>,
    pub next_cursor: Option<String>,
}

/// Maintained counters (status tabs), never computed by scanning.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub all: u64,
    pub test: u64,
    pub real: u64,
    pub payment: BTreeMap<PaymentStatus, u64>,
    pub fulfillment: BTreeMap<FulfillmentStatus, u64>,
}

/// Everything needed to store a new order.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub valid: ValidOrder,
    pub order_id: Uuid,
    pub item_ids: Vec<Uuid>,
    pub payment_id: Uuid,
    pub new_customer_id: CustomerId,
    pub now: DateTime<Utc>,
    pub actor: Actor,
    pub store_currency: String,
    /// Idempotency key and a hash of the request body.
    pub idempotency: Option<(String, [u8; 32])>,
    /// Refuse if a real order exists (the Place Test Order rule).
    pub only_before_real_orders: bool,
}

/// The outcome of an intake.
#[derive(Debug, Clone)]
pub enum Created {
    New(Order),
    /// The same idempotency key and body were seen before: this is the order they created.
    Replayed(Order),
}

/// What a use case writes for one order: the order after the change and the messages it causes
/// (stored in the same transaction, so a notification is never lost nor sent for a change that
/// did not happen).
#[derive(Debug, Clone)]
pub struct Change {
    pub order: Order,
    pub outbox: Vec<OutboxMessage>,
}

impl Change {
    /// A change without messages.
    pub fn quiet(order: Order) -> Self {
        Change {
            order,
            outbox: Vec::new(),
        }
    }
}

/// The change a use case wants to make to one order, computed from the order as stored.
pub type UpdateFn<'a> = dyn FnMut(&Order) -> Result<Change, RuleError> + 'a;

/// Renders the messages of a newly placed order.
pub type PlacedFn<'a> = dyn Fn(&Order) -> Vec<OutboxMessage> + 'a;

/// The storage operations the service needs. Kept narrow so another engine can implement it.
pub trait OrderStore: Send + Sync {
    /// Stores a new order (allocating its number and resolving its customer) in one transaction,
    /// with the messages `placed` renders for it.
    fn create_order(&self, new: &NewOrder, placed: &PlacedFn<'_>) -> Result<Created, StoreError>;
    /// Reserves `count` consecutive order numbers for [`OrderStore::import_orders`] and returns
    /// the first.
    fn reserve_numbers(&self, count: u64) -> Result<u64, StoreError>;
    /// Stores complete orders (bulk loading: demo data) in one transaction, with every derived
    /// entry intake writes. Each order's customer is found by contact as at intake (the order's
    /// customer id is used for a new one); numbers must come from
    /// [`OrderStore::reserve_numbers`]. Returns the orders as stored.
    fn import_orders(&self, orders: &[Order]) -> Result<Vec<Order>, StoreError>;
    /// Loads an order by number.
    fn get_order(&self, number: u64) -> Result<Order, StoreError>;
    /// Applies `f` to the stored order atomically with its indexes; `f` may run more than once.
    fn update_order(&self, number: u64, f: &mut UpdateFn<'_>) -> Result<Order, StoreError>;
    /// One page of orders through an index.
    fn list_orders(&self, q: &ListQuery) -> Result<ListPage, StoreError>;
    /// Numbers of the orders indexed under exactly this search term (e.g. a tracking number).
    fn orders_with_term(&self, term: &str, limit: usize) -> Result<Vec<u64>, StoreError>;
    /// Status counters.
    fn counts(&self) -> Result<Counts, StoreError>;
    /// Customers matching a search (or the newest, for an empty query).
    fn customers(&self, q: &str, limit: usize) -> Result<Vec<CustomerRecord>, StoreError>;
    /// One customer.
    fn customer(&self, id: CustomerId) -> Result<CustomerRecord, StoreError>;
    /// Stores an API token by the hash of its secret.
    fn put_token(&self, hash: [u8; 32], record: &TokenRecord) -> Result<(), StoreError>;
    /// Finds a token by the hash of its secret.
    fn find_token(&self, hash: [u8; 32]) -> Result<Option<TokenRecord>, StoreError>;
    /// Every token.
    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// Marks a token revoked.
    fn revoke_token(&self, id: Uuid) -> Result<(), StoreError>;
    /// A store setting.
    fn setting(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Changes a store setting.
    fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError>;
    /// Pending messages due at `now`, oldest first.
    fn outbox_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError>;
    /// Saves a message after a delivery attempt (keeps the due index in step).
    fn outbox_put(&self, msg: &OutboxMessage) -> Result<(), StoreError>;
    /// Saves several messages in one transaction.
    fn outbox_put_many(&self, msgs: &[OutboxMessage]) -> Result<(), StoreError>;
    /// Adds messages not tied to an order change (e.g. a test send).
    fn outbox_add(&self, msgs: &[OutboxMessage]) -> Result<(), StoreError>;
    /// One message.
    fn outbox_get(&self, id: Uuid) -> Result<OutboxMessage, StoreError>;
    /// Newest messages first, optionally of one order and/or status.
    fn outbox_list(
        &self,
        order: Option<u64>,
        status: Option<OutboxStatus>,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError>;
    /// The group-commit handle: await it before acknowledging a write.
    fn durability(&self) -> &durability::GroupCommit;
}
