//! Shipping with a carrier: the rate request built from an order and the merchant's fields,
//! every carrier's rates, buying a label (which creates the shipment), and the loaded scripts.

use super::{Service, ServiceError};
use crate::domain::shipping::{Package, Party, RateItem, RateRequest, RatesResult};
use crate::domain::{Actor, Command, Ctx, Order, RuleError};
use crate::scripting::ScriptRegistry;
use chrono::Utc;
use std::sync::Arc;
use uuid::Uuid;

/// The package of a carrier fulfilment: a preset, or dimensions and weight.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PackageInput {
    pub preset: Option<String>,
    pub length_cm: Option<rust_decimal::Decimal>,
    pub width_cm: Option<rust_decimal::Decimal>,
    pub height_cm: Option<rust_decimal::Decimal>,
    /// Gross weight; absent means the preset's empty weight plus the items' weight.
    pub weight_grams: Option<u32>,
}

/// Everything a carrier fulfilment asks (see docs/API.md, carrier fulfilment).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CarrierFields {
    pub items: Vec<crate::domain::ItemQty>,
    pub package: PackageInput,
    pub recipient: Option<Party>,
    pub shipper: Option<Party>,
    pub ship_from: Option<Party>,
    pub drop_off_date: Option<chrono::NaiveDate>,
    pub insurance: rust_decimal::Decimal,
    pub declared_value: Option<rust_decimal::Decimal>,
    pub dangerous_goods: bool,
    pub signature: bool,
}

fn script_error(e: crate::scripting::ScriptError) -> ServiceError {
    use crate::scripting::ScriptError as E;
    match e {
        E::NotFound { what } => ServiceError::NotFound(what),
        E::Declined { carrier, reason } => ServiceError::Refused {
            code: "carrier_declined",
            message: format!("{carrier} declined: {reason}"),
        },
        other => ServiceError::Refused {
            code: "script_error",
            message: other.to_string(),
        },
    }
}

impl Service {
    /// The loaded scripts.
    pub fn scripts(&self) -> Option<&Arc<ScriptRegistry>> {
        self.scripts.as_ref()
    }

    /// The folder scripts are loaded from (None: the embedded defaults only).
    pub fn scripts_dir(&self) -> Option<&std::path::Path> {
        self.scripts_dir.as_deref()
    }

    /// Recompiles every script; swaps them in only if all compile.
    pub fn reload_scripts(&self) -> Result<(), Vec<crate::scripting::ScriptError>> {
        match &self.scripts {
            Some(r) => r.reload(self.scripts_dir.as_deref()),
            None => Ok(()),
        }
    }

    fn host(&self) -> Result<Arc<crate::scripting::ScriptHost>, ServiceError> {
        self.scripts
            .as_ref()
            .map(|r| r.current())
            .ok_or_else(|| ServiceError::Refused {
                code: "carrier_unavailable",
                message: "No carrier scripts are loaded".into(),
            })
    }

    /// The carriers and their services.
    pub fn carriers(&self) -> Vec<crate::scripting::CarrierInfo> {
        self.host().map(|h| h.carriers()).unwrap_or_default()
    }

    /// Builds the carriers' request for an order, checking items and quantities with the same
    /// rule as the fulfilment itself.
    pub async fn rate_request(
        &self,
        order: &Order,
        f: &CarrierFields,
    ) -> Result<RateRequest, ServiceError> {
        let settings = self.settings().await?;
        let probe = Command::CarrierFulfill(crate::domain::workflow::CarrierFulfillInput {
            items: f.items.clone(),
            shipping_point: crate::domain::ShippingPoint::Local,
            carrier: String::new(),
            service: String::new(),
            tracking_number: String::new(),
            tracking_url: None,
            expected_delivery: None,
            price: rust_decimal::Decimal::ZERO,
            label: Default::default(),
        });
        let ctx = Ctx::new(Utc::now(), Actor::System, [Uuid::nil(), Uuid::nil()]);
        crate::domain::decide(order, &probe, &ctx)?;
        let items: Vec<RateItem> = f
            .items
            .iter()
            .filter(|i| i.quantity > 0)
            .filter_map(|iq| {
                order.item(iq.item_id).map(|it| RateItem {
                    sku: it.sku.clone(),
                    name: it.name.clone(),
                    quantity: iq.quantity,
                    weight_grams: it.weight_grams,
                    unit_price: it.unit_price,
                })
            })
            .collect();
        let preset = match &f.package.preset {
            Some(name) if !name.trim().is_empty() => Some(
                self.package_presets()
                    .await
                    .into_iter()
                    .find(|p| p.name == name.trim())
                    .ok_or_else(|| {
                        RuleError::invalid(
                            "package.preset",
                            format!("{name:?} is not a package preset"),
                        )
                    })?,
            ),
            _ => None,
        };
        let dim = |field: &str,
                   v: Option<rust_decimal::Decimal>,
                   from_preset: Option<rust_decimal::Decimal>|
         -> Result<rust_decimal::Decimal, ServiceError> {
            let d = v.or(from_preset).ok_or_else(|| {
                RuleError::invalid(field, "is required (or choose a package preset)")
            })?;
            if d <= rust_decimal::Decimal::ZERO || d > rust_decimal::Decimal::new(300, 0) {
                return Err(RuleError::invalid(field, "must be between 0 and 300 cm").into());
            }
            Ok(d)
        };
        let items_weight: u32 = items
            .iter()
            .map(|i| i.weight_grams.saturating_mul(i.quantity))
            .sum();
        let weight = match f.package.weight_grams {
            Some(w) if w > 0 => w,
            _ => preset
                .as_ref()
                .map(|p| p.weight_grams)
                .unwrap_or(0)
                .saturating_add(items_weight),
        };
        if weight > 70_000 {
            return Err(
                RuleError::invalid("package.weight_grams", "must be at most 70000 g").into(),
            );
        }
        let package = Package {
            preset: preset.as_ref().map(|p| p.name.clone()),
            length_cm: dim(
                "package.length_cm",
                f.package.length_cm,
                preset.as_ref().map(|p| p.length_cm),
            )?,
            width_cm: dim(
                "package.width_cm",
                f.package.width_cm,
                preset.as_ref().map(|p| p.width_cm),
            )?,
            height_cm: dim(
                "package.height_cm",
                f.package.height_cm,
                preset.as_ref().map(|p| p.height_cm),
            )?,
            weight_grams: weight,
        };
        let recipient = f.recipient.clone().unwrap_or_else(|| {
            Party::at(
                &order.shipping_address,
                &order.customer.phone,
                &order.customer.email,
            )
        });
        let shipper = f
            .shipper
            .clone()
            .unwrap_or_else(|| Party::at(&settings.address, "", &settings.email));
        let req = RateRequest {
            items,
            package,
            recipient,
            shipper,
            ship_from: f.ship_from.clone(),
            drop_off_date: f.drop_off_date.unwrap_or_else(|| Utc::now().date_naive()),
            insurance: f.insurance,
            declared_value: f.declared_value,
            dangerous_goods: f.dangerous_goods,
            signature: f.signature,
            currency: order.currency.clone(),
        };
        req.validate().map_err(|m| ServiceError::Refused {
            code: "invalid_field",
            message: m,
        })?;
        Ok(req)
    }

    /// Get rates: every carrier's quotes (or refusals) for this fulfilment.
    pub async fn rates(&self, number: u64, f: &CarrierFields) -> Result<RatesResult, ServiceError> {
        let order = self.order(number).await?;
        let req = self.rate_request(&order, f).await?;
        Ok(self.host()?.rates(&req))
    }

    /// Buy label: the carrier script issues the tracking number and label; the shipment is created.
    pub async fn buy_label(
        &self,
        number: u64,
        f: &CarrierFields,
        carrier: &str,
        service: &str,
        actor: Actor,
    ) -> Result<Order, ServiceError> {
        let order = self.order(number).await?;
        let req = self.rate_request(&order, f).await?;
        let host = self.host()?;
        let label = host
            .buy_label(carrier, service, &req)
            .map_err(script_error)?;
        let info = host.carriers().into_iter().find(|c| c.id == carrier);
        let mut fields = label.fields.clone();
        let to = &req.recipient;
        let from = req.origin();
        for (prefix, p) in [("to", to), ("from", from)] {
            fields.insert(format!("{prefix}.name"), p.name.clone());
            fields.insert(format!("{prefix}.company"), p.company.clone());
            fields.insert(format!("{prefix}.line1"), p.line1.clone());
            fields.insert(format!("{prefix}.line2"), p.line2.clone());
            fields.insert(
                format!("{prefix}.city"),
                format!("{} {} {}", p.postal_code, p.city, p.region)
                    .trim()
                    .to_string(),
            );
            fields.insert(format!("{prefix}.country"), p.country.clone());
            fields.insert(format!("{prefix}.phone"), p.phone.clone());
        }
        fields.insert(
            "carrier_name".into(),
            info.as_ref()
                .map(|c| c.name.clone())
                .unwrap_or_else(|| carrier.to_string()),
        );
        fields.insert(
            "service_name".into(),
            info.as_ref()
                .and_then(|c| c.service_name(service).map(str::to_string))
                .unwrap_or_else(|| service.to_string()),
        );
        fields.insert(
            "package".into(),
            format!(
                "{} × {} × {} cm, {} g",
                req.package.length_cm,
                req.package.width_cm,
                req.package.height_cm,
                req.package.weight_grams
            ),
        );
        fields.insert("drop_off_date".into(), req.drop_off_date.to_string());
        if req.signature {
            fields.insert("signature".into(), "required".into());
        }
        if req.dangerous_goods {
            fields.insert("dangerous_goods".into(), "yes".into());
        }
        let international = !to.country.is_empty()
            && !from.country.is_empty()
            && !to.country.eq_ignore_ascii_case(&from.country);
        let cmd = Command::CarrierFulfill(crate::domain::workflow::CarrierFulfillInput {
            items: f.items.clone(),
            shipping_point: if international {
                crate::domain::ShippingPoint::International
            } else {
                crate::domain::ShippingPoint::Local
            },
            carrier: carrier.to_string(),
            service: service.to_string(),
            tracking_number: label.tracking_number.clone(),
            tracking_url: Some(label.tracking_url.clone()),
            expected_delivery: Some(label.estimated_delivery),
            price: label.price,
            label: fields,
        });
        self.apply(order, &cmd, actor).await
    }
}
