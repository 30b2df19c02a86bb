//! Schema types of the merchant tools: tags, saved views and bulk actions (docs/API.md).

#![allow(dead_code)]

use super::schemas::{FulfillmentStatusName, PaymentStatusName};
use std::borrow::Cow;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

/// `POST /orders/{n}/tags`: a tag (1 to 40 characters, no commas; case-insensitive).
#[derive(ToSchema)]
pub struct TagRequest {
    pub tag: String,
}

/// One tag, or a list of tags that must all be on an order.
pub struct Tags;

impl PartialSchema for Tags {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String))
            .item(ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)))
            .description(Some(
                "A tag, or a list of tags that must all be on an order",
            ))
            .into()
    }
}

impl ToSchema for Tags {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Tags")
    }
}

/// A list query: what `GET /orders` takes as parameters, as a JSON object.
#[derive(ToSchema)]
pub struct ListFilter {
    /// Search words (order number, customer, e-mail, phone, item, SKU, tracking, tag).
    pub q: Option<String>,
    pub payment_status: Option<PaymentStatusName>,
    pub fulfillment_status: Option<FulfillmentStatusName>,
    /// Test orders only (true) or real ones only (false).
    pub test: Option<bool>,
    /// YYYY-MM-DD, inclusive.
    pub created_from: Option<String>,
    /// YYYY-MM-DD, inclusive.
    pub created_to: Option<String>,
    pub tag: Option<Tags>,
    /// created, number, total, payment_status, fulfillment_status or customer; a leading -
    /// sorts descending.
    pub sort: Option<String>,
}

/// `POST /views`.
#[derive(ToSchema)]
pub struct SavedViewRequest {
    /// 1 to 60 characters, unique in the store (ignoring case).
    pub name: String,
    pub query: Option<ListFilter>,
}

/// A saved view: a named list query shared by the team.
#[derive(ToSchema)]
pub struct SavedView {
    pub id: Uuid,
    pub name: String,
    pub query: ListFilter,
}

/// `GET /views`.
#[derive(ToSchema)]
pub struct SavedViewList {
    pub views: Vec<SavedView>,
}

/// A bulk action's parameters (each a string).
#[derive(ToSchema)]
pub struct BulkParams {
    /// fulfill: local, international or in_store_pickup.
    pub shipping_point: Option<String>,
    /// fulfill: the carrier's name.
    pub carrier: Option<String>,
    /// cancel: why.
    pub reason: Option<String>,
    /// tag, untag: the tag.
    pub tag: Option<String>,
}

/// `POST /orders/bulk`: `orders` or `filter`, at most 1,000 orders.
#[derive(ToSchema)]
pub struct BulkRequest {
    /// pay (the balance), dispatch, fulfill (everything unshipped, manual), cancel, tag or
    /// untag.
    pub action: String,
    pub orders: Option<Vec<u64>>,
    pub filter: Option<ListFilter>,
    pub params: Option<BulkParams>,
    /// Ask the rules only; nothing is written.
    pub dry_run: Option<bool>,
}

/// Why an order of a batch was refused.
#[derive(ToSchema)]
pub struct BulkError {
    pub code: String,
    pub message: String,
}

/// One order's outcome.
#[derive(ToSchema)]
pub struct BulkOrderResult {
    pub number: u64,
    pub ok: bool,
    /// What happened (or, in a dry run, would), in the words of the order's timeline; empty
    /// when the order already was as asked.
    pub changes: Option<Vec<String>>,
    pub error: Option<BulkError>,
}

/// How many orders went each way.
#[derive(ToSchema)]
pub struct BulkSummary {
    pub ok: u64,
    pub refused: u64,
}

/// `POST /orders/bulk`'s answer.
#[derive(ToSchema)]
pub struct BulkResult {
    pub results: Vec<BulkOrderResult>,
    pub summary: BulkSummary,
}
