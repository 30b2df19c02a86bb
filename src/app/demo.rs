//! `orderdeck demo`: fills a store with realistic orders (recurring customers, every status in
//! believable proportions, notes, dates over the last two years) straight through the store layer.

use crate::domain::intake::NewOrderIds;
use crate::domain::workflow::{execute, ManualFulfillInput, RefundInput};
use crate::domain::{
    Actor, Command, Ctx, CustomerId, ItemQty, Order, ShipmentStatus, ShippingPoint,
};
use crate::ports::StoreError;
use crate::store::sled::SledStore;
use chrono::{Duration, Utc};
use rand::Rng;
use rust_decimal::Decimal;
use uuid::Uuid;

/// Orders stored per transaction: large enough that a transaction's fixed cost vanishes, small
/// enough that progress moves smoothly.
const CHUNK: u64 = 1_000;

/// Creates `count` orders; `progress` is called as they are stored with the number done.
///
/// Orders are built and taken through their life in memory (by the same domain code the pages
/// and the API use), then stored a chunk per transaction through the store's bulk import
/// while the next chunk is being built on another thread.
pub fn fill(
    store: &SledStore,
    count: u64,
    mut progress: impl FnMut(u64),
) -> Result<(), StoreError> {
    let first = store.reserve_numbers(count)?;
    let now = Utc::now();
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Order>>(2);
    std::thread::scope(|s| -> Result<(), StoreError> {
        s.spawn(move || {
            let mut rng = rand::rng();
            let mut start = 0;
            while start < count {
                let end = (start + CHUNK).min(count);
                let chunk: Vec<Order> = (start..end)
                    .filter_map(|i| demo_order(&mut rng, first + i, i, count, now))
                    .collect();
                if tx.send(chunk).is_err() {
                    return;
                }
                start = end;
            }
        });
        let mut done = 0;
        for chunk in rx {
            done += chunk.len() as u64;
            store.import_orders(&chunk)?;
            progress(done);
        }
        Ok(())
    })?;
    store.durable_blocking()
}

/// [`fill`] through the storage port, for any backend (PostgreSQL): a chunk is built, then
/// stored in one transaction.
pub async fn fill_any(
    store: &dyn crate::ports::Storage,
    count: u64,
    mut progress: impl FnMut(u64),
) -> Result<(), StoreError> {
    let first = store.reserve_numbers(count).await?;
    let now = Utc::now();
    let mut done = 0;
    let mut start = 0;
    while start < count {
        let end = (start + CHUNK).min(count);
        let chunk: Vec<Order> = {
            let mut rng = rand::rng();
            (start..end)
                .filter_map(|i| demo_order(&mut rng, first + i, i, count, now))
                .collect()
        };
        done += chunk.len() as u64;
        store.import_orders(&chunk).await?;
        progress(done);
        start = end;
    }
    Ok(())
}

/// The `i`th of `count` demo orders, numbered `number`, already taken through its life.
fn demo_order(
    rng: &mut impl Rng,
    number: u64,
    i: u64,
    count: u64,
    now: chrono::DateTime<Utc>,
) -> Option<Order> {
    let staff = Actor::Member("Demo".into());
    let span_secs = 2 * 365 * 24 * 3600i64;
    // Oldest first, so numbers follow dates as they do in a real store.
    let age = span_secs - span_secs * (i as i64) / (count.max(1) as i64) - rng.random_range(0..60);
    let created = now - Duration::seconds(age.max(0));
    let mut draft = crate::domain::sample::sample_order(false);
    // About a third of orders come from returning customers.
    if rng.random_bool(0.35) {
        let k = rng.random_range(0..(count / 3).max(1));
        draft.customer.email = format!("returning{k}@example.com");
    }
    // Sample orders are valid by construction; one that is not is skipped, not stored.
    let valid = draft.validate().ok()?;
    let ids = NewOrderIds {
        order_id: Uuid::now_v7(),
        number,
        customer_id: CustomerId(Uuid::now_v7()),
        item_ids: (0..valid.items.len()).map(|_| Uuid::now_v7()).collect(),
        payment_id: Uuid::now_v7(),
    };
    let mut order = valid.build(
        &ids,
        "USD",
        created,
        &Actor::Token("demo storefront".into()),
    );
    let plan = life_of(&order, rng.random_range(0..100), rng.random_bool(0.15));
    let at = created + Duration::hours(rng.random_range(1..72));
    for (k, step) in plan.iter().enumerate() {
        let ctx = Ctx::new(
            at + Duration::hours(k as i64 * 20),
            staff.clone(),
            [Uuid::now_v7(), Uuid::now_v7()],
        );
        let cmd = resolve(&order, step);
        if let Ok((next, _)) = execute(&order, &cmd, &ctx) {
            order = next;
        }
    }
    Some(order)
}

/// A step of an order's life; shipment steps name "the latest shipment".
#[derive(Clone)]
enum Step {
    Do(Command),
    MoveLatest(ShipmentStatus),
}

fn resolve(o: &Order, step: &Step) -> Command {
    match step {
        Step::Do(c) => c.clone(),
        Step::MoveLatest(s) => {
            let id = o
                .shipments
                .last()
                .map(|s| s.id)
                .unwrap_or(crate::domain::ShipmentId(Uuid::nil()));
            if *s == ShipmentStatus::Delivered {
                Command::DeliverShipment { shipment_id: id }
            } else {
                Command::EditShipment {
                    shipment_id: id,
                    edit: crate::domain::workflow::ShipmentEdit {
                        status: Some(*s),
                        ..Default::default()
                    },
                }
            }
        }
    }
}

/// Picks where in its life an order is (roll 0..100), in believable proportions.
fn life_of(o: &Order, roll: u32, note: bool) -> Vec<Step> {
    let all: Vec<ItemQty> = o
        .items
        .iter()
        .map(|i| ItemQty {
            item_id: i.id,
            quantity: i.quantity,
        })
        .collect();
    let first = vec![ItemQty {
        item_id: o.items[0].id,
        quantity: 1,
    }];
    let pay = Step::Do(Command::RecordPayment {
        amount: None,
        reference: None,
    });
    let ship = |items: Vec<ItemQty>, point: ShippingPoint| {
        Step::Do(Command::ManualFulfill(ManualFulfillInput {
            items,
            shipping_point: point,
            carrier: Some("UPS".into()),
            tracking_number: Some(format!("1Z{:08}{}", o.number, point.as_str().len())),
        }))
    };
    let mut steps = match roll {
        0..=7 => vec![],
        8..=11 => vec![Step::Do(Command::RecordPayment {
            amount: Some((o.total / Decimal::from(2)).round_dp(2)),
            reference: None,
        })],
        12..=19 => vec![pay.clone()],
        20..=24 => vec![pay.clone(), Step::Do(Command::Dispatch)],
        25..=29 => vec![pay.clone(), ship(first.clone(), ShippingPoint::Local)],
        30..=39 => vec![
            pay.clone(),
            ship(all.clone(), ShippingPoint::Local),
            Step::MoveLatest(ShipmentStatus::InTransit),
        ],
        40..=79 => vec![
            pay.clone(),
            ship(all.clone(), ShippingPoint::Local),
            Step::MoveLatest(ShipmentStatus::Delivered),
        ],
        80..=83 => vec![
            pay.clone(),
            ship(all.clone(), ShippingPoint::InStorePickup),
            Step::MoveLatest(ShipmentStatus::Delivered),
        ],
        84..=87 => vec![
            pay.clone(),
            ship(all.clone(), ShippingPoint::Local),
            Step::MoveLatest(ShipmentStatus::Delivered),
            Step::Do(Command::Return {
                items: first.clone(),
                reason: Some("Did not fit".into()),
            }),
            Step::Do(Command::Refund(RefundInput {
                items: first.clone(),
                ..Default::default()
            })),
        ],
        88..=89 => vec![
            pay.clone(),
            ship(all.clone(), ShippingPoint::Local),
            Step::MoveLatest(ShipmentStatus::Delivered),
            Step::Do(Command::Return {
                items: all.clone(),
                reason: Some("Changed mind".into()),
            }),
            Step::Do(Command::Refund(RefundInput {
                items: all.clone(),
                refund_shipping: o.shipping.price,
                ..Default::default()
            })),
        ],
        90..=93 => vec![Step::Do(Command::Cancel {
            reason: "Customer asked".into(),
            refund: false,
        })],
        94..=96 => vec![
            pay.clone(),
            Step::Do(Command::Cancel {
                reason: "Out of stock".into(),
                refund: true,
            }),
        ],
        _ => vec![
            pay.clone(),
            ship(all.clone(), ShippingPoint::Local),
            Step::MoveLatest(ShipmentStatus::DeliveryFailed),
        ],
    };
    if note {
        steps.push(Step::Do(Command::AddNote {
            body: "Customer called about delivery time".into(),
        }));
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::ListQuery;
    use crate::store::sled::{check, SledStore};

    #[test]
    fn demo_orders_are_stored_consistently_with_recurring_customers() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let mut seen = Vec::new();
        fill(&store, 2_500, |n| seen.push(n)).unwrap();
        // Progress moves per chunk and ends at the total.
        assert_eq!(seen.last(), Some(&2_500));
        assert!(seen.len() >= 2);
        // A second run continues the numbers.
        fill(&store, 300, |_| {}).unwrap();
        let counts = store.counts().unwrap();
        assert_eq!(counts.all, 2_800);
        let page = store
            .list_orders(&ListQuery {
                sort: crate::ports::SortField::Number,
                desc: true,
                limit: 1,
                ..ListQuery::default()
            })
            .unwrap();
        assert_eq!(page.orders[0].number, 1000 + 2_800);
        // Returning customers: fewer customers than orders, and their counts add up.
        let customers = store.customers("returning", 5000).unwrap();
        assert!(!customers.is_empty());
        assert!(customers.iter().any(|c| c.orders_count > 1));
        // Every status appears.
        assert!(counts.payment.values().filter(|n| **n > 0).count() >= 4);
        assert!(counts.fulfillment.values().filter(|n| **n > 0).count() >= 4);
        let report = check::check(&store).unwrap();
        assert!(report.is_clean(), "{report}");
    }
}
