//! Orders over the API: intake (`POST /orders`), one order, the order list and customer search.

use super::openapi;
use super::{number, ok, order_response, parse, ApiBody, ApiCaller};
use crate::domain::intake::OrderDraft;
use crate::service::{body_hash, Service};
use crate::web::error::ApiError;
use crate::web::query::{list_query, refine, Params};
use crate::web::views;
use actix_web::{web, HttpRequest, HttpResponse};
use std::collections::HashMap;

/// `POST /orders`: places an order. A retry with the same `Idempotency-Key` and the same order
/// answers with the order already placed.
#[utoipa::path(
    post, path = "/orders", tag = "Orders",
    request_body = openapi::NewOrder,
    params(("Idempotency-Key" = Option<String>, Header, description = "The same key and body answer the same order again (201); the same key with another body is 409")),
    responses((status = 201, description = "The order placed", body = openapi::Order), openapi::Refusals)
)]
pub(super) async fn create_order(
    svc: web::Data<Service>,
    caller: ApiCaller,
    req: HttpRequest,
    body: ApiBody,
) -> Result<HttpResponse, ApiError> {
    let draft: OrderDraft = parse(&body.0)?;
    let idem = match req.headers().get("Idempotency-Key") {
        None => None,
        Some(v) => {
            let key = v
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|k| !k.is_empty() && k.len() <= 255)
                .ok_or_else(|| {
                    ApiError::malformed("Idempotency-Key must be 1 to 255 visible ASCII characters")
                })?;
            // The key's meaning is the request as parsed, so formatting differences don't conflict.
            let canonical = serde_json::to_vec(&draft).unwrap_or_else(|_| body.0.to_vec());
            Some((key.to_string(), body_hash(&canonical)))
        }
    };
    let (order, _replayed) = svc.place_order(&draft, caller.0, idem).await?;
    Ok(order_response(actix_web::http::StatusCode::CREATED, &order))
}

/// `GET /orders/{n}`: one order.
#[utoipa::path(
    get, path = "/orders/{n}", tag = "Orders", params(("n" = u64, Path, description = "The order number (a leading # is allowed)")),
    responses((status = 200, description = "The order", body = openapi::Order), openapi::Refusals)
)]
pub(super) async fn get_order(
    svc: web::Data<Service>,
    _caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let n = number(&path)?;
    Ok(ok(&svc.order(n).await?))
}

/// `GET /orders`: a page of order rows, filtered and sorted, with the cursor of the next page.
#[utoipa::path(
    get, path = "/orders", tag = "Orders",
    params(
        ("q" = Option<String>, Query, description = "Search: order number, customer name, e-mail, phone digits, item name or SKU, tracking number"),
        ("payment_status" = Option<String>, Query, description = "A payment status"),
        ("fulfillment_status" = Option<String>, Query, description = "A fulfilment status"),
        ("test" = Option<bool>, Query, description = "Only test (true) or real (false) orders"),
        ("created_from" = Option<String>, Query, description = "YYYY-MM-DD, inclusive"),
        ("created_to" = Option<String>, Query, description = "YYYY-MM-DD, inclusive"),
        ("sort" = Option<String>, Query, description = "created, number, total, payment_status, fulfillment_status or customer; a leading - sorts descending (default -created)"),
        ("limit" = Option<u32>, Query, description = "1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
        ("tag" = Option<Vec<String>>, Query, description = "Orders with this tag; repeat it for orders with all of them (at most 10)"),
        ("view" = Option<Uuid>, Query, description = "A saved view's query; the other parameters refine it"),
    ),
    responses((status = 200, description = "A page of orders", body = openapi::OrderPage), openapi::Refusals)
)]
pub(super) async fn list_orders(
    svc: web::Data<Service>,
    _caller: ApiCaller,
    params: web::Query<Params>,
) -> Result<HttpResponse, ApiError> {
    let params = match params.get("view") {
        Some(id) => {
            let id = id
                .parse()
                .map_err(|_| ApiError::not_found(format!("View {id} not found")))?;
            refine(&svc.saved_view(id).await?.query, &params)
        }
        None => params.into_inner(),
    };
    let q = list_query(&params)?;
    let page = svc.list(&q).await?;
    let rows: Vec<views::ListRow> = page.orders.iter().map(views::ListRow::of).collect();
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({"orders": rows, "next_cursor": page.next_cursor})))
}

/// `GET /customers`: up to 50 customers matching `q`.
#[utoipa::path(
    get, path = "/customers", tag = "Customers",
    params(("q" = Option<String>, Query, description = "Name, e-mail or phone; the newest customers when absent")),
    responses((status = 200, description = "Up to 50 customers", body = openapi::CustomerList), openapi::Refusals)
)]
pub(super) async fn list_customers(
    svc: web::Data<Service>,
    _caller: ApiCaller,
    params: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let q = params.get("q").map(String::as_str).unwrap_or("");
    if q.chars().count() > 200 {
        return Err(ApiError::malformed("q must be at most 200 characters"));
    }
    let list = svc.customers(q, 50).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "customers": list.iter().map(views::customer).collect::<Vec<_>>()
    })))
}
