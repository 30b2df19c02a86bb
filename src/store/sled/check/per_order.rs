//! What the check verifies of one order: its list row, index entries, search postings,
//! and id, and what the tallies need of it.

use super::{num, CheckReport, ProblemKind};
use crate::domain::{CustomerId, FulfillmentStatus, Order, PaymentStatus};
use crate::ports::{StoreError, Summary};
use crate::store::codec::decode;
use crate::store::keys::{self, IndexFields};
use std::collections::HashSet;

/// Every status counter the store keeps.
pub(super) fn counter_names() -> Vec<Vec<u8>> {
    let mut names: Vec<Vec<u8>> = vec![
        b"c:all".to_vec(),
        b"c:test:0".to_vec(),
        b"c:test:1".to_vec(),
    ];
    names.extend(
        PaymentStatus::ALL
            .iter()
            .map(|p| format!("c:ps:{}", p.code()).into_bytes()),
    );
    names.extend(
        FulfillmentStatus::ALL
            .iter()
            .map(|f| format!("c:fs:{}", f.code()).into_bytes()),
    );
    names
}

/// What the check read of one order.
pub(super) struct Seen {
    pub test: bool,
    pub payment: u8,
    pub fulfillment: u8,
    pub customer: CustomerId,
    /// Index entries and search postings the order needs.
    pub idx: u32,
    pub terms: u32,
}

/// The per-order checks: summary, index entries, postings, id. Returns what the
/// tallies need, or `None` when the order does not decode.
pub(super) fn check_order(
    t: &crate::store::sled::StoreTrees<'_>,
    r: &mut CheckReport,
    number: u64,
    bytes: &[u8],
    missing_for: &mut HashSet<u64>,
) -> Result<Option<Seen>, StoreError> {
    let order: Order = match decode("order", bytes) {
        Ok(o) => o,
        Err(e) => {
            r.report(ProblemKind::Undecodable, format!("order {number}: {e}"));
            return Ok(None);
        }
    };
    if order.number != number {
        r.report(
            ProblemKind::Undecodable,
            format!("order stored under {number} says it is {}", order.number),
        );
    }
    let terms = keys::order_terms(&order);
    match t.summaries.get(number.to_be_bytes())? {
        None => r.report(
            ProblemKind::SummaryMismatch,
            format!("order {number} has no summary"),
        ),
        Some(b) => match crate::store::sled::read_summary(&b, true) {
            Ok((s, stored))
                if s == Summary::of(&order) && stored.iter().eq(keys::row_terms(&order).iter()) => {
            }
            Ok(_) => r.report(
                ProblemKind::SummaryMismatch,
                format!("order {number}: the summary differs from the order"),
            ),
            Err(e) => r.report(ProblemKind::Undecodable, format!("summary {number}: {e}")),
        },
    }
    let fields = IndexFields::of(&order);
    let idx_keys = keys::index_keys(&fields);
    for key in &idx_keys {
        if !t.idx.contains_key(key)? {
            missing_for.insert(number);
            r.report(
                ProblemKind::IndexMissing,
                format!("order {number}: index entry {}", hex::encode(key)),
            );
        }
    }
    for term in &terms {
        let has = t
            .terms
            .get(keys::posting_key(term, number))?
            .is_some_and(|v| keys::posting_has(term, &v, number));
        if !has {
            missing_for.insert(number);
            r.report(
                ProblemKind::TermMissing,
                format!("order {number}: search term {term:?}"),
            );
        }
    }
    match t.order_ids.get(order.id.0.as_bytes())? {
        Some(b) if num(&b) == Some(number) => {}
        _ => r.report(
            ProblemKind::OrderIdWrong,
            format!("order {number}: its id {} does not map to it", order.id.0),
        ),
    }
    Ok(Some(Seen {
        test: fields.test,
        payment: fields.payment.code(),
        fulfillment: fields.fulfillment.code(),
        customer: order.customer.id,
        idx: idx_keys.len() as u32,
        terms: terms.len() as u32,
    }))
}
