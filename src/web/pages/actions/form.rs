//! The first step of an action: its form (fields and items, with the input kept and each
//! refusal next to its field) and turning the posted fields into a command.

use super::{field_error, shipment, FieldError, Kind};
use crate::domain::money::{fmt, parse_amount};
use crate::domain::workflow::{ManualFulfillInput, RefundInput, ShipmentEdit};
use crate::domain::{Command, ItemQty, Order, ShipmentStatus, ShippingPoint};
use crate::web::auth::{Fields, SignedIn};
use crate::web::pages::{money, Chrome, PageError, Svc};
use actix_web::HttpRequest;
use askama::Template;
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// A form field for the template.
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    /// text, money, textarea, select, checkbox, date
    pub kind: &'static str,
    pub value: String,
    pub placeholder: String,
    pub help: String,
    pub options: Vec<(String, String)>,
    pub error: Option<String>,
}

impl Field {
    fn new(
        name: &'static str,
        label: &'static str,
        kind: &'static str,
        value: impl Into<String>,
    ) -> Self {
        Field {
            name,
            label,
            kind,
            value: value.into(),
            placeholder: String::new(),
            help: String::new(),
            options: Vec::new(),
            error: None,
        }
    }

    fn help(mut self, h: impl Into<String>) -> Self {
        self.help = h.into();
        self
    }

    fn placeholder(mut self, p: impl Into<String>) -> Self {
        self.placeholder = p.into();
        self
    }

    fn options(mut self, o: Vec<(String, String)>) -> Self {
        self.options = o;
        self
    }

    /// Whether a checkbox is ticked.
    pub fn is_checked(&self) -> bool {
        !self.value.is_empty()
    }
}

/// An item quantity input.
pub struct ItemInput {
    pub id: String,
    pub name: String,
    pub variant: String,
    pub sku: String,
    pub unit_price: String,
    /// Plain decimal for the live refund total.
    pub price_raw: String,
    pub max: u32,
    pub value: String,
    /// Fulfil: a tick box per item (help page: "Tick the corresponding item").
    pub tick: bool,
    pub ticked: bool,
}

#[derive(Template)]
#[template(path = "orders/action.html")]
pub(super) struct ActionPage {
    pub(super) chrome: Chrome,
    number: u64,
    title: String,
    intro: String,
    slug: &'static str,
    url: String,
    fields: Vec<Field>,
    items: Vec<ItemInput>,
    items_legend: &'static str,
    items_error: Option<String>,
    error: Option<String>,
    refundable: String,
    /// Carrier scripts are loaded (Carrier Fulfill is offered).
    carriers: bool,
}

impl Kind {
    /// The form's fields and item inputs, filled from `values` (or defaults for a new form).
    pub(super) fn form(
        self,
        order: &Order,
        values: Option<&Fields>,
    ) -> Result<(Vec<Field>, Vec<ItemInput>), PageError> {
        let v = |name: &str, default: &str| {
            values
                .map(|f| f.get(name).to_string())
                .unwrap_or_else(|| default.to_string())
        };
        let cb = |name: &str, default: bool| {
            let on = values.map(|f| f.checked(name)).unwrap_or(default);
            if on {
                "on".to_string()
            } else {
                String::new()
            }
        };
        let items = |max_of: &dyn Fn(&crate::domain::LineItem) -> u32,
                     default_full: bool,
                     tick: bool|
         -> Vec<ItemInput> {
            order
                .items
                .iter()
                .map(|i| {
                    let max = max_of(i);
                    let key = format!("qty_{}", i.id);
                    let default = if default_full {
                        max.to_string()
                    } else {
                        "0".to_string()
                    };
                    ItemInput {
                        id: i.id.to_string(),
                        name: i.name.clone(),
                        variant: i.variant.clone().unwrap_or_default(),
                        sku: i.sku.clone(),
                        unit_price: money(i.unit_price, &order.currency),
                        price_raw: fmt(i.unit_price),
                        max,
                        value: values.map(|f| f.get(&key).to_string()).unwrap_or(default),
                        tick,
                        ticked: values
                            .map(|f| f.checked(&format!("tick_{}", i.id)))
                            .unwrap_or(max > 0),
                    }
                })
                .collect()
        };
        Ok(match self {
            Kind::Payment => (
                vec![
                    Field::new("amount", "Amount", "money", v("amount", ""))
                        .placeholder(fmt(order.balance()))
                        .help(format!(
                            "In {}; empty = the balance of {}",
                            order.currency,
                            fmt(order.balance())
                        )),
                    Field::new(
                        "reference",
                        "Reference (optional)",
                        "text",
                        v("reference", ""),
                    )
                    .help("e.g. bank transfer id or receipt number"),
                ],
                vec![],
            ),
            Kind::Refund => (
                vec![
                    Field::new(
                        "refund_shipping",
                        "Refund shipping",
                        "money",
                        v("refund_shipping", "0.00"),
                    )
                    .help(format!(
                        "At most {} ({} paid for shipping, {} already refunded)",
                        fmt((order.shipping.price - order.refunded_shipping()).max(Decimal::ZERO)),
                        fmt(order.shipping.price),
                        fmt(order.refunded_shipping())
                    )),
                    Field::new(
                        "adjustment_refund",
                        "Adjustment refund",
                        "money",
                        v("adjustment_refund", "0.00"),
                    )
                    .help("An extra amount to give back (e.g. a goodwill gesture)"),
                    Field::new(
                        "adjustment_fee",
                        "Adjustment fee",
                        "money",
                        v("adjustment_fee", "0.00"),
                    )
                    .help("An amount to keep (e.g. a restocking fee)"),
                    Field::new("reason", "Reason (optional)", "text", v("reason", "")),
                ],
                items(
                    &|i| i.quantity.saturating_sub(order.refunded_of(i.id)),
                    false,
                    false,
                ),
            ),
            Kind::Dispatch | Kind::Deliver(_) | Kind::Void(_) | Kind::DeleteNote(_) => {
                (vec![], vec![])
            }
            Kind::Fulfill => (
                vec![
                    Field::new(
                        "shipping_point",
                        "Shipping point",
                        "select",
                        v("shipping_point", "local"),
                    )
                    .options(
                        ShippingPoint::ALL
                            .iter()
                            .map(|p| (p.as_str().to_string(), p.label().to_string()))
                            .collect(),
                    ),
                    Field::new("carrier", "Carrier", "text", v("carrier", ""))
                        .help("Required for international shipments"),
                    Field::new(
                        "tracking_number",
                        "Tracking number",
                        "text",
                        v("tracking_number", ""),
                    )
                    .help("Required for international shipments"),
                ],
                items(&|i| order.fulfillable_of(i.id), true, true),
            ),
            Kind::Return => (
                vec![Field::new(
                    "reason",
                    "Reason (optional)",
                    "text",
                    v("reason", ""),
                )],
                items(
                    &|i| {
                        order
                            .delivered_of(i.id)
                            .saturating_sub(order.returned_of(i.id))
                    },
                    false,
                    false,
                ),
            ),
            Kind::Cancel => (
                vec![
                    Field::new("reason", "Reason", "text", v("reason", ""))
                        .help("Required; shown on the timeline"),
                    Field::new(
                        "refund",
                        "Also record a full refund of what was paid",
                        "checkbox",
                        cb("refund", false),
                    )
                    .help(format!(
                        "{} paid and not yet refunded",
                        money(order.refundable(), &order.currency)
                    )),
                ],
                vec![],
            ),
            Kind::EditShipment(id) => {
                let s = shipment(order, id)?;
                let mut options = vec![(
                    s.status.as_str().to_string(),
                    format!("{} (current)", s.status.label()),
                )];
                for next in s.status.next_statuses() {
                    options.push((next.as_str().to_string(), next.label().to_string()));
                }
                if !s.status.is_final() {
                    options.push((
                        ShipmentStatus::Canceled.as_str().into(),
                        ShipmentStatus::Canceled.label().into(),
                    ));
                }
                (
                    vec![
                        Field::new(
                            "carrier",
                            "Carrier",
                            "text",
                            v("carrier", s.carrier.as_deref().unwrap_or("")),
                        ),
                        Field::new(
                            "tracking_number",
                            "Tracking number",
                            "text",
                            v(
                                "tracking_number",
                                s.tracking_number.as_deref().unwrap_or(""),
                            ),
                        ),
                        Field::new("status", "Status", "select", v("status", s.status.as_str()))
                            .options(options),
                        Field::new(
                            "expected_delivery",
                            "Expected delivery",
                            "date",
                            v(
                                "expected_delivery",
                                &s.expected_delivery
                                    .map(|d| d.to_string())
                                    .unwrap_or_default(),
                            ),
                        ),
                        Field::new(
                            "notify_customer",
                            "Send notification to the customer after updates",
                            "checkbox",
                            cb("notify_customer", false),
                        ),
                    ],
                    vec![],
                )
            }
        })
    }

    /// Turns the posted fields into the engine's command (web-level parsing only: numbers, ids).
    pub(super) fn command(self, order: &Order, f: &Fields) -> Result<Command, FieldError> {
        let amount = |name: &str| -> Result<Decimal, FieldError> {
            let raw = f.get(name).trim();
            if raw.is_empty() {
                return Ok(Decimal::ZERO);
            }
            parse_amount(raw).map_err(|e| field_error(name, format!("{} {e}", label_of(name))))
        };
        let items = |tick: bool| -> Result<Vec<ItemQty>, FieldError> {
            let mut out = Vec::new();
            for i in &order.items {
                if tick && !f.checked(&format!("tick_{}", i.id)) {
                    continue;
                }
                let raw = f.get(&format!("qty_{}", i.id)).trim();
                let q: u32 = if raw.is_empty() {
                    0
                } else {
                    raw.parse().map_err(|_| {
                        field_error(
                            "items",
                            format!("The quantity of {} must be a whole number", i.name),
                        )
                    })?
                };
                if q > 0 {
                    out.push(ItemQty {
                        item_id: i.id,
                        quantity: q,
                    });
                }
            }
            Ok(out)
        };
        let text = |name: &str| -> Option<String> {
            let t = f.get(name);
            (!t.trim().is_empty()).then(|| t.to_string())
        };
        Ok(match self {
            Kind::Payment => Command::RecordPayment {
                amount: if f.get("amount").trim().is_empty() {
                    None
                } else {
                    Some(amount("amount")?)
                },
                reference: text("reference"),
            },
            Kind::Refund => Command::Refund(RefundInput {
                items: items(false)?,
                refund_shipping: amount("refund_shipping")?,
                adjustment_refund: amount("adjustment_refund")?,
                adjustment_fee: amount("adjustment_fee")?,
                reason: text("reason"),
            }),
            Kind::Dispatch => Command::Dispatch,
            Kind::Fulfill => Command::ManualFulfill(ManualFulfillInput {
                items: items(true)?,
                shipping_point: ShippingPoint::parse(f.get("shipping_point"))
                    .ok_or_else(|| field_error("shipping_point", "Choose a shipping point"))?,
                carrier: text("carrier"),
                tracking_number: text("tracking_number"),
            }),
            Kind::Return => Command::Return {
                items: items(false)?,
                reason: text("reason"),
            },
            Kind::Cancel => Command::Cancel {
                reason: f.get("reason").to_string(),
                refund: f.checked("refund"),
            },
            Kind::EditShipment(id) => {
                let s = order
                    .shipment(id)
                    .ok_or_else(|| field_error("status", "No such shipment"))?;
                let changed = |name: &str, current: &Option<String>| {
                    let new = f.get(name).trim();
                    (new != current.as_deref().unwrap_or("")).then(|| new.to_string())
                };
                let status = ShipmentStatus::parse(f.get("status"))
                    .ok_or_else(|| field_error("status", "Choose a status"))?;
                let date_raw = f.get("expected_delivery").trim();
                let date = if date_raw.is_empty() {
                    None
                } else {
                    Some(
                        NaiveDate::parse_from_str(date_raw, "%Y-%m-%d").map_err(|_| {
                            field_error(
                                "expected_delivery",
                                "Expected delivery must be a date like 2026-12-24",
                            )
                        })?,
                    )
                };
                Command::EditShipment {
                    shipment_id: id,
                    edit: ShipmentEdit {
                        carrier: changed("carrier", &s.carrier),
                        tracking_number: changed("tracking_number", &s.tracking_number),
                        status: (status != s.status).then_some(status),
                        expected_delivery: (date != s.expected_delivery).then_some(date),
                        notify_customer: f.checked("notify_customer"),
                    },
                }
            }
            Kind::Deliver(id) => Command::DeliverShipment { shipment_id: id },
            Kind::Void(id) => Command::VoidShipment { shipment_id: id },
            Kind::DeleteNote(id) => Command::DeleteNote { id },
        })
    }
}

fn label_of(name: &str) -> &'static str {
    match name {
        "amount" => "Amount",
        "refund_shipping" => "Refund shipping",
        "adjustment_refund" => "Adjustment refund",
        "adjustment_fee" => "Adjustment fee",
        _ => "The value",
    }
}

pub(super) fn form_page(
    req: &HttpRequest,
    who: &SignedIn,
    svc: &Svc,
    kind: Kind,
    order: &Order,
    values: Option<&Fields>,
    error: Option<FieldError>,
) -> Result<ActionPage, PageError> {
    let (mut fields, items) = kind.form(order, values)?;
    let mut top = None;
    let mut items_error = None;
    if let Some(e) = error {
        match e.field.as_deref() {
            Some("items") if !items.is_empty() => items_error = Some(e.message),
            Some(name) => match fields.iter_mut().find(|f| f.name == name) {
                Some(f) => f.error = Some(e.message),
                None => top = Some(e.message),
            },
            None => top = Some(e.message),
        }
    }
    Ok(ActionPage {
        chrome: Chrome::new(req, who, "orders", kind.title(order)),
        number: order.number,
        title: kind.title(order),
        intro: kind.intro(order),
        slug: kind.slug(),
        url: kind.url(order.number),
        fields,
        items,
        items_legend: match kind {
            Kind::Refund => "Items to refund",
            Kind::Fulfill => "Items to fulfil",
            Kind::Return => "Items returned",
            _ => "Items",
        },
        items_error,
        error: top,
        refundable: money(order.refundable(), &order.currency),
        carriers: !svc.carriers().is_empty(),
    })
}
