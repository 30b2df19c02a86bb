//! The default scripts against real orders: every notification for every event along an order's
//! life (built through the domain's own actions), carrier rates for known parcels, and labels.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use orderdeck::domain::intake::{
    AddressDraft, CustomerDraft, ItemDraft, NewOrderIds, OrderDraft, PaymentDraft, ShippingDraft,
};
use orderdeck::domain::workflow::{CarrierFulfillInput, ManualFulfillInput, RefundInput};
use orderdeck::domain::*;
use orderdeck::scripting::*;
use orderdeck::service::messages::template_context;
use rust_decimal::Decimal;
use serde_json::json;
use std::str::FromStr;
use uuid::Uuid;

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn store() -> StoreInfo {
    StoreInfo {
        name: "Acme & Sons <Goods>".into(),
        email: "shop@acme.example".into(),
        currency: "USD".into(),
        address: "12 Harbor Road\nPortland OR 97205\nUS".into(),
        dashboard_url: Some("https://admin.acme.example".into()),
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 6, 10, 0, 0).unwrap()
}

fn ctx_at(minutes: i64) -> Ctx {
    Ctx::new(
        now() + chrono::Duration::minutes(minutes),
        Actor::Member("Sam".into()),
        [Uuid::now_v7(), Uuid::now_v7()],
    )
}

fn build(draft: &OrderDraft, number: u64) -> Order {
    let valid = draft.validate().unwrap();
    let ids = NewOrderIds {
        order_id: Uuid::now_v7(),
        number,
        customer_id: CustomerId(Uuid::now_v7()),
        item_ids: valid.items.iter().map(|_| Uuid::now_v7()).collect(),
        payment_id: Uuid::now_v7(),
    };
    valid.build(&ids, "USD", now(), &Actor::Token("storefront".into()))
}

/// A fixed order whose texts contain HTML-special characters.
fn draft(method: &str, paid: bool) -> OrderDraft {
    OrderDraft {
        customer: CustomerDraft {
            name: "Olivia <García>".into(),
            email: "olivia@example.com".into(),
            phone: "+1 555 201 3344".into(),
        },
        shipping_address: AddressDraft {
            name: "Olivia García".into(),
            line1: "88 Oak Street".into(),
            line2: "Apt 4".into(),
            city: "Portland".into(),
            region: "OR".into(),
            postal_code: "97209".into(),
            country: "US".into(),
        },
        billing_address: None,
        items: vec![
            ItemDraft {
                sku: "MUG-ENM-CRE".into(),
                name: "Enamel Camp Mug".into(),
                variant: Some("Cream".into()),
                unit_price: "16.50".into(),
                quantity: 2,
                weight_grams: Some(290),
                image_url: None,
            },
            ItemDraft {
                sku: "BAG-CNV".into(),
                name: "Canvas Tote <Bag> & Co".into(),
                variant: None,
                unit_price: "19.00".into(),
                quantity: 1,
                weight_grams: Some(240),
                image_url: None,
            },
        ],
        shipping: ShippingDraft {
            method: "Standard shipping".into(),
            price: "5.90".into(),
        },
        tax: Some("4.20".into()),
        discount: Some("2.00".into()),
        currency: None,
        payment: PaymentDraft {
            method: method.into(),
            paid,
        },
        test: false,
    }
}

fn run(order: &Order, cmd: Command, minutes: i64) -> Order {
    execute(order, &cmd, &ctx_at(minutes)).unwrap().0
}

fn all_items(order: &Order) -> Vec<ItemQty> {
    order
        .items
        .iter()
        .map(|i| ItemQty {
            item_id: i.id,
            quantity: i.quantity,
        })
        .collect()
}

fn render(
    host: &ScriptHost,
    event: &str,
    order: &Order,
    shipment: Option<ShipmentId>,
) -> Option<Rendered> {
    let recipient = if event == "order_placed_store" {
        Recipient::Store
    } else {
        Recipient::Customer
    };
    let ctx = template_context(event, order, shipment, recipient, &store());
    host.render(event, &ctx)
        .unwrap_or_else(|e| panic!("{event}: {e}"))
}

/// Checks what every customer-facing message must have, and returns it.
fn expect_message(r: Option<Rendered>, order: &Order, subject_has: &str) -> Rendered {
    let r = r.unwrap_or_else(|| panic!("expected a message containing {subject_has:?}"));
    let email = r.email.as_ref().unwrap();
    let number = format!("#{}", order.number);
    assert!(email.subject.contains(&number), "{}", email.subject);
    assert!(
        email.subject.contains(subject_has),
        "{:?} lacks {subject_has:?}",
        email.subject
    );
    assert!(email.text.contains(&number), "{}", email.text);
    let html = email.html.as_deref().unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Data is escaped in HTML: the store's name, and never raw markup from the order.
    assert!(html.contains("Acme &amp; Sons &lt;Goods&gt;"), "{html}");
    assert!(!html.contains("<Goods>") && !html.contains("<García>") && !html.contains("<Bag>"));
    assert!(
        !email.text.contains("\\n"),
        "a literal \\n in the text: {}",
        email.text
    );
    let sms = r.sms.as_deref().unwrap();
    assert!(sms.contains(&number), "{sms}");
    assert!(
        sms.chars().count() <= 160,
        "SMS too long ({}): {sms}",
        sms.chars().count()
    );
    r
}

fn rate_request(order: &Order) -> RateRequest {
    serde_json::from_value(json!({
        "items": order.items.iter().map(|i| json!({
            "sku": i.sku, "name": i.name, "quantity": i.quantity,
            "weight_grams": i.weight_grams, "unit_price": i.unit_price.to_string(),
        })).collect::<Vec<_>>(),
        "package": {"preset": "Small box", "length_cm": "20", "width_cm": 15, "height_cm": 10, "weight_grams": 0},
        "recipient": {"name": order.shipping_address.name, "line1": order.shipping_address.line1,
                      "city": order.shipping_address.city, "postal_code": order.shipping_address.postal_code,
                      "country": order.shipping_address.country},
        "shipper": {"name": "Acme", "line1": "12 Harbor Road", "city": "Portland", "postal_code": "97205", "country": "US"},
        "drop_off_date": "2025-03-06",
        "currency": "USD"
    }))
    .unwrap()
}

#[test]
fn every_notification_renders_along_an_orders_life() {
    let host = ScriptHost::load(None).unwrap();

    // Placed, paying by money transfer (nothing paid yet).
    let order = build(&draft("money_transfer", false), 1001);
    let r = expect_message(
        render(&host, "order_placed", &order, None),
        &order,
        "confirmed",
    );
    let email = r.email.unwrap();
    assert!(email.text.contains("Hi Olivia,"), "{}", email.text);
    assert!(
        email.text.contains("2 × Enamel Camp Mug (Cream) — $33.00"),
        "{}",
        email.text
    );
    assert!(email.text.contains("Discount: -$2.00"), "{}", email.text);
    assert!(email.text.contains("Total: $60.10"), "{}", email.text);
    assert!(
        email.text.contains("Please transfer $60.10"),
        "{}",
        email.text
    );
    assert!(
        email
            .text
            .contains("88 Oak Street\nApt 4\nPortland OR 97209\nUS"),
        "{}",
        email.text
    );
    assert!(email.text.contains("What happens next"));
    assert!(email
        .html
        .unwrap()
        .contains("Canvas Tote &lt;Bag&gt; &amp; Co"));

    let r = render(&host, "order_placed_store", &order, None).unwrap();
    let email = r.email.unwrap();
    assert_eq!(
        email.subject,
        "New order #1001 — $60.10 from Olivia <García>"
    );
    assert!(email.text.contains("[MUG-ENM-CRE]"), "{}", email.text);
    assert!(email
        .text
        .contains("https://admin.acme.example/orders/1001"));
    assert!(email.html.unwrap().contains("Olivia &lt;García&gt;"));
    assert_eq!(
        r.sms.as_deref(),
        Some("New order #1001: $60.10, 3 items, from Olivia <García>.")
    );

    // No payment change worth a message while unpaid.
    assert_eq!(render(&host, "payment_status_changed", &order, None), None);
    assert_eq!(
        render(&host, "fulfillment_status_changed", &order, None),
        None
    );
    assert_eq!(render(&host, "shipment_updated", &order, None), None);

    // Paid in part, then in full.
    let order = run(
        &order,
        Command::RecordPayment {
            amount: Some(dec("20.00")),
            reference: None,
        },
        1,
    );
    let r = expect_message(
        render(&host, "payment_status_changed", &order, None),
        &order,
        "part of your payment",
    );
    assert!(r.email.unwrap().text.contains("$40.10 is still to pay"));
    let order = run(
        &order,
        Command::RecordPayment {
            amount: None,
            reference: None,
        },
        2,
    );
    let r = expect_message(
        render(&host, "payment_status_changed", &order, None),
        &order,
        "Payment received",
    );
    assert!(r.email.unwrap().text.contains("payment of $40.10"));

    // Packed.
    let order = run(&order, Command::Dispatch, 3);
    expect_message(
        render(&host, "fulfillment_status_changed", &order, None),
        &order,
        "packed",
    );

    // Shipped with a carrier label bought through the national post script.
    let request = rate_request(&order);
    let label = host
        .buy_label_with_seed(
            "national_post",
            "standard",
            &request,
            "1234567890123456789012345678901234567890",
        )
        .unwrap();
    assert_eq!(label.tracking_number, "CP123456785US");
    let order = run(
        &order,
        Command::CarrierFulfill(CarrierFulfillInput {
            items: all_items(&order),
            shipping_point: ShippingPoint::Local,
            carrier: "National Post".into(),
            service: "standard".into(),
            tracking_number: label.tracking_number.clone(),
            tracking_url: Some(label.tracking_url.clone()),
            expected_delivery: Some(label.estimated_delivery),
            price: label.price,
            label: label.fields.clone(),
        }),
        4,
    );
    let shipment = order.shipments[0].id;
    let r = expect_message(
        render(&host, "fulfillment_status_changed", &order, Some(shipment)),
        &order,
        "on its way",
    );
    let email = r.email.unwrap();
    assert!(
        email.text.contains("tracking number CP123456785US"),
        "{}",
        email.text
    );
    assert!(email
        .text
        .contains("https://www.nationalpost.example/track?number=CP123456785US"));
    assert!(
        email.text.contains("Expected delivery: March 11, 2025"),
        "{}",
        email.text
    );
    assert!(
        email.text.contains("1 × Canvas Tote <Bag> & Co"),
        "{}",
        email.text
    );
    assert!(email
        .html
        .unwrap()
        .contains(r#"href="https://www.nationalpost.example/track?number=CP123456785US""#));
    assert!(r
        .sms
        .unwrap()
        .contains("Track it: https://www.nationalpost.example/"));

    // Carrier tracking events.
    let mut order = order;
    for (i, (status, subject)) in [
        (ShipmentStatus::InTransit, "in transit"),
        (ShipmentStatus::OutForDelivery, "out for delivery"),
        (ShipmentStatus::DeliveryFailed, "Delivery attempt failed"),
        (ShipmentStatus::Delivered, "has been delivered"),
    ]
    .into_iter()
    .enumerate()
    {
        order = run(
            &order,
            Command::CarrierEvent {
                shipment_id: shipment,
                status,
                at: None,
            },
            10 + i as i64,
        );
        let r = expect_message(
            render(&host, "shipment_updated", &order, Some(shipment)),
            &order,
            subject,
        );
        assert!(r.email.unwrap().text.contains("CP123456785US"));
    }
    assert_eq!(order.fulfillment_status(), FulfillmentStatus::Delivered);
    expect_message(
        render(&host, "fulfillment_status_changed", &order, Some(shipment)),
        &order,
        "delivered",
    );

    // A partial refund of one mug, then the return of that mug.
    let mug = order.items[0].id;
    let order = run(
        &order,
        Command::Refund(RefundInput {
            items: vec![ItemQty {
                item_id: mug,
                quantity: 1,
            }],
            ..RefundInput::default()
        }),
        20,
    );
    let r = expect_message(
        render(&host, "payment_status_changed", &order, None),
        &order,
        "partial refund",
    );
    let text = r.email.unwrap().text;
    assert!(text.contains("refunded $16.50"), "{text}");
    assert!(text.contains("1 × Enamel Camp Mug"), "{text}");
    let order = run(
        &order,
        Command::Return {
            items: vec![ItemQty {
                item_id: mug,
                quantity: 1,
            }],
            reason: None,
        },
        21,
    );
    expect_message(
        render(&host, "fulfillment_status_changed", &order, None),
        &order,
        "return",
    );

    // Everything refunded.
    let order = run(
        &order,
        Command::Refund(RefundInput {
            items: vec![
                ItemQty {
                    item_id: mug,
                    quantity: 1,
                },
                ItemQty {
                    item_id: order.items[1].id,
                    quantity: 1,
                },
            ],
            refund_shipping: dec("5.90"),
            adjustment_refund: dec("2.20"),
            ..RefundInput::default()
        }),
        22,
    );
    assert_eq!(order.payment_status(), PaymentStatus::Refunded);
    expect_message(
        render(&host, "payment_status_changed", &order, None),
        &order,
        "Your refund",
    );
}

#[test]
fn canceled_pickup_and_test_orders_have_their_own_messages() {
    let host = ScriptHost::load(None).unwrap();

    // Paid by card at checkout, then canceled with a refund.
    let order = build(&draft("card", true), 1002);
    let r = expect_message(
        render(&host, "order_placed", &order, None),
        &order,
        "confirmed",
    );
    assert!(r.email.unwrap().text.contains("Paid in full by Card"));
    let canceled = run(
        &order,
        Command::Cancel {
            reason: "Out of stock".into(),
            refund: true,
        },
        1,
    );
    let r = expect_message(
        render(&host, "fulfillment_status_changed", &canceled, None),
        &canceled,
        "canceled",
    );
    assert!(r.email.unwrap().text.contains("We've refunded $60.10"));

    // In-store pickup: ready, then picked up.
    let ready = run(
        &order,
        Command::ManualFulfill(ManualFulfillInput {
            items: all_items(&order),
            shipping_point: ShippingPoint::InStorePickup,
            carrier: None,
            tracking_number: None,
        }),
        2,
    );
    let sid = ready.shipments[0].id;
    let r = expect_message(
        render(&host, "fulfillment_status_changed", &ready, Some(sid)),
        &ready,
        "ready for pickup",
    );
    assert!(r
        .email
        .unwrap()
        .text
        .contains("at 12 Harbor Road, Portland OR 97205, US"));
    let picked = run(&ready, Command::DeliverShipment { shipment_id: sid }, 3);
    assert_eq!(picked.fulfillment_status(), FulfillmentStatus::PickedUp);
    expect_message(
        render(&host, "fulfillment_status_changed", &picked, Some(sid)),
        &picked,
        "picking up",
    );

    // Test orders say so.
    let mut d = draft("cash_on_delivery", false);
    d.test = true;
    let test = build(&d, 1003);
    let r = render(&host, "order_placed_store", &test, None).unwrap();
    assert!(r
        .email
        .as_ref()
        .unwrap()
        .subject
        .starts_with("[Test] New order #1003"));
    assert!(r.email.unwrap().text.contains("This is a test order"));
    let r = render(&host, "order_placed", &test, None).unwrap();
    assert!(r.email.unwrap().text.contains("have $60.10 ready in cash"));
}

#[test]
fn every_event_renders_for_random_sample_orders() {
    let host = ScriptHost::load(None).unwrap();
    for n in 0..25 {
        let order = build(
            &orderdeck::domain::sample::sample_order(n % 5 == 0),
            2000 + n,
        );
        for event in EVENTS {
            let _ = render(&host, event, &order, None);
        }
        let r = render(&host, "order_placed", &order, None).unwrap();
        assert!(r
            .email
            .unwrap()
            .subject
            .contains(&format!("#{}", order.number)));
    }
}

fn request(v: serde_json::Value) -> RateRequest {
    let mut base = json!({
        "items": [{"sku": "MUG", "name": "Mug", "quantity": 2, "weight_grams": 290, "unit_price": "16.50"}],
        "package": {"length_cm": 20, "width_cm": 15, "height_cm": 10, "weight_grams": 800},
        "recipient": {"name": "Olivia", "city": "Portland", "postal_code": "97209", "country": "US"},
        "shipper": {"name": "Acme", "city": "Portland", "postal_code": "97205", "country": "US"},
        "drop_off_date": "2025-03-06",
        "currency": "USD"
    });
    for (k, val) in v.as_object().unwrap() {
        base[k] = val.clone();
    }
    serde_json::from_value(base).unwrap()
}

fn price(result: &RatesResult, carrier: &str, service: &str) -> Option<(String, u32, NaiveDate)> {
    result
        .rates
        .iter()
        .find(|r| r.carrier == carrier && r.service == service)
        .map(|r| (r.price.to_string(), r.days, r.estimated_delivery))
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn declined<'a>(result: &'a RatesResult, carrier: &str) -> Option<&'a str> {
    result
        .declined
        .iter()
        .find(|d| d.carrier == carrier)
        .map(|d| d.reason.as_str())
}

#[test]
fn a_small_domestic_parcel_gets_every_carriers_rates() {
    let host = ScriptHost::load(None).unwrap();
    let result = host.rates(&request(json!({})));
    assert!(result.declined.is_empty(), "{:?}", result.declined);
    // 2025-03-06 is a Thursday.
    assert_eq!(
        price(&result, "national_post", "standard"),
        Some(("6.20".into(), 3, date("2025-03-11")))
    );
    assert_eq!(
        price(&result, "national_post", "priority"),
        Some(("9.80".into(), 1, date("2025-03-07")))
    );
    // Express: 0.8 kg actual vs 0.6 kg dimensional → 1.0 kg (two half-kilos), +14.5 % fuel.
    assert_eq!(
        price(&result, "express", "express_saver"),
        Some(("12.14".into(), 2, date("2025-03-10")))
    );
    assert_eq!(
        price(&result, "express", "express"),
        Some(("17.63".into(), 1, date("2025-03-07")))
    );
    assert_eq!(
        price(&result, "express", "express_9am"),
        Some(("35.04".into(), 1, date("2025-03-07")))
    );
    // Same postal district: band 1.
    assert_eq!(
        price(&result, "local_courier", "same_day"),
        Some(("9.90".into(), 0, date("2025-03-06")))
    );
    assert_eq!(
        price(&result, "local_courier", "next_day"),
        Some(("6.90".into(), 1, date("2025-03-07")))
    );
    // Cheapest first, with names for the page.
    assert_eq!(result.rates[0].service, "standard");
    assert_eq!(result.rates[0].carrier_name, "National Post");
    assert_eq!(result.rates[0].service_name, "Standard Parcel");
    assert!(result.rates.windows(2).all(|w| w[0].price <= w[1].price));
}

#[test]
fn an_international_parcel_is_zoned_and_dimensional_weight_counts() {
    let host = ScriptHost::load(None).unwrap();
    let result = host.rates(&request(json!({
        "package": {"length_cm": 40, "width_cm": 30, "height_cm": 20, "weight_grams": 2500},
        "recipient": {"name": "Jonas", "city": "Berlin", "postal_code": "10115", "country": "de"},
        "signature": true,
    })));
    // Post: Europe from North America is zone 2, 2.5 kg is the ≤ 5 kg band, +4.00 signature.
    assert_eq!(
        price(&result, "national_post", "standard").unwrap().0,
        "49.00"
    );
    assert_eq!(
        price(&result, "national_post", "priority").unwrap().0,
        "72.00"
    );
    // Express: 4.8 kg dimensional beats 2.5 kg actual → 10 half-kilos; +1.50 signature on Saver.
    assert_eq!(
        price(&result, "express", "express_saver").unwrap().0,
        "88.29"
    );
    assert_eq!(price(&result, "express", "express").unwrap().0, "108.66");
    assert_eq!(price(&result, "express", "express_9am"), None);
    // The local courier refuses international parcels.
    assert!(declined(&result, "local_courier")
        .unwrap()
        .contains("only within"));
}

#[test]
fn dangerous_goods_are_refused_by_the_post_and_surcharged_by_express() {
    let host = ScriptHost::load(None).unwrap();
    let result = host.rates(&request(json!({"dangerous_goods": true})));
    assert!(declined(&result, "national_post")
        .unwrap()
        .contains("dangerous goods"));
    assert!(declined(&result, "local_courier")
        .unwrap()
        .contains("dangerous goods"));
    assert_eq!(
        price(&result, "express", "express_saver").unwrap().0,
        "57.14"
    );
    assert_eq!(price(&result, "express", "express_9am"), None);
    let err = host
        .buy_label(
            "national_post",
            "standard",
            &request(json!({"dangerous_goods": true})),
        )
        .unwrap_err();
    assert!(matches!(err, ScriptError::Declined { .. }), "{err:?}");
}

#[test]
fn insurance_is_priced_on_the_declared_value() {
    let host = ScriptHost::load(None).unwrap();
    // Small value: the 5.00 minimum premium.
    let r = host.rates(&request(
        json!({"insurance": "200", "declared_value": "150"}),
    ));
    assert_eq!(price(&r, "express", "express").unwrap().0, "22.63");
    // 1.5 % of 1,000.00 = 15.00.
    let r = host.rates(&request(
        json!({"insurance": 1000, "declared_value": "1000.00"}),
    ));
    assert_eq!(price(&r, "express", "express").unwrap().0, "32.63");
    // The post: 100.00 included, then 1.50 per started 100.00 (350 → 3 × 1.50).
    assert_eq!(price(&r, "national_post", "standard").unwrap().0, "19.70");
    let r = host.rates(&request(json!({"insurance": "350"})));
    assert_eq!(price(&r, "national_post", "standard").unwrap().0, "10.70");
    let r = host.rates(&request(json!({"insurance": "3000"})));
    assert!(declined(&r, "national_post").unwrap().contains("2,500.00"));
    assert!(declined(&r, "local_courier").unwrap().contains("500.00"));
}

#[test]
fn limits_of_size_weight_and_area_are_refusals() {
    let host = ScriptHost::load(None).unwrap();
    let heavy = host.rates(&request(json!({"package": {"length_cm": 40, "width_cm": 30, "height_cm": 30, "weight_grams": 22000}})));
    assert!(declined(&heavy, "national_post").unwrap().contains("20 kg"));
    assert!(price(&heavy, "express", "express").is_some());
    let far = host.rates(&request(
        json!({"recipient": {"city": "New York", "postal_code": "10001", "country": "US"}}),
    ));
    assert!(declined(&far, "local_courier").unwrap().contains("outside"));
    assert_eq!(price(&far, "national_post", "standard").unwrap().0, "6.20");
    let near = host.rates(&request(
        json!({"recipient": {"city": "Pendleton", "postal_code": "97801", "country": "US"}}),
    ));
    assert_eq!(
        price(&near, "local_courier", "same_day").unwrap().0,
        "22.90"
    );
    // UK-style postcodes compare prefixes.
    let uk = host.rates(&request(json!({
        "shipper": {"city": "Manchester", "postal_code": "M1 1AE", "country": "GB"},
        "recipient": {"city": "Manchester", "postal_code": "m1 4bt", "country": "GB"},
    })));
    assert_eq!(price(&uk, "local_courier", "same_day").unwrap().0, "14.90");
    // No same-day service for a Saturday drop-off; next day is Monday.
    let sat = host.rates(&request(json!({"drop_off_date": "2025-03-08"})));
    assert_eq!(price(&sat, "local_courier", "same_day"), None);
    assert_eq!(
        price(&sat, "local_courier", "next_day").unwrap().2,
        date("2025-03-10")
    );
    // An impossible package is refused by every carrier with the field named.
    let bad = host.rates(&request(
        json!({"package": {"length_cm": 0, "width_cm": 1, "height_cm": 1, "weight_grams": 10}}),
    ));
    assert!(bad.rates.is_empty());
    assert_eq!(bad.declined.len(), 3);
    assert!(bad.declined[0].reason.contains("package.length_cm"));
}

#[test]
fn labels_get_unique_tracking_numbers_and_urls() {
    let host = ScriptHost::load(None).unwrap();
    let req = request(
        json!({"recipient": {"name": "Jonas", "city": "Berlin", "postal_code": "10115", "country": "DE", "phone": "+49 30 1234"}}),
    );
    let label = host
        .buy_label_with_seed(
            "national_post",
            "priority",
            &req,
            "8765432109876543210987654321098765432109",
        )
        .unwrap();
    assert!(
        label.tracking_number.starts_with("EP87654321") && label.tracking_number.ends_with("US")
    );
    assert_eq!(label.price.to_string(), "33.00");
    assert_eq!(
        label.fields.get("routing").map(String::as_str),
        Some("DE-101")
    );
    assert!(label.fields.get("customs").unwrap().contains("$33.00"));
    assert_eq!(
        host.tracking_url("national_post", &label.tracking_number)
            .unwrap(),
        label.tracking_url
    );

    let mut seen = std::collections::HashSet::new();
    for _ in 0..50 {
        let l = host.buy_label("express", "express", &req).unwrap();
        assert!(l.tracking_number.starts_with("EX") && l.tracking_number.len() == 12);
        assert_eq!(
            l.tracking_url,
            format!(
                "https://www.expresscourier.example/tracking/{}",
                l.tracking_number
            )
        );
        assert!(seen.insert(l.tracking_number), "a tracking number repeated");
    }

    let local = host
        .buy_label_with_seed(
            "local_courier",
            "same_day",
            &request(json!({})),
            "4242420000000000000000000000000000000000",
        )
        .unwrap();
    assert_eq!(local.tracking_number, "CC250306-424242");
    assert_eq!(local.estimated_delivery, date("2025-03-06"));
    assert_eq!(local.price.to_string(), "9.90");

    assert!(matches!(
        host.buy_label("local_courier", "same_day", &req),
        Err(ScriptError::Declined { .. })
    ));
    assert!(matches!(
        host.buy_label("express", "teleport", &req),
        Err(ScriptError::NotFound { .. })
    ));
    assert!(matches!(
        host.buy_label("pigeon", "express", &req),
        Err(ScriptError::NotFound { .. })
    ));
}

#[test]
fn rate_requests_accept_the_api_shape() {
    let req: RateRequest = serde_json::from_value(json!({
        "items": [],
        "package": {"preset": "Envelope", "length_cm": "30.5", "width_cm": 22, "height_cm": 2.5, "weight_grams": 120},
        "ship_to": {"name": "A", "postal_code": "97209", "country": "US"},
        "shipper": {"country": "US", "postal_code": "97205"},
        "ship_from": {"country": "US", "postal_code": "97201"},
        "insurance": "0",
        "declared_value": null,
        "currency": "usd"
    }))
    .unwrap();
    assert_eq!(req.package.length_cm, dec("30.5"));
    assert_eq!(req.package.height_cm, dec("2.5"));
    assert_eq!(req.recipient.postal_code, "97209");
    assert_eq!(req.origin().postal_code, "97201");
    assert_eq!(req.drop_off_date, Utc::now().date_naive());
    assert!(req.validate().is_ok());
    let host = ScriptHost::load(None).unwrap();
    let r = host.rates(&req);
    assert!(r.rates.iter().all(|r| r.currency == "USD"));
    assert!(!r.rates.is_empty());
}

/// Script call overhead. Run in release:
/// `cargo test --release --test scripting script_call_overhead -- --ignored --nocapture`
#[test]
#[ignore]
fn script_call_overhead() {
    use std::time::Instant;
    let started = Instant::now();
    let host = ScriptHost::load(None).unwrap();
    println!(
        "load (compile 8 scripts, run 3 carrier()): {:?}",
        started.elapsed()
    );
    let order = build(&draft("card", true), 1001);
    let order = run(&order, Command::Dispatch, 1);
    let per = |n: u32, f: &mut dyn FnMut()| {
        for _ in 0..n / 10 {
            f();
        }
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
    };
    for event in EVENTS {
        let ctx = template_context(event, &order, None, Recipient::Customer, &store());
        let us = per(2000, &mut || {
            let _ = host.render(event, &ctx).unwrap();
        });
        println!("render {event:<28} {us:>8.1} µs");
    }
    let ctx = template_context("order_placed", &order, None, Recipient::Customer, &store());
    let us = per(2000, &mut || {
        let _ = template_context("order_placed", &order, None, Recipient::Customer, &store());
    });
    println!("notification_context (views::order JSON)  {us:>8.1} µs");
    let _ = ctx;
    let req = request(json!({}));
    let us = per(2000, &mut || {
        let r = host.rates(&req);
        assert_eq!(r.rates.len(), 7);
    });
    println!("rates (3 carriers, 7 quotes)              {us:>8.1} µs");
    let us = per(2000, &mut || {
        let _ = host.carrier_rates("national_post", &req).unwrap();
    });
    println!("carrier_rates (national_post)             {us:>8.1} µs");
    let us = per(2000, &mut || {
        let _ = host.buy_label("express", "express", &req).unwrap();
    });
    println!("buy_label (rates + label + tracking_url)  {us:>8.1} µs");
    let us = per(5000, &mut || {
        let _ = host.tracking_url("express", "EX1234567890").unwrap();
    });
    println!("tracking_url (a trivial call)             {us:>8.1} µs");
}

#[test]
fn the_largest_order_renders_with_a_fifth_of_the_operations_budget() {
    let mut d = draft("card", true);
    d.items = (0..orderdeck::domain::intake::MAX_ITEMS)
        .map(|i| ItemDraft {
            sku: format!("SKU-{i}"),
            name: format!("Product number {i} with a fairly long descriptive name"),
            variant: Some("Large / Blue".into()),
            unit_price: "12.34".into(),
            quantity: 3,
            weight_grams: Some(100),
            image_url: None,
        })
        .collect();
    let order = build(&d, 1001);
    let order = run(
        &order,
        Command::ManualFulfill(ManualFulfillInput {
            items: all_items(&order),
            shipping_point: ShippingPoint::Local,
            carrier: Some("UPS".into()),
            tracking_number: Some("1Z999AA10123456784".into()),
        }),
        1,
    );
    let order = run(
        &order,
        Command::Refund(RefundInput {
            items: all_items(&order),
            ..RefundInput::default()
        }),
        2,
    );
    let limits = Limits {
        max_operations: Limits::default().max_operations / 5,
        ..Limits::default()
    };
    let host = ScriptHost::load_with_limits(None, limits).unwrap();
    let sid = Some(order.shipments[0].id);
    for event in EVENTS {
        let ctx = template_context(event, &order, sid, Recipient::Customer, &store());
        host.render(event, &ctx)
            .unwrap_or_else(|e| panic!("{event}: {e}"));
    }
}
