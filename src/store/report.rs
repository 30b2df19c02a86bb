//! What `orderdeck check` reports, on any backend: each place where derived data disagrees
//! with the orders.

use serde::{Deserialize, Serialize};

/// What kind of mismatch a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A record does not decode.
    Undecodable,
    /// An order has no summary, or its summary differs from the order.
    SummaryMismatch,
    /// A summary exists for a number without an order.
    SummaryStale,
    /// An index entry the order needs is missing.
    IndexMissing,
    /// An index entry no order explains.
    IndexStale,
    /// A search posting the order needs is missing.
    TermMissing,
    /// A search posting no order explains.
    TermStale,
    /// A status counter differs from a recount.
    CounterWrong,
    /// `order_ids` does not map an order's id to its number, or maps an id to no order.
    OrderIdWrong,
    /// `next_number` is not above every order number.
    NextNumber,
    /// An order's customer does not exist.
    CustomerMissing,
    /// A customer's `orders_count` differs from a recount.
    CustomerCount,
    /// A `customer_keys` entry points to no customer.
    CustomerKeyDangling,
    /// A customer search posting is missing or names no customer.
    CustomerTermWrong,
    /// An idempotency key names no order.
    IdempotencyDangling,
    /// An `outbox_due` entry points to no pending message (or to one due at another time).
    OutboxDueDangling,
    /// A pending message has no `outbox_due` entry.
    OutboxDueMissing,
    /// `outbox_by_order` disagrees with the messages.
    OutboxByOrderWrong,
}

/// One mismatch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub kind: ProblemKind,
    pub detail: String,
}

/// The outcome of a check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Orders examined.
    pub orders: u64,
    /// Customers examined.
    pub customers: u64,
    /// Outbox messages examined.
    pub messages: u64,
    /// Every mismatch found, in the order found.
    pub problems: Vec<Problem>,
}

impl CheckReport {
    /// True when nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// How many problems of one kind were found.
    pub fn count(&self, kind: ProblemKind) -> usize {
        self.problems.iter().filter(|p| p.kind == kind).count()
    }

    pub(crate) fn report(&mut self, kind: ProblemKind, detail: impl Into<String>) {
        self.problems.push(Problem {
            kind,
            detail: detail.into(),
        });
    }
}

impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "checked {} orders, {} customers, {} outbox messages: {}",
            self.orders,
            self.customers,
            self.messages,
            if self.is_clean() {
                "no problems".to_string()
            } else {
                format!("{} problem(s)", self.problems.len())
            }
        )?;
        for p in &self.problems {
            writeln!(f, "  {:?}: {}", p.kind, p.detail)?;
        }
        Ok(())
    }
}

/// Where a running check is: `stage` ("orders", "index entries", …), entries examined in it,
/// and how many there are (0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub stage: String,
    pub done: u64,
    pub total: u64,
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(pct) = (self.done.min(self.total) * 100).checked_div(self.total) {
            write!(
                f,
                "checking {}: {} of {} ({pct}%)",
                self.stage, self.done, self.total
            )
        } else {
            write!(f, "checking {}: {}", self.stage, self.done)
        }
    }
}
