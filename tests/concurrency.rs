//! Many clients acting on one order at once: nothing lost, no rule broken.

mod common;

use common::*;
use serde_json::{json, Value};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_payments_refunds_and_fulfilments_lose_nothing_and_break_no_rule() {
    let app = Arc::new(spawn_app_with_token());
    let mut body = order_body("Ann", "ann@example.com");
    body["items"] = json!([{"sku": "PEN", "name": "Pen", "unit_price": "1.00", "quantity": 30}]);
    body["shipping"] = json!({"method": "Standard", "price": "0.00"});
    body["tax"] = json!("0.00");
    let o = app.place(body).await; // total 30.00
    let item = o["items"][0]["id"].as_str().unwrap().to_string();

    // 50 payments of 1.00 against a total of 30.00: exactly 30 may succeed.
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            app.post("/orders/1001/payments", json!({"amount": "1.00"}))
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let (s, v) = t.await.unwrap();
        match s {
            200 => ok += 1,
            422 => assert!(
                ["payment_exceeds_balance", "already_paid"]
                    .contains(&v["error"]["code"].as_str().unwrap()),
                "{v}"
            ),
            _ => panic!("unexpected {s}: {v}"),
        }
    }
    assert_eq!(ok, 30);
    let (_, o) = app.get("/orders/1001").await;
    assert_eq!(o["totals"]["paid"], "30.00");
    assert_eq!(o["payments"].as_array().unwrap().len(), 30);

    // 50 refunds and 50 fulfilments of one unit each, interleaved: 30 refunds succeed (the
    // money paid); a unit refunded before it shipped is no longer fulfillable, so the
    // fulfilments that succeed and the units refunded unshipped share the 30 units.
    let mut tasks = Vec::new();
    for i in 0..100 {
        let app = app.clone();
        let item = item.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"items": [{"item_id": item, "quantity": 1}], "type": "manual"});
            if i % 2 == 0 {
                let mut b = body.clone();
                b.as_object_mut().unwrap().remove("type");
                (0, app.post("/orders/1001/refunds", b).await)
            } else {
                (1, app.post("/orders/1001/fulfillments", body).await)
            }
        }));
    }
    let mut refunds_ok = 0;
    let mut fulfils_ok = 0;
    for t in tasks {
        let (kind, (s, v)) = t.await.unwrap();
        assert!(s == 200 || s == 422, "unexpected {s}: {v}");
        if s == 422 && kind == 1 {
            assert_eq!(v["error"]["code"], "fulfill_quantity_exceeds", "{v}");
        }
        if s == 200 {
            if kind == 0 {
                refunds_ok += 1;
            } else {
                fulfils_ok += 1;
            }
        }
    }
    assert_eq!(refunds_ok, 30);
    assert!(fulfils_ok <= 30, "{fulfils_ok} units shipped of 30");
    let (_, o): (u16, Value) = app.get("/orders/1001").await;
    assert_eq!(o["refunds"].as_array().unwrap().len(), refunds_ok);
    assert_eq!(o["shipments"].as_array().unwrap().len(), fulfils_ok);
    assert_eq!(o["totals"]["refunded"], "30.00");
    assert_eq!(o["payment_status"], "refunded");
    // Nothing is left to fulfil: every unit shipped or refunded before it shipped.
    let (s, v) = app
        .post(
            "/orders/1001/fulfillments",
            json!({"items": [{"item_id": item, "quantity": 1}], "type": "manual"}),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    // 1 placed + 30 payments + 30 refunds + one line per shipment.
    assert_eq!(o["timeline"].as_array().unwrap().len(), 61 + fulfils_ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_conflicting_actions_on_many_orders_keep_every_invariant() {
    let app = Arc::new(spawn_app_with_token());
    let mut items = Vec::new();
    for k in 0..4 {
        let mut body = order_body(&format!("Buyer {k}"), &format!("b{k}@example.com"));
        body["items"] = json!([
            {"sku": "A", "name": "Apron", "unit_price": "2.00", "quantity": 8},
            {"sku": "B", "name": "Bowl", "unit_price": "3.00", "quantity": 6}
        ]);
        body["shipping"] = json!({"method": "Standard", "price": "0.00"});
        body["tax"] = json!("0.00");
        let o = app.place(body).await; // total 34.00
        let n = o["number"].as_u64().unwrap();
        let a = o["items"][0]["id"].as_str().unwrap().to_string();
        let b = o["items"][1]["id"].as_str().unwrap().to_string();
        // Bowls: shipped and delivered, so they can be returned.
        let (_, o) = app
            .post(
                &format!("/orders/{n}/fulfillments"),
                json!({"type": "manual", "items": [{"item_id": b, "quantity": 6}]}),
            )
            .await;
        let sid = o["shipments"][0]["id"].as_str().unwrap().to_string();
        app.post(&format!("/orders/{n}/shipments/{sid}/deliver"), json!({}))
            .await;
        app.post(&format!("/orders/{n}/payments"), json!({"amount": "20.00"}))
            .await;
        items.push((n, a, b));
    }
    let mut tasks = Vec::new();
    for i in 0..64usize {
        let app = app.clone();
        let (n, a, b) = items[i % items.len()].clone();
        tasks.push(tokio::spawn(async move {
            let (kind, path, body) = match i % 5 {
                0 => (
                    "payment",
                    format!("/orders/{n}/payments"),
                    json!({"amount": "4.00"}),
                ),
                1 => (
                    "refund",
                    format!("/orders/{n}/refunds"),
                    json!({"items": [{"item_id": a, "quantity": 2}]}),
                ),
                2 => (
                    "fulfil",
                    format!("/orders/{n}/fulfillments"),
                    json!({"type": "manual", "items": [{"item_id": a, "quantity": 3}]}),
                ),
                3 => (
                    "return",
                    format!("/orders/{n}/returns"),
                    json!({"items": [{"item_id": b, "quantity": 2}]}),
                ),
                _ => (
                    "note",
                    format!("/orders/{n}/notes"),
                    json!({"body": format!("note {i}")}),
                ),
            };
            let (s, v) = app.post(&path, body).await;
            assert!(s == 200 || s == 422, "{kind}: unexpected {s}: {v}");
            (n, kind, s == 200)
        }));
    }
    let mut ok: std::collections::HashMap<(u64, &str), usize> = Default::default();
    for t in tasks {
        let (n, kind, success) = t.await.unwrap();
        if success {
            *ok.entry((n, kind)).or_default() += 1;
        }
    }
    let dec = |v: &Value| v.as_str().unwrap().parse::<f64>().unwrap();
    for (n, _, _) in &items {
        let (_, o) = app.get(&format!("/orders/{n}")).await;
        let (paid, refunded, total) = (
            dec(&o["totals"]["paid"]),
            dec(&o["totals"]["refunded"]),
            dec(&o["totals"]["total"]),
        );
        assert!(
            refunded <= paid && paid <= total,
            "order {n}: refunded {refunded} paid {paid} total {total}"
        );
        let count = |k: &str| ok.get(&(*n, k)).copied().unwrap_or(0);
        assert_eq!(
            o["payments"].as_array().unwrap().len(),
            1 + count("payment")
        );
        assert_eq!(o["refunds"].as_array().unwrap().len(), count("refund"));
        assert_eq!(
            o["shipments"].as_array().unwrap().len(),
            1 + count("fulfil")
        );
        assert_eq!(o["returns"].as_array().unwrap().len(), count("return"));
        assert_eq!(o["notes"].as_array().unwrap().len(), count("note"));
        let shipped_a: u64 = o["shipments"]
            .as_array()
            .unwrap()
            .iter()
            .skip(1)
            .map(|s| s["items"][0]["quantity"].as_u64().unwrap())
            .sum();
        assert!(shipped_a <= 8, "order {n}: shipped {shipped_a} of 8");
        let returned: u64 = o["returns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["items"][0]["quantity"].as_u64().unwrap())
            .sum();
        assert!(
            returned <= 6,
            "order {n}: returned {returned} of 6 delivered"
        );
        let refunded_a: u64 = o["refunds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["items"][0]["quantity"].as_u64().unwrap())
            .sum();
        assert!(refunded_a <= 8);
    }
}
