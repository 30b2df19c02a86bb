//! Bulk actions on the orders page: the ticked orders (or every order the list matches) and
//! an action → a preview of what each order will do or the rule that refuses it, with the
//! totals → Confirm → each order applied on its own → the result. Printing packing slips and
//! exporting CSV go straight to those pages. The rules are the single actions'.

use super::{money, ok, Chrome, PageError, Svc};
use crate::domain::bulk::{BulkAction, MAX_BATCH};
use crate::service::bulk::{BulkLine, Targets};
use crate::web::auth::{self, Posted};
use crate::web::query::{list_query, params_of};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// The action menu: API name (or `slips`, `csv`) and label.
pub const ACTIONS: &[(&str, &str)] = &[
    ("pay", "Record payment of the balance"),
    ("dispatch", "Mark as dispatched"),
    ("fulfill", "Fulfil everything unshipped"),
    ("cancel", "Cancel"),
    ("tag", "Add tag"),
    ("untag", "Remove tag"),
    ("slips", "Print packing slips"),
    ("csv", "Export CSV"),
];

/// The action parameters a form carries.
const PARAMS: &[&str] = &["shipping_point", "carrier", "reason", "tag"];

/// One order on the preview or result page.
pub struct Line {
    pub number: u64,
    pub customer: String,
    pub total: String,
    pub payment: &'static str,
    pub payment_label: &'static str,
    pub fulfillment: &'static str,
    pub fulfillment_label: &'static str,
    pub ok: bool,
    /// What happens (or happened), or why not.
    pub what: Vec<String>,
    pub code: &'static str,
}

impl Line {
    fn of(l: &BulkLine) -> Self {
        let (ok, what, code) = match &l.outcome {
            Ok(changes) if changes.is_empty() => (true, vec!["No change needed".into()], ""),
            Ok(changes) => (true, changes.clone(), ""),
            Err(r) => (false, vec![r.message.clone()], r.code),
        };
        let s = l.before.as_ref();
        Line {
            number: l.number,
            customer: s.map(|s| s.customer_name.clone()).unwrap_or_default(),
            total: s.map(|s| money(s.total, &s.currency)).unwrap_or_default(),
            payment: s.map(|s| s.payment_status.as_str()).unwrap_or(""),
            payment_label: s.map(|s| s.payment_status.label()).unwrap_or(""),
            fulfillment: s.map(|s| s.fulfillment_status.as_str()).unwrap_or(""),
            fulfillment_label: s.map(|s| s.fulfillment_status.label()).unwrap_or(""),
            ok,
            what,
            code,
        }
    }
}

#[derive(Template)]
#[template(path = "orders/bulk.html")]
struct BulkPage {
    chrome: Chrome,
    /// A preview (nothing written yet) or the result.
    preview: bool,
    action: String,
    action_label: String,
    params: Vec<(String, String)>,
    orders: String,
    lines: Vec<Line>,
    ok_count: usize,
    refused_count: usize,
    amounts: Vec<String>,
    back: String,
}

/// The money a batch moves, per currency ("1,234.50 USD").
fn amounts(lines: &[BulkLine]) -> Vec<String> {
    let mut by: BTreeMap<&str, Decimal> = BTreeMap::new();
    for l in lines.iter().filter(|l| l.ok() && !l.amount.is_zero()) {
        if let Some(s) = &l.before {
            *by.entry(s.currency.as_str()).or_default() += l.amount;
        }
    }
    by.into_iter().map(|(c, d)| money(d, c)).collect()
}

fn page(
    req: &HttpRequest,
    form: &Posted,
    (action, preview): (&BulkAction, bool),
    params: Vec<(String, String)>,
    lines: &[BulkLine],
    back: String,
) -> HttpResponse {
    let title = if preview {
        "Review bulk action"
    } else {
        "Bulk action done"
    };
    let ok_count = lines.iter().filter(|l| l.ok()).count();
    let p = BulkPage {
        chrome: Chrome::new(req, &form.who, "orders", title),
        preview,
        action: action.name().to_string(),
        action_label: action.label(),
        params,
        orders: lines
            .iter()
            .map(|l| l.number.to_string())
            .collect::<Vec<_>>()
            .join(","),
        lines: lines.iter().map(Line::of).collect(),
        ok_count,
        refused_count: lines.len() - ok_count,
        amounts: amounts(lines),
        back,
    };
    ok(req, &p.chrome, &p)
}

/// The action's parameters from the form (blank ones left out).
fn posted_params(form: &Posted) -> Vec<(String, String)> {
    PARAMS
        .iter()
        .map(|k| (k.to_string(), form.fields.get(k).trim().to_string()))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

fn action_of(name: &str, params: &[(String, String)]) -> Result<BulkAction, String> {
    BulkAction::parse(name, |k| {
        params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    })
    .map_err(|e| e.to_string())
}

/// `POST /orders/bulk`: the preview (or, for slips and CSV, their page).
async fn preview(req: HttpRequest, form: Posted, svc: Svc) -> Result<HttpResponse, PageError> {
    let list = form.fields.get("query").to_string();
    let back = format!("/orders?{list}");
    let refuse = |m: &str| Ok(auth::redirect_with_flash(&req, &back, m));
    let targets = if form.fields.checked("all") {
        match list_query(&params_of(&list)) {
            Ok(q) => Targets::Matching(q),
            Err(e) => return refuse(&e.0),
        }
    } else {
        let mut numbers = Vec::new();
        for (k, v) in &form.fields.0 {
            if k == "orders" {
                match v.trim().parse::<u64>() {
                    Ok(n) => numbers.push(n),
                    Err(_) => return refuse(&format!("{v:?} is not an order number")),
                }
            }
        }
        if numbers.is_empty() {
            return refuse("Tick the orders to work on, or all orders matching the list.");
        }
        Targets::Numbers(numbers)
    };
    let numbers = match svc.bulk_numbers(&targets).await {
        Ok(n) => n,
        Err(crate::service::ServiceError::Rule(r)) => {
            return refuse(&format!("{r} (a batch takes at most {MAX_BATCH} orders)"))
        }
        Err(e) => return Err(e.into()),
    };
    let joined = numbers
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let name = form.fields.get("action");
    match name {
        "slips" => {
            return Ok(auth::see_other(&format!(
                "/orders/packing-slips?orders={joined}"
            )))
        }
        "csv" => return Ok(auth::see_other(&format!("/orders.csv?orders={joined}"))),
        _ => {}
    }
    let params = posted_params(&form);
    let action = match action_of(name, &params) {
        Ok(a) => a,
        Err(m) => return refuse(&format!("Nothing was changed: {m}")),
    };
    let lines = svc.bulk(&action, &numbers, true, form.who.actor()).await;
    Ok(page(&req, &form, (&action, true), params, &lines, back))
}

/// `POST /orders/bulk/apply`: applies the previewed action, each order on its own.
async fn apply(req: HttpRequest, form: Posted, svc: Svc) -> Result<HttpResponse, PageError> {
    let params = posted_params(&form);
    let action = action_of(form.fields.get("action"), &params).map_err(PageError::BadRequest)?;
    let numbers = super::print::numbers_up_to(form.fields.get("orders"), MAX_BATCH)?;
    let lines = svc.bulk(&action, &numbers, false, form.who.actor()).await;
    let back = "/orders".to_string();
    Ok(page(&req, &form, (&action, false), params, &lines, back))
}

/// Registered before `/orders/{n}`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orders/bulk", web::post().to(preview))
        .route("/orders/bulk/apply", web::post().to(apply));
}
