//! Bulk actions: one action for many orders. Each order gets the same command a single action
//! would give it, decided by the same rules on its own facts; this module only says which
//! command that is.

use super::order::{ItemQty, Order, ShippingPoint};
use super::rules::{optional_text, required_text, RuleError};
use super::workflow::{Command, ManualFulfillInput, MAX_SHORT_TEXT};
use super::{tag_of, PaymentStatus};
use rust_decimal::Decimal;

/// Most orders one batch takes.
pub const MAX_BATCH: usize = 1000;

/// What a batch does to each of its orders.
#[derive(Debug, Clone, PartialEq)]
pub enum BulkAction {
    /// Records a payment of the balance still owed.
    Pay,
    /// Marks as packed and ready for the carrier.
    Dispatch,
    /// Fulfils every item not yet shipped, in one manual shipment.
    Fulfill {
        shipping_point: ShippingPoint,
        carrier: Option<String>,
    },
    /// Cancels (no refund: money is refunded as its own action).
    Cancel {
        reason: String,
    },
    Tag {
        tag: String,
    },
    Untag {
        tag: String,
    },
}

impl BulkAction {
    /// The API names of the actions.
    pub const NAMES: &'static [&'static str] =
        &["pay", "dispatch", "fulfill", "cancel", "tag", "untag"];

    /// Reads an action from its API name and parameters (each looked up by name), checking
    /// the parameters once for the whole batch.
    pub fn parse<'a>(
        name: &str,
        param: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<BulkAction, RuleError> {
        Ok(match name {
            "pay" => BulkAction::Pay,
            "dispatch" => BulkAction::Dispatch,
            "fulfill" => {
                let point = param("shipping_point").unwrap_or("").trim();
                let shipping_point = ShippingPoint::parse(point).ok_or_else(|| {
                    RuleError::invalid(
                        "shipping_point",
                        "must be one of local, international, in_store_pickup",
                    )
                })?;
                BulkAction::Fulfill {
                    shipping_point,
                    carrier: optional_text("carrier", param("carrier"), MAX_SHORT_TEXT)?,
                }
            }
            "cancel" => match param("reason").map(str::trim) {
                None | Some("") => return Err(RuleError::ReasonRequired),
                Some(r) => BulkAction::Cancel {
                    reason: required_text("reason", r, MAX_SHORT_TEXT, false)?,
                },
            },
            "tag" | "untag" => {
                let tag = tag_of("tag", param("tag").unwrap_or(""))?;
                if name == "tag" {
                    BulkAction::Tag { tag }
                } else {
                    BulkAction::Untag { tag }
                }
            }
            _ => {
                return Err(RuleError::invalid(
                    "action",
                    format!("must be one of {}", Self::NAMES.join(", ")),
                ))
            }
        })
    }

    /// The API name.
    pub fn name(&self) -> &'static str {
        match self {
            BulkAction::Pay => "pay",
            BulkAction::Dispatch => "dispatch",
            BulkAction::Fulfill { .. } => "fulfill",
            BulkAction::Cancel { .. } => "cancel",
            BulkAction::Tag { .. } => "tag",
            BulkAction::Untag { .. } => "untag",
        }
    }

    /// What a person reads on the preview: "Record payment of the balance", …
    pub fn label(&self) -> String {
        match self {
            BulkAction::Pay => "Record payment of the balance".into(),
            BulkAction::Dispatch => "Mark as dispatched".into(),
            BulkAction::Fulfill {
                shipping_point,
                carrier,
            } => match carrier {
                Some(c) => format!(
                    "Fulfil everything unshipped ({}, {c})",
                    shipping_point.label()
                ),
                None => format!("Fulfil everything unshipped ({})", shipping_point.label()),
            },
            BulkAction::Cancel { reason } => format!("Cancel ({reason})"),
            BulkAction::Tag { tag } => format!("Add tag {tag}"),
            BulkAction::Untag { tag } => format!("Remove tag {tag}"),
        }
    }

    /// The command this action gives `order`: what a single action on it would run. A
    /// fulfilment with nothing left to ship is refused here, naming why.
    pub fn command_for(&self, order: &Order) -> Result<Command, RuleError> {
        Ok(match self {
            BulkAction::Pay => Command::RecordPayment {
                amount: None,
                reference: None,
            },
            BulkAction::Dispatch => Command::Dispatch,
            BulkAction::Fulfill {
                shipping_point,
                carrier,
            } => {
                let items = unshipped(order);
                if items.is_empty() && !order.is_canceled() {
                    return Err(RuleError::NothingToFulfil);
                }
                Command::ManualFulfill(ManualFulfillInput {
                    items,
                    shipping_point: *shipping_point,
                    carrier: carrier.clone(),
                    tracking_number: None,
                })
            }
            BulkAction::Cancel { reason } => Command::Cancel {
                reason: reason.clone(),
                refund: false,
            },
            BulkAction::Tag { tag } => Command::AddTag { tag: tag.clone() },
            BulkAction::Untag { tag } => Command::RemoveTag { tag: tag.clone() },
        })
    }

    /// The money this action moves on `order` if it goes ahead (the balance, for a payment).
    pub fn amount(&self, order: &Order) -> Decimal {
        match self {
            BulkAction::Pay if order.payment_status() != PaymentStatus::Paid => order.balance(),
            _ => Decimal::ZERO,
        }
    }
}

/// Every item's quantity still to ship (ordered, less shipped, less refunded before shipping).
pub fn unshipped(order: &Order) -> Vec<ItemQty> {
    order
        .items
        .iter()
        .filter_map(|i| {
            let q = order.fulfillable_of(i.id);
            (q > 0).then_some(ItemQty {
                item_id: i.id,
                quantity: q,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tests_support::{ctx, order};
    use crate::domain::workflow::{decide, execute};
    use crate::domain::MAX_TAGS;

    fn params<'a>(list: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> + 'a {
        move |k| list.iter().find(|(n, _)| *n == k).map(|(_, v)| *v)
    }

    #[test]
    fn tags_are_canonical_case_insensitive_and_bounded() {
        let o = order();
        let (o, events) = execute(
            &o,
            &Command::AddTag {
                tag: "  Rush   Order ".into(),
            },
            &ctx(),
        )
        .unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(o.tags, vec!["rush order"]);
        // Already there, in any case: no events, so nothing is written.
        let again = decide(
            &o,
            &Command::AddTag {
                tag: "RUSH ORDER".into(),
            },
            &ctx(),
        )
        .unwrap();
        assert!(again.is_empty());
        let gone = decide(
            &o,
            &Command::RemoveTag {
                tag: "absent".into(),
            },
            &ctx(),
        )
        .unwrap();
        assert!(gone.is_empty());
        for bad in ["", " ", "a,b", "bell\u{7}", &"x".repeat(41)] {
            let e = decide(&o, &Command::AddTag { tag: bad.into() }, &ctx()).unwrap_err();
            assert_eq!(e.code(), "invalid_field", "{bad:?}");
            assert_eq!(e.field(), Some("tag"));
        }
        let mut full = o.clone();
        for i in 0..MAX_TAGS - 1 {
            full = execute(
                &full,
                &Command::AddTag {
                    tag: format!("t{i:02}"),
                },
                &ctx(),
            )
            .unwrap()
            .0;
        }
        assert_eq!(full.tags.len(), MAX_TAGS);
        let mut sorted = full.tags.clone();
        sorted.sort();
        assert_eq!(full.tags, sorted, "kept sorted");
        let e = decide(&full, &Command::AddTag { tag: "more".into() }, &ctx()).unwrap_err();
        assert_eq!(e, RuleError::TooManyTags { max: MAX_TAGS });
        // At the limit, a tag already there is still a no-op, and removing makes room.
        assert!(
            decide(&full, &Command::AddTag { tag: "t00".into() }, &ctx())
                .unwrap()
                .is_empty()
        );
        let fewer = execute(&full, &Command::RemoveTag { tag: "T00".into() }, &ctx())
            .unwrap()
            .0;
        assert_eq!(fewer.tags.len(), MAX_TAGS - 1);
        assert!(!fewer.tags.contains(&"t00".to_string()));
    }

    #[test]
    fn actions_read_their_parameters_once_for_the_batch() {
        assert_eq!(
            BulkAction::parse("pay", params(&[])).unwrap(),
            BulkAction::Pay
        );
        assert_eq!(
            BulkAction::parse("cancel", params(&[])).unwrap_err(),
            RuleError::ReasonRequired
        );
        assert_eq!(
            BulkAction::parse("fulfill", params(&[("shipping_point", "moon")]))
                .unwrap_err()
                .field(),
            Some("shipping_point")
        );
        assert_eq!(
            BulkAction::parse("tag", params(&[("tag", "VIP")])).unwrap(),
            BulkAction::Tag { tag: "vip".into() }
        );
        assert_eq!(
            BulkAction::parse("refund", params(&[]))
                .unwrap_err()
                .field(),
            Some("action")
        );
    }

    #[test]
    fn each_order_gets_the_single_actions_command_and_its_rules() {
        let o = order();
        let fulfil = BulkAction::parse("fulfill", params(&[("shipping_point", "local")])).unwrap();
        let cmd = fulfil.command_for(&o).unwrap();
        let (shipped, _) = execute(&o, &cmd, &ctx()).unwrap();
        assert!(unshipped(&shipped).is_empty());
        assert_eq!(
            fulfil.command_for(&shipped).unwrap_err(),
            RuleError::NothingToFulfil
        );
        // The cancel rule refuses the shipped order; the untouched one can be canceled.
        let cancel = BulkAction::Cancel {
            reason: "Out of stock".into(),
        };
        let cmd = cancel.command_for(&shipped).unwrap();
        assert_eq!(
            decide(&shipped, &cmd, &ctx()).unwrap_err(),
            RuleError::CancelAfterShipment
        );
        assert!(decide(&o, &cancel.command_for(&o).unwrap(), &ctx()).is_ok());
        // Pay records the balance, and moves exactly that much.
        let pay = BulkAction::Pay;
        let (paid, _) = execute(&o, &pay.command_for(&o).unwrap(), &ctx()).unwrap();
        assert_eq!(paid.paid(), o.total);
        assert_eq!(pay.amount(&o), o.balance());
        assert_eq!(pay.amount(&paid), Decimal::ZERO);
        assert!(decide(&paid, &pay.command_for(&paid).unwrap(), &ctx()).is_err());
    }
}
