//! The Workflow page: the payment, fulfilment and shipment state machines drawn as SVG, generated
//! from the code that enforces them. Shipment moves come from `ShipmentStatus::can_move_to`;
//! payment and fulfilment moves are found by running the engine's own `execute` over a sample
//! order with every kind of action, breadth first, and recording each status change it makes.

use super::{ok, Chrome, PageError};
use crate::domain::intake::{
    AddressDraft, CustomerDraft, ItemDraft, NewOrderIds, OrderDraft, PaymentDraft, ShippingDraft,
};
use crate::domain::workflow::{ManualFulfillInput, RefundInput};
use crate::domain::{
    execute, Actor, Command, Ctx, CustomerId, ItemQty, Order, ShipmentStatus, ShippingPoint,
};
use crate::web::auth::SignedIn;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::Utc;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use uuid::Uuid;

/// A state machine: nodes (code, label) and edges (from, to, what causes it).
pub struct Machine {
    pub nodes: Vec<(&'static str, &'static str)>,
    pub edges: BTreeMap<(&'static str, &'static str), BTreeSet<&'static str>>,
    pub start: Vec<&'static str>,
}

/// A drawn diagram.
pub struct Diagram {
    pub title: &'static str,
    pub id: &'static str,
    pub width: u32,
    pub height: u32,
    pub nodes: Vec<DNode>,
    pub edges: Vec<DEdge>,
    pub legend: Vec<(String, String, String)>,
}

/// A drawn node.
pub struct DNode {
    pub x: u32,
    pub y: u32,
    pub code: &'static str,
    pub label: &'static str,
    pub start: bool,
}

/// A drawn edge (an SVG path).
pub struct DEdge {
    pub d: String,
    pub title: String,
}

const NODE_W: u32 = 150;
const NODE_H: u32 = 34;
const COL: u32 = 200;
const ROW: u32 = 56;

fn sample(method: &str) -> Option<Order> {
    let item = |sku: &str, q: u32, price: &str| ItemDraft {
        sku: sku.into(),
        name: sku.into(),
        unit_price: price.into(),
        quantity: q,
        ..ItemDraft::default()
    };
    let draft = OrderDraft {
        customer: CustomerDraft {
            name: "Sample".into(),
            email: "sample@example.com".into(),
            ..CustomerDraft::default()
        },
        shipping_address: AddressDraft {
            line1: "1 Main St".into(),
            city: "Town".into(),
            country: "US".into(),
            ..AddressDraft::default()
        },
        items: vec![item("A", 2, "10.00"), item("B", 1, "5.00")],
        shipping: ShippingDraft {
            method: "Standard".into(),
            price: "5.00".into(),
        },
        payment: PaymentDraft {
            method: method.into(),
            paid: false,
        },
        ..OrderDraft::default()
    };
    let valid = match draft.validate() {
        Ok(v) => v,
        Err(e) => {
            log::error!("the workflow sample order is invalid: {e}");
            return None;
        }
    };
    let ids = NewOrderIds {
        order_id: Uuid::nil(),
        number: 1,
        customer_id: CustomerId(Uuid::nil()),
        item_ids: vec![Uuid::from_u128(1), Uuid::from_u128(2)],
        payment_id: Uuid::from_u128(3),
    };
    Some(valid.build(&ids, "USD", Utc::now(), &Actor::System))
}

/// Every kind of action, with representative inputs, that could apply to `o`.
fn candidates(o: &Order) -> Vec<Command> {
    let half = |d: Decimal| (d / Decimal::from(2)).round_dp(2);
    let mut c = vec![
        Command::RecordPayment {
            amount: None,
            reference: None,
        },
        Command::RecordPayment {
            amount: Some(half(o.balance())),
            reference: None,
        },
        Command::Refund(RefundInput {
            adjustment_refund: o.refundable(),
            ..RefundInput::default()
        }),
        Command::Refund(RefundInput {
            adjustment_refund: half(o.refundable()),
            ..RefundInput::default()
        }),
        Command::Dispatch,
        Command::Cancel {
            reason: "sample".into(),
            refund: false,
        },
        Command::Cancel {
            reason: "sample".into(),
            refund: true,
        },
    ];
    let remaining: Vec<ItemQty> = o
        .items
        .iter()
        .map(|i| ItemQty {
            item_id: i.id,
            quantity: i.quantity.saturating_sub(o.shipped_of(i.id)),
        })
        .filter(|iq| iq.quantity > 0)
        .collect();
    for point in [ShippingPoint::Local, ShippingPoint::InStorePickup] {
        c.push(Command::ManualFulfill(ManualFulfillInput {
            items: remaining.clone(),
            shipping_point: point,
            carrier: None,
            tracking_number: None,
        }));
    }
    if let Some(first) = remaining.first() {
        c.push(Command::ManualFulfill(ManualFulfillInput {
            items: vec![ItemQty {
                item_id: first.item_id,
                quantity: 1,
            }],
            shipping_point: ShippingPoint::Local,
            carrier: None,
            tracking_number: None,
        }));
    }
    for s in &o.shipments {
        c.push(Command::DeliverShipment { shipment_id: s.id });
        c.push(Command::VoidShipment { shipment_id: s.id });
    }
    let returnable: Vec<ItemQty> = o
        .items
        .iter()
        .map(|i| ItemQty {
            item_id: i.id,
            quantity: o.delivered_of(i.id).saturating_sub(o.returned_of(i.id)),
        })
        .filter(|iq| iq.quantity > 0)
        .collect();
    if let Some(first) = returnable.first() {
        c.push(Command::Return {
            items: vec![ItemQty {
                item_id: first.item_id,
                quantity: 1,
            }],
            reason: None,
        });
    }
    if !returnable.is_empty() {
        c.push(Command::Return {
            items: returnable,
            reason: None,
        });
    }
    c
}

fn signature(o: &Order) -> String {
    let per_item: Vec<String> = o
        .items
        .iter()
        .map(|i| {
            format!(
                "{}/{}/{}/{}",
                o.shipped_of(i.id),
                o.delivered_of(i.id),
                o.returned_of(i.id),
                o.refunded_of(i.id)
            )
        })
        .collect();
    let ships: Vec<String> = o
        .shipments
        .iter()
        .map(|s| format!("{}{}", s.status.code(), s.shipping_point.as_str()))
        .collect();
    format!(
        "{}|{}|{}|{}|{}|{}",
        o.paid(),
        o.refunded(),
        o.dispatched_at.is_some(),
        o.is_canceled(),
        per_item.join(","),
        ships.join(",")
    )
}

/// Explores the engine from sample orders and returns the payment and fulfilment machines.
pub fn explore() -> (Machine, Machine) {
    let mut pay = Machine {
        nodes: crate::domain::PaymentStatus::ALL
            .iter()
            .map(|s| (s.as_str(), s.label()))
            .collect(),
        edges: BTreeMap::new(),
        start: Vec::new(),
    };
    let mut ful = Machine {
        nodes: crate::domain::FulfillmentStatus::ALL
            .iter()
            .map(|s| (s.as_str(), s.label()))
            .collect(),
        edges: BTreeMap::new(),
        start: Vec::new(),
    };
    let mut queue = VecDeque::new();
    let mut seen = HashSet::new();
    for m in ["card", "cash_on_delivery"] {
        if let Some(o) = sample(m) {
            pay.start.push(o.payment_status().as_str());
            ful.start.push(o.fulfillment_status().as_str());
            seen.insert(signature(&o));
            queue.push_back(o);
        }
    }
    let mut n = 0u128;
    while let Some(o) = queue.pop_front() {
        if seen.len() > 4000 {
            break;
        }
        for cmd in candidates(&o) {
            n += 1;
            let ctx = Ctx::new(
                Utc::now(),
                Actor::System,
                [Uuid::from_u128(n * 2 + 100), Uuid::from_u128(n * 2 + 101)],
            );
            let Ok((next, _)) = execute(&o, &cmd, &ctx) else {
                continue;
            };
            let (p0, p1) = (o.payment_status(), next.payment_status());
            if p0 != p1 {
                pay.edges
                    .entry((p0.as_str(), p1.as_str()))
                    .or_default()
                    .insert(cmd.name());
            }
            let (f0, f1) = (o.fulfillment_status(), next.fulfillment_status());
            if f0 != f1 {
                ful.edges
                    .entry((f0.as_str(), f1.as_str()))
                    .or_default()
                    .insert(cmd.name());
            }
            if seen.insert(signature(&next)) {
                queue.push_back(next);
            }
        }
    }
    pay.start.dedup();
    ful.start.dedup();
    (pay, ful)
}

/// The shipment machine, straight from `can_move_to` (and Void/Cancel for non-final statuses).
pub fn shipment_machine() -> Machine {
    let mut edges: BTreeMap<(&'static str, &'static str), BTreeSet<&'static str>> = BTreeMap::new();
    for from in ShipmentStatus::ALL {
        for to in ShipmentStatus::ALL {
            if from.can_move_to(*to) {
                edges
                    .entry((from.as_str(), to.as_str()))
                    .or_default()
                    .insert("status update");
            }
        }
        if !from.is_final() {
            edges
                .entry((from.as_str(), ShipmentStatus::Canceled.as_str()))
                .or_default()
                .insert("void / cancel");
        }
    }
    Machine {
        nodes: ShipmentStatus::ALL
            .iter()
            .map(|s| (s.as_str(), s.label()))
            .collect(),
        edges,
        start: vec![ShipmentStatus::AwaitingShipment.as_str()],
    }
}

/// Lays a machine out in columns by distance from its start states and draws it.
pub fn draw(title: &'static str, id: &'static str, m: &Machine) -> Diagram {
    let mut layer: BTreeMap<&str, u32> = BTreeMap::new();
    let mut q: VecDeque<&str> = VecDeque::new();
    for s in &m.start {
        layer.insert(s, 0);
        q.push_back(s);
    }
    while let Some(s) = q.pop_front() {
        let l = layer[s];
        for (from, to) in m.edges.keys() {
            if *from == s && !layer.contains_key(to) {
                layer.insert(to, l + 1);
                q.push_back(to);
            }
        }
    }
    let max_layer = layer.values().copied().max().unwrap_or(0);
    let mut rows_in: BTreeMap<u32, u32> = BTreeMap::new();
    let mut pos: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    let mut nodes = Vec::new();
    for (code, label) in &m.nodes {
        // States the engine never reached are drawn in an extra column, so nothing is hidden.
        let l = layer.get(code).copied().unwrap_or(max_layer + 1);
        let r = rows_in.entry(l).or_insert(0);
        let (x, y) = (20 + l * COL, 20 + *r * ROW);
        *r += 1;
        pos.insert(code, (x, y));
        nodes.push(DNode {
            x,
            y,
            code,
            label,
            start: m.start.contains(code),
        });
    }
    let label_of = |c: &str| {
        m.nodes
            .iter()
            .find(|(k, _)| *k == c)
            .map(|(_, l)| *l)
            .unwrap_or("?")
    };
    let mut edges = Vec::new();
    let mut legend = Vec::new();
    for ((from, to), causes) in &m.edges {
        let (Some(&(x1, y1)), Some(&(x2, y2))) = (pos.get(from), pos.get(to)) else {
            continue;
        };
        let causes = causes.iter().copied().collect::<Vec<_>>().join(", ");
        let (sy, ty) = (y1 + NODE_H / 2, y2 + NODE_H / 2);
        let d = if x2 > x1 {
            let (sx, tx) = (x1 + NODE_W, x2);
            let mid = (sx + tx) / 2;
            format!("M{sx},{sy} C{mid},{sy} {mid},{ty} {tx},{ty}")
        } else if x2 == x1 {
            // Same column: a loop out to the right.
            let sx = x1 + NODE_W;
            let bulge = sx + 30 + (sy.abs_diff(ty) / 4);
            format!("M{sx},{sy} C{bulge},{sy} {bulge},{ty} {sx},{ty}")
        } else {
            // Backwards: arc below the nodes.
            let (sx, tx) = (x1 + NODE_W / 2, x2 + NODE_W / 2);
            let low = y1.max(y2) + NODE_H + 26;
            format!(
                "M{sx},{} C{sx},{low} {tx},{low} {tx},{}",
                y1 + NODE_H,
                y2 + NODE_H
            )
        };
        edges.push(DEdge {
            d,
            title: format!("{} → {}: {causes}", label_of(from), label_of(to)),
        });
        legend.push((label_of(from).to_string(), label_of(to).to_string(), causes));
    }
    let cols = layer.values().copied().max().unwrap_or(0)
        + 1
        + u32::from(m.nodes.iter().any(|(c, _)| !layer.contains_key(c)));
    let rows = rows_in.values().copied().max().unwrap_or(1);
    Diagram {
        title,
        id,
        width: 40 + (cols - 1) * COL + NODE_W + 60,
        height: 40 + rows * ROW + 40,
        nodes,
        edges,
        legend,
    }
}

#[derive(Template)]
#[template(path = "workflow.html")]
struct WorkflowPage {
    chrome: Chrome,
    diagrams: Vec<Diagram>,
    node_w: u32,
    node_h: u32,
}

async fn show(req: HttpRequest, who: SignedIn) -> Result<HttpResponse, PageError> {
    let (pay, ful) = explore();
    let p = WorkflowPage {
        chrome: Chrome::new(&req, &who, "workflow", "Orders workflow"),
        diagrams: vec![
            draw("Payment status", "payment", &pay),
            draw("Fulfillment status", "fulfillment", &ful),
            draw("Shipment status", "shipment", &shipment_machine()),
        ],
        node_w: NODE_W,
        node_h: NODE_H,
    };
    Ok(ok(&req, &p.chrome, &p))
}

/// Registers the workflow page.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/workflow", web::get().to(show));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exploring_the_engine_reaches_every_payment_and_fulfillment_status() {
        let (pay, ful) = explore();
        let reached = |m: &Machine| {
            let mut s: BTreeSet<&str> = m.start.iter().copied().collect();
            for (_, to) in m.edges.keys() {
                s.insert(to);
            }
            s
        };
        assert_eq!(reached(&pay).len(), pay.nodes.len(), "{:?}", pay.edges);
        assert_eq!(reached(&ful).len(), ful.nodes.len(), "{:?}", ful.edges);
        assert!(pay.edges.contains_key(&("in_progress", "paid")));
        assert!(ful.edges.contains_key(&("unfulfilled", "canceled")));
    }

    #[test]
    fn shipments_never_leave_final_states() {
        let m = shipment_machine();
        assert!(!m
            .edges
            .keys()
            .any(|(from, _)| *from == "delivered" || *from == "canceled"));
    }
}
