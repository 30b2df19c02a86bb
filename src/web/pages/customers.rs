//! The Customers page: search, and each customer with their orders (through the orders list,
//! searched by the customer's email).

use super::orders::Row;
use super::{ok, when, Chrome, PageError, Svc};
use crate::domain::CustomerId;
use crate::ports::ListQuery;
use crate::web::auth::SignedIn;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use std::collections::HashMap;

/// A customer row.
pub struct CustomerRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub orders: u64,
    pub since: String,
}

#[derive(Template)]
#[template(path = "customers/list.html")]
struct ListPage {
    chrome: Chrome,
    q: String,
    customers: Vec<CustomerRow>,
}

#[derive(Template)]
#[template(path = "customers/show.html")]
struct ShowPage {
    chrome: Chrome,
    c: CustomerRow,
    rows: Vec<Row>,
    more_href: Option<String>,
}

fn row(c: crate::ports::CustomerRecord) -> CustomerRow {
    CustomerRow {
        id: c.id.to_string(),
        name: c.name,
        email: c.email,
        phone: c.phone,
        orders: c.orders_count,
        since: when(c.created_at),
    }
}

async fn list(
    req: HttpRequest,
    who: SignedIn,
    svc: Svc,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let query: String = q
        .get("q")
        .map(|s| s.trim().chars().take(200).collect())
        .unwrap_or_default();
    let customers = svc
        .customers(&query, 100)
        .await?
        .into_iter()
        .map(row)
        .collect();
    let p = ListPage {
        chrome: Chrome::new(&req, &who, "customers", "Customers"),
        q: query,
        customers,
    };
    Ok(ok(&req, &p.chrome, &p))
}

async fn show(
    req: HttpRequest,
    who: SignedIn,
    svc: Svc,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let id = path
        .parse::<CustomerId>()
        .map_err(|_| PageError::NotFound("No such customer".into()))?;
    let c = svc.customer(id).await?;
    let query = ListQuery {
        q: c.email.clone(),
        limit: 50,
        ..ListQuery::default()
    };
    let page = if c.email.is_empty() {
        None
    } else {
        Some(svc.list(&query).await?)
    };
    let rows = page
        .as_ref()
        .map(|p| {
            p.orders
                .iter()
                .filter(|s| s.customer_email.eq_ignore_ascii_case(&c.email))
                .map(Row::of)
                .collect()
        })
        .unwrap_or_default();
    let more_href = page
        .and_then(|p| p.next_cursor)
        .map(|_| format!("/orders?q={}", super::urlencode(&c.email)));
    let p = ShowPage {
        chrome: Chrome::new(&req, &who, "customers", c.name.clone()),
        c: row(c),
        rows,
        more_href,
    };
    Ok(ok(&req, &p.chrome, &p))
}

/// Registers the customers pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/customers", web::get().to(list))
        .route("/customers/{id}", web::get().to(show));
}
