//! The order's action forms (Record payment, Refund, Dispatch, Fulfill, Return order, Cancel
//! order), the shipment menu (Edit, Mark as delivered, Void/Cancel; Track and Print label are in
//! `shipment_docs`) and note deletion. Each is a form (when it has fields, `form.rs`) → a
//! confirmation page that says what cannot be undone (`review.rs`) → the action, applied through
//! the service to the order the request read. Refusals come from the rules (the service's probe)
//! and are shown next to their field with the input kept (422). Works without JavaScript.

mod form;
mod review;

use super::order::number;
use super::{money, ok, render, shipment_docs, PageError, Svc};
use crate::domain::{NoteId, Order, RuleError, Shipment, ShipmentId, ShipmentKind};
use crate::service::ServiceError;
use crate::web::auth::{self, Fields, Posted, SignedIn};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use form::form_page;
use review::review_page;

/// Which action a form is for.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Payment,
    Refund,
    Dispatch,
    Fulfill,
    Return,
    Cancel,
    EditShipment(ShipmentId),
    Deliver(ShipmentId),
    Void(ShipmentId),
    DeleteNote(NoteId),
}

/// A refusal to show: on a field, or at the top of the form when it has no field.
#[derive(Debug, Clone)]
struct FieldError {
    field: Option<String>,
    message: String,
}

impl From<RuleError> for FieldError {
    fn from(e: RuleError) -> Self {
        FieldError {
            field: e.field().map(str::to_string),
            message: e.to_string(),
        }
    }
}

fn field_error(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: Some(field.to_string()),
        message: message.into(),
    }
}

pub(super) fn shipment(order: &Order, id: ShipmentId) -> Result<&Shipment, PageError> {
    order
        .shipment(id)
        .ok_or_else(|| PageError::NotFound("No such shipment on this order".into()))
}

impl Kind {
    fn from_slug(s: &str) -> Option<Kind> {
        Some(match s {
            "payment" => Kind::Payment,
            "refund" => Kind::Refund,
            "dispatch" => Kind::Dispatch,
            "fulfill" => Kind::Fulfill,
            "return" => Kind::Return,
            "cancel" => Kind::Cancel,
            _ => return None,
        })
    }

    fn slug(self) -> &'static str {
        match self {
            Kind::Payment => "payment",
            Kind::Refund => "refund",
            Kind::Dispatch => "dispatch",
            Kind::Fulfill => "fulfill",
            Kind::Return => "return",
            Kind::Cancel => "cancel",
            Kind::EditShipment(_) => "shipment-edit",
            Kind::Deliver(_) => "deliver",
            Kind::Void(_) => "void",
            Kind::DeleteNote(_) => "note-delete",
        }
    }

    fn url(self, n: u64) -> String {
        match self {
            Kind::EditShipment(s) => format!("/orders/{n}/shipments/{s}/edit"),
            Kind::Deliver(s) => format!("/orders/{n}/shipments/{s}/deliver"),
            Kind::Void(s) => format!("/orders/{n}/shipments/{s}/void"),
            Kind::DeleteNote(id) => format!("/orders/{n}/notes/{id}/delete"),
            other => format!("/orders/{n}/act/{}", other.slug()),
        }
    }

    fn title(self, order: &Order) -> String {
        let n = order.number;
        match self {
            Kind::Payment => format!("Record payment for #{n}"),
            Kind::Refund => format!("Refund #{n}"),
            Kind::Dispatch => format!("Dispatch #{n}"),
            Kind::Fulfill => format!("Fulfill #{n}"),
            Kind::Return => format!("Return items of #{n}"),
            Kind::Cancel => format!("Cancel order #{n}"),
            Kind::EditShipment(_) => "Edit shipment".into(),
            Kind::Deliver(_) => "Mark shipment as delivered".into(),
            Kind::Void(s) => match order.shipment(s).map(|s| s.kind) {
                Some(ShipmentKind::Carrier) => "Void shipment label".into(),
                _ => "Cancel shipment".into(),
            },
            Kind::DeleteNote(_) => "Delete note".into(),
        }
    }

    fn confirm_label(self) -> &'static str {
        match self {
            Kind::Payment => "Record payment",
            Kind::Refund => "Refund",
            Kind::Dispatch => "Mark as dispatched",
            Kind::Fulfill => "Fulfill",
            Kind::Return => "Return",
            Kind::Cancel => "Cancel this order",
            Kind::EditShipment(_) => "Save shipment",
            Kind::Deliver(_) => "Mark as delivered",
            Kind::Void(_) => "Cancel shipment",
            Kind::DeleteNote(_) => "Delete note",
        }
    }

    fn danger(self) -> bool {
        matches!(
            self,
            Kind::Cancel | Kind::Void(_) | Kind::DeleteNote(_) | Kind::Refund
        )
    }

    fn has_form(self) -> bool {
        !matches!(
            self,
            Kind::Dispatch | Kind::Deliver(_) | Kind::Void(_) | Kind::DeleteNote(_)
        )
    }

    fn intro(self, order: &Order) -> String {
        let m = |d| money(d, &order.currency);
        match self {
            Kind::Payment => format!("Total {} · paid {} · balance {}. Leave the amount empty to record the whole balance.", m(order.total), m(order.paid()), m(order.balance())),
            Kind::Refund => "Choose the quantities to refund and any shipping or adjustment. Amount = items + refund shipping + adjustment refund − adjustment fee.".into(),
            Kind::Fulfill => "Manual Fulfill: you deliver with your own delivery service. Tick the items and quantities for this shipment.".into(),
            Kind::Return => "Indicate how many delivered items the customer sent back.".into(),
            Kind::Cancel => "Only orders with nothing shipped can be canceled.".into(),
            Kind::EditShipment(_) => "Only manual shipments can be edited.".into(),
            _ => String::new(),
        }
    }

    fn back(self, n: u64) -> String {
        match self {
            Kind::DeleteNote(_) => format!("/orders/{n}#notes"),
            Kind::EditShipment(_) | Kind::Deliver(_) | Kind::Void(_) | Kind::Fulfill => {
                format!("/orders/{n}#shipments")
            }
            _ => format!("/orders/{n}"),
        }
    }
}

/// GET: the form, or straight to the confirmation for actions without fields.
async fn show(
    req: &HttpRequest,
    who: &SignedIn,
    svc: &Svc,
    kind: Kind,
    order: &Order,
) -> Result<HttpResponse, PageError> {
    if kind.has_form() {
        let p = form_page(req, who, svc, kind, order, None, None)?;
        return Ok(ok(req, &p.chrome, &p));
    }
    let empty = Fields::default();
    let probe = svc.probe(who.actor());
    match kind
        .command(order, &empty)
        .map(|cmd| probe.decide(order, &cmd))
    {
        Ok(Ok(events)) => {
            let p = review_page(req, who, kind, order, &empty, &events, None);
            Ok(ok(req, &p.chrome, &p))
        }
        Ok(Err(rule)) => {
            let p = review_page(req, who, kind, order, &empty, &[], Some(rule.to_string()));
            Ok(render(req, StatusCode::UNPROCESSABLE_ENTITY, &p.chrome, &p))
        }
        Err(e) => Err(PageError::BadRequest(e.message)),
    }
}

/// POST: step "edit" re-shows the form, "review" checks and shows the confirmation, "confirm" acts.
async fn submit(
    req: &HttpRequest,
    form: Posted,
    svc: &Svc,
    kind: Kind,
    order: Order,
) -> Result<HttpResponse, PageError> {
    let who = &form.who;
    let f = &form.fields;
    let refuse = |e: FieldError| -> Result<HttpResponse, PageError> {
        if kind.has_form() {
            let p = form_page(req, who, svc, kind, &order, Some(f), Some(e))?;
            Ok(render(req, StatusCode::UNPROCESSABLE_ENTITY, &p.chrome, &p))
        } else {
            let p = review_page(req, who, kind, &order, f, &[], Some(e.message));
            Ok(render(req, StatusCode::UNPROCESSABLE_ENTITY, &p.chrome, &p))
        }
    };
    let step = match f.get("step") {
        "" if kind.has_form() => "review",
        "" => "confirm",
        s => s,
    };
    if step == "edit" && kind.has_form() {
        let p = form_page(req, who, svc, kind, &order, Some(f), None)?;
        return Ok(ok(req, &p.chrome, &p));
    }
    let cmd = match kind.command(&order, f) {
        Ok(c) => c,
        Err(e) => return refuse(e),
    };
    if step == "review" {
        return match svc.probe(who.actor()).decide(&order, &cmd) {
            Ok(events) => {
                let p = review_page(req, who, kind, &order, f, &events, None);
                Ok(ok(req, &p.chrome, &p))
            }
            Err(rule) => refuse(rule.into()),
        };
    }
    // Applied to the order this request read and decided on: written only if it is still the
    // stored version (otherwise decided again on the stored one), so it is read once.
    match svc.apply(order.clone(), &cmd, who.actor()).await {
        Ok(after) => Ok(auth::redirect_with_flash(
            req,
            &kind.back(order.number),
            &kind.done(&order, &after),
        )),
        Err(ServiceError::Rule(rule)) if !rule.is_not_found() => {
            // The order may have changed since the form was shown: show it as it is now.
            let current = svc.order(order.number).await?;
            let e: FieldError = rule.into();
            if kind.has_form() {
                let p = form_page(req, who, svc, kind, &current, Some(f), Some(e))?;
                Ok(render(req, StatusCode::UNPROCESSABLE_ENTITY, &p.chrome, &p))
            } else {
                let p = review_page(req, who, kind, &current, f, &[], Some(e.message));
                Ok(render(req, StatusCode::UNPROCESSABLE_ENTITY, &p.chrome, &p))
            }
        }
        Err(e) => Err(e.into()),
    }
}

fn order_action(raw_n: &str, slug: &str) -> Result<(u64, Kind), PageError> {
    let n = number(raw_n)?;
    let kind = Kind::from_slug(slug)
        .ok_or_else(|| PageError::NotFound("There is no such action.".into()))?;
    Ok((n, kind))
}

async fn action_form(
    req: HttpRequest,
    who: SignedIn,
    svc: Svc,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (n, kind) = order_action(&path.0, &path.1)?;
    let order = svc.order(n).await?;
    show(&req, &who, &svc, kind, &order).await
}

async fn action_submit(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (n, kind) = order_action(&path.0, &path.1)?;
    let order = svc.order(n).await?;
    submit(&req, form, &svc, kind, order).await
}

fn shipment_kind(order: &Order, sid: &str, op: &str) -> Result<Kind, PageError> {
    let id = sid
        .parse::<ShipmentId>()
        .map_err(|_| PageError::NotFound("No such shipment on this order".into()))?;
    let s = shipment(order, id)?;
    Ok(match op {
        "edit" => Kind::EditShipment(id),
        "deliver" => Kind::Deliver(id),
        "void" => Kind::Void(id),
        _ => {
            let _ = s;
            return Err(PageError::NotFound(
                "There is no such shipment action.".into(),
            ));
        }
    })
}

async fn shipment_form(
    req: HttpRequest,
    who: SignedIn,
    svc: Svc,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, PageError> {
    let (n, sid, op) = path.into_inner();
    let order = svc.order(number(&n)?).await?;
    match op.as_str() {
        "track" => return shipment_docs::track(&req, &who, &order, &sid),
        "label" => return shipment_docs::label(&req, &who, &order, &sid),
        _ => {}
    }
    let kind = shipment_kind(&order, &sid, &op)?;
    show(&req, &who, &svc, kind, &order).await
}

async fn shipment_submit(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, PageError> {
    let (n, sid, op) = path.into_inner();
    let order = svc.order(number(&n)?).await?;
    let kind = shipment_kind(&order, &sid, &op)?;
    submit(&req, form, &svc, kind, order).await
}

fn note_kind(order: &Order, id: &str) -> Result<Kind, PageError> {
    let id = id
        .parse::<NoteId>()
        .map_err(|_| PageError::NotFound("No such note on this order".into()))?;
    if !order.notes.iter().any(|n| n.id == id) {
        return Err(PageError::NotFound("No such note on this order".into()));
    }
    Ok(Kind::DeleteNote(id))
}

async fn note_delete_form(
    req: HttpRequest,
    who: SignedIn,
    svc: Svc,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let order = svc.order(number(&path.0)?).await?;
    let kind = note_kind(&order, &path.1)?;
    show(&req, &who, &svc, kind, &order).await
}

async fn note_delete(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let order = svc.order(number(&path.0)?).await?;
    let kind = note_kind(&order, &path.1)?;
    submit(&req, form, &svc, kind, order).await
}

/// Registers the action forms, the shipment menu and note deletion.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orders/{n}/act/{action}", web::get().to(action_form))
        .route("/orders/{n}/act/{action}", web::post().to(action_submit))
        .route(
            "/orders/{n}/shipments/{sid}/{op}",
            web::get().to(shipment_form),
        )
        .route(
            "/orders/{n}/shipments/{sid}/{op}",
            web::post().to(shipment_submit),
        )
        .route(
            "/orders/{n}/notes/{id}/delete",
            web::get().to(note_delete_form),
        )
        .route("/orders/{n}/notes/{id}/delete", web::post().to(note_delete));
}
