//! Saved views over the API (docs/API.md, Saved views): list, save, remove. A view's orders
//! are `GET /orders?view={id}`.

use super::openapi;
use super::{parse, ApiBody, ApiCaller};
use crate::service::saved_views::SavedView;
use crate::service::Service;
use crate::web::error::ApiError;
use crate::web::query::{params_from_json, params_to_json, view_query};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ViewBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    query: Option<Value>,
}

/// A view as JSON.
pub fn view_json(v: &SavedView) -> Value {
    json!({"id": v.id, "name": v.name, "query": params_to_json(&v.query)})
}

/// `GET /views`: every saved view, oldest first.
#[utoipa::path(
    get, path = "/views", tag = "Orders",
    responses((status = 200, description = "Every saved view, oldest first", body = openapi::SavedViewList), openapi::Refusals)
)]
pub(super) async fn list(
    svc: web::Data<Service>,
    _caller: ApiCaller,
) -> Result<HttpResponse, ApiError> {
    let views: Vec<Value> = svc.saved_views().await?.iter().map(view_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "views": views })))
}

/// `POST /views`: saves a named list query; 201 with the view.
#[utoipa::path(
    post, path = "/views", tag = "Orders",
    request_body = openapi::SavedViewRequest,
    responses((status = 201, description = "The view", body = openapi::SavedView), openapi::Refusals)
)]
pub(super) async fn create(
    svc: web::Data<Service>,
    _caller: ApiCaller,
    body: ApiBody,
) -> Result<HttpResponse, ApiError> {
    let b: ViewBody = parse(&body.0)?;
    let query = b.query.unwrap_or_else(|| json!({}));
    let pairs = params_from_json("query", &query)
        .and_then(view_query)
        .map_err(|e| ApiError::invalid("query", e.0))?;
    let view = svc.save_view(&b.name, pairs).await?;
    Ok(HttpResponse::Created().json(view_json(&view)))
}

/// `DELETE /views/{id}`: removes a view; 204.
#[utoipa::path(
    delete, path = "/views/{id}", tag = "Orders", params(("id" = Uuid, Path, description = "The view id")),
    responses((status = 204, description = "Removed"), openapi::Refusals)
)]
pub(super) async fn delete(
    svc: web::Data<Service>,
    _caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path
        .parse()
        .map_err(|_| ApiError::not_found(format!("View {} not found", path.as_str())))?;
    svc.remove_view(id).await?;
    Ok(HttpResponse::NoContent().finish())
}
