//! The merchant's pages, driven over HTTP against the real binary: access control, setup,
//! sessions, CSRF, escaping of everything a user can type, forms and their refusals, CSV export.

mod common;

use common::pages::{
    cookie_client, get, input_value, owner, post, real_order_json, sign_in, OWNER_PASSWORD,
};
use common::{client_builder, order_body, spawn_app, App};
use reqwest::header::{CACHE_CONTROL, LOCATION, SET_COOKIE};
use reqwest::{Client, StatusCode};

/// The owner (`c`, `csrf`) adds the staff member "sam", who signs in; returns sam's client and
/// CSRF token.
async fn add_staff(app: &App, c: &Client, csrf: &str) -> (Client, String) {
    let r = post(
        c,
        format!("{}/settings/team", app.base),
        &[
            ("csrf", csrf),
            ("display_name", "Sam Staff"),
            ("username", "sam"),
            ("password", "staff password"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let s = cookie_client();
    let s_csrf = sign_in(app, &s, "sam", "staff password").await;
    (s, s_csrf)
}

/// Places a test order from the dashboard; returns its number.
async fn place_test_order(app: &App, c: &Client, csrf: &str) -> u64 {
    let r = post(c, format!("{}/orders/test", app.base), &[("csrf", csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let loc = r.headers()[LOCATION].to_str().unwrap().to_string();
    loc.trim_start_matches("/orders/")
        .parse()
        .expect("redirect to the new order")
}

async fn api_order(app: &App, token: &str, body: &serde_json::Value) -> serde_json::Value {
    let r = cookie_client()
        .post(format!("{}/api/v1/orders", app.base))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json().await.unwrap()
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_the_sign_in_page() {
    let app = spawn_app();
    let c = cookie_client();
    for path in [
        "/orders",
        "/orders/1001",
        "/customers",
        "/settings",
        "/workflow",
        "/orders.csv",
        "/nowhere",
    ] {
        let r = c.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        let loc = r.headers()[LOCATION].to_str().unwrap();
        assert!(loc.starts_with("/login"), "{path} → {loc}");
    }
    let r = c
        .get(format!("{}/orders?q=x", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[LOCATION], "/login?next=%2Forders%3Fq%3Dx");
    // Static assets are public and cached; the API answers 401, never a redirect.
    let r = c
        .get(format!("{}/static/app.css", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()[CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("max-age"));
    let r = c
        .get(format!("{}/api/v1/orders", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Before setup, the sign-in page points to setup.
    let r = c.get(format!("{}/login", app.base)).send().await.unwrap();
    assert_eq!(r.headers()[LOCATION], "/setup");
}

#[tokio::test]
async fn setup_without_the_one_time_token_is_refused() {
    let app = spawn_app();
    let c = cookie_client();
    let link = app.setup_link.clone().unwrap();
    assert!(
        link.starts_with(&format!("{}/setup?token=", app.base)),
        "{link}"
    );
    let (s, _) = get(&c, format!("{}/setup", app.base)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = get(&c, format!("{}/setup?token=0000", app.base)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A posted form with a valid CSRF cookie but a wrong token is refused too.
    let html = c.get(&link).send().await.unwrap().text().await.unwrap();
    let csrf = input_value(&html, "csrf").unwrap();
    let r = post(
        &c,
        format!("{}/setup", app.base),
        &[
            ("csrf", &csrf),
            ("token", "wrong"),
            ("display_name", "Eve"),
            ("username", "eve"),
            ("password", "long enough pw"),
            ("password_confirm", "long enough pw"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The link works once.
    let (c2, _) = owner(&app).await;
    drop(c2);
    let (s, _) = get(&cookie_client(), link).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sign_in_issues_a_fresh_http_only_session_and_sign_out_ends_it_on_the_server() {
    let app = spawn_app();
    let (c, csrf) = owner(&app).await;
    // Inspect the cookie of a second sign-in.
    let c2 = cookie_client();
    let html = c2
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let pre = input_value(&html, "csrf").unwrap();
    let r = post(
        &c2,
        format!("{}/login", app.base),
        &[
            ("csrf", &pre),
            ("username", "OLIVE"),
            ("password", OWNER_PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("od_session="))
        .expect("session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP on loopback: {cookie}"
    );
    let secret = cookie
        .trim_start_matches("od_session=")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    // Sign out with the first client; the second session still works, the first does not.
    let r = post(&c, format!("{}/logout", app.base), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = c.get(format!("{}/orders", app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let raw = client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = raw
        .get(format!("{}/orders", app.base))
        .header("Cookie", format!("od_session={secret}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Signing out deletes the session server-side: replaying its cookie no longer works.
    let html = r.text().await.unwrap();
    let csrf2 = input_value(&html, "csrf").unwrap();
    let r = raw
        .post(format!("{}/logout", app.base))
        .header("Cookie", format!("od_session={secret}"))
        .form(&[("csrf", csrf2.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = raw
        .get(format!("{}/orders", app.base))
        .header("Cookie", format!("od_session={secret}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    let app = spawn_app();
    let (c, csrf) = owner(&app).await;
    let n = place_test_order(&app, &c, &csrf).await;
    for (path, form) in [
        ("/orders/test".to_string(), vec![]),
        (format!("/orders/{n}/notes"), vec![("body", "hello")]),
        (
            format!("/orders/{n}/act/payment"),
            vec![("step", "confirm")],
        ),
        ("/settings/tokens".to_string(), vec![("name", "x")]),
        ("/logout".to_string(), vec![]),
    ] {
        let r = post(&c, format!("{}{path}", app.base), &form).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path} without token");
        let mut wrong = form.clone();
        wrong.push((
            "csrf",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ));
        let r = post(&c, format!("{}{path}", app.base), &wrong).await;
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "{path} with a wrong token"
        );
    }
    // Nothing happened: still one order, no note, nothing paid.
    let (_, html) = get(&c, format!("{}/orders/{n}", app.base)).await;
    assert!(!html.contains("hello"));
    let r = post(
        &cookie_client(),
        format!("{}/login", app.base),
        &[("username", "olive"), ("password", OWNER_PASSWORD)],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "sign-in without its CSRF cookie"
    );
}

#[tokio::test]
async fn pages_carry_security_headers() {
    let app = spawn_app();
    let (c, _) = owner(&app).await;
    for path in ["/orders", "/login", "/nowhere"] {
        let r = c.get(format!("{}{path}", app.base)).send().await.unwrap();
        let h = r.headers();
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'none'"),
            "{path}"
        );
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(h.contains_key("referrer-policy"));
    }
}

#[tokio::test]
async fn text_a_user_can_type_is_escaped_on_every_page() {
    let app = spawn_app();
    let (c, csrf) = owner(&app).await;
    let token = app.create_token("storefront");
    let evil = "<script>alert(1)</script>";
    let mut body = real_order_json(evil);
    body["customer"]["email"] = serde_json::json!("evil@example.com");
    body["items"][0]["name"] = serde_json::json!(evil);
    body["items"][0]["sku"] = serde_json::json!(evil);
    body["items"][0]["variant"] = serde_json::json!(evil);
    body["shipping_address"]["line1"] = serde_json::json!(evil);
    body["shipping"]["method"] = serde_json::json!(evil);
    let order = api_order(&app, &token, &body).await;
    let n = order["number"].as_u64().unwrap();
    let customer_id = order["customer"]["id"].as_str().unwrap().to_string();
    let base = &app.base;
    assert_eq!(
        post(
            &c,
            format!("{base}/orders/{n}/notes"),
            &[("csrf", &csrf), ("body", evil)]
        )
        .await
        .status(),
        StatusCode::SEE_OTHER
    );
    let r = post(
        &c,
        format!("{base}/orders/{n}/act/cancel"),
        &[("csrf", &csrf), ("step", "confirm"), ("reason", evil)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = post(
        &c,
        format!("{base}/settings"),
        &[
            ("csrf", &csrf),
            ("store_name", evil),
            ("store_email", ""),
            ("store_currency", "USD"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = post(
        &c,
        format!("{base}/settings/team"),
        &[
            ("csrf", &csrf),
            ("display_name", evil),
            ("username", "staffer"),
            ("password", "long enough pw"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = post(
        &c,
        format!("{base}/settings/tokens"),
        &[("csrf", &csrf), ("name", evil)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!r.text().await.unwrap().contains(evil));
    // Refused forms echo what was typed: escaped too.
    let r = post(
        &c,
        format!("{base}/orders/{n}/act/refund"),
        &[("csrf", &csrf), ("adjustment_refund", evil)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!r.text().await.unwrap().contains(evil));
    let pages = [
        "/orders".to_string(),
        format!("/orders?q={}", "%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
        format!("/orders/{n}"),
        format!("/orders/{n}/customer?q=%3Cscript%3E"),
        "/customers".to_string(),
        format!("/customers/{customer_id}"),
        "/settings".to_string(),
        "/workflow".to_string(),
    ];
    for p in pages {
        let (s, html) = get(&c, format!("{base}{p}")).await;
        assert_eq!(s, StatusCode::OK, "{p}");
        assert!(!html.contains(evil), "{p} contains unescaped user text");
        assert!(!html.contains("<script>alert"), "{p}");
    }
    let (_, html) = get(&c, format!("{base}/orders/{n}")).await;
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || html.contains("&lt;script&gt;"),
        "escaped text is shown"
    );
}

#[tokio::test]
async fn the_orders_page_lists_filters_counts_and_offers_test_orders_until_a_real_one_arrives() {
    let app = spawn_app();
    let (c, csrf) = owner(&app).await;
    let base = &app.base;
    let (_, html) = get(&c, format!("{base}/orders")).await;
    assert!(html.contains("id=\"place-test-order\""));
    let a = place_test_order(&app, &c, &csrf).await;
    let b = place_test_order(&app, &c, &csrf).await;
    assert_eq!(b, a + 1);
    let (s, html) = get(&c, format!("{base}/orders")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(&format!("#{a}")) && html.contains(&format!("#{b}")));
    assert!(html.contains("badge b-test"));
    // Search by number, filter, sort, page size.
    let (_, html) = get(&c, format!("{base}/orders?q={a}")).await;
    assert!(html.contains(&format!("#{a}")) && !html.contains(&format!("href=\"/orders/{b}\"")));
    let (s, _) = get(
        &c,
        format!("{base}/orders?sort=-total&test=true&payment_status=paid&created_from=2020-01-01"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, html) = get(&c, format!("{base}/orders?sort=sideways")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("class=\"error\""),
        "a bad parameter is explained, not a crash"
    );
    // A real order over the API closes Place Test Order.
    let token = app.create_token("storefront");
    api_order(&app, &token, &real_order_json("Rita Real")).await;
    let (_, html) = get(&c, format!("{base}/orders")).await;
    assert!(!html.contains("id=\"place-test-order\""));
    assert!(html.contains("Rita Real"));
    let r = post(&c, format!("{base}/orders/test"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = get(&c, format!("{base}/orders?test=true")).await;
    assert!(
        !html.contains(&format!("#{}", b + 2)),
        "no third test order"
    );
}

#[tokio::test]
async fn a_refused_form_shows_the_rule_next_to_its_field_and_keeps_the_input() {
    let app = spawn_app();
    let (c, csrf) = owner(&app).await;
    let token = app.create_token("storefront");
    let mut body = real_order_json("Paula Partial");
    body["payment"]["paid"] = serde_json::json!(false);
    let order = api_order(&app, &token, &body).await;
    let n = order["number"].as_u64().unwrap();
    let base = &app.base;
    // The order page: Refund is disabled with the rule's reason (nothing paid yet).
    let (_, html) = get(&c, format!("{base}/orders/{n}")).await;
    assert!(
        html.contains("id=\"btn-refund\" type=\"button\" disabled"),
        "refund disabled"
    );
    assert!(
        html.contains("exceeds the 0.00 paid"),
        "the rule's reason is the tooltip"
    );
    // Paying too much is refused on the amount field, with the amount kept (422).
    let r = post(
        &c,
        format!("{base}/orders/{n}/act/payment"),
        &[
            ("csrf", &csrf),
            ("amount", "999.00"),
            ("reference", "wire 42"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"amount-error\""), "{html}");
    assert!(html.contains("exceeds the balance"));
    assert!(html.contains("value=\"999.00\"") && html.contains("value=\"wire 42\""));
    // A valid payment: review (says what cannot be undone), then confirm → 303 with a flash.
    let r = post(
        &c,
        format!("{base}/orders/{n}/act/payment"),
        &[("csrf", &csrf), ("amount", "10.00")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("cannot be removed"));
    let r = post(
        &c,
        format!("{base}/orders/{n}/act/payment"),
        &[("csrf", &csrf), ("amount", "10.00"), ("step", "confirm")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], format!("/orders/{n}"));
    let (_, html) = get(&c, format!("{base}/orders/{n}")).await;
    assert!(html.contains("Payment of 10.00 USD recorded."), "flash");
    assert!(html.contains("Partially Paid"));
    // Refunding more than was paid names the rule; the typed values stay.
    let item = order["items"][0]["id"].as_str().unwrap();
    let qty = format!("qty_{item}");
    let r = post(
        &c,
        format!("{base}/orders/{n}/act/refund"),
        &[("csrf", &csrf), (&qty, "2"), ("adjustment_fee", "1.00")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Refund of 23.00 exceeds the 10.00 paid"),
        "{html}"
    );
    assert!(html.contains("value=\"1.00\""));
    // A bad number is refused on its field.
    let r = post(
        &c,
        format!("{base}/orders/{n}/act/refund"),
        &[("csrf", &csrf), ("refund_shipping", "abc")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("id=\"refund_shipping-error\""));
    // Canceling without a reason is refused on the reason field.
    let r = post(
        &c,
        format!("{base}/orders/{n}/act/cancel"),
        &[("csrf", &csrf), ("reason", " ")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("id=\"reason-error\""));
    // An empty note is refused on the order page itself.
    let r = post(
        &c,
        format!("{base}/orders/{n}/notes"),
        &[("csrf", &csrf), ("body", "   ")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("id=\"note-error\""));
}

#[tokio::test]
async fn csv_export_streams_the_current_view_and_defuses_formulas() {
    let app = spawn_app();
    let (c, _) = owner(&app).await;
    let token = app.create_token("storefront");
    let mut body = real_order_json("=HYPERLINK(\"http://x\")");
    body["customer"]["email"] = serde_json::json!("csv@example.com");
    api_order(&app, &token, &body).await;
    for i in 0..3 {
        api_order(&app, &token, &real_order_json(&format!("Buyer {i}"))).await;
    }
    let r = c
        .get(format!("{}/orders.csv", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("number,created_at"));
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(csv.contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "{csv}");
    // The view's filters apply.
    let csv = c
        .get(format!("{}/orders.csv?q=csv%40example.com", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
}

#[tokio::test]
async fn staff_work_orders_but_cannot_manage_the_team_or_tokens() {
    let app = spawn_app();
    let (c, csrf) = owner(&app).await;
    let base = &app.base;
    let r = post(
        &c,
        format!("{base}/settings/team"),
        &[
            ("csrf", &csrf),
            ("display_name", "Sam Staff"),
            ("username", "sam"),
            ("password", "short"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("at least 10 characters"));
    let (s, s_csrf) = add_staff(&app, &c, &csrf).await;
    let n = place_test_order(&app, &s, &s_csrf).await;
    let r = post(
        &s,
        format!("{base}/orders/{n}/notes"),
        &[("csrf", &s_csrf), ("body", "packed by Sam")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = get(&s, format!("{base}/orders/{n}")).await;
    assert!(html.contains("Sam Staff") && html.contains("packed by Sam"));
    // The owner downloads a backup (on PostgreSQL, told to use pg_dump); staff cannot.
    let r = post(&c, format!("{base}/settings/backup"), &[("csrf", &csrf)]).await;
    if app.database_args().is_empty() {
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("attachment")));
        let bytes = r.bytes().await.unwrap();
        assert!(bytes.starts_with(b"ORDERDECK-BACKUP"), "not a backup file");
        assert!(bytes.len() > 1000);
    } else {
        assert!(r.status().is_client_error(), "{}", r.status());
        assert!(r.text().await.unwrap().contains("pg_dump"));
    }
    // Transports, test messages, script reloads and backups are the owner's.
    for path in [
        "/settings/backup",
        "/settings/notifications/transports",
        "/settings/notifications/test",
        "/settings/scripts/reload",
    ] {
        let r = post(
            &s,
            format!("{base}{path}"),
            &[("csrf", &s_csrf), ("to", "x@example.com")],
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let (_, html) = get(&s, format!("{base}/settings/notifications")).await;
    assert!(!html.contains("smtp_host") && html.contains("Only the owner"));
    let (_, html) = get(&s, format!("{base}/settings")).await;
    assert!(!html.contains("id=\"create-token\"") && !html.contains("id=\"add-member\""));
    let r = post(
        &s,
        format!("{base}/settings/tokens"),
        &[("csrf", &s_csrf), ("name", "mine")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post(
        &s,
        format!("{base}/settings/team"),
        &[
            ("csrf", &s_csrf),
            ("display_name", "X"),
            ("username", "xavier"),
            ("password", "long enough pw"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post(
        &s,
        format!("{base}/settings/team/olive/remove"),
        &[("csrf", &s_csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The owner removes Sam: Sam is signed out at once.
    let r = post(
        &c,
        format!("{base}/settings/team/sam/remove"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = s.get(format!("{base}/orders")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn repeated_failed_sign_ins_are_slowed_down() {
    let app = spawn_app();
    let (_c, _) = owner(&app).await;
    let c = cookie_client();
    let html = c
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let pre = input_value(&html, "csrf").unwrap();
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let r = post(
            &c,
            format!("{}/login", app.base),
            &[
                ("csrf", &pre),
                ("username", "olive"),
                ("password", "wrong password!"),
            ],
        )
        .await;
        statuses.push(r.status());
    }
    assert!(
        statuses[..4].iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert_eq!(
        *statuses.last().unwrap(),
        StatusCode::TOO_MANY_REQUESTS,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn the_workflow_page_draws_the_three_state_machines() {
    let app = spawn_app();
    let (c, _) = owner(&app).await;
    let (s, html) = get(&c, format!("{}/workflow", app.base)).await;
    assert_eq!(s, StatusCode::OK);
    for id in ["svg-payment", "svg-fulfillment", "svg-shipment"] {
        assert!(html.contains(id), "{id}");
    }
    assert!(
        html.contains("Partially Refunded")
            && html.contains("Picked Up")
            && html.contains("Delivery Failed")
    );
}

/// Undoes the HTML escaping of an attribute value.
fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The text and hidden inputs of the form `id` as name → value pairs (checkboxes and radios only
/// when checked), like a browser would submit them.
fn form_inputs(html: &str, id: &str) -> Vec<(String, String)> {
    let start = html.find(&format!("id=\"{id}\"")).expect("the form");
    let end = start + html[start..].find("</form>").expect("form end");
    let form = &html[start..end];
    let attr = |tag: &str, a: &str| -> Option<String> {
        let needle = format!(" {a}=\"");
        let i = tag.find(&needle)? + needle.len();
        let j = tag[i..].find('"')?;
        Some(unescape(&tag[i..i + j]))
    };
    let mut out = Vec::new();
    for part in form.split("<input").skip(1) {
        let tag = &part[..part.find('>').unwrap_or(part.len())];
        let (Some(name), Some(value)) = (attr(tag, "name"), attr(tag, "value")) else {
            continue;
        };
        let kind = attr(tag, "type").unwrap_or_default();
        if (kind == "checkbox" || kind == "radio") && !tag.contains(" checked") {
            continue;
        }
        out.push((name, value));
    }
    out
}

async fn post_pairs(c: &Client, url: String, pairs: &[(String, String)]) -> reqwest::Response {
    c.post(url).form(pairs).send().await.unwrap()
}

fn with(pairs: &[(String, String)], extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .cloned()
        .collect();
    out.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    out
}

#[tokio::test]
async fn carrier_fulfil_gets_rates_buys_a_label_prints_it_and_simulates_tracking() {
    let app = spawn_app();
    let (c, csrf) = owner(&app).await;
    let n = place_test_order(&app, &c, &csrf).await;
    let base = format!("{}/orders/{n}", app.base);
    // The Fulfill form offers Carrier Fulfill (carrier scripts are loaded).
    let (_, html) = get(&c, format!("{base}/act/fulfill")).await;
    assert!(
        html.contains(&format!("href=\"/orders/{n}/carrier\"")),
        "{html}"
    );
    let (s, html) = get(&c, format!("{base}/carrier")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("Get rates") && html.contains("name=\"preset\""));
    let fields = form_inputs(&html, "carrier-form");
    assert!(fields
        .iter()
        .any(|(k, v)| k == "to_country" && !v.is_empty()));
    // A refused field: kept input and the message next to it.
    let bad = with(
        &fields,
        &[("preset", ""), ("length_cm", "abc"), ("step", "rates")],
    );
    let r = post_pairs(&c, format!("{base}/carrier"), &bad).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"length_cm-error\"") && html.contains("value=\"abc\""));
    // Errors name fields as the form does, not by their internal paths.
    let bad = with(
        &fields,
        &[("preset", ""), ("length_cm", ""), ("step", "rates")],
    );
    let r = post_pairs(&c, format!("{base}/carrier"), &bad).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"length_cm-error\""), "{html}");
    assert!(
        !html.contains("package.") && !html.contains("length_cm is"),
        "{html}"
    );
    assert!(
        html.contains("href=\"#length_cm\""),
        "the summary links to the field"
    );
    let bad = with(
        &fields,
        &[
            ("preset", "Small box"),
            ("to_country", "Narnia"),
            ("step", "rates"),
        ],
    );
    let r = post_pairs(&c, format!("{base}/carrier"), &bad).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"to_country-error\""), "{html}");
    assert!(!html.contains("recipient.country"), "{html}");
    assert!(html.contains("Recipient: country"), "{html}");
    // The refused address block is open, as is one lacking its basics (this store has no
    // address yet: the shipper); the ship-from is folded to one line.
    assert!(html.contains("id=\"party-to\" open"), "{html}");
    assert!(html.contains("id=\"party-shipper\" open"), "{html}");
    assert!(!html.contains("id=\"party-from\" open"), "{html}");
    let bad = with(&fields, &[("preset", "No such box"), ("step", "rates")]);
    let r = post_pairs(&c, format!("{base}/carrier"), &bad).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("id=\"preset-error\""));
    // Get rates.
    let req = with(&fields, &[("preset", "Small box"), ("step", "rates")]);
    let r = post_pairs(&c, format!("{base}/carrier"), &req).await;
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"rates-table\""), "{html}");
    assert!(!html.contains(" 1 business days"), "{html}");
    let chosen = form_inputs(&html, "carrier-form")
        .into_iter()
        .find(|(k, _)| k == "rate")
        .expect("a rate is preselected")
        .1;
    // Review: the confirmation says it cannot be undone.
    let review = with(&req, &[("rate", chosen.as_str()), ("step", "review")]);
    let r = post_pairs(&c, format!("{base}/carrier"), &review).await;
    let html = r.text().await.unwrap();
    assert!(html.contains("cannot be undone"), "{html}");
    // Buy.
    let buy = with(&review, &[("step", "buy")]);
    let r = post_pairs(&c, format!("{base}/carrier"), &buy).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let (_, html) = get(&c, base.clone()).await;
    // The shipment shows the carrier's and service's names, not their script ids.
    let (carrier_id, service_code) = chosen.split_once('|').unwrap();
    assert!(
        !html.contains(&format!("{carrier_id} · {service_code}")),
        "{html}"
    );
    let i = html
        .find("· tracking ")
        .expect("the shipment has a tracking number")
        + "· tracking ".len();
    let tracking: String = html[i..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '<')
        .collect();
    assert!(!tracking.is_empty(), "{}", &html[i - 300..i + 100]);
    let j = html.find("/shipments/").unwrap() + 11;
    let sid: String = html[j..].chars().take_while(|c| *c != '/').collect();
    // Print label: a Code 128 SVG and the tracking number.
    let (s, label) = get(&c, format!("{base}/shipments/{sid}/label")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(label.contains("<svg") && label.contains("<rect"), "{label}");
    assert!(label.contains(&tracking));
    // Simulate the next carrier event; Track shows the history and the carrier's link.
    assert!(html.contains("Simulate next carrier event"));
    let r = post(
        &c,
        format!("{base}/shipments/{sid}/simulate"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, track) = get(&c, format!("{base}/shipments/{sid}/track")).await;
    assert!(track.contains("Shipped"), "{track}");
    assert!(
        track.contains("Open the carrier's tracking page"),
        "{track}"
    );
}

#[tokio::test]
async fn outbox_notifications_and_shipping_settings() {
    let app = spawn_app();
    let (c, csrf) = owner(&app).await;
    let token = app.create_token("shop");
    let order = api_order(
        &app,
        &token,
        &real_order_json("Rita <script>alert(1)</script>"),
    )
    .await;
    let n = order["number"].as_u64().unwrap();
    // The outbox lists the order's messages.
    let (s, html) = get(&c, format!("{}/outbox?order={n}", app.base)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("real.buyer@example.com") && html.contains("order_placed"),
        "{html}"
    );
    // No transport is configured: the page says why messages wait, and the worker leaves them
    // as they are (pending, never attempted) instead of rewriting them on every pass.
    assert!(html.contains("id=\"outbox-waiting\""), "{html}");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (_, html) = get(&c, format!("{}/outbox?order={n}", app.base)).await;
    assert!(
        !html.contains("No SMTP server is configured (Settings"),
        "{html}"
    );
    // Switches persist.
    let r = post(
        &c,
        format!("{}/settings/notifications", app.base),
        &[("csrf", &csrf), ("order_placed.email", "on")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = get(&c, format!("{}/settings/notifications", app.base)).await;
    assert!(html.contains("name=\"order_placed.email\" value=\"on\" checked"));
    assert!(!html.contains("name=\"order_placed.sms\" value=\"on\" checked"));
    assert!(!html.contains("name=\"shipment_updated.email\" value=\"on\" checked"));
    // The password is never echoed and is kept when left blank.
    let transports = |pw: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("smtp_host", "smtp.example.com".to_string()),
            ("smtp_port", "587".to_string()),
            ("smtp_tls", "starttls".to_string()),
            ("smtp_username", "shop".to_string()),
            ("smtp_password", pw.to_string()),
            ("smtp_from", "shop@example.com".to_string()),
            ("sms_url", "https://sms.example.com/send".to_string()),
            ("sms_auth_header", String::new()),
        ]
    };
    let r = c
        .post(format!("{}/settings/notifications/transports", app.base))
        .form(&transports("s3cret-pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let mut bad = transports("");
    bad[2].1 = "notaport".into();
    let r = c
        .post(format!("{}/settings/notifications/transports", app.base))
        .form(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"smtp_port-error\"") && html.contains("value=\"notaport\""));
    let (_, html) = get(&c, format!("{}/settings/notifications", app.base)).await;
    assert!(!html.contains("s3cret-pw"));
    assert!(html.contains("value=\"smtp.example.com\"") && html.contains("(set)"));
    // Preview renders the subject (and escapes what a customer typed).
    let r = post(
        &c,
        format!("{}/settings/notifications/preview", app.base),
        &[
            ("csrf", &csrf),
            ("event", "order_placed"),
            ("order", &n.to_string()),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"preview-subject\""), "{html}");
    // The HTML e-mail is shown in a sandboxed frame, escaped into its srcdoc attribute.
    let i = html.find("sandbox=\"\"").expect("a sandboxed HTML preview");
    let frame = &html[i..i + html[i..].find("</iframe>").unwrap()];
    assert!(frame.contains("srcdoc=\"&#60;") && !frame.contains("srcdoc=\"<"));
    assert!(!html.contains("<script>alert(1)"));
    // Send test → the outbox.
    let r = post(
        &c,
        format!("{}/settings/notifications/test", app.base),
        &[
            ("csrf", &csrf),
            ("channel", "email"),
            ("to", "<script>x</script>@example.com"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = get(&c, format!("{}/outbox", app.base)).await;
    assert!(html.contains("&#60;script&#62;x&#60;"), "{html}");
    assert!(!html.contains("<script>x"));
    // Shipping presets: add (escaped), refuse a bad one next to its field, remove.
    let add = |name: &'static str, len: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", name.to_string()),
            ("length_cm", len.to_string()),
            ("width_cm", "10".to_string()),
            ("height_cm", "5".to_string()),
            ("weight_grams", "100".to_string()),
        ]
    };
    let url = format!("{}/settings/shipping/presets", app.base);
    let r = c
        .post(&url)
        .form(&add("<script>box</script>", "20"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = c.post(&url).form(&add("Tube", "0")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"length_cm-error\"") && html.contains("value=\"Tube\""));
    let (_, html) = get(&c, format!("{}/settings/shipping", app.base)).await;
    assert!(html.contains("&#60;script&#62;box") && !html.contains("<script>box"));
    let r = post(
        &c,
        format!("{url}/remove"),
        &[("csrf", &csrf), ("name", "<script>box</script>")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = get(&c, format!("{}/settings/shipping", app.base)).await;
    assert!(!html.contains("<td>&#60;script&#62;box"));
}

#[tokio::test]
async fn a_broken_script_on_reload_keeps_the_old_scripts() {
    let scripts = tempfile::tempdir().unwrap();
    let app = App::builder()
        .arg("--scripts-dir")
        .arg(scripts.path())
        .spawn();
    let (c, csrf) = owner(&app).await;
    let (s, html) = get(&c, format!("{}/settings/scripts", app.base)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("order_placed") && html.contains("Built in"),
        "{html}"
    );
    std::fs::create_dir_all(scripts.path().join("notifications")).unwrap();
    std::fs::write(
        scripts.path().join("notifications/order_placed.rhai"),
        "fn email(ctx) {\n  let x = ;\n}\n",
    )
    .unwrap();
    let r = post(
        &c,
        format!("{}/settings/scripts/reload", app.base),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("old scripts stay in force"), "{html}");
    assert!(html.contains("order_placed.rhai:2:"), "{html}");
    assert!(
        !html.contains("Scripts folder</td>"),
        "the old (built-in) scripts are listed"
    );
    // Fixed: the reload succeeds and the folder's script is in force.
    std::fs::remove_file(scripts.path().join("notifications/order_placed.rhai")).unwrap();
    let r = post(
        &c,
        format!("{}/settings/scripts/reload", app.base),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn hostile_form_posts_never_fail_and_refused_ones_change_nothing() {
    let app = spawn_app();
    let (c, csrf) = owner(&app).await;
    let token = app.create_token("inspector");
    let base = app.base.clone();
    let n = place_test_order(&app, &c, &csrf).await;
    let order = |c: Client| {
        let url = format!("{base}/api/v1/orders/{n}");
        let token = token.clone();
        async move {
            let r = c.get(url).bearer_auth(token).send().await.unwrap();
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let first = order(cookie_client()).await;
    let item_ids: Vec<String> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    let long = "x".repeat(10_000);
    let values: Vec<&str> = vec![
        "",
        "-1",
        "0",
        "1e9",
        "99999999999999999999",
        "1.123456789",
        "NaN",
        "12abc",
        "<script>alert(1)</script>",
        "\u{0}",
        "\u{202e}",
        "１２",
        "' OR 1=1 --",
        "../../etc/passwd",
        "international",
        "in_store_pickup",
        "delivered",
        "true",
        &long,
    ];
    let fields = [
        "amount",
        "reference",
        "refund_shipping",
        "adjustment_refund",
        "adjustment_fee",
        "reason",
        "shipping_point",
        "carrier",
        "tracking_number",
        "refund",
        "status",
        "expected_delivery",
    ];
    let mut sent = 0;
    for (k, action) in [
        "payment", "refund", "fulfill", "return", "cancel", "dispatch",
    ]
    .iter()
    .enumerate()
    {
        for (j, v) in values.iter().enumerate() {
            for step in ["review", "confirm"] {
                let before = order(cookie_client()).await;
                let mut form: Vec<(String, String)> =
                    vec![("csrf".into(), csrf.clone()), ("step".into(), step.into())];
                for (f_i, f) in fields.iter().enumerate() {
                    // Vary which field gets the hostile value; the others get another one.
                    let val = if (f_i + j + k) % 3 == 0 {
                        *v
                    } else {
                        values[(j + f_i) % values.len()]
                    };
                    form.push((f.to_string(), val.to_string()));
                }
                for id in &item_ids {
                    form.push((format!("qty_{id}"), v.to_string()));
                }
                let r = c
                    .post(format!("{base}/orders/{n}/act/{action}"))
                    .form(&form)
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                assert!(
                    status.as_u16() < 500,
                    "{action} {step} with {v:?}: {status}"
                );
                sent += 1;
                if status != StatusCode::SEE_OTHER {
                    let after = order(cookie_client()).await;
                    assert_eq!(
                        before, after,
                        "{action} {step} with {v:?} was refused ({status}) but changed the order"
                    );
                }
            }
        }
        // Notes and customer changes with hostile values.
        for v in &values {
            let r = post(
                &c,
                format!("{base}/orders/{n}/notes"),
                &[("csrf", &csrf), ("body", v)],
            )
            .await;
            assert!(r.status().as_u16() < 500, "note {v:?}");
            let before = order(cookie_client()).await;
            let r = post(
                &c,
                format!("{base}/orders/{n}/customer"),
                &[("csrf", &csrf), ("customer_id", v)],
            )
            .await;
            assert!(r.status().as_u16() < 500, "customer {v:?}");
            if r.status() != StatusCode::SEE_OTHER {
                assert_eq!(before, order(cookie_client()).await);
            }
            sent += 2;
        }
    }
    assert!(sent > 400, "sent {sent}");
    // The server still answers, and every page still renders.
    let (s, _) = get(&c, format!("{base}/orders/{n}")).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn setup_asks_for_the_store_e_mail_and_a_store_without_one_is_warned() {
    let app = spawn_app();
    let c = cookie_client();
    let link = app.setup_link.clone().unwrap();
    let html = c.get(&link).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("id=\"store_email\""), "{html}");
    let csrf = input_value(&html, "csrf").unwrap();
    let token = input_value(&html, "token").unwrap();
    let r = post(
        &c,
        format!("{}/setup", app.base),
        &[
            ("csrf", &csrf),
            ("token", &token),
            ("display_name", "Olive Owner"),
            ("username", "olive"),
            ("store_name", "Alder & Co"),
            ("store_email", ""),
            ("password", OWNER_PASSWORD),
            ("password_confirm", OWNER_PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("Store e-mail is required"), "{html}");
    // Nothing was created: the link still works.
    let (s, _) = get(&c, link.clone()).await;
    assert_eq!(s, StatusCode::OK);

    // With the e-mail, the store has it and no warning shows.
    let (c, _) = owner(&app).await;
    let (_, orders) = get(&c, format!("{}/orders", app.base)).await;
    assert!(!orders.contains("no-store-email"), "{orders}");
    // Cleared later in Settings: the Orders and Outbox pages say so.
    app.set_setting("store.email", "");
    let (_, orders) = get(&c, format!("{}/orders", app.base)).await;
    assert!(orders.contains("id=\"no-store-email\""), "{orders}");
    let (_, outbox) = get(&c, format!("{}/outbox", app.base)).await;
    assert!(outbox.contains("id=\"no-store-email\""), "{outbox}");
}

#[tokio::test]
async fn the_cancel_review_names_its_buttons_so_no_one_cancels_by_mistake() {
    let app = spawn_app();
    let (c, csrf) = owner(&app).await;
    let base = app.base.clone();
    let token = app.create_token("storefront");
    let o = api_order(&app, &token, &real_order_json("Kim Keep")).await;
    let n = o["number"].as_u64().unwrap();
    let r = post(
        &c,
        format!("{base}/orders/{n}/act/cancel"),
        &[
            ("csrf", &csrf),
            ("reason", "Customer asked"),
            ("step", "review"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains(">Cancel this order<"), "{html}");
    assert!(html.contains(">Keep the order<"), "{html}");
    assert!(!html.contains(">Cancel<"), "no bare Cancel button: {html}");
}

#[tokio::test]
async fn a_refused_setup_link_offers_no_way_back_to_orders_that_cannot_open() {
    let app = spawn_app();
    let (s, html) = get(&cookie_client(), format!("{}/setup", app.base)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(html.contains("one-time link"), "{html}");
    assert!(!html.contains("Back to the orders"), "{html}");
}

#[tokio::test]
async fn a_page_that_found_nothing_yet_says_still_searching_never_no_orders() {
    // A small scan budget stands in for a large store: each page looks through 20 orders (of
    // the embedded store's indexes; PostgreSQL plans its own reads).
    let app = App::builder()
        .embedded()
        .token("shop")
        .arg("--scan-budget")
        .arg("20")
        .spawn();
    // The one paid order has the smallest total; 30 unpaid ones come before it by total.
    let mut paid = order_body("Paula Paid", "paula@example.com");
    paid["payment"] = serde_json::json!({"method": "card", "paid": true});
    let paid = app.place(paid).await;
    for i in 0..30 {
        let mut b = order_body(&format!("Una Unpaid {i}"), "una@example.com");
        b["payment"] = serde_json::json!({"method": "money_transfer"});
        b["items"][0]["quantity"] = serde_json::json!(3 + i);
        app.place(b).await;
    }
    let (c, _) = owner(&app).await;
    let base = &app.base;
    let (s, html) = get(
        &c,
        format!("{base}/orders?payment_status=paid&fulfillment_status=unfulfilled&sort=-total"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(!html.contains("No orders match"), "{html}");
    assert!(html.contains("Still searching"), "{html}");
    let next = html
        .split("rel=\"next\">")
        .next()
        .and_then(|h| h.rsplit("href=\"").next())
        .and_then(|h| h.split('"').next())
        .expect("a link to keep looking")
        .replace("&amp;", "&");
    assert!(html.contains("Keep looking →"), "{html}");
    // Following it finds the order.
    let (_, html) = get(&c, format!("{base}{next}")).await;
    let number = paid["number"].as_u64().unwrap();
    assert!(
        html.contains(&format!("href=\"/orders/{number}\"")),
        "{html}"
    );
    assert!(!html.contains("Still searching"), "{html}");
}

#[tokio::test]
async fn the_owner_adds_watches_resends_and_removes_webhook_endpoints() {
    use common::receiver::{Receiver, Reply};
    let rx = Receiver::start(&[Reply::Status(204)]).await;
    let app = spawn_app();
    let (c, csrf) = owner(&app).await;
    let base = &app.base;
    let (s, html) = get(&c, format!("{base}/settings/webhooks")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("No endpoints yet"), "{html}");
    // Refused: the reason at the top and at its field, the input kept.
    let r = post(
        &c,
        format!("{base}/settings/webhooks"),
        &[
            ("csrf", &csrf),
            ("url", "ftp://shop.example/in"),
            ("events", "order.created"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("URL must start with http:// or https://"),
        "{html}"
    );
    assert!(html.contains("value=\"ftp://shop.example/in\""));
    assert!(html.contains("value=\"order.created\" checked"));
    let r = post(
        &c,
        format!("{base}/settings/webhooks"),
        &[("csrf", &csrf), ("url", &rx.url("/in"))],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Events must name at least one event"));
    // Added: its page shows the secret and an empty log.
    let r = post(
        &c,
        format!("{base}/settings/webhooks"),
        &[
            ("csrf", &csrf),
            ("url", &rx.url("/in")),
            ("events", "order.created"),
            ("events", "order.updated"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = r.headers()[LOCATION].to_str().unwrap().to_string();
    let (_, html) = get(&c, format!("{base}{page}")).await;
    assert!(html.contains("whsec_"), "{html}");
    assert!(html.contains("Nothing was sent to this endpoint yet"));
    assert!(html.contains("order.created, order.updated"));
    // An order: the delivery arrives and is logged with the receiver's answer.
    let n = place_test_order(&app, &c, &csrf).await;
    let got = rx.wait_for(1, 10).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["order"]["number"], n);
    let delivery = got[0].header("X-Orderdeck-Delivery").unwrap().to_string();
    let mut html = String::new();
    for _ in 0..50 {
        html = get(&c, format!("{base}{page}")).await.1;
        if html.contains("HTTP 204") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        html.contains("HTTP 204") && html.contains("Delivering"),
        "{html}"
    );
    assert!(html.contains(&format!("delivery-{delivery}")));
    let r = post(
        &c,
        format!("{base}{page}/deliveries/{delivery}/resend"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let got = rx.wait_for(2, 10).await;
    assert_eq!(
        got[1].header("X-Orderdeck-Delivery"),
        Some(delivery.as_str())
    );
    // The list shows it as delivering; removing it empties the list.
    let (_, html) = get(&c, format!("{base}/settings/webhooks")).await;
    assert!(html.contains(&rx.url("/in")) && html.contains("Delivering"));
    let r = post(&c, format!("{base}{page}/remove"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = get(&c, format!("{base}/settings/webhooks")).await;
    assert!(html.contains("No endpoints yet"));
    assert_eq!(
        get(&c, format!("{base}{page}")).await.0,
        StatusCode::NOT_FOUND
    );
    // Staff cannot see or change webhooks.
    let (s, s_csrf) = add_staff(&app, &c, &csrf).await;
    assert_eq!(
        get(&s, format!("{base}/settings/webhooks")).await.0,
        StatusCode::FORBIDDEN
    );
    let r = post(
        &s,
        format!("{base}/settings/webhooks"),
        &[
            ("csrf", &s_csrf),
            ("url", &rx.url("/x")),
            ("events", "order.created"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn packing_slips_and_invoices_print_the_right_things() {
    let app = spawn_app();
    let (c, csrf) = owner(&app).await;
    let base = &app.base;
    let token = app.create_token("storefront");
    let _ = csrf;
    let mut body = order_body("Ann Lee", "ann@example.com");
    body["billing_address"] = serde_json::json!({"name": "Lee Holdings", "line1": "9 Bill Rd",
        "city": "Leeds", "country": "GB"});
    body["tax"] = serde_json::json!("2.50");
    let a = api_order(&app, &token, &body).await;
    let b = api_order(&app, &token, &order_body("Bo Chen", "bo@example.com")).await;
    let (na, nb) = (a["number"].as_u64().unwrap(), b["number"].as_u64().unwrap());
    // The order page links to both.
    let (_, html) = get(&c, format!("{base}/orders/{na}")).await;
    assert!(html.contains(&format!("/orders/{na}/packing-slip")));
    assert!(html.contains(&format!("/orders/{na}/invoice")));
    // A packing slip: items with SKU, variant and quantity; no prices or totals.
    let (s, slip) = get(&c, format!("{base}/orders/{na}/packing-slip")).await;
    assert_eq!(s, StatusCode::OK);
    for text in [
        "TEE-M",
        "Organic T-Shirt",
        "· M",
        "MUG-1",
        "Enamel Mug",
        "Ship to",
        "Ann Lee",
    ] {
        assert!(slip.contains(text), "the slip lacks {text}");
    }
    for text in ["20.00", "Total", "Unit price", "Bill to", "Lee Holdings"] {
        assert!(!slip.contains(text), "the slip shows {text}");
    }
    assert!(slip.contains(&format!("#{na}")) && slip.contains("/static/print.css"));
    // An invoice: prices, totals, the billing address, the payment.
    let (s, inv) = get(&c, format!("{base}/orders/{na}/invoice")).await;
    assert_eq!(s, StatusCode::OK);
    let total = a["totals"]["total"].as_str().unwrap();
    for text in [
        "Unit price",
        "20.00",
        "40.00",
        "2.50",
        total,
        "Balance due",
        "Bill to",
        "Lee Holdings",
        "9 Bill Rd",
        "Payment: Card",
    ] {
        assert!(inv.contains(text), "the invoice lacks {text}");
    }
    // Several orders: one sheet each, in the order asked.
    let (s, many) = get(
        &c,
        format!("{base}/orders/packing-slips?orders={nb},{na},{nb}"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(many.matches("class=\"sheet\"").count(), 2);
    let (ia, ib) = (
        many.find(&format!("id=\"sheet-{na}\"")).unwrap(),
        many.find(&format!("id=\"sheet-{nb}\"")).unwrap(),
    );
    assert!(ib < ia);
    let (s, many) = get(&c, format!("{base}/orders/invoices?orders={na},{nb}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(many.matches("class=\"sheet\"").count(), 2);
    // Refused: no list, a bad number, an unknown order.
    assert_eq!(
        get(&c, format!("{base}/orders/packing-slips")).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&c, format!("{base}/orders/packing-slips?orders=1001,x"))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&c, format!("{base}/orders/invoices?orders={na},999999"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&c, format!("{base}/orders/999999/invoice")).await.0,
        StatusCode::NOT_FOUND
    );
}
