//! The JSON API (`/api/v1`, described in docs/API.md). Handlers are thin: parse, call one service
//! function, answer. This module holds the route table, the bearer-token and body extractors and
//! the helpers the handlers share; the handlers are in `orders` (intake, reading, lists),
//! `actions` (changes to an order), `shipping` (carriers), `outbox` and `webhooks`; `openapi` describes them all (OpenAPI 3.1).

mod actions;
mod bulk;
mod openapi;
mod orders;
mod outbox;
mod saved_views;
mod shipping;
mod webhooks;

use super::error::ApiError;
use super::query::names;
use super::views;
use crate::domain::money::parse_amount;
use crate::domain::{Actor, ItemId, ItemQty, ShipmentStatus};
use crate::service::Service;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// Largest request body the API reads.
pub const MAX_BODY: usize = 1024 * 1024;

/// The caller of an API request, authenticated by its bearer token.
pub struct ApiCaller(pub Actor);

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

/// Finds the API token named by the `Authorization: Bearer` header; anything else is a 401.
async fn authenticate(req: &HttpRequest) -> Result<ApiCaller, ApiError> {
    let service = req
        .app_data::<web::Data<Service>>()
        .ok_or_else(ApiError::unauthorized)?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(ApiError::unauthorized)?;
    let secret = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= 200)
        .ok_or_else(ApiError::unauthorized)?;
    match service.authenticate(secret).await? {
        Some(t) => Ok(ApiCaller(Actor::Token(t.name))),
        None => Err(ApiError::unauthorized()),
    }
}

/// A request body read with a size limit; too large a body is a JSON 413.
pub struct ApiBody(pub web::Bytes);

/// How much of an oversized body is read (and dropped) so the client sees the 413.
const MAX_DRAIN: usize = 32 * 1024 * 1024;

impl FromRequest for ApiBody {
    type Error = ApiError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(_req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        use futures_util::StreamExt;
        let mut payload = payload.take();
        Box::pin(async move {
            let mut buf = web::BytesMut::new();
            let mut seen = 0usize;
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| {
                    ApiError::malformed(format!("Could not read the request body: {e}"))
                })?;
                seen += chunk.len();
                if seen > MAX_DRAIN {
                    break;
                }
                if seen <= MAX_BODY {
                    buf.extend_from_slice(&chunk);
                }
            }
            if seen > MAX_BODY {
                return Err(ApiError::too_large(format!(
                    "The request body is larger than the limit of {} KiB",
                    MAX_BODY / 1024
                )));
            }
            Ok(ApiBody(buf.freeze()))
        })
    }
}

/// Parses a JSON body, naming the path of the field that is wrong. An empty body reads as `{}`.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        if message.contains(crate::domain::decimal_json::OUT_OF_RANGE) {
            // Well-formed JSON whose number no decimal holds: a value refused on its field.
            let what = message.split(" at line ").next().unwrap_or(&message);
            return ApiError::invalid(&path, what.to_string());
        }
        if path == "." || path.is_empty() {
            ApiError::malformed(format!(
                "Request body is not valid JSON for this call: {inner}"
            ))
        } else {
            ApiError::malformed(format!("{path}: {inner}"))
        }
    })
}

/// An order number from the path (a leading `#` allowed); anything else is a 404.
fn number(raw: &str) -> Result<u64, ApiError> {
    raw.trim_start_matches('#')
        .parse::<u64>()
        .map_err(|_| ApiError::not_found(format!("Order {raw} not found")))
}

/// An optional money amount field; a bad amount is a 422 on `field`.
fn money(field: &str, v: &Option<String>) -> Result<Option<Decimal>, ApiError> {
    match v {
        None => Ok(None),
        Some(s) => parse_amount(s)
            .map(Some)
            .map_err(|e| ApiError::invalid(field, e.to_string())),
    }
}

/// One `{"item_id", "quantity"}` line of a refund, fulfilment or return body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemQtyJson {
    item_id: String,
    quantity: u32,
}

/// The `items` lines of a body; a zero quantity is a 422, an id that is not a UUID an unknown item.
fn items(list: &[ItemQtyJson]) -> Result<Vec<ItemQty>, ApiError> {
    list.iter()
        .enumerate()
        .map(|(i, it)| {
            if it.quantity == 0 {
                return Err(ApiError::invalid(
                    &format!("items[{i}].quantity"),
                    "must be a positive integer",
                ));
            }
            let id = it.item_id.parse::<uuid::Uuid>().map_err(|_| {
                ApiError::from(crate::service::ServiceError::Rule(
                    crate::domain::RuleError::UnknownItem {
                        item_id: it.item_id.clone(),
                    },
                ))
            })?;
            Ok(ItemQty {
                item_id: ItemId(id),
                quantity: it.quantity,
            })
        })
        .collect()
}

/// A shipment status by its JSON name; any other name is a 422 on `status` listing the names.
fn shipment_status(raw: &str) -> Result<ShipmentStatus, ApiError> {
    ShipmentStatus::parse(raw).ok_or_else(|| {
        ApiError::invalid(
            "status",
            format!(
                "must be one of {}",
                names(ShipmentStatus::ALL.iter().map(|s| s.as_str()))
            ),
        )
    })
}

/// An order as JSON with the given status.
fn order_response(status: actix_web::http::StatusCode, o: &crate::domain::Order) -> HttpResponse {
    HttpResponse::build(status).json(views::order(o))
}

/// An order as JSON, 200.
fn ok(o: &crate::domain::Order) -> HttpResponse {
    order_response(actix_web::http::StatusCode::OK, o)
}

/// Any other path under `/api/v1` is a JSON 404.
async fn api_not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found("No such API endpoint"))
}

/// The route table: every `/api/v1` route, registered by [`configure`] and listed in [`ROUTES`]
/// (a unit test in `openapi/mod.rs` requires each to be described in the OpenAPI document).
macro_rules! routes {
    ($($method:ident $path:literal => $handler:path,)*) => {
        /// `(method, path)` of every route, relative to `/api/v1`.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        fn register(scope: actix_web::Scope) -> actix_web::Scope {
            scope$(.route($path, web::$method().to($handler)))*
        }
    };
}

routes! {
    post "/orders" => orders::create_order,
    post "/orders/bulk" => bulk::bulk,
    get "/orders" => orders::list_orders,
    get "/orders/{n}" => orders::get_order,
    post "/orders/{n}/payments" => actions::record_payment,
    post "/orders/{n}/refunds" => actions::refund,
    post "/orders/{n}/dispatch" => actions::dispatch,
    post "/orders/{n}/fulfillments" => actions::fulfill,
    post "/orders/{n}/rates" => shipping::rates,
    post "/carriers/{carrier}/events" => shipping::carrier_event,
    patch "/orders/{n}/shipments/{id}" => actions::edit_shipment,
    post "/orders/{n}/shipments/{id}/deliver" => actions::deliver_shipment,
    post "/orders/{n}/shipments/{id}/void" => actions::void_shipment,
    post "/orders/{n}/returns" => actions::return_items,
    post "/orders/{n}/cancel" => actions::cancel,
    post "/orders/{n}/notes" => actions::add_note,
    patch "/orders/{n}/notes/{id}" => actions::edit_note,
    delete "/orders/{n}/notes/{id}" => actions::delete_note,
    put "/orders/{n}/customer" => actions::change_customer,
    post "/orders/{n}/tags" => actions::add_tag,
    delete "/orders/{n}/tags/{tag}" => actions::remove_tag,
    get "/customers" => orders::list_customers,
    get "/views" => saved_views::list,
    post "/views" => saved_views::create,
    delete "/views/{id}" => saved_views::delete,
    get "/outbox" => outbox::list_outbox,
    post "/webhooks" => webhooks::create,
    get "/webhooks" => webhooks::list,
    delete "/webhooks/{id}" => webhooks::delete,
    get "/webhooks/{id}/deliveries" => webhooks::deliveries,
    post "/webhooks/{id}/deliveries/{delivery}/resend" => webhooks::resend,
    get "/openapi.json" => openapi::document,
}

/// Registers the API under `/api/v1`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let query = web::QueryConfig::default()
        .error_handler(|e, _| ApiError::malformed(format!("Bad query string: {e}")).into());
    cfg.service(
        register(web::scope("/api/v1").app_data(query)).default_service(web::to(api_not_found)),
    );
}
