//! Actions on an order over the API: payments, refunds, dispatch, manual fulfilments, shipment
//! edits, returns, cancel, notes and change of customer. Each reads its body and makes one change.

use super::openapi;
use super::{
    items, money, number, ok, parse, shipment_status, shipping, ApiBody, ApiCaller, ItemQtyJson,
};
use crate::domain::decimal_json;
use crate::domain::workflow::{ManualFulfillInput, RefundInput, ShipmentEdit};
use crate::domain::{Command, CustomerId, NoteId, ShipmentId, ShippingPoint};
use crate::service::Service;
use crate::web::error::ApiError;
use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;

/// Runs one command on the order numbered `raw_number` and answers with the order.
async fn run(
    svc: &Service,
    raw_number: &str,
    cmd: Command,
    caller: ApiCaller,
) -> Result<HttpResponse, ApiError> {
    let n = number(raw_number)?;
    Ok(ok(&svc.act(n, cmd, caller.0).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PaymentBody {
    #[serde(default, deserialize_with = "decimal_json::opt_text")]
    amount: Option<String>,
    #[serde(default)]
    reference: Option<String>,
}

/// `POST /orders/{n}/payments`: records a payment (the balance due when no amount is given).
#[utoipa::path(
    post, path = "/orders/{n}/payments", tag = "Actions", params(("n" = u64, Path, description = "The order number (a leading # is allowed)")),
    request_body = openapi::PaymentRequest,
    responses((status = 200, description = "The order with the payment", body = openapi::Order), openapi::Refusals)
)]
pub(super) async fn record_payment(
    svc: web::Data<Service>,
    caller: ApiCaller,
    path: web::Path<String>,
    body: ApiBody,
) -> Result<HttpResponse, ApiError> {
    let b: PaymentBody = parse(&body.0)?;
    let cmd = Command::RecordPayment {
        amount: money("amount", &b.amount)?,
        reference: b.reference,
    };
    run(&svc, &path, cmd, caller).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefundBody {
    #[serde(default)]
    items: Vec<ItemQtyJson>,
    #[serde(default, deserialize_with = "decimal_json::opt_text")]
    refund_shipping: Option<String>,
    #[serde(default, deserialize_with = "decimal_json::opt_text")]
    adjustment_refund: Option<String>,
    #[serde(default, deserialize_with = "decimal_json::opt_text")]
    adjustment_fee: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /orders/{n}/refunds`: refunds items, shipping and adjustments.
#[utoipa::path(
    post, path = "/orders/{n}/refunds", tag = "Actions", params(("n" = u64, Path, description = "The order number (a leading # is allowed)")),
    request_body = openapi::RefundRequest,
    responses((status = 200, description = "The order with the refund", body = openapi::Order), openapi::Refusals)
)]
pub(super) async fn refund(
    svc: web::Data<Service>,
    caller: ApiCaller,
    path: web::Path<String>,
    body: ApiBody,
) -> Result<HttpResponse, ApiError> {
    let b: RefundBody = parse(&body.0)?;
    let cmd = Command::Refund(RefundInput {
        items: items(&b.items)?,
        refund_shipping: money("refund_shipping", &b.refund_shipping)?.unwrap_or_default(),
        adjustment_refund: money("adjustment_refund", &b.adjustment_refund)?.unwrap_or_default(),
        adjustment_fee: money("adjustment_fee", &b.adjustment_fee)?.unwrap_or_default(),
        reason: b.reason,
    });
    run(&svc, &path, cmd, caller).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

/// `POST /orders/{n}/dispatch`: marks an unfulfilled order dispatched (packed, nothing shipped).
#[utoipa::path(
    post, path = "/orders/{n}/dispatch", tag = "Actions", params(("n" = u64, Path, description = "The order number (a leading # is allowed)")),
    request_body = openapi::Empty,
    responses((status = 200, description = "The order, dispatched", body = openapi::Order), openapi::Refusals)
)]
pub(super) async fn dispatch(
    svc: web::Data<Service>,
    caller: ApiCaller,
    path: web::Path<String>,
    body: ApiBody,
) -> Result<HttpResponse, ApiError> {
    let _: Empty = parse(&body.0)?;
    run(&svc, &path, Command::Dispatch, caller).await
}

#[derive(Deserialize)]
struct FulfillBody {
    #[serde(rename = "type")]
    kind: String,
    items: Vec<ItemQtyJson>,
    #[serde(default)]
    shipping_point: Option<String>,
    #[serde(default)]
    carrier: Option<String>,
    #[serde(default)]
    tracking_number: Option<String>,
}

/// `POST /orders/{n}/fulfillments`: a manual fulfilment, or with `type: carrier` a bought label.
#[utoipa::path(
    post, path = "/orders/{n}/fulfillments", tag = "Actions", params(("n" = u64, Path, description = "The order number (a leading # is allowed)")),
    request_body = openapi::FulfillmentRequest,
    responses((status = 200, description = "The order with the new shipment", body = openapi::Order), openapi::Refusals)
)]
pub(super) async fn fulfill(
    svc: web::Data<Service>,
    caller: ApiCaller,
    path: web::Path<String>,
    body: ApiBody,
) -> Result<HttpResponse, ApiError> {
    #[derive(Deserialize)]
    struct Kind {
        #[serde(rename = "type")]
        kind: String,
    }
    let k: Kind = parse(&body.0)?;
    if k.kind == "carrier" {
        return shipping::fulfill_by_carrier(&svc, &path, &body.0, caller).await;
    }
    let b: FulfillBody = parse(&body.0)?;
    match b.kind.as_str() {
        "manual" => {}
        other => {
            return Err(ApiError::invalid(
                "type",
                format!("{other:?} is not one of manual, carrier"),
            ))
        }
    }
    let point = b.shipping_point.as_deref().unwrap_or("local");
    let shipping_point = ShippingPoint::parse(point).ok_or_else(|| {
        ApiError::invalid(
            "shipping_point",
            "must be one of local, international, in_store_pickup",
        )
    })?;
    let cmd = Command::ManualFulfill(ManualFulfillInput {
        items: items(&b.items)?,
        shipping_point,
        carrier: b.carrier,
        tracking_number: b.tracking_number,
    });
    run(&svc, &path, cmd, caller).await
}

fn shipment_id(raw: &str) -> Result<ShipmentId, ApiError> {
    raw.parse::<ShipmentId>()
        .map_err(|_| ApiError::not_found(format!("No shipment {raw} in this order")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShipmentBody {
    #[serde(default)]
    carrier: Option<String>,
    #[serde(default)]
    tracking_number: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    expected_delivery: Option<Option<String>>,
    #[serde(default)]
    notify_customer: bool,
}

fn double_option<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `PATCH /orders/{n}/shipments/{id}`: edits a shipment's carrier, tracking, status or expected date.
#[utoipa::path(
    patch, path = "/orders/{n}/shipments/{id}", tag = "Actions", params(("n" = u64, Path, description = "The order number (a leading # is allowed)"), ("id" = Uuid, Path, description = "The shipment id")),
    request_body = openapi::ShipmentEdit,
    responses((status = 200, description = "The order with the shipment edited", body = openapi::Order), openapi::Refusals)
)]
pub(super) async fn edit_shipment(
    svc: web::Data<Service>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
    body: ApiBody,
) -> Result<HttpResponse, ApiError> {
    let (n, sid) = path.into_inner();
    let b: ShipmentBody = parse(&body.0)?;
    let status = match &b.status {
        Some(s) => Some(shipment_status(s)?),
        None => None,
    };
    let expected_delivery = match b.expected_delivery {
        None => None,
        Some(None) => Some(None),
        Some(Some(s)) if s.trim().is_empty() => Some(None),
        Some(Some(s)) => Some(Some(
            NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
                ApiError::invalid("expected_delivery", "must be a date like 2026-12-24")
            })?,
        )),
    };
    let cmd = Command::EditShipment {
        shipment_id: shipment_id(&sid)?,
        edit: ShipmentEdit {
            carrier: b.carrier,
            tracking_number: b.tracking_number,
            status,
            expected_delivery,
            notify_customer: b.notify_customer,
        },
    };
    run(&svc, &n, cmd, caller).await
}

/// `POST /orders/{n}/shipments/{id}/deliver`: marks a shipment delivered.
#[utoipa::path(
    post, path = "/orders/{n}/shipments/{id}/deliver", tag = "Actions", params(("n" = u64, Path, description = "The order number (a leading # is allowed)"), ("id" = Uuid, Path, description = "The shipment id")),
    responses((status = 200, description = "The order with the shipment delivered", body = openapi::Order), openapi::Refusals)
)]
pub(super) async fn deliver_shipment(
    svc: web::Data<Service>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
    body: ApiBody,
) -> Result<HttpResponse, ApiError> {
    let (n, sid) = path.into_inner();
    let _: Empty = parse(&body.0)?;
    let cmd = Command::DeliverShipment {
        shipment_id: shipment_id(&sid)?,
    };
    run(&svc, &n, cmd, caller).await
}

/// `POST /orders/{n}/shipments/{id}/void`: voids a shipment.
#[utoipa::path(
    post, path = "/orders/{n}/shipments/{id}/void", tag = "Actions", params(("n" = u64, Path, description = "The order number (a leading # is allowed)"), ("id" = Uuid, Path, description = "The shipment id")),
    responses((status = 200, description = "The order with the shipment voided (carrier) or canceled (manual)", body = openapi::Order), openapi::Refusals)
)]
pub(super) async fn void_shipment(
    svc: web::Data<Service>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
    body: ApiBody,
) -> Result<HttpResponse, ApiError> {
    let (n, sid) = path.into_inner();
    let _: Empty = parse(&body.0)?;
    let cmd = Command::VoidShipment {
        shipment_id: shipment_id(&sid)?,
    };
    run(&svc, &n, cmd, caller).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReturnBody {
    items: Vec<ItemQtyJson>,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /orders/{n}/returns`: records returned items.
#[utoipa::path(
    post, path = "/orders/{n}/returns", tag = "Actions", params(("n" = u64, Path, description = "The order number (a leading # is allowed)")),
    request_body = openapi::ReturnRequest,
    responses((status = 200, description = "The order with the return", body = openapi::Order), openapi::Refusals)
)]
pub(super) async fn return_items(
    svc: web::Data<Service>,
    caller: ApiCaller,
    path: web::Path<String>,
    body: ApiBody,
) -> Result<HttpResponse, ApiError> {
    let b: ReturnBody = parse(&body.0)?;
    let cmd = Command::Return {
        items: items(&b.items)?,
        reason: b.reason,
    };
    run(&svc, &path, cmd, caller).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    refund: bool,
}

/// `POST /orders/{n}/cancel`: cancels the order, optionally refunding it.
#[utoipa::path(
    post, path = "/orders/{n}/cancel", tag = "Actions", params(("n" = u64, Path, description = "The order number (a leading # is allowed)")),
    request_body = openapi::CancelRequest,
    responses((status = 200, description = "The order, canceled", body = openapi::Order), openapi::Refusals)
)]
pub(super) async fn cancel(
    svc: web::Data<Service>,
    caller: ApiCaller,
    path: web::Path<String>,
    body: ApiBody,
) -> Result<HttpResponse, ApiError> {
    let b: CancelBody = parse(&body.0)?;
    let cmd = Command::Cancel {
        reason: b.reason,
        refund: b.refund,
    };
    run(&svc, &path, cmd, caller).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    body: String,
}

/// `POST /orders/{n}/notes`: adds a note.
#[utoipa::path(
    post, path = "/orders/{n}/notes", tag = "Actions", params(("n" = u64, Path, description = "The order number (a leading # is allowed)")),
    request_body = openapi::NoteRequest,
    responses((status = 200, description = "The order with the note", body = openapi::Order), openapi::Refusals)
)]
pub(super) async fn add_note(
    svc: web::Data<Service>,
    caller: ApiCaller,
    path: web::Path<String>,
    body: ApiBody,
) -> Result<HttpResponse, ApiError> {
    let b: NoteBody = parse(&body.0)?;
    run(&svc, &path, Command::AddNote { body: b.body }, caller).await
}

fn note_id(raw: &str) -> Result<NoteId, ApiError> {
    raw.parse::<NoteId>()
        .map_err(|_| ApiError::not_found(format!("No note {raw} on this order")))
}

/// `PATCH /orders/{n}/notes/{id}`: edits a note.
#[utoipa::path(
    patch, path = "/orders/{n}/notes/{id}", tag = "Actions", params(("n" = u64, Path, description = "The order number (a leading # is allowed)"), ("id" = Uuid, Path, description = "The note id")),
    request_body = openapi::NoteRequest,
    responses((status = 200, description = "The order with the note edited", body = openapi::Order), openapi::Refusals)
)]
pub(super) async fn edit_note(
    svc: web::Data<Service>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
    body: ApiBody,
) -> Result<HttpResponse, ApiError> {
    let (n, id) = path.into_inner();
    let b: NoteBody = parse(&body.0)?;
    let cmd = Command::EditNote {
        id: note_id(&id)?,
        body: b.body,
    };
    run(&svc, &n, cmd, caller).await
}

/// `DELETE /orders/{n}/notes/{id}`: deletes a note.
#[utoipa::path(
    delete, path = "/orders/{n}/notes/{id}", tag = "Actions", params(("n" = u64, Path, description = "The order number (a leading # is allowed)"), ("id" = Uuid, Path, description = "The note id")),
    responses((status = 200, description = "The order without the note", body = openapi::Order), openapi::Refusals)
)]
pub(super) async fn delete_note(
    svc: web::Data<Service>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (n, id) = path.into_inner();
    let cmd = Command::DeleteNote { id: note_id(&id)? };
    run(&svc, &n, cmd, caller).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomerBody {
    customer_id: String,
}

/// `PUT /orders/{n}/customer`: moves the order to another customer.
#[utoipa::path(
    put, path = "/orders/{n}/customer", tag = "Actions", params(("n" = u64, Path, description = "The order number (a leading # is allowed)")),
    request_body = openapi::CustomerChange,
    responses((status = 200, description = "The order, moved to the customer", body = openapi::Order), openapi::Refusals)
)]
pub(super) async fn change_customer(
    svc: web::Data<Service>,
    caller: ApiCaller,
    path: web::Path<String>,
    body: ApiBody,
) -> Result<HttpResponse, ApiError> {
    let b: CustomerBody = parse(&body.0)?;
    let n = number(&path)?;
    let id = b
        .customer_id
        .parse::<CustomerId>()
        .map_err(|_| ApiError::not_found(format!("Customer {} not found", b.customer_id)))?;
    Ok(ok(&svc.change_customer(n, id, caller.0).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TagBody {
    tag: String,
}

/// `POST /orders/{n}/tags`: adds a tag (one already there changes nothing).
#[utoipa::path(
    post, path = "/orders/{n}/tags", tag = "Actions", params(("n" = u64, Path, description = "The order number (a leading # is allowed)")),
    request_body = openapi::TagRequest,
    responses((status = 200, description = "The order with the tag", body = openapi::Order), openapi::Refusals)
)]
pub(super) async fn add_tag(
    svc: web::Data<Service>,
    caller: ApiCaller,
    path: web::Path<String>,
    body: ApiBody,
) -> Result<HttpResponse, ApiError> {
    let b: TagBody = parse(&body.0)?;
    run(&svc, &path, Command::AddTag { tag: b.tag }, caller).await
}

/// `DELETE /orders/{n}/tags/{tag}`: removes a tag (one not there changes nothing).
#[utoipa::path(
    delete, path = "/orders/{n}/tags/{tag}", tag = "Actions", params(("n" = u64, Path, description = "The order number (a leading # is allowed)"), ("tag" = String, Path, description = "The tag, URL-encoded")),
    responses((status = 200, description = "The order without the tag", body = openapi::Order), openapi::Refusals)
)]
pub(super) async fn remove_tag(
    svc: web::Data<Service>,
    caller: ApiCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (n, tag) = path.into_inner();
    run(&svc, &n, Command::RemoveTag { tag }, caller).await
}
