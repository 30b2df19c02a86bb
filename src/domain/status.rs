//! The three status families (payment, fulfillment, shipment) and how each is derived from an order's facts.

use serde::{Deserialize, Serialize};

macro_rules! status_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $code:expr, $json:expr, $label:expr;)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),* }

        impl $name {
            /// Every value, in the order the help page lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            /// The JSON name.
            pub fn as_str(self) -> &'static str { match self { $($name::$variant => $json),* } }
            /// The name the merchant reads on a badge.
            pub fn label(self) -> &'static str { match self { $($name::$variant => $label),* } }
            /// A stable one-byte code used in index keys.
            pub fn code(self) -> u8 { match self { $($name::$variant => $code),* } }
            /// Parses the JSON name.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($json => Some($name::$variant),)* _ => None }
            }
            /// Inverse of [`Self::code`].
            pub fn from_code(c: u8) -> Option<Self> {
                match c { $($code => Some($name::$variant),)* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.label()) }
        }
    };
}

status_enum!(
    /// Payment status.
    PaymentStatus {
        Unpaid = 1, "unpaid", "Unpaid";
        PartiallyPaid = 2, "partially_paid", "Partially Paid";
        InProgress = 3, "in_progress", "In progress";
        Paid = 4, "paid", "Paid";
        Refunded = 5, "refunded", "Refunded";
        PartiallyRefunded = 6, "partially_refunded", "Partially Refunded";
    }
);

status_enum!(
    /// Fulfillment status.
    FulfillmentStatus {
        Unfulfilled = 1, "unfulfilled", "Unfulfilled";
        Dispatched = 2, "dispatched", "Dispatched";
        Fulfilled = 3, "fulfilled", "Fulfilled";
        PartiallyFulfilled = 4, "partially_fulfilled", "Partially Fulfilled";
        Delivered = 5, "delivered", "Delivered";
        PickedUp = 6, "picked_up", "Picked Up";
        Returned = 7, "returned", "Returned";
        PartiallyReturned = 8, "partially_returned", "Partially Returned";
        Canceled = 9, "canceled", "Canceled";
    }
);

status_enum!(
    /// Shipment status.
    ShipmentStatus {
        AwaitingShipment = 1, "awaiting_shipment", "Awaiting Shipment";
        Shipped = 2, "shipped", "Shipped";
        InTransit = 3, "in_transit", "In transit";
        OutForDelivery = 4, "out_for_delivery", "Out for delivery";
        Delivered = 5, "delivered", "Delivered";
        DeliveryFailed = 6, "delivery_failed", "Delivery Failed";
        Canceled = 7, "canceled", "Canceled";
    }
);

impl ShipmentStatus {
    /// Delivered and canceled shipments never change again.
    pub fn is_final(self) -> bool {
        matches!(self, ShipmentStatus::Delivered | ShipmentStatus::Canceled)
    }

    /// Position on the forward path awaiting → shipped → in transit → out for delivery → delivered.
    fn rank(self) -> Option<u8> {
        match self {
            ShipmentStatus::AwaitingShipment => Some(0),
            ShipmentStatus::Shipped => Some(1),
            ShipmentStatus::InTransit => Some(2),
            ShipmentStatus::OutForDelivery => Some(3),
            ShipmentStatus::Delivered => Some(4),
            _ => None,
        }
    }

    /// Whether a shipment may move from `self` to `to` (statuses only move forward;
    /// a failed delivery may be retried; cancellation is handled by void, not by this table).
    pub fn can_move_to(self, to: ShipmentStatus) -> bool {
        use ShipmentStatus::*;
        if self.is_final() || to == Canceled {
            return false;
        }
        match (self, to) {
            (DeliveryFailed, InTransit | OutForDelivery | Delivered) => true,
            (DeliveryFailed, _) => false,
            (_, DeliveryFailed) => true,
            (from, to) => match (from.rank(), to.rank()) {
                (Some(a), Some(b)) => b > a,
                _ => false,
            },
        }
    }

    /// Every status `self` may move to, in display order (used by forms and the workflow page).
    pub fn next_statuses(self) -> Vec<ShipmentStatus> {
        ShipmentStatus::ALL
            .iter()
            .copied()
            .filter(|s| self.can_move_to(*s))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::ShipmentStatus::*;
    use super::*;

    #[test]
    fn shipment_statuses_only_move_forward() {
        assert!(AwaitingShipment.can_move_to(Shipped));
        assert!(AwaitingShipment.can_move_to(Delivered));
        assert!(Shipped.can_move_to(InTransit));
        assert!(InTransit.can_move_to(OutForDelivery));
        assert!(OutForDelivery.can_move_to(Delivered));
        assert!(!InTransit.can_move_to(Shipped));
        assert!(!OutForDelivery.can_move_to(AwaitingShipment));
        assert!(!Shipped.can_move_to(Shipped));
    }

    #[test]
    fn failed_delivery_can_be_retried_or_completed() {
        for from in [AwaitingShipment, Shipped, InTransit, OutForDelivery] {
            assert!(from.can_move_to(DeliveryFailed), "{from:?}");
        }
        assert!(DeliveryFailed.can_move_to(InTransit));
        assert!(DeliveryFailed.can_move_to(OutForDelivery));
        assert!(DeliveryFailed.can_move_to(Delivered));
        assert!(!DeliveryFailed.can_move_to(Shipped));
        assert!(!DeliveryFailed.can_move_to(AwaitingShipment));
    }

    #[test]
    fn delivered_and_canceled_are_final() {
        for to in ShipmentStatus::ALL {
            assert!(!Delivered.can_move_to(*to));
            assert!(!Canceled.can_move_to(*to));
        }
    }

    #[test]
    fn json_names_and_codes_round_trip() {
        for s in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::parse(s.as_str()), Some(*s));
            assert_eq!(PaymentStatus::from_code(s.code()), Some(*s));
        }
        for s in FulfillmentStatus::ALL {
            assert_eq!(FulfillmentStatus::parse(s.as_str()), Some(*s));
            assert_eq!(FulfillmentStatus::from_code(s.code()), Some(*s));
        }
        for s in ShipmentStatus::ALL {
            assert_eq!(ShipmentStatus::parse(s.as_str()), Some(*s));
        }
    }
}
