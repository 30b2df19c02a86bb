//! The order page: items (with hover details and a per-line ledger), customer with Change
//! customer, addresses, totals, payments and refunds, shipments with their ⋮ menu, notes and the
//! timeline, with the action buttons at the top right. Whether a button is enabled is asked of
//! the rules through the service's probe (with a representative command), never worked out here.

use super::{money, ok, render, when, Chrome, PageError, Svc};
use crate::domain::workflow::{ManualFulfillInput, RefundInput};
use crate::domain::{Address, Command, CustomerId, ItemQty, Order, ShipmentKind, ShippingPoint};
use crate::service::Probe;
use crate::web::auth::{self, Posted, SignedIn};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use rust_decimal::Decimal;
use std::collections::HashMap;

/// A button at the top right: a link to its form, or disabled with the rule's reason.
pub struct ActionButton {
    pub label: &'static str,
    pub href: String,
    pub id: &'static str,
    pub disabled_reason: Option<String>,
    pub danger: bool,
}

/// An item row with its hover details and ledger.
pub struct ItemRow {
    pub name: String,
    pub variant: String,
    pub sku: String,
    pub weight: String,
    pub unit_price: String,
    pub quantity: u32,
    pub line_total: String,
    pub image_url: Option<String>,
    pub shipped: u32,
    pub delivered: u32,
    pub returned: u32,
    pub refunded: u32,
}

/// One entry of a ⋮ menu.
pub struct MenuEntry {
    pub label: &'static str,
    /// A POST button (with the CSRF token) rather than a link.
    pub post: bool,
    pub href: String,
    pub disabled_reason: Option<String>,
}

/// A shipment card.
pub struct ShipmentRow {
    pub id: String,
    pub title: String,
    pub kind: &'static str,
    pub point: &'static str,
    pub status: &'static str,
    pub status_label: &'static str,
    pub carrier: String,
    pub tracking: String,
    pub expected: String,
    pub items: String,
    pub created: String,
    pub menu: Vec<MenuEntry>,
}

/// A note with its author and time.
pub struct NoteRow {
    pub id: String,
    pub author: String,
    pub body: String,
    pub created: String,
    pub edited: Option<String>,
}

/// A payment or refund line.
pub struct MoneyRow {
    pub when: String,
    pub what: String,
    pub amount: String,
    pub actor: String,
}

/// A timeline line.
pub struct TimelineRow {
    pub when: String,
    pub actor: String,
    pub kind: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "orders/show.html")]
struct OrderPage {
    chrome: Chrome,
    number: u64,
    test: bool,
    created: String,
    payment: &'static str,
    payment_label: &'static str,
    fulfillment: &'static str,
    fulfillment_label: &'static str,
    canceled: Option<String>,
    buttons: Vec<ActionButton>,
    items: Vec<ItemRow>,
    customer_name: String,
    customer_email: String,
    customer_phone: String,
    shipping_address: Vec<String>,
    billing_address: Vec<String>,
    same_address: bool,
    payment_method: &'static str,
    shipping_method: String,
    totals: Vec<(&'static str, String)>,
    total: String,
    paid: String,
    refunded: String,
    balance: String,
    payments: Vec<MoneyRow>,
    refunds: Vec<MoneyRow>,
    shipments: Vec<ShipmentRow>,
    notes: Vec<NoteRow>,
    tags: Vec<String>,
    drafts: Drafts,
    timeline: Vec<TimelineRow>,
}

/// What the order page's small forms (notes, tags) show after a refusal: the typed text and
/// the rule's message.
#[derive(Debug, Default)]
pub(super) struct Drafts {
    pub note: String,
    pub note_error: Option<String>,
    pub tag: String,
    pub tag_error: Option<String>,
}

/// A probe for asking the rules whether something would be allowed now.
pub fn probe(svc: &Svc, who: &SignedIn) -> Probe {
    svc.probe(who.actor())
}

fn refusal(order: &Order, cmd: &Command, ctx: &Probe) -> Option<String> {
    ctx.refusal(order, cmd).map(|e| e.to_string())
}

/// Allowed when the domain accepts one unit of any item; otherwise the first item's reason.
fn refusal_for_any_item(
    order: &Order,
    ctx: &Probe,
    make: impl Fn(ItemQty) -> Command,
) -> Option<String> {
    let mut first = None;
    for item in &order.items {
        match refusal(
            order,
            &make(ItemQty {
                item_id: item.id,
                quantity: 1,
            }),
            ctx,
        ) {
            None => return None,
            Some(r) => {
                first.get_or_insert(r);
            }
        }
    }
    first.or_else(|| Some("This order has no items".into()))
}

/// The top-right buttons, each enabled or disabled by the rules.
pub fn buttons(order: &Order, ctx: &Probe) -> Vec<ActionButton> {
    let n = order.number;
    let b = |label, slug: &str, id, reason, danger| ActionButton {
        label,
        href: format!("/orders/{n}/act/{slug}"),
        id,
        disabled_reason: reason,
        danger,
    };
    vec![
        b(
            "Record payment",
            "payment",
            "btn-payment",
            refusal(
                order,
                &Command::RecordPayment {
                    amount: None,
                    reference: None,
                },
                ctx,
            ),
            false,
        ),
        b(
            "Refund",
            "refund",
            "btn-refund",
            refusal(
                order,
                &Command::Refund(RefundInput {
                    adjustment_refund: Decimal::new(1, 2),
                    ..RefundInput::default()
                }),
                ctx,
            ),
            false,
        ),
        b(
            "Dispatch",
            "dispatch",
            "btn-dispatch",
            refusal(order, &Command::Dispatch, ctx),
            false,
        ),
        b(
            "Fulfill",
            "fulfill",
            "btn-fulfill",
            refusal_for_any_item(order, ctx, |iq| {
                Command::ManualFulfill(ManualFulfillInput {
                    items: vec![iq],
                    shipping_point: ShippingPoint::Local,
                    carrier: None,
                    tracking_number: None,
                })
            }),
            false,
        ),
        b(
            "Return order",
            "return",
            "btn-return",
            refusal_for_any_item(order, ctx, |iq| Command::Return {
                items: vec![iq],
                reason: None,
            }),
            false,
        ),
        b(
            "Cancel order",
            "cancel",
            "btn-cancel",
            refusal(
                order,
                &Command::Cancel {
                    reason: "probe".into(),
                    refund: false,
                },
                ctx,
            ),
            true,
        ),
    ]
}

fn address_lines(a: &Address) -> Vec<String> {
    let city = [a.postal_code.as_str(), a.city.as_str(), a.region.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    [
        a.name.clone(),
        a.line1.clone(),
        a.line2.clone(),
        city,
        a.country.clone(),
    ]
    .into_iter()
    .filter(|l| !l.trim().is_empty())
    .collect()
}

/// Describes item quantities as "2 × Mug, 1 × Cap".
pub fn describe(order: &Order, items: &[ItemQty]) -> String {
    items
        .iter()
        .map(|iq| {
            let name = order
                .item(iq.item_id)
                .map(|i| i.name.as_str())
                .unwrap_or("?");
            format!("{} × {name}", iq.quantity)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn shipment_rows(order: &Order, ctx: &Probe) -> Vec<ShipmentRow> {
    let n = order.number;
    order
        .shipments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let base = format!("/orders/{n}/shipments/{}", s.id);
            let mut menu = Vec::new();
            if s.kind == ShipmentKind::Manual {
                menu.push(MenuEntry {
                    label: "Edit",
                    href: format!("{base}/edit"),
                    post: false,
                    disabled_reason: s.status.is_final().then(|| {
                        format!(
                            "The shipment is {}; it can no longer be changed",
                            s.status.label()
                        )
                    }),
                });
            }
            menu.push(MenuEntry {
                label: "Mark as delivered",
                href: format!("{base}/deliver"),
                post: false,
                disabled_reason: refusal(
                    order,
                    &Command::DeliverShipment { shipment_id: s.id },
                    ctx,
                ),
            });
            menu.push(MenuEntry {
                label: "Track",
                href: format!("{base}/track"),
                post: false,
                disabled_reason: None,
            });
            if s.kind == ShipmentKind::Carrier {
                menu.push(MenuEntry {
                    label: "Print label",
                    href: format!("{base}/label"),
                    post: false,
                    disabled_reason: None,
                });
                if order.test {
                    menu.push(MenuEntry {
                        label: "Simulate next carrier event",
                        href: format!("{base}/simulate"),
                        post: true,
                        disabled_reason: s
                            .status
                            .is_final()
                            .then(|| format!("The shipment is {}", s.status.label())),
                    });
                }
            }
            menu.push(MenuEntry {
                label: if s.kind == ShipmentKind::Carrier {
                    "Void"
                } else {
                    "Cancel shipment"
                },
                href: format!("{base}/void"),
                post: false,
                disabled_reason: refusal(order, &Command::VoidShipment { shipment_id: s.id }, ctx),
            });
            let (status, status_label) = if s.status == crate::domain::ShipmentStatus::Delivered
                && s.shipping_point == ShippingPoint::InStorePickup
            {
                ("picked_up", "Picked Up")
            } else {
                (s.status.as_str(), s.status.label())
            };
            ShipmentRow {
                id: s.id.to_string(),
                title: format!("Shipment {}", i + 1),
                kind: match s.kind {
                    ShipmentKind::Manual => "Manual",
                    ShipmentKind::Carrier => "Carrier",
                },
                point: s.shipping_point.label(),
                status,
                status_label,
                carrier: s.carrier_line(),
                tracking: s.tracking_number.clone().unwrap_or_default(),
                expected: s
                    .expected_delivery
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                items: describe(order, &s.items),
                created: when(s.created_at),
                menu,
            }
        })
        .collect()
}

fn page(chrome: Chrome, order: &Order, ctx: &Probe, drafts: Drafts) -> OrderPage {
    let cur = order.currency.as_str();
    let m = |d: Decimal| money(d, cur);
    let items = order
        .items
        .iter()
        .map(|i| ItemRow {
            name: i.name.clone(),
            variant: i.variant.clone().unwrap_or_default(),
            sku: i.sku.clone(),
            weight: if i.weight_grams > 0 {
                format!("{} g", i.weight_grams)
            } else {
                String::new()
            },
            unit_price: m(i.unit_price),
            quantity: i.quantity,
            line_total: m(i.line_total()),
            image_url: i
                .image_url
                .clone()
                .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
            shipped: order.shipped_of(i.id),
            delivered: order.delivered_of(i.id),
            returned: order.returned_of(i.id),
            refunded: order.refunded_of(i.id),
        })
        .collect();
    let mut totals = vec![
        ("Subtotal", m(order.subtotal())),
        ("Shipping", m(order.shipping.price)),
    ];
    if !order.tax.is_zero() {
        totals.push(("Tax", m(order.tax)));
    }
    if !order.discount.is_zero() {
        totals.push(("Discount", format!("− {}", m(order.discount))));
    }
    let payments = order
        .payments
        .iter()
        .map(|p| MoneyRow {
            when: when(p.at),
            what: p
                .reference
                .as_ref()
                .map(|r| format!("Payment · {r}"))
                .unwrap_or_else(|| "Payment".into()),
            amount: m(p.amount),
            actor: p.actor.clone(),
        })
        .collect();
    let refunds = order
        .refunds
        .iter()
        .map(|r| {
            let mut parts = Vec::new();
            if !r.items.is_empty() {
                parts.push(describe(order, &r.items));
            }
            if !r.shipping.is_zero() {
                parts.push(format!("shipping {}", m(r.shipping)));
            }
            if !r.adjustment_refund.is_zero() {
                parts.push(format!("adjustment {}", m(r.adjustment_refund)));
            }
            if !r.adjustment_fee.is_zero() {
                parts.push(format!("fee − {}", m(r.adjustment_fee)));
            }
            if let Some(reason) = &r.reason {
                parts.push(reason.clone());
            }
            MoneyRow {
                when: when(r.at),
                what: format!("Refund · {}", parts.join(" · ")),
                amount: format!("− {}", m(r.amount)),
                actor: r.actor.clone(),
            }
        })
        .collect();
    let notes = order
        .notes
        .iter()
        .map(|n| NoteRow {
            id: n.id.to_string(),
            author: n.author.clone(),
            body: n.body.clone(),
            created: when(n.created_at),
            edited: (n.updated_at != n.created_at).then(|| when(n.updated_at)),
        })
        .collect();
    let timeline = order
        .timeline
        .iter()
        .rev()
        .map(|t| TimelineRow {
            when: when(t.at),
            actor: t.actor.clone(),
            kind: t.kind.clone(),
            message: t.message.clone(),
        })
        .collect();
    OrderPage {
        chrome,
        number: order.number,
        test: order.test,
        created: when(order.created_at),
        payment: order.payment_status().as_str(),
        payment_label: order.payment_status().label(),
        fulfillment: order.fulfillment_status().as_str(),
        fulfillment_label: order.fulfillment_status().label(),
        canceled: order
            .cancellation
            .as_ref()
            .map(|c| format!("Canceled {} by {}: {}", when(c.at), c.actor, c.reason)),
        buttons: buttons(order, ctx),
        items,
        customer_name: order.customer.name.clone(),
        customer_email: order.customer.email.clone(),
        customer_phone: order.customer.phone.clone(),
        shipping_address: address_lines(&order.shipping_address),
        same_address: order.billing_address == order.shipping_address,
        billing_address: address_lines(&order.billing_address),
        payment_method: order.payment_method.label(),
        shipping_method: order.shipping.method.clone(),
        totals,
        total: m(order.total),
        paid: m(order.paid()),
        refunded: m(order.refunded()),
        balance: m(order.balance()),
        payments,
        refunds,
        shipments: shipment_rows(order, ctx),
        notes,
        tags: order.tags.clone(),
        drafts,
        timeline,
    }
}

/// Parses an order number from the path ("1001" or "#1001").
pub fn number(raw: &str) -> Result<u64, PageError> {
    raw.trim_start_matches('#')
        .parse::<u64>()
        .map_err(|_| PageError::NotFound(format!("Order {raw} not found")))
}

async fn show(
    req: HttpRequest,
    who: SignedIn,
    svc: Svc,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let order = svc.order(number(&path)?).await?;
    let chrome = Chrome::new(&req, &who, "orders", format!("Order #{}", order.number));
    let p = page(chrome, &order, &probe(&svc, &who), Drafts::default());
    Ok(ok(&req, &p.chrome, &p))
}

/// Runs a command from one of the order page's small forms (notes, tags) and goes back to it
/// at `#anchor`; a refusal re-renders the order page (422) with what `refused` makes of the
/// rule's message (shown by the form, the typed text kept).
pub(super) async fn order_command(
    req: &HttpRequest,
    form: &Posted,
    svc: &Svc,
    n: u64,
    cmd: Command,
    (done, anchor): (&str, &str),
    refused: impl FnOnce(String) -> Drafts,
) -> Result<HttpResponse, PageError> {
    match svc.act(n, cmd, form.who.actor()).await {
        Ok(_) => Ok(auth::redirect_with_flash(
            req,
            &format!("/orders/{n}#{anchor}"),
            done,
        )),
        Err(crate::service::ServiceError::Rule(r)) if !r.is_not_found() => {
            let order = svc.order(n).await?;
            let chrome = Chrome::new(req, &form.who, "orders", format!("Order #{n}"));
            let p = page(
                chrome,
                &order,
                &probe(svc, &form.who),
                refused(r.to_string()),
            );
            Ok(render(req, StatusCode::UNPROCESSABLE_ENTITY, &p.chrome, &p))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "orders/customer.html")]
struct CustomerPickPage {
    chrome: Chrome,
    number: u64,
    q: String,
    current_id: String,
    current_name: String,
    customers: Vec<(String, String, String, String, u64)>,
    error: Option<String>,
}

async fn customer_form(
    req: HttpRequest,
    who: SignedIn,
    svc: Svc,
    path: web::Path<String>,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let order = svc.order(number(&path)?).await?;
    let query: String = q
        .get("q")
        .map(|s| s.trim().chars().take(200).collect())
        .unwrap_or_default();
    let p = customer_page(&req, &who, &svc, &order, query, None).await?;
    Ok(ok(&req, &p.chrome, &p))
}

async fn customer_page(
    req: &HttpRequest,
    who: &SignedIn,
    svc: &Svc,
    order: &Order,
    q: String,
    error: Option<String>,
) -> Result<CustomerPickPage, PageError> {
    let customers = svc
        .customers(&q, 30)
        .await?
        .into_iter()
        .map(|c| (c.id.to_string(), c.name, c.email, c.phone, c.orders_count))
        .collect();
    Ok(CustomerPickPage {
        chrome: Chrome::new(
            req,
            who,
            "orders",
            format!("Change customer of #{}", order.number),
        ),
        number: order.number,
        q,
        current_id: order.customer.id.to_string(),
        current_name: order.customer.name.clone(),
        customers,
        error,
    })
}

async fn change_customer(
    req: HttpRequest,
    form: Posted,
    svc: Svc,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let n = number(&path)?;
    let raw = form.fields.get("customer_id");
    let result = match raw.parse::<CustomerId>() {
        Ok(id) => match svc.change_customer(n, id, form.who.actor()).await {
            Ok(o) => Ok(o),
            Err(crate::service::ServiceError::Rule(r)) => Err(r.to_string()),
            Err(crate::service::ServiceError::NotFound(m)) => Err(m),
            Err(other) => return Err(other.into()),
        },
        Err(_) => Err("Choose a customer from the list".to_string()),
    };
    match result {
        Ok(o) => Ok(auth::redirect_with_flash(
            &req,
            &format!("/orders/{n}"),
            &format!("Customer changed to {}.", o.customer.name),
        )),
        Err(m) => {
            let order = svc.order(n).await?;
            let p = customer_page(
                &req,
                &form.who,
                &svc,
                &order,
                form.fields.get("q").to_string(),
                Some(m),
            )
            .await?;
            Ok(render(
                &req,
                StatusCode::UNPROCESSABLE_ENTITY,
                &p.chrome,
                &p,
            ))
        }
    }
}

/// Registers the order page and Change customer.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orders/{n}", web::get().to(show))
        .route("/orders/{n}/customer", web::get().to(customer_form))
        .route("/orders/{n}/customer", web::post().to(change_customer));
}
