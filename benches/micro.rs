//! Micro-benchmarks of the hot paths under every request: status derivation, one notification
//! render, one rate-script call, index key and search term encoding, and a record's codec.
//! Run with `cargo bench` (not part of the test command).

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion};
use orderdeck::domain::intake::NewOrderIds;
use orderdeck::domain::workflow::ManualFulfillInput;
use orderdeck::domain::{execute, Actor, Command, Ctx, CustomerId, ItemQty, Order, ShippingPoint};
use orderdeck::scripting::{RateRequest, Recipient, ScriptHost, StoreInfo};
use orderdeck::service::messages::template_context;
use orderdeck::store::keys::{index_keys, order_terms, IndexFields};
use std::hint::black_box;
use uuid::Uuid;

/// A paid order with three lines, one of them shipped: the statuses have real work to do.
fn order() -> Order {
    let mut draft = orderdeck::domain::sample::sample_order(false);
    while draft.items.len() < 3 {
        let mut more = orderdeck::domain::sample::sample_order(false);
        draft.items.append(&mut more.items);
    }
    let valid = draft.validate().expect("sample orders are valid");
    let ids = NewOrderIds {
        order_id: Uuid::now_v7(),
        number: 100_001,
        customer_id: CustomerId(Uuid::now_v7()),
        item_ids: (0..valid.items.len()).map(|_| Uuid::now_v7()).collect(),
        payment_id: Uuid::now_v7(),
    };
    let now = Utc::now();
    let mut o = valid.build(&ids, "USD", now, &Actor::Token("bench".into()));
    let ctx = || {
        Ctx::new(
            now,
            Actor::Member("Bench".into()),
            [Uuid::now_v7(), Uuid::now_v7()],
        )
    };
    let pay = Command::RecordPayment {
        amount: None,
        reference: None,
    };
    // Some sample checkouts arrive paid already.
    if let Ok((paid, _)) = execute(&o, &pay, &ctx()) {
        o = paid;
    }
    let ship = Command::ManualFulfill(ManualFulfillInput {
        items: vec![ItemQty {
            item_id: o.items[0].id,
            quantity: 1,
        }],
        shipping_point: ShippingPoint::Local,
        carrier: Some("UPS".into()),
        tracking_number: Some("1Z999AA10123456784".into()),
    });
    execute(&o, &ship, &ctx()).expect("fulfil").0
}

fn store_info() -> StoreInfo {
    StoreInfo {
        name: "Bench Shop".into(),
        email: "shop@example.com".into(),
        currency: "USD".into(),
        address: "1 Main Street\nPortland OR 97205".into(),
        dashboard_url: Some("http://127.0.0.1:8080".into()),
    }
}

fn rate_request() -> RateRequest {
    serde_json::from_value(serde_json::json!({
        "items": [{"sku": "MUG", "name": "Mug", "quantity": 2, "weight_grams": 300, "unit_price": "16.50"}],
        "package": {"length_cm": 20, "width_cm": 15, "height_cm": 10, "weight_grams": 800},
        "recipient": {"name": "Olivia", "city": "Portland", "postal_code": "97209", "country": "US"},
        "shipper": {"name": "Shop", "city": "Portland", "postal_code": "97205", "country": "US"},
        "drop_off_date": "2026-03-06",
        "currency": "USD"
    }))
    .expect("a valid rate request")
}

fn statuses(c: &mut Criterion) {
    let o = order();
    c.bench_function("status derivation (payment + fulfilment)", |b| {
        b.iter(|| {
            let o = black_box(&o);
            (o.payment_status(), o.fulfillment_status())
        })
    });
}

fn notifications(c: &mut Criterion) {
    let host = ScriptHost::load(None).expect("default scripts load");
    let o = order();
    let info = store_info();
    let placed = template_context("order_placed", &o, None, Recipient::Customer, &info);
    c.bench_function(
        "notification render: order_placed (subject, text, HTML, SMS)",
        |b| {
            b.iter(|| {
                host.render("order_placed", black_box(&placed))
                    .expect("renders")
            })
        },
    );
    let paid = template_context(
        "payment_status_changed",
        &o,
        None,
        Recipient::Customer,
        &info,
    );
    c.bench_function("notification render: payment_status_changed", |b| {
        b.iter(|| {
            host.render("payment_status_changed", black_box(&paid))
                .expect("renders")
        })
    });
    c.bench_function("notification context (order to script JSON)", |b| {
        b.iter(|| {
            template_context(
                "order_placed",
                black_box(&o),
                None,
                Recipient::Customer,
                &info,
            )
        })
    });
}

fn rates(c: &mut Criterion) {
    let host = ScriptHost::load(None).expect("default scripts load");
    let req = rate_request();
    c.bench_function("rate script call: national_post", |b| {
        b.iter(|| {
            host.carrier_rates("national_post", black_box(&req))
                .expect("rates")
        })
    });
    c.bench_function("rates from every carrier", |b| {
        b.iter(|| host.rates(black_box(&req)))
    });
}

fn keys(c: &mut Criterion) {
    let o = order();
    c.bench_function("index keys of an order", |b| {
        b.iter(|| index_keys(&IndexFields::of(black_box(&o))))
    });
    c.bench_function("search terms of an order", |b| {
        b.iter(|| order_terms(black_box(&o)))
    });
    c.bench_function("order record encode + decode", |b| {
        b.iter(|| {
            let bytes = orderdeck::store::codec::encode(black_box(&o)).expect("encodes");
            let back: Order = orderdeck::store::codec::decode("order", &bytes).expect("decodes");
            back
        })
    });
}

criterion_group!(benches, statuses, notifications, rates, keys);
criterion_main!(benches);
