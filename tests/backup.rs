//! Backups of a running server: every kind of fact made through the real API and pages survives
//! backup and restore; a backup taken while clients keep writing restores to a consistent store.

mod common;

use common::pages::{cookie_client, input_value};
use common::App;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PASSWORD: &str = "correct horse battery";

/// A tiny API client for one server.
#[derive(Clone)]
struct Api {
    base: String,
    token: String,
    http: Client,
}

impl Api {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self
            .http
            .request(m, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.expect("request");
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    async fn ok(&self, method: &str, path: &str, body: Value) -> Value {
        let (s, v) = self.call(method, path, Some(body)).await;
        assert!(s == 200 || s == 201, "{method} {path}: {s} {v}");
        v
    }

    async fn get(&self, path: &str) -> Value {
        let (s, v) = self.call("GET", path, None).await;
        assert_eq!(s, 200, "GET {path}: {v}");
        v
    }

    /// Waits until the delivery worker leaves the outbox alone: two reads 50 ms apart agree.
    /// (Without a transport it never touches a message, so this returns at once.)
    async fn settle(&self) {
        let mut last = self.get("/outbox").await;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = self.get("/outbox").await;
            if now == last {
                return;
            }
            last = now;
        }
    }
}

fn cli(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(common::bin())
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run orderdeck")
}

fn item(o: &Value, i: usize) -> String {
    o["items"][i]["id"].as_str().unwrap().to_string()
}

/// Creates the owner account, signs in and saves the store settings through the pages.
async fn owner_saves_settings(app: &App) -> Client {
    let c = cookie_client();
    let link = app.setup_link.clone().expect("setup link");
    let html = c.get(&link).send().await.unwrap().text().await.unwrap();
    let csrf = input_value(&html, "csrf").unwrap();
    let token = input_value(&html, "token").unwrap();
    let r = c
        .post(format!("{}/setup", app.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("token", token.as_str()),
            ("display_name", "Olive Owner"),
            ("username", "olive"),
            ("store_name", "My Store"),
            ("store_email", "olive@example.com"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let csrf = sign_in(&app.base, &c).await;
    let r = c
        .post(format!("{}/settings", app.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("store_name", "Backup Bazaar"),
            ("store_email", "shop@example.com"),
            ("store_currency", "USD"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    c
}

async fn sign_in(base: &str, c: &Client) -> String {
    let html = c
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let pre = input_value(&html, "csrf").unwrap();
    let r = c
        .post(format!("{base}/login"))
        .form(&[
            ("csrf", pre.as_str()),
            ("username", "olive"),
            ("password", PASSWORD),
            ("next", "/orders"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in failed");
    let html = c
        .get(format!("{base}/orders"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    input_value(&html, "csrf").unwrap()
}

/// Orders with every kind of fact.
async fn make_facts(api: &Api) {
    let b = |n: &str, e: &str| common::order_body(n, e);
    // 1001: paid, refunded, shipped in two parcels with status history, delivered, returned.
    let o = api
        .ok("POST", "/orders", b("Ann Lee", "ann@example.com"))
        .await;
    let (tee, mug) = (item(&o, 0), item(&o, 1));
    api.ok(
        "POST",
        "/orders/1001/payments",
        json!({"amount": "20.00", "reference": "ch_1"}),
    )
    .await;
    api.ok("POST", "/orders/1001/payments", json!({})).await;
    api.ok("POST", "/orders/1001/fulfillments", json!({"type": "manual", "items": [{"item_id": tee, "quantity": 1}], "shipping_point": "local"})).await;
    let o = api
        .ok("POST", "/orders/1001/fulfillments", json!({"type": "manual", "items": [{"item_id": tee, "quantity": 1}, {"item_id": mug, "quantity": 1}],
            "shipping_point": "international", "carrier": "DHL", "tracking_number": "JD0001"}))
        .await;
    let s1 = o["shipments"][0]["id"].as_str().unwrap().to_string();
    let s2 = o["shipments"][1]["id"].as_str().unwrap().to_string();
    api.ok(
        "POST",
        "/orders/1001/refunds",
        json!({"items": [{"item_id": mug, "quantity": 1}], "reason": "Chipped"}),
    )
    .await;
    api.ok(
        "PATCH",
        &format!("/orders/1001/shipments/{s2}"),
        json!({"status": "in_transit", "expected_delivery": "2026-12-24", "notify_customer": true}),
    )
    .await;
    api.ok(
        "POST",
        &format!("/orders/1001/shipments/{s1}/deliver"),
        json!({}),
    )
    .await;
    api.ok(
        "POST",
        &format!("/orders/1001/shipments/{s2}/deliver"),
        json!({}),
    )
    .await;
    api.ok(
        "POST",
        "/orders/1001/returns",
        json!({"items": [{"item_id": tee, "quantity": 1}], "reason": "Too small"}),
    )
    .await;
    // 1002: cancelled with a refund, and a note edited and another deleted.
    let mut body = b("Bo Chen", "bo@example.com");
    body["payment"] = json!({"method": "card", "paid": true});
    api.ok("POST", "/orders", body).await;
    let o = api
        .ok(
            "POST",
            "/orders/1002/notes",
            json!({"body": "Gift wrap 🎁"}),
        )
        .await;
    let note = o["notes"][0]["id"].as_str().unwrap().to_string();
    api.ok(
        "PATCH",
        &format!("/orders/1002/notes/{note}"),
        json!({"body": "Blue paper"}),
    )
    .await;
    let o = api
        .ok("POST", "/orders/1002/notes", json!({"body": "to delete"}))
        .await;
    let gone = o["notes"][1]["id"].as_str().unwrap().to_string();
    let (s, _) = api
        .call("DELETE", &format!("/orders/1002/notes/{gone}"), None)
        .await;
    assert_eq!(s, 200);
    api.ok(
        "POST",
        "/orders/1002/cancel",
        json!({"reason": "Customer asked", "refund": true}),
    )
    .await;
    // 1003: dispatched, a voided shipment; then moved to another customer.
    let o = api
        .ok("POST", "/orders", b("Cy Díaz", "cy@example.com"))
        .await;
    let tee = item(&o, 0);
    let o = api
        .ok(
            "POST",
            "/orders/1003/fulfillments",
            json!({"type": "manual", "items": [{"item_id": tee, "quantity": 1}]}),
        )
        .await;
    let s = o["shipments"][0]["id"].as_str().unwrap().to_string();
    api.ok(
        "POST",
        &format!("/orders/1003/shipments/{s}/void"),
        json!({}),
    )
    .await;
    api.ok("POST", "/orders/1003/dispatch", json!({})).await;
    let bo = api.get("/customers?q=bo").await["customers"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    api.ok("PUT", "/orders/1003/customer", json!({"customer_id": bo}))
        .await;
    // 1004: a test order, placed with an idempotency key.
    let mut body = b("Test Tester", "test@example.com");
    body["test"] = json!(true);
    let r = api
        .http
        .post(format!("{}/api/v1/orders", api.base))
        .bearer_auth(&api.token)
        .header("Idempotency-Key", "checkout-77")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    api.settle().await;
}

/// Everything a merchant or client can read back, normalised where the delivery worker moves
/// a retry time on its own.
async fn everything(api: &Api) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut paths: Vec<String> = [
        "/orders?limit=200",
        "/orders?limit=200&sort=total&order=asc",
        "/orders?limit=200&sort=customer",
        "/orders?limit=200&payment_status=paid",
        "/orders?limit=200&fulfillment_status=returned",
        "/orders?limit=200&test=true",
        "/orders?q=ann",
        "/orders?q=bo%20chen",
        "/orders?q=jd0001",
        "/orders?q=load",
        "/orders?q=1001",
        "/customers",
        "/customers?q=cy",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Page through with cursors too.
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let p = match &cursor {
            Some(c) => format!("/orders?limit=7&cursor={c}"),
            None => "/orders?limit=7".to_string(),
        };
        let v = api.get(&p).await;
        out.push((p, v.clone()));
        pages += 1;
        cursor = v["next_cursor"].as_str().map(String::from);
        if cursor.is_none() || pages > 100 {
            break;
        }
    }
    let list = api.get("/orders?limit=200").await;
    for s in list["orders"].as_array().unwrap() {
        paths.push(format!("/orders/{}", s["number"]));
    }
    for p in paths {
        let v = api.get(&p).await;
        out.push((p, v));
    }
    let mut outbox = api.get("/outbox").await;
    for m in outbox["messages"].as_array_mut().unwrap() {
        m.as_object_mut().unwrap().remove("next_attempt_at");
    }
    out.push(("/outbox".into(), outbox));
    out
}

fn restore_and_start(file: &Path, dir: &Path) -> App {
    let out = Command::new(common::bin())
        .arg("restore")
        .arg(file)
        .arg("--data-dir")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "restore: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("no problems"));
    App::builder().data_dir(dir).spawn()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_under_load_restores_every_fact_and_a_consistent_store() {
    let app = common::spawn_app();
    let token = app.create_token("storefront");
    let api = Api {
        base: app.base.clone(),
        token: token.clone(),
        http: common::client_builder().build().expect("client"),
    };
    let _owner = owner_saves_settings(&app).await;
    make_facts(&api).await;
    let facts = everything(&api).await;
    let tmp = tempfile::tempdir().unwrap();

    // Clients keep placing orders and adding notes while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<u64>>> = Arc::default();
    let mut writers = Vec::new();
    for c in 0..4 {
        let (api, stop, acked) = (api.clone(), stop.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let body = common::order_body(
                    &format!("Load C{c} N{i}"),
                    &format!("load{c}x{i}@example.com"),
                );
                let o = api.ok("POST", "/orders", body).await;
                let n = o["number"].as_u64().unwrap();
                api.ok(
                    "POST",
                    &format!("/orders/{n}/notes"),
                    json!({"body": "busy"}),
                )
                .await;
                acked.lock().unwrap().push(n);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let acked_before: Vec<u64> = acked.lock().unwrap().clone();
    assert!(!acked_before.is_empty(), "the load is running");
    let hot = tmp.path().join("hot.odb");
    let started = std::time::Instant::now();
    let out = cli(&["backup", hot.to_str().unwrap()], &app.data_dir);
    assert!(
        out.status.success(),
        "backup under load: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "backup under load took {:?}: {}",
        started.elapsed(),
        String::from_utf8_lossy(&out.stdout).trim()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let acked_after = acked.lock().unwrap().len();
    assert!(
        acked_after > acked_before.len(),
        "clients wrote during the backup"
    );
    api.settle().await;

    // The hot backup: consistent (restore runs `check`), holds everything acknowledged before it
    // started, and the fact orders exactly as they were.
    let hot_dir = tmp.path().join("hot-restored");
    let mut hot_app = restore_and_start(&hot, &hot_dir);
    let hot_api = Api {
        base: hot_app.base.clone(),
        ..api.clone()
    };
    for n in &acked_before {
        let v = hot_api.get(&format!("/orders/{n}")).await;
        assert_eq!(v["notes"][0]["body"], "busy", "order {n} is whole");
    }
    for n in 1001..=1004 {
        let p = format!("/orders/{n}");
        assert_eq!(hot_api.get(&p).await, api.get(&p).await, "{p}");
    }
    let restored_list = hot_api.get("/orders?limit=200").await;
    for s in restored_list["orders"].as_array().unwrap() {
        let p = format!("/orders/{}", s["number"]);
        let (mut a, mut b) = (hot_api.get(&p).await, api.get(&p).await);
        // A load order may have been backed up before its note was added or before the
        // delivery worker noted its waiting message on its timeline; all else must match.
        let restored_notes = a["notes"].clone();
        assert!(
            restored_notes == json!([]) || restored_notes == b["notes"],
            "{p}: notes {restored_notes}"
        );
        for v in [&mut a, &mut b] {
            let m = v.as_object_mut().unwrap();
            m.remove("timeline");
            m.remove("version");
            m.remove("updated_at");
            m.remove("notes");
        }
        assert_eq!(a, b, "{p}");
    }
    let out = cli(&["check"], &hot_dir);
    assert!(
        out.status.success(),
        "check on the running restored server: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Through the running server, the check shows where it is.
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(
        progress.contains("checking orders") && progress.contains("checking outbox"),
        "{progress}"
    );
    hot_app.kill();

    // A quiet backup restores to exactly the same answers, including settings, team and tokens.
    let before = everything(&api).await;
    let cold = tmp.path().join("cold.odb");
    let out = cli(&["backup", cold.to_str().unwrap()], &app.data_dir);
    assert!(out.status.success());
    let cold_dir = tmp.path().join("cold-restored");
    let mut cold_app = restore_and_start(&cold, &cold_dir);
    let cold_base = cold_app.base.clone();
    let cold_api = Api {
        base: cold_base.clone(),
        ..api.clone()
    };
    let after = everything(&cold_api).await;
    assert_eq!(before.len(), after.len());
    for ((p, a), (_, b)) in before.iter().zip(&after) {
        assert_eq!(a, b, "{p} differs after restore");
    }
    assert!(before.len() > facts.len());
    let c = cookie_client();
    sign_in(&cold_base, &c).await;
    let html = c
        .get(format!("{cold_base}/settings"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        input_value(&html, "store_name").as_deref(),
        Some("Backup Bazaar")
    );
    let out = cli(&["check"], &cold_dir);
    assert!(out.status.success());

    // Restore never writes over a store.
    let out = Command::new(common::bin())
        .arg("restore")
        .arg(&cold)
        .arg("--data-dir")
        .arg(&app.data_dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not empty"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    cold_app.kill();
}

#[test]
fn check_exits_with_1_and_lists_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let out = cli(&["demo", "--orders", "20"], &dir);
    assert!(out.status.success());
    let out = cli(&["check"], &dir);
    assert!(out.status.success());
    {
        let store = orderdeck::store::sled::SledStore::open(&dir).unwrap();
        let meta = store.db().open_tree("meta").unwrap();
        meta.insert(b"c:all", &99u64.to_be_bytes()).unwrap();
        store.flush().unwrap();
    }
    // The store's flush thread lets go of the directory lock a moment after the drop.
    let mut out = cli(&["check"], &dir);
    for _ in 0..50 {
        if out.status.code() == Some(1) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        out = cli(&["check"], &dir);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("1 problem(s)"), "{text}");
    assert!(
        text.contains("CounterWrong: c:all is 99, a recount gives 20"),
        "{text}"
    );
}
