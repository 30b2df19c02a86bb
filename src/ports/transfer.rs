//! Whole-store transfer: every record a store keeps, read out page by page and written into an
//! empty store of any backend, exactly as it was (`orderdeck copy`). Derived data — list
//! indexes, search terms, counters — is not transferred: the destination builds its own from
//! the records, as it would for a live write.

use super::{CustomerRecord, StoreError, TokenRecord};
use crate::domain::outbox::OutboxMessage;
use crate::domain::team::{Member, Session};
use crate::domain::{CustomerId, Order};
use async_trait::async_trait;

/// The kinds of record, in the order a copy writes them (a customer before its orders, a
/// member before their sessions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    Settings,
    Members,
    Sessions,
    Tokens,
    Customers,
    CustomerKeys,
    Orders,
    IdempotencyKeys,
    Outbox,
}

impl Part {
    /// Every part, in copy order.
    pub const ALL: [Part; 9] = [
        Part::Settings,
        Part::Members,
        Part::Sessions,
        Part::Tokens,
        Part::Customers,
        Part::CustomerKeys,
        Part::Orders,
        Part::IdempotencyKeys,
        Part::Outbox,
    ];

    /// What a person calls these records.
    pub fn label(self) -> &'static str {
        match self {
            Part::Settings => "settings",
            Part::Members => "team members",
            Part::Sessions => "sessions",
            Part::Tokens => "API tokens",
            Part::Customers => "customers",
            Part::CustomerKeys => "customer contacts",
            Part::Orders => "orders",
            Part::IdempotencyKeys => "idempotency keys",
            Part::Outbox => "outbox messages",
        }
    }
}

/// One stored record, engine-neutral.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Setting {
        key: String,
        value: String,
    },
    Member(Member),
    /// A session, by the hash of its cookie value.
    Session {
        key: [u8; 32],
        session: Session,
    },
    /// An API token, by the hash of its secret.
    Token {
        hash: [u8; 32],
        record: TokenRecord,
    },
    Customer(CustomerRecord),
    /// A contact (`e:<email>` or `p:<digits>`) and the customer it finds.
    CustomerKey {
        key: String,
        customer: CustomerId,
    },
    /// An order as stored: its number, version and linked customer kept.
    Order(Box<Order>),
    IdempotencyKey {
        key: String,
        hash: [u8; 32],
        number: u64,
    },
    Outbox(OutboxMessage),
}

/// One page of a part.
#[derive(Debug, Clone, Default)]
pub struct ExportPage {
    pub records: Vec<Record>,
    /// Where the next page starts (opaque to the caller); `None` after the last page.
    pub next: Option<Vec<u8>>,
}

/// Reading a whole store out and writing one in.
#[async_trait]
pub trait Transfer: Send + Sync {
    /// How many records a part holds (for a progress bar).
    async fn export_count(&self, part: Part) -> Result<u64, StoreError>;
    /// Up to `limit` records of a part, in a stable order, starting where `after` (a previous
    /// page's `next`) says.
    async fn export_page(
        &self,
        part: Part,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<ExportPage, StoreError>;
    /// The number the next new order would get.
    async fn next_number(&self) -> Result<u64, StoreError>;
    /// Whether the store holds no order, customer, member, token, setting or message (a copy
    /// only writes into such a store).
    async fn is_empty(&self) -> Result<bool, StoreError>;
    /// Writes records exactly as given — ids, numbers, versions and links kept — and the
    /// derived data a live write would keep (indexes, search, counters), durably. Records of a
    /// part come after those of the parts before it in [`Part::ALL`].
    async fn import(&self, records: &[Record]) -> Result<(), StoreError>;
    /// Makes `next` the number the next new order gets (never lower than the stored numbers).
    async fn set_next_number(&self, next: u64) -> Result<(), StoreError>;
}
