//! Shipping over the API: carrier rates, carrier (label-buying) fulfilments and the carriers'
//! tracking events. The package and carrier fields are read here.

use super::openapi;
use super::{items, money, number, ok, parse, shipment_status, ApiBody, ApiCaller, ItemQtyJson};
use crate::domain::decimal_json;
use crate::service::Service;
use crate::web::error::ApiError;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackageJson {
    #[serde(default)]
    preset: Option<String>,
    #[serde(default, deserialize_with = "decimal_json::opt_text")]
    length_cm: Option<String>,
    #[serde(default, deserialize_with = "decimal_json::opt_text")]
    width_cm: Option<String>,
    #[serde(default, deserialize_with = "decimal_json::opt_text")]
    height_cm: Option<String>,
    #[serde(default)]
    weight_grams: Option<u32>,
}

/// The carrier-fulfil fields of docs/API.md (`/rates` and `type: carrier` fulfilments).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CarrierBody {
    #[serde(rename = "type", default)]
    _kind: Option<String>,
    items: Vec<ItemQtyJson>,
    package: PackageJson,
    #[serde(default)]
    recipient: Option<crate::scripting::Party>,
    #[serde(default)]
    shipper: Option<crate::scripting::Party>,
    #[serde(default)]
    ship_from: Option<crate::scripting::Party>,
    #[serde(default)]
    drop_off_date: Option<String>,
    #[serde(default, deserialize_with = "decimal_json::opt_text")]
    insurance: Option<String>,
    #[serde(default, deserialize_with = "decimal_json::opt_text")]
    declared_value: Option<String>,
    #[serde(default)]
    dangerous_goods: bool,
    #[serde(default)]
    signature: bool,
    #[serde(default)]
    carrier: Option<String>,
    #[serde(default)]
    service: Option<String>,
}

fn dimension(field: &str, v: &Option<String>) -> Result<Option<Decimal>, ApiError> {
    match v {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => s
            .trim()
            .parse::<Decimal>()
            .ok()
            .filter(|d| *d > Decimal::ZERO)
            .map(Some)
            .ok_or_else(|| ApiError::invalid(field, "must be a positive number of centimetres")),
    }
}

fn carrier_fields(c: &CarrierBody) -> Result<crate::service::CarrierFields, ApiError> {
    let drop_off_date =
        match c
            .drop_off_date
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            Some(d) => Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                ApiError::invalid("drop_off_date", "must be a date like 2026-12-01")
            })?),
            None => None,
        };
    Ok(crate::service::CarrierFields {
        items: items(&c.items)?,
        package: crate::service::PackageInput {
            preset: c.package.preset.clone(),
            length_cm: dimension("package.length_cm", &c.package.length_cm)?,
            width_cm: dimension("package.width_cm", &c.package.width_cm)?,
            height_cm: dimension("package.height_cm", &c.package.height_cm)?,
            weight_grams: c.package.weight_grams,
        },
        recipient: c.recipient.clone(),
        shipper: c.shipper.clone(),
        ship_from: c.ship_from.clone(),
        drop_off_date,
        insurance: money("insurance", &c.insurance)?.unwrap_or_default(),
        declared_value: money("declared_value", &c.declared_value)?,
        dangerous_goods: c.dangerous_goods,
        signature: c.signature,
    })
}

/// `POST /orders/{n}/rates`: every carrier's quotes (or refusals) for a fulfilment.
#[utoipa::path(
    post, path = "/orders/{n}/rates", tag = "Carriers", params(("n" = u64, Path, description = "The order number (a leading # is allowed)")),
    request_body = openapi::RateRequest,
    responses((status = 200, description = "Every carrier's quote, or its reason for declining", body = openapi::Rates), openapi::Refusals)
)]
pub(super) async fn rates(
    svc: web::Data<Service>,
    _caller: ApiCaller,
    path: web::Path<String>,
    body: ApiBody,
) -> Result<HttpResponse, ApiError> {
    let c: CarrierBody = parse(&body.0)?;
    let fields = carrier_fields(&c)?;
    let n = number(&path)?;
    let result = svc.rates(n, &fields).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "rates": result.rates.iter().map(|r| serde_json::json!({
            "carrier": r.carrier, "carrier_name": r.carrier_name, "service": r.service,
            "service_name": r.service_name, "price": crate::domain::money::fmt(r.price),
            "currency": r.currency, "days": r.days, "estimated_delivery": r.estimated_delivery,
        })).collect::<Vec<_>>(),
        "declined": result.declined.iter().map(|d| serde_json::json!({
            "carrier": d.carrier, "carrier_name": d.carrier_name, "reason": d.reason,
        })).collect::<Vec<_>>(),
    })))
}

/// `POST /orders/{n}/fulfillments` with `type: carrier`: buys a label for the chosen carrier
/// service, which creates the shipment.
pub(super) async fn fulfill_by_carrier(
    svc: &Service,
    raw_number: &str,
    body: &[u8],
    caller: ApiCaller,
) -> Result<HttpResponse, ApiError> {
    let c: CarrierBody = parse(body)?;
    let fields = carrier_fields(&c)?;
    let carrier = c
        .carrier
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("carrier", "is required for a carrier fulfilment"))?;
    let service = c
        .service
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("service", "is required for a carrier fulfilment"))?;
    let n = number(raw_number)?;
    Ok(ok(&svc
        .buy_label(n, &fields, carrier, service, caller.0)
        .await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CarrierEventBody {
    tracking_number: String,
    status: String,
    #[serde(default)]
    at: Option<String>,
}

/// `POST /carriers/{carrier}/events`: a carrier's tracking update for one of its shipments.
#[utoipa::path(
    post, path = "/carriers/{carrier}/events", tag = "Carriers",
    params(("carrier" = String, Path, description = "The carrier script's name")),
    request_body = openapi::CarrierEvent,
    responses((status = 200, description = "The order of the shipment, updated", body = openapi::Order), openapi::Refusals)
)]
pub(super) async fn carrier_event(
    svc: web::Data<Service>,
    caller: ApiCaller,
    path: web::Path<String>,
    body: ApiBody,
) -> Result<HttpResponse, ApiError> {
    let carrier = path.into_inner();
    if !svc.carriers().iter().any(|c| c.id == carrier) {
        return Err(ApiError::not_found(format!("No carrier {carrier}")));
    }
    let b: CarrierEventBody = parse(&body.0)?;
    let status = shipment_status(b.status.trim())?;
    let at = match b.at.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) => Some(
            DateTime::parse_from_rfc3339(a)
                .map_err(|_| ApiError::invalid("at", "must be an RFC 3339 time"))?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    let order = svc
        .carrier_event(&carrier, &b.tracking_number, status, at, caller.0)
        .await?;
    Ok(ok(&order))
}
