//! Packing slips and invoices: print-ready pages for one order (`/orders/{n}/packing-slip`,
//! `/orders/{n}/invoice`) or several, one per sheet (`/orders/packing-slips?orders=1001,1002`,
//! `/orders/invoices?orders=…`). The paper is the browser's (A4 or Letter); `print.css` gives
//! each order its own sheet.

use super::{ok, Chrome, PageError, Svc};
use crate::domain::money::fmt;
use crate::domain::{Address, Order};
use crate::web::auth::SignedIn;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use std::collections::HashMap;

/// Most orders one print page holds.
pub const MAX_ORDERS: usize = 200;

/// A line item on a sheet.
pub struct SheetItem {
    pub sku: String,
    pub name: String,
    pub variant: String,
    pub quantity: u32,
    pub unit_price: String,
    pub line_total: String,
}

/// One order's sheet.
pub struct Sheet {
    pub number: u64,
    pub date: String,
    pub test: bool,
    pub customer: Vec<String>,
    pub ship_to: Vec<String>,
    pub bill_to: Vec<String>,
    pub shipping_method: String,
    pub items: Vec<SheetItem>,
    pub units: u64,
    /// (label, amount) rows of the invoice's totals.
    pub totals: Vec<(&'static str, String)>,
    pub payment: String,
    pub currency: String,
}

#[derive(Template)]
#[template(path = "orders/print.html")]
struct PrintPage {
    chrome: Chrome,
    invoice: bool,
    title: &'static str,
    store: Vec<String>,
    store_email: String,
    sheets: Vec<Sheet>,
    back: String,
}

fn lines(a: &Address) -> Vec<String> {
    [
        a.name.clone(),
        a.line1.clone(),
        a.line2.clone(),
        format!("{} {} {}", a.postal_code, a.city, a.region)
            .trim()
            .to_string(),
        a.country.clone(),
    ]
    .into_iter()
    .filter(|l| !l.trim().is_empty())
    .collect()
}

fn sheet(o: &Order) -> Sheet {
    let money = |d| fmt(d);
    let mut totals = vec![
        ("Subtotal", money(o.subtotal())),
        ("Shipping", money(o.shipping.price)),
    ];
    if !o.tax.is_zero() {
        totals.push(("Tax", money(o.tax)));
    }
    if !o.discount.is_zero() {
        totals.push(("Discount", format!("−{}", money(o.discount))));
    }
    totals.push(("Total", money(o.total)));
    totals.push(("Paid", money(o.paid())));
    if !o.refunded().is_zero() {
        totals.push(("Refunded", money(o.refunded())));
    }
    totals.push(("Balance due", money(o.balance())));
    Sheet {
        number: o.number,
        date: o.created_at.format("%Y-%m-%d").to_string(),
        test: o.test,
        customer: [
            o.customer.name.clone(),
            o.customer.email.clone(),
            o.customer.phone.clone(),
        ]
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect(),
        ship_to: lines(&o.shipping_address),
        bill_to: lines(&o.billing_address),
        shipping_method: o.shipping.method.clone(),
        items: o
            .items
            .iter()
            .map(|i| SheetItem {
                sku: i.sku.clone(),
                name: i.name.clone(),
                variant: i.variant.clone().unwrap_or_default(),
                quantity: i.quantity,
                unit_price: money(i.unit_price),
                line_total: money(i.line_total()),
            })
            .collect(),
        units: o.items.iter().map(|i| u64::from(i.quantity)).sum(),
        totals,
        payment: format!(
            "{} · {}",
            o.payment_method.label(),
            o.payment_status().label()
        ),
        currency: o.currency.clone(),
    }
}

/// Order numbers from `orders=1001,1002` (a leading `#` allowed, duplicates dropped).
fn numbers(raw: &str) -> Result<Vec<u64>, PageError> {
    numbers_up_to(raw, MAX_ORDERS)
}

/// Order numbers from `1001,#1002,…` (repeats dropped), at most `max` of them.
pub(super) fn numbers_up_to(raw: &str, max: usize) -> Result<Vec<u64>, PageError> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let n = part.trim_start_matches('#').parse::<u64>().map_err(|_| {
            PageError::BadRequest(format!("{part:?} is not an order number like 1001"))
        })?;
        if seen.insert(n) {
            out.push(n);
        }
    }
    if out.is_empty() {
        return Err(PageError::BadRequest(
            "Name the orders: ?orders=1001,1002".into(),
        ));
    }
    if out.len() > max {
        return Err(PageError::BadRequest(format!(
            "At most {max} orders at once; {} were asked for",
            out.len()
        )));
    }
    Ok(out)
}

async fn render(
    req: &HttpRequest,
    who: &SignedIn,
    svc: &Svc,
    numbers: &[u64],
    invoice: bool,
) -> Result<HttpResponse, PageError> {
    let mut sheets = Vec::with_capacity(numbers.len());
    for n in numbers {
        sheets.push(sheet(&svc.order(*n).await?));
    }
    let settings = svc.settings().await?;
    let mut store = vec![settings.name.clone()];
    store.extend(settings.address_lines().lines().map(str::to_string));
    let title = if invoice { "Invoice" } else { "Packing slip" };
    let back = match numbers {
        [n] => format!("/orders/{n}"),
        _ => "/orders".to_string(),
    };
    let heading = match numbers {
        [n] => format!("{title} · Order #{n}"),
        _ => format!("{title}s · {} orders", numbers.len()),
    };
    let p = PrintPage {
        chrome: Chrome::new(req, who, "orders", heading),
        invoice,
        title,
        store,
        store_email: settings.email.clone(),
        sheets,
        back,
    };
    Ok(ok(req, &p.chrome, &p))
}

fn number(raw: &str) -> Result<u64, PageError> {
    raw.trim_start_matches('#')
        .parse()
        .map_err(|_| PageError::NotFound(format!("Order {raw} not found")))
}

/// One order's packing slip (`INVOICE` false) or invoice.
async fn one<const INVOICE: bool>(
    req: HttpRequest,
    who: SignedIn,
    svc: Svc,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    render(&req, &who, &svc, &[number(&path)?], INVOICE).await
}

/// Several orders' packing slips (`INVOICE` false) or invoices, from `?orders=1001,1002`.
async fn many<const INVOICE: bool>(
    req: HttpRequest,
    who: SignedIn,
    svc: Svc,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let ns = numbers(q.get("orders").map(String::as_str).unwrap_or(""))?;
    render(&req, &who, &svc, &ns, INVOICE).await
}

/// Registered before `/orders/{n}`, so that `packing-slips` is not read as an order number.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orders/packing-slips", web::get().to(many::<false>))
        .route("/orders/invoices", web::get().to(many::<true>))
        .route("/orders/{n}/packing-slip", web::get().to(one::<false>))
        .route("/orders/{n}/invoice", web::get().to(one::<true>));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_lists_are_read_strictly() {
        assert_eq!(numbers("1001, #1002,1001,").unwrap(), vec![1001, 1002]);
        assert!(numbers("").is_err());
        assert!(numbers("1001,abc").is_err());
        let many = (1..=MAX_ORDERS as u64 + 1)
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(",");
        assert!(numbers(&many).is_err());
    }
}
