//! `orderdeck demo`: fills a store with realistic orders (recurring customers, every status in
//! believable proportions, notes, dates over the last two years) straight through the store layer.

use crate::domain::workflow::{execute, ManualFulfillInput, RefundInput};
use crate::domain::{
    Actor, Command, Ctx, CustomerId, ItemQty, Order, ShipmentStatus, ShippingPoint,
};
use crate::store::{NewOrder, OrderStore, StoreError};
use chrono::{Duration, Utc};
use rand::Rng;
use rust_decimal::Decimal;
use uuid::Uuid;

/// Creates `count` orders; `progress` is called after each with the number done.
pub fn fill(
    store: &dyn OrderStore,
    count: u64,
    mut progress: impl FnMut(u64),
) -> Result<(), StoreError> {
    let mut rng = rand::rng();
    let staff = Actor::Member("Demo".into());
    let now = Utc::now();
    let span_secs = 2 * 365 * 24 * 3600i64;
    for i in 0..count {
        // Oldest first, so numbers follow dates as they do in a real store.
        let age =
            span_secs - span_secs * (i as i64) / (count.max(1) as i64) - rng.random_range(0..60);
        let created = now - Duration::seconds(age.max(0));
        let mut draft = crate::sample::sample_order(false);
        // About a third of orders come from returning customers.
        if rng.random_bool(0.35) {
            let k = rng.random_range(0..(count / 3).max(1));
            draft.customer.email = format!("returning{k}@example.com");
        }
        let valid = draft
            .validate()
            .map_err(|e| StoreError::Corrupt(format!("sample order invalid: {e}")))?;
        let new = NewOrder {
            item_ids: (0..valid.items.len()).map(|_| Uuid::now_v7()).collect(),
            valid,
            order_id: Uuid::now_v7(),
            payment_id: Uuid::now_v7(),
            new_customer_id: CustomerId(Uuid::now_v7()),
            now: created,
            actor: Actor::Token("demo storefront".into()),
            store_currency: "USD".into(),
            idempotency: None,
            only_before_real_orders: false,
        };
        let order = match store.create_order(&new, &|_| Vec::new())? {
            crate::store::Created::New(o) | crate::store::Created::Replayed(o) => o,
        };
        let plan = life_of(&order, rng.random_range(0..100), rng.random_bool(0.15));
        if !plan.is_empty() {
            let at = created + Duration::hours(rng.random_range(1..72));
            store.update_order(order.number, &mut |o: &Order| {
                let mut cur = o.clone();
                for (k, cmd) in plan.iter().enumerate() {
                    let ctx = Ctx::new(
                        at + Duration::hours(k as i64 * 20),
                        staff.clone(),
                        [Uuid::now_v7(), Uuid::now_v7()],
                    );
                    let cmd = resolve(&cur, cmd);
                    if let Ok((next, _)) = execute(&cur, &cmd, &ctx) {
                        cur = next;
                    }
                }
                Ok(crate::store::Change::quiet(cur))
            })?;
        }
        progress(i + 1);
    }
    store
        .durability()
        .wait_blocking()
        .map_err(StoreError::Durability)
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
