//! Carrier Fulfill: items, package, parties and options → Get rates (the carriers' quotes and
//! refusals) → choose one → a confirmation that a label purchase cannot be undone → Buy label.
//! Also the shipment menu's "Simulate next carrier event" on test orders.

use super::order::number;
use super::{money, ok, render, Chrome, PageError, Svc};
use crate::domain::money::parse_amount;
use crate::domain::{ItemQty, Order, RuleError, ShipmentId};
use crate::scripting::Party;
use crate::service::{CarrierFields, PackageInput, ServiceError};
use crate::web::auth::{self, Fields, Posted, SignedIn};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use rust_decimal::Decimal;

/// The parts of an address form: (suffix, label).
const PARTY: &[(&str, &str)] = &[
    ("name", "Name"),
    ("company", "Company"),
    ("phone", "Phone"),
    ("email", "Email"),
    ("line1", "Address"),
    ("line2", "Address line 2"),
    ("city", "City"),
    ("region", "Region / state"),
    ("postal_code", "Postal code"),
    ("country", "Country"),
];

/// The package and option fields: (form field, label as errors name it).
const PACKAGE: &[(&str, &str)] = &[
    ("preset", "Package preset"),
    ("length_cm", "Length"),
    ("width_cm", "Width"),
    ("height_cm", "Height"),
    ("weight_grams", "Gross weight"),
    ("drop_off_date", "Drop-off date"),
    ("insurance", "Insurance"),
    ("declared_value", "Package value"),
];

/// The address blocks: (form prefix, the service's name for it, legend).
const PARTIES: &[(&str, &str, &str)] = &[
    ("to", "recipient", "Recipient"),
    ("shipper", "shipper", "Shipper"),
    ("from", "ship_from", "Ship from"),
];

/// How a person reads a form field in a message: "Recipient country", "Length".
fn field_label(field: &str) -> Option<String> {
    if let Some((_, label)) = PACKAGE.iter().find(|(k, _)| *k == field) {
        return Some(label.to_string());
    }
    let (prefix, part) = field.split_once('_')?;
    let (_, _, legend) = PARTIES.iter().find(|(p, _, _)| *p == prefix)?;
    let (_, label) = PARTY.iter().find(|(k, _)| *k == part)?;
    Some(format!("{legend}: {}", label.to_lowercase()))
}

/// The form field a service's field path names ("recipient.country" → "to_country",
/// "package.length_cm" → "length_cm").
fn form_field(path: &str) -> String {
    match path.split_once('.') {
        Some(("package", k)) => k.to_string(),
        Some((party, k)) => match PARTIES.iter().find(|(_, name, _)| *name == party) {
            Some((prefix, _, _)) => format!("{prefix}_{k}"),
            None => String::new(),
        },
        None => String::new(),
    }
}

/// A message from the service with its leading field path read as a person would
/// ("package.length_cm is required" → "Length is required").
fn readable(message: &str, path: &str, field: &str) -> String {
    match (message.strip_prefix(path), field_label(field)) {
        (Some(rest), Some(label)) if !path.is_empty() => format!("{label}{rest}"),
        _ => message.to_string(),
    }
}

/// One input of the form.
pub struct Input {
    pub name: String,
    pub label: &'static str,
    pub value: String,
    pub error: Option<String>,
}

/// An address fieldset, folded to one line unless something in it needs attention.
pub struct PartyBox {
    pub legend: &'static str,
    pub prefix: &'static str,
    pub inputs: Vec<Input>,
    /// The address on one line ("Ann Lee, 1 Main St, Portland, US").
    pub summary: String,
    pub open: bool,
}

/// An item row.
pub struct ItemRow {
    pub id: String,
    pub name: String,
    pub sku: String,
    pub max: u32,
    pub value: String,
}

/// A quote row.
pub struct RateRow {
    pub key: String,
    pub carrier: String,
    pub service: String,
    pub price: String,
    pub days: u32,
    pub estimated: String,
    pub checked: bool,
}

/// A refusal as the top of the form says it.
pub struct ErrorSummary {
    pub message: String,
    /// The id of the field it is about, to link to.
    pub field: Option<String>,
}

#[derive(Template)]
#[template(path = "orders/carrier.html")]
struct CarrierPage {
    chrome: Chrome,
    number: u64,
    error: Option<ErrorSummary>,
    items: Vec<ItemRow>,
    items_error: Option<String>,
    presets: Vec<(String, String)>,
    preset: String,
    preset_error: Option<String>,
    inputs: Vec<Input>,
    parties: Vec<PartyBox>,
    dangerous_goods: bool,
    signature: bool,
    rates: Option<Vec<RateRow>>,
    declined: Vec<(String, String)>,
    rate_error: Option<String>,
}

#[derive(Template)]
#[template(path = "orders/carrier_confirm.html")]
struct ConfirmPage {
    chrome: Chrome,
    number: u64,
    summary: Vec<(String, String)>,
    carried: Vec<(String, String)>,
}

fn party_defaults(p: &Party) -> Vec<(&'static str, String)> {
    vec![
        ("name", p.name.clone()),
        ("company", p.company.clone()),
        ("phone", p.phone.clone()),
        ("email", p.email.clone()),
        ("line1", p.line1.clone()),
        ("line2", p.line2.clone()),
        ("city", p.city.clone()),
        ("region", p.region.clone()),
        ("postal_code", p.postal_code.clone()),
        ("country", p.country.clone()),
    ]
}

fn party_from(f: &Fields, prefix: &str) -> Party {
    let g = |k: &str| f.get(&format!("{prefix}_{k}")).trim().to_string();
    Party {
        name: g("name"),
        company: g("company"),
        phone: g("phone"),
        email: g("email"),
        line1: g("line1"),
        line2: g("line2"),
        city: g("city"),
        region: g("region"),
        postal_code: g("postal_code"),
        country: g("country").to_uppercase(),
    }
}

/// A field error: (form field, message).
type Problem = (String, String);

fn problem(field: &str, m: impl Into<String>) -> Problem {
    (field.to_string(), m.into())
}

/// Reads the form into the service's fields (the same as the API's `carrier_fields`).
fn fields_of(order: &Order, f: &Fields) -> Result<CarrierFields, Problem> {
    let mut items = Vec::new();
    for i in &order.items {
        let raw = f.get(&format!("qty_{}", i.id)).trim();
        let q: u32 = if raw.is_empty() {
            0
        } else {
            raw.parse().map_err(|_| {
                problem(
                    "items",
                    format!("The quantity of {} must be a whole number", i.name),
                )
            })?
        };
        if q > 0 {
            items.push(ItemQty {
                item_id: i.id,
                quantity: q,
            });
        }
    }
    let dim = |name: &str, label: &str| -> Result<Option<Decimal>, Problem> {
        let raw = f.get(name).trim();
        if raw.is_empty() {
            return Ok(None);
        }
        raw.parse::<Decimal>()
            .map(Some)
            .map_err(|_| problem(name, format!("{label} must be a number of centimetres")))
    };
    let amount = |name: &str, label: &str| -> Result<Option<Decimal>, Problem> {
        let raw = f.get(name).trim();
        if raw.is_empty() {
            return Ok(None);
        }
        parse_amount(raw)
            .map(Some)
            .map_err(|e| problem(name, format!("{label} {e}")))
    };
    let weight = match f.get("weight_grams").trim() {
        "" => None,
        w => Some(
            w.parse::<u32>()
                .map_err(|_| problem("weight_grams", "Weight must be a whole number of grams"))?,
        ),
    };
    let drop_off_date = match f.get("drop_off_date").trim() {
        "" => None,
        d => Some(
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                problem(
                    "drop_off_date",
                    "Drop-off date must be a date like 2026-12-01",
                )
            })?,
        ),
    };
    let preset = f.get("preset").trim();
    Ok(CarrierFields {
        items,
        package: PackageInput {
            preset: (!preset.is_empty()).then(|| preset.to_string()),
            length_cm: dim("length_cm", "Length")?,
            width_cm: dim("width_cm", "Width")?,
            height_cm: dim("height_cm", "Height")?,
            weight_grams: weight,
        },
        recipient: Some(party_from(f, "to")),
        shipper: Some(party_from(f, "shipper")),
        // A blank ship-from means "from the shipper's address".
        ship_from: Some(party_from(f, "from")).filter(|p| *p != Party::default()),
        drop_off_date,
        insurance: amount("insurance", "Insurance")?.unwrap_or_default(),
        declared_value: amount("declared_value", "Package value")?,
        dangerous_goods: f.checked("dangerous_goods"),
        signature: f.checked("signature"),
    })
}

/// The form field a service error belongs to, and its message in the form's words.
fn service_problem(e: ServiceError) -> Result<Problem, PageError> {
    match e {
        ServiceError::Rule(r) if !r.is_not_found() => {
            let path = r.field().unwrap_or("").to_string();
            let field = form_field(&path);
            let msg = match &r {
                RuleError::Invalid { field: f, message } => format!("{f} {message}"),
                other => other.to_string(),
            };
            let msg = readable(&msg, &path, &field);
            Ok((field, msg))
        }
        ServiceError::Refused { message, .. } | ServiceError::BadRequest(message) => {
            // "recipient.country must be …": put it by the form's field.
            let path = message.split_whitespace().next().unwrap_or("").to_string();
            let field = form_field(&path);
            let msg = readable(&message, &path, &field);
            Ok((field, msg))
        }
        other => Err(other.into()),
    }
}

#[allow(clippy::too_many_arguments)]
async fn page(
    req: &HttpRequest,
    who: &SignedIn,
    svc: &Svc,
    order: &Order,
    posted: Option<&Fields>,
    problem: Option<Problem>,
    rates: Option<crate::scripting::RatesResult>,
) -> Result<CarrierPage, PageError> {
    let settings = svc.settings().await?;
    let v = |name: &str, default: String| -> String {
        posted.map(|f| f.get(name).to_string()).unwrap_or(default)
    };
    let err_of = |name: &str| -> Option<String> {
        problem
            .as_ref()
            .filter(|(f, _)| f == name)
            .map(|(_, m)| m.clone())
    };
    let items = order
        .items
        .iter()
        .map(|i| {
            let max = order.fulfillable_of(i.id);
            ItemRow {
                id: i.id.to_string(),
                name: i.name.clone(),
                sku: i.sku.clone(),
                max,
                value: v(&format!("qty_{}", i.id), max.to_string()),
            }
        })
        .collect();
    let mut presets = vec![(String::new(), "Custom dimensions".to_string())];
    for p in svc.package_presets().await {
        presets.push((
            p.name.clone(),
            format!(
                "{} ({} × {} × {} cm, {} g)",
                p.name, p.length_cm, p.width_cm, p.height_cm, p.weight_grams
            ),
        ));
    }
    let default_preset = presets.get(1).map(|p| p.0.clone()).unwrap_or_default();
    let input = |name: &str, label: &'static str, default: String| Input {
        name: name.to_string(),
        label,
        value: v(name, default),
        error: err_of(name),
    };
    let inputs = vec![
        input("length_cm", "Length (cm)", String::new()),
        input("width_cm", "Width (cm)", String::new()),
        input("height_cm", "Height (cm)", String::new()),
        input(
            "weight_grams",
            "Gross weight (g, blank: package + items)",
            String::new(),
        ),
        input(
            "drop_off_date",
            "Drop-off date",
            chrono::Utc::now().date_naive().to_string(),
        ),
        input("insurance", "Insurance", "0.00".into()),
        input(
            "declared_value",
            "Package value (declared)",
            crate::domain::money::fmt(order.subtotal()),
        ),
    ];
    let store_party = Party::at(&settings.address, "", &settings.email);
    let mut parties = Vec::new();
    let recipient = Party::at(
        &order.shipping_address,
        &order.customer.phone,
        &order.customer.email,
    );
    for ((prefix, _, legend), default) in
        PARTIES
            .iter()
            .zip([recipient, store_party.clone(), store_party])
    {
        let defaults = party_defaults(&default);
        let inputs: Vec<Input> = PARTY
            .iter()
            .zip(defaults)
            .map(|((k, label), (_, d))| input(&format!("{prefix}_{k}"), label, d))
            .collect();
        let value = |k: &str| {
            inputs
                .iter()
                .find(|i| i.name == format!("{prefix}_{k}"))
                .map(|i| i.value.trim().to_string())
                .unwrap_or_default()
        };
        let summary = ["name", "company", "line1", "city", "country"]
            .iter()
            .map(|k| value(k))
            .filter(|v| !v.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        // Open when a field in it was refused, or when the recipient or shipper lacks the
        // basics (a blank ship-from means "from the shipper's address").
        let incomplete = *prefix != "from"
            && ["name", "line1", "city", "country"]
                .iter()
                .any(|k| value(k).is_empty());
        let open = inputs.iter().any(|i| i.error.is_some()) || incomplete;
        parties.push(PartyBox {
            legend,
            prefix,
            inputs,
            summary: if summary.is_empty() && *prefix == "from" {
                "Same as the shipper".to_string()
            } else {
                summary
            },
            open,
        });
    }
    let known: Vec<String> = parties
        .iter()
        .flat_map(|p| p.inputs.iter().map(|i| i.name.clone()))
        .chain(inputs.iter().map(|i| i.name.clone()))
        .chain(["items".to_string(), "preset".to_string()])
        .collect();
    // Every refusal is also said at the top, linking to its field when it has one.
    let top = problem.as_ref().map(|(f, m)| ErrorSummary {
        message: m.clone(),
        field: known.contains(f).then(|| match f.as_str() {
            "items" => "items-error".to_string(),
            other => other.to_string(),
        }),
    });
    let chosen = posted
        .map(|f| f.get("rate").to_string())
        .unwrap_or_default();
    let (rates, declined) = match rates {
        Some(r) => (
            Some(
                r.rates
                    .iter()
                    .enumerate()
                    .map(|(i, q)| {
                        let key = format!("{}|{}", q.carrier, q.service);
                        RateRow {
                            checked: chosen == key || (chosen.is_empty() && i == 0),
                            key,
                            carrier: q.carrier_name.clone(),
                            service: q.service_name.clone(),
                            price: money(q.price, &q.currency),
                            days: q.days,
                            estimated: q.estimated_delivery.to_string(),
                        }
                    })
                    .collect(),
            ),
            r.declined
                .iter()
                .map(|d| (d.carrier_name.clone(), d.reason.clone()))
                .collect(),
        ),
        None => (None, Vec::new()),
    };
    Ok(CarrierPage {
        chrome: Chrome::new(
            req,
            who,
            "orders",
            format!("Carrier Fulfill #{}", order.number),
        ),
        number: order.number,
        error: top,
        items,
        items_error: err_of("items"),
        presets,
        preset: v("preset", default_preset),
        preset_error: err_of("preset"),
        inputs,
        parties,
        dangerous_goods: posted
            .map(|f| f.checked("dangerous_goods"))
            .unwrap_or(false),
        signature: posted.map(|f| f.checked("signature")).unwrap_or(false),
        rates,
        declined,
        rate_error: err_of("rate"),
    })
}

fn need_carriers(svc: &Svc) -> Result<(), PageError> {
    if svc.carriers().is_empty() {
        return Err(PageError::BadRequest(
            "No carrier scripts are loaded, so labels cannot be bought.".into(),
        ));
    }
    Ok(())
}

async fn form(
    req: HttpRequest,
    who: SignedIn,
    svc: Svc,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    need_carriers(&svc)?;
    let order = svc.order(number(&path)?).await?;
    let p = page(&req, &who, &svc, &order, None, None, None).await?;
    Ok(ok(&req, &p.chrome, &p))
}

async fn submit(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    need_carriers(&svc)?;
    let n = number(&path)?;
    let order = svc.order(n).await?;
    let f = &form.fields;
    let who = &form.who;
    let refuse = async |order: &Order,
                        p: Problem,
                        rates: Option<crate::scripting::RatesResult>|
           -> Result<HttpResponse, PageError> {
        let page = page(&req, who, &svc, order, Some(f), Some(p), rates).await?;
        Ok(render(
            &req,
            StatusCode::UNPROCESSABLE_ENTITY,
            &page.chrome,
            &page,
        ))
    };
    let fields = match fields_of(&order, f) {
        Ok(x) => x,
        Err(p) => return refuse(&order, p, None).await,
    };
    let step = match f.get("step") {
        "" => "rates",
        s => s,
    };
    if step == "edit" {
        let p = page(&req, who, &svc, &order, Some(f), None, None).await?;
        return Ok(ok(&req, &p.chrome, &p));
    }
    // Every step checks the fields and the rule again (the order may have changed).
    let rates = match svc.rates(n, &fields).await {
        Ok(r) => r,
        Err(e) => return refuse(&order, service_problem(e)?, None).await,
    };
    if step == "rates" {
        let p = page(&req, who, &svc, &order, Some(f), None, Some(rates)).await?;
        return Ok(ok(&req, &p.chrome, &p));
    }
    let chosen = f.get("rate");
    let Some(rate) = rates
        .rates
        .iter()
        .find(|r| format!("{}|{}", r.carrier, r.service) == chosen)
        .cloned()
    else {
        return refuse(
            &order,
            problem("rate", "Choose one of the rates"),
            Some(rates),
        )
        .await;
    };
    if step == "review" {
        let mut summary = vec![
            ("Carrier".to_string(), rate.carrier_name.clone()),
            ("Service".to_string(), rate.service_name.clone()),
            ("Price".to_string(), money(rate.price, &rate.currency)),
            (
                "Estimated delivery".to_string(),
                rate.estimated_delivery.to_string(),
            ),
            (
                "Items".to_string(),
                super::order::describe(&order, &fields.items),
            ),
        ];
        if let Some(r) = &fields.recipient {
            summary.push((
                "Ship to".to_string(),
                [
                    r.name.as_str(),
                    r.line1.as_str(),
                    r.city.as_str(),
                    r.country.as_str(),
                ]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(", "),
            ));
        }
        let p = ConfirmPage {
            chrome: Chrome::new(&req, who, "orders", "Confirm: Buy label"),
            number: n,
            summary,
            carried: f.carried(),
        };
        return Ok(ok(&req, &p.chrome, &p));
    }
    match svc
        .buy_label(n, &fields, &rate.carrier, &rate.service, who.actor())
        .await
    {
        Ok(after) => {
            let tracking = after
                .shipments
                .last()
                .and_then(|s| s.tracking_number.clone())
                .unwrap_or_default();
            Ok(auth::redirect_with_flash(
                &req,
                &format!("/orders/{n}#shipments"),
                &format!(
                    "Label bought: {} {}, tracking number {tracking}.",
                    rate.carrier_name, rate.service_name
                ),
            ))
        }
        Err(e) => {
            let current = svc.order(n).await?;
            refuse(&current, service_problem(e)?, None).await
        }
    }
}

async fn simulate(
    req: HttpRequest,
    // Extracted for its checks: a signed-in member and a valid CSRF token.
    _form: Posted,
    svc: Svc,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let n = number(&path.0)?;
    let id = path
        .1
        .parse::<ShipmentId>()
        .map_err(|_| PageError::NotFound("No such shipment on this order".into()))?;
    let after = svc.simulate_carrier_event(n, id).await?;
    let status = after
        .shipment(id)
        .map(|s| s.status.label())
        .unwrap_or("updated");
    Ok(auth::redirect_with_flash(
        &req,
        &format!("/orders/{n}#shipments"),
        &format!("Simulated carrier event: the shipment is now {status}."),
    ))
}

/// Registers Carrier Fulfill and the simulated carrier events.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orders/{n}/carrier", web::get().to(form))
        .route("/orders/{n}/carrier", web::post().to(submit))
        .route(
            "/orders/{n}/shipments/{sid}/simulate",
            web::post().to(simulate),
        );
}
