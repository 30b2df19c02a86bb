//! kill -9 under load: every order that was answered 201 is there and intact after a restart.

mod common;

use common::*;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_orders_survive_kill_9_three_times() {
    let mut app = spawn_app_with_token();
    let acknowledged: Arc<Mutex<Vec<(u64, String)>>> = Arc::new(Mutex::new(Vec::new()));
    for round in 0..3 {
        let before = acknowledged.lock().unwrap().len();
        let stop = Arc::new(AtomicBool::new(false));
        let mut clients = Vec::new();
        for c in 0..16 {
            let client = client_builder().build().expect("client");
            let url = app.url("/orders");
            let token = app.token().to_string();
            let stop = stop.clone();
            let acked = acknowledged.clone();
            clients.push(tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let name = format!("Round{round} Client{c} Order{i}");
                    let body = order_body(&name, &format!("r{round}c{c}i{i}@example.com"));
                    let Ok(r) = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await
                    else {
                        break; // the server is gone
                    };
                    if r.status() != 201 {
                        break;
                    }
                    let Ok(v) = r.json::<Value>().await else {
                        break;
                    };
                    acked
                        .lock()
                        .unwrap()
                        .push((v["number"].as_u64().unwrap(), name));
                }
            }));
        }
        // Kill under load, once this round has had a dozen orders acknowledged (a slow machine
        // or backend takes longer to get there), at a different moment each round.
        tokio::time::sleep(Duration::from_millis(200 + 300 * round as u64)).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        while acknowledged.lock().unwrap().len() < before + 12 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // SIGKILL: no chance to flush.
        app.child.kill().unwrap();
        app.child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.await.unwrap();
        }
        app.restart();
        let acked = acknowledged.lock().unwrap().clone();
        assert!(
            acked.len() >= before + 12,
            "round {round}: only {} orders acknowledged in 30 s",
            acked.len() - before
        );
        for (number, name) in &acked {
            let (s, o) = app.get(&format!("/orders/{number}")).await;
            assert_eq!(
                s, 200,
                "round {round}: acknowledged order {number} is missing"
            );
            assert_eq!(
                o["customer"]["name"],
                name.as_str(),
                "order {number} is not intact"
            );
            assert_eq!(o["totals"]["total"], "57.50");
        }
        // Numbers are never reused after a crash.
        let max = acked.iter().map(|(n, _)| *n).max().unwrap();
        let o = app
            .place(order_body("After Crash", "after@example.com"))
            .await;
        assert!(o["number"].as_u64().unwrap() > max);
        // The list index agrees with the records for every acknowledged order.
        let (_, v) = app.get(&format!("/orders?q=round{round}&limit=200")).await;
        assert!(!v["orders"].as_array().unwrap().is_empty());
    }
}

/// What the clients were told succeeded.
#[derive(Default)]
struct Acked {
    orders: Vec<(u64, String)>,
    payments: std::collections::HashMap<u64, u32>,
    notes: std::collections::HashMap<u64, u32>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_and_actions_survive_ten_kills_and_a_sigterm_with_indexes_and_outbox_intact() {
    let mut app = spawn_app_with_token();
    let acked: Arc<Mutex<Acked>> = Arc::new(Mutex::new(Acked::default()));
    for round in 0..11u64 {
        let stop = Arc::new(AtomicBool::new(false));
        let mut clients = Vec::new();
        for c in 0..32 {
            let client = client_builder().build().expect("client");
            let base = app.url("");
            let token = app.token().to_string();
            let stop = stop.clone();
            let acked = acked.clone();
            clients.push(tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let name = format!("Kill{round} Client{c} Order{i}");
                    let mut body = order_body(&name, &format!("k{round}c{c}i{i}@example.com"));
                    body["payment"] = serde_json::json!({"method": "cash_on_delivery"});
                    let Ok(r) = client
                        .post(format!("{base}/orders"))
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await
                    else {
                        break;
                    };
                    if r.status() != 201 {
                        break;
                    }
                    let Ok(v) = r.json::<Value>().await else {
                        break;
                    };
                    let n = v["number"].as_u64().unwrap();
                    acked.lock().unwrap().orders.push((n, name));
                    // Two partial payments and a note on the new order.
                    for _ in 0..2 {
                        let Ok(r) = client
                            .post(format!("{base}/orders/{n}/payments"))
                            .bearer_auth(&token)
                            .json(&serde_json::json!({"amount": "1.00"}))
                            .send()
                            .await
                        else {
                            return;
                        };
                        if r.status() != 200 {
                            return;
                        }
                        *acked.lock().unwrap().payments.entry(n).or_default() += 1;
                    }
                    let Ok(r) = client
                        .post(format!("{base}/orders/{n}/notes"))
                        .bearer_auth(&token)
                        .json(&serde_json::json!({"body": "call before delivery"}))
                        .send()
                        .await
                    else {
                        return;
                    };
                    if r.status() != 200 {
                        return;
                    }
                    *acked.lock().unwrap().notes.entry(n).or_default() += 1;
                }
            }));
        }
        // A random moment between 0.3 s and 1.2 s.
        let wait = 300 + (rand_ms(round) % 900);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        if round < 10 {
            app.child.kill().unwrap();
        } else {
            // The last stop is graceful: SIGTERM lets in-flight requests finish.
            let pid = app.child.id().to_string();
            assert!(std::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success());
        }
        let exit = app.child.wait().unwrap();
        if round == 10 {
            assert!(
                exit.success(),
                "SIGTERM did not stop the server cleanly: {exit:?}"
            );
        }
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.await.unwrap();
        }
        app.restart();
        let snapshot: Vec<(u64, String)> = acked.lock().unwrap().orders.clone();
        let payments = acked.lock().unwrap().payments.clone();
        let notes = acked.lock().unwrap().notes.clone();
        for (n, name) in &snapshot {
            let (s, o) = app.get(&format!("/orders/{n}")).await;
            assert_eq!(s, 200, "round {round}: acknowledged order {n} is missing");
            assert_eq!(o["customer"]["name"], name.as_str());
            let paid = o["payments"].as_array().unwrap().len() as u32;
            assert!(
                paid >= payments.get(n).copied().unwrap_or(0),
                "round {round}: order {n} lost a payment"
            );
            let noted = o["notes"].as_array().unwrap().len() as u32;
            assert!(
                noted >= notes.get(n).copied().unwrap_or(0),
                "round {round}: order {n} lost a note"
            );
            // The order's notifications were written with it.
            let (_, ob) = app.get(&format!("/outbox?order={n}")).await;
            assert!(
                ob["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m["event"] == "order_placed"),
                "round {round}: order {n} has no order_placed message"
            );
        }
    }
    let total = acked.lock().unwrap().orders.len();
    assert!(total > 100, "only {total} orders acknowledged");
    // Indexes, counters and the outbox agree with the records.
    app.kill();
    let out = std::process::Command::new(bin())
        .args(["check", "--data-dir"])
        .arg(&app.data_dir)
        .args(app.database_args())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "orderdeck check: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn rand_ms(round: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    nanos / 1000 + round * 7919
}
