//! Helpers for tests that drive the merchant's pages over HTTP.

use super::{client_builder, App};
use reqwest::{Client, StatusCode};

/// An HTTP client for the pages: keeps cookies (session, flash) and does not follow redirects.
pub fn cookie_client() -> reqwest::Client {
    client_builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The value of `<input ... name="NAME" value="VALUE">` in a page (first match).
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\" value=\"");
    let i = html.find(&needle)? + needle.len();
    let end = html[i..].find('"')?;
    Some(html[i..i + end].to_string())
}

/// A real (not test) order as a storefront would send it.
pub fn real_order_json(name: &str) -> serde_json::Value {
    serde_json::json!({
        "customer": {"name": name, "email": "real.buyer@example.com", "phone": "+1 555 010 0000"},
        "shipping_address": {"name": name, "line1": "1 Real Street", "city": "Portland", "region": "OR", "postal_code": "97205", "country": "US"},
        "items": [{"sku": "REAL-1", "name": "Real Thing", "unit_price": "12.00", "quantity": 2}],
        "shipping": {"method": "Standard", "price": "5.00"},
        "payment": {"method": "card", "paid": true}
    })
}

/// The owner's password in every test that sets one up.
pub const OWNER_PASSWORD: &str = "correct horse battery";

/// Fills the setup form behind `link` and posts it to `base` (the owner "olive"); returns the
/// answer (303 when the owner was created).
pub async fn post_setup(
    c: &reqwest::Client,
    link: &str,
    base: &str,
    username: &str,
) -> reqwest::Response {
    let html = c.get(link).send().await.unwrap().text().await.unwrap();
    let csrf = input_value(&html, "csrf").expect("setup form has a CSRF token");
    let token = input_value(&html, "token").expect("setup form carries the token");
    c.post(format!("{base}/setup"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("token", token.as_str()),
            ("display_name", "Olive Owner"),
            ("username", username),
            ("store_name", "My Store"),
            ("store_email", "olive@example.com"),
            ("password", OWNER_PASSWORD),
            ("password_confirm", OWNER_PASSWORD),
        ])
        .send()
        .await
        .unwrap()
}

/// Posts the sign-in form at `base`; returns the answer (303 when signed in, 401 for a wrong
/// password, 429 when slowed down).
pub async fn post_login(
    c: &reqwest::Client,
    base: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let html = c
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = input_value(&html, "csrf").expect("login form has a CSRF token");
    c.post(format!("{base}/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", username),
            ("password", password),
            ("next", "/orders"),
        ])
        .send()
        .await
        .unwrap()
}

/// Creates the owner through the setup link and signs in; returns the client and its CSRF token.
pub async fn owner(app: &App) -> (Client, String) {
    let c = cookie_client();
    let link = app
        .setup_link
        .clone()
        .expect("a setup link is printed on first start");
    let r = post_setup(&c, &link, &app.base, "olive").await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let csrf = sign_in(app, &c, "olive", OWNER_PASSWORD).await;
    (c, csrf)
}

/// Signs in with `c`; returns the session's CSRF token.
pub async fn sign_in(app: &App, c: &Client, user: &str, password: &str) -> String {
    let r = post_login(c, &app.base, user, password).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "sign-in failed: {}",
        r.text().await.unwrap()
    );
    let html = c
        .get(format!("{}/orders", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    input_value(&html, "csrf").expect("signed-in pages carry the CSRF token")
}

pub async fn get(c: &Client, url: String) -> (StatusCode, String) {
    let r = c.get(url).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

pub async fn post(c: &Client, url: String, form: &[(&str, &str)]) -> reqwest::Response {
    c.post(url).form(form).send().await.unwrap()
}
