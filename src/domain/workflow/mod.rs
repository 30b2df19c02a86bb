//! Actions on an order: `decide` checks a command against the facts and yields the events to
//! record (`decide.rs`); `Order::apply` records them (`apply.rs`). The commands, their inputs and
//! the events are here. Pure: time, actor and new ids come in `Ctx`.

mod apply;
mod decide;

pub use apply::execute;
pub use decide::decide;

use super::order::*;
use super::status::ShipmentStatus;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Longest note body accepted.
pub const MAX_NOTE_CHARS: usize = 5000;
/// Longest reason, carrier name, tracking number or reference accepted.
pub const MAX_SHORT_TEXT: usize = 200;

/// Everything an action needs from outside the domain.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub now: DateTime<Utc>,
    pub actor: Actor,
    /// Fresh ids for whatever the action creates (an action creates at most two things).
    pub ids: [Uuid; 2],
}

impl Ctx {
    /// A context with fresh v7 ids (the one place the domain is handed randomness, by callers).
    pub fn new(now: DateTime<Utc>, actor: Actor, ids: [Uuid; 2]) -> Self {
        Ctx { now, actor, ids }
    }
}

/// A refund request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefundInput {
    pub items: Vec<ItemQty>,
    pub refund_shipping: Decimal,
    pub adjustment_refund: Decimal,
    pub adjustment_fee: Decimal,
    pub reason: Option<String>,
}

/// A manual fulfilment request.
#[derive(Debug, Clone, PartialEq)]
pub struct ManualFulfillInput {
    pub items: Vec<ItemQty>,
    pub shipping_point: ShippingPoint,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
}

/// A carrier fulfilment whose label has been bought (the carrier script supplied the details).
#[derive(Debug, Clone, PartialEq)]
pub struct CarrierFulfillInput {
    pub items: Vec<ItemQty>,
    pub shipping_point: ShippingPoint,
    pub carrier: String,
    pub service: String,
    pub tracking_number: String,
    pub tracking_url: Option<String>,
    pub expected_delivery: Option<NaiveDate>,
    pub price: Decimal,
    pub label: BTreeMap<String, String>,
}

/// A shipment edit (manual shipments only). `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShipmentEdit {
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub status: Option<ShipmentStatus>,
    /// `Some(None)` clears the date.
    pub expected_delivery: Option<Option<NaiveDate>>,
    pub notify_customer: bool,
}

/// What the merchant, the storefront or a carrier asks to do to an order.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    RecordPayment {
        amount: Option<Decimal>,
        reference: Option<String>,
    },
    Refund(RefundInput),
    Dispatch,
    ManualFulfill(ManualFulfillInput),
    CarrierFulfill(CarrierFulfillInput),
    EditShipment {
        shipment_id: ShipmentId,
        edit: ShipmentEdit,
    },
    DeliverShipment {
        shipment_id: ShipmentId,
    },
    VoidShipment {
        shipment_id: ShipmentId,
    },
    CarrierEvent {
        shipment_id: ShipmentId,
        status: ShipmentStatus,
        at: Option<DateTime<Utc>>,
    },
    Return {
        items: Vec<ItemQty>,
        reason: Option<String>,
    },
    Cancel {
        reason: String,
        refund: bool,
    },
    AddNote {
        body: String,
    },
    EditNote {
        id: NoteId,
        body: String,
    },
    DeleteNote {
        id: NoteId,
    },
    ChangeCustomer {
        customer: CustomerSnapshot,
    },
    /// Adds a tag (a tag already there changes nothing).
    AddTag {
        tag: String,
    },
    /// Removes a tag (a tag not there changes nothing).
    RemoveTag {
        tag: String,
    },
}

impl Command {
    /// A short name for logs and the timeline.
    pub fn name(&self) -> &'static str {
        match self {
            Command::RecordPayment { .. } => "record payment",
            Command::Refund(_) => "refund",
            Command::Dispatch => "dispatch",
            Command::ManualFulfill(_) => "fulfil",
            Command::CarrierFulfill(_) => "fulfil",
            Command::EditShipment { .. } => "edit shipment",
            Command::DeliverShipment { .. } => "mark as delivered",
            Command::VoidShipment { .. } => "void shipment",
            Command::CarrierEvent { .. } => "tracking update",
            Command::Return { .. } => "return",
            Command::Cancel { .. } => "cancel",
            Command::AddNote { .. } => "add note",
            Command::EditNote { .. } => "edit note",
            Command::DeleteNote { .. } => "delete note",
            Command::ChangeCustomer { .. } => "change customer",
            Command::AddTag { .. } => "add tag",
            Command::RemoveTag { .. } => "remove tag",
        }
    }
}

/// A fact to record on the order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    PaymentRecorded(Payment),
    Refunded(Refund),
    Dispatched {
        at: DateTime<Utc>,
    },
    ShipmentCreated(Shipment),
    ShipmentEdited {
        shipment_id: ShipmentId,
        carrier: Option<String>,
        tracking_number: Option<String>,
        expected_delivery: Option<Option<NaiveDate>>,
    },
    ShipmentStatusChanged {
        shipment_id: ShipmentId,
        status: ShipmentStatus,
        at: DateTime<Utc>,
    },
    /// The customer should hear about a shipment change (an edit with "notify customer" ticked,
    /// or a carrier tracking event).
    ShipmentNotify {
        shipment_id: ShipmentId,
    },
    Returned(ReturnRecord),
    Canceled(Cancellation),
    NoteAdded(Note),
    NoteEdited {
        id: NoteId,
        body: String,
        at: DateTime<Utc>,
    },
    NoteDeleted {
        id: NoteId,
    },
    CustomerChanged {
        from: CustomerSnapshot,
        to: CustomerSnapshot,
    },
    Tagged {
        tag: String,
    },
    Untagged {
        tag: String,
    },
}
