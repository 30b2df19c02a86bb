//! orderdeck on PostgreSQL: the real binary with `--database-url` on a throwaway server, alone
//! and as two instances sharing one database. (Any suite also runs on PostgreSQL with
//! `ORDERDECK_TEST_BACKEND=postgres`: the harness then gives each server its own database.)

mod common;

use common::pages::{cookie_client, input_value, post_login, post_setup, OWNER_PASSWORD};
use common::*;
use orderdeck::store::postgres::testdb::TestDb;
use serde_json::{json, Value};
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_works_on_postgres() {
    let db = TestDb::start();
    let url = db.new_database();
    let app = App::builder().database(&url).token("storefront").spawn();
    assert!(app.setup_link.is_some(), "a new database asks for an owner");
    let r = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // Intake, idempotency, an action, a filtered list, search and the outbox.
    let body = order_body("Ann Lee", "ann@example.com");
    let r = app
        .client
        .post(app.url("/orders"))
        .bearer_auth(app.token())
        .header("Idempotency-Key", "order-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let first: Value = r.json().await.unwrap();
    let n = first["number"].as_u64().unwrap();
    let again: Value = app
        .client
        .post(app.url("/orders"))
        .bearer_auth(app.token())
        .header("Idempotency-Key", "order-1")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        again["number"], first["number"],
        "replayed, not a second order"
    );
    let (s, paid) = app.post(&format!("/orders/{n}/payments"), json!({})).await;
    assert_eq!((s, paid["payment_status"].as_str()), (200, Some("paid")));
    let (s, v) = app.post(&format!("/orders/{n}/payments"), json!({})).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("already_paid"))
    );
    app.place(order_body("Bo Brown", "bo@example.com")).await;
    let (_, list) = app.get("/orders?payment_status=paid").await;
    let numbers: Vec<u64> = list["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, vec![n]);
    let (_, found) = app.get("/orders?q=ann").await;
    assert_eq!(found["orders"].as_array().unwrap().len(), 1);
    let (_, found) = app.get("/orders?q=0100").await;
    assert_eq!(found["orders"].as_array().unwrap().len(), 2, "phone digits");
    let (_, page) = app.get("/orders?limit=1&sort=-total").await;
    let cursor = page["next_cursor"].as_str().expect("a second page");
    let (_, next) = app
        .get(&format!("/orders?limit=1&sort=-total&cursor={cursor}"))
        .await;
    assert_eq!(next["orders"].as_array().unwrap().len(), 1);
    assert_ne!(next["orders"][0]["number"], page["orders"][0]["number"]);
    let (_, out) = app.get(&format!("/outbox?order={n}")).await;
    assert!(!out["messages"].as_array().unwrap().is_empty());

    // Everything is in the database: a restart finds it.
    let mut app = app;
    app.kill();
    app.restart();
    assert!(app.setup_link.is_some(), "still no owner");
    let (s, o) = app.get(&format!("/orders/{n}")).await;
    assert_eq!((s, o["payment_status"].as_str()), (200, Some("paid")));

    // `orderdeck check` on the database (the server keeps running): clean, then a skewed
    // counter is reported exactly.
    let check = || {
        std::process::Command::new(bin())
            .args(["check", "--database-url", &url])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let out = check();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query("UPDATE order_counts SET n = n + 5 WHERE name = 'c:all' AND slot = (SELECT min(slot) FROM order_counts WHERE name = 'c:all')")
        .execute(&pool)
        .await
        .unwrap();
    let out = check();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("CounterWrong: c:all is 7, a recount gives 2"),
        "{text}"
    );
}

/// Sets up the owner through `app`'s setup link and signs in; returns the cookie client.
async fn owner(app: &App) -> reqwest::Client {
    let c = cookie_client();
    let r = post_setup(&c, app.setup_link.as_deref().unwrap(), &app.base, "olive").await;
    assert_eq!(r.status().as_u16(), 303);
    let r = post_login(&c, &app.base, "olive", OWNER_PASSWORD).await;
    assert_eq!(r.status().as_u16(), 303);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_database() {
    let db = TestDb::start();
    let url = db.new_database();
    let a = App::builder().database(&url).token("storefront").spawn();
    let b = App::builder().database(&url).spawn();

    // Orders placed on both at once get distinct numbers; each is readable on the other.
    let mut jobs = Vec::new();
    for i in 0..20 {
        let (base, client) = if i % 2 == 0 {
            (a.url("/orders"), a.client.clone())
        } else {
            (b.url("/orders"), b.client.clone())
        };
        let token = a.token().to_string();
        jobs.push(tokio::spawn(async move {
            let r = client
                .post(base)
                .bearer_auth(token)
                .json(&order_body(
                    &format!("Buyer {i}"),
                    &format!("b{i}@example.com"),
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 201);
            r.json::<Value>().await.unwrap()["number"].as_u64().unwrap()
        }));
    }
    let mut numbers = HashSet::new();
    for j in jobs {
        assert!(
            numbers.insert(j.await.unwrap()),
            "a number handed out twice"
        );
    }
    for n in &numbers {
        let r = b
            .client
            .get(b.url(&format!("/orders/{n}")))
            .bearer_auth(a.token())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }

    // The owner is created once: the other instance's setup link is then refused.
    let c = owner(&a).await;
    let other = cookie_client();
    let link = b.setup_link.clone().expect("b printed a setup link too");
    let r = post_setup(&other, &link, &b.base, "mallory").await;
    assert_ne!(r.status().as_u16(), 303, "a second owner was created");

    // Failed sign-ins count across instances: five wrong passwords spread over both, and the
    // sixth is slowed down wherever it arrives.
    let mut statuses = Vec::new();
    for i in 0..6 {
        let app = if i % 2 == 0 { &a } else { &b };
        let r = post_login(&cookie_client(), &app.base, "olive", "wrong password!").await;
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, vec![401, 401, 401, 401, 429, 429], "{statuses:?}");

    // A session made on one instance works on the other; signing out there ends it here too.
    let on_b = c.get(format!("{}/orders", b.base)).send().await.unwrap();
    assert_eq!(on_b.status().as_u16(), 200, "signed in on b too");
    let html = on_b.text().await.unwrap();
    assert!(html.contains("My Store"));

    // A settings change reaches both instances' caches within two seconds (they hold a copy
    // for ten, and are told of the change).
    a.set_setting_unheard("store.name", "Birch Goods");
    for app in [&a, &b] {
        let started = std::time::Instant::now();
        loop {
            let page = c.get(format!("{}/orders", app.base)).send().await.unwrap();
            if page.text().await.unwrap().contains("Birch Goods") {
                break;
            }
            assert!(
                started.elapsed() < common::SETTINGS_HEARD_WITHIN,
                "the new store name is not in force after two seconds"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    let csrf = input_value(&html, "csrf").unwrap();
    let r = c
        .post(format!("{}/logout", b.base))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let on_a = c.get(format!("{}/orders", a.base)).send().await.unwrap();
    assert_eq!(on_a.status().as_u16(), 303, "signed out everywhere");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_deliver_every_message_once() {
    let db = TestDb::start();
    let url = db.new_database();
    let port = free_port();
    let smtp = start_smtp(port);
    let a = App::builder().database(&url).token("storefront").spawn();
    for (k, v) in [
        ("smtp.host", "127.0.0.1".to_string()),
        ("smtp.port", port.to_string()),
        ("smtp.from", "Shop <shop@example.com>".to_string()),
    ] {
        a.set_setting(k, &v);
    }
    let b = App::builder().database(&url).spawn();
    for i in 0..20 {
        let mut body = order_body(&format!("Buyer {i}"), &format!("buyer{i}@example.com"));
        body["customer"]["phone"] = json!("");
        a.place(body).await;
    }
    // Both instances' workers run; each e-mail reaches the SMTP server once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, v) = a.get("/outbox?status=sent").await;
        if v["messages"].as_array().unwrap().len() >= 20 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not all sent: {v}");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let received = smtp.received();
    let mut to: Vec<String> = received
        .iter()
        .filter_map(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("To: "))
                .map(str::to_string)
        })
        .collect();
    to.sort();
    let unique: HashSet<&String> = to.iter().collect();
    assert_eq!(to.len(), 20, "{to:?}");
    assert_eq!(unique.len(), 20, "a message delivered twice: {to:?}");
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_keeps_to_its_connection_pool_and_workers() {
    let db = TestDb::start();
    let url = db.new_database();
    let app = App::builder()
        .database(&url)
        .token("storefront")
        .arg("--database-pool")
        .arg("3")
        .arg("--workers")
        .arg("1")
        .spawn();
    // Forty intakes and forty list reads at once, on three connections.
    let mut jobs = Vec::new();
    for i in 0..40 {
        let (client, token) = (app.client.clone(), app.token().to_string());
        let (post, list) = (app.url("/orders"), app.url("/orders?limit=5"));
        jobs.push(tokio::spawn(async move {
            let placed = client
                .post(post)
                .bearer_auth(&token)
                .json(&order_body(
                    &format!("Pool {i}"),
                    &format!("pool{i}@example.com"),
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(placed.status().as_u16(), 201);
            let listed = client.get(list).bearer_auth(&token).send().await.unwrap();
            assert_eq!(listed.status().as_u16(), 200);
        }));
    }
    for j in jobs {
        j.await.unwrap();
    }
    let (_, page) = app.get("/orders?limit=100").await;
    assert_eq!(page["orders"].as_array().unwrap().len(), 40);
    // The pool's three, the settings listener, and this test's own.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let connections: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(connections <= 5, "{connections} connections");
    // A pool of none is refused before anything starts.
    let out = std::process::Command::new(bin())
        .args(["serve", "--database-pool", "0", "--database-url", &url])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--database-pool"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_data_goes_into_the_database_while_a_server_runs() {
    let db = TestDb::start();
    let url = db.new_database();
    let app = App::builder().database(&url).token("storefront").spawn();
    let out = std::process::Command::new(bin())
        .args(["demo", "--orders", "60", "--database-url", &url])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, page) = app.get("/orders?limit=100").await;
    assert_eq!(page["orders"].as_array().unwrap().len(), 60);
    let (_, customers) = app.get("/customers").await;
    assert!(!customers["customers"].as_array().unwrap().is_empty());
    // Numbers stay unique after the bulk reservation.
    let o = app.place(order_body("Late", "late@example.com")).await;
    assert!(o["number"].as_u64().unwrap() > 1060);
}

/// Runs `orderdeck copy --from FROM --to TO`.
fn copy_store(from: &str, to: &str) -> std::process::Output {
    std::process::Command::new(bin())
        .args(["copy", "--from", from, "--to", to])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

/// GET of an API path with a token, as JSON.
async fn api_get(app: &App, token: &str, path: &str) -> Value {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{path}");
    r.json().await.unwrap()
}

/// What a merchant sees of a store: every order in full, the list's numbers and the customers.
async fn snapshot(app: &App, token: &str) -> (Vec<Value>, Vec<u64>, Value) {
    let list = api_get(app, token, "/orders?limit=100&sort=-total").await;
    let numbers: Vec<u64> = list["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["number"].as_u64().unwrap())
        .collect();
    let mut orders = Vec::new();
    for n in &numbers {
        orders.push(api_get(app, token, &format!("/orders/{n}")).await);
    }
    let customers = api_get(app, token, "/customers").await;
    (orders, numbers, customers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_moves_to_postgres_and_back_with_copy() {
    let db = TestDb::start();
    let url = db.new_database();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, back) = (tmp.path().join("data"), tmp.path().join("back"));

    // An embedded store with an owner, a token, orders, a payment and messages.
    let mut app = App::builder()
        .data_dir(&dir)
        .embedded()
        .token("storefront")
        .spawn();
    let token = app.token().to_string();
    owner(&app).await;
    let mut last = 0;
    for i in 0..5 {
        last = app
            .place(order_body(
                &format!("Buyer {i}"),
                &format!("b{i}@example.com"),
            ))
            .await["number"]
            .as_u64()
            .unwrap();
    }
    app.post(&format!("/orders/{last}/payments"), json!({}))
        .await;
    let before = snapshot(&app, &token).await;
    app.kill();

    // Into PostgreSQL: the copy reports and checks what it wrote.
    // (The test server trusts every local connection: the password is only there to be hidden.)
    let secret_url = url.replace("postgres@", "postgres:hunter2@");
    let out = copy_store(dir.to_str().unwrap(), &secret_url);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("5 orders") && text.contains("5 customers"),
        "{text}"
    );
    assert!(
        text.contains("postgres://postgres@") && !text.contains("hunter2"),
        "the password stays out of the output: {text}"
    );
    let pg = App::builder().database(&url).spawn();
    assert!(pg.setup_link.is_none(), "the owner came along");
    assert_eq!(snapshot(&pg, &token).await, before, "the same store");
    let c = cookie_client();
    let r = post_login(&c, &pg.base, "olive", OWNER_PASSWORD).await;
    assert_eq!(r.status().as_u16(), 303, "the owner signs in on PostgreSQL");
    let r = pg
        .client
        .post(pg.url("/orders"))
        .bearer_auth(&token)
        .json(&order_body("Buyer 0", "b0@example.com"))
        .send()
        .await
        .unwrap();
    let next: Value = r.json().await.unwrap();
    assert!(next["number"].as_u64().unwrap() > last, "numbers go on");
    let after = snapshot(&pg, &token).await;
    drop(pg);

    // A second copy into the same database is refused and changes nothing.
    let out = copy_store(dir.to_str().unwrap(), &url);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // And back into a new data directory.
    let out = copy_store(&url, back.to_str().unwrap());
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let home = App::builder().data_dir(&back).embedded().spawn();
    assert_eq!(snapshot(&home, &token).await, after);
}
