//! Carrier fulfilment, tracking events and notifications end to end: rates from the default
//! carrier scripts, a bought label, tracking updates, the outbox, and delivery to a real SMTP
//! server that is down at first (retried with backoff, across a restart).

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn set(dir: &Path, key: &str, value: &str) {
    set_setting(dir, key, value);
}

fn item(o: &Value, i: usize) -> String {
    o["items"][i]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn rates_label_and_tracking_events_follow_the_carrier_rules() {
    let app = spawn_app_with_token();
    let o = app.place(order_body("Ann Lee", "ann@example.com")).await;
    let tee = item(&o, 0);
    let body =
        json!({"items": [{"item_id": tee, "quantity": 2}], "package": {"preset": "Small box"}});
    let (s, r) = app.post("/orders/1001/rates", body.clone()).await;
    assert_eq!(s, 200, "{r}");
    let rates = r["rates"].as_array().unwrap();
    assert!(rates.iter().any(|x| x["carrier"] == "national_post"), "{r}");
    assert!(
        rates
            .iter()
            .all(|x| x["price"].as_str().unwrap().contains('.')
                && x["estimated_delivery"].is_string())
    );
    // The local courier only serves its own area.
    assert!(
        r["declined"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["carrier"] == "local_courier"),
        "{r}"
    );
    // The post refuses dangerous goods, with its reason.
    let mut dg = body.clone();
    dg["dangerous_goods"] = json!(true);
    let (_, r2) = app.post("/orders/1001/rates", dg).await;
    assert!(
        r2["declined"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["carrier"] == "national_post"),
        "{r2}"
    );
    // Bad package and quantities are refused before any carrier is asked.
    let (s, v) = app
        .post(
            "/orders/1001/rates",
            json!({"items": [{"item_id": tee, "quantity": 9}], "package": {"preset": "Small box"}}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("fulfill_quantity_exceeds"))
    );
    let (s, _) = app
        .post(
            "/orders/1001/rates",
            json!({"items": [{"item_id": tee, "quantity": 1}], "package": {"preset": "Shoebox"}}),
        )
        .await;
    assert_eq!(s, 422);

    // Buy a label.
    let mut buy = body.clone();
    buy["type"] = json!("carrier");
    buy["carrier"] = json!("national_post");
    buy["service"] = json!("standard");
    let (s, o) = app.post("/orders/1001/fulfillments", buy).await;
    assert_eq!(s, 200, "{o}");
    let sh = &o["shipments"][0];
    assert_eq!(sh["kind"], "carrier");
    assert_eq!(sh["carrier"], "national_post");
    assert_eq!(sh["status"], "awaiting_shipment");
    let tracking = sh["tracking_number"].as_str().unwrap().to_string();
    assert!(!tracking.is_empty());
    assert!(sh["tracking_url"].as_str().unwrap().contains(&tracking));
    assert!(sh["expected_delivery"].is_string());
    assert_eq!(o["fulfillment_status"], "partially_fulfilled");
    let sid = sh["id"].as_str().unwrap().to_string();
    // Carrier shipments are not edited by hand.
    let (s, v) = app
        .send(
            "PATCH",
            &format!("/orders/1001/shipments/{sid}"),
            json!({"status": "shipped"}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("carrier_shipment_not_editable"))
    );
    // Tracking events move it forward; then it can no longer be voided.
    let (s, o) = app
        .post(
            "/carriers/national_post/events",
            json!({"tracking_number": tracking, "status": "in_transit"}),
        )
        .await;
    assert_eq!(
        (s, o["shipments"][0]["status"].as_str()),
        (200, Some("in_transit"))
    );
    let (s, v) = app
        .post(
            "/carriers/national_post/events",
            json!({"tracking_number": tracking, "status": "shipped"}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("invalid_shipment_transition"))
    );
    let (s, v) = app
        .post(&format!("/orders/1001/shipments/{sid}/void"), json!({}))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("carrier_shipment_handled"))
    );
    let (s, _) = app
        .post(
            "/carriers/national_post/events",
            json!({"tracking_number": "NOPE123", "status": "delivered"}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = app
        .post(
            "/carriers/pigeon_post/events",
            json!({"tracking_number": tracking, "status": "delivered"}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, o) = app.post("/carriers/national_post/events", json!({"tracking_number": tracking, "status": "delivered", "at": "2026-12-01T10:00:00Z"})).await;
    assert_eq!(s, 200);
    assert_eq!(o["shipments"][0]["history"].as_array().unwrap().len(), 3);

    // Every event went to the outbox, rendered by the default templates.
    let (s, v) = app.get("/outbox?order=1001").await;
    assert_eq!(s, 200);
    let msgs = v["messages"].as_array().unwrap();
    let events: Vec<&str> = msgs.iter().map(|m| m["event"].as_str().unwrap()).collect();
    for e in [
        "order_placed",
        "fulfillment_status_changed",
        "shipment_updated",
    ] {
        assert!(events.contains(&e), "{e} missing from {events:?}");
    }
    // One delivery, one "has been delivered" mail (the order turning delivered adds none).
    let delivered: Vec<&Value> = msgs
        .iter()
        .filter(|m| m["channel"] == "email" && m["subject"].as_str().unwrap().contains("delivered"))
        .collect();
    assert_eq!(delivered.len(), 1, "{delivered:#?}");
    let placed = msgs
        .iter()
        .find(|m| m["event"] == "order_placed" && m["channel"] == "email")
        .unwrap();
    assert_eq!(placed["to"], "ann@example.com");
    assert!(
        placed["subject"].as_str().unwrap().contains("1001"),
        "{placed}"
    );
    assert_eq!(placed["status"], "pending");
    let (s, v) = app.get("/outbox?status=sent").await;
    assert_eq!((s, v["messages"].as_array().unwrap().len()), (200, 0));
    let (s, _) = app.get("/outbox?status=lost").await;
    assert_eq!(s, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emails_wait_while_the_smtp_server_is_down_and_arrive_after_it_returns_across_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    set(&dir, "smtp.host", "127.0.0.1");
    set(&dir, "smtp.port", &port.to_string());
    set(&dir, "smtp.from", "Acme Goods <shop@acme.example>");
    set(&dir, "store.email", "owner@acme.example");
    set(&dir, "store.name", "Acme Goods");
    set(&dir, "notify.order_placed.sms", "off");
    let mut app = App::builder().data_dir(&dir).token("storefront").spawn();
    app.place(order_body("Ann Lee", "ann@example.com")).await;

    // Nothing listens on the SMTP port: the first attempt fails and is retried later.
    let mut failed = Value::Null;
    for _ in 0..100 {
        let (_, v) = app.get("/outbox?order=1001").await;
        if let Some(m) = v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["attempts"].as_u64() >= Some(1))
        {
            failed = m.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(failed["status"], "pending", "{failed}");
    assert!(
        failed["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{failed}"
    );
    let (_, o) = app.get("/orders/1001").await;
    assert!(
        o["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["kind"] == "notification_failed"),
        "{o}"
    );
    let (_, v) = app.get("/outbox?order=1001").await;
    let subjects: Vec<String> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(subjects.len(), 2, "customer and store messages: {v}");

    // Restart the server (nothing is lost), then bring the SMTP server up.
    app.kill();
    app.restart();
    let smtp = start_smtp(port);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, v) = app.get("/outbox?order=1001").await;
        let msgs = v["messages"].as_array().unwrap().clone();
        if msgs.iter().all(|m| m["status"] == "sent") {
            break;
        }
        assert!(Instant::now() < deadline, "not delivered: {v}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut received = Vec::new();
    for e in std::fs::read_dir(smtp.maildir.path().join("new")).unwrap() {
        received.push(std::fs::read_to_string(e.unwrap().path()).unwrap());
    }
    assert_eq!(received.len(), 2, "each message delivered once");
    for subject in &subjects {
        assert!(
            received
                .iter()
                .any(|m| m.contains(subject.as_str()) || m.contains("=?utf-8?")),
            "{subject} not received"
        );
    }
    assert!(received.iter().any(|m| m.contains("To: ann@example.com")));
    assert!(received
        .iter()
        .any(|m| m.contains("To: owner@acme.example")));
    let (_, o) = app.get("/orders/1001").await;
    assert!(
        o["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["kind"] == "notification"
                && t["message"]
                    .as_str()
                    .unwrap()
                    .contains("sent to ann@example.com")),
        "{o}"
    );
}

#[test]
fn a_script_that_does_not_compile_stops_startup_with_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let scripts = tmp.path().join("scripts");
    std::fs::create_dir_all(scripts.join("notifications")).unwrap();
    std::fs::write(
        scripts.join("notifications/order_placed.rhai"),
        "fn render(ctx) {\n    let x = ;\n}\n",
    )
    .unwrap();
    let out = Command::new(bin())
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path().join("data"))
        .arg("--scripts-dir")
        .arg(&scripts)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the server started with a broken script"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("notifications/order_placed.rhai:2:"), "{err}");
}

#[tokio::test]
async fn a_template_that_runs_forever_is_stopped_and_the_action_still_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let scripts = tmp.path().join("scripts");
    std::fs::create_dir_all(scripts.join("notifications")).unwrap();
    std::fs::write(
        scripts.join("notifications/payment_status_changed.rhai"),
        "fn render(ctx) {\n    let n = 0;\n    loop { n += 1; }\n}\n",
    )
    .unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    let app = App::builder()
        .data_dir(&dir)
        .token("storefront")
        .arg("--scripts-dir")
        .arg(&scripts)
        .spawn();
    app.place(order_body("Ann Lee", "ann@example.com")).await;
    let started = Instant::now();
    let (s, o) = app.post("/orders/1001/payments", json!({})).await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["payment_status"], "paid");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the action waited {:?}",
        started.elapsed()
    );
    let (_, v) = app.get("/outbox?order=1001").await;
    let failed = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["event"] == "payment_status_changed")
        .expect("the failed render is in the outbox")
        .clone();
    assert_eq!(failed["status"], "failed");
    let err = failed["last_error"].as_str().unwrap();
    assert!(err.contains("payment_status_changed.rhai"), "{err}");
    assert!(o["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["message"]
            .as_str()
            .unwrap()
            .contains("could not be rendered")));
    // The order's other templates (the built-in ones) still work.
    let (_, v) = app.get("/outbox?order=1001&status=pending").await;
    assert!(v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["event"] == "order_placed"));
}
