//! Sign-in, sign-out and the first-start setup link that creates the owner account.

use super::{ok, render, Acc, Chrome, PageError, Svc};
use crate::service::accounts::AccountError;
use crate::web::auth::{self, AnonPosted, Posted, SignedIn};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use std::collections::HashMap;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    next: String,
    username: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    chrome: Chrome,
    token: String,
    username: String,
    display_name: String,
    store_name: String,
    store_email: String,
    error: Option<String>,
    error_field: String,
}

impl SetupPage {
    /// The form again with what was typed (passwords excepted) and one refusal.
    fn refused(req: &HttpRequest, f: &auth::Fields, field: &str, message: String) -> Self {
        SetupPage {
            chrome: Chrome::anonymous(req, "Create the owner account", f.get("csrf").to_string()),
            token: f.get("token").to_string(),
            username: f.get("username").to_string(),
            display_name: f.get("display_name").to_string(),
            store_name: f.get("store_name").to_string(),
            store_email: f.get("store_email").to_string(),
            error: Some(message),
            error_field: field.to_string(),
        }
    }
}

/// Only same-site paths may be a post-login destination (no open redirects).
fn safe_next(next: &str) -> String {
    if next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.contains(['\r', '\n'])
    {
        next.to_string()
    } else {
        "/".into()
    }
}

fn with_pre_csrf(
    req: &HttpRequest,
    mut resp: HttpResponse,
    token: String,
    set: bool,
) -> HttpResponse {
    if set {
        let _ = resp.add_cookie(&auth::cookie(req, auth::PRE_CSRF_COOKIE, token));
    }
    resp
}

async fn login_form(
    req: HttpRequest,
    accounts: Acc,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    if !accounts.has_members().await? {
        return Ok(auth::see_other("/setup"));
    }
    let (token, set) = auth::pre_csrf(&req)?;
    let chrome = Chrome::anonymous(&req, "Sign in", token.clone());
    let page = LoginPage {
        chrome,
        next: safe_next(q.get("next").map(String::as_str).unwrap_or("/")),
        username: String::new(),
        error: None,
    };
    let resp = ok(&req, &page.chrome, &page);
    Ok(with_pre_csrf(&req, resp, token, set))
}

async fn login(
    req: HttpRequest,
    accounts: Acc,
    form: AnonPosted,
) -> Result<HttpResponse, PageError> {
    let f = &form.fields;
    let old = req
        .cookie(auth::SESSION_COOKIE)
        .map(|c| c.value().to_string());
    let next = safe_next(f.get("next"));
    match accounts
        .login(
            &auth::client_key(&req),
            f.get("username"),
            f.get("password"),
            old.as_deref(),
        )
        .await
    {
        Ok((member, secret)) => {
            log::info!("{} signed in", member.username);
            let mut resp = auth::see_other(&next);
            let _ = resp.add_cookie(&auth::session_cookie(&req, secret));
            let _ = resp.add_cookie(&auth::removal(&req, auth::PRE_CSRF_COOKIE));
            Ok(resp)
        }
        Err(e @ (AccountError::BadCredentials | AccountError::Throttled(_))) => {
            let status = match e {
                AccountError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            let page = LoginPage {
                chrome: Chrome::anonymous(&req, "Sign in", f.get("csrf").to_string()),
                next,
                username: f.get("username").to_string(),
                error: Some(e.to_string()),
            };
            Ok(render(&req, status, &page.chrome, &page))
        }
        Err(e) => Err(e.into()),
    }
}

async fn logout(req: HttpRequest, accounts: Acc, form: Posted) -> Result<HttpResponse, PageError> {
    accounts.logout(&form.who.secret).await?;
    let mut resp = auth::see_other("/login");
    let _ = resp.add_cookie(&auth::removal(&req, auth::SESSION_COOKIE));
    Ok(resp)
}

async fn setup_form(
    req: HttpRequest,
    accounts: Acc,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let token = q.get("token").cloned().unwrap_or_default();
    if !accounts.setup_token_valid(&token) {
        return Err(PageError::SetupRefused(
            "Setup needs the one-time link printed by the server when it starts for the first time. \
             If the owner account exists already, sign in instead."
                .into(),
        ));
    }
    let (csrf, set) = auth::pre_csrf(&req)?;
    let page = SetupPage {
        chrome: Chrome::anonymous(&req, "Create the owner account", csrf.clone()),
        token,
        username: String::new(),
        display_name: String::new(),
        store_name: String::new(),
        store_email: String::new(),
        error: None,
        error_field: String::new(),
    };
    let resp = ok(&req, &page.chrome, &page);
    Ok(with_pre_csrf(&req, resp, csrf, set))
}

async fn setup(
    req: HttpRequest,
    accounts: Acc,
    svc: Svc,
    form: AnonPosted,
) -> Result<HttpResponse, PageError> {
    let f = &form.fields;
    if !accounts.setup_token_valid(f.get("token")) {
        return Err(PageError::SetupRefused(
            AccountError::BadSetupToken.to_string(),
        ));
    }
    let refuse = |field: &str, message: String| {
        let page = SetupPage::refused(&req, f, field, message);
        render(&req, StatusCode::UNPROCESSABLE_ENTITY, &page.chrome, &page)
    };
    // The store's name and e-mail: the "new order" notification goes to that address.
    let (store_name, store_email) = match crate::service::settings::check_store_details(
        f.get("store_name"),
        f.get("store_email"),
    ) {
        Ok(details) => details,
        Err(e) => {
            let field = e.field().unwrap_or("").to_string();
            let message = match &e {
                crate::domain::RuleError::Invalid { message, .. } => {
                    let label = if field == "store_name" {
                        "Store name"
                    } else {
                        "Store e-mail"
                    };
                    format!("{label} {message}")
                }
                other => other.to_string(),
            };
            return Ok(refuse(&field, message));
        }
    };
    if f.get("password") != f.get("password_confirm") {
        return Ok(refuse(
            "password_confirm",
            "The two passwords differ".into(),
        ));
    }
    match accounts
        .create_owner(
            f.get("token"),
            f.get("username"),
            f.get("display_name"),
            f.get("password"),
        )
        .await
    {
        Ok(m) => {
            log::info!("owner account {} created", m.username);
            svc.put_settings(&[("store.name", store_name), ("store.email", store_email)])
                .await?;
            Ok(auth::redirect_with_flash(
                &req,
                "/login",
                "The owner account is ready. Sign in with it.",
            ))
        }
        Err(e @ AccountError::Invalid { .. }) => {
            let field = e.field().unwrap_or("").to_string();
            let message = match &e {
                AccountError::Invalid { message, .. } => message.clone(),
                other => other.to_string(),
            };
            Ok(refuse(&field, message))
        }
        Err(e) => Err(e.into()),
    }
}

/// Signed-in visitors of /login go to the orders.
async fn root_redirect(_who: SignedIn) -> HttpResponse {
    auth::see_other("/orders")
}

/// Registers sign-in, sign-out and setup.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(login_form))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout))
        .route("/setup", web::get().to(setup_form))
        .route("/setup", web::post().to(setup))
        .route("/", web::get().to(root_redirect));
}
