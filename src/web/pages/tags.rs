//! Tags on the order page: add one, remove one. The rules (what a tag may be, how many an
//! order carries) are the domain's; a refusal is shown by the tag form.

use super::order::{number, order_command, Drafts};
use super::{PageError, Svc};
use crate::domain::Command;
use crate::web::auth::Posted;
use actix_web::{web, HttpRequest, HttpResponse};

async fn tag_command(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
    path: web::Path<String>,
    add: bool,
) -> Result<HttpResponse, PageError> {
    let n = number(&path)?;
    let tag = form.fields.get("tag").to_string();
    let (cmd, done) = if add {
        (Command::AddTag { tag: tag.clone() }, "Tag added.")
    } else {
        (Command::RemoveTag { tag: tag.clone() }, "Tag removed.")
    };
    order_command(&req, &form, &svc, n, cmd, (done, "tags"), |e| Drafts {
        tag,
        tag_error: Some(e),
        ..Drafts::default()
    })
    .await
}

async fn add(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    tag_command(req, form, svc, path, true).await
}

async fn remove(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    tag_command(req, form, svc, path, false).await
}

/// Registers the tag forms of the order page.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orders/{n}/tags", web::post().to(add))
        .route("/orders/{n}/tags/remove", web::post().to(remove));
}
