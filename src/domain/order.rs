//! An order and its facts. Statuses are functions of the facts (see [`Order::payment_status`]).

use super::status::{FulfillmentStatus, PaymentStatus, ShipmentStatus};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { self.0.fmt(f) }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> { Uuid::parse_str(s).map($name) }
        }
    };
}

id_type!(
    /// Identifies an order (UUID v7, so ids sort by creation).
    OrderId
);
id_type!(
    /// Identifies a customer.
    CustomerId
);
id_type!(
    /// Identifies a line item within an order.
    ItemId
);
id_type!(
    /// Identifies a shipment within an order.
    ShipmentId
);
id_type!(
    /// Identifies a note within an order.
    NoteId
);
id_type!(
    /// Identifies a payment, refund or return record.
    FactId
);

/// Who did something: a team member, an API token (by its name) or orderdeck itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Actor {
    Member(String),
    Token(String),
    System,
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Member(n) => f.write_str(n),
            Actor::Token(n) => write!(f, "{n} (API)"),
            Actor::System => f.write_str("orderdeck"),
        }
    }
}

/// A postal address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub name: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code, upper case.
    pub country: String,
}

/// The customer as recorded on the order (a snapshot; the customer record may change later).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerSnapshot {
    pub id: CustomerId,
    pub name: String,
    pub email: String,
    pub phone: String,
}

/// How the customer pays. Online methods are processed by a provider; manual ones are collected by the merchant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Card,
    Mobile,
    Online,
    CashOnDelivery,
    MoneyTransfer,
    PosOnDelivery,
}

impl PaymentMethod {
    /// Every method, online first.
    pub const ALL: &'static [PaymentMethod] = &[
        PaymentMethod::Card,
        PaymentMethod::Mobile,
        PaymentMethod::Online,
        PaymentMethod::CashOnDelivery,
        PaymentMethod::MoneyTransfer,
        PaymentMethod::PosOnDelivery,
    ];

    /// Online methods start "In progress"; manual ones "Unpaid".
    pub fn is_online(self) -> bool {
        matches!(
            self,
            PaymentMethod::Card | PaymentMethod::Mobile | PaymentMethod::Online
        )
    }

    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Card => "card",
            PaymentMethod::Mobile => "mobile",
            PaymentMethod::Online => "online",
            PaymentMethod::CashOnDelivery => "cash_on_delivery",
            PaymentMethod::MoneyTransfer => "money_transfer",
            PaymentMethod::PosOnDelivery => "pos_on_delivery",
        }
    }

    /// The name shown to people.
    pub fn label(self) -> &'static str {
        match self {
            PaymentMethod::Card => "Card",
            PaymentMethod::Mobile => "Mobile payment",
            PaymentMethod::Online => "Online payment",
            PaymentMethod::CashOnDelivery => "Cash on Delivery",
            PaymentMethod::MoneyTransfer => "Money Transfer",
            PaymentMethod::PosOnDelivery => "POS on Delivery",
        }
    }

    /// Parses the JSON name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|m| m.as_str() == s)
    }
}

/// One ordered product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    pub id: ItemId,
    pub sku: String,
    pub name: String,
    pub variant: Option<String>,
    pub unit_price: Decimal,
    pub quantity: u32,
    pub weight_grams: u32,
    pub image_url: Option<String>,
}

impl LineItem {
    /// unit price × quantity.
    pub fn line_total(&self) -> Decimal {
        self.unit_price * Decimal::from(self.quantity)
    }
}

/// A quantity of one line item (what a refund, shipment or return covers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemQty {
    pub item_id: ItemId,
    pub quantity: u32,
}

/// The shipping line the customer chose at checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingLine {
    pub method: String,
    pub price: Decimal,
}

/// Money received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub id: FactId,
    pub amount: Decimal,
    pub reference: Option<String>,
    pub at: DateTime<Utc>,
    pub actor: String,
}

/// Money sent back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub id: FactId,
    pub items: Vec<ItemQty>,
    pub shipping: Decimal,
    pub adjustment_refund: Decimal,
    pub adjustment_fee: Decimal,
    pub amount: Decimal,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
    pub actor: String,
}

/// Manual (the merchant ships) or carrier (a label was bought through a carrier script).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentKind {
    Manual,
    Carrier,
}

impl ShipmentKind {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            ShipmentKind::Manual => "manual",
            ShipmentKind::Carrier => "carrier",
        }
    }
}

/// Where a shipment leaves from (help page: Local, International, In Store Pickup).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShippingPoint {
    Local,
    International,
    InStorePickup,
}

impl ShippingPoint {
    /// Every shipping point.
    pub const ALL: &'static [ShippingPoint] = &[
        ShippingPoint::Local,
        ShippingPoint::International,
        ShippingPoint::InStorePickup,
    ];

    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            ShippingPoint::Local => "local",
            ShippingPoint::International => "international",
            ShippingPoint::InStorePickup => "in_store_pickup",
        }
    }

    /// The name shown to people.
    pub fn label(self) -> &'static str {
        match self {
            ShippingPoint::Local => "Local",
            ShippingPoint::International => "International",
            ShippingPoint::InStorePickup => "In Store Pickup",
        }
    }

    /// Parses the JSON name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.as_str() == s)
    }
}

/// One step of a shipment's status history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: ShipmentStatus,
    pub at: DateTime<Utc>,
}

/// A parcel (or a pickup) covering some quantities of the order's items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    pub id: ShipmentId,
    pub kind: ShipmentKind,
    pub shipping_point: ShippingPoint,
    pub carrier: Option<String>,
    pub service: Option<String>,
    pub tracking_number: Option<String>,
    pub tracking_url: Option<String>,
    pub status: ShipmentStatus,
    pub expected_delivery: Option<NaiveDate>,
    pub items: Vec<ItemQty>,
    pub history: Vec<StatusChange>,
    /// The carrier's price for the label, when one was bought.
    pub label_price: Option<Decimal>,
    /// Carrier-specific label data (package, addresses, service details) as key/value pairs.
    pub label: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
}

impl Shipment {
    /// The carrier as a person reads it: a bought label's carrier name ("Express Courier"),
    /// else what was typed.
    pub fn carrier_name(&self) -> Option<&str> {
        self.label
            .get("carrier_name")
            .map(String::as_str)
            .or(self.carrier.as_deref())
    }

    /// The service as a person reads it ("Express 9am", not `express_9am`).
    pub fn service_name(&self) -> Option<&str> {
        self.label
            .get("service_name")
            .map(String::as_str)
            .or(self.service.as_deref())
    }

    /// "Carrier · Service" for lists and pages.
    pub fn carrier_line(&self) -> String {
        [self.carrier_name(), self.service_name()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · ")
    }

    /// A shipment counts towards "shipped" unless it was canceled or voided.
    pub fn is_active(&self) -> bool {
        self.status != ShipmentStatus::Canceled
    }

    /// Quantity of one item in this shipment.
    pub fn quantity_of(&self, item: ItemId) -> u32 {
        self.items
            .iter()
            .filter(|i| i.item_id == item)
            .map(|i| i.quantity)
            .sum()
    }
}

/// Items the customer sent back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnRecord {
    pub id: FactId,
    pub items: Vec<ItemQty>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
    pub actor: String,
}

/// Why and when the order was canceled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    pub reason: String,
    pub at: DateTime<Utc>,
    pub actor: String,
}

/// A note for the team (never shown to the customer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub id: NoteId,
    pub author: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One line of the order's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub kind: String,
    pub message: String,
}

/// An order: what was bought, and every fact that happened to it since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub number: u64,
    pub created_at: DateTime<Utc>,
    pub test: bool,
    pub currency: String,
    pub customer: CustomerSnapshot,
    pub shipping_address: Address,
    pub billing_address: Address,
    pub items: Vec<LineItem>,
    pub shipping: ShippingLine,
    pub tax: Decimal,
    pub discount: Decimal,
    pub total: Decimal,
    pub payment_method: PaymentMethod,
    pub payments: Vec<Payment>,
    pub refunds: Vec<Refund>,
    pub dispatched_at: Option<DateTime<Utc>>,
    pub shipments: Vec<Shipment>,
    pub returns: Vec<ReturnRecord>,
    pub cancellation: Option<Cancellation>,
    pub notes: Vec<Note>,
    pub timeline: Vec<TimelineEntry>,
    /// Bumped by every accepted change (optimistic concurrency and cache keys).
    pub version: u64,
    /// The merchant's tags, lower case, sorted, without repeats (see [`tag_of`]). Last in the
    /// record: the codec reads older orders by appending an empty list.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 40;
/// Most tags on one order.
pub const MAX_TAGS: usize = 20;

/// A tag as the merchant typed it, checked and made canonical: trimmed, inner whitespace
/// collapsed, lower case (tags are case-insensitive), 1 to 40 characters, no commas (the CSV
/// export separates tags with them) and no control characters.
pub fn tag_of(field: &str, raw: &str) -> Result<String, crate::domain::RuleError> {
    use crate::domain::RuleError;
    let t = raw
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    if t.is_empty() {
        return Err(RuleError::invalid(field, "is required"));
    }
    if t.chars().count() > MAX_TAG_CHARS {
        return Err(RuleError::invalid(
            field,
            format!("must be at most {MAX_TAG_CHARS} characters"),
        ));
    }
    if t.chars().any(|c| c.is_control() || c == ',') {
        return Err(RuleError::invalid(
            field,
            "must not contain commas or control characters",
        ));
    }
    Ok(t)
}

impl Order {
    /// Σ unit price × quantity.
    pub fn subtotal(&self) -> Decimal {
        self.items.iter().map(LineItem::line_total).sum()
    }

    /// Sum of all payments.
    pub fn paid(&self) -> Decimal {
        self.payments.iter().map(|p| p.amount).sum()
    }

    /// Sum of all refunds.
    pub fn refunded(&self) -> Decimal {
        self.refunds.iter().map(|r| r.amount).sum()
    }

    /// What the customer still owes.
    pub fn balance(&self) -> Decimal {
        (self.total - self.paid()).max(Decimal::ZERO)
    }

    /// What can still be refunded (paid minus refunded).
    pub fn refundable(&self) -> Decimal {
        (self.paid() - self.refunded()).max(Decimal::ZERO)
    }

    /// Shipping already refunded.
    pub fn refunded_shipping(&self) -> Decimal {
        self.refunds.iter().map(|r| r.shipping).sum()
    }

    /// Looks up a line item.
    pub fn item(&self, id: ItemId) -> Option<&LineItem> {
        self.items.iter().find(|i| i.id == id)
    }

    /// Looks up a shipment.
    pub fn shipment(&self, id: ShipmentId) -> Option<&Shipment> {
        self.shipments.iter().find(|s| s.id == id)
    }

    /// Sum of ordered quantities.
    pub fn ordered_qty(&self) -> u64 {
        self.items.iter().map(|i| u64::from(i.quantity)).sum()
    }

    /// Quantity of an item in active (not canceled) shipments.
    pub fn shipped_of(&self, item: ItemId) -> u32 {
        self.shipments
            .iter()
            .filter(|s| s.is_active())
            .map(|s| s.quantity_of(item))
            .sum()
    }

    /// Quantity of an item in delivered shipments.
    pub fn delivered_of(&self, item: ItemId) -> u32 {
        self.shipments
            .iter()
            .filter(|s| s.status == ShipmentStatus::Delivered)
            .map(|s| s.quantity_of(item))
            .sum()
    }

    /// Quantity of an item returned.
    pub fn returned_of(&self, item: ItemId) -> u32 {
        self.returns
            .iter()
            .flat_map(|r| r.items.iter())
            .filter(|i| i.item_id == item)
            .map(|i| i.quantity)
            .sum()
    }

    /// Quantity of an item refunded.
    pub fn refunded_of(&self, item: ItemId) -> u32 {
        self.refunds
            .iter()
            .flat_map(|r| r.items.iter())
            .filter(|i| i.item_id == item)
            .map(|i| i.quantity)
            .sum()
    }

    /// Units of an item refunded while not shipped: they will not ship. Refunds are read in the
    /// order they were made; each refunded unit counts first against returned units not yet
    /// refunded, then against units not shipped (nor already refunded) at that time, and only
    /// then against shipped units the customer keeps.
    pub fn refunded_unshipped_of(&self, item: ItemId) -> u32 {
        let ordered = self.item(item).map(|i| i.quantity).unwrap_or(0);
        let qty = |items: &[ItemQty]| -> u32 {
            items
                .iter()
                .filter(|i| i.item_id == item)
                .map(|i| i.quantity)
                .sum()
        };
        let mut refunds: Vec<(DateTime<Utc>, u32)> = self
            .refunds
            .iter()
            .map(|r| (r.at, qty(&r.items)))
            .filter(|(_, q)| *q > 0)
            .collect();
        refunds.sort_by_key(|(at, _)| *at);
        let (mut unshipped_refunded, mut returns_refunded) = (0u32, 0u32);
        for (at, q) in refunds {
            let shipped: u32 = self
                .shipments
                .iter()
                .filter(|s| s.is_active() && s.created_at <= at)
                .map(|s| s.quantity_of(item))
                .sum();
            let returned: u32 = self
                .returns
                .iter()
                .filter(|r| r.at <= at)
                .map(|r| qty(&r.items))
                .sum();
            let of_returns = q.min(returned.saturating_sub(returns_refunded));
            returns_refunded += of_returns;
            let unshipped = ordered
                .saturating_sub(shipped)
                .saturating_sub(unshipped_refunded);
            unshipped_refunded += (q - of_returns).min(unshipped);
        }
        unshipped_refunded
    }

    /// Units of an item that can still be fulfilled: ordered, less shipped (in active
    /// shipments), less refunded before they shipped.
    pub fn fulfillable_of(&self, item: ItemId) -> u32 {
        let ordered = self.item(item).map(|i| i.quantity).unwrap_or(0);
        ordered
            .saturating_sub(self.shipped_of(item))
            .saturating_sub(self.refunded_unshipped_of(item))
    }

    /// Units still to ship across the order: what can still be fulfilled (none once canceled).
    pub fn to_ship_qty(&self) -> u64 {
        if self.is_canceled() {
            return 0;
        }
        self.items
            .iter()
            .map(|i| u64::from(self.fulfillable_of(i.id)))
            .sum()
    }

    /// Total quantity in active shipments.
    pub fn shipped_qty(&self) -> u64 {
        self.items
            .iter()
            .map(|i| u64::from(self.shipped_of(i.id)))
            .sum()
    }

    /// Total quantity returned.
    pub fn returned_qty(&self) -> u64 {
        self.items
            .iter()
            .map(|i| u64::from(self.returned_of(i.id)))
            .sum()
    }

    /// Whether the order was canceled.
    pub fn is_canceled(&self) -> bool {
        self.cancellation.is_some()
    }

    /// Payment status, derived from the facts (first matching rule wins).
    pub fn payment_status(&self) -> PaymentStatus {
        let paid = self.paid();
        let refunded = self.refunded();
        if refunded > Decimal::ZERO && refunded >= paid {
            PaymentStatus::Refunded
        } else if refunded > Decimal::ZERO {
            PaymentStatus::PartiallyRefunded
        } else if paid >= self.total {
            PaymentStatus::Paid
        } else if paid > Decimal::ZERO {
            PaymentStatus::PartiallyPaid
        } else if self.payment_method.is_online() {
            PaymentStatus::InProgress
        } else {
            PaymentStatus::Unpaid
        }
    }

    /// Fulfillment status, derived from the facts (first matching rule wins).
    pub fn fulfillment_status(&self) -> FulfillmentStatus {
        if self.is_canceled() {
            return FulfillmentStatus::Canceled;
        }
        let ordered = self.ordered_qty();
        let returned = self.returned_qty();
        if ordered > 0 && returned >= ordered {
            return FulfillmentStatus::Returned;
        }
        if returned > 0 {
            return FulfillmentStatus::PartiallyReturned;
        }
        let shipped = self.shipped_qty();
        // Units refunded before they shipped will not ship: the rest being shipped fulfils it.
        let refunded_unshipped: u64 = self
            .items
            .iter()
            .map(|i| u64::from(self.refunded_unshipped_of(i.id)))
            .sum();
        if ordered > 0 && shipped > 0 && shipped + refunded_unshipped >= ordered {
            let active: Vec<&Shipment> = self.shipments.iter().filter(|s| s.is_active()).collect();
            if active.iter().all(|s| s.status == ShipmentStatus::Delivered) {
                if active
                    .iter()
                    .all(|s| s.shipping_point == ShippingPoint::InStorePickup)
                {
                    return FulfillmentStatus::PickedUp;
                }
                return FulfillmentStatus::Delivered;
            }
            return FulfillmentStatus::Fulfilled;
        }
        if shipped > 0 {
            return FulfillmentStatus::PartiallyFulfilled;
        }
        if self.dispatched_at.is_some() {
            return FulfillmentStatus::Dispatched;
        }
        FulfillmentStatus::Unfulfilled
    }

    /// Total number of units ordered (for lists).
    pub fn items_count(&self) -> u32 {
        self.items.iter().map(|i| i.quantity).sum()
    }
}
