//! Helpers for tests that drive the merchant's pages over HTTP.

use super::client_builder;

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
