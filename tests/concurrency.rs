//! Many clients acting on one order at once: nothing lost, no rule broken.

mod common;

use common::*;
use serde_json::{json, Value};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_payments_refunds_and_fulfilments_lose_nothing_and_break_no_rule() {
    let app = Arc::new(spawn_app());
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

    // 50 refunds and 50 fulfilments of one unit each, interleaved: 30 of each may succeed.
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
        if s == 200 {
            if kind == 0 {
                refunds_ok += 1;
            } else {
                fulfils_ok += 1;
            }
        }
    }
    assert_eq!(refunds_ok, 30);
    assert_eq!(fulfils_ok, 30);
    let (_, o): (u16, Value) = app.get("/orders/1001").await;
    assert_eq!(o["refunds"].as_array().unwrap().len(), refunds_ok);
    assert_eq!(o["shipments"].as_array().unwrap().len(), fulfils_ok);
    assert_eq!(o["totals"]["refunded"], "30.00");
    assert_eq!(o["payment_status"], "refunded");
    assert_eq!(o["fulfillment_status"], "fulfilled");
    // 1 placed + 30 payments + 30 refunds + 30 shipments.
    assert_eq!(o["timeline"].as_array().unwrap().len(), 91);
}
