//! `POST /orders/bulk` (docs/API.md, Bulk actions): one action on many orders, each decided by
//! the rules of the single action and applied on its own; `dry_run` writes nothing.

use super::openapi;
use super::{parse, ApiBody, ApiCaller};
use crate::domain::bulk::BulkAction;
use crate::service::bulk::{BulkLine, Targets};
use crate::service::Service;
use crate::web::error::ApiError;
use crate::web::query::{list_query, params_from_json};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkBody {
    action: String,
    #[serde(default)]
    orders: Option<Vec<u64>>,
    #[serde(default)]
    filter: Option<Value>,
    #[serde(default)]
    params: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    dry_run: bool,
}

/// A batch's answer: each order's outcome and how many went each way.
pub fn answer(lines: &[BulkLine]) -> Value {
    let results: Vec<Value> = lines
        .iter()
        .map(|l| match &l.outcome {
            Ok(changes) => json!({"number": l.number, "ok": true, "changes": changes}),
            Err(r) => json!({
                "number": l.number, "ok": false,
                "error": {"code": r.code, "message": r.message},
            }),
        })
        .collect();
    let ok = lines.iter().filter(|l| l.ok()).count();
    json!({"results": results, "summary": {"ok": ok, "refused": lines.len() - ok}})
}

/// `POST /orders/bulk`: one action on many orders.
#[utoipa::path(
    post, path = "/orders/bulk", tag = "Actions",
    request_body = openapi::BulkRequest,
    responses((status = 200, description = "Each order's outcome, in the order asked (refused orders are unchanged)", body = openapi::BulkResult), openapi::Refusals)
)]
pub(super) async fn bulk(
    svc: web::Data<Service>,
    caller: ApiCaller,
    body: ApiBody,
) -> Result<HttpResponse, ApiError> {
    let b: BulkBody = parse(&body.0)?;
    let params = b.params.unwrap_or_default();
    for (k, v) in &params {
        if !v.is_string() {
            return Err(ApiError::invalid(
                &format!("params.{k}"),
                "must be a string",
            ));
        }
    }
    let action = BulkAction::parse(&b.action, |k| params.get(k).and_then(Value::as_str))
        .map_err(crate::service::ServiceError::from)?;
    let targets = match (b.orders, b.filter) {
        (Some(list), None) => Targets::Numbers(list),
        (None, Some(f)) => {
            let q = params_from_json("filter", &f)
                .and_then(|p| list_query(&p))
                .map_err(|e| ApiError::invalid("filter", e.0))?;
            Targets::Matching(q)
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "orders",
                "and filter cannot both be given",
            ))
        }
        (None, None) => return Err(ApiError::invalid("orders", "or filter is required")),
    };
    let numbers = svc.bulk_numbers(&targets).await?;
    let lines = svc.bulk(&action, &numbers, b.dry_run, caller.0).await;
    Ok(HttpResponse::Ok().json(answer(&lines)))
}
