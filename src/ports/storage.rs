//! The storage port: what the service needs to keep, split by aggregate (orders, customers,
//! accounts and sessions, tokens, settings, outbox). Any backend implements these traits; none of
//! their signatures names an engine. `docs/ARCHITECTURE.md` ("Adding a storage backend") says what
//! an implementation must guarantee, and `store::contract` checks it.
//!
//! Every write returns once it is durable (how — group commit, fsync, a database commit — is the
//! adapter's business). Adapters own bytes and transactions, never rules: orders arrive built and
//! decided by the domain and the service.

use crate::domain::outbox::{OutboxMessage, OutboxStatus};
use crate::domain::team::{Allowance, Member, Session};
use crate::domain::{CustomerId, FulfillmentStatus, Order, PaymentStatus};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// What can go wrong below the service. `Display` is what a user may read; the cause is kept as
/// the error's source for the log.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist ("Order 1234").
    #[error("{0} not found")]
    NotFound(String),
    /// The write lost a race or broke a uniqueness or version condition; the message says which.
    #[error("{0}")]
    Conflict(Conflict),
    /// A request the store cannot answer as asked (a cursor it did not issue, a search that would
    /// read too much).
    #[error("{0}")]
    Refused(Refusal),
    /// The backend could not be reached or failed to read or write.
    #[error("storage unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Stored bytes do not decode, or contradict each other.
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Wraps a backend failure, keeping it as the source.
    pub fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Unavailable(Box::new(e))
    }
}

/// Why a conditional write did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// The order changed since it was read (its version moved): decide again on the new state.
    #[error("order {number} changed meanwhile")]
    Version { number: u64 },
    /// An `Idempotency-Key` already names a different request.
    #[error("This Idempotency-Key was already used with a different request body")]
    IdempotencyKey,
    /// A real order exists, so the guarded test-order write did not happen.
    #[error("A real order exists")]
    RealOrdersExist,
    /// A unique name is taken (a username).
    #[error("{0} is already taken")]
    Taken(String),
    /// Anything else a backend reports as a lost race.
    #[error("{0}")]
    Other(String),
}

/// A list or search request the store refuses as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A cursor this store did not issue (or for another sort).
    #[error("{0}")]
    BadCursor(String),
    /// A search too broad to answer within the read budget.
    #[error("{0}")]
    TooBroad(String),
}

/// What a list can be sorted by (the API's `sort`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    Created,
    Number,
    Total,
    PaymentStatus,
    FulfillmentStatus,
    Customer,
}

impl SortField {
    /// Every sort field.
    pub const ALL: [SortField; 6] = [
        SortField::Created,
        SortField::Number,
        SortField::Total,
        SortField::PaymentStatus,
        SortField::FulfillmentStatus,
        SortField::Customer,
    ];

    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            SortField::Created => "created",
            SortField::Number => "number",
            SortField::Total => "total",
            SortField::PaymentStatus => "payment_status",
            SortField::FulfillmentStatus => "fulfillment_status",
            SortField::Customer => "customer",
        }
    }

    /// Parses the API name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|f| f.as_str() == s)
    }
}

/// The row of an order list: enough to render a list without loading the order.
///
/// Serialized compactly (a timestamp and a decimal as numbers, not text) because a list page
/// decodes fifty of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub id: crate::domain::OrderId,
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
    /// Last: the codec reads older rows without it.
    pub tags: Vec<String>,
}

/// A decimal as its 16-byte binary form (exact, and no text to parse).
pub(crate) mod decimal_bytes {
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
            tags: order.tags.clone(),
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

/// A list request (the API's `GET /orders`, the Orders page).
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub q: String,
    pub payment: Option<PaymentStatus>,
    pub fulfillment: Option<FulfillmentStatus>,
    pub test: Option<bool>,
    pub created_from: Option<DateTime<Utc>>,
    /// Exclusive upper bound.
    pub created_before: Option<DateTime<Utc>>,
    /// Orders carrying every one of these tags (canonical, see `domain::tag_of`).
    pub tags: Vec<String>,
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
            tags: Vec::new(),
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

/// Status counters (the list's tabs), kept as orders change, never computed by scanning.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub all: u64,
    pub test: u64,
    pub real: u64,
    pub payment: BTreeMap<PaymentStatus, u64>,
    pub fulfillment: BTreeMap<FulfillmentStatus, u64>,
}

/// A new order to store: built and decided by the service, with the messages it causes.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// The order, numbered with [`OrderRepo::reserve_numbers`].
    pub order: Order,
    /// The `order_placed` messages, stored in the same write.
    pub outbox: Vec<OutboxMessage>,
    /// The `Idempotency-Key` and a hash of the request body, claimed in the same write.
    pub idempotency: Option<(String, [u8; 32])>,
    /// The customer the order's contact named when the intake began
    /// ([`OrderRepo::number_and_customer`]), if any. A backend may write the order without
    /// reading them again, provided it checks in the same write that they are still as read;
    /// it never trusts this blindly.
    pub customer: Option<CustomerRecord>,
    /// Store only while no real order exists (guards the Place Test Order rule against a real
    /// order arriving between the service's check and this write).
    pub only_before_real_orders: bool,
}

/// The outcome of storing a new order.
#[derive(Debug, Clone)]
pub enum Created {
    /// Stored as given (with its customer linked: see [`OrderRepo::insert_order`]).
    New(Order),
    /// The same idempotency key and body were stored before: this is the order they created.
    Replayed(Order),
}

/// Orders: their records, list indexes, search and counters.
#[async_trait]
pub trait OrderRepo: Send + Sync {
    /// Reserves `count` consecutive order numbers and returns the first. Numbers are unique and
    /// increasing, never handed out twice; a reserved number whose order is never stored is a
    /// gap.
    async fn reserve_numbers(&self, count: u64) -> Result<u64, StoreError>;
    /// What an intake starts from: one order number (as [`Self::reserve_numbers`]) and the
    /// customer its contact names now (as [`CustomerRepo::customer_by_contact`]), in one read
    /// where the backend can.
    async fn number_and_customer(
        &self,
        email: &str,
        phone: &str,
    ) -> Result<(u64, Option<CustomerRecord>), StoreError>;
    /// The order number and body hash an `Idempotency-Key` was first used with, if any.
    async fn idempotency_key(&self, key: &str) -> Result<Option<(u64, [u8; 32])>, StoreError>;
    /// Stores a new order with its messages, its idempotency key and its customer, in one
    /// atomic, durable write.
    ///
    /// The customer is linked by contact (e-mail, or phone when there is none): the customer
    /// with that contact gets the order (its id replaces the order's customer id, its contact
    /// details become the order's, its order count goes up); a new contact makes a new customer
    /// with the order's customer id. A key already claimed with the same hash answers
    /// `Replayed`, with another hash `Conflict::IdempotencyKey`; a real order existing under
    /// `only_before_real_orders` answers `Conflict::RealOrdersExist`.
    async fn insert_order(&self, new: &NewOrder) -> Result<Created, StoreError>;
    /// Stores complete orders (bulk loading: demo data) in one write, customers linked as by
    /// [`Self::insert_order`]; numbers come from [`Self::reserve_numbers`]. Returns them as
    /// stored.
    async fn import_orders(&self, orders: &[Order]) -> Result<Vec<Order>, StoreError>;
    /// Loads an order by number.
    async fn get_order(&self, number: u64) -> Result<Order, StoreError>;
    /// Replaces an order and stores the messages its change causes, in one atomic, durable
    /// write, if the stored order's version is still `expected_version`; otherwise
    /// `Conflict::Version` (read again, decide again). `order.version` must be greater.
    async fn update_order(
        &self,
        expected_version: u64,
        order: &Order,
        outbox: &[OutboxMessage],
    ) -> Result<(), StoreError>;
    /// One page of orders, through an index and a keyset cursor.
    async fn list_orders(&self, q: &ListQuery) -> Result<ListPage, StoreError>;
    /// The numbers of the orders `q` matches (its sort, cursor and limit aside) in date order,
    /// in the query's direction; `None` when there are more than `cap`. By default read through [`Self::list_orders`] a
    /// page at a time, in date order.
    async fn numbers_matching(
        &self,
        q: &ListQuery,
        cap: usize,
    ) -> Result<Option<Vec<u64>>, StoreError> {
        let mut q = q.clone();
        q.limit = 200;
        q.cursor = None;
        // Date order reads search results page by page (other sorts sort in memory).
        q.sort = SortField::Created;
        let mut numbers = Vec::new();
        loop {
            let page = self.list_orders(&q).await?;
            numbers.extend(page.orders.iter().map(|s| s.number));
            if numbers.len() > cap {
                return Ok(None);
            }
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => return Ok(Some(numbers)),
            }
        }
    }
    /// Numbers of the orders indexed under exactly this search term (e.g. a tracking number).
    async fn orders_with_term(&self, term: &str, limit: usize) -> Result<Vec<u64>, StoreError>;
    /// Status counters.
    async fn counts(&self) -> Result<Counts, StoreError>;
}

/// Customers (kept by order intake; see [`OrderRepo::insert_order`]).
#[async_trait]
pub trait CustomerRepo: Send + Sync {
    /// The customer with this contact (e-mail, or phone when there is no e-mail), if any.
    async fn customer_by_contact(
        &self,
        email: &str,
        phone: &str,
    ) -> Result<Option<CustomerRecord>, StoreError>;
    /// Customers matching a search (or the newest, for an empty query).
    async fn customers(&self, q: &str, limit: usize) -> Result<Vec<CustomerRecord>, StoreError>;
    /// One customer.
    async fn customer(&self, id: CustomerId) -> Result<CustomerRecord, StoreError>;
}

/// API tokens, found by the SHA-256 of their secret.
#[async_trait]
pub trait TokenRepo: Send + Sync {
    /// Stores a token by the hash of its secret.
    async fn put_token(&self, hash: [u8; 32], record: &TokenRecord) -> Result<(), StoreError>;
    /// Finds a token by the hash of its secret.
    async fn find_token(&self, hash: [u8; 32]) -> Result<Option<TokenRecord>, StoreError>;
    /// Every token.
    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// Marks a token revoked.
    async fn revoke_token(&self, id: Uuid) -> Result<(), StoreError>;
}

/// Store settings: text values by dotted key (`store.name`, `smtp.host`, `notify.<event>.email`).
#[async_trait]
pub trait SettingsRepo: Send + Sync {
    /// Every setting.
    async fn settings(&self) -> Result<BTreeMap<String, String>, StoreError>;
    /// One setting.
    async fn setting(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Changes a setting.
    async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError>;
    /// Removes a setting (nothing happens when there is none).
    async fn remove_setting(&self, key: &str) -> Result<(), StoreError>;
}

/// The durable outbox: rendered messages waiting for, or done with, delivery.
#[async_trait]
pub trait OutboxRepo: Send + Sync {
    /// Pending messages due at `now`, oldest first, for the caller to attempt and save with
    /// [`Self::outbox_put`]. A backend shared by several processes hands each message to one
    /// caller at a time (until it is saved, or for a lease of a minute if its caller dies).
    async fn outbox_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError>;
    /// Saves messages after a delivery attempt or a resend (keeps the due index in step).
    async fn outbox_put(&self, msgs: &[OutboxMessage]) -> Result<(), StoreError>;
    /// Adds messages not tied to an order change (a test send).
    async fn outbox_add(&self, msgs: &[OutboxMessage]) -> Result<(), StoreError>;
    /// One message.
    async fn outbox_get(&self, id: Uuid) -> Result<OutboxMessage, StoreError>;
    /// Newest messages first, optionally of one order and/or status.
    async fn outbox_list(
        &self,
        order: Option<u64>,
        status: Option<OutboxStatus>,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError>;
    /// One webhook endpoint's deliveries (messages whose `endpoint` is `endpoint`), newest
    /// first. A backend without an index for them may examine a bounded number of the newest
    /// messages only, as [`Self::outbox_list`] does for a status.
    async fn outbox_for_endpoint(
        &self,
        endpoint: Uuid,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError>;
}

/// Team members and their sessions.
#[async_trait]
pub trait AccountRepo: Send + Sync {
    /// Adds a member; `Conflict::Taken` when the username exists.
    async fn insert_member(&self, m: &Member) -> Result<(), StoreError>;
    /// Adds the first member (the owner, through the setup link) only while no member exists:
    /// `Conflict::Other` otherwise, so that one owner is created once, however many processes
    /// share the store.
    async fn insert_first_member(&self, m: &Member) -> Result<(), StoreError>;
    /// Removes a member and every session of theirs.
    async fn remove_member(&self, username: &str) -> Result<(), StoreError>;
    /// One member.
    async fn member(&self, username: &str) -> Result<Option<Member>, StoreError>;
    /// Every member (in no particular order).
    async fn members(&self) -> Result<Vec<Member>, StoreError>;
    /// Whether any member exists.
    async fn has_members(&self) -> Result<bool, StoreError>;
    /// Stores a session by the hash of its cookie value.
    async fn put_session(&self, key: [u8; 32], s: &Session) -> Result<(), StoreError>;
    /// A session by the hash of its cookie value.
    async fn session(&self, key: [u8; 32]) -> Result<Option<Session>, StoreError>;
    /// A session and its member (`None` when the member was removed), in one read where the
    /// backend can.
    async fn session_with_member(
        &self,
        key: [u8; 32],
    ) -> Result<Option<(Session, Option<Member>)>, StoreError> {
        let Some(s) = self.session(key).await? else {
            return Ok(None);
        };
        let m = self.member(&s.username).await?;
        Ok(Some((s, m)))
    }
    /// Ends a session.
    async fn remove_session(&self, key: [u8; 32]) -> Result<(), StoreError>;
    /// Drops every session expired at `now`.
    async fn purge_sessions(&self, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Takes one sign-in attempt for `key` from `allowance` at `now`: `Ok(None)` when allowed,
    /// `Ok(Some(wait))` when not. Shared by every process on the store (so failed sign-ins are
    /// counted across instances).
    async fn take_attempt(
        &self,
        key: &str,
        allowance: Allowance,
        now: DateTime<Utc>,
    ) -> Result<Option<chrono::Duration>, StoreError>;
}

/// What a backup copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    /// Records copied.
    pub records: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Whole-store operations the owner runs from Settings.
#[async_trait]
pub trait Maintenance: Send + Sync {
    /// Writes a consistent copy of the whole store to the file `path` (one the same backend
    /// can restore from), through a temporary file renamed into place.
    async fn backup_to(&self, path: &std::path::Path) -> Result<BackupInfo, StoreError>;

    /// Answers when the storage can serve reads (`GET /readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Everything the service keeps, in one handle.
pub trait Storage:
    OrderRepo
    + CustomerRepo
    + TokenRepo
    + SettingsRepo
    + OutboxRepo
    + AccountRepo
    + Maintenance
    + super::Transfer
{
}

impl<T> Storage for T where
    T: OrderRepo
        + CustomerRepo
        + TokenRepo
        + SettingsRepo
        + OutboxRepo
        + AccountRepo
        + Maintenance
        + super::Transfer
{
}
