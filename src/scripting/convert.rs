//! Values across the Rust/Rhai boundary: JSON and rate requests into Rhai maps, and the maps
//! scripts return checked field by field into Rust types (with messages naming the field).

use super::sandbox::{display, round_money, to_decimal};
use crate::domain::notifications::{Rendered, RenderedEmail};
use crate::domain::shipping::{CarrierInfo, Party, RateRequest, ServiceInfo};
use chrono::{Datelike, NaiveDate, Weekday};
use rhai::{Array, Dynamic, Map};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// JSON as a Rhai value: objects become maps, `null` becomes `()`.
pub(crate) fn json_to_dynamic(v: &serde_json::Value) -> Result<Dynamic, String> {
    rhai::serde::to_dynamic(v).map_err(|e| e.to_string())
}

/// Rhai's name for a value's type, for messages.
fn kind(v: &Dynamic) -> &'static str {
    if v.is_unit() {
        "()"
    } else if v.is_string() {
        "a string"
    } else if v.is_map() {
        "a map"
    } else if v.is_array() {
        "an array"
    } else if v.is_int() || v.is_float() || v.is_decimal() {
        "a number"
    } else if v.is_bool() {
        "a boolean"
    } else {
        "a value of another type"
    }
}

fn take_map(v: Dynamic, what: &str) -> Result<Map, String> {
    let k = kind(&v);
    v.try_cast::<Map>()
        .ok_or_else(|| format!("{k} for {what}; expected a map #{{…}}"))
}

fn check_keys(map: &Map, allowed: &[&str], what: &str) -> Result<(), String> {
    for k in map.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(format!(
                "an unknown key `{k}` in {what} (allowed: {})",
                allowed.join(", ")
            ));
        }
    }
    Ok(())
}

/// An optional string field: absent or `()` is `None`; a blank string is `None` too.
fn opt_string(map: &Map, key: &str, what: &str) -> Result<Option<String>, String> {
    match map.get(key) {
        None => Ok(None),
        Some(v) if v.is_unit() => Ok(None),
        Some(v) => match v.clone().into_immutable_string() {
            Ok(s) if s.trim().is_empty() => Ok(None),
            Ok(s) => Ok(Some(s.to_string())),
            Err(_) => Err(format!("{} for {what}.{key}; expected a string", kind(v))),
        },
    }
}

fn req_string(map: &Map, key: &str, what: &str) -> Result<String, String> {
    opt_string(map, key, what)?
        .ok_or_else(|| format!("no {what}.{key}; it must be a non-empty string"))
}

/// `render(ctx)`'s result: `()` (send nothing) or `#{email: #{subject, text, html}, sms}`.
pub(crate) fn rendered(v: Dynamic) -> Result<Option<Rendered>, String> {
    if v.is_unit() {
        return Ok(None);
    }
    let map = take_map(v, "the message").map_err(|e| {
        format!("{e} like #{{email: #{{subject, text, html}}, sms}}, or () to send nothing")
    })?;
    check_keys(&map, &["email", "sms"], "the message")?;
    let email = match map.get("email") {
        None => None,
        Some(e) if e.is_unit() => None,
        Some(e) => {
            let m = take_map(e.clone(), "email")?;
            check_keys(&m, &["subject", "text", "html"], "email")?;
            let subject = req_string(&m, "subject", "email")?;
            if subject.contains(['\r', '\n']) {
                return Err("an email.subject with a line break; it must be one line".into());
            }
            if subject.chars().count() > 300 {
                return Err("an email.subject longer than 300 characters".into());
            }
            Some(RenderedEmail {
                subject: subject.trim().to_string(),
                text: req_string(&m, "text", "email")?,
                html: opt_string(&m, "html", "email")?,
            })
        }
    };
    let sms = opt_string(&map, "sms", "the message")?.map(|s| s.trim().to_string());
    if email.is_none() && sms.is_none() {
        return Ok(None);
    }
    Ok(Some(Rendered { email, sms }))
}

fn party(p: &Party) -> Dynamic {
    let mut m = Map::new();
    let mut put = |k: &str, v: &str| {
        m.insert(k.into(), Dynamic::from(v.trim().to_string()));
    };
    put("name", &p.name);
    put("company", &p.company);
    put("phone", &p.phone);
    put("email", &p.email);
    put("line1", &p.line1);
    put("line2", &p.line2);
    put("city", &p.city);
    put("region", &p.region);
    put("postal_code", &p.postal_code.to_uppercase());
    put("country", &p.country.to_uppercase());
    Dynamic::from_map(m)
}

fn int(n: u64) -> Dynamic {
    Dynamic::from_int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// The request map carrier scripts receive (documented in `scripts/README.md`).
pub(crate) fn request_to_dynamic(r: &RateRequest, seed: &str) -> Dynamic {
    let items: Array = r
        .items
        .iter()
        .map(|i| {
            let mut m = Map::new();
            m.insert("sku".into(), Dynamic::from(i.sku.clone()));
            m.insert("name".into(), Dynamic::from(i.name.clone()));
            m.insert("quantity".into(), int(u64::from(i.quantity)));
            m.insert("weight_grams".into(), int(u64::from(i.weight_grams)));
            m.insert("unit_price".into(), Dynamic::from_decimal(i.unit_price));
            Dynamic::from_map(m)
        })
        .collect();
    let mut package = Map::new();
    package.insert(
        "preset".into(),
        r.package
            .preset
            .clone()
            .map_or(Dynamic::UNIT, Dynamic::from),
    );
    package.insert(
        "length_cm".into(),
        Dynamic::from_decimal(r.package.length_cm),
    );
    package.insert("width_cm".into(), Dynamic::from_decimal(r.package.width_cm));
    package.insert(
        "height_cm".into(),
        Dynamic::from_decimal(r.package.height_cm),
    );
    package.insert("weight_grams".into(), int(r.weight_grams()));
    let origin = r.origin();
    let mut m = Map::new();
    m.insert("items".into(), Dynamic::from_array(items));
    // `package` is a reserved word in Rhai: scripts see the parcel as `request.parcel`.
    m.insert("parcel".into(), Dynamic::from_map(package));
    m.insert("weight_grams".into(), int(r.weight_grams()));
    m.insert("recipient".into(), party(&r.recipient));
    m.insert("shipper".into(), party(&r.shipper));
    m.insert("ship_from".into(), party(origin));
    m.insert(
        "domestic".into(),
        Dynamic::from_bool(
            origin
                .country
                .trim()
                .eq_ignore_ascii_case(r.recipient.country.trim()),
        ),
    );
    m.insert(
        "drop_off_date".into(),
        Dynamic::from(r.drop_off_date.format("%Y-%m-%d").to_string()),
    );
    m.insert(
        "drop_off_weekday".into(),
        Dynamic::from(r.drop_off_date.format("%a").to_string()),
    );
    m.insert("insurance".into(), Dynamic::from_decimal(r.insurance));
    m.insert("declared_value".into(), Dynamic::from_decimal(r.declared()));
    m.insert("items_value".into(), Dynamic::from_decimal(r.items_value()));
    m.insert(
        "dangerous_goods".into(),
        Dynamic::from_bool(r.dangerous_goods),
    );
    m.insert("signature".into(), Dynamic::from_bool(r.signature));
    m.insert(
        "currency".into(),
        Dynamic::from(r.currency.trim().to_uppercase()),
    );
    m.insert("seed".into(), Dynamic::from(seed.to_string()));
    Dynamic::from_map(m)
}

fn valid_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// `carrier()`'s result: `#{name, services: [#{code, name}]}`.
pub(crate) fn carrier_info(id: &str, v: Dynamic) -> Result<CarrierInfo, String> {
    let map = take_map(v, "the carrier")?;
    check_keys(&map, &["name", "services"], "the carrier")?;
    let name = req_string(&map, "name", "carrier")?;
    let services = map
        .get("services")
        .cloned()
        .and_then(|s| s.try_cast::<Array>())
        .ok_or("no services array; expected services: [#{code, name}, …]")?;
    if services.is_empty() {
        return Err("an empty services array; a carrier needs at least one service".into());
    }
    let mut out: Vec<ServiceInfo> = Vec::new();
    for (i, s) in services.into_iter().enumerate() {
        let what = format!("services[{i}]");
        let m = take_map(s, &what)?;
        check_keys(&m, &["code", "name"], &what)?;
        let code = req_string(&m, "code", &what)?;
        if !valid_code(&code) {
            return Err(format!(
                "{what}.code {code:?}; codes use only a-z, 0-9, '_' and '-'"
            ));
        }
        if out.iter().any(|x| x.code == code) {
            return Err(format!("the service code {code:?} twice"));
        }
        out.push(ServiceInfo {
            code,
            name: req_string(&m, "name", &what)?,
        });
    }
    Ok(CarrierInfo {
        id: id.to_string(),
        name,
        services: out,
    })
}

/// One checked quote from `rates()`.
pub(crate) struct Quote {
    pub service: String,
    pub price: Decimal,
    pub currency: String,
    pub days: u32,
}

/// What `rates()` said.
pub(crate) enum Quotes {
    Rates(Vec<Quote>),
    Declined(String),
}

/// `rates(request)`'s result: `[#{service, price, currency?, days}]`, `#{declined: reason}`,
/// or `()` (nothing to offer).
pub(crate) fn rates(v: Dynamic, info: &CarrierInfo, currency: &str) -> Result<Quotes, String> {
    if v.is_unit() {
        return Ok(Quotes::Rates(Vec::new()));
    }
    if v.is_map() {
        let map = take_map(v, "the rates")?;
        check_keys(&map, &["declined"], "a refusal")?;
        let reason = map.get("declined").map(display).unwrap_or_default();
        let reason = reason.trim();
        return Ok(Quotes::Declined(if reason.is_empty() {
            "declined".to_string()
        } else {
            reason.to_string()
        }));
    }
    let k = kind(&v);
    let list = v.try_cast::<Array>().ok_or_else(|| {
        format!("{k}; expected an array of #{{service, price, days}} or #{{declined: reason}}")
    })?;
    let mut out = Vec::with_capacity(list.len());
    for (i, q) in list.into_iter().enumerate() {
        let what = format!("rates[{i}]");
        let m = take_map(q, &what)?;
        check_keys(&m, &["service", "price", "currency", "days"], &what)?;
        let service = req_string(&m, "service", &what)?;
        if info.service_name(&service).is_none() {
            return Err(format!(
                "{what}.service {service:?}, which carrier() does not list"
            ));
        }
        let price = m
            .get("price")
            .ok_or_else(|| format!("no {what}.price"))
            .and_then(|p| to_decimal(p).map_err(|e| format!("{what}.price: {e}")))?;
        if price.is_sign_negative() && !price.is_zero() {
            return Err(format!("a negative {what}.price"));
        }
        let days = m
            .get("days")
            .and_then(|d| d.as_int().ok())
            .ok_or_else(|| format!("no {what}.days; expected a whole number of business days"))?;
        let days = u32::try_from(days)
            .ok()
            .filter(|d| *d <= 365)
            .ok_or_else(|| format!("{what}.days = {days}; expected 0 to 365"))?;
        let cur = opt_string(&m, "currency", &what)?
            .unwrap_or_else(|| currency.to_string())
            .trim()
            .to_uppercase();
        if cur.len() != 3 || !cur.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(format!(
                "{what}.currency {cur:?}; expected a code like \"USD\""
            ));
        }
        out.push(Quote {
            service,
            price: round_money(price),
            currency: cur,
            days,
        });
    }
    Ok(Quotes::Rates(out))
}

/// `label(request, service)`'s result: `#{tracking_number, …fields}`.
pub(crate) fn label(v: Dynamic) -> Result<(String, BTreeMap<String, String>), String> {
    let map = take_map(v, "the label")?;
    let number = req_string(&map, "tracking_number", "label")?;
    let number = number.trim().to_string();
    if number.len() > 64
        || !number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(format!(
            "the tracking number {number:?}; use up to 64 letters, digits and '-'"
        ));
    }
    let mut fields = BTreeMap::new();
    for (k, v) in map {
        if k.as_str() != "tracking_number" {
            flatten(k.as_str(), &v, &mut fields);
        }
    }
    Ok((number, fields))
}

fn flatten(prefix: &str, v: &Dynamic, out: &mut BTreeMap<String, String>) {
    if let Some(m) = v.read_lock::<Map>() {
        for (k, sub) in m.iter() {
            flatten(&format!("{prefix}.{k}"), sub, out);
        }
    } else if let Some(a) = v.read_lock::<Array>() {
        out.insert(
            prefix.to_string(),
            a.iter().map(display).collect::<Vec<_>>().join(", "),
        );
    } else {
        // Empty values (a script's "not applicable") are left off the label.
        let text = display(v);
        if !text.trim().is_empty() {
            out.insert(prefix.to_string(), text);
        }
    }
}

/// `date` plus `days` business days (Monday to Friday). Zero days is the same date; a parcel
/// dropped off at the weekend starts counting from Monday.
pub fn add_business_days(date: NaiveDate, days: u32) -> NaiveDate {
    let mut d = date;
    let mut left = days;
    while left > 0 {
        d = d.succ_opt().unwrap_or(d);
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn business_days_skip_weekends() {
        // 2025-03-06 is a Thursday.
        assert_eq!(add_business_days(date("2025-03-06"), 0), date("2025-03-06"));
        assert_eq!(add_business_days(date("2025-03-06"), 1), date("2025-03-07"));
        assert_eq!(add_business_days(date("2025-03-06"), 2), date("2025-03-10"));
        assert_eq!(add_business_days(date("2025-03-08"), 1), date("2025-03-10"));
        assert_eq!(
            add_business_days(date("2025-03-06"), 10),
            date("2025-03-20")
        );
    }

    fn eval(s: &str) -> Dynamic {
        rhai::Engine::new().eval::<Dynamic>(s).unwrap()
    }

    #[test]
    fn a_message_map_becomes_rendered() {
        let r = rendered(eval(
            r#"#{email: #{subject: "Hi", text: "Body", html: "<p>Body</p>"}, sms: " Short "}"#,
        ))
        .unwrap()
        .unwrap();
        assert_eq!(r.email.as_ref().unwrap().subject, "Hi");
        assert_eq!(
            r.email.as_ref().unwrap().html.as_deref(),
            Some("<p>Body</p>")
        );
        assert_eq!(r.sms.as_deref(), Some("Short"));
        assert_eq!(rendered(Dynamic::UNIT).unwrap(), None);
        assert_eq!(rendered(eval("#{email: (), sms: ()}")).unwrap(), None);
    }

    #[test]
    fn message_mistakes_are_named() {
        let e = rendered(eval(r#"#{email: #{sujbect: "Hi", text: "x"}}"#)).unwrap_err();
        assert!(e.contains("unknown key `sujbect`"), "{e}");
        let e = rendered(eval(r#"#{email: #{subject: "Hi\nBcc: x", text: "x"}}"#)).unwrap_err();
        assert!(e.contains("one line"), "{e}");
        let e = rendered(eval(r#""just text""#)).unwrap_err();
        assert!(e.contains("a string"), "{e}");
    }

    #[test]
    fn label_fields_are_flattened() {
        let (n, f) = label(eval(
            r#"#{tracking_number: "AB-1", zone: 3, to: #{city: "X"}, customs: ""}"#,
        ))
        .unwrap();
        assert_eq!(n, "AB-1");
        assert_eq!(f.get("zone").map(String::as_str), Some("3"));
        assert_eq!(f.get("to.city").map(String::as_str), Some("X"));
        assert!(!f.contains_key("customs"));
        assert!(label(eval(r#"#{tracking_number: "no spaces please"}"#)).is_err());
    }
}
