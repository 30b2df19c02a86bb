//! The rules, one test per status and per refusal, plus property tests over random action sequences.

use super::intake::*;
use super::workflow::*;
use super::*;
use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use std::str::FromStr;
use uuid::Uuid;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap()
}

fn ctx(n: u128) -> Ctx {
    Ctx::new(
        now(),
        Actor::Member("Dana".into()),
        [Uuid::from_u128(1000 + n * 2), Uuid::from_u128(1001 + n * 2)],
    )
}

fn draft(method: &str) -> OrderDraft {
    OrderDraft {
        customer: CustomerDraft {
            name: "Ann Lee".into(),
            email: "ann@example.com".into(),
            phone: "+1 555 0100".into(),
        },
        shipping_address: AddressDraft {
            name: "Ann Lee".into(),
            line1: "1 Main St".into(),
            city: "Portland".into(),
            country: "us".into(),
            ..Default::default()
        },
        items: vec![
            ItemDraft {
                sku: "TEE".into(),
                name: "T-Shirt".into(),
                unit_price: "20.00".into(),
                quantity: 2,
                ..Default::default()
            },
            ItemDraft {
                sku: "MUG".into(),
                name: "Mug".into(),
                unit_price: "10.00".into(),
                quantity: 1,
                ..Default::default()
            },
        ],
        shipping: ShippingDraft {
            method: "Standard".into(),
            price: "5.00".into(),
        },
        tax: Some("2.50".into()),
        discount: Some("0.50".into()),
        payment: PaymentDraft {
            method: method.into(),
            paid: false,
        },
        ..Default::default()
    }
}

/// An order for 2 × T-Shirt (20.00) + 1 × Mug (10.00), shipping 5.00, tax 2.50, discount 0.50:
/// total 57.00.
fn order_with(method: &str) -> Order {
    let v = draft(method).validate().unwrap();
    v.build(
        &NewOrderIds {
            order_id: Uuid::from_u128(1),
            number: 1001,
            customer_id: CustomerId(Uuid::from_u128(2)),
            item_ids: vec![Uuid::from_u128(10), Uuid::from_u128(11)],
            payment_id: Uuid::from_u128(3),
        },
        "USD",
        now(),
        &Actor::Token("shop".into()),
    )
}

fn order() -> Order {
    order_with("card")
}

const TEE: ItemId = ItemId(Uuid::from_u128(10));
const MUG: ItemId = ItemId(Uuid::from_u128(11));

fn iq(item: ItemId, quantity: u32) -> ItemQty {
    ItemQty {
        item_id: item,
        quantity,
    }
}

fn run(o: &Order, cmd: Command) -> Order {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed) as u128;
    execute(o, &cmd, &ctx(n))
        .unwrap_or_else(|e| panic!("{cmd:?} refused: {e}"))
        .0
}

fn refused(o: &Order, cmd: Command) -> RuleError {
    match execute(o, &cmd, &ctx(999)) {
        Ok(_) => panic!("{cmd:?} was accepted"),
        Err(e) => e,
    }
}

fn pay(amount: Option<&str>) -> Command {
    Command::RecordPayment {
        amount: amount.map(d),
        reference: None,
    }
}

fn refund(items: Vec<ItemQty>, shipping: &str, adj: &str, fee: &str) -> Command {
    Command::Refund(RefundInput {
        items,
        refund_shipping: d(shipping),
        adjustment_refund: d(adj),
        adjustment_fee: d(fee),
        reason: None,
    })
}

fn fulfil(items: Vec<ItemQty>, point: ShippingPoint) -> Command {
    Command::ManualFulfill(ManualFulfillInput {
        items,
        shipping_point: point,
        carrier: Some("UPS".into()),
        tracking_number: Some("1Z999".into()),
    })
}

fn deliver_all(mut o: Order) -> Order {
    let ids: Vec<ShipmentId> = o
        .shipments
        .iter()
        .filter(|s| !s.status.is_final())
        .map(|s| s.id)
        .collect();
    for id in ids {
        o = run(&o, Command::DeliverShipment { shipment_id: id });
    }
    o
}

// ---- intake ----

#[test]
fn intake_computes_the_total_from_items_shipping_tax_and_discount() {
    let o = order();
    assert_eq!(o.subtotal(), d("50.00"));
    assert_eq!(o.total, d("57.00"));
    assert_eq!(o.billing_address, o.shipping_address);
    assert_eq!(o.shipping_address.country, "US");
    assert_eq!(o.timeline.len(), 1);
}

#[test]
fn intake_refuses_bad_fields_naming_the_field() {
    type Change = Box<dyn Fn(&mut OrderDraft)>;
    let cases: Vec<(Change, &str)> = vec![
        (Box::new(|d| d.items.clear()), "items"),
        (Box::new(|d| d.items[0].quantity = 0), "items[0].quantity"),
        (
            Box::new(|d| d.items[1].unit_price = "-1".into()),
            "items[1].unit_price",
        ),
        (
            Box::new(|d| d.items[1].unit_price = "1.999".into()),
            "items[1].unit_price",
        ),
        (Box::new(|d| d.items[0].sku = "  ".into()), "items[0].sku"),
        (
            Box::new(|d| d.customer.name = String::new()),
            "customer.name",
        ),
        (
            Box::new(|d| d.customer.email = "not-an-email".into()),
            "customer.email",
        ),
        (
            Box::new(|d| {
                d.customer.email = String::new();
                d.customer.phone = String::new();
            }),
            "customer.email",
        ),
        (
            Box::new(|d| d.shipping_address.country = "USA".into()),
            "shipping_address.country",
        ),
        (
            Box::new(|d| d.shipping_address.city = "\u{7}".into()),
            "shipping_address.city",
        ),
        (
            Box::new(|d| d.payment.method = "bitcoin".into()),
            "payment.method",
        ),
        (Box::new(|d| d.discount = Some("999".into())), "discount"),
        (
            Box::new(|d| d.currency = Some("dollars".into())),
            "currency",
        ),
        (
            Box::new(|d| d.items[0].image_url = Some("javascript:alert(1)".into())),
            "items[0].image_url",
        ),
    ];
    for (change, field) in cases {
        let mut dr = draft("card");
        change(&mut dr);
        match dr.validate() {
            Err(RuleError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected {field} to be refused, got {other:?}"),
        }
    }
}

#[test]
fn paid_at_checkout_records_a_payment_of_the_total() {
    let mut dr = draft("card");
    dr.payment.paid = true;
    let v = dr.validate().unwrap();
    let o = v.build(
        &NewOrderIds {
            order_id: Uuid::from_u128(1),
            number: 1001,
            customer_id: CustomerId(Uuid::from_u128(2)),
            item_ids: vec![Uuid::from_u128(10), Uuid::from_u128(11)],
            payment_id: Uuid::from_u128(3),
        },
        "USD",
        now(),
        &Actor::System,
    );
    assert_eq!(o.paid(), o.total);
    assert_eq!(o.payment_status(), PaymentStatus::Paid);
}

// ---- payment statuses (help page table) ----

#[test]
fn manual_methods_start_unpaid_and_online_ones_in_progress() {
    for m in ["cash_on_delivery", "money_transfer", "pos_on_delivery"] {
        assert_eq!(order_with(m).payment_status(), PaymentStatus::Unpaid, "{m}");
    }
    for m in ["card", "mobile", "online"] {
        assert_eq!(
            order_with(m).payment_status(),
            PaymentStatus::InProgress,
            "{m}"
        );
    }
}

#[test]
fn every_payment_status_is_reached_from_facts() {
    let o = run(&order(), pay(Some("20.00")));
    assert_eq!(o.payment_status(), PaymentStatus::PartiallyPaid);
    let o = run(&o, pay(None));
    assert_eq!(o.paid(), d("57.00"));
    assert_eq!(o.payment_status(), PaymentStatus::Paid);
    let o = run(&o, refund(vec![iq(MUG, 1)], "0", "0", "0"));
    assert_eq!(o.payment_status(), PaymentStatus::PartiallyRefunded);
    let o = run(&o, refund(vec![iq(TEE, 2)], "5.00", "2.00", "0"));
    assert_eq!(o.refunded(), d("57.00"));
    assert_eq!(o.payment_status(), PaymentStatus::Refunded);
}

// ---- payment refusals ----

#[test]
fn a_payment_larger_than_the_balance_is_refused() {
    let o = run(&order(), pay(Some("50.00")));
    let e = refused(&o, pay(Some("7.01")));
    assert_eq!(e.code(), "payment_exceeds_balance");
    assert_eq!(
        e.to_string(),
        "Payment of 7.01 exceeds the balance of 7.00 still owed"
    );
}

#[test]
fn a_paid_order_takes_no_more_payments() {
    let o = run(&order(), pay(None));
    assert_eq!(refused(&o, pay(Some("1"))).code(), "already_paid");
    assert_eq!(refused(&o, pay(None)).code(), "already_paid");
}

#[test]
fn zero_and_negative_payments_are_refused() {
    assert_eq!(
        refused(&order(), pay(Some("0"))).code(),
        "amount_not_positive"
    );
    assert_eq!(refused(&order(), pay(Some("-5"))).code(), "invalid_field");
}

#[test]
fn a_canceled_order_takes_no_payment() {
    let o = run(
        &order(),
        Command::Cancel {
            reason: "Out of stock".into(),
            refund: false,
        },
    );
    assert_eq!(refused(&o, pay(None)).code(), "order_canceled");
}

// ---- refunds ----

#[test]
fn refund_amount_is_items_plus_shipping_plus_adjustment_minus_fee() {
    let o = run(&order(), pay(None));
    let o = run(&o, refund(vec![iq(TEE, 1)], "2.00", "1.50", "0.50"));
    assert_eq!(o.refunds[0].amount, d("23.00"));
}

#[test]
fn refunding_more_than_was_paid_is_refused() {
    let o = run(&order(), pay(Some("25.00")));
    let e = refused(&o, refund(vec![iq(TEE, 1)], "0", "10.00", "0"));
    assert_eq!(e.code(), "refund_exceeds_paid");
    assert_eq!(
        e.to_string(),
        "Refund of 30.00 exceeds the 25.00 paid and not yet refunded"
    );
}

#[test]
fn refunding_more_items_than_ordered_or_already_refunded_is_refused() {
    let o = run(&order(), pay(None));
    assert_eq!(
        refused(&o, refund(vec![iq(TEE, 3)], "0", "0", "0")).code(),
        "refund_quantity_exceeds"
    );
    let o = run(&o, refund(vec![iq(TEE, 1)], "0", "0", "0"));
    assert_eq!(
        refused(&o, refund(vec![iq(TEE, 2)], "0", "0", "0")).code(),
        "refund_quantity_exceeds"
    );
    assert!(execute(&o, &refund(vec![iq(TEE, 1)], "0", "0", "0"), &ctx(5)).is_ok());
}

#[test]
fn refunding_more_shipping_than_charged_is_refused() {
    let o = run(&order(), pay(None));
    assert_eq!(
        refused(&o, refund(vec![], "5.01", "0", "0")).code(),
        "refund_shipping_exceeds"
    );
    let o = run(&o, refund(vec![], "3.00", "0", "0"));
    assert_eq!(
        refused(&o, refund(vec![], "2.01", "0", "0")).code(),
        "refund_shipping_exceeds"
    );
}

#[test]
fn a_refund_that_comes_to_zero_or_less_is_refused() {
    let o = run(&order(), pay(None));
    assert_eq!(
        refused(&o, refund(vec![], "0", "0", "0")).code(),
        "refund_not_positive"
    );
    assert_eq!(
        refused(&o, refund(vec![iq(MUG, 1)], "0", "0", "10.00")).code(),
        "refund_not_positive"
    );
}

#[test]
fn refunding_an_unpaid_order_is_refused() {
    assert_eq!(
        refused(&order(), refund(vec![iq(MUG, 1)], "0", "0", "0")).code(),
        "refund_exceeds_paid"
    );
}

#[test]
fn unknown_and_duplicate_items_are_refused() {
    let o = run(&order(), pay(None));
    let ghost = ItemId(Uuid::from_u128(77));
    assert_eq!(
        refused(&o, refund(vec![iq(ghost, 1)], "0", "0", "0")).code(),
        "unknown_item"
    );
    assert_eq!(
        refused(&o, refund(vec![iq(MUG, 1), iq(MUG, 1)], "0", "0", "0")).code(),
        "duplicate_item"
    );
}

// ---- fulfilment statuses (help page table) ----

#[test]
fn every_fulfillment_status_is_reached_from_facts() {
    let o = order();
    assert_eq!(o.fulfillment_status(), FulfillmentStatus::Unfulfilled);
    let o = run(&o, Command::Dispatch);
    assert_eq!(o.fulfillment_status(), FulfillmentStatus::Dispatched);
    let o = run(&o, fulfil(vec![iq(TEE, 1)], ShippingPoint::Local));
    assert_eq!(
        o.fulfillment_status(),
        FulfillmentStatus::PartiallyFulfilled
    );
    let o = run(
        &o,
        fulfil(vec![iq(TEE, 1), iq(MUG, 1)], ShippingPoint::Local),
    );
    assert_eq!(o.fulfillment_status(), FulfillmentStatus::Fulfilled);
    let o = deliver_all(o);
    assert_eq!(o.fulfillment_status(), FulfillmentStatus::Delivered);
    let o = run(
        &o,
        Command::Return {
            items: vec![iq(MUG, 1)],
            reason: None,
        },
    );
    assert_eq!(o.fulfillment_status(), FulfillmentStatus::PartiallyReturned);
    let o = run(
        &o,
        Command::Return {
            items: vec![iq(TEE, 2)],
            reason: None,
        },
    );
    assert_eq!(o.fulfillment_status(), FulfillmentStatus::Returned);
}

#[test]
fn in_store_pickup_delivered_reads_picked_up() {
    let o = run(
        &order(),
        fulfil(vec![iq(TEE, 2), iq(MUG, 1)], ShippingPoint::InStorePickup),
    );
    assert_eq!(o.fulfillment_status(), FulfillmentStatus::Fulfilled);
    let o = deliver_all(o);
    assert_eq!(o.fulfillment_status(), FulfillmentStatus::PickedUp);
}

#[test]
fn a_canceled_order_reads_canceled() {
    let o = run(
        &order(),
        Command::Cancel {
            reason: "Customer asked".into(),
            refund: false,
        },
    );
    assert_eq!(o.fulfillment_status(), FulfillmentStatus::Canceled);
}

#[test]
fn a_voided_shipment_no_longer_counts_as_shipped() {
    let o = run(
        &order(),
        fulfil(vec![iq(TEE, 2), iq(MUG, 1)], ShippingPoint::Local),
    );
    let id = o.shipments[0].id;
    let o = run(&o, Command::VoidShipment { shipment_id: id });
    assert_eq!(o.fulfillment_status(), FulfillmentStatus::Unfulfilled);
    assert_eq!(o.shipments[0].status, ShipmentStatus::Canceled);
    // ...and its items can be fulfilled again.
    let o = run(&o, fulfil(vec![iq(TEE, 2)], ShippingPoint::Local));
    assert_eq!(
        o.fulfillment_status(),
        FulfillmentStatus::PartiallyFulfilled
    );
}

// ---- fulfilment refusals ----

#[test]
fn fulfilling_more_than_not_yet_shipped_is_refused() {
    let o = run(&order(), fulfil(vec![iq(TEE, 1)], ShippingPoint::Local));
    let e = refused(&o, fulfil(vec![iq(TEE, 2)], ShippingPoint::Local));
    assert_eq!(e.code(), "fulfill_quantity_exceeds");
    assert_eq!(
        e.to_string(),
        "Cannot fulfil 2 × T-Shirt: only 1 left to fulfil (the rest is shipped or refunded)"
    );
}

#[test]
fn items_refunded_before_they_shipped_are_no_longer_fulfillable() {
    let o = run(&order(), pay(None));
    let o = run(&o, refund(vec![iq(TEE, 1)], "0", "0", "0"));
    assert_eq!(o.fulfillable_of(TEE), 1);
    let e = refused(&o, fulfil(vec![iq(TEE, 2)], ShippingPoint::Local));
    assert_eq!(e.code(), "fulfill_quantity_exceeds");
    assert!(e.to_string().contains("only 1 left to fulfil"), "{e}");
    let o = run(&o, fulfil(vec![iq(TEE, 1)], ShippingPoint::Local));
    assert_eq!(o.fulfillable_of(TEE), 0);
    // The ledger adds up: ordered 2 = shipped 1 + refunded before shipping 1.
    assert_eq!(o.shipped_of(TEE) + o.refunded_unshipped_of(TEE), 2);
    refused(&o, fulfil(vec![iq(TEE, 1)], ShippingPoint::Local));
    // Shipping what remains fulfils the order.
    assert_eq!(
        o.fulfillment_status(),
        FulfillmentStatus::PartiallyFulfilled
    );
    let o = run(&o, fulfil(vec![iq(MUG, 1)], ShippingPoint::Local));
    assert_eq!(o.fulfillment_status(), FulfillmentStatus::Fulfilled);
}

#[test]
fn refunding_a_returned_item_leaves_the_unshipped_one_to_fulfil() {
    let o = run(&order(), pay(None));
    let o = run(&o, fulfil(vec![iq(TEE, 1)], ShippingPoint::Local));
    let o = deliver_all(o);
    let o = run(
        &o,
        Command::Return {
            items: vec![iq(TEE, 1)],
            reason: None,
        },
    );
    let o = run(&o, refund(vec![iq(TEE, 1)], "0", "0", "0"));
    assert_eq!(o.refunded_unshipped_of(TEE), 0);
    assert_eq!(o.fulfillable_of(TEE), 1);
    run(&o, fulfil(vec![iq(TEE, 1)], ShippingPoint::Local));
}

#[test]
fn refunding_a_shipped_item_the_customer_keeps_leaves_nothing_unshipped_cancelled() {
    let o = run(&order(), pay(None));
    let o = run(&o, fulfil(vec![iq(TEE, 2)], ShippingPoint::Local));
    let o = run(&o, refund(vec![iq(TEE, 1)], "0", "0", "0"));
    assert_eq!(o.refunded_unshipped_of(TEE), 0);
    assert_eq!(o.fulfillable_of(TEE), 0);
}

#[test]
fn fulfilling_nothing_is_refused() {
    assert_eq!(
        refused(&order(), fulfil(vec![], ShippingPoint::Local)).code(),
        "no_items"
    );
    assert_eq!(
        refused(&order(), fulfil(vec![iq(TEE, 0)], ShippingPoint::Local)).code(),
        "no_items"
    );
}

#[test]
fn international_shipments_need_carrier_and_tracking() {
    let cmd = Command::ManualFulfill(ManualFulfillInput {
        items: vec![iq(TEE, 1)],
        shipping_point: ShippingPoint::International,
        carrier: Some("DHL".into()),
        tracking_number: Some("  ".into()),
    });
    assert_eq!(refused(&order(), cmd).code(), "tracking_required");
    let local = Command::ManualFulfill(ManualFulfillInput {
        items: vec![iq(TEE, 1)],
        shipping_point: ShippingPoint::Local,
        carrier: None,
        tracking_number: None,
    });
    assert!(execute(&order(), &local, &ctx(1)).is_ok());
}

#[test]
fn dispatch_is_only_for_unfulfilled_orders() {
    let o = run(&order(), Command::Dispatch);
    assert_eq!(
        refused(&o, Command::Dispatch).code(),
        "dispatch_not_allowed"
    );
    let o = run(&order(), fulfil(vec![iq(TEE, 1)], ShippingPoint::Local));
    assert_eq!(
        refused(&o, Command::Dispatch).code(),
        "dispatch_not_allowed"
    );
    let o = run(
        &order(),
        Command::Cancel {
            reason: "x".into(),
            refund: false,
        },
    );
    assert_eq!(refused(&o, Command::Dispatch).code(), "order_canceled");
}

#[test]
fn a_canceled_order_cannot_be_fulfilled() {
    let o = run(
        &order(),
        Command::Cancel {
            reason: "x".into(),
            refund: false,
        },
    );
    assert_eq!(
        refused(&o, fulfil(vec![iq(TEE, 1)], ShippingPoint::Local)).code(),
        "order_canceled"
    );
}

// ---- shipments ----

fn edit(status: Option<ShipmentStatus>) -> ShipmentEdit {
    ShipmentEdit {
        status,
        ..Default::default()
    }
}

#[test]
fn every_shipment_status_is_reached_by_editing_a_manual_shipment() {
    let mut o = run(&order(), fulfil(vec![iq(TEE, 1)], ShippingPoint::Local));
    let id = o.shipments[0].id;
    assert_eq!(o.shipments[0].status, ShipmentStatus::AwaitingShipment);
    for s in [
        ShipmentStatus::Shipped,
        ShipmentStatus::InTransit,
        ShipmentStatus::OutForDelivery,
        ShipmentStatus::DeliveryFailed,
        ShipmentStatus::OutForDelivery,
        ShipmentStatus::Delivered,
    ] {
        o = run(
            &o,
            Command::EditShipment {
                shipment_id: id,
                edit: edit(Some(s)),
            },
        );
        assert_eq!(o.shipments[0].status, s);
    }
    assert_eq!(o.shipments[0].history.len(), 7);
    let o2 = run(&order(), fulfil(vec![iq(TEE, 1)], ShippingPoint::Local));
    let id2 = o2.shipments[0].id;
    let o2 = run(&o2, Command::VoidShipment { shipment_id: id2 });
    assert_eq!(o2.shipments[0].status, ShipmentStatus::Canceled);
}

#[test]
fn shipment_statuses_never_move_backwards() {
    let o = run(&order(), fulfil(vec![iq(TEE, 1)], ShippingPoint::Local));
    let id = o.shipments[0].id;
    let o = run(
        &o,
        Command::EditShipment {
            shipment_id: id,
            edit: edit(Some(ShipmentStatus::InTransit)),
        },
    );
    let e = refused(
        &o,
        Command::EditShipment {
            shipment_id: id,
            edit: edit(Some(ShipmentStatus::Shipped)),
        },
    );
    assert_eq!(e.code(), "invalid_shipment_transition");
}

#[test]
fn delivered_and_canceled_shipments_are_final() {
    let o = run(&order(), fulfil(vec![iq(TEE, 1)], ShippingPoint::Local));
    let id = o.shipments[0].id;
    let o = run(&o, Command::DeliverShipment { shipment_id: id });
    assert_eq!(
        refused(&o, Command::VoidShipment { shipment_id: id }).code(),
        "shipment_final"
    );
    assert_eq!(
        refused(&o, Command::DeliverShipment { shipment_id: id }).code(),
        "shipment_final"
    );
    let e = refused(
        &o,
        Command::EditShipment {
            shipment_id: id,
            edit: ShipmentEdit {
                carrier: Some("DHL".into()),
                ..Default::default()
            },
        },
    );
    assert_eq!(e.code(), "shipment_final");
}

fn carrier_order() -> Order {
    run(
        &order(),
        Command::CarrierFulfill(CarrierFulfillInput {
            items: vec![iq(TEE, 2)],
            shipping_point: ShippingPoint::Local,
            carrier: "post".into(),
            service: "standard".into(),
            tracking_number: "PO123".into(),
            tracking_url: None,
            expected_delivery: None,
            price: d("7.50"),
            label: Default::default(),
        }),
    )
}

#[test]
fn carrier_shipments_cannot_be_edited() {
    let o = carrier_order();
    let id = o.shipments[0].id;
    let e = refused(
        &o,
        Command::EditShipment {
            shipment_id: id,
            edit: edit(Some(ShipmentStatus::Shipped)),
        },
    );
    assert_eq!(e.code(), "carrier_shipment_not_editable");
}

#[test]
fn carrier_shipments_can_be_voided_only_while_awaiting_shipment() {
    let o = carrier_order();
    let id = o.shipments[0].id;
    assert!(execute(&o, &Command::VoidShipment { shipment_id: id }, &ctx(3)).is_ok());
    let o = run(
        &o,
        Command::CarrierEvent {
            shipment_id: id,
            status: ShipmentStatus::InTransit,
            at: None,
        },
    );
    assert_eq!(
        refused(&o, Command::VoidShipment { shipment_id: id }).code(),
        "carrier_shipment_handled"
    );
}

#[test]
fn carrier_events_move_forward_only_and_notify() {
    let o = carrier_order();
    let id = o.shipments[0].id;
    let (o, events) = execute(
        &o,
        &Command::CarrierEvent {
            shipment_id: id,
            status: ShipmentStatus::InTransit,
            at: None,
        },
        &ctx(4),
    )
    .unwrap();
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::ShipmentNotify { .. })));
    let e = refused(
        &o,
        Command::CarrierEvent {
            shipment_id: id,
            status: ShipmentStatus::Shipped,
            at: None,
        },
    );
    assert_eq!(e.code(), "invalid_shipment_transition");
}

#[test]
fn an_unknown_shipment_is_not_found() {
    let e = refused(
        &order(),
        Command::DeliverShipment {
            shipment_id: ShipmentId(Uuid::from_u128(5)),
        },
    );
    assert!(e.is_not_found());
}

#[test]
fn an_edit_that_changes_nothing_is_refused() {
    let o = run(&order(), fulfil(vec![iq(TEE, 1)], ShippingPoint::Local));
    let id = o.shipments[0].id;
    let e = refused(
        &o,
        Command::EditShipment {
            shipment_id: id,
            edit: ShipmentEdit {
                carrier: Some("UPS".into()),
                ..Default::default()
            },
        },
    );
    assert_eq!(e.code(), "nothing_to_change");
}

// ---- returns ----

#[test]
fn returning_what_was_not_delivered_is_refused() {
    let o = run(&order(), fulfil(vec![iq(TEE, 2)], ShippingPoint::Local));
    let e = refused(
        &o,
        Command::Return {
            items: vec![iq(TEE, 1)],
            reason: None,
        },
    );
    assert_eq!(e.code(), "return_quantity_exceeds");
    let o = deliver_all(o);
    let o = run(
        &o,
        Command::Return {
            items: vec![iq(TEE, 1)],
            reason: Some("Too small".into()),
        },
    );
    let e = refused(
        &o,
        Command::Return {
            items: vec![iq(TEE, 2)],
            reason: None,
        },
    );
    assert_eq!(
        e.to_string(),
        "Cannot return 2 × T-Shirt: only 1 delivered and not yet returned"
    );
    assert_eq!(
        refused(
            &o,
            Command::Return {
                items: vec![iq(MUG, 1)],
                reason: None
            }
        )
        .code(),
        "return_quantity_exceeds"
    );
}

// ---- cancel ----

#[test]
fn canceling_needs_a_reason() {
    assert_eq!(
        refused(
            &order(),
            Command::Cancel {
                reason: " ".into(),
                refund: false
            }
        )
        .code(),
        "reason_required"
    );
}

#[test]
fn orders_with_shipped_items_cannot_be_canceled() {
    let o = run(&order(), fulfil(vec![iq(TEE, 1)], ShippingPoint::Local));
    assert_eq!(
        refused(
            &o,
            Command::Cancel {
                reason: "x".into(),
                refund: false
            }
        )
        .code(),
        "cancel_after_shipment"
    );
}

#[test]
fn canceling_twice_is_refused() {
    let o = run(
        &order(),
        Command::Cancel {
            reason: "x".into(),
            refund: false,
        },
    );
    assert_eq!(
        refused(
            &o,
            Command::Cancel {
                reason: "y".into(),
                refund: false
            }
        )
        .code(),
        "already_canceled"
    );
}

#[test]
fn cancel_with_refund_returns_everything_paid() {
    let o = run(&order(), pay(Some("30.00")));
    let o = run(
        &o,
        Command::Cancel {
            reason: "Out of stock".into(),
            refund: true,
        },
    );
    assert_eq!(o.refunded(), d("30.00"));
    assert_eq!(o.payment_status(), PaymentStatus::Refunded);
    assert_eq!(o.fulfillment_status(), FulfillmentStatus::Canceled);
}

// ---- notes and customer ----

#[test]
fn notes_can_be_added_edited_and_deleted() {
    let o = run(
        &order(),
        Command::AddNote {
            body: "Gift wrap please".into(),
        },
    );
    let id = o.notes[0].id;
    assert_eq!(o.notes[0].author, "Dana");
    let o = run(
        &o,
        Command::EditNote {
            id,
            body: "Gift wrap, blue paper".into(),
        },
    );
    assert_eq!(o.notes[0].body, "Gift wrap, blue paper");
    let o = run(&o, Command::DeleteNote { id });
    assert!(o.notes.is_empty());
    assert_eq!(
        refused(&o, Command::DeleteNote { id }).code(),
        "note_not_found"
    );
}

#[test]
fn empty_or_huge_notes_are_refused() {
    assert_eq!(
        refused(&order(), Command::AddNote { body: "   ".into() }).code(),
        "invalid_field"
    );
    let huge = "x".repeat(MAX_NOTE_CHARS + 1);
    assert_eq!(
        refused(&order(), Command::AddNote { body: huge }).code(),
        "invalid_field"
    );
}

#[test]
fn changing_to_the_same_customer_is_refused_and_another_is_logged() {
    let o = order();
    let same = o.customer.clone();
    assert_eq!(
        refused(&o, Command::ChangeCustomer { customer: same }).code(),
        "customer_unchanged"
    );
    let other = CustomerSnapshot {
        id: CustomerId(Uuid::from_u128(9)),
        name: "Bo Chen".into(),
        email: "bo@example.com".into(),
        phone: String::new(),
    };
    let o = run(
        &o,
        Command::ChangeCustomer {
            customer: other.clone(),
        },
    );
    assert_eq!(o.customer, other);
    assert!(o.timeline.last().unwrap().message.contains("Bo Chen"));
}

#[test]
fn every_accepted_action_appends_a_timeline_entry_with_its_actor() {
    let o = run(&order(), pay(Some("10")));
    let last = o.timeline.last().unwrap();
    assert_eq!(last.actor, "Dana");
    assert_eq!(last.kind, "payment");
    assert_eq!(o.timeline.len(), 2);
}

#[test]
fn a_refused_action_changes_nothing() {
    let o = order();
    let before = o.clone();
    let _ = execute(&o, &pay(Some("1000")), &ctx(1));
    assert_eq!(o, before);
}

// ---- properties ----

mod properties {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Pay(u32),
        PayRest,
        Refund(u32, u32, u32),
        Dispatch,
        Fulfil(u32, u32, u8),
        Deliver(usize),
        Void(usize),
        Move(usize, u8),
        Return(u32, u32),
        Cancel(bool),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u32..6000).prop_map(Op::Pay),
            Just(Op::PayRest),
            (0u32..3, 0u32..2, 0u32..800).prop_map(|(a, b, c)| Op::Refund(a, b, c)),
            Just(Op::Dispatch),
            (0u32..3, 0u32..2, 0u8..3).prop_map(|(a, b, p)| Op::Fulfil(a, b, p)),
            (0usize..4).prop_map(Op::Deliver),
            (0usize..4).prop_map(Op::Void),
            (0usize..4, 0u8..7).prop_map(|(i, s)| Op::Move(i, s)),
            (0u32..3, 0u32..2).prop_map(|(a, b)| Op::Return(a, b)),
            any::<bool>().prop_map(Op::Cancel),
        ]
    }

    fn cents(c: u32) -> Decimal {
        Decimal::new(i64::from(c), 2)
    }

    fn command(o: &Order, op: &Op) -> Option<Command> {
        let sid = |i: usize| o.shipments.get(i).map(|s| s.id);
        Some(match op {
            Op::Pay(c) => pay(Some(&cents(*c).to_string())),
            Op::PayRest => pay(None),
            Op::Refund(t, m, c) => refund(
                vec![iq(TEE, *t), iq(MUG, *m)],
                "0",
                &cents(*c).to_string(),
                "0",
            ),
            Op::Dispatch => Command::Dispatch,
            Op::Fulfil(t, m, p) => fulfil(
                vec![iq(TEE, *t), iq(MUG, *m)],
                ShippingPoint::ALL[*p as usize],
            ),
            Op::Deliver(i) => Command::DeliverShipment {
                shipment_id: sid(*i)?,
            },
            Op::Void(i) => Command::VoidShipment {
                shipment_id: sid(*i)?,
            },
            Op::Move(i, s) => Command::EditShipment {
                shipment_id: sid(*i)?,
                edit: edit(Some(ShipmentStatus::ALL[*s as usize])),
            },
            Op::Return(t, m) => Command::Return {
                items: vec![iq(TEE, *t), iq(MUG, *m)],
                reason: None,
            },
            Op::Cancel(r) => Command::Cancel {
                reason: "test".into(),
                refund: *r,
            },
        })
    }

    fn check_invariants(o: &Order) {
        let paid = o.paid();
        let refunded = o.refunded();
        assert!(refunded <= paid, "refunded {refunded} > paid {paid}");
        assert!(paid <= o.total, "paid {paid} > total {}", o.total);
        assert!(refunded >= Decimal::ZERO && paid >= Decimal::ZERO);
        for item in &o.items {
            assert!(o.shipped_of(item.id) <= item.quantity);
            // A unit is shipped, refunded before shipping, or still to fulfil: never two of these.
            assert!(
                o.shipped_of(item.id) + o.refunded_unshipped_of(item.id) <= item.quantity,
                "shipped {} + refunded unshipped {} > ordered {}",
                o.shipped_of(item.id),
                o.refunded_unshipped_of(item.id),
                item.quantity
            );
            assert!(o.delivered_of(item.id) <= o.shipped_of(item.id));
            assert!(o.returned_of(item.id) <= o.delivered_of(item.id));
            assert!(o.refunded_of(item.id) <= item.quantity);
        }
        assert!(o.refunded_shipping() <= o.shipping.price);
        if o.is_canceled() {
            assert_eq!(o.fulfillment_status(), FulfillmentStatus::Canceled);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn random_action_sequences_keep_money_and_quantity_invariants(ops in prop::collection::vec(op(), 1..40)) {
            let mut o = order();
            let mut version = o.version;
            for (i, op) in ops.iter().enumerate() {
                let Some(cmd) = command(&o, op) else { continue };
                let before = o.clone();
                match execute(&o, &cmd, &ctx(i as u128)) {
                    Ok((next, _)) => {
                        prop_assert!(next.version > version);
                        prop_assert!(next.timeline.len() > before.timeline.len());
                        version = next.version;
                        o = next;
                    }
                    Err(_) => prop_assert_eq!(&o, &before),
                }
                check_invariants(&o);
                // Statuses are a pure function of the facts: a round trip through storage
                // (serialize, deserialize) derives the same statuses.
                let json = serde_json::to_string(&o).unwrap();
                let back: Order = serde_json::from_str(&json).unwrap();
                prop_assert_eq!(back.payment_status(), o.payment_status());
                prop_assert_eq!(back.fulfillment_status(), o.fulfillment_status());
            }
        }
    }
}
