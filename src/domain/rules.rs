//! The rule errors: every refusal names its rule (a stable code) and says why in words.

use rust_decimal::Decimal;

use super::money::fmt;

/// A rule refused an action. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("{field} {message}")]
    Invalid { field: String, message: String },
    #[error("The order is canceled; {action} is no longer possible")]
    OrderCanceled { action: &'static str },
    #[error("The order is already paid in full ({} of {})", fmt(*paid), fmt(*total))]
    AlreadyPaid { paid: Decimal, total: Decimal },
    #[error("{field} must be greater than zero")]
    NotPositive { field: &'static str },
    #[error("Payment of {} exceeds the balance of {} still owed", fmt(*amount), fmt(*balance))]
    PaymentExceedsBalance { amount: Decimal, balance: Decimal },
    #[error("Refund of {} exceeds the {} paid and not yet refunded", fmt(*amount), fmt(*available))]
    RefundExceedsPaid { amount: Decimal, available: Decimal },
    #[error("The refund amount must be greater than zero (it comes to {})", fmt(*amount))]
    RefundNotPositive { amount: Decimal },
    #[error("Refund of {requested} × {item} exceeds the {available} not yet refunded")]
    RefundQuantityExceeds {
        item: String,
        requested: u32,
        available: u32,
    },
    #[error("Refund shipping of {} exceeds the {} of shipping not yet refunded", fmt(*requested), fmt(*available))]
    RefundShippingExceeds {
        requested: Decimal,
        available: Decimal,
    },
    #[error("No item {item_id} in this order")]
    UnknownItem { item_id: String },
    #[error("Item {item} is listed more than once")]
    DuplicateItem { item: String },
    #[error("Choose at least one item and a quantity")]
    NoItems,
    #[error("Cannot fulfil {requested} × {item}: only {available} left to fulfil (the rest is shipped or refunded)")]
    FulfillQuantityExceeds {
        item: String,
        requested: u32,
        available: u32,
    },
    #[error("International shipments need a carrier and a tracking number")]
    TrackingRequired,
    #[error("Only unfulfilled orders can be marked as dispatched; this order is {status}")]
    DispatchNotAllowed { status: &'static str },
    #[error("No shipment {id} in this order")]
    ShipmentNotFound { id: String },
    #[error("Carrier shipments cannot be edited; their status follows the carrier's tracking")]
    CarrierShipmentNotEditable,
    #[error("The shipment is {status}; it can no longer be changed")]
    ShipmentFinal { status: &'static str },
    #[error("A shipment cannot move from {from} to {to}")]
    InvalidShipmentTransition {
        from: &'static str,
        to: &'static str,
    },
    #[error("A carrier shipment can be voided only while awaiting shipment; this one is {status}")]
    CarrierShipmentHandled { status: &'static str },
    #[error("Cannot return {requested} × {item}: only {available} delivered and not yet returned")]
    ReturnQuantityExceeds {
        item: String,
        requested: u32,
        available: u32,
    },
    #[error("Orders with shipped items cannot be canceled; void or cancel the shipments first")]
    CancelAfterShipment,
    #[error("The order is already canceled")]
    AlreadyCanceled,
    #[error("A reason is required")]
    ReasonRequired,
    #[error("No note {id} on this order")]
    NoteNotFound { id: String },
    #[error("The order already belongs to this customer")]
    CustomerUnchanged,
    #[error("Test orders can only be placed until the first real order arrives")]
    TestOrdersClosed,
    #[error("Nothing to change")]
    NothingToChange,
    #[error("Every item is already shipped or refunded; nothing is left to fulfil")]
    NothingToFulfil,
    #[error("An order can have at most {max} tags")]
    TooManyTags { max: usize },
}

impl RuleError {
    /// The rule's stable name (the API's `error.code`).
    pub fn code(&self) -> &'static str {
        match self {
            RuleError::Invalid { .. } => "invalid_field",
            RuleError::OrderCanceled { .. } => "order_canceled",
            RuleError::AlreadyPaid { .. } => "already_paid",
            RuleError::NotPositive { .. } => "amount_not_positive",
            RuleError::PaymentExceedsBalance { .. } => "payment_exceeds_balance",
            RuleError::RefundExceedsPaid { .. } => "refund_exceeds_paid",
            RuleError::RefundNotPositive { .. } => "refund_not_positive",
            RuleError::RefundQuantityExceeds { .. } => "refund_quantity_exceeds",
            RuleError::RefundShippingExceeds { .. } => "refund_shipping_exceeds",
            RuleError::UnknownItem { .. } => "unknown_item",
            RuleError::DuplicateItem { .. } => "duplicate_item",
            RuleError::NoItems => "no_items",
            RuleError::FulfillQuantityExceeds { .. } => "fulfill_quantity_exceeds",
            RuleError::TrackingRequired => "tracking_required",
            RuleError::DispatchNotAllowed { .. } => "dispatch_not_allowed",
            RuleError::ShipmentNotFound { .. } => "shipment_not_found",
            RuleError::CarrierShipmentNotEditable => "carrier_shipment_not_editable",
            RuleError::ShipmentFinal { .. } => "shipment_final",
            RuleError::InvalidShipmentTransition { .. } => "invalid_shipment_transition",
            RuleError::CarrierShipmentHandled { .. } => "carrier_shipment_handled",
            RuleError::ReturnQuantityExceeds { .. } => "return_quantity_exceeds",
            RuleError::CancelAfterShipment => "cancel_after_shipment",
            RuleError::AlreadyCanceled => "already_canceled",
            RuleError::ReasonRequired => "reason_required",
            RuleError::NoteNotFound { .. } => "note_not_found",
            RuleError::CustomerUnchanged => "customer_unchanged",
            RuleError::TestOrdersClosed => "test_orders_closed",
            RuleError::NothingToChange => "nothing_to_change",
            RuleError::TooManyTags { .. } => "too_many_tags",
            RuleError::NothingToFulfil => "nothing_to_fulfill",
        }
    }

    /// The form field the error belongs to, when there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            RuleError::Invalid { field, .. } => Some(field),
            RuleError::NotPositive { field } => Some(field),
            RuleError::PaymentExceedsBalance { .. } | RuleError::AlreadyPaid { .. } => {
                Some("amount")
            }
            RuleError::RefundShippingExceeds { .. } => Some("refund_shipping"),
            RuleError::TrackingRequired => Some("tracking_number"),
            RuleError::ReasonRequired => Some("reason"),
            RuleError::TooManyTags { .. } => Some("tag"),
            RuleError::RefundQuantityExceeds { .. }
            | RuleError::FulfillQuantityExceeds { .. }
            | RuleError::ReturnQuantityExceeds { .. }
            | RuleError::NoItems
            | RuleError::UnknownItem { .. }
            | RuleError::DuplicateItem { .. } => Some("items"),
            _ => None,
        }
    }

    /// Whether this refusal means "no such thing" (the API answers 404).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            RuleError::ShipmentNotFound { .. } | RuleError::NoteNotFound { .. }
        )
    }

    /// Shorthand for a field-level validation error.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        RuleError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Trims a free-text field and checks its length and characters.
/// Control characters are refused (newlines and tabs only where `multiline`).
pub fn clean_text(
    field: &str,
    value: &str,
    max_chars: usize,
    multiline: bool,
) -> Result<String, RuleError> {
    let v = value.trim();
    if v.chars().count() > max_chars {
        return Err(RuleError::invalid(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if v.chars()
        .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t' || c == '\r')))
    {
        return Err(RuleError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(v.to_string())
}

/// Like [`clean_text`] but the result may not be empty.
pub fn required_text(
    field: &str,
    value: &str,
    max_chars: usize,
    multiline: bool,
) -> Result<String, RuleError> {
    let v = clean_text(field, value, max_chars, multiline)?;
    if v.is_empty() {
        return Err(RuleError::invalid(field, "is required"));
    }
    Ok(v)
}

/// [`clean_text`] for an optional field: empty becomes `None`.
pub fn optional_text(
    field: &str,
    value: Option<&str>,
    max_chars: usize,
) -> Result<Option<String>, RuleError> {
    match value {
        None => Ok(None),
        Some(v) => {
            let v = clean_text(field, v, max_chars, false)?;
            Ok(if v.is_empty() { None } else { Some(v) })
        }
    }
}
