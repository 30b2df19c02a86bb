//! Order intake: the storefront's order as it arrives (strings), checked field by field and
//! turned into a new [`Order`].

use super::money::{parse_amount, MAX_AMOUNT};
use super::order::*;
use super::rules::{clean_text, optional_text, required_text, RuleError};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most line items one order may carry.
pub const MAX_ITEMS: usize = 250;
/// Most units of one line item.
pub const MAX_QUANTITY: u32 = 100_000;

/// The customer block of an incoming order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerDraft {
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
}

/// An address as it arrives.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressDraft {
    #[serde(default)]
    pub name: String,
    pub line1: String,
    #[serde(default)]
    pub line2: String,
    pub city: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub postal_code: String,
    pub country: String,
}

/// A line item as it arrives.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemDraft {
    pub sku: String,
    pub name: String,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(deserialize_with = "super::decimal_json::text")]
    pub unit_price: String,
    pub quantity: u32,
    #[serde(default)]
    pub weight_grams: Option<u32>,
    #[serde(default)]
    pub image_url: Option<String>,
}

/// The shipping line as it arrives.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippingDraft {
    pub method: String,
    #[serde(deserialize_with = "super::decimal_json::text")]
    pub price: String,
}

/// The payment block as it arrives.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentDraft {
    pub method: String,
    #[serde(default)]
    pub paid: bool,
}

/// `POST /api/v1/orders` body (docs/API.md, order intake).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderDraft {
    pub customer: CustomerDraft,
    pub shipping_address: AddressDraft,
    #[serde(default)]
    pub billing_address: Option<AddressDraft>,
    pub items: Vec<ItemDraft>,
    pub shipping: ShippingDraft,
    #[serde(default, deserialize_with = "super::decimal_json::opt_text")]
    pub tax: Option<String>,
    #[serde(default, deserialize_with = "super::decimal_json::opt_text")]
    pub discount: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    pub payment: PaymentDraft,
    #[serde(default)]
    pub test: bool,
}

/// A checked line item (ids are assigned when the order is built).
#[derive(Debug, Clone, PartialEq)]
pub struct ValidItem {
    pub sku: String,
    pub name: String,
    pub variant: Option<String>,
    pub unit_price: Decimal,
    pub quantity: u32,
    pub weight_grams: u32,
    pub image_url: Option<String>,
}

/// A checked incoming order.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidOrder {
    pub customer_name: String,
    pub customer_email: String,
    pub customer_phone: String,
    pub shipping_address: Address,
    pub billing_address: Address,
    pub items: Vec<ValidItem>,
    pub shipping: ShippingLine,
    pub tax: Decimal,
    pub discount: Decimal,
    pub total: Decimal,
    pub currency: Option<String>,
    pub payment_method: PaymentMethod,
    pub paid: bool,
    pub test: bool,
}

fn money(field: &str, s: &str) -> Result<Decimal, RuleError> {
    parse_amount(s).map_err(|e| RuleError::invalid(field, e.to_string()))
}

/// A light, practical email check: one `@`, a dot in the domain, no spaces.
pub fn check_email(field: &str, email: &str) -> Result<String, RuleError> {
    let e = clean_text(field, email, 254, false)?.to_lowercase();
    let ok = match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !e.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if ok {
        Ok(e)
    } else {
        Err(RuleError::invalid(field, "is not an email address"))
    }
}

/// Phone numbers: digits with the usual punctuation, 6 to 20 digits.
pub fn check_phone(field: &str, phone: &str) -> Result<String, RuleError> {
    let p = clean_text(field, phone, 40, false)?;
    let digits = p.chars().filter(char::is_ascii_digit).count();
    let allowed = p
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if !allowed || !(6..=20).contains(&digits) {
        return Err(RuleError::invalid(field, "is not a phone number"));
    }
    Ok(p)
}

fn address(prefix: &str, a: &AddressDraft) -> Result<Address, RuleError> {
    let f = |name: &str| format!("{prefix}.{name}");
    let country = required_text(&f("country"), &a.country, 2, false)?.to_uppercase();
    if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(RuleError::invalid(
            f("country"),
            "must be a two-letter ISO country code like \"US\"",
        ));
    }
    Ok(Address {
        name: clean_text(&f("name"), &a.name, 200, false)?,
        line1: required_text(&f("line1"), &a.line1, 200, false)?,
        line2: clean_text(&f("line2"), &a.line2, 200, false)?,
        city: required_text(&f("city"), &a.city, 100, false)?,
        region: clean_text(&f("region"), &a.region, 100, false)?,
        postal_code: clean_text(&f("postal_code"), &a.postal_code, 20, false)?,
        country,
    })
}

/// Checks a currency code (three upper-case letters, ISO 4217 form).
pub fn check_currency(field: &str, c: &str) -> Result<String, RuleError> {
    let c = c.trim().to_uppercase();
    if c.len() == 3 && c.chars().all(|ch| ch.is_ascii_alphabetic()) {
        Ok(c)
    } else {
        Err(RuleError::invalid(
            field,
            "must be a three-letter ISO 4217 code like \"USD\"",
        ))
    }
}

impl OrderDraft {
    /// Checks every field; the first problem found is returned with its field path.
    pub fn validate(&self) -> Result<ValidOrder, RuleError> {
        let customer_name = required_text("customer.name", &self.customer.name, 200, false)?;
        let customer_email = if self.customer.email.trim().is_empty() {
            String::new()
        } else {
            check_email("customer.email", &self.customer.email)?
        };
        let customer_phone = if self.customer.phone.trim().is_empty() {
            String::new()
        } else {
            check_phone("customer.phone", &self.customer.phone)?
        };
        if customer_email.is_empty() && customer_phone.is_empty() {
            return Err(RuleError::invalid(
                "customer.email",
                "or customer.phone is required",
            ));
        }
        let shipping_address = address("shipping_address", &self.shipping_address)?;
        let billing_address = match &self.billing_address {
            Some(b) => address("billing_address", b)?,
            None => shipping_address.clone(),
        };
        if self.items.is_empty() {
            return Err(RuleError::invalid("items", "must list at least one item"));
        }
        if self.items.len() > MAX_ITEMS {
            return Err(RuleError::invalid(
                "items",
                format!("must list at most {MAX_ITEMS} items"),
            ));
        }
        let mut items = Vec::with_capacity(self.items.len());
        for (i, it) in self.items.iter().enumerate() {
            let f = |name: &str| format!("items[{i}].{name}");
            if it.quantity == 0 || it.quantity > MAX_QUANTITY {
                return Err(RuleError::invalid(
                    f("quantity"),
                    format!("must be between 1 and {MAX_QUANTITY}"),
                ));
            }
            let image_url = optional_text(&f("image_url"), it.image_url.as_deref(), 2000)?;
            if let Some(u) = &image_url {
                if !(u.starts_with("https://") || u.starts_with("http://")) {
                    return Err(RuleError::invalid(f("image_url"), "must be an http(s) URL"));
                }
            }
            items.push(ValidItem {
                sku: required_text(&f("sku"), &it.sku, 100, false)?,
                name: required_text(&f("name"), &it.name, 300, false)?,
                variant: optional_text(&f("variant"), it.variant.as_deref(), 200)?,
                unit_price: money(&f("unit_price"), &it.unit_price)?,
                quantity: it.quantity,
                weight_grams: it.weight_grams.unwrap_or(0),
                image_url,
            });
        }
        let shipping = ShippingLine {
            method: required_text("shipping.method", &self.shipping.method, 200, false)?,
            price: money("shipping.price", &self.shipping.price)?,
        };
        let tax = match &self.tax {
            Some(t) => money("tax", t)?,
            None => Decimal::ZERO,
        };
        let discount = match &self.discount {
            Some(d) => money("discount", d)?,
            None => Decimal::ZERO,
        };
        let subtotal: Decimal = items
            .iter()
            .map(|i| i.unit_price * Decimal::from(i.quantity))
            .sum();
        let gross = subtotal + shipping.price + tax;
        if discount > gross {
            return Err(RuleError::invalid(
                "discount",
                "must not exceed the items, shipping and tax together",
            ));
        }
        let total = gross - discount;
        if total > MAX_AMOUNT {
            return Err(RuleError::invalid(
                "items",
                format!("total exceeds the maximum of {MAX_AMOUNT}"),
            ));
        }
        let currency = match &self.currency {
            Some(c) => Some(check_currency("currency", c)?),
            None => None,
        };
        let payment_method = PaymentMethod::parse(self.payment.method.trim()).ok_or_else(|| {
            RuleError::invalid(
                "payment.method",
                "must be one of card, mobile, online, cash_on_delivery, money_transfer, pos_on_delivery",
            )
        })?;
        Ok(ValidOrder {
            customer_name,
            customer_email,
            customer_phone,
            shipping_address,
            billing_address,
            items,
            shipping,
            tax,
            discount,
            total,
            currency,
            payment_method,
            paid: self.payment.paid,
            test: self.test,
        })
    }
}

/// What the store supplies to turn a checked draft into an order.
#[derive(Debug, Clone)]
pub struct NewOrderIds {
    pub order_id: Uuid,
    pub number: u64,
    pub customer_id: CustomerId,
    pub item_ids: Vec<Uuid>,
    pub payment_id: Uuid,
}

impl ValidOrder {
    /// Builds the order (with its "placed" timeline entry, and the payment when `paid`).
    pub fn build(
        &self,
        ids: &NewOrderIds,
        store_currency: &str,
        now: DateTime<Utc>,
        actor: &Actor,
    ) -> Order {
        let currency = self
            .currency
            .clone()
            .unwrap_or_else(|| store_currency.to_string());
        let items = self
            .items
            .iter()
            .enumerate()
            .map(|(i, it)| LineItem {
                id: ItemId(ids.item_ids.get(i).copied().unwrap_or_else(Uuid::nil)),
                sku: it.sku.clone(),
                name: it.name.clone(),
                variant: it.variant.clone(),
                unit_price: it.unit_price,
                quantity: it.quantity,
                weight_grams: it.weight_grams,
                image_url: it.image_url.clone(),
            })
            .collect();
        let mut order = Order {
            id: OrderId(ids.order_id),
            number: ids.number,
            created_at: now,
            test: self.test,
            currency,
            customer: CustomerSnapshot {
                id: ids.customer_id,
                name: self.customer_name.clone(),
                email: self.customer_email.clone(),
                phone: self.customer_phone.clone(),
            },
            shipping_address: self.shipping_address.clone(),
            billing_address: self.billing_address.clone(),
            items,
            shipping: self.shipping.clone(),
            tax: self.tax,
            discount: self.discount,
            total: self.total,
            payment_method: self.payment_method,
            payments: Vec::new(),
            refunds: Vec::new(),
            dispatched_at: None,
            shipments: Vec::new(),
            returns: Vec::new(),
            cancellation: None,
            notes: Vec::new(),
            timeline: Vec::new(),
            version: 1,
            tags: Vec::new(),
        };
        let what = if self.test { "Test order" } else { "Order" };
        order.log(
            now,
            actor,
            "placed",
            format!(
                "{what} placed by {} for {} {}",
                order.customer.name,
                super::money::fmt(order.total),
                order.currency
            ),
        );
        if self.paid && self.total > Decimal::ZERO {
            let payment = Payment {
                id: FactId(ids.payment_id),
                amount: self.total,
                reference: None,
                at: now,
                actor: actor.to_string(),
            };
            order.log(
                now,
                actor,
                "payment",
                format!(
                    "Payment of {} {} recorded at checkout ({})",
                    super::money::fmt(payment.amount),
                    order.currency,
                    self.payment_method.label()
                ),
            );
            order.payments.push(payment);
        }
        order
    }
}
