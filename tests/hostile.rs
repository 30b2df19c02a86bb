//! Hostile input against ONE running server: thousands of malformed and adversarial requests from a
//! seeded generator. No request may get a 5xx or crash the server, and a request that is refused
//! (4xx) must change nothing: the order it names, the list and the outbox stay byte-identical.
//!
//! Reproduce a failure with `HOSTILE_SEED=<seed printed by the test> cargo test --test hostile`.
//! `HOSTILE_REQUESTS` changes how many requests are sent (default 5000).

mod common;

use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// Hostile scalar values, from subtle to absurd.
fn nasty_value(rng: &mut StdRng) -> Value {
    let long = "x".repeat(rng.random_range(300..20_000));
    let choices: Vec<Value> = vec![
        json!(null),
        json!(true),
        json!(0),
        json!(-1),
        json!(-0.0),
        json!(1e308),
        json!(-1e308),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(18446744073709551616u128.to_string()),
        json!("0"),
        json!("0.00"),
        json!("-0.01"),
        json!("-5.00"),
        json!("1.0000000001"),
        json!("0.0000000001"),
        json!("1234567890.1234567890"),
        json!("99999999999999999999"),
        json!("79228162514264337593543950335"),
        json!("792281625142643375935439503350"),
        json!("1e10"),
        json!("NaN"),
        json!("Infinity"),
        json!(" 5.00 "),
        json!("5,00"),
        json!("0x10"),
        json!(""),
        json!("   "),
        json!("\u{0}"),
        json!("a\u{0}b"),
        json!("\u{7}\u{8}\u{1b}[31mred"),
        json!("\u{202e}gnp.exe"),
        json!("Zoë 北京 🦀🦀 \u{200b}\u{feff}"),
        json!("<script>alert(1)</script>"),
        json!("'; DROP TABLE orders; --"),
        json!("../../../../etc/passwd"),
        json!("..\\..\\windows\\win.ini"),
        json!("%00%2e%2e%2f"),
        json!("\u{d7ff}\u{e000}\u{fffd}"),
        json!(long),
        json!([]),
        json!([1, 2, 3]),
        json!({}),
        json!({"$ne": null}),
        json!([[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]),
    ];
    choices[rng.random_range(0..choices.len())].clone()
}

/// Every path of scalars, arrays and objects in a JSON value (as JSON pointer strings).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                pointers(c, format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                pointers(c, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Applies 1–3 random mutations to a valid body.
fn mutate(rng: &mut StdRng, mut body: Value) -> Value {
    for _ in 0..rng.random_range(1..=3) {
        let mut ps = Vec::new();
        pointers(&body, String::new(), &mut ps);
        let p = ps[rng.random_range(0..ps.len())].clone();
        match rng.random_range(0..10) {
            // Replace a value.
            0..=5 => {
                let nv = nasty_value(rng);
                if p.is_empty() {
                    body = nv;
                } else if let Some(slot) = body.pointer_mut(&p) {
                    *slot = nv;
                }
            }
            // Remove a key.
            6 | 7 => {
                if let Some((parent, key)) = p.rsplit_once('/') {
                    if let Some(Value::Object(m)) = body.pointer_mut(parent) {
                        m.remove(key);
                    }
                }
            }
            // Add an unknown key.
            8 => {
                if let Some(Value::Object(m)) = body.pointer_mut(&p) {
                    m.insert("unexpected\u{0}key".into(), nasty_value(rng));
                }
            }
            // Duplicate an array element many times.
            _ => {
                if let Some(Value::Array(a)) = body.pointer_mut(&p) {
                    if let Some(first) = a.first().cloned() {
                        for _ in 0..rng.random_range(1..200) {
                            a.push(first.clone());
                        }
                    }
                }
            }
        }
    }
    body
}

/// Bytes that are not the JSON the endpoint expects.
fn broken_bytes(rng: &mut StdRng, valid: &Value) -> Vec<u8> {
    let text = valid.to_string();
    match rng.random_range(0..8) {
        0 => text.as_bytes()[..rng.random_range(0..text.len().max(1))].to_vec(),
        1 => (0..rng.random_range(0..300))
            .map(|_| rng.random())
            .collect(),
        2 => b"{\"amount\": \"5.00\",}".to_vec(),
        3 => format!("{text}{text}").into_bytes(),
        4 => vec![0xff, 0xfe, b'{', b'}'],
        5 => "[".repeat(rng.random_range(10..5000)).into_bytes(),
        6 => b"".to_vec(),
        _ => text.replacen(':', "=", 1).into_bytes(),
    }
}

/// Order numbers and ids as an attacker might write them in a path.
fn nasty_segment(rng: &mut StdRng) -> String {
    let choices = [
        "0",
        "-1",
        "1000",
        "999999",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999999",
        "1001.0",
        "1e3",
        "+1001",
        " 1001",
        "%201001",
        "1001%00",
        "%00",
        "%2e%2e",
        "..%2f..%2fetc%2fpasswd",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "%ef%bc%91%ef%bc%90%ef%bc%90%ef%bc%91",
        "abc",
        "null",
        "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "not-a-uuid",
        "%E2%80%AE",
    ];
    choices[rng.random_range(0..choices.len())].to_string()
}

struct World {
    /// Existing orders with their item, shipment and note ids (refreshed after changes).
    orders: Vec<Value>,
    customer_ids: Vec<String>,
}

fn ids(o: &Value, list: &str) -> Vec<String> {
    o[list]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn pick<T: Clone>(rng: &mut StdRng, v: &[T]) -> Option<T> {
    (!v.is_empty()).then(|| v[rng.random_range(0..v.len())].clone())
}

/// One generated request.
#[derive(Debug)]
struct Req {
    method: &'static str,
    path: String,
    body: Option<Vec<u8>>,
    /// The order whose JSON must not change if the request is refused.
    order: Option<u64>,
    idempotency_key: Option<String>,
    auth: Auth,
    /// Send on a raw socket (path bytes exactly as written, no URL normalisation).
    raw: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Auth {
    Good,
    Missing,
    Wrong,
}

fn item_body(rng: &mut StdRng, o: &Value) -> Value {
    let items = ids(o, "items");
    let id = pick(rng, &items).unwrap_or_default();
    json!([{"item_id": id, "quantity": rng.random_range(1..3)}])
}

fn generate(rng: &mut StdRng, w: &World) -> Req {
    let target = pick(rng, &w.orders).unwrap_or(Value::Null);
    let n = target["number"].as_u64().unwrap_or(1001);
    let mut seg = n.to_string();
    let mut order = Some(n);
    if rng.random_ratio(1, 8) {
        seg = nasty_segment(rng);
        order = None;
    }
    let (method, path, valid): (&'static str, String, Option<Value>) = match rng.random_range(0..16)
    {
        0 | 1 => {
            order = None;
            let body = order_body(
                "Hostile Buyer",
                &format!("h{}@example.com", rng.random::<u32>()),
            );
            ("POST", "/orders".into(), Some(body))
        }
        2 => (
            "POST",
            format!("/orders/{seg}/payments"),
            Some(json!({"amount": "1.00", "reference": "ref"})),
        ),
        3 => (
            "POST",
            format!("/orders/{seg}/refunds"),
            Some(
                json!({"items": item_body(rng, &target), "refund_shipping": "0.00",
                        "adjustment_refund": "0.50", "adjustment_fee": "0.00", "reason": "r"}),
            ),
        ),
        4 => (
            "POST",
            format!("/orders/{seg}/fulfillments"),
            Some(json!({"type": "manual", "items": item_body(rng, &target),
                        "shipping_point": "local", "carrier": "DHL", "tracking_number": "T1"})),
        ),
        5 => {
            let sid = pick(rng, &ids(&target, "shipments")).unwrap_or_else(|| nasty_segment(rng));
            (
                "PATCH",
                format!("/orders/{seg}/shipments/{sid}"),
                Some(
                    json!({"status": "in_transit", "carrier": "UPS", "tracking_number": "1Z",
                            "expected_delivery": "2026-12-24", "notify_customer": true}),
                ),
            )
        }
        6 => {
            let sid = if rng.random_bool(0.5) {
                pick(rng, &ids(&target, "shipments")).unwrap_or_default()
            } else {
                nasty_segment(rng)
            };
            let action = if rng.random_bool(0.5) {
                "deliver"
            } else {
                "void"
            };
            (
                "POST",
                format!("/orders/{seg}/shipments/{sid}/{action}"),
                Some(json!({})),
            )
        }
        7 => (
            "POST",
            format!("/orders/{seg}/returns"),
            Some(json!({"items": item_body(rng, &target), "reason": "r"})),
        ),
        8 => (
            "POST",
            format!("/orders/{seg}/cancel"),
            Some(json!({"reason": "Customer asked", "refund": true})),
        ),
        9 => (
            "POST",
            format!("/orders/{seg}/notes"),
            Some(json!({"body": "A note"})),
        ),
        10 => {
            let nid = pick(rng, &ids(&target, "notes")).unwrap_or_else(|| nasty_segment(rng));
            if rng.random_bool(0.5) {
                (
                    "PATCH",
                    format!("/orders/{seg}/notes/{nid}"),
                    Some(json!({"body": "Edited"})),
                )
            } else {
                ("DELETE", format!("/orders/{seg}/notes/{nid}"), None)
            }
        }
        11 => {
            let cid = pick(rng, &w.customer_ids).unwrap_or_default();
            (
                "PUT",
                format!("/orders/{seg}/customer"),
                Some(json!({"customer_id": cid})),
            )
        }
        12 => ("POST", format!("/orders/{seg}/dispatch"), Some(json!({}))),
        13 => ("GET", format!("/orders/{seg}"), None),
        14 => {
            order = None;
            ("GET", list_query(rng), None)
        }
        _ => {
            order = None;
            let q: String = nasty_value(rng)
                .as_str()
                .unwrap_or("x")
                .chars()
                .take(200)
                .collect();
            (
                "GET",
                format!("/customers?q={}&limit={}", urlencode(&q), nasty_number(rng)),
                None,
            )
        }
    };
    // Most bodies are mutated; some are broken bytes; a few stay valid (so state moves on).
    let body = valid.map(|v| match rng.random_range(0..10) {
        0..=5 => mutate(rng, v).to_string().into_bytes(),
        6..=8 => broken_bytes(rng, &v),
        _ => v.to_string().into_bytes(),
    });
    let auth = match rng.random_range(0..40) {
        0 => Auth::Missing,
        1 => Auth::Wrong,
        _ => Auth::Good,
    };
    let raw = rng.random_ratio(1, 6);
    let path = if raw && rng.random_bool(0.5) {
        // Literal traversal segments, which an HTTP client library would normalise away.
        let trav = ["../", "..%2f", "./", "%2e%2e/", "..;/", "//"];
        let t = trav[rng.random_range(0..trav.len())];
        match path.rfind('/') {
            Some(i) if i > 0 => format!("{}/{t}{}", &path[..i], &path[i + 1..]),
            _ => format!("/{t}{path}"),
        }
    } else {
        path
    };
    Req {
        method,
        path,
        body,
        order,
        idempotency_key: None,
        auth,
        raw,
    }
}

fn nasty_number(rng: &mut StdRng) -> String {
    [
        "0",
        "-1",
        "1",
        "50",
        "201",
        "100000",
        "99999999999999999999",
        "abc",
        "1.5",
        "",
    ][rng.random_range(0..10)]
    .to_string()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn list_query(rng: &mut StdRng) -> String {
    let mut parts = Vec::new();
    let cursors = [
        "k".to_string(),
        "kzz".to_string(),
        format!("k{}", "00".repeat(rng.random_range(0..40))),
        "k0101000000000000000003e9".to_string(),
        "s-1".to_string(),
        "s18446744073709551616".to_string(),
        "o99999999".to_string(),
        "o-1".to_string(),
        "o2000".to_string(),
        "%00".to_string(),
        urlencode("../../etc/passwd"),
        urlencode(&"k".repeat(5000)),
    ];
    if rng.random_bool(0.6) {
        parts.push(format!(
            "cursor={}",
            cursors[rng.random_range(0..cursors.len())]
        ));
    }
    if rng.random_bool(0.5) {
        parts.push(format!("limit={}", nasty_number(rng)));
    }
    if rng.random_bool(0.5) {
        let sorts = [
            "created",
            "number",
            "total",
            "customer",
            "payment_status",
            "bogus",
            "",
        ];
        parts.push(format!("sort={}", sorts[rng.random_range(0..sorts.len())]));
    }
    if rng.random_bool(0.3) {
        parts.push(format!(
            "order={}",
            ["asc", "desc", "sideways"][rng.random_range(0..3)]
        ));
    }
    if rng.random_bool(0.5) {
        let q = match nasty_value(rng) {
            Value::String(s) => s.chars().take(300).collect(),
            other => other.to_string(),
        };
        parts.push(format!("q={}", urlencode(&q)));
    }
    if rng.random_bool(0.3) {
        let filters = [
            "payment_status=paid",
            "payment_status=%00",
            "fulfillment_status=bogus",
            "test=maybe",
            "created_from=2026-13-45",
            "created_before=99999-01-01T00:00:00Z",
            "created_from=-1",
        ];
        parts.push(filters[rng.random_range(0..filters.len())].to_string());
    }
    if rng.random_bool(0.1) {
        parts.push("limit=1&limit=2&%ZZ=1".to_string());
    }
    format!("/orders?{}", parts.join("&"))
}

/// Sends `req`; returns the status code.
async fn send(app: &App, req: &Req) -> u16 {
    let token = match req.auth {
        Auth::Good => Some(app.token().to_string()),
        Auth::Wrong => Some(format!("{}x", app.token())),
        Auth::Missing => None,
    };
    if req.raw {
        return send_raw(app, req, token).await;
    }
    let m = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap();
    let mut r = app.client.request(m, app.url(&req.path));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(k) = &req.idempotency_key {
        r = r.header("Idempotency-Key", k);
    }
    if let Some(b) = &req.body {
        r = r.header("Content-Type", "application/json").body(b.clone());
    }
    let resp = r
        .send()
        .await
        .unwrap_or_else(|e| panic!("request failed ({e}): {req:?} (the server may have crashed)"));
    let status = resp.status().as_u16();
    let _ = resp.bytes().await;
    status
}

/// HTTP/1.1 over a plain socket, so paths reach the server exactly as written.
async fn send_raw(app: &App, req: &Req, token: Option<String>) -> u16 {
    let addr = app.base.trim_start_matches("http://").to_string();
    let path = format!("/api/v1{}", req.path);
    let method = req.method;
    let body = req.body.clone().unwrap_or_default();
    tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(&addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        if let Some(t) = token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        ));
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&body).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out);
        text.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP status for raw {method} {path}: {text:?}"))
    })
    .await
    .unwrap()
}

/// What a refused request must leave alone.
async fn snapshot(app: &App, order: Option<u64>) -> (Value, Value, Value, Value) {
    let o = match order {
        Some(n) => app.get(&format!("/orders/{n}")).await.1,
        None => Value::Null,
    };
    let (_, list) = app.get("/orders?limit=200&sort=number").await;
    let (_, mut outbox) = app.get("/outbox").await;
    // The delivery worker reschedules waiting messages on its own; that is not a change.
    if let Some(ms) = outbox["messages"].as_array_mut() {
        for m in ms {
            if let Some(m) = m.as_object_mut() {
                m.remove("next_attempt_at");
            }
        }
    }
    let (_, customers) = app.get("/customers").await;
    (o, list, outbox, customers)
}

async fn refresh(app: &App, w: &mut World) {
    let (_, list) = app.get("/orders?limit=200&sort=number").await;
    let mut orders = Vec::new();
    for s in list["orders"].as_array().cloned().unwrap_or_default() {
        let n = s["number"].as_u64().unwrap();
        orders.push(app.get(&format!("/orders/{n}")).await.1);
    }
    w.orders = orders;
    let (_, cs) = app.get("/customers").await;
    w.customer_ids = cs["customers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_hostile_requests_get_no_5xx_and_refused_ones_change_nothing() {
    let mut app = spawn_app_with_token();
    let seed: u64 = std::env::var("HOSTILE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let total: usize = std::env::var("HOSTILE_REQUESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5000);
    eprintln!("hostile: HOSTILE_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);

    // A few orders in different states to aim at.
    for i in 0..4 {
        let mut b = order_body(&format!("Target {i}"), &format!("t{i}@example.com"));
        if i % 2 == 1 {
            b["payment"] = json!({"method": "card", "paid": true});
        }
        app.place(b).await;
    }
    // The server has no transport configured, so the delivery worker never touches the
    // messages these requests cause: state changes only through the requests themselves.
    let mut w = World {
        orders: Vec::new(),
        customer_ids: Vec::new(),
    };
    refresh(&app, &mut w).await;

    let started = Instant::now();
    let deadline = Duration::from_secs(100);
    let mut sent = 0usize;
    let mut refused = 0usize;
    while sent < total && started.elapsed() < deadline {
        let mut req = generate(&mut rng, &w);
        let before = snapshot(&app, req.order).await;
        let status = send(&app, &req).await;
        sent += 1;
        assert!(
            status < 500,
            "HOSTILE_SEED={seed}: request {sent} got {status}: {req:?}"
        );
        if (400..500).contains(&status) {
            refused += 1;
            let after = snapshot(&app, req.order).await;
            assert!(
                before == after,
                "HOSTILE_SEED={seed}: refused request {sent} ({status}) changed state: {req:?}"
            );
        } else if req.method != "GET" {
            refresh(&app, &mut w).await;
        }

        // Every so often: the same idempotency key with a different body is refused and
        // changes nothing; with the same body it is a replay, not a new order.
        if sent.is_multiple_of(100) {
            let key = format!("hostile-{sent}-\u{e9}");
            let body_a = order_body("Idem A", &format!("a{sent}@example.com"));
            req = Req {
                method: "POST",
                path: "/orders".into(),
                body: Some(body_a.to_string().into_bytes()),
                order: None,
                idempotency_key: Some(urlencode(&key)),
                auth: Auth::Good,
                raw: false,
            };
            assert_eq!(send(&app, &req).await, 201, "HOSTILE_SEED={seed}");
            let before = snapshot(&app, None).await;
            let replay = send(&app, &req).await;
            assert!(replay == 200 || replay == 201, "replay got {replay}");
            assert_eq!(before, snapshot(&app, None).await, "a replay changed state");
            req.body = Some(
                order_body("Idem B", &format!("b{sent}@example.com"))
                    .to_string()
                    .into_bytes(),
            );
            let status = send(&app, &req).await;
            assert!(
                (400..500).contains(&status),
                "a reused key with another body got {status}"
            );
            assert_eq!(
                before,
                snapshot(&app, None).await,
                "a refused reuse changed state"
            );
            refresh(&app, &mut w).await;
        }
    }
    let elapsed = started.elapsed();
    eprintln!(
        "hostile: {sent} requests ({refused} refused) in {:.1}s",
        elapsed.as_secs_f64()
    );
    assert!(sent >= 1000, "only {sent} requests in {elapsed:?}");
    assert!(
        refused > sent / 2,
        "most hostile requests should be refused"
    );

    // Still alive and answering, and every derived structure still agrees with the orders.
    assert!(app.child.try_wait().unwrap().is_none(), "the server exited");
    let (s, _) = app.get("/orders/1001").await;
    assert_eq!(s, 200);
    let out = std::process::Command::new(bin())
        .args(["check", "--data-dir"])
        .arg(&app.data_dir)
        .args(app.database_args())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "check after hostile input: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    app.kill();
}
