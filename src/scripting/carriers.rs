//! Carrier scripts: the rate request, rates and refusals, tracking URLs and labels.
//!
//! A carrier script (`carriers/<id>.rhai`) defines `carrier()`, `rates(request)`,
//! `tracking_url(number)` and `label(request, service)`; `scripts/README.md` documents the maps
//! they receive and return. Money in and out of scripts is `Decimal`, never float.

use super::{convert, ScriptError, ScriptHost};
use crate::domain::shipping::{CarrierInfo, Declined, Label, Rate, RateRequest, RatesResult};

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
