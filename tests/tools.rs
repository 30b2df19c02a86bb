//! The merchant tools over the API: tags, saved views and bulk actions (docs/API.md). Runs on
//! either backend (`ORDERDECK_TEST_BACKEND=postgres`).

mod common;

use common::*;
use serde_json::{json, Value};
use std::sync::Arc;

async fn tag(app: &App, n: u64, t: &str) -> (u16, Value) {
    app.post(&format!("/orders/{n}/tags"), json!({ "tag": t }))
        .await
}

fn numbers(list: &Value) -> Vec<u64> {
    list["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["number"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn tags_are_added_removed_filtered_and_searched() {
    let app = spawn_app_with_token();
    let a = app.place(order_body("Ann Archer", "ann@example.com")).await;
    let b = app.place(order_body("Bob Baker", "bob@example.com")).await;
    let (na, nb) = (a["number"].as_u64().unwrap(), b["number"].as_u64().unwrap());
    assert_eq!(a["tags"], json!([]));

    let (s, o) = tag(&app, na, "  Wholesale ").await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["tags"], json!(["wholesale"]));
    assert_eq!(
        o["timeline"].as_array().unwrap().last().unwrap()["message"],
        "Tagged wholesale"
    );
    // Case-insensitive: adding it again is a no-op, nothing written.
    let before = app.get(&format!("/orders/{na}")).await.1;
    let (s, o) = tag(&app, na, "WHOLESALE").await;
    assert_eq!(s, 200);
    assert_eq!(o["tags"], json!(["wholesale"]));
    assert_eq!(o["timeline"], before["timeline"]);
    let (s, _) = tag(&app, na, "rush order").await;
    assert_eq!(s, 200);
    let (s, _) = tag(&app, nb, "wholesale").await;
    assert_eq!(s, 200);

    // Refusals name the field and change nothing.
    for bad in ["", "   ", "a,b", &"x".repeat(41), "bell\u{7}"] {
        let (s, e) = tag(&app, na, bad).await;
        assert_eq!(s, 422, "{bad:?}: {e}");
        assert_eq!(e["error"]["code"], "invalid_field");
        assert_eq!(e["error"]["field"], "tag");
    }
    let (s, e) = app.post(&format!("/orders/{na}/tags"), json!({})).await;
    assert_eq!(s, 400, "{e}");
    for i in 0..18 {
        assert_eq!(tag(&app, na, &format!("t{i}")).await.0, 200);
    }
    let (s, e) = tag(&app, na, "one-too-many").await;
    assert_eq!(s, 422);
    assert_eq!(e["error"]["code"], "too_many_tags");
    let o = app.get(&format!("/orders/{na}")).await.1;
    assert_eq!(o["tags"].as_array().unwrap().len(), 20);
    assert!(!o["tags"]
        .as_array()
        .unwrap()
        .contains(&json!("one-too-many")));
    assert_eq!(tag(&app, 999_999, "x").await.0, 404);

    // Lists: rows carry tags; tag= filters, repeated tags must all match; search finds tags.
    let (s, list) = app.get("/orders?tag=wholesale").await;
    assert_eq!(s, 200);
    assert_eq!(numbers(&list), vec![nb, na]);
    assert_eq!(list["orders"][0]["tags"], json!(["wholesale"]));
    let (_, list) = app.get("/orders?tag=wholesale&tag=Rush%20Order").await;
    assert_eq!(numbers(&list), vec![na]);
    let (_, list) = app.get("/orders?tag=nobody").await;
    assert_eq!(numbers(&list), Vec::<u64>::new());
    let (_, list) = app.get("/orders?q=rush").await;
    assert_eq!(numbers(&list), vec![na]);
    let (_, list) = app.get("/orders?tag=wholesale&sort=total").await;
    assert_eq!(numbers(&list).len(), 2);
    let (s, e) = app.get("/orders?tag=a,b").await;
    assert_eq!(s, 400, "{e}");

    // Removing: by its URL-encoded name, any case; removing one not there is a no-op.
    let (s, o) = app
        .send(
            "DELETE",
            &format!("/orders/{na}/tags/Rush%20Order"),
            json!(null),
        )
        .await;
    assert_eq!(s, 200, "{o}");
    assert!(!o["tags"].as_array().unwrap().contains(&json!("rush order")));
    let (s, _) = app
        .send(
            "DELETE",
            &format!("/orders/{na}/tags/rush%20order"),
            json!(null),
        )
        .await;
    assert_eq!(s, 200);
    let (_, list) = app.get("/orders?tag=rush%20order").await;
    assert_eq!(numbers(&list), Vec::<u64>::new());
    let (_, list) = app.get("/orders?q=rush").await;
    assert_eq!(numbers(&list), Vec::<u64>::new());
}

#[tokio::test]
async fn saved_views_list_their_query_refined_by_the_request() {
    let app = spawn_app_with_token();
    let mut nums = Vec::new();
    for (name, paid) in [("Ann", true), ("Bob", false), ("Cid", true)] {
        let mut body = order_body(name, &format!("{}@example.com", name.to_lowercase()));
        if paid {
            body["payment"]["paid"] = json!(true);
        }
        nums.push(app.place(body).await["number"].as_u64().unwrap());
    }
    for n in [nums[0], nums[1]] {
        assert_eq!(tag(&app, n, "wholesale").await.0, 200);
    }
    let (s, v) = app
        .post(
            "/views",
            json!({"name": "Paid wholesale", "query": {"payment_status": "paid", "tag": "wholesale", "test": false}}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["name"], "Paid wholesale");
    assert_eq!(
        v["query"],
        json!({"payment_status": "paid", "tag": "wholesale", "test": false})
    );
    let id = v["id"].as_str().unwrap().to_string();
    let (_, all) = app.get("/views").await;
    assert_eq!(all["views"], json!([v]));

    let (s, list) = app.get(&format!("/orders?view={id}")).await;
    assert_eq!(s, 200);
    assert_eq!(numbers(&list), vec![nums[0]]);
    // Other parameters refine it: a search, or a status of their own.
    let (_, list) = app.get(&format!("/orders?view={id}&q=bob")).await;
    assert_eq!(numbers(&list), Vec::<u64>::new());
    let (_, list) = app
        .get(&format!("/orders?view={id}&payment_status=in_progress"))
        .await;
    assert_eq!(numbers(&list), vec![nums[1]]);

    // Refusals: a query that cannot list, a name taken or missing, unknown parameters.
    for (body, field) in [
        (
            json!({"name": "Bad", "query": {"payment_status": "sorta"}}),
            "query",
        ),
        (json!({"name": "Bad", "query": {"colour": "red"}}), "query"),
        (json!({"name": "Bad", "query": {"tag": "a,b"}}), "query"),
        (json!({"name": "paid WHOLESALE", "query": {}}), "name"),
        (json!({"name": "  ", "query": {}}), "name"),
    ] {
        let (s, e) = app.post("/views", body.clone()).await;
        assert_eq!(s, 422, "{body}: {e}");
        assert_eq!(e["error"]["field"], field, "{e}");
    }
    let (_, all) = app.get("/views").await;
    assert_eq!(all["views"].as_array().unwrap().len(), 1);

    let (s, _) = app
        .send("DELETE", &format!("/views/{id}"), json!(null))
        .await;
    assert_eq!(s, 204);
    let (s, _) = app.get(&format!("/orders?view={id}")).await;
    assert_eq!(s, 404);
    let (s, _) = app
        .send("DELETE", &format!("/views/{id}"), json!(null))
        .await;
    assert_eq!(s, 404);
}

async fn bulk(app: &App, body: Value) -> (u16, Value) {
    app.post("/orders/bulk", body).await
}

async fn snapshot(app: &App, nums: &[u64]) -> Vec<Value> {
    let mut out = Vec::new();
    for n in nums {
        out.push(app.get(&format!("/orders/{n}")).await.1);
    }
    out
}

fn outcome(answer: &Value, n: u64) -> Value {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["number"] == n)
        .cloned()
        .unwrap_or_else(|| panic!("no result for {n}: {answer}"))
}

#[tokio::test]
async fn bulk_actions_decide_each_order_by_its_own_rules() {
    let app = spawn_app_with_token();
    let mut nums = Vec::new();
    for i in 0..5 {
        let mut body = order_body(&format!("Buyer {i}"), &format!("b{i}@example.com"));
        if i == 0 {
            body["payment"]["paid"] = json!(true);
        }
        nums.push(app.place(body).await["number"].as_u64().unwrap());
    }
    let (paid, open) = (nums[0], &nums[1..]);
    // A dry run says what each order would do, and writes nothing at all.
    let before = snapshot(&app, &nums).await;
    let (s, r) = bulk(
        &app,
        json!({"action": "pay", "orders": nums.iter().chain([&999_999]).collect::<Vec<_>>(), "dry_run": true}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["summary"], json!({"ok": 4, "refused": 2}));
    assert_eq!(outcome(&r, paid)["error"]["code"], "already_paid");
    assert_eq!(outcome(&r, 999_999)["error"]["code"], "not_found");
    let first = outcome(&r, open[0]);
    assert_eq!(first["ok"], true);
    assert_eq!(first["changes"][0], "Payment of 57.50 USD recorded");
    assert_eq!(
        snapshot(&app, &nums).await,
        before,
        "a dry run changes nothing"
    );
    let (_, outbox) = app.get("/outbox").await;
    let queued = outbox["messages"].as_array().unwrap().len();

    // Applied: the refused order is unchanged, the others are paid, with their notifications.
    let (s, r) = bulk(&app, json!({"action": "pay", "orders": nums})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["summary"], json!({"ok": 4, "refused": 1}));
    assert_eq!(snapshot(&app, &nums).await[0], before[0]);
    for n in open {
        let o = app.get(&format!("/orders/{n}")).await.1;
        assert_eq!(o["payment_status"], "paid");
        assert_eq!(o["totals"]["paid"], "57.50");
    }
    let (_, outbox) = app.get("/outbox").await;
    let messages = outbox["messages"].as_array().unwrap();
    let mut told: Vec<u64> = messages
        .iter()
        .filter(|m| m["event"] == "payment_status_changed")
        .map(|m| m["order_number"].as_u64().unwrap())
        .collect();
    told.sort_unstable();
    told.dedup();
    assert_eq!(told, open, "payment notifications for the paid orders only");
    assert!(messages.len() > queued);

    // Parameters are checked once for the whole batch.
    for (body, code) in [
        (
            json!({"action": "cancel", "orders": nums}),
            "reason_required",
        ),
        (
            json!({"action": "fulfill", "orders": nums}),
            "invalid_field",
        ),
        (
            json!({"action": "tag", "orders": nums, "params": {"tag": ""}}),
            "invalid_field",
        ),
        (
            json!({"action": "explode", "orders": nums}),
            "invalid_field",
        ),
        (json!({"action": "pay", "orders": []}), "invalid_field"),
        (json!({"action": "pay"}), "invalid_field"),
        (
            json!({"action": "pay", "orders": nums, "filter": {}}),
            "invalid_field",
        ),
        (
            json!({"action": "pay", "filter": {"payment_status": "nope"}}),
            "invalid_field",
        ),
        (
            json!({"action": "pay", "orders": (1..=1001).collect::<Vec<u64>>()}),
            "invalid_field",
        ),
    ] {
        let (s, e) = bulk(&app, body.clone()).await;
        assert_eq!(s, 422, "{body}: {e}");
        assert_eq!(e["error"]["code"], code, "{e}");
    }

    // Fulfil everything unshipped: a second batch finds nothing left.
    let (_, r) = bulk(
        &app,
        json!({"action": "fulfill", "orders": [open[0], open[1]], "params": {"shipping_point": "local", "carrier": "Courier Co"}}),
    )
    .await;
    assert_eq!(r["summary"], json!({"ok": 2, "refused": 0}), "{r}");
    let o = app.get(&format!("/orders/{}", open[0])).await.1;
    assert_eq!(o["fulfillment_status"], "fulfilled");
    assert_eq!(o["shipments"][0]["carrier"], "Courier Co");
    let (_, r) = bulk(
        &app,
        json!({"action": "fulfill", "orders": [open[0]], "params": {"shipping_point": "local"}}),
    )
    .await;
    assert_eq!(outcome(&r, open[0])["error"]["code"], "nothing_to_fulfill");

    // Cancel: shipped orders are refused by the cancel rule; the others are canceled.
    let (_, r) = bulk(
        &app,
        json!({"action": "cancel", "orders": [open[0], open[2]], "params": {"reason": "Out of stock"}}),
    )
    .await;
    assert_eq!(
        outcome(&r, open[0])["error"]["code"],
        "cancel_after_shipment"
    );
    assert_eq!(outcome(&r, open[2])["ok"], true);
    let o = app.get(&format!("/orders/{}", open[2])).await.1;
    assert_eq!(o["cancellation"]["reason"], "Out of stock");

    // Tags by filter: every order matching, then untag.
    let (_, r) = bulk(
        &app,
        json!({"action": "tag", "filter": {"payment_status": "paid"}, "params": {"tag": "Batch-1"}}),
    )
    .await;
    assert_eq!(r["summary"]["refused"], 0, "{r}");
    let (_, list) = app.get("/orders?tag=batch-1").await;
    let tagged = numbers(&list);
    let (_, list) = app.get("/orders?payment_status=paid").await;
    assert_eq!(tagged, numbers(&list));
    let (_, r) = bulk(
        &app,
        json!({"action": "untag", "filter": {"tag": "batch-1"}, "params": {"tag": "batch-1"}}),
    )
    .await;
    assert_eq!(r["summary"]["ok"].as_u64().unwrap() as usize, tagged.len());
    let (_, list) = app.get("/orders?tag=batch-1").await;
    assert!(numbers(&list).is_empty());
    let (s, e) = bulk(
        &app,
        json!({"action": "dispatch", "filter": {"tag": "never-used"}}),
    )
    .await;
    assert_eq!(s, 422, "{e}");
}

#[tokio::test]
async fn a_single_action_during_a_batch_loses_nothing() {
    let app = Arc::new(spawn_app_with_token());
    let mut nums = Vec::new();
    for i in 0..40 {
        let body = order_body(&format!("Buyer {i}"), &format!("c{i}@example.com"));
        nums.push(app.place(body).await["number"].as_u64().unwrap());
    }
    // While a batch pays every balance, single payments of 10.00 and notes land on the same
    // orders: each order ends paid exactly once in full, and every note is kept.
    let batch = {
        let (app, nums) = (app.clone(), nums.clone());
        tokio::spawn(async move { bulk(&app, json!({"action": "pay", "orders": nums})).await })
    };
    let mut singles = Vec::new();
    for n in nums.iter().copied().step_by(3) {
        let app = app.clone();
        singles.push(tokio::spawn(async move {
            let paid = app
                .post(&format!("/orders/{n}/payments"), json!({"amount": "10.00"}))
                .await
                .0;
            let noted = app
                .post(
                    &format!("/orders/{n}/notes"),
                    json!({"body": "Called the customer"}),
                )
                .await
                .0;
            (n, paid, noted)
        }));
    }
    let (s, r) = batch.await.unwrap();
    assert_eq!(s, 200, "{r}");
    for t in singles {
        let (n, paid, noted) = t.await.unwrap();
        assert!(paid == 200 || paid == 422, "order {n}: {paid}");
        assert_eq!(noted, 200);
        let o = app.get(&format!("/orders/{n}")).await.1;
        assert_eq!(o["notes"].as_array().unwrap().len(), 1, "order {n}");
    }
    for n in &nums {
        let o = app.get(&format!("/orders/{n}")).await.1;
        assert_eq!(o["totals"]["paid"], "57.50", "order {n}: {}", o["payments"]);
        assert_eq!(o["payment_status"], "paid");
    }
}

/// The same tools on the pages, without JavaScript: plain forms and links.
#[tokio::test]
async fn tags_views_and_bulk_actions_work_on_the_pages_without_javascript() {
    use common::pages::{get, owner, post};
    use reqwest::header::LOCATION;
    let app = spawn_app_with_token();
    let (c, csrf) = owner(&app).await;
    let base = app.base.clone();
    let mut nums = Vec::new();
    for name in ["Ann Archer", "Bob Baker", "Cid Cole"] {
        let email = format!(
            "{}@example.com",
            name.split(' ').next().unwrap().to_lowercase()
        );
        nums.push(
            app.place(order_body(name, &email)).await["number"]
                .as_u64()
                .unwrap(),
        );
    }
    let n = nums[0];

    // Tags on the order page: added, refused with the rule's words, removed.
    let r = post(
        &c,
        format!("{base}/orders/{n}/tags"),
        &[("csrf", &csrf), ("tag", "VIP")],
    )
    .await;
    assert_eq!(r.status().as_u16(), 303);
    let (_, html) = get(&c, format!("{base}/orders/{n}")).await;
    assert!(
        html.contains(r#"<a class="tag" href="/orders?tag=vip">vip</a>"#),
        "{html}"
    );
    let r = post(
        &c,
        format!("{base}/orders/{n}/tags"),
        &[("csrf", &csrf), ("tag", "a,b")],
    )
    .await;
    assert_eq!(r.status().as_u16(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("tag must not contain commas"), "{html}");
    assert!(html.contains(r#"value="a,b""#), "the typed tag is kept");
    assert_eq!(
        app.get(&format!("/orders/{n}")).await.1["tags"],
        json!(["vip"])
    );
    let r = post(
        &c,
        format!("{base}/orders/{}/tags", nums[1]),
        &[("csrf", &csrf), ("tag", "old")],
    )
    .await;
    assert_eq!(r.status().as_u16(), 303);
    let r = post(
        &c,
        format!("{base}/orders/{}/tags/remove", nums[1]),
        &[("csrf", &csrf), ("tag", "old")],
    )
    .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        app.get(&format!("/orders/{}", nums[1])).await.1["tags"],
        json!([])
    );

    // The list filters by tag and shows tags on rows; the filter can be saved as a view.
    let (_, html) = get(&c, format!("{base}/orders?tag=VIP")).await;
    assert!(html.contains(&format!("#{n}</a>")));
    assert!(!html.contains(&format!("#{}</a>", nums[1])));
    assert!(html.contains("Remove tag filter vip"));
    let r = post(
        &c,
        format!("{base}/orders/views"),
        &[("csrf", &csrf), ("name", "VIPs"), ("query", "tag=vip")],
    )
    .await;
    assert_eq!(r.status().as_u16(), 303);
    let to = r.headers()[LOCATION].to_str().unwrap().to_string();
    let id = to.trim_start_matches("/orders?view=").to_string();
    let (s, html) = get(&c, format!("{base}{to}")).await;
    assert_eq!(s.as_u16(), 200);
    assert!(
        html.contains(&format!(
            r#"<a href="/orders?view={id}" aria-current="page">VIPs <b>1</b></a>"#
        )),
        "{html}"
    );
    assert!(html.contains(&format!("#{n}</a>")));
    assert!(!html.contains(&format!("#{}</a>", nums[2])));
    // A view's CSV has a stable URL and exports the view.
    let (s, csv) = get(&c, format!("{base}/orders.csv?view={id}")).await;
    assert_eq!(s.as_u16(), 200);
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.lines().nth(1).unwrap().ends_with(",vip"), "{csv}");
    let r = post(
        &c,
        format!("{base}/orders/views"),
        &[("csrf", &csrf), ("name", "vips"), ("query", "tag=vip")],
    )
    .await;
    assert_eq!(r.status().as_u16(), 303);
    let (_, html) = get(
        &c,
        format!("{base}{}", r.headers()[LOCATION].to_str().unwrap()),
    )
    .await;
    assert!(html.contains("is already the name of a view"), "{html}");

    // Bulk: tick two orders → preview (nothing changes) → confirm → result.
    let (a, b) = (nums[0].to_string(), nums[1].to_string());
    let form = [
        ("csrf", csrf.as_str()),
        ("query", ""),
        ("action", "pay"),
        ("orders", a.as_str()),
        ("orders", b.as_str()),
    ];
    let r = post(&c, format!("{base}/orders/bulk"), &form).await;
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Review: Record payment of the balance"),
        "{html}"
    );
    assert!(html.contains("Payment of 57.50 USD recorded"));
    assert!(html.contains("115.00"), "the payments' total: {html}");
    assert_eq!(
        app.get(&format!("/orders/{a}")).await.1["payment_status"],
        "in_progress"
    );
    let orders = common::pages::input_value(&html, "orders").unwrap();
    assert_eq!(orders, format!("{a},{b}"));
    let r = post(
        &c,
        format!("{base}/orders/bulk/apply"),
        &[("csrf", &csrf), ("action", "pay"), ("orders", &orders)],
    )
    .await;
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Done: Record payment of the balance"),
        "{html}"
    );
    for n in [&a, &b] {
        assert_eq!(
            app.get(&format!("/orders/{n}")).await.1["payment_status"],
            "paid"
        );
    }
    // Paying again: the preview shows each refusal and offers nothing to confirm.
    let r = post(&c, format!("{base}/orders/bulk"), &form).await;
    let html = r.text().await.unwrap();
    assert!(html.contains("already_paid"), "{html}");
    assert!(!html.contains("confirm-bulk"));

    // Every order matching the list; the action's parameters are checked first.
    let all = [
        ("csrf", csrf.as_str()),
        ("query", "tag=vip"),
        ("all", "1"),
        ("action", "tag"),
        ("tag", "gold"),
    ];
    let html = post(&c, format!("{base}/orders/bulk"), &all)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!(r#"id="bulk-{a}""#)));
    assert!(!html.contains(&format!(r#"id="bulk-{b}""#)));
    let mut no_tag = all;
    no_tag[4] = ("tag", "");
    let r = post(&c, format!("{base}/orders/bulk"), &no_tag).await;
    assert_eq!(r.status().as_u16(), 303);
    let (_, html) = get(
        &c,
        format!("{base}{}", r.headers()[LOCATION].to_str().unwrap()),
    )
    .await;
    assert!(
        html.contains("Nothing was changed: tag is required"),
        "{html}"
    );
    let none = [("csrf", csrf.as_str()), ("query", ""), ("action", "pay")];
    let r = post(&c, format!("{base}/orders/bulk"), &none).await;
    assert_eq!(r.status().as_u16(), 303);
    // Printing and CSV go to their pages with the selection.
    let slips = [
        ("csrf", csrf.as_str()),
        ("query", ""),
        ("action", "slips"),
        ("orders", a.as_str()),
    ];
    let r = post(&c, format!("{base}/orders/bulk"), &slips).await;
    assert_eq!(
        r.headers()[LOCATION],
        format!("/orders/packing-slips?orders={a}").as_str()
    );
    let (s, csv) = get(&c, format!("{base}/orders.csv?orders={b},{a}")).await;
    assert_eq!(s.as_u16(), 200);
    let firsts: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(firsts, vec![b.as_str(), a.as_str()]);

    // Deleting the view leaves its orders alone.
    let r = post(
        &c,
        format!("{base}/orders/views/{id}/delete"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        get(&c, format!("{base}/orders?view={id}")).await.0.as_u16(),
        404
    );
    assert_eq!(
        app.get(&format!("/orders/{n}")).await.1["tags"],
        json!(["vip"])
    );
}
