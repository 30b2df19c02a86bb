//! Documents of a shipment: its tracking page (status history and the carrier's tracking link)
//! and its printable 4×6 label with a Code 128 barcode.

use super::actions::shipment;
use super::order::describe;
use super::{ok, when, Chrome, PageError};
use crate::domain::{Order, ShipmentId, ShipmentKind};
use crate::web::auth::SignedIn;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "orders/track.html")]
struct TrackPage {
    chrome: Chrome,
    number: u64,
    title: String,
    status: &'static str,
    status_label: &'static str,
    carrier: String,
    tracking: String,
    tracking_url: Option<String>,
    expected: String,
    items: String,
    history: Vec<(String, &'static str, &'static str)>,
}

pub(super) fn track(
    req: &HttpRequest,
    who: &SignedIn,
    order: &Order,
    sid: &str,
) -> Result<HttpResponse, PageError> {
    let id = sid
        .parse::<ShipmentId>()
        .map_err(|_| PageError::NotFound("No such shipment on this order".into()))?;
    let s = shipment(order, id)?;
    let p = TrackPage {
        chrome: Chrome::new(req, who, "orders", "Track shipment"),
        number: order.number,
        title: format!("Track shipment of #{}", order.number),
        status: s.status.as_str(),
        status_label: s.status.label(),
        carrier: s.carrier_line(),
        tracking: s.tracking_number.clone().unwrap_or_default(),
        tracking_url: s
            .tracking_url
            .clone()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
        expected: s
            .expected_delivery
            .map(|d| d.to_string())
            .unwrap_or_default(),
        items: describe(order, &s.items),
        history: s
            .history
            .iter()
            .rev()
            .map(|h| (when(h.at), h.status.as_str(), h.status.label()))
            .collect(),
    };
    Ok(ok(req, &p.chrome, &p))
}

#[derive(Template)]
#[template(path = "orders/label.html")]
struct LabelPage {
    chrome: Chrome,
    number: u64,
    carrier: String,
    tracking: String,
    ship_to: Vec<String>,
    items: String,
    details: Vec<(String, String)>,
    /// Code 128 of the tracking number as inline SVG (from `barcoders`); None if it cannot be
    /// encoded (non-ASCII characters).
    barcode: Option<String>,
    from: Vec<String>,
    service: String,
    package: String,
}

pub(super) fn label(
    req: &HttpRequest,
    who: &SignedIn,
    order: &Order,
    sid: &str,
) -> Result<HttpResponse, PageError> {
    let id = sid
        .parse::<ShipmentId>()
        .map_err(|_| PageError::NotFound("No such shipment on this order".into()))?;
    let s = shipment(order, id)?;
    if s.kind != ShipmentKind::Carrier {
        return Err(PageError::NotFound(
            "Only carrier shipments have a label.".into(),
        ));
    }
    let tracking = s.tracking_number.clone().unwrap_or_default();
    let barcode = code128_svg(&tracking);
    let l = &s.label;
    let lv = |k: &str| l.get(k).cloned().unwrap_or_default();
    let lines = |prefix: &str| -> Vec<String> {
        [
            "name", "company", "line1", "line2", "city", "country", "phone",
        ]
        .iter()
        .map(|k| lv(&format!("{prefix}.{k}")))
        .filter(|v| !v.trim().is_empty())
        .collect()
    };
    let a = &order.shipping_address;
    let p = LabelPage {
        chrome: Chrome::new(req, who, "orders", "Shipping label"),
        number: order.number,
        carrier: l
            .get("carrier_name")
            .cloned()
            .or_else(|| s.carrier.clone())
            .unwrap_or_default(),
        tracking,
        ship_to: if l.contains_key("to.name") {
            lines("to")
        } else {
            [
                a.name.clone(),
                a.line1.clone(),
                a.line2.clone(),
                format!("{} {} {}", a.postal_code, a.city, a.region),
                a.country.clone(),
            ]
            .into_iter()
            .filter(|l| !l.trim().is_empty())
            .collect()
        },
        items: describe(order, &s.items),
        from: lines("from"),
        service: lv("service_name"),
        package: lv("package"),
        // The rest of the carrier's label data (addresses, carrier and package are shown above).
        details: s
            .label
            .iter()
            .filter(|(k, v)| {
                !v.trim().is_empty()
                    && !k.starts_with("to.")
                    && !k.starts_with("from.")
                    && !matches!(k.as_str(), "carrier_name" | "service_name" | "package")
            })
            .map(|(k, v)| (readable_key(k), v.clone()))
            .collect(),
        barcode,
    };
    Ok(ok(req, &p.chrome, &p))
}

/// A carrier script's label key as a person reads it: `chargeable_weight` → "Chargeable weight".
fn readable_key(key: &str) -> String {
    let words = key.replace(['_', '.'], " ");
    let mut chars = words.trim().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The Code 128 barcode (character set B) of `data` as an SVG element, drawn by `barcoders`.
pub fn code128_svg(data: &str) -> Option<String> {
    use barcoders::generators::svg::SVG;
    use barcoders::sym::code128::Code128;
    if data.is_empty() || !data.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return None;
    }
    let code = Code128::new(format!("\u{0181}{data}")).ok()?;
    let svg = SVG::new(80).xdim(2).generate(code.encode()).ok()?;
    // The crate's markup; only digits, hex colours and our fixed attributes, never user text.
    Some(svg.replacen(
        "<svg ",
        "<svg class=\"barcode\" role=\"img\" aria-label=\"Code 128 barcode\" preserveAspectRatio=\"none\" ",
        1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keys_read_as_words() {
        assert_eq!(readable_key("chargeable_weight"), "Chargeable weight");
        assert_eq!(readable_key("insured_value"), "Insured value");
        assert_eq!(readable_key("zone"), "Zone");
        assert_eq!(readable_key(""), "");
    }
}
