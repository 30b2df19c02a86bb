//! Shipping with a carrier: what carriers are asked to quote (the rate request), their rates
//! and refusals, and the label they return. Carrier scripts fill these in (`scripting`).
//! Money and dimensions are `Decimal`, never float.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// One service a carrier offers (`express_saver`, "Express Saver").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub code: String,
    pub name: String,
}

/// A carrier as its script describes itself in `carrier()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierInfo {
    /// The script's file name without `.rhai`; what shipments and API calls store.
    pub id: String,
    pub name: String,
    pub services: Vec<ServiceInfo>,
}

impl CarrierInfo {
    /// The display name of a service code, if the carrier has it.
    pub fn service_name(&self, code: &str) -> Option<&str> {
        self.services
            .iter()
            .find(|s| s.code == code)
            .map(|s| s.name.as_str())
    }
}

/// A person or business with an address (recipient, shipper, ship-from).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Party {
    pub name: String,
    pub company: String,
    pub phone: String,
    pub email: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 (`"US"`).
    pub country: String,
}

impl Party {
    /// A party at a postal address (the order's ship-to, the store's address).
    pub fn at(a: &crate::domain::Address, phone: &str, email: &str) -> Self {
        Party {
            name: a.name.clone(),
            company: String::new(),
            phone: phone.to_string(),
            email: email.to_string(),
            line1: a.line1.clone(),
            line2: a.line2.clone(),
            city: a.city.clone(),
            region: a.region.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
        }
    }
}

/// One item in the parcel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateItem {
    pub sku: String,
    pub name: String,
    pub quantity: u32,
    pub weight_grams: u32,
    #[serde(deserialize_with = "de_decimal")]
    pub unit_price: Decimal,
}

/// The parcel: a preset's name (informative) and its outer dimensions and gross weight.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    #[serde(default)]
    pub preset: Option<String>,
    #[serde(deserialize_with = "de_decimal")]
    pub length_cm: Decimal,
    #[serde(deserialize_with = "de_decimal")]
    pub width_cm: Decimal,
    #[serde(deserialize_with = "de_decimal")]
    pub height_cm: Decimal,
    /// Gross weight; 0 means "the items' weight".
    #[serde(default)]
    pub weight_grams: u32,
}

/// What the carriers are asked to quote (docs/API.md, carrier fulfilment). Field names are
/// snake_case; money and dimensions accept decimal strings or JSON numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateRequest {
    #[serde(default)]
    pub items: Vec<RateItem>,
    pub package: Package,
    /// Who receives the parcel and where (`ship_to` is accepted too).
    #[serde(alias = "ship_to")]
    pub recipient: Party,
    /// Who sends it (the store).
    #[serde(default)]
    pub shipper: Party,
    /// Where the parcel leaves from when that is not the shipper's address (a warehouse).
    #[serde(default)]
    pub ship_from: Option<Party>,
    /// When the parcel is handed to the carrier; today when absent.
    #[serde(default = "today")]
    pub drop_off_date: NaiveDate,
    /// Extra cover asked for (0 = the carrier's included cover only).
    #[serde(default, deserialize_with = "de_decimal")]
    pub insurance: Decimal,
    /// Value for customs; the items' value when absent.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub declared_value: Option<Decimal>,
    #[serde(default)]
    pub dangerous_goods: bool,
    #[serde(default)]
    pub signature: bool,
    /// The store's currency (ISO 4217); rates are quoted in it unless a script says otherwise.
    pub currency: String,
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

impl RateRequest {
    /// Where the parcel leaves from: `ship_from`, else the shipper.
    pub fn origin(&self) -> &Party {
        self.ship_from.as_ref().unwrap_or(&self.shipper)
    }

    /// The gross weight: the package's, or the items' when the package says 0.
    pub fn weight_grams(&self) -> u64 {
        if self.package.weight_grams > 0 {
            u64::from(self.package.weight_grams)
        } else {
            self.items
                .iter()
                .map(|i| u64::from(i.weight_grams) * u64::from(i.quantity))
                .sum()
        }
    }

    /// Σ unit price × quantity.
    pub fn items_value(&self) -> Decimal {
        self.items
            .iter()
            .map(|i| i.unit_price * Decimal::from(i.quantity))
            .sum()
    }

    /// The customs value: `declared_value`, else the items' value.
    pub fn declared(&self) -> Decimal {
        self.declared_value.unwrap_or_else(|| self.items_value())
    }

    /// Checks what every carrier needs; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        let p = &self.package;
        for (field, v) in [
            ("package.length_cm", p.length_cm),
            ("package.width_cm", p.width_cm),
            ("package.height_cm", p.height_cm),
        ] {
            if v <= Decimal::ZERO || v > Decimal::from(1000) {
                return Err(format!("{field} must be between 0 and 1000 cm"));
            }
        }
        if self.weight_grams() == 0 {
            return Err("package.weight_grams must be more than 0 g".into());
        }
        if self.weight_grams() > 1_000_000 {
            return Err("package.weight_grams must be at most 1,000 kg".into());
        }
        let country_ok =
            |c: &str| c.trim().len() == 2 && c.trim().chars().all(|x| x.is_ascii_alphabetic());
        if !country_ok(&self.recipient.country) {
            return Err("recipient.country must be a two-letter country code like \"US\"".into());
        }
        if !country_ok(&self.origin().country) {
            return Err("shipper.country must be a two-letter country code like \"US\"".into());
        }
        if self.currency.trim().len() != 3 {
            return Err("currency must be a three-letter code like \"USD\"".into());
        }
        if self.insurance < Decimal::ZERO || self.declared().is_sign_negative() {
            return Err("insurance and declared_value must not be negative".into());
        }
        Ok(())
    }
}

/// One price for one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    pub carrier: String,
    pub carrier_name: String,
    pub service: String,
    pub service_name: String,
    pub price: Decimal,
    pub currency: String,
    /// Business days in transit (0 = delivered on the drop-off day).
    pub days: u32,
    /// Drop-off date plus `days` business days (Monday to Friday).
    pub estimated_delivery: NaiveDate,
}

/// A carrier that quoted nothing, and why (its own refusal, or its script's error).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declined {
    pub carrier: String,
    pub carrier_name: String,
    pub reason: String,
}

/// Every carrier's answer to one request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatesResult {
    /// Cheapest first (then fastest).
    pub rates: Vec<Rate>,
    pub declined: Vec<Declined>,
}

/// A bought label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub carrier: String,
    pub service: String,
    pub tracking_number: String,
    pub tracking_url: String,
    pub price: Decimal,
    pub currency: String,
    pub estimated_delivery: NaiveDate,
    /// Everything else the script put on the label (service name, routing code, zone, …),
    /// for the printable label page; nested maps are flattened with dotted keys.
    pub fields: BTreeMap<String, String>,
}

/// A decimal from a JSON string (`"12.50"`) or number (`12.5`).
fn de_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    d.deserialize_any(DecimalVisitor)
}

fn de_opt_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    d.deserialize_option(OptDecimalVisitor)
}

struct DecimalVisitor;

impl serde::de::Visitor<'_> for DecimalVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a decimal number or a decimal string like \"12.50\"")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Decimal, E> {
        v.trim()
            .parse::<Decimal>()
            .map_err(|_| E::custom(format!("{v:?} is not a decimal number")))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Decimal, E> {
        // Through the shortest decimal text, so 12.3 is 12.3 and not 12.300000000000000711.
        self.visit_str(&v.to_string())
    }
}

struct OptDecimalVisitor;

impl<'de> serde::de::Visitor<'de> for OptDecimalVisitor {
    type Value = Option<Decimal>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("null, a decimal number or a decimal string")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        de_decimal(d).map(Some)
    }
}
