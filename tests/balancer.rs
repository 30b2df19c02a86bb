//! Three orderdeck instances on one PostgreSQL database behind a real load balancer (Debian's
//! haproxy, round robin, started by the test): the API through the balancer answers as one
//! server would, and concurrent payments on one order spread over the instances never overpay.

mod common;

use common::pages::{cookie_client, post_login, post_setup, OWNER_PASSWORD};
use common::*;
use orderdeck::store::postgres::testdb::TestDb;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HAPROXY: &str = "/usr/sbin/haproxy";

/// haproxy in the foreground from a config written here; stopped when dropped.
struct Balancer {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn balancer(backends: &[&App]) -> Balancer {
    assert!(
        std::path::Path::new(HAPROXY).exists(),
        "this test needs Debian's haproxy (apt-get install -y haproxy)"
    );
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cfg = format!(
        "defaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\
         frontend web\n  bind 127.0.0.1:{port}\n  default_backend orderdeck\n\
         backend orderdeck\n  balance roundrobin\n  option httpchk GET /readyz\n"
    );
    for (i, app) in backends.iter().enumerate() {
        let addr = app.base.trim_start_matches("http://");
        cfg.push_str(&format!("  server od{i} {addr} check inter 500ms\n"));
    }
    let path = dir.path().join("haproxy.cfg");
    std::fs::write(&path, cfg).unwrap();
    let child = Command::new(HAPROXY)
        .args(["-f", path.to_str().unwrap(), "-db"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start haproxy");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "haproxy did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Balancer {
        child,
        base,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_behind_haproxy_answer_as_one_server() {
    let db = TestDb::start();
    let url = db.new_database();
    let a = App::builder().database(&url).token("storefront").spawn();
    let b = App::builder().database(&url).spawn();
    let c = App::builder().database(&url).spawn();
    let lb = balancer(&[&a, &b, &c]);
    let token = a.token().to_string();
    let http = client_builder().build().unwrap();
    let api = |path: &str| format!("{}/api/v1{path}", lb.base);

    // An order through the balancer, then 50 concurrent payments of 1.00 against its 30.00.
    let mut body = order_body("Ann", "ann@example.com");
    body["items"] = json!([{"sku": "PEN", "name": "Pen", "unit_price": "1.00", "quantity": 30}]);
    body["shipping"] = json!({"method": "Standard", "price": "0.00"});
    body["tax"] = json!("0.00");
    let r = http
        .post(api("/orders"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let n = r.json::<Value>().await.unwrap()["number"].as_u64().unwrap();
    let http = Arc::new(http);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (http, url, token) = (
            http.clone(),
            api(&format!("/orders/{n}/payments")),
            token.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(url)
                .bearer_auth(token)
                .json(&json!({"amount": "1.00"}))
                .send()
                .await
                .unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let (s, v) = t.await.unwrap();
        match s {
            200 => ok += 1,
            422 => assert!(
                ["payment_exceeds_balance", "already_paid"]
                    .contains(&v["error"]["code"].as_str().unwrap_or("")),
                "{v}"
            ),
            _ => panic!("unexpected {s}: {v}"),
        }
    }
    assert_eq!(ok, 30, "exactly the balance was paid");
    // Every instance sees the same order.
    for app in [&a, &b, &c] {
        let o: Value = http
            .get(format!("{}/api/v1/orders/{n}", app.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(o["totals"]["paid"], "30.00");
        assert_eq!(o["payments"].as_array().unwrap().len(), 30);
        assert_eq!(o["payment_status"], "paid");
    }

    // The pages through the balancer: set up the owner with the link of the instance that
    // printed it, sign in through the balancer, and stay signed in whichever instance answers.
    let owner = cookie_client();
    let r = post_setup(&owner, a.setup_link.as_deref().unwrap(), &a.base, "olive").await;
    assert_eq!(r.status().as_u16(), 303);
    let r = post_login(&owner, &lb.base, "olive", OWNER_PASSWORD).await;
    assert_eq!(r.status().as_u16(), 303);
    for _ in 0..6 {
        let r = owner
            .get(format!("{}/orders/{n}", lb.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "signed in on every instance");
        assert!(r.text().await.unwrap().contains("Ann"));
    }

    // An instance killed: the balancer's health checks take it out; the others go on and
    // nothing acknowledged is lost.
    let mut c = c;
    c.kill();
    // Each order is sent with its Idempotency-Key and sent again until acknowledged, as a
    // storefront would: a request routed to the dead instance before its check failed is
    // refused by the balancer (503), and one sent on a kept-alive connection the balancer gave
    // up on is dropped without an answer. Neither was acknowledged; the retry takes one order.
    let mut placed = Vec::new();
    let mut refused = 0;
    for i in 0..12 {
        let body = order_body(&format!("After {i}"), &format!("after{i}@example.com"));
        let number = loop {
            let r = http
                .post(api("/orders"))
                .bearer_auth(&token)
                .header("Idempotency-Key", format!("after-kill-{i}"))
                .json(&body)
                .send()
                .await;
            match r {
                Ok(r) if r.status().as_u16() == 201 => {
                    break r.json::<Value>().await.unwrap()["number"].as_u64().unwrap()
                }
                Ok(r) => assert_eq!(r.status().as_u16(), 503),
                Err(e) => assert!(!e.is_status(), "{e}"),
            }
            refused += 1;
            assert!(refused <= 24, "the balancer kept refusing after the kill");
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        placed.push(number);
    }
    let mut distinct = placed.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 12, "one order per key: {placed:?}");
    for n in placed {
        let r = http
            .get(format!("{}/api/v1/orders/{n}", b.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    // No retry took a second order: the first order and these twelve, nothing else.
    let list: Value = http
        .get(format!("{}/api/v1/orders", b.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["orders"].as_array().unwrap().len(), 13, "{list}");
}
