//! The merchant's web pages: server-rendered askama templates (in `templates/`) extending
//! `_layout.html`, one module per area with its template structs next to its handlers.
//! Everything works without JavaScript; `app.js` only improves a few pages.

pub mod actions;
pub mod bulk;
pub mod carrier;
pub mod customers;
pub mod login;
pub mod notes;
pub mod notifications;
pub mod order;
pub mod orders;
pub mod outbox;
pub mod print;
pub mod settings;
pub mod shipment_docs;
pub mod tags;
pub mod webhooks;
pub mod workflow;

use super::auth::{self, SignedIn};
use crate::domain::money::fmt;
use crate::service::accounts::Accounts;
use crate::service::{Service, ServiceError};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use askama::Template;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

/// The stylesheet, embedded in the binary.
const CSS: &str = include_str!("../../../templates/static/app.css");
/// The label page's print sheet (4 × 6 in), linked from that page only.
const LABEL_CSS: &str = include_str!("../../../templates/static/label.css");
/// The packing slips' and invoices' sheets, linked from those pages only.
const PRINT_CSS: &str = include_str!("../../../templates/static/print.css");
/// The little script that improves some pages (live refund total); pages work without it.
const JS: &str = include_str!("../../../templates/static/app.js");

/// Content-Security-Policy of every page: only our own stylesheet and script; item images may
/// come from the storefront's HTTPS hosts.
pub const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' https: data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What the layout needs: page title, active navigation entry, the member, CSRF token and flash.
pub struct Chrome {
    pub title: String,
    pub nav: &'static str,
    pub member_name: String,
    pub member_role: &'static str,
    pub is_owner: bool,
    pub csrf: String,
    pub flash: Option<String>,
    pub store_name: String,
    /// The flash cookie was read and must be deleted by the response.
    flash_read: bool,
}

impl Chrome {
    /// The layout data for a signed-in member.
    pub fn new(
        req: &HttpRequest,
        who: &SignedIn,
        nav: &'static str,
        title: impl Into<String>,
    ) -> Self {
        let flash = auth::read_flash(req);
        Chrome {
            title: title.into(),
            nav,
            member_name: who.member.display_name.clone(),
            member_role: who.member.role.label(),
            is_owner: who.member.role.can_manage_team(),
            csrf: who.session.csrf.clone(),
            flash_read: flash.is_some() || req.cookie(auth::FLASH_COOKIE).is_some(),
            flash,
            store_name: who.store_name.clone(),
        }
    }

    /// Layout data for the sign-in and setup pages (no member, no navigation).
    pub fn anonymous(req: &HttpRequest, title: impl Into<String>, csrf: String) -> Self {
        let flash = auth::read_flash(req);
        Chrome {
            title: title.into(),
            nav: "",
            member_name: String::new(),
            member_role: "",
            is_owner: false,
            csrf,
            flash_read: flash.is_some(),
            flash,
            store_name: "orderdeck".into(),
        }
    }

    /// Whether the member is signed in (shows the navigation).
    pub fn signed_in(&self) -> bool {
        !self.member_name.is_empty()
    }
}

/// Renders a template with a status; deletes the flash cookie once shown.
pub fn render<T: Template>(
    req: &HttpRequest,
    status: StatusCode,
    chrome: &Chrome,
    tpl: &T,
) -> HttpResponse {
    match tpl.render() {
        Ok(body) => {
            let mut resp = HttpResponse::build(status)
                .content_type("text/html; charset=utf-8")
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .body(body);
            if chrome.flash_read {
                let _ = resp.add_cookie(&auth::removal(req, auth::FLASH_COOKIE));
            }
            resp
        }
        Err(e) => PageError::Internal(Box::new(e)).error_response(),
    }
}

/// 200 with a template.
pub fn ok<T: Template>(req: &HttpRequest, chrome: &Chrome, tpl: &T) -> HttpResponse {
    render(req, StatusCode::OK, chrome, tpl)
}

/// What a page handler can fail with.
#[derive(Debug)]
pub enum PageError {
    /// Not signed in: go to the sign-in page and come back to `next`.
    Login {
        next: String,
    },
    NotFound(String),
    Forbidden(String),
    /// The setup link is missing, wrong or spent: there is no dashboard to go back to yet.
    SetupRefused(String),
    /// The form's CSRF token is missing or wrong.
    Csrf,
    BadRequest(String),
    /// A failure that is not the user's doing; the cause is logged (with its chain) when the
    /// error page is rendered, and the user sees a generic message.
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageError::Login { .. } => f.write_str("Please sign in"),
            PageError::NotFound(m)
            | PageError::Forbidden(m)
            | PageError::SetupRefused(m)
            | PageError::BadRequest(m) => f.write_str(m),
            PageError::Csrf => f.write_str(
                "This form has expired or did not come from this orderdeck. Go back, reload the page and try again.",
            ),
            PageError::Internal(_) => f.write_str("Something went wrong on our side; the error has been logged."),
        }
    }
}

impl From<ServiceError> for PageError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound(m) => PageError::NotFound(m),
            ServiceError::Rule(r) if r.is_not_found() => PageError::NotFound(r.to_string()),
            ServiceError::Store(e) => PageError::Internal(Box::new(e)),
            ServiceError::Internal(m) => PageError::Internal(m.into()),
            other => PageError::BadRequest(other.to_string()),
        }
    }
}

impl From<crate::service::accounts::AccountError> for PageError {
    fn from(e: crate::service::accounts::AccountError) -> Self {
        use crate::service::accounts::AccountError as A;
        match e {
            A::Store(cause) => PageError::Internal(cause),
            A::Forbidden(m) => PageError::Forbidden(m),
            A::NotFound(m) => PageError::NotFound(format!("No team member {m}")),
            other => PageError::BadRequest(other.to_string()),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: String,
    /// Whether "Back to the orders" leads anywhere (not before the owner account exists).
    back: bool,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::Login { .. } => StatusCode::SEE_OTHER,
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::Forbidden(_) | PageError::SetupRefused(_) | PageError::Csrf => {
                StatusCode::FORBIDDEN
            }
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PageError::Login { next } => {
                let target = if next == "/"
                    || next.is_empty()
                    || !next.starts_with('/')
                    || next.starts_with("//")
                {
                    "/login".to_string()
                } else {
                    format!("/login?next={}", urlencode(next))
                };
                return auth::see_other(&target);
            }
            PageError::Internal(cause) => crate::service::log_error("page failed", cause.as_ref()),
            _ => {}
        }
        let title = match self {
            PageError::NotFound(_) => "Not found",
            PageError::Forbidden(_) | PageError::SetupRefused(_) => "Not allowed",
            PageError::Csrf => "Form refused",
            PageError::BadRequest(_) => "Cannot do that",
            _ => "Error",
        };
        let body = ErrorPage {
            title,
            message: self.to_string(),
            back: !matches!(self, PageError::SetupRefused(_)),
        }
        .render()
        .unwrap_or_else(|_| self.to_string());
        HttpResponse::build(self.status_code())
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body)
    }
}

/// Percent-encodes a query-string value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// "24.00 USD".
pub fn money(d: Decimal, currency: &str) -> String {
    format!("{} {currency}", fmt(d))
}

/// "2026-05-01 14:03" (UTC).
pub fn when(t: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    // By hand rather than through a strftime pattern, which is parsed again on every call
    // (a list page formats fifty of these).
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// The page data the service and accounts give every handler.
pub type Svc = web::Data<Service>;
/// The account store.
pub type Acc = web::Data<Accounts>;

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(CSS)
}

async fn label_stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(LABEL_CSS)
}

async fn print_stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(PRINT_CSS)
}

async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(JS)
}

async fn not_found(who: SignedIn) -> Result<HttpResponse, PageError> {
    let _ = who;
    Err(PageError::NotFound("There is no such page.".into()))
}

/// The security headers of every page.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CSP))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "same-origin"))
}

/// Registers every page (after the API, whose scope is more specific).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("")
            .wrap(security_headers())
            .app_data(web::FormConfig::default().limit(auth::MAX_FORM))
            .route("/static/app.css", web::get().to(stylesheet))
            .route("/static/label.css", web::get().to(label_stylesheet))
            .route("/static/print.css", web::get().to(print_stylesheet))
            .route("/static/app.js", web::get().to(script))
            .configure(login::configure)
            .configure(orders::configure)
            .configure(print::configure)
            .configure(bulk::configure)
            .configure(order::configure)
            .configure(tags::configure)
            .configure(notes::configure)
            .configure(carrier::configure)
            .configure(actions::configure)
            .configure(outbox::configure)
            .configure(notifications::configure)
            .configure(customers::configure)
            .configure(settings::configure)
            .configure(webhooks::configure)
            .configure(workflow::configure)
            .default_service(web::to(not_found)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencode_escapes_everything_but_unreserved() {
        assert_eq!(
            urlencode("/orders?q=a b&x=<"),
            "%2Forders%3Fq%3Da%20b%26x%3D%3C"
        );
    }

    #[test]
    fn times_read_year_first_to_the_minute() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-05-01T04:03:59.999Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(when(t), "2026-05-01 04:03");
    }
}
