//! The JSON API (docs/API.md), driven over HTTP against the real binary.

mod common;

use common::*;
use serde_json::{json, Value};

fn item_id(order: &Value, i: usize) -> String {
    order["items"][i]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_new_order_is_created_with_its_totals_and_derived_statuses() {
    let app = spawn_app_with_token();
    let o = app.place(order_body("Ann Lee", "Ann@Example.com")).await;
    assert_eq!(o["number"], 1001);
    assert_eq!(o["test"], false);
    assert_eq!(o["currency"], "USD");
    assert_eq!(o["customer"]["email"], "ann@example.com");
    assert_eq!(o["totals"]["subtotal"], "50.00");
    assert_eq!(o["totals"]["total"], "57.50");
    assert_eq!(o["totals"]["paid"], "0.00");
    assert_eq!(o["payment_status"], "in_progress");
    assert_eq!(o["fulfillment_status"], "unfulfilled");
    assert_eq!(o["billing_address"]["city"], "Portland");
    assert_eq!(o["items"][0]["unit_price"], "20.00");
    let o2 = app.place(order_body("Bo Chen", "bo@example.com")).await;
    assert_eq!(o2["number"], 1002);
    let (s, got) = app.get("/orders/1001").await;
    assert_eq!(s, 200);
    assert_eq!(got, o);
}

#[tokio::test]
async fn manual_payment_methods_start_unpaid_and_paid_true_records_the_total() {
    let app = spawn_app_with_token();
    let mut b = order_body("Ann", "ann@example.com");
    b["payment"] = json!({"method": "cash_on_delivery"});
    assert_eq!(app.place(b.clone()).await["payment_status"], "unpaid");
    b["payment"] = json!({"method": "card", "paid": true});
    let o = app.place(b).await;
    assert_eq!(o["payment_status"], "paid");
    assert_eq!(o["totals"]["paid"], "57.50");
}

#[tokio::test]
async fn idempotency_key_returns_the_same_order_and_refuses_another_body() {
    let app = spawn_app_with_token();
    let send = |body: Value| {
        app.client
            .post(app.url("/orders"))
            .bearer_auth(app.token())
            .header("Idempotency-Key", "checkout-42")
            .json(&body)
            .send()
    };
    let a = send(order_body("Ann", "ann@example.com")).await.unwrap();
    assert_eq!(a.status(), 201);
    let a: Value = a.json().await.unwrap();
    let b = send(order_body("Ann", "ann@example.com")).await.unwrap();
    assert_eq!(b.status(), 201);
    let b: Value = b.json().await.unwrap();
    assert_eq!(a["number"], b["number"]);
    assert_eq!(a["id"], b["id"]);
    let c = send(order_body("Someone Else", "else@example.com"))
        .await
        .unwrap();
    assert_eq!(c.status(), 409);
    let c: Value = c.json().await.unwrap();
    assert_eq!(c["error"]["code"], "conflict");
    let (_, list) = app.get("/orders").await;
    assert_eq!(list["orders"].as_array().unwrap().len(), 1);
    // Neither the replay nor the refused body took a number: the next order follows on.
    let d = app.place(order_body("Dee", "dee@example.com")).await;
    assert_eq!(d["number"].as_u64(), a["number"].as_u64().map(|n| n + 1));
}

#[tokio::test]
async fn requests_without_a_valid_token_are_refused() {
    let app = spawn_app_with_token();
    let r = app.client.get(app.url("/orders")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unauthorized");
    let r = app
        .client
        .get(app.url("/orders"))
        .bearer_auth("od_not-a-real-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .post(app.url("/orders"))
        .json(&order_body("A", "a@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let app = spawn_app_with_token();
    // Malformed JSON.
    let r = app
        .client
        .post(app.url("/orders"))
        .bearer_auth(app.token())
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "malformed_request");
    // Wrong types name the field path.
    let mut b = order_body("Ann", "ann@example.com");
    b["items"][0]["quantity"] = json!(-2);
    let (s, v) = app.post("/orders", b).await;
    assert_eq!(s, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("items[0].quantity"),
        "{v}"
    );
    let mut b = order_body("Ann", "ann@example.com");
    b["items"][0]["unit_price"] = json!(true);
    let (s, _) = app.post("/orders", b).await;
    assert_eq!(s, 400);
    // Values a rule refuses: 422 with the field.
    for (path, value, field) in [
        ("/items/0/quantity", json!(0), "items[0].quantity"),
        ("/items/0/unit_price", json!("-1.00"), "items[0].unit_price"),
        (
            "/items/0/unit_price",
            json!("1.0000000001"),
            "items[0].unit_price",
        ),
        (
            "/items/0/unit_price",
            json!("99999999999999999999"),
            "items[0].unit_price",
        ),
        ("/payment/method", json!("bitcoin"), "payment.method"),
        ("/customer/email", json!("nope"), "customer.email"),
        (
            "/shipping_address/country",
            json!("Narnia"),
            "shipping_address.country",
        ),
    ] {
        let mut b = order_body("Ann", "ann@example.com");
        *b.pointer_mut(path).unwrap() = value;
        let (s, v) = app.post("/orders", b).await;
        assert_eq!(s, 422, "{path}: {v}");
        assert_eq!(v["error"]["code"], "invalid_field");
        assert_eq!(v["error"]["field"], field);
    }
    // Unknown fields are refused rather than silently dropped.
    let mut b = order_body("Ann", "ann@example.com");
    b["coupon"] = json!("FREE");
    let (s, _) = app.post("/orders", b).await;
    assert_eq!(s, 400);
    // A 10 MB body.
    let big = "x".repeat(10 * 1024 * 1024);
    let r = app
        .client
        .post(app.url("/orders"))
        .bearer_auth(app.token())
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "payload_too_large");
    // Nothing was stored.
    let (_, list) = app.get("/orders").await;
    assert_eq!(list["orders"], json!([]));
    // Unknown orders.
    assert_eq!(app.get("/orders/999999").await.0, 404);
    assert_eq!(app.get("/orders/abc").await.0, 404);
    assert_eq!(app.post("/orders/5000/payments", json!({})).await.0, 404);
}

#[tokio::test]
async fn an_order_walks_through_payment_refund_split_fulfilment_delivery_and_return() {
    let app = spawn_app_with_token();
    let o = app.place(order_body("Ann Lee", "ann@example.com")).await;
    let tee = item_id(&o, 0);
    let mug = item_id(&o, 1);

    let (s, o) = app
        .post(
            "/orders/1001/payments",
            json!({"amount": "20.00", "reference": "ch_1"}),
        )
        .await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["payment_status"], "partially_paid");
    let (_, o) = app.post("/orders/1001/payments", json!({})).await;
    assert_eq!(o["payment_status"], "paid");
    assert_eq!(o["totals"]["paid"], "57.50");

    let (s, o) = app
        .post("/orders/1001/fulfillments", json!({"type": "manual", "items": [{"item_id": tee, "quantity": 1}], "shipping_point": "local"}))
        .await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["fulfillment_status"], "partially_fulfilled");
    let (_, o) = app
        .post("/orders/1001/fulfillments", json!({"type": "manual", "items": [{"item_id": tee, "quantity": 1}, {"item_id": mug, "quantity": 1}],
            "shipping_point": "international", "carrier": "DHL", "tracking_number": "JD0001"}))
        .await;
    assert_eq!(o["fulfillment_status"], "fulfilled");
    assert_eq!(o["shipments"].as_array().unwrap().len(), 2);
    assert_eq!(o["shipments"][1]["status"], "awaiting_shipment");
    assert_eq!(o["shipments"][1]["kind"], "manual");

    // A shipped item the customer keeps, refunded (items refunded before they ship are no longer
    // fulfillable: see refunded_items_can_no_longer_be_fulfilled).
    let (s, o) = app
        .post(
            "/orders/1001/refunds",
            json!({"items": [{"item_id": mug, "quantity": 1}], "reason": "Chipped"}),
        )
        .await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["payment_status"], "partially_refunded");
    assert_eq!(o["refunds"][0]["amount"], "10.00");

    let s1 = o["shipments"][0]["id"].as_str().unwrap().to_string();
    let s2 = o["shipments"][1]["id"].as_str().unwrap().to_string();
    let (s, o) = app
        .send("PATCH", &format!("/orders/1001/shipments/{s2}"), json!({"status": "in_transit", "expected_delivery": "2026-12-24", "notify_customer": true}))
        .await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["shipments"][1]["status"], "in_transit");
    assert_eq!(o["shipments"][1]["expected_delivery"], "2026-12-24");
    let (_, o) = app
        .post(&format!("/orders/1001/shipments/{s1}/deliver"), json!({}))
        .await;
    assert_eq!(o["fulfillment_status"], "fulfilled");
    let (_, o) = app
        .post(&format!("/orders/1001/shipments/{s2}/deliver"), json!({}))
        .await;
    assert_eq!(o["fulfillment_status"], "delivered");
    assert_eq!(o["shipments"][1]["history"].as_array().unwrap().len(), 3);

    let (s, o) = app
        .post(
            "/orders/1001/returns",
            json!({"items": [{"item_id": tee, "quantity": 1}], "reason": "Too small"}),
        )
        .await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["fulfillment_status"], "partially_returned");
    let (s, v) = app
        .post(
            "/orders/1001/returns",
            json!({"items": [{"item_id": tee, "quantity": 2}]}),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(v["error"]["code"], "return_quantity_exceeds");
    let (_, o) = app
        .post(
            "/orders/1001/returns",
            json!({"items": [{"item_id": tee, "quantity": 1}, {"item_id": mug, "quantity": 1}]}),
        )
        .await;
    assert_eq!(o["fulfillment_status"], "returned");
    // Every step is on the timeline with its actor.
    let timeline = o["timeline"].as_array().unwrap();
    assert!(timeline.len() >= 11, "{timeline:?}");
    assert!(timeline.iter().all(|t| t["actor"] == "storefront (API)"));
}

#[tokio::test]
async fn refused_actions_name_their_rule_and_change_nothing() {
    let app = spawn_app_with_token();
    let o = app.place(order_body("Ann", "ann@example.com")).await;
    let tee = item_id(&o, 0);
    app.post("/orders/1001/payments", json!({"amount": "25.00"}))
        .await;
    let (s, v) = app
        .post(
            "/orders/1001/refunds",
            json!({"items": [{"item_id": tee, "quantity": 1}], "adjustment_refund": "10.00"}),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(v["error"]["code"], "refund_exceeds_paid");
    assert_eq!(
        v["error"]["message"],
        "Refund of 30.00 exceeds the 25.00 paid and not yet refunded"
    );
    let (s, v) = app
        .post("/orders/1001/payments", json!({"amount": "100.00"}))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("payment_exceeds_balance"))
    );
    let (s, v) = app
        .post("/orders/1001/payments", json!({"amount": "abc"}))
        .await;
    assert_eq!((s, v["error"]["field"].as_str()), (422, Some("amount")));
    let (s, v) = app.post("/orders/1001/cancel", json!({"reason": ""})).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("reason_required"))
    );
    let (s, v) = app
        .post(
            "/orders/1001/fulfillments",
            json!({"type": "manual", "items": [{"item_id": tee, "quantity": 3}]}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("fulfill_quantity_exceeds"))
    );
    let (s, v) = app
        .post(
            "/orders/1001/fulfillments",
            json!({"type": "manual", "items": [{"item_id": tee, "quantity": 0}]}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (422, Some("items[0].quantity"))
    );
    let (s, v) = app
        .post(
            "/orders/1001/fulfillments",
            json!({"type": "manual", "items": [{"item_id": "nope", "quantity": 1}]}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("unknown_item"))
    );
    let (s, v) = app
        .post("/orders/1001/fulfillments", json!({"type": "manual", "shipping_point": "international", "items": [{"item_id": tee, "quantity": 1}]}))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("tracking_required"))
    );
    let (_, after) = app.get("/orders/1001").await;
    assert_eq!(after["totals"]["paid"], "25.00");
    assert_eq!(after["refunds"], json!([]));
    assert_eq!(after["shipments"], json!([]));
    assert_eq!(after["timeline"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn dispatch_void_and_cancel_follow_the_rules() {
    let app = spawn_app_with_token();
    let o = app.place(order_body("Ann", "ann@example.com")).await;
    let tee = item_id(&o, 0);
    let (s, o) = app.post("/orders/1001/dispatch", json!({})).await;
    assert_eq!(
        (s, o["fulfillment_status"].as_str()),
        (200, Some("dispatched"))
    );
    let (s, v) = app.post("/orders/1001/dispatch", json!({})).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("dispatch_not_allowed"))
    );
    let (_, o) = app
        .post(
            "/orders/1001/fulfillments",
            json!({"type": "manual", "items": [{"item_id": tee, "quantity": 2}]}),
        )
        .await;
    let sid = o["shipments"][0]["id"].as_str().unwrap().to_string();
    let (s, v) = app
        .post("/orders/1001/cancel", json!({"reason": "Customer asked"}))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("cancel_after_shipment"))
    );
    let (s, o) = app
        .post(&format!("/orders/1001/shipments/{sid}/void"), json!({}))
        .await;
    assert_eq!(
        (s, o["shipments"][0]["status"].as_str()),
        (200, Some("canceled"))
    );
    assert_eq!(o["fulfillment_status"], "dispatched");
    let (s, v) = app
        .post(&format!("/orders/1001/shipments/{sid}/void"), json!({}))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("shipment_final"))
    );
    let (s, _) = app
        .post("/orders/1001/shipments/not-a-shipment/void", json!({}))
        .await;
    assert_eq!(s, 404);
    app.post("/orders/1001/payments", json!({"amount": "30.00"}))
        .await;
    let (s, o) = app
        .post(
            "/orders/1001/cancel",
            json!({"reason": "Customer asked", "refund": true}),
        )
        .await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["fulfillment_status"], "canceled");
    assert_eq!(o["payment_status"], "refunded");
    assert_eq!(o["totals"]["refunded"], "30.00");
    assert_eq!(o["cancellation"]["reason"], "Customer asked");
}

#[tokio::test]
async fn notes_are_added_edited_and_deleted() {
    let app = spawn_app_with_token();
    app.place(order_body("Ann", "ann@example.com")).await;
    let (s, o) = app
        .post(
            "/orders/1001/notes",
            json!({"body": "Gift wrap <b>please</b>"}),
        )
        .await;
    assert_eq!(s, 200);
    let id = o["notes"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(o["notes"][0]["author"], "storefront (API)");
    assert_eq!(o["notes"][0]["body"], "Gift wrap <b>please</b>");
    let (s, o) = app
        .send(
            "PATCH",
            &format!("/orders/1001/notes/{id}"),
            json!({"body": "Blue paper"}),
        )
        .await;
    assert_eq!(
        (s, o["notes"][0]["body"].as_str()),
        (200, Some("Blue paper"))
    );
    let (s, o) = app
        .send("DELETE", &format!("/orders/1001/notes/{id}"), json!(null))
        .await;
    assert_eq!((s, o["notes"].as_array().map(Vec::len)), (200, Some(0)));
    let (s, v) = app
        .send("DELETE", &format!("/orders/1001/notes/{id}"), json!(null))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("note_not_found"))
    );
    let (s, _) = app.post("/orders/1001/notes", json!({"body": "   "})).await;
    assert_eq!(s, 422);
}

#[tokio::test]
async fn customers_are_searchable_and_an_order_can_change_customer() {
    let app = spawn_app_with_token();
    app.place(order_body("Ann Lee", "ann@example.com")).await;
    app.place(order_body("Ann Lee", "ann@example.com")).await;
    app.place(order_body("Bo Chen", "bo@example.com")).await;
    let (s, v) = app.get("/customers?q=ann").await;
    assert_eq!(s, 200);
    let list = v["customers"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["orders_count"], 2);
    let (_, v) = app.get("/customers?q=bo").await;
    let bo = v["customers"][0]["id"].as_str().unwrap().to_string();
    let (s, o) = app
        .send("PUT", "/orders/1001/customer", json!({"customer_id": bo}))
        .await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["customer"]["name"], "Bo Chen");
    assert!(o["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["kind"] == "customer"));
    let (_, v) = app.get("/customers?q=bo").await;
    assert_eq!(v["customers"][0]["orders_count"], 2);
    let (s, v) = app
        .send("PUT", "/orders/1001/customer", json!({"customer_id": bo}))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("customer_unchanged"))
    );
    let (s, _) = app
        .send(
            "PUT",
            "/orders/1001/customer",
            json!({"customer_id": "00000000-0000-0000-0000-000000000000"}),
        )
        .await;
    assert_eq!(s, 404);
    // The search index follows the change.
    let (_, v) = app.get("/orders?q=chen").await;
    assert_eq!(v["orders"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn lists_filter_sort_search_and_page_with_a_cursor() {
    let app = spawn_app_with_token();
    let names = [
        "Zoe Adams",
        "Yann Brook",
        "Xia Chen",
        "Will Dunn",
        "Vera Eld",
    ];
    for (i, n) in names.iter().enumerate() {
        let mut b = order_body(n, &format!("c{i}@example.com"));
        b["items"][1]["quantity"] = json!(i + 1);
        if i % 2 == 0 {
            b["payment"] = json!({"method": "card", "paid": true});
        }
        if i == 4 {
            b["test"] = json!(true);
            b["items"][0]["sku"] = json!("SPECIAL-SKU");
        }
        app.place(b).await;
    }
    let numbers = |v: &Value| -> Vec<u64> {
        v["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["number"].as_u64().unwrap())
            .collect()
    };
    let (_, v) = app.get("/orders").await;
    assert_eq!(numbers(&v), vec![1005, 1004, 1003, 1002, 1001]);
    assert_eq!(v["next_cursor"], Value::Null);
    let row = &v["orders"][4];
    assert_eq!(row["customer_name"], "Zoe Adams");
    assert_eq!(row["items_count"], 3);
    assert_eq!(row["total"], "57.50");
    let (_, v) = app.get("/orders?sort=total").await;
    assert_eq!(numbers(&v), vec![1001, 1002, 1003, 1004, 1005]);
    let (_, v) = app.get("/orders?sort=customer").await;
    assert_eq!(numbers(&v), vec![1005, 1004, 1003, 1002, 1001]);
    let (_, v) = app.get("/orders?sort=-customer").await;
    assert_eq!(numbers(&v), vec![1001, 1002, 1003, 1004, 1005]);
    let (_, v) = app.get("/orders?payment_status=paid").await;
    assert_eq!(numbers(&v), vec![1005, 1003, 1001]);
    let (_, v) = app.get("/orders?payment_status=paid&sort=number").await;
    assert_eq!(numbers(&v), vec![1001, 1003, 1005]);
    let (_, v) = app.get("/orders?payment_status=paid&test=false").await;
    assert_eq!(numbers(&v), vec![1003, 1001]);
    let (_, v) = app.get("/orders?test=true").await;
    assert_eq!(numbers(&v), vec![1005]);
    let (_, v) = app
        .get("/orders?fulfillment_status=unfulfilled&sort=-total&limit=2")
        .await;
    assert_eq!(numbers(&v), vec![1005, 1004]);
    let cursor = v["next_cursor"].as_str().unwrap().to_string();
    let (_, v) = app
        .get(&format!(
            "/orders?fulfillment_status=unfulfilled&sort=-total&limit=2&cursor={cursor}"
        ))
        .await;
    assert_eq!(numbers(&v), vec![1003, 1002]);
    let cursor = v["next_cursor"].as_str().unwrap().to_string();
    let (_, v) = app
        .get(&format!(
            "/orders?fulfillment_status=unfulfilled&sort=-total&limit=2&cursor={cursor}"
        ))
        .await;
    assert_eq!(numbers(&v), vec![1001]);
    assert_eq!(v["next_cursor"], Value::Null);
    // Search: name, email, phone digits, SKU, number, prefix and case-insensitive.
    for (q, want) in [
        ("xia", vec![1003]),
        ("XIA CHEN", vec![1003]),
        ("c3@example.com", vec![1004]),
        ("special", vec![1005]),
        ("1002", vec![1002]),
        ("#1002", vec![1002]),
        ("mug", vec![1005, 1004, 1003, 1002, 1001]),
        ("nobody", vec![]),
    ] {
        let (s, v) = app.get(&format!("/orders?q={}", urlencode(q))).await;
        assert_eq!(s, 200);
        assert_eq!(numbers(&v), want, "q={q}");
    }
    let (_, v) = app.get("/orders?q=mug&limit=2").await;
    assert_eq!(numbers(&v), vec![1005, 1004]);
    let c = v["next_cursor"].as_str().unwrap().to_string();
    let (_, v) = app.get(&format!("/orders?q=mug&limit=2&cursor={c}")).await;
    assert_eq!(numbers(&v), vec![1003, 1002]);
    let (_, v) = app.get("/orders?q=mug&sort=-total&limit=2").await;
    assert_eq!(numbers(&v), vec![1005, 1004]);
    let (_, v) = app.get("/orders?q=mug&payment_status=paid").await;
    assert_eq!(numbers(&v), vec![1005, 1003, 1001]);
    // A tracking number is searchable once a shipment has it.
    let (_, o) = app.get("/orders/1002").await;
    let tee = o["items"][0]["id"].as_str().unwrap();
    app.post(
        "/orders/1002/fulfillments",
        json!({"type": "manual", "items": [{"item_id": tee, "quantity": 1}],
        "carrier": "UPS", "tracking_number": "1Z999AA10123456784"}),
    )
    .await;
    let (_, v) = app.get("/orders?q=1z999aa").await;
    assert_eq!(numbers(&v), vec![1002]);
    let (_, v) = app
        .get("/orders?fulfillment_status=partially_fulfilled")
        .await;
    assert_eq!(numbers(&v), vec![1002]);
    // Date range.
    let today = chrono::Utc::now().date_naive();
    let (_, v) = app
        .get(&format!("/orders?created_from={today}&created_to={today}"))
        .await;
    assert_eq!(v["orders"].as_array().unwrap().len(), 5);
    let (_, v) = app
        .get(&format!("/orders?created_to={}", today.pred_opt().unwrap()))
        .await;
    assert_eq!(v["orders"].as_array().unwrap().len(), 0);
    // Bad parameters.
    for q in [
        "sort=price",
        "payment_status=free",
        "limit=500",
        "limit=0",
        "test=maybe",
        "created_from=yesterday",
        "cursor=zzz",
    ] {
        let (s, v) = app.get(&format!("/orders?{q}")).await;
        assert_eq!(s, 400, "{q}: {v}");
    }
    // A cursor from one list does not work on another.
    let (_, v) = app.get("/orders?limit=1").await;
    let c = v["next_cursor"].as_str().unwrap().to_string();
    let (s, _) = app.get(&format!("/orders?sort=total&cursor={c}")).await;
    assert_eq!(s, 400);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn data_survives_a_restart() {
    let mut app = spawn_app_with_token();
    app.place(order_body("Ann", "ann@example.com")).await;
    app.post("/orders/1001/payments", json!({"amount": "10.00"}))
        .await;
    app.kill();
    app.restart();
    let (s, o) = app.get("/orders/1001").await;
    assert_eq!(s, 200);
    assert_eq!(o["totals"]["paid"], "10.00");
    let o2 = app.place(order_body("Bo", "bo@example.com")).await;
    assert_eq!(o2["number"], 1002);
}

#[tokio::test]
async fn a_second_server_on_the_same_data_dir_is_refused() {
    let app = App::builder().embedded().token("storefront").spawn();
    let out = std::process::Command::new(bin())
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(&app.data_dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another orderdeck process"), "{err}");
}

#[tokio::test]
async fn sigterm_stops_the_server_gracefully_with_everything_saved() {
    let mut app = spawn_app_with_token();
    app.place(order_body("Ann", "ann@example.com")).await;
    let pid = app.child.id().to_string();
    let st = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(st.success());
    let exit = app.child.wait().unwrap();
    assert!(exit.success(), "exit status {exit:?}");
    assert!(
        !app.data_dir.join("admin.sock").exists(),
        "control socket left behind"
    );
    app.restart();
    let (s, o) = app.get("/orders/1001").await;
    assert_eq!((s, o["customer"]["name"].as_str()), (200, Some("Ann")));
}

#[tokio::test]
async fn a_test_orders_mail_to_the_customer_is_marked_test_once() {
    let app = spawn_app_with_token();
    app.set_setting("store.email", "owner@acme.example");
    let mut b = order_body("Tess Test", "tess@example.com");
    b["test"] = json!(true);
    let o = app.place(b).await;
    let (s, v) = app.get(&format!("/outbox?order={}", o["number"])).await;
    assert_eq!(s, 200, "{v}");
    let placed: Vec<&Value> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["event"] == "order_placed" && m["channel"] == "email")
        .collect();
    assert_eq!(placed.len(), 1, "{v}");
    let subject = placed[0]["subject"].as_str().unwrap();
    assert!(subject.starts_with("[Test] "), "{subject}");
    assert!(!subject.starts_with("[Test] [Test]"), "{subject}");
    // A test order's customer mail goes to the store, not to the customer.
    assert_eq!(placed[0]["to"], "owner@acme.example");
}

#[tokio::test]
async fn refunded_items_can_no_longer_be_fulfilled() {
    let app = spawn_app_with_token();
    let o = app.place(order_body("Rae", "rae@example.com")).await;
    let tee = item_id(&o, 0);
    let (s, _) = app.post("/orders/1001/payments", json!({})).await;
    assert_eq!(s, 200);
    let (s, o) = app
        .post(
            "/orders/1001/refunds",
            json!({"items": [{"item_id": tee, "quantity": 1}], "reason": "Out of stock"}),
        )
        .await;
    assert_eq!(s, 200, "{o}");
    let (s, v) = app
        .post(
            "/orders/1001/fulfillments",
            json!({"type": "manual", "items": [{"item_id": tee, "quantity": 2}], "shipping_point": "local"}),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["code"], "fulfill_quantity_exceeds");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("only 1 left to fulfil"),
        "{v}"
    );
    let (_, o) = app.get("/orders/1001").await;
    assert!(
        o["shipments"].as_array().unwrap().is_empty(),
        "nothing changed"
    );
}

#[tokio::test]
async fn a_store_notification_with_no_store_e_mail_is_kept_as_failed_with_the_reason() {
    let app = spawn_app_with_token();
    let o = app.place(order_body("Nia", "nia@example.com")).await;
    let (_, v) = app.get(&format!("/outbox?order={}", o["number"])).await;
    let store: Vec<&Value> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["event"] == "order_placed_store")
        .collect();
    assert_eq!(store.len(), 1, "the store's message is kept: {v}");
    assert_eq!(store[0]["status"], "failed");
    assert!(
        store[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("The store has no e-mail address"),
        "{v}"
    );
    // The customer's own confirmation is unaffected.
    assert!(v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["event"] == "order_placed" && m["to"] == "nia@example.com"));
}

#[tokio::test]
async fn a_phone_number_is_found_by_any_run_of_four_or_more_of_its_digits() {
    let app = spawn_app_with_token();
    let mut b = order_body("Phoebe Phone", "phoebe@example.com");
    b["customer"]["phone"] = json!("+1 555 446 5066");
    let o = app.place(b).await;
    app.place(order_body("Other Person", "other@example.com"))
        .await;
    for q in [
        "%2B1%20555%20446%205066",
        "5554465066",
        "446%205066",
        "(555)%20446-5066",
        "4465066",
    ] {
        let (s, v) = app.get(&format!("/orders?q={q}")).await;
        assert_eq!(s, 200, "{q}: {v}");
        let found: Vec<u64> = v["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["number"].as_u64().unwrap())
            .collect();
        assert_eq!(found, vec![o["number"].as_u64().unwrap()], "{q}");
    }
    let (_, v) = app.get("/customers?q=446%205066").await;
    assert_eq!(v["customers"].as_array().unwrap().len(), 1, "{v}");
}

#[tokio::test]
async fn health_and_readiness_answer_without_a_token_and_say_nothing_else() {
    let app = spawn_app();
    let c = client_builder().build().unwrap();
    for path in ["/healthz", "/readyz"] {
        let r = c.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v, json!({"status": "ok"}), "{path}");
    }
}

/// Posts a raw JSON text (numbers serde_json's `Value` cannot hold, like `1e400`).
async fn post_raw(app: &common::App, path: &str, body: String) -> (u16, Value) {
    let r = app
        .client
        .post(app.url(path))
        .bearer_auth(app.token())
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn decimals_arrive_as_json_numbers_or_strings_read_exactly() {
    let app = spawn_app_with_token();
    // Money as JSON numbers, read from their text: 0.1 is exactly 0.10.
    let body = r#"{"customer":{"name":"Ann Lee","email":"ann@example.com"},
        "shipping_address":{"line1":"1 High St","city":"Leeds","country":"GB"},
        "items":[{"sku":"TEE","name":"Tee","unit_price":0.1,"quantity":3},
                 {"sku":"MUG","name":"Mug","unit_price":"19.99","quantity":1}],
        "shipping":{"method":"Standard","price":4.5},"tax":1,"discount":0.05,
        "payment":{"method":"card"}}"#;
    let (s, o) = post_raw(&app, "/orders", body.to_string()).await;
    assert_eq!(s, 201, "{o}");
    assert_eq!(o["items"][0]["unit_price"], "0.10");
    assert_eq!(o["shipping"]["price"], "4.50");
    assert_eq!(o["totals"]["tax"], "1.00");
    assert_eq!(o["totals"]["discount"], "0.05");
    // 3 × 0.10 + 19.99 + 4.50 + 1.00 − 0.05, exact (through f64 it would not be).
    assert_eq!(o["totals"]["total"], "25.74");
    let n = o["number"].as_u64().unwrap();

    // An action's amount as a number; more digits than a float holds are not rounded away.
    let (s, v) = post_raw(
        &app,
        &format!("/orders/{n}/payments"),
        r#"{"amount": 10.000000000000000001}"#.into(),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["field"], "amount");
    let (s, v) = post_raw(
        &app,
        &format!("/orders/{n}/payments"),
        r#"{"amount": 10.5}"#.into(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["totals"]["paid"], "10.50");

    // Out of range or not a number at all: a clear 422 on the field, nothing stored.
    for (field, value) in [
        ("items[0].unit_price", "1e400"),
        ("items[0].unit_price", "\"NaN\""),
        ("items[0].unit_price", "\"Infinity\""),
        ("items[0].unit_price", "-0.5"),
        ("tax", "1e-30"),
        ("shipping.price", "123456789012345678901234567890"),
    ] {
        let text = body
            .replace(
                r#""unit_price":0.1"#,
                &format!(
                    r#""unit_price":{}"#,
                    if field.starts_with("items") {
                        value
                    } else {
                        "0.1"
                    }
                ),
            )
            .replace(
                r#""tax":1"#,
                &format!(r#""tax":{}"#, if field == "tax" { value } else { "1" }),
            )
            .replace(
                r#""price":4.5"#,
                &format!(
                    r#""price":{}"#,
                    if field == "shipping.price" {
                        value
                    } else {
                        "4.5"
                    }
                ),
            );
        let (s, v) = post_raw(&app, "/orders", text).await;
        assert_eq!(s, 422, "{field} = {value}: {v}");
        assert_eq!(v["error"]["field"], field, "{value}: {v}");
    }
    let (_, list) = app.get("/orders").await;
    assert_eq!(list["orders"].as_array().unwrap().len(), 1);

    // Dimensions and insurance as numbers on a rate request.
    let item = o["items"][0]["id"].as_str().unwrap();
    let rates = format!(
        r#"{{"items":[{{"item_id":"{item}","quantity":1}}],
            "package":{{"length_cm":30,"width_cm":20.5,"height_cm":1e1,"weight_grams":500}},
            "insurance":0}}"#
    );
    let (s, v) = post_raw(&app, &format!("/orders/{n}/rates"), rates.clone()).await;
    assert_eq!(s, 200, "{v}");
    assert!(!v["rates"].as_array().unwrap().is_empty(), "{v}");
    let (s, v) = post_raw(
        &app,
        &format!("/orders/{n}/rates"),
        rates.replace(r#""length_cm":30"#, r#""length_cm":9e99"#),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["field"], "package.length_cm", "{v}");
}
