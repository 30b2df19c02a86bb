//! Webhooks end to end (SPEC §8), against a real HTTP receiver started by each test: signed
//! deliveries, retries with the same delivery id, a receiver that hangs, a kill -9 between the
//! acknowledged change and its delivery, and endpoints that are refused.

mod common;

use common::receiver::{Receiver, Reply};
use common::{order_body, spawn_app_with_token, App};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use std::time::Duration;

/// What a receiver does: HMAC-SHA256 over "timestamp.body" with the endpoint's secret, compared
/// in constant time, and a timestamp no older than five minutes.
fn signature_holds(secret: &str, r: &common::receiver::Received) -> bool {
    let ts = r.header("X-Orderdeck-Timestamp").unwrap();
    let age = chrono::Utc::now().timestamp() - ts.parse::<i64>().unwrap();
    let sig = r.header("X-Orderdeck-Signature").unwrap();
    let given = hex::decode(sig.strip_prefix("sha256=").unwrap()).unwrap();
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(&r.body);
    mac.verify_slice(&given).is_ok() && (0..300).contains(&age)
}

async fn register(app: &App, url: &str, events: &[&str]) -> Value {
    let (s, v) = app
        .post("/webhooks", json!({"url": url, "events": events}))
        .await;
    assert_eq!(s, 201, "{v}");
    v
}

async fn deliveries(app: &App, id: &str) -> Vec<Value> {
    let (s, v) = app.get(&format!("/webhooks/{id}/deliveries")).await;
    assert_eq!(s, 200, "{v}");
    v["deliveries"].as_array().unwrap().clone()
}

/// Waits until the endpoint's newest delivery has `status`.
async fn settled(app: &App, id: &str, status: &str, secs: u64) -> Vec<Value> {
    let end = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let list = deliveries(app, id).await;
        if list.first().is_some_and(|d| d["status"] == status) || std::time::Instant::now() > end {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn deliveries_are_signed_retried_with_the_same_id_and_logged() {
    let rx = Receiver::start(&[Reply::Status(500)]).await;
    let app = spawn_app_with_token();
    let hook = register(
        &app,
        &rx.url("/hooks"),
        &["order.created", "order.payment_status_changed"],
    )
    .await;
    let id = hook["id"].as_str().unwrap();
    let secret = hook["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{hook}");
    assert_eq!(
        hook["events"],
        json!(["order.created", "order.payment_status_changed"])
    );
    // The list shows the endpoint, never its secret.
    let (_, list) = app.get("/webhooks").await;
    assert_eq!(list["webhooks"][0]["id"], id);
    assert!(list["webhooks"][0].get("secret").is_none(), "{list}");

    let order = app.place(order_body("Ann Lee", "ann@example.com")).await;
    let n = order["number"].as_u64().unwrap();
    // First attempt: 500. The retry comes after the backoff (10 s) with the same delivery id.
    let got = rx.wait_for(2, 30).await;
    assert_eq!(got.len(), 2, "{got:?}");
    let (first, second) = (&got[0], &got[1]);
    assert_eq!(first.header("X-Orderdeck-Event"), Some("order.created"));
    assert_eq!(
        first.header("X-Orderdeck-Delivery"),
        second.header("X-Orderdeck-Delivery")
    );
    assert_eq!(first.body, second.body);
    assert!(
        second.at - first.at >= Duration::from_secs(9),
        "retried too soon"
    );
    assert_eq!(first.header("Content-Type"), Some("application/json"));
    for r in [first, second] {
        assert!(
            signature_holds(secret, r),
            "signature does not verify: {r:?}"
        );
        assert!(!signature_holds("whsec_other", r));
    }
    let body = second.json();
    assert_eq!(body["id"], first.header("X-Orderdeck-Delivery").unwrap());
    assert_eq!(body["event"], "order.created");
    assert_eq!(body["order"]["number"], n);
    assert_eq!(body["order"]["totals"]["total"], order["totals"]["total"]);
    assert!(body["created_at"].is_string());

    let log = settled(&app, id, "sent", 10).await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["attempts"], 2);
    assert_eq!(log[0]["response_status"], 204);
    assert_eq!(log[0]["event"], "order.created");
    assert_eq!(log[0]["last_error"], Value::Null);

    // A payment fires order.payment_status_changed; a note (order.updated) is not subscribed.
    let (s, _) = app
        .post(&format!("/orders/{n}/notes"), json!({"body": "Gift wrap"}))
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .post(&format!("/orders/{n}/payments"), json!({"amount": 10}))
        .await;
    assert_eq!(s, 200);
    let got = rx.wait_for(3, 10).await;
    assert_eq!(got.len(), 3);
    let paid = got[2].json();
    assert_eq!(paid["event"], "order.payment_status_changed");
    assert_eq!(paid["order"]["payment_status"], "partially_paid");
    assert!(signature_holds(secret, &got[2]));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        rx.received().len(),
        3,
        "an unsubscribed event was delivered"
    );

    // Resend sends the same delivery again; the endpoint is healthy.
    let delivery = paid["id"].as_str().unwrap();
    let (s, v) = app
        .post(
            &format!("/webhooks/{id}/deliveries/{delivery}/resend"),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let got = rx.wait_for(4, 10).await;
    assert_eq!(got[3].header("X-Orderdeck-Delivery"), Some(delivery));
    let (_, list) = app.get("/webhooks").await;
    assert_eq!(list["webhooks"][0]["status"], "healthy", "{list}");

    // Removed: no more deliveries.
    let (s, _) = app
        .send("DELETE", &format!("/webhooks/{id}"), json!({}))
        .await;
    assert_eq!(s, 204);
    app.post(&format!("/orders/{n}/payments"), json!({})).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(rx.received().len(), 4);
    let (_, list) = app.get("/webhooks").await;
    assert_eq!(list["webhooks"], json!([]));
}

#[tokio::test]
async fn a_receiver_that_hangs_is_cut_at_ten_seconds_and_tried_again() {
    let rx = Receiver::start(&[Reply::Hang]).await;
    let app = spawn_app_with_token();
    let hook = register(&app, &rx.url("/slow"), &["order.created"]).await;
    let id = hook["id"].as_str().unwrap();
    app.place(order_body("Ann Lee", "ann@example.com")).await;
    let got = rx.wait_for(1, 10).await;
    assert_eq!(got.len(), 1);
    // Cut after 10 s: the log says so, and the endpoint shows as failing.
    let log = settled(&app, id, "pending", 5).await;
    let end = std::time::Instant::now() + Duration::from_secs(15);
    let mut failed = log;
    while failed[0]["attempts"] != 1 && std::time::Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(250)).await;
        failed = deliveries(&app, id).await;
    }
    let cut_after = got[0].at.elapsed();
    assert_eq!(failed[0]["attempts"], 1, "{failed:?}");
    assert!(
        failed[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("No answer within 10 s"),
        "{failed:?}"
    );
    assert!(
        cut_after >= Duration::from_secs(9),
        "cut too early: {cut_after:?}"
    );
    assert_eq!(failed[0]["response_status"], Value::Null);
    let (_, list) = app.get("/webhooks").await;
    assert_eq!(list["webhooks"][0]["status"], "failing", "{list}");
    assert!(list["webhooks"][0]["last_error"].is_string());
    // The retry, 10 s later, is answered.
    let got = rx.wait_for(2, 25).await;
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].header("X-Orderdeck-Delivery"),
        got[1].header("X-Orderdeck-Delivery")
    );
    let log = settled(&app, id, "sent", 10).await;
    assert_eq!(log[0]["attempts"], 2);
}

#[tokio::test]
async fn a_change_acknowledged_before_a_kill_is_delivered_after_the_restart() {
    // The receiver is not listening yet: the first attempt cannot connect.
    let port = common::free_port();
    let mut app = spawn_app_with_token();
    let hook = register(
        &app,
        &format!("http://127.0.0.1:{port}/hooks"),
        &["order.created"],
    )
    .await;
    let id = hook["id"].as_str().unwrap().to_string();
    let secret = hook["secret"].as_str().unwrap().to_string();
    let order = app.place(order_body("Ann Lee", "ann@example.com")).await;
    app.kill();
    app.restart();
    let rx = Receiver::start_on(port, &[]).await;
    // A delivery the killed server had claimed is taken up again once its claim lapses: at
    // once on the embedded store, after the 60 s lease on PostgreSQL (a slow host may be
    // killed mid-attempt), then its retry's backoff.
    let got = rx.wait_for(1, 90).await;
    assert_eq!(got.len(), 1, "the acknowledged order's webhook never came");
    assert_eq!(got[0].json()["order"]["number"], order["number"]);
    assert!(signature_holds(&secret, &got[0]));
    let log = settled(&app, &id, "sent", 10).await;
    assert_eq!(log.len(), 1);
}

#[tokio::test]
async fn endpoints_that_cannot_work_are_refused_with_the_reason() {
    let app = spawn_app_with_token();
    for (body, field) in [
        (
            json!({"url": "ftp://shop.example/x", "events": ["order.created"]}),
            "url",
        ),
        (
            json!({"url": "javascript:alert(1)", "events": ["order.created"]}),
            "url",
        ),
        (json!({"url": "", "events": ["order.created"]}), "url"),
        (
            json!({"url": "https://shop.example/x", "events": ["order.paid"]}),
            "events",
        ),
        (
            json!({"url": "https://shop.example/x", "events": []}),
            "events",
        ),
        (json!({"url": "https://shop.example/x"}), "events"),
    ] {
        let (s, v) = app.post("/webhooks", body.clone()).await;
        assert_eq!(s, 422, "{body}: {v}");
        assert_eq!(v["error"]["field"], field, "{body}: {v}");
    }
    let (s, v) = app
        .post(
            "/webhooks",
            json!({"url": "https://shop.example/x", "events": ["order.paid"]}),
        )
        .await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("order.paid"),
        "{s} {v}"
    );
    let (s, _) = app
        .post(
            "/webhooks",
            json!({"url": "https://x.example", "events": ["order.created"], "x": 1}),
        )
        .await;
    assert_eq!(s, 400);
    let (_, list) = app.get("/webhooks").await;
    assert_eq!(list["webhooks"], json!([]));
    assert_eq!(app.get("/webhooks/nope/deliveries").await.0, 404);
    let missing = uuid::Uuid::now_v7();
    assert_eq!(
        app.get(&format!("/webhooks/{missing}/deliveries")).await.0,
        404
    );
    assert_eq!(
        app.send("DELETE", &format!("/webhooks/{missing}"), json!({}))
            .await
            .0,
        404
    );
    // Without a token: 401.
    let r = app.client.get(app.url("/webhooks")).send().await.unwrap();
    assert_eq!(r.status(), 401);
}
