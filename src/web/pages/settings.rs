//! Settings: the store's name, email, currency and address; API tokens (create — the secret is
//! shown once —, list, revoke); and the Team (the owner adds and removes staff members).

use super::{ok, render, when, Chrome, PageError, Svc};
use crate::domain::intake::{check_currency, check_email};
use crate::domain::rules::{clean_text, required_text, RuleError};
use crate::service::accounts::{AccountError, Role};
use crate::service::ServiceError;
use crate::web::auth::{self, Fields, Posted, SignedIn};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use uuid::Uuid;

/// The general settings form: (key, label, value, error, autocomplete).
pub struct SettingField {
    pub name: &'static str,
    pub label: &'static str,
    pub value: String,
    pub error: Option<String>,
    pub help: &'static str,
}

/// A token row.
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub created: String,
    pub revoked: bool,
}

/// A member row.
pub struct MemberRow {
    pub username: String,
    pub display_name: String,
    pub role: &'static str,
    pub since: String,
    pub removable: bool,
}

#[derive(Template)]
#[template(path = "settings/index.html")]
struct SettingsPage {
    chrome: Chrome,
    general: Vec<SettingField>,
    general_error: Option<String>,
    tokens: Vec<TokenRow>,
    token_name: String,
    token_error: Option<String>,
    members: Vec<MemberRow>,
    new_member: (String, String),
    member_error: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "settings/token.html")]
struct TokenCreatedPage {
    chrome: Chrome,
    name: String,
    secret: String,
}

/// (settings key, form field, label, help)
const GENERAL: &[(&str, &str, &str, &str)] = &[
    ("store.name", "store_name", "Store name", ""),
    (
        "store.email",
        "store_email",
        "Store email",
        "New-order notifications are sent here",
    ),
    (
        "store.currency",
        "store_currency",
        "Currency",
        "ISO 4217 code, e.g. USD, EUR",
    ),
    ("store.address.line1", "address_line1", "Address", ""),
    ("store.address.line2", "address_line2", "Address line 2", ""),
    ("store.address.city", "address_city", "City", ""),
    (
        "store.address.region",
        "address_region",
        "Region / state",
        "",
    ),
    (
        "store.address.postal_code",
        "address_postal_code",
        "Postal code",
        "",
    ),
    (
        "store.address.country",
        "address_country",
        "Country",
        "Two-letter code, e.g. US",
    ),
];

#[derive(Default)]
struct Problems {
    general: Option<(String, String)>,
    token: Option<String>,
    member: Option<(String, String)>,
}

async fn page(
    req: &HttpRequest,
    who: &SignedIn,
    svc: &Svc,
    accounts: &web::Data<crate::service::accounts::Accounts>,
    posted: Option<&Fields>,
    problems: Problems,
) -> Result<SettingsPage, PageError> {
    let settings = svc.settings().await?;
    let mut general = Vec::new();
    let mut general_error = None;
    for (key, name, label, help) in GENERAL {
        let stored = match *key {
            "store.name" => settings.name.clone(),
            "store.email" => settings.email.clone(),
            "store.currency" => settings.currency.clone(),
            k => svc.setting(k).await?.unwrap_or_default(),
        };
        let value = posted.map(|f| f.get(name).to_string()).unwrap_or(stored);
        let error = problems
            .general
            .as_ref()
            .filter(|(field, _)| field.as_str() == *name)
            .map(|(_, m)| m.clone());
        general.push(SettingField {
            name,
            label,
            value,
            error,
            help,
        });
    }
    if let Some((field, m)) = &problems.general {
        if !GENERAL.iter().any(|(_, n, _, _)| *n == field.as_str()) {
            general_error = Some(m.clone());
        }
    }
    let owner = who.member.role == Role::Owner;
    let tokens = if owner {
        let mut t: Vec<TokenRow> = svc
            .tokens()
            .await?
            .into_iter()
            .map(|t| TokenRow {
                id: t.id.to_string(),
                name: t.name,
                created: when(t.created_at),
                revoked: t.revoked,
            })
            .collect();
        t.reverse();
        t
    } else {
        Vec::new()
    };
    let members = accounts
        .members()
        .await?
        .into_iter()
        .map(|m| MemberRow {
            removable: owner && m.role != Role::Owner,
            username: m.username,
            display_name: m.display_name,
            role: m.role.label(),
            since: when(m.created_at),
        })
        .collect();
    let new_member = posted
        .filter(|_| problems.member.is_some())
        .map(|f| {
            (
                f.get("username").to_string(),
                f.get("display_name").to_string(),
            )
        })
        .unwrap_or_default();
    Ok(SettingsPage {
        chrome: Chrome::new(req, who, "settings", "Settings"),
        general,
        general_error,
        tokens,
        token_name: posted
            .filter(|_| problems.token.is_some())
            .map(|f| f.get("name").to_string())
            .unwrap_or_default(),
        token_error: problems.token,
        members,
        new_member,
        member_error: problems.member,
    })
}

async fn show(
    req: HttpRequest,
    who: SignedIn,
    svc: Svc,
    accounts: web::Data<crate::service::accounts::Accounts>,
) -> Result<HttpResponse, PageError> {
    let p = page(&req, &who, &svc, &accounts, None, Problems::default()).await?;
    Ok(ok(&req, &p.chrome, &p))
}

fn rule_message(field: &str, e: RuleError) -> (String, String) {
    let msg = e.to_string();
    let label = GENERAL
        .iter()
        .find(|(_, n, _, _)| *n == field)
        .map(|(_, _, l, _)| *l)
        .unwrap_or(field);
    // Rule messages start with the engine's field name; show the form's label instead.
    let rest = match &e {
        RuleError::Invalid { message, .. } => message.clone(),
        _ => msg,
    };
    (field.to_string(), format!("{label} {rest}"))
}

fn check_general(f: &Fields) -> Result<Vec<(&'static str, String)>, (String, String)> {
    let mut out = Vec::new();
    for (key, name, _, _) in GENERAL {
        let raw = f.get(name);
        let v = match *name {
            "store_name" => required_text(name, raw, 100, false),
            "store_email" if raw.trim().is_empty() => Ok(String::new()),
            "store_email" => check_email(name, raw),
            "store_currency" => check_currency(name, raw),
            "address_country" if !raw.trim().is_empty() => {
                let c = raw.trim().to_uppercase();
                if c.len() == 2 && c.chars().all(|ch| ch.is_ascii_alphabetic()) {
                    Ok(c)
                } else {
                    Err(RuleError::invalid(
                        *name,
                        "must be a two-letter country code like \"US\"",
                    ))
                }
            }
            _ => clean_text(name, raw, 200, false),
        }
        .map_err(|e| rule_message(name, e))?;
        out.push((*key, v));
    }
    Ok(out)
}

async fn save_general(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
    accounts: web::Data<crate::service::accounts::Accounts>,
) -> Result<HttpResponse, PageError> {
    match check_general(&form.fields) {
        Ok(values) => {
            svc.put_settings(&values).await?;
            Ok(auth::redirect_with_flash(
                &req,
                "/settings",
                "Settings saved.",
            ))
        }
        Err(problem) => {
            let p = page(
                &req,
                &form.who,
                &svc,
                &accounts,
                Some(&form.fields),
                Problems {
                    general: Some(problem),
                    ..Problems::default()
                },
            )
            .await?;
            Ok(render(
                &req,
                StatusCode::UNPROCESSABLE_ENTITY,
                &p.chrome,
                &p,
            ))
        }
    }
}

fn owner_only(who: &SignedIn, what: &str) -> Result<(), PageError> {
    if who.member.role.can_manage_tokens() {
        Ok(())
    } else {
        Err(PageError::Forbidden(format!("Only the owner can {what}.")))
    }
}

async fn create_token(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
    accounts: web::Data<crate::service::accounts::Accounts>,
) -> Result<HttpResponse, PageError> {
    owner_only(&form.who, "manage API tokens")?;
    match svc.create_token(form.fields.get("name")).await {
        Ok(t) => {
            let p = TokenCreatedPage {
                chrome: Chrome::new(&req, &form.who, "settings", "API token created"),
                name: t.record.name,
                secret: t.secret,
            };
            Ok(ok(&req, &p.chrome, &p))
        }
        Err(ServiceError::Rule(r)) => {
            let msg = match &r {
                RuleError::Invalid { message, .. } => format!("Name {message}"),
                other => other.to_string(),
            };
            let p = page(
                &req,
                &form.who,
                &svc,
                &accounts,
                Some(&form.fields),
                Problems {
                    token: Some(msg),
                    ..Problems::default()
                },
            )
            .await?;
            Ok(render(
                &req,
                StatusCode::UNPROCESSABLE_ENTITY,
                &p.chrome,
                &p,
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// Owner only: streams a consistent backup of the whole store as a download.
async fn download_backup(form: Posted, svc: Svc) -> Result<HttpResponse, PageError> {
    owner_only(&form.who, "download backups")?;
    let path = std::env::temp_dir().join(format!("orderdeck-{}.backup", Uuid::now_v7()));
    svc.backup_to(path.clone()).await?;
    let file = std::fs::File::open(&path).map_err(|e| PageError::Internal(Box::new(e)))?;
    // The open file stays readable; the name goes at once.
    let _ = std::fs::remove_file(&path);
    let stream = futures_util::stream::unfold(Some(file), |state| async move {
        let mut f = state?;
        let mut buf = vec![0u8; 256 * 1024];
        match std::io::Read::read(&mut f, &mut buf) {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, actix_web::Error>(web::Bytes::from(buf)), Some(f)))
            }
            Err(e) => Some((Err(actix_web::error::ErrorInternalServerError(e)), None)),
        }
    });
    let name = format!(
        "orderdeck-{}.backup",
        chrono::Utc::now().format("%Y%m%d-%H%M%S")
    );
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .streaming(stream))
}

async fn revoke_token(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    owner_only(&form.who, "manage API tokens")?;
    let id = path
        .parse::<Uuid>()
        .map_err(|_| PageError::NotFound("No such token".into()))?;
    svc.revoke_token(id).await?;
    Ok(auth::redirect_with_flash(
        &req,
        "/settings#tokens",
        "Token revoked; requests using it are now refused.",
    ))
}

async fn add_member(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
    accounts: web::Data<crate::service::accounts::Accounts>,
) -> Result<HttpResponse, PageError> {
    let f = &form.fields;
    match accounts
        .add_staff(
            &form.who.member,
            f.get("username"),
            f.get("display_name"),
            f.get("password"),
        )
        .await
    {
        Ok(m) => Ok(auth::redirect_with_flash(
            &req,
            "/settings#team",
            &format!("{} can now sign in as {}.", m.display_name, m.username),
        )),
        Err(AccountError::Invalid { field, message }) => {
            let label = match field {
                "username" => "Username",
                "display_name" => "Name",
                _ => "Password",
            };
            let problem = (field.to_string(), format!("{label} {message}"));
            let p = page(
                &req,
                &form.who,
                &svc,
                &accounts,
                Some(f),
                Problems {
                    member: Some(problem),
                    ..Problems::default()
                },
            )
            .await?;
            Ok(render(
                &req,
                StatusCode::UNPROCESSABLE_ENTITY,
                &p.chrome,
                &p,
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn remove_member(
    req: HttpRequest,
    form: Posted,
    accounts: web::Data<crate::service::accounts::Accounts>,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    accounts.remove_member(&form.who.member, &path).await?;
    Ok(auth::redirect_with_flash(
        &req,
        "/settings#team",
        &format!("{} was removed from the team.", path.as_str()),
    ))
}

/// Registers the settings pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings", web::get().to(show))
        .route("/settings", web::post().to(save_general))
        .route("/settings/tokens", web::post().to(create_token))
        .route("/settings/backup", web::post().to(download_backup))
        .route("/settings/tokens/{id}/revoke", web::post().to(revoke_token))
        .route("/settings/team", web::post().to(add_member))
        .route(
            "/settings/team/{username}/remove",
            web::post().to(remove_member),
        );
}
