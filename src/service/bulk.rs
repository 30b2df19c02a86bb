//! Bulk actions: previewed (nothing written) and applied, each order on its own through the
//! same path as a single action ([`Service::apply`]: decided by the rules on the order as
//! stored, written atomically with its notifications and webhooks, re-decided when a
//! concurrent change got there first). A refused order changes nothing and stops nothing.

use super::{Service, ServiceError};
use crate::domain::bulk::{BulkAction, MAX_BATCH};
use crate::domain::workflow::execute;
use crate::domain::{Actor, Order, RuleError};
use crate::ports::{ListQuery, Summary};
use futures_util::stream::{self, StreamExt};
use rust_decimal::Decimal;

/// Orders worked on at once (a batch's writes share the store's group commits).
const PARALLEL: usize = 8;

/// Which orders a batch takes.
#[derive(Debug, Clone)]
pub enum Targets {
    /// These order numbers (repeats dropped).
    Numbers(Vec<u64>),
    /// Every order a list query matches (its sort and cursor do not matter).
    Matching(ListQuery),
}

/// Why one order of a batch was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// The rule's stable name (`payment_exceeds_balance`, `not_found`, …).
    pub code: &'static str,
    pub message: String,
}

/// What a batch did (or, in a dry run, would do) to one order.
#[derive(Debug, Clone)]
pub struct BulkLine {
    pub number: u64,
    /// The order's list row before the batch (none when there is no such order).
    pub before: Option<Summary>,
    /// What happens, in the words of the order's timeline ("Payment of 57.50 USD recorded");
    /// empty when the order already is as asked (a tag already there). Or why not.
    pub outcome: Result<Vec<String>, Refused>,
    /// The money the action moves on this order (a payment's amount).
    pub amount: Decimal,
}

impl BulkLine {
    pub fn ok(&self) -> bool {
        self.outcome.is_ok()
    }
}

fn refused(e: ServiceError) -> Refused {
    match e {
        ServiceError::Rule(r) => Refused {
            code: r.code(),
            message: r.to_string(),
        },
        ServiceError::NotFound(m) => Refused {
            code: "not_found",
            message: m,
        },
        ServiceError::Refused { code, message } => Refused { code, message },
        other => {
            log::error!("bulk action: {other}");
            Refused {
                code: "internal_error",
                message: "The change could not be saved; nothing was changed on this order".into(),
            }
        }
    }
}

/// The timeline lines `actor` added to `after` beyond `before` (a concurrent change that got
/// in first, re-read by [`Service::apply`], is someone else's).
fn what_changed(before: &Order, after: &Order, actor: &str) -> Vec<String> {
    after.timeline[before.timeline.len().min(after.timeline.len())..]
        .iter()
        .filter(|t| t.actor == actor)
        .map(|t| t.message.clone())
        .collect()
}

impl Service {
    /// The numbers a batch takes, at most [`MAX_BATCH`] (more is refused, naming the limit).
    pub async fn bulk_numbers(&self, targets: &Targets) -> Result<Vec<u64>, ServiceError> {
        let too_many = |field: &str| {
            ServiceError::Rule(RuleError::invalid(
                field,
                format!("takes at most {MAX_BATCH} orders in one batch; narrow it down"),
            ))
        };
        match targets {
            Targets::Numbers(list) => {
                let mut seen = std::collections::HashSet::new();
                let numbers: Vec<u64> = list.iter().copied().filter(|n| seen.insert(*n)).collect();
                if numbers.is_empty() {
                    return Err(RuleError::invalid("orders", "choose at least one order").into());
                }
                if numbers.len() > MAX_BATCH {
                    return Err(too_many("orders"));
                }
                Ok(numbers)
            }
            Targets::Matching(q) => match self.numbers_matching(q, MAX_BATCH).await? {
                None => Err(too_many("filter")),
                Some(numbers) if numbers.is_empty() => {
                    Err(RuleError::invalid("filter", "matches no orders").into())
                }
                Some(numbers) => Ok(numbers),
            },
        }
    }

    /// Runs `action` on each order of `numbers` (in that order in the answer): with `dry_run`,
    /// asks the rules and writes nothing; otherwise applies each order on its own.
    pub async fn bulk(
        &self,
        action: &BulkAction,
        numbers: &[u64],
        dry_run: bool,
        actor: Actor,
    ) -> Vec<BulkLine> {
        let probe = self.probe(actor.clone());
        stream::iter(numbers.iter().copied())
            .map(|number| {
                let (probe, actor) = (probe.clone(), actor.clone());
                let name = actor.to_string();
                async move {
                    let order = match self.store.get_order(number).await {
                        Ok(o) => o,
                        Err(e) => {
                            return BulkLine {
                                number,
                                before: None,
                                outcome: Err(refused(e.into())),
                                amount: Decimal::ZERO,
                            }
                        }
                    };
                    let before = Some(Summary::of(&order));
                    let amount = action.amount(&order);
                    let outcome = match action.command_for(&order) {
                        Err(r) => Err(refused(r.into())),
                        Ok(cmd) if dry_run => execute(&order, &cmd, probe.ctx())
                            .map(|(next, events)| {
                                if events.is_empty() {
                                    Vec::new()
                                } else {
                                    what_changed(&order, &next, &name)
                                }
                            })
                            .map_err(|r| refused(r.into())),
                        Ok(cmd) => {
                            let was = order.clone();
                            self.apply(order, &cmd, actor)
                                .await
                                .map(|next| what_changed(&was, &next, &name))
                                .map_err(refused)
                        }
                    };
                    let amount = if outcome.is_ok() {
                        amount
                    } else {
                        Decimal::ZERO
                    };
                    BulkLine {
                        number,
                        before,
                        outcome,
                        amount,
                    }
                }
            })
            .buffered(PARALLEL)
            .collect()
            .await
    }
}
