//! Settings > Notifications (per-event e-mail/SMS switches; the SMTP and SMS transports, owner
//! only; preview of an event's messages on an order; a test message), Settings > Scripts (the
//! loaded Rhai scripts and Reload, owner only) and Settings > Shipping (package presets).

use super::order::number;
use super::{ok, render, Chrome, PageError, Svc};
use crate::domain::notifications::Recipient;
use crate::domain::notifications::EVENTS;
use crate::domain::outbox::Channel;
use crate::ports::transport_keys as keys;
use crate::scripting::{ScriptKind, ScriptSource};
use crate::service::{PackagePreset, Switches};
use crate::web::auth::{self, Fields, Posted, SignedIn};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// (field, message)
type Problem = (String, String);

/// An event's switches.
pub struct EventRow {
    pub event: &'static str,
    pub email: bool,
    pub sms: bool,
}

/// A transport input.
pub struct Input {
    pub name: &'static str,
    pub label: &'static str,
    pub value: String,
    pub secret: bool,
    /// A secret is stored (shown as "set", never echoed).
    pub has_value: bool,
    pub help: &'static str,
    pub error: Option<String>,
}

/// A rendered preview.
pub struct Preview {
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub sms: Option<String>,
    pub nothing: bool,
}

#[derive(Template)]
#[template(path = "settings/notifications.html")]
struct NotificationsPage {
    chrome: Chrome,
    events: Vec<EventRow>,
    owner: bool,
    smtp: Vec<Input>,
    tls: String,
    sms: Vec<Input>,
    transport_error: Option<String>,
    preview_event: String,
    preview_order: String,
    preview_error: Option<String>,
    preview: Option<Preview>,
    test_to: String,
    test_channel: String,
    test_error: Option<String>,
}

const SMTP: &[(&str, &str, &str, bool, &str)] = &[
    (
        "smtp_host",
        keys::SMTP_HOST,
        "SMTP host",
        false,
        "e.g. smtp.example.com; blank: e-mails wait in the outbox",
    ),
    (
        "smtp_port",
        keys::SMTP_PORT,
        "Port",
        false,
        "Blank: 465 for TLS, 587 for STARTTLS, 25 otherwise",
    ),
    ("smtp_username", keys::SMTP_USERNAME, "Username", false, ""),
    (
        "smtp_password",
        keys::SMTP_PASSWORD,
        "Password",
        true,
        "Leave blank to keep the current password",
    ),
    (
        "smtp_from",
        keys::SMTP_FROM,
        "From address",
        false,
        "Blank: the store email",
    ),
];
const SMS: &[(&str, &str, &str, bool, &str)] = &[
    (
        "sms_url",
        keys::SMS_URL,
        "SMS gateway URL",
        false,
        "https://…; blank: SMS messages wait in the outbox",
    ),
    (
        "sms_auth_header",
        keys::SMS_AUTH,
        "Authorization header",
        true,
        "Leave blank to keep the current value",
    ),
];

#[derive(Default)]
struct State {
    posted: Option<Fields>,
    transport: Option<Problem>,
    preview: Option<Preview>,
    preview_error: Option<String>,
    test_error: Option<String>,
}

fn setting(all: &BTreeMap<String, String>, k: &str) -> String {
    all.get(k).cloned().unwrap_or_default()
}

async fn page(
    req: &HttpRequest,
    who: &SignedIn,
    svc: &Svc,
    st: State,
) -> Result<NotificationsPage, PageError> {
    let all = svc.settings_snapshot().await?;
    let switches = Switches::from_map(&all);
    let events = EVENTS
        .iter()
        .map(|e| EventRow {
            event: e,
            email: switches.on(e, Channel::Email),
            sms: switches.on(e, Channel::Sms),
        })
        .collect();
    let owner = who.member.role.can_manage_tokens();
    let posted = st.posted.as_ref();
    let inputs = |list: &[(&'static str, &str, &'static str, bool, &'static str)]| {
        list.iter()
            .map(|(name, key, label, secret, help)| {
                let stored = setting(&all, key);
                Ok(Input {
                    name,
                    label,
                    value: if *secret {
                        String::new()
                    } else if st.transport.is_some() {
                        posted
                            .map(|f| f.get(name).to_string())
                            .unwrap_or(stored.clone())
                    } else {
                        stored.clone()
                    },
                    secret: *secret,
                    has_value: !stored.is_empty(),
                    help,
                    error: st
                        .transport
                        .as_ref()
                        .filter(|(f, _)| f == name)
                        .map(|(_, m)| m.clone()),
                })
            })
            .collect::<Result<Vec<_>, PageError>>()
    };
    let (smtp, sms, tls) = if owner {
        let tls = match (st.transport.is_some(), posted) {
            (true, Some(f)) => f.get("smtp_tls").to_string(),
            _ => setting(&all, keys::SMTP_TLS),
        };
        (inputs(SMTP)?, inputs(SMS)?, tls)
    } else {
        (Vec::new(), Vec::new(), String::new())
    };
    let pv = |k: &str| posted.map(|f| f.get(k).to_string()).unwrap_or_default();
    Ok(NotificationsPage {
        chrome: Chrome::new(req, who, "settings", "Notifications"),
        events,
        owner,
        smtp,
        tls,
        sms,
        transport_error: st
            .transport
            .as_ref()
            .filter(|(f, _)| f.is_empty())
            .map(|(_, m)| m.clone()),
        preview_event: pv("event"),
        preview_order: pv("order"),
        preview_error: st.preview_error,
        preview: st.preview,
        test_to: pv("to"),
        test_channel: pv("channel"),
        test_error: st.test_error,
    })
}

async fn show(req: HttpRequest, who: SignedIn, svc: Svc) -> Result<HttpResponse, PageError> {
    let p = page(&req, &who, &svc, State::default()).await?;
    Ok(ok(&req, &p.chrome, &p))
}

async fn save_switches(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
) -> Result<HttpResponse, PageError> {
    let mut pairs = Vec::new();
    for e in EVENTS {
        for c in [Channel::Email, Channel::Sms] {
            let name = format!("{e}.{}", c.as_str());
            let v = if form.fields.checked(&name) {
                "on"
            } else {
                "off"
            };
            pairs.push((format!("notify.{name}"), v.to_string()));
        }
    }
    let pairs: Vec<(&str, String)> = pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    svc.put_settings(&pairs).await?;
    Ok(auth::redirect_with_flash(
        &req,
        "/settings/notifications",
        "Notification switches saved.",
    ))
}

fn owner_only(who: &SignedIn, what: &str) -> Result<(), PageError> {
    if who.member.role.can_manage_tokens() {
        Ok(())
    } else {
        Err(PageError::Forbidden(format!("Only the owner can {what}.")))
    }
}

fn check_transports(f: &Fields) -> Result<Vec<(&'static str, Option<String>)>, Problem> {
    let p = |field: &str, m: &str| (field.to_string(), m.to_string());
    let mut out = Vec::new();
    let clean = |name: &str| -> Result<String, Problem> {
        let v = f.get(name).trim();
        if v.len() > 500 || v.chars().any(|c| c.is_control()) {
            return Err(p(name, "is too long or contains control characters"));
        }
        Ok(v.to_string())
    };
    let port = clean("smtp_port")?;
    if !port.is_empty() && port.parse::<u16>().map(|x| x == 0).unwrap_or(true) {
        return Err(p("smtp_port", "Port must be a number between 1 and 65535"));
    }
    let tls = f.get("smtp_tls");
    if !matches!(tls, "none" | "starttls" | "tls") {
        return Err(p("smtp_tls", "Choose none, STARTTLS or TLS"));
    }
    let from = clean("smtp_from")?;
    if !from.is_empty() && !from.contains('@') {
        return Err(p("smtp_from", "From address must be an e-mail address"));
    }
    let url = clean("sms_url")?;
    if !(url.is_empty() || url.starts_with("https://") || url.starts_with("http://")) {
        return Err(p(
            "sms_url",
            "SMS gateway URL must start with https:// or http://",
        ));
    }
    out.push((keys::SMTP_TLS, Some(tls.to_string())));
    for (name, key, _, secret, _) in SMTP.iter().chain(SMS) {
        let v = clean(name)?;
        // A blank secret keeps the stored one.
        out.push((
            key,
            if *secret && v.is_empty() {
                None
            } else {
                Some(v)
            },
        ));
    }
    Ok(out)
}

async fn save_transports(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
) -> Result<HttpResponse, PageError> {
    owner_only(&form.who, "configure the e-mail and SMS transports")?;
    match check_transports(&form.fields) {
        Ok(values) => {
            let mut pairs: Vec<(&str, String)> = values
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect();
            if form.fields.checked("clear_secrets") {
                for k in [keys::SMTP_PASSWORD, keys::SMS_AUTH] {
                    pairs.push((k, String::new()));
                }
            }
            svc.put_settings(&pairs).await?;
            svc.outbox_wake().notify_one();
            Ok(auth::redirect_with_flash(
                &req,
                "/settings/notifications",
                "Transports saved.",
            ))
        }
        Err(problem) => {
            let Posted { who, fields } = form;
            let p = page(
                &req,
                &who,
                &svc,
                State {
                    posted: Some(fields),
                    transport: Some(problem),
                    ..State::default()
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

async fn preview(req: HttpRequest, form: Posted, svc: Svc) -> Result<HttpResponse, PageError> {
    let f = &form.fields;
    let event = f.get("event");
    let result: Result<Preview, String> = async {
        let event = EVENTS
            .iter()
            .find(|e| **e == event)
            .ok_or_else(|| "Choose an event".to_string())?;
        let n = number(f.get("order").trim())
            .map_err(|_| "Enter an order number like 1001".to_string())?;
        let order = svc
            .order(n)
            .await
            .map_err(|_| format!("There is no order #{n}"))?;
        let settings = svc.settings().await.map_err(|e| e.to_string())?;
        let shipment = order.shipments.last().map(|s| s.id);
        let recipient = if *event == "order_placed_store" {
            Recipient::Store
        } else {
            Recipient::Customer
        };
        let ctx = crate::service::messages::template_context(
            event,
            &order,
            shipment,
            recipient,
            &settings.store_info(),
        );
        let r = svc
            .preview_message(event, &ctx)
            .map_err(|e| format!("The template failed: {e}"))?;
        Ok(match r {
            None => Preview {
                subject: None,
                text: None,
                html: None,
                sms: None,
                nothing: true,
            },
            Some(r) => Preview {
                subject: r.email.as_ref().map(|e| e.subject.clone()),
                text: r.email.as_ref().map(|e| e.text.clone()),
                html: r.email.as_ref().and_then(|e| e.html.clone()),
                nothing: r.email.is_none() && r.sms.is_none(),
                sms: r.sms,
            },
        })
    }
    .await;
    let Posted { who, fields } = form;
    let (status, st) = match result {
        Ok(pv) => (
            StatusCode::OK,
            State {
                posted: Some(fields),
                preview: Some(pv),
                ..State::default()
            },
        ),
        Err(m) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            State {
                posted: Some(fields),
                preview_error: Some(m),
                ..State::default()
            },
        ),
    };
    let p = page(&req, &who, &svc, st).await?;
    Ok(render(&req, status, &p.chrome, &p))
}

async fn send_test(req: HttpRequest, form: Posted, svc: Svc) -> Result<HttpResponse, PageError> {
    owner_only(&form.who, "send test messages")?;
    let channel = match form.fields.get("channel") {
        "sms" => Channel::Sms,
        _ => Channel::Email,
    };
    let to = form.fields.get("to").trim().to_string();
    let problem = if to.is_empty() {
        Some("Enter an address to send the test to".to_string())
    } else if channel == Channel::Email && !to.contains('@') {
        Some("Enter an e-mail address like you@example.com".to_string())
    } else {
        None
    };
    if let Some(m) = problem {
        let Posted { who, fields } = form;
        let p = page(
            &req,
            &who,
            &svc,
            State {
                posted: Some(fields),
                test_error: Some(m),
                ..State::default()
            },
        )
        .await?;
        return Ok(render(
            &req,
            StatusCode::UNPROCESSABLE_ENTITY,
            &p.chrome,
            &p,
        ));
    }
    svc.send_test(channel, &to).await?;
    Ok(auth::redirect_with_flash(
        &req,
        "/outbox",
        &format!("A test message to {to} is in the outbox."),
    ))
}

/// A loaded script row.
pub struct ScriptRow {
    pub path: String,
    pub kind: &'static str,
    pub source: &'static str,
    pub enabled: bool,
}

#[derive(Template)]
#[template(path = "settings/scripts.html")]
struct ScriptsPage {
    chrome: Chrome,
    owner: bool,
    dir: String,
    scripts: Vec<ScriptRow>,
    errors: Vec<String>,
}

fn scripts_page(req: &HttpRequest, who: &SignedIn, svc: &Svc, errors: Vec<String>) -> ScriptsPage {
    let scripts = svc
        .scripts()
        .map(|r| r.current().scripts())
        .unwrap_or_default()
        .into_iter()
        .map(|s| ScriptRow {
            path: s.path,
            kind: match s.kind {
                ScriptKind::Notification => "Notification",
                ScriptKind::Carrier => "Carrier",
            },
            source: match s.source {
                ScriptSource::Embedded => "Built in",
                ScriptSource::Folder => "Scripts folder",
            },
            enabled: s.enabled,
        })
        .collect();
    ScriptsPage {
        chrome: Chrome::new(req, who, "settings", "Scripts"),
        owner: who.member.role.can_manage_tokens(),
        dir: svc
            .scripts_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default(),
        scripts,
        errors,
    }
}

async fn scripts(req: HttpRequest, who: SignedIn, svc: Svc) -> Result<HttpResponse, PageError> {
    let p = scripts_page(&req, &who, &svc, Vec::new());
    Ok(ok(&req, &p.chrome, &p))
}

async fn reload(req: HttpRequest, form: Posted, svc: Svc) -> Result<HttpResponse, PageError> {
    owner_only(&form.who, "reload the scripts")?;
    match svc.reload_scripts() {
        Ok(()) => Ok(auth::redirect_with_flash(
            &req,
            "/settings/scripts",
            "Scripts reloaded.",
        )),
        Err(errors) => {
            let p = scripts_page(
                &req,
                &form.who,
                &svc,
                errors.iter().map(|e| e.to_string()).collect(),
            );
            Ok(render(
                &req,
                StatusCode::UNPROCESSABLE_ENTITY,
                &p.chrome,
                &p,
            ))
        }
    }
}

/// A preset row.
pub struct PresetRow {
    pub name: String,
    pub size: String,
    pub weight: u32,
}

#[derive(Template)]
#[template(path = "settings/shipping.html")]
struct ShippingPage {
    chrome: Chrome,
    presets: Vec<PresetRow>,
    new: Vec<(&'static str, &'static str, String, Option<String>)>,
    ship_from: String,
}

const PRESET_FIELDS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("length_cm", "Length (cm)"),
    ("width_cm", "Width (cm)"),
    ("height_cm", "Height (cm)"),
    ("weight_grams", "Empty weight (g)"),
];

async fn shipping_page(
    req: &HttpRequest,
    who: &SignedIn,
    svc: &Svc,
    posted: Option<&Fields>,
    problem: Option<Problem>,
) -> Result<ShippingPage, PageError> {
    let settings = svc.settings().await?;
    Ok(ShippingPage {
        chrome: Chrome::new(req, who, "settings", "Shipping"),
        presets: svc
            .package_presets()
            .await
            .into_iter()
            .map(|p| PresetRow {
                size: format!("{} × {} × {} cm", p.length_cm, p.width_cm, p.height_cm),
                name: p.name,
                weight: p.weight_grams,
            })
            .collect(),
        new: PRESET_FIELDS
            .iter()
            .map(|(n, l)| {
                (
                    *n,
                    *l,
                    posted.map(|f| f.get(n).to_string()).unwrap_or_default(),
                    problem
                        .as_ref()
                        .filter(|(f, _)| f == n)
                        .map(|(_, m)| m.clone()),
                )
            })
            .collect(),
        ship_from: settings.address_lines().replace('\n', ", "),
    })
}

async fn shipping(req: HttpRequest, who: SignedIn, svc: Svc) -> Result<HttpResponse, PageError> {
    let p = shipping_page(&req, &who, &svc, None, None).await?;
    Ok(ok(&req, &p.chrome, &p))
}

fn check_preset(f: &Fields, existing: &[PackagePreset]) -> Result<PackagePreset, Problem> {
    let p = |field: &str, m: &str| (field.to_string(), m.to_string());
    let name = f.get("name").trim().to_string();
    if name.is_empty() || name.chars().count() > 60 || name.chars().any(|c| c.is_control()) {
        return Err(p("name", "Name is required (at most 60 characters)"));
    }
    if existing.iter().any(|x| x.name == name) {
        return Err(p("name", "A preset with this name already exists"));
    }
    let dim = |n: &str, label: &str| -> Result<Decimal, Problem> {
        f.get(n)
            .trim()
            .parse::<Decimal>()
            .ok()
            .filter(|d| *d > Decimal::ZERO && *d <= Decimal::new(300, 0))
            .ok_or_else(|| {
                (
                    n.to_string(),
                    format!("{label} must be between 0 and 300 cm"),
                )
            })
    };
    Ok(PackagePreset {
        length_cm: dim("length_cm", "Length")?,
        width_cm: dim("width_cm", "Width")?,
        height_cm: dim("height_cm", "Height")?,
        weight_grams: f
            .get("weight_grams")
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|w| *w <= 70_000)
            .ok_or_else(|| p("weight_grams", "Weight must be whole grams, at most 70000"))?,
        name,
    })
}

async fn add_preset(req: HttpRequest, form: Posted, svc: Svc) -> Result<HttpResponse, PageError> {
    let mut presets = svc.package_presets().await;
    match check_preset(&form.fields, &presets) {
        Ok(p) => {
            let name = p.name.clone();
            presets.push(p);
            svc.set_package_presets(&presets).await?;
            Ok(auth::redirect_with_flash(
                &req,
                "/settings/shipping",
                &format!("Preset {name} added."),
            ))
        }
        Err(problem) => {
            let p = shipping_page(&req, &form.who, &svc, Some(&form.fields), Some(problem)).await?;
            Ok(render(
                &req,
                StatusCode::UNPROCESSABLE_ENTITY,
                &p.chrome,
                &p,
            ))
        }
    }
}

async fn remove_preset(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
) -> Result<HttpResponse, PageError> {
    let name = form.fields.get("name").to_string();
    let mut presets = svc.package_presets().await;
    let before = presets.len();
    presets.retain(|p| p.name != name);
    if presets.len() == before {
        return Err(PageError::NotFound(format!("No preset {name}")));
    }
    svc.set_package_presets(&presets).await?;
    Ok(auth::redirect_with_flash(
        &req,
        "/settings/shipping",
        &format!("Preset {name} removed."),
    ))
}

/// Registers Settings > Notifications, Scripts and Shipping.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings/notifications", web::get().to(show))
        .route("/settings/notifications", web::post().to(save_switches))
        .route(
            "/settings/notifications/transports",
            web::post().to(save_transports),
        )
        .route("/settings/notifications/preview", web::post().to(preview))
        .route("/settings/notifications/test", web::post().to(send_test))
        .route("/settings/scripts", web::get().to(scripts))
        .route("/settings/scripts/reload", web::post().to(reload))
        .route("/settings/shipping", web::get().to(shipping))
        .route("/settings/shipping/presets", web::post().to(add_preset))
        .route(
            "/settings/shipping/presets/remove",
            web::post().to(remove_preset),
        );
}
