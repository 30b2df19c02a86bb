//! Notes on the order page: add one, edit one (its own page). Deleting goes through the
//! actions' review step. The rules (length, the note existing) are the domain's.

use super::order::{number, order_command, Drafts};
use super::{ok, render, Chrome, PageError, Svc};
use crate::domain::{Command, NoteId};
use crate::web::auth::{self, Posted, SignedIn};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

/// [`order_command`] for the notes form.
async fn note_command(
    req: &HttpRequest,
    form: &Posted,
    svc: &Svc,
    n: u64,
    cmd: Command,
    done: &str,
) -> Result<HttpResponse, PageError> {
    let note = form.fields.get("body").to_string();
    order_command(req, form, svc, n, cmd, (done, "notes"), |e| Drafts {
        note,
        note_error: Some(e),
        ..Drafts::default()
    })
    .await
}

async fn add_note(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let n = number(&path)?;
    let cmd = Command::AddNote {
        body: form.fields.get("body").to_string(),
    };
    note_command(&req, &form, &svc, n, cmd, "Note added.").await
}

fn note_id(raw: &str) -> Result<NoteId, PageError> {
    raw.parse::<NoteId>()
        .map_err(|_| PageError::NotFound("No such note on this order".into()))
}

#[derive(Template)]
#[template(path = "orders/note_edit.html")]
struct NoteEditPage {
    chrome: Chrome,
    number: u64,
    id: String,
    body: String,
    error: Option<String>,
}

async fn edit_note_form(
    req: HttpRequest,
    who: SignedIn,
    svc: Svc,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (n, id) = path.into_inner();
    let order = svc.order(number(&n)?).await?;
    let id = note_id(&id)?;
    let note = order
        .notes
        .iter()
        .find(|x| x.id == id)
        .ok_or_else(|| PageError::NotFound("No such note on this order".into()))?;
    let p = NoteEditPage {
        chrome: Chrome::new(&req, &who, "orders", "Edit note"),
        number: order.number,
        id: id.to_string(),
        body: note.body.clone(),
        error: None,
    };
    Ok(ok(&req, &p.chrome, &p))
}

async fn edit_note(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (n, id) = path.into_inner();
    let n = number(&n)?;
    let id = note_id(&id)?;
    let body = form.fields.get("body").to_string();
    match svc
        .act(
            n,
            Command::EditNote {
                id,
                body: body.clone(),
            },
            form.who.actor(),
        )
        .await
    {
        Ok(_) => Ok(auth::redirect_with_flash(
            &req,
            &format!("/orders/{n}#notes"),
            "Note saved.",
        )),
        Err(crate::service::ServiceError::Rule(r)) if !r.is_not_found() => {
            let p = NoteEditPage {
                chrome: Chrome::new(&req, &form.who, "orders", "Edit note"),
                number: n,
                id: id.to_string(),
                body,
                error: Some(r.to_string()),
            };
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

/// Registers the note forms of the order page.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orders/{n}/notes", web::post().to(add_note))
        .route("/orders/{n}/notes/{id}/edit", web::get().to(edit_note_form))
        .route("/orders/{n}/notes/{id}/edit", web::post().to(edit_note));
}
