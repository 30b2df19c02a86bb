//! The pages' side of accounts: the session cookie, the signed-in extractor (anonymous visitors
//! are sent to /login), posted forms whose CSRF token is checked before a handler sees them, and
//! flash messages. The API never looks at cookies; it keeps its bearer tokens.

use super::pages::PageError;
use crate::service::accounts::{secrets_match, Accounts, Member, Session};
use crate::service::Service;
use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "od_session";
/// A one-shot message shown on the next page.
pub const FLASH_COOKIE: &str = "od_flash";
/// The CSRF cookie of the sign-in and setup forms (there is no session yet to hold a token).
pub const PRE_CSRF_COOKIE: &str = "od_pre";
/// Largest form body read.
pub const MAX_FORM: usize = 256 * 1024;

/// Whether the browser reached us over HTTPS (directly or through a proxy that says so).
pub fn is_https(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

/// A cookie with the attributes every orderdeck cookie has: HttpOnly, SameSite=Lax, path /,
/// and Secure when served over HTTPS.
pub fn cookie(req: &HttpRequest, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(is_https(req))
        .finish()
}

/// A cookie that deletes `name` in the browser.
pub fn removal(req: &HttpRequest, name: &'static str) -> Cookie<'static> {
    let mut c = cookie(req, name, String::new());
    c.make_removal();
    c
}

/// The session cookie after sign-in.
pub fn session_cookie(req: &HttpRequest, secret: String) -> Cookie<'static> {
    let mut c = cookie(req, SESSION_COOKIE, secret);
    c.set_max_age(CookieDuration::days(crate::service::accounts::SESSION_DAYS));
    c
}

/// A 303 redirect (the answer to every successful form).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, location.to_string()))
        .finish()
}

/// A 303 redirect that shows `message` on the next page.
pub fn redirect_with_flash(req: &HttpRequest, location: &str, message: &str) -> HttpResponse {
    let mut resp = see_other(location);
    let _ = resp.add_cookie(&cookie(req, FLASH_COOKIE, hex::encode(message.as_bytes())));
    resp
}

/// Reads the flash message, if any (the page that shows it deletes the cookie).
pub fn read_flash(req: &HttpRequest) -> Option<String> {
    let c = req.cookie(FLASH_COOKIE)?;
    let bytes = hex::decode(c.value()).ok()?;
    let s = String::from_utf8(bytes).ok()?;
    let s: String = s.chars().take(500).collect();
    (!s.is_empty()).then_some(s)
}

fn accounts(req: &HttpRequest) -> Result<&web::Data<Accounts>, PageError> {
    req.app_data::<web::Data<Accounts>>()
        .ok_or_else(|| PageError::Internal("accounts are not configured".into()))
}

/// A signed-in team member and their session. Extracting it from a request sends anonymous
/// visitors to the sign-in page.
#[derive(Clone)]
pub struct SignedIn {
    pub member: Member,
    pub session: Session,
    /// The session cookie's value (needed to sign out).
    pub secret: String,
    /// The store's name (every page's header).
    pub store_name: String,
}

impl SignedIn {
    /// The name the engine records as the actor.
    pub fn actor(&self) -> crate::domain::Actor {
        crate::domain::Actor::Member(self.member.display_name.clone())
    }
}

async fn signed_in(req: &HttpRequest) -> Result<SignedIn, PageError> {
    let accounts = accounts(req)?;
    let found = match req.cookie(SESSION_COOKIE) {
        Some(c) => {
            let secret = c.value().to_string();
            accounts
                .session(&secret)
                .await?
                .map(|(session, member)| (session, member, secret))
        }
        None => None,
    };
    let found = match found {
        Some((session, member, secret)) => {
            let store_name = match req.app_data::<web::Data<Service>>() {
                Some(svc) => svc.store_name().await.unwrap_or_else(|e| {
                    crate::service::log_error("reading the store name", &e);
                    "orderdeck".into()
                }),
                None => "orderdeck".into(),
            };
            Some(SignedIn {
                member,
                session,
                secret,
                store_name,
            })
        }
        None => None,
    };
    found.ok_or_else(|| {
        let next = if req.method() == actix_web::http::Method::GET {
            req.uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into())
        } else {
            "/".into()
        };
        PageError::Login { next }
    })
}

impl FromRequest for SignedIn {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { signed_in(&req).await })
    }
}

/// The fields of a posted form, in order.
#[derive(Debug, Clone, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, or "".
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Whether a checkbox named `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, v)| k == name && !v.is_empty())
    }

    /// Every field but the CSRF token and the form step (to carry over to a confirmation page).
    pub fn carried(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter(|(k, _)| k != "csrf" && k != "step")
            .cloned()
            .collect()
    }
}

async fn read_fields(req: &HttpRequest, payload: &mut Payload) -> Result<Fields, PageError> {
    // The size limit comes from the `FormConfig` registered on the pages scope.
    web::Form::<Vec<(String, String)>>::from_request(req, payload)
        .await
        .map(|f| Fields(f.into_inner()))
        .map_err(|e| PageError::BadRequest(format!("The form could not be read: {e}")))
}

/// A form posted by a signed-in member whose CSRF token matched their session's.
pub struct Posted {
    pub who: SignedIn,
    pub fields: Fields,
}

impl FromRequest for Posted {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let who = signed_in(&req).await?;
            let fields = read_fields(&req, &mut payload).await?;
            if !secrets_match(&who.session.csrf, fields.get("csrf")) {
                return Err(PageError::Csrf);
            }
            Ok(Posted { who, fields })
        })
    }
}

/// A form posted by an anonymous visitor (sign-in, setup), checked against the pre-session
/// CSRF cookie (double submit: another site can neither read nor set that cookie).
pub struct AnonPosted {
    pub fields: Fields,
}

impl FromRequest for AnonPosted {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let fields = read_fields(&req, &mut payload).await?;
            let expected = req
                .cookie(PRE_CSRF_COOKIE)
                .map(|c| c.value().to_string())
                .unwrap_or_default();
            if !secrets_match(&expected, fields.get("csrf")) {
                return Err(PageError::Csrf);
            }
            Ok(AnonPosted { fields })
        })
    }
}

/// The pre-session CSRF token for the sign-in and setup forms: the browser's, or a new one
/// (returned with `true` when the cookie must be set).
pub fn pre_csrf(req: &HttpRequest) -> Result<(String, bool), PageError> {
    match req.cookie(PRE_CSRF_COOKIE) {
        Some(c) if c.value().len() == 64 => Ok((c.value().to_string(), false)),
        _ => crate::service::accounts::random_hex()
            .map(|t| (t, true))
            .map_err(|e| PageError::Internal(Box::new(e))),
    }
}

/// The client address used to throttle sign-ins: the peer address (a proxy's address when behind
/// one; forwarded headers are not trusted for this, as clients could forge them).
pub fn client_key(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}
