//! kill -9 under load: every order that was answered 201 is there and intact after a restart.

mod common;

use common::*;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_orders_survive_kill_9_three_times() {
    let mut app = spawn_app();
    let acknowledged: Arc<Mutex<Vec<(u64, String)>>> = Arc::new(Mutex::new(Vec::new()));
    for round in 0..3 {
        let stop = Arc::new(AtomicBool::new(false));
        let mut clients = Vec::new();
        for c in 0..16 {
            let client = common::http().build().expect("client");
            let url = app.url("/orders");
            let token = app.token.clone();
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
        tokio::time::sleep(Duration::from_millis(700 + 300 * round as u64)).await;
        // SIGKILL: no chance to flush.
        app.child.kill().unwrap();
        app.child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.await.unwrap();
        }
        let (child, base) = start(&app.dir);
        app.child = child;
        app.base = base;
        let acked = acknowledged.lock().unwrap().clone();
        assert!(
            acked.len() > 10,
            "round {round}: only {} orders acknowledged",
            acked.len()
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
