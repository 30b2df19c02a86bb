//! Carrier scripts: the rate request, rates and refusals, tracking URLs and labels.
//!
//! A carrier script (`carriers/<id>.rhai`) defines `carrier()`, `rates(request)`,
//! `tracking_url(number)` and `label(request, service)`; `scripts/README.md` documents the maps
//! they receive and return. Money in and out of scripts is `Decimal`, never float.

use super::{convert, ScriptError, ScriptHost};
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

/// What the carriers are asked to quote (SPEC 5, carrier-fulfil fields). Field names are
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

impl ScriptHost {
    /// The enabled carriers, by id.
    pub fn carriers(&self) -> Vec<CarrierInfo> {
        self.carriers.values().map(|c| c.info.clone()).collect()
    }

    /// Asks every carrier for rates. A carrier that refuses, or whose script fails or breaks a
    /// limit, becomes a `declined` entry with the reason or the error text: never a crash.
    pub fn rates(&self, request: &RateRequest) -> RatesResult {
        let mut result = RatesResult::default();
        for (id, c) in &self.carriers {
            match self.carrier_rates(id, request) {
                Ok(rates) => result.rates.extend(rates),
                Err(e) => {
                    let reason = match e {
                        ScriptError::Declined { reason, .. } => reason,
                        other => {
                            log::warn!("carrier script failed: {other}");
                            other.to_string()
                        }
                    };
                    result.declined.push(Declined {
                        carrier: id.clone(),
                        carrier_name: c.info.name.clone(),
                        reason,
                    });
                }
            }
        }
        result.rates.sort_by(|a, b| {
            (a.price, a.days, &a.carrier, &a.service)
                .cmp(&(b.price, b.days, &b.carrier, &b.service))
        });
        result
    }

    /// One carrier's rates; its refusal is `Err(ScriptError::Declined)`.
    pub fn carrier_rates(
        &self,
        carrier: &str,
        request: &RateRequest,
    ) -> Result<Vec<Rate>, ScriptError> {
        let c = self.carrier_script(carrier)?;
        if let Err(reason) = request.validate() {
            return Err(ScriptError::Declined {
                carrier: c.info.name.clone(),
                reason,
            });
        }
        let ast = c.compiled.ast.as_ref().ok_or_else(|| not_found(carrier))?;
        let arg = convert::request_to_dynamic(request, "");
        let out = self.call(&c.compiled.path, ast, "rates", (arg,))?;
        let quotes = convert::rates(out, &c.info, &request.currency).map_err(|message| {
            ScriptError::BadReturn {
                path: c.compiled.path.clone(),
                function: "rates".into(),
                message,
            }
        })?;
        match quotes {
            convert::Quotes::Declined(reason) => Err(ScriptError::Declined {
                carrier: c.info.name.clone(),
                reason,
            }),
            convert::Quotes::Rates(list) => Ok(list
                .into_iter()
                .map(|q| Rate {
                    carrier: carrier.to_string(),
                    carrier_name: c.info.name.clone(),
                    service_name: c.info.service_name(&q.service).unwrap_or("").to_string(),
                    service: q.service,
                    price: q.price,
                    currency: q.currency,
                    days: q.days,
                    estimated_delivery: convert::add_business_days(request.drop_off_date, q.days),
                })
                .collect()),
        }
    }

    /// The carrier's tracking page for a tracking number.
    pub fn tracking_url(&self, carrier: &str, number: &str) -> Result<String, ScriptError> {
        let c = self.carrier_script(carrier)?;
        let ast = c.compiled.ast.as_ref().ok_or_else(|| not_found(carrier))?;
        let out = self.call(&c.compiled.path, ast, "tracking_url", (number.to_string(),))?;
        let bad = |message: String| ScriptError::BadReturn {
            path: c.compiled.path.clone(),
            function: "tracking_url".into(),
            message,
        };
        let url = out
            .into_immutable_string()
            .map_err(|t| bad(format!("a {t}; expected the URL as a string")))?
            .to_string();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(bad(format!("{url:?}; expected an http(s) URL")));
        }
        Ok(url)
    }

    /// Buys a label: prices the service, then asks the script for the label with a fresh random
    /// seed (scripts have no randomness of their own), so every label gets its own tracking number.
    pub fn buy_label(
        &self,
        carrier: &str,
        service: &str,
        request: &RateRequest,
    ) -> Result<Label, ScriptError> {
        let seed = format!(
            "{:020}{:020}",
            rand::random::<u64>() % 10u64.pow(19),
            rand::random::<u64>() % 10u64.pow(19)
        );
        self.buy_label_with_seed(carrier, service, request, &seed)
    }

    /// [`ScriptHost::buy_label`] with the seed given (40 decimal digits; tests use fixed ones).
    pub fn buy_label_with_seed(
        &self,
        carrier: &str,
        service: &str,
        request: &RateRequest,
        seed: &str,
    ) -> Result<Label, ScriptError> {
        let c = self.carrier_script(carrier)?;
        if c.info.service_name(service).is_none() {
            return Err(ScriptError::NotFound {
                what: format!(
                    "{} has no service {service:?} (it offers: {})",
                    c.info.name,
                    c.info
                        .services
                        .iter()
                        .map(|s| s.code.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let rate = self
            .carrier_rates(carrier, request)?
            .into_iter()
            .find(|r| r.service == service)
            .ok_or_else(|| ScriptError::Declined {
                carrier: c.info.name.clone(),
                reason: format!(
                    "{} is not available for this parcel",
                    c.info.service_name(service).unwrap_or(service)
                ),
            })?;
        let ast = c.compiled.ast.as_ref().ok_or_else(|| not_found(carrier))?;
        let arg = convert::request_to_dynamic(request, seed);
        let out = self.call(
            &c.compiled.path,
            ast,
            "label",
            (arg, rhai::Dynamic::from(service.to_string())),
        )?;
        let (tracking_number, fields) =
            convert::label(out).map_err(|message| ScriptError::BadReturn {
                path: c.compiled.path.clone(),
                function: "label".into(),
                message,
            })?;
        let tracking_url = self.tracking_url(carrier, &tracking_number)?;
        Ok(Label {
            carrier: carrier.to_string(),
            service: service.to_string(),
            tracking_number,
            tracking_url,
            price: rate.price,
            currency: rate.currency,
            estimated_delivery: rate.estimated_delivery,
            fields,
        })
    }

    fn carrier_script(&self, carrier: &str) -> Result<&super::CarrierScript, ScriptError> {
        self.carriers.get(carrier).ok_or_else(|| not_found(carrier))
    }
}

fn not_found(carrier: &str) -> ScriptError {
    ScriptError::NotFound {
        what: format!("no carrier {carrier:?} (no script, or it is turned off)"),
    }
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
