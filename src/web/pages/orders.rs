//! The Orders page (search, filters, sort, cursor pages, counts per status, Place Test Order)
//! and the CSV export of the current view.

use super::{money, ok, urlencode, when, Chrome, PageError, Svc};
use crate::domain::money::fmt;
use crate::domain::{FulfillmentStatus, PaymentStatus};
use crate::ports::{ListQuery, SortField, Summary};
use crate::service::saved_views::SavedView;
use crate::web::auth::{self, Posted, SignedIn};
use crate::web::query::{list_query, params_of, refine, view_query, Params};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

/// One row of the orders table.
pub struct Row {
    pub number: u64,
    pub created: String,
    pub customer_name: String,
    pub customer_email: String,
    pub total: String,
    pub payment: &'static str,
    pub payment_label: &'static str,
    pub fulfillment: &'static str,
    pub fulfillment_label: &'static str,
    pub test: bool,
    pub items_count: u32,
    pub tags: Vec<String>,
}

impl Row {
    /// The row of a stored summary.
    pub fn of(s: &Summary) -> Self {
        Row {
            number: s.number,
            created: when(s.created_at),
            customer_name: s.customer_name.clone(),
            customer_email: s.customer_email.clone(),
            total: money(s.total, &s.currency),
            payment: s.payment_status.as_str(),
            payment_label: s.payment_status.label(),
            fulfillment: s.fulfillment_status.as_str(),
            fulfillment_label: s.fulfillment_status.label(),
            test: s.test,
            items_count: s.items_count,
            tags: s.tags.clone(),
        }
    }
}

/// A tab above the list: all orders, or a saved view, with its count.
pub struct Tab {
    pub name: String,
    pub href: String,
    pub count: String,
    pub active: bool,
}

/// An active tag filter, with the link that drops it.
pub struct TagFilter {
    pub tag: String,
    pub remove_href: String,
}

/// A status filter chip with its count.
pub struct Chip {
    pub label: &'static str,
    pub code: &'static str,
    pub count: u64,
    pub href: String,
    pub active: bool,
}

/// A sortable column header.
pub struct SortLink {
    pub label: &'static str,
    pub href: String,
    /// "ascending" / "descending" when this column is the sort, else "none".
    pub aria: &'static str,
    pub arrow: &'static str,
}

#[derive(Template)]
#[template(path = "orders/list.html")]
struct ListPageTpl {
    chrome: Chrome,
    rows: Vec<Row>,
    q: String,
    payment: String,
    fulfillment: String,
    test: String,
    created_from: String,
    created_to: String,
    sort: String,
    tags: Vec<TagFilter>,
    tabs: Vec<Tab>,
    /// The saved view shown, if any.
    view: Option<SavedView>,
    /// The list's query string without cursor (what "all matching" and a new view take).
    list_query_string: String,
    /// How many orders the list matches ("1000+" beyond the count's cap).
    matching: String,
    bulk_actions: Vec<(&'static str, &'static str)>,
    shipping_points: Vec<(&'static str, &'static str)>,
    payment_options: Vec<(&'static str, &'static str)>,
    fulfillment_options: Vec<(&'static str, &'static str)>,
    sort_options: Vec<(String, String)>,
    payment_chips: Vec<Chip>,
    fulfillment_chips: Vec<Chip>,
    all_count: u64,
    test_count: u64,
    columns: Vec<SortLink>,
    next_href: Option<String>,
    first_href: Option<String>,
    export_href: String,
    test_allowed: bool,
    no_store_email: bool,
    filtered: bool,
    error: Option<String>,
}

/// The list parameters the page keeps in its links (everything but the cursor; `tag` is kept
/// by [`query_string`] too).
const KEPT: &[&str] = &[
    "view",
    "q",
    "payment_status",
    "fulfillment_status",
    "test",
    "created_from",
    "created_to",
    "sort",
];

/// The page's query string with `set` replacing (and `drop` removing) parameters. Every `tag`
/// is kept unless `tag` is dropped.
fn query_string(params: &Params, set: &[(&str, &str)], drop: &[&str]) -> String {
    let mut parts = Vec::new();
    for k in KEPT {
        if drop.contains(k) || set.iter().any(|(s, _)| s == k) {
            continue;
        }
        if let Some(v) = params.get(k) {
            parts.push(format!("{k}={}", urlencode(v)));
        }
    }
    if !drop.contains(&"tag") {
        for v in params.all("tag") {
            parts.push(format!("tag={}", urlencode(v)));
        }
    }
    for (k, v) in set {
        if !v.is_empty() {
            parts.push(format!("{k}={}", urlencode(v)));
        }
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

fn sort_label(f: SortField) -> &'static str {
    match f {
        SortField::Created => "Date",
        SortField::Number => "Order",
        SortField::Total => "Total",
        SortField::PaymentStatus => "Payment",
        SortField::FulfillmentStatus => "Fulfillment",
        SortField::Customer => "Customer",
    }
}

async fn list(
    req: HttpRequest,
    who: SignedIn,
    svc: Svc,
    params: web::Query<Params>,
) -> Result<HttpResponse, PageError> {
    // Links keep the request's parameters (a view and its refinements); the list and the
    // filter form show what they come to.
    let params = params.into_inner();
    let views = svc.saved_views().await?;
    let (effective, view) = with_view(&views, &params)?;
    let chrome = Chrome::new(&req, &who, "orders", "Orders");
    let (query, error) = match list_query(&effective) {
        Ok(q) => (q, None),
        Err(e) => (ListQuery::default(), Some(e.0)),
    };
    let (rows, next, error) = match svc.list(&query).await {
        Ok(page) => (
            page.orders.iter().map(Row::of).collect(),
            page.next_cursor,
            error,
        ),
        Err(e) => match PageError::from(e) {
            PageError::Internal(m) => return Err(PageError::Internal(m)),
            other => (Vec::new(), None, Some(other.to_string())),
        },
    };
    let counts = svc.counts().await?;
    let get = |k: &str| effective.get(k).unwrap_or_default().to_string();
    let payment = get("payment_status");
    let fulfillment = get("fulfillment_status");
    let payment_chips = PaymentStatus::ALL
        .iter()
        .map(|s| {
            let active = payment == s.as_str();
            Chip {
                label: s.label(),
                code: s.as_str(),
                count: counts.payment.get(s).copied().unwrap_or(0),
                href: format!(
                    "/orders{}",
                    query_string(
                        &params,
                        &[("payment_status", if active { "" } else { s.as_str() })],
                        &["payment_status"]
                    )
                ),
                active,
            }
        })
        .collect();
    let fulfillment_chips = FulfillmentStatus::ALL
        .iter()
        .map(|s| {
            let active = fulfillment == s.as_str();
            Chip {
                label: s.label(),
                code: s.as_str(),
                count: counts.fulfillment.get(s).copied().unwrap_or(0),
                href: format!(
                    "/orders{}",
                    query_string(
                        &params,
                        &[("fulfillment_status", if active { "" } else { s.as_str() })],
                        &["fulfillment_status"]
                    )
                ),
                active,
            }
        })
        .collect();
    let columns = [
        SortField::Number,
        SortField::Created,
        SortField::Customer,
        SortField::Total,
        SortField::PaymentStatus,
        SortField::FulfillmentStatus,
    ]
    .iter()
    .map(|f| {
        let current = query.sort == *f;
        // Clicking the current column flips its direction; another column starts descending
        // for numbers and dates, ascending for names and statuses.
        let desc = if current {
            !query.desc
        } else {
            matches!(f, SortField::Created | SortField::Number | SortField::Total)
        };
        let value = format!("{}{}", if desc { "-" } else { "" }, f.as_str());
        SortLink {
            label: sort_label(*f),
            href: format!(
                "/orders{}",
                query_string(&params, &[("sort", &value)], &["sort"])
            ),
            aria: match (current, query.desc) {
                (true, true) => "descending",
                (true, false) => "ascending",
                _ => "none",
            },
            arrow: match (current, query.desc) {
                (true, true) => "↓",
                (true, false) => "↑",
                _ => "",
            },
        }
    })
    .collect();
    let sort_options = SortField::ALL
        .iter()
        .flat_map(|f| {
            [
                (format!("-{}", f.as_str()), format!("{} ↓", sort_label(*f))),
                (f.as_str().to_string(), format!("{} ↑", sort_label(*f))),
            ]
        })
        .collect();
    let filtered = !query.tags.is_empty()
        || KEPT
            .iter()
            .any(|k| *k != "sort" && *k != "view" && !get(k).is_empty());
    let mut tabs = vec![Tab {
        name: "All orders".into(),
        href: "/orders".into(),
        count: counts.all.to_string(),
        active: view.is_none() && !filtered,
    }];
    for v in &views {
        let q = list_query(&Params(v.query.clone())).unwrap_or_default();
        tabs.push(Tab {
            name: v.name.clone(),
            href: format!("/orders?view={}", v.id),
            count: svc.count_matching(&q).await?.to_string(),
            active: view.as_ref().is_some_and(|a| a.id == v.id),
        });
    }
    let list_query_string = query_string(&effective, &[], &["view"])
        .trim_start_matches('?')
        .to_string();
    // A first page that is the whole list is its own count.
    let matching = if next.is_none() && query.cursor.is_none() {
        rows.len().to_string()
    } else {
        svc.count_matching(&query).await?.to_string()
    };
    let tags = query
        .tags
        .iter()
        .map(|t| {
            let mut rest = effective.clone();
            rest.0.retain(|(k, v)| {
                k != "cursor"
                    && !(k == "tag" && crate::domain::tag_of("tag", v).ok().as_ref() == Some(t))
            });
            TagFilter {
                tag: t.clone(),
                remove_href: format!("/orders{}", query_string(&rest, &[], &[])),
            }
        })
        .collect();
    let page = ListPageTpl {
        rows,
        q: get("q"),
        payment,
        fulfillment,
        test: get("test"),
        created_from: get("created_from"),
        created_to: get("created_to"),
        sort: if get("sort").is_empty() {
            "-created".into()
        } else {
            get("sort")
        },
        tags,
        tabs,
        view,
        list_query_string,
        matching,
        bulk_actions: super::bulk::ACTIONS.to_vec(),
        shipping_points: crate::domain::ShippingPoint::ALL
            .iter()
            .map(|p| (p.as_str(), p.label()))
            .collect(),
        payment_options: PaymentStatus::ALL
            .iter()
            .map(|s| (s.as_str(), s.label()))
            .collect(),
        fulfillment_options: FulfillmentStatus::ALL
            .iter()
            .map(|s| (s.as_str(), s.label()))
            .collect(),
        sort_options,
        payment_chips,
        fulfillment_chips,
        all_count: counts.all,
        test_count: counts.test,
        columns,
        next_href: next
            .map(|c| format!("/orders{}", query_string(&params, &[("cursor", &c)], &[]))),
        first_href: params
            .get("cursor")
            .map(|_| format!("/orders{}", query_string(&params, &[], &[]))),
        export_href: format!("/orders.csv{}", query_string(&params, &[], &[])),
        test_allowed: counts.real == 0,
        no_store_email: svc.store_email_missing().await?,
        filtered,
        error,
        chrome,
    };
    Ok(ok(&req, &page.chrome, &page))
}

async fn place_test_order(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
) -> Result<HttpResponse, PageError> {
    match svc.place_test_order(form.who.actor()).await {
        Ok(o) => Ok(auth::redirect_with_flash(
            &req,
            &format!("/orders/{}", o.number),
            &format!("Test order #{} placed.", o.number),
        )),
        Err(crate::service::ServiceError::Rule(r)) => {
            Ok(auth::redirect_with_flash(&req, "/orders", &r.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Makes a CSV cell safe: quoted when needed, and cells a spreadsheet would run as a formula
/// (starting with = + - @, tab or carriage return) are prefixed with an apostrophe.
pub fn csv_cell(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

fn csv_line(s: &Summary) -> String {
    let cells = [
        s.number.to_string(),
        s.created_at.to_rfc3339(),
        if s.test { "test" } else { "real" }.to_string(),
        s.customer_name.clone(),
        s.customer_email.clone(),
        s.items_count.to_string(),
        fmt(s.total),
        s.currency.clone(),
        s.payment_status.label().to_string(),
        s.fulfillment_status.label().to_string(),
        s.tags.join(", "),
    ];
    let mut line = cells
        .iter()
        .map(|c| csv_cell(c))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

const CSV_HEADER: &str =
    "number,created_at,type,customer_name,customer_email,items,total,currency,payment_status,fulfillment_status,tags\r\n";

/// The current view as CSV: every matching order, read 200 at a time through the list cursor.
async fn export_csv(
    who: SignedIn,
    svc: Svc,
    params: web::Query<Params>,
) -> Result<HttpResponse, PageError> {
    let _ = who;
    let views = svc.saved_views().await?;
    let (params, _) = with_view(&views, &params)?;
    if let Some(list) = params.get("orders") {
        return export_selected(&svc, list).await;
    }
    let mut query = list_query(&params).map_err(|e| PageError::BadRequest(e.0))?;
    query.limit = 200;
    query.cursor = None;
    // Check the first page now, so a bad request is an error page rather than a broken download.
    let first = svc.list(&query).await?;
    enum St {
        Header(crate::ports::ListPage),
        Page(crate::ports::ListPage),
        Done,
    }
    let svc = svc.into_inner();
    let stream = futures_util::stream::unfold((St::Header(first), query), move |(st, mut q)| {
        let svc = svc.clone();
        async move {
            match st {
                St::Header(page) => Some((
                    Ok::<_, std::io::Error>(web::Bytes::from(CSV_HEADER)),
                    (St::Page(page), q),
                )),
                St::Page(page) => {
                    let mut chunk = String::new();
                    for s in &page.orders {
                        chunk.push_str(&csv_line(s));
                    }
                    let next = match page.next_cursor {
                        Some(c) => {
                            q.cursor = Some(c);
                            match svc.list(&q).await {
                                Ok(p) => St::Page(p),
                                Err(e) => {
                                    log::error!("CSV export stopped: {e}");
                                    St::Done
                                }
                            }
                        }
                        None => St::Done,
                    };
                    Some((Ok(web::Bytes::from(chunk)), (next, q)))
                }
                St::Done => None,
            }
        }
    });
    Ok(csv_download().streaming(stream))
}

/// A CSV download's answer, named after the time of the export and never cached.
fn csv_download() -> actix_web::HttpResponseBuilder {
    let name = format!("orders-{}.csv", chrono::Utc::now().format("%Y%m%d-%H%M%S"));
    let mut r = HttpResponse::Ok();
    r.content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    r
}

/// The request's parameters with its saved view's (`view=`) under them, and the view.
fn with_view(
    views: &[SavedView],
    params: &Params,
) -> Result<(Params, Option<SavedView>), PageError> {
    match params.get("view") {
        None => Ok((params.clone(), None)),
        Some(id) => {
            let v = views
                .iter()
                .find(|v| v.id.to_string() == id)
                .ok_or_else(|| {
                    PageError::NotFound("No such saved view; it may have been deleted".into())
                })?;
            Ok((refine(&v.query, params), Some(v.clone())))
        }
    }
}

/// The CSV of a selection (`?orders=1001,1002`, from a bulk action), in the order given.
async fn export_selected(svc: &Svc, list: &str) -> Result<HttpResponse, PageError> {
    let numbers = super::print::numbers_up_to(list, crate::domain::bulk::MAX_BATCH)?;
    let mut body = String::from(CSV_HEADER);
    for n in numbers {
        body.push_str(&csv_line(&Summary::of(&svc.order(n).await?)));
    }
    Ok(csv_download().body(body))
}

/// Saves the list as it stands (the posted `query`) as a view named `name`.
async fn save_view(req: HttpRequest, form: Posted, svc: Svc) -> Result<HttpResponse, PageError> {
    let raw = form.fields.get("query");
    let back = format!("/orders?{raw}");
    let pairs = match view_query(params_of(raw)) {
        Ok(p) => p,
        Err(e) => return Ok(auth::redirect_with_flash(&req, &back, &e.0)),
    };
    match svc.save_view(form.fields.get("name"), pairs).await {
        Ok(v) => Ok(auth::redirect_with_flash(
            &req,
            &format!("/orders?view={}", v.id),
            &format!("View “{}” saved.", v.name),
        )),
        Err(crate::service::ServiceError::Rule(r)) => Ok(auth::redirect_with_flash(
            &req,
            &back,
            &format!("The view was not saved: {r}"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Deletes a saved view (the orders stay as they are).
async fn delete_view(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let _ = &form;
    let id = path
        .parse()
        .map_err(|_| PageError::NotFound("No such saved view".into()))?;
    let v = svc.saved_view(id).await?;
    svc.remove_view(id).await?;
    Ok(auth::redirect_with_flash(
        &req,
        "/orders",
        &format!("View “{}” deleted.", v.name),
    ))
}

/// Registers the orders list, the CSV export and Place Test Order.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orders", web::get().to(list))
        .route("/orders.csv", web::get().to(export_csv))
        .route("/orders/test", web::post().to(place_test_order))
        .route("/orders/views", web::post().to(save_view))
        .route("/orders/views/{id}/delete", web::post().to(delete_view));
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn csv_cells_cannot_become_formulas() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+1 555"), "'+1 555");
        assert_eq!(csv_cell("-2"), "'-2");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("Ada, Lovelace"), "\"Ada, Lovelace\"");
        assert_eq!(csv_cell("plain"), "plain");
    }
}
