//! Store settings: the store's details, the notification switches, the package presets, and
//! the one validated way to change a setting.

use super::{Service, ServiceError};
use crate::domain::notifications::EVENTS;
use crate::domain::outbox::Channel;
use crate::domain::RuleError;
use crate::ports::transport_keys;
use std::collections::{BTreeMap, HashSet};

/// Setting keys that may be changed from the command line (`orderdeck settings set`).
pub const SETTABLE: &[&str] = &[
    "store.name",
    "store.email",
    "store.currency",
    "store.address.line1",
    "store.address.line2",
    "store.address.city",
    "store.address.region",
    "store.address.postal_code",
    "store.address.country",
    "smtp.host",
    "smtp.port",
    "smtp.tls",
    "smtp.username",
    "smtp.password",
    "smtp.from",
    "sms.url",
    "sms.auth_header",
];

/// The store-wide settings the use cases need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    pub name: String,
    pub email: String,
    pub currency: String,
    /// The store's address (the default ship-from address and shipper).
    pub address: crate::domain::Address,
}

impl StoreSettings {
    /// Reads them from a snapshot of every setting, with their defaults.
    pub fn from_map(all: &BTreeMap<String, String>) -> Self {
        let get = |k: &str, d: &str| all.get(k).cloned().unwrap_or_else(|| d.to_string());
        StoreSettings {
            name: get("store.name", "My Store"),
            email: get("store.email", ""),
            currency: get("store.currency", "USD"),
            address: crate::domain::Address {
                name: get("store.name", "My Store"),
                line1: get("store.address.line1", ""),
                line2: get("store.address.line2", ""),
                city: get("store.address.city", ""),
                region: get("store.address.region", ""),
                postal_code: get("store.address.postal_code", ""),
                country: get("store.address.country", "US"),
            },
        }
    }

    /// The address as lines (for templates and labels).
    pub fn address_lines(&self) -> String {
        let a = &self.address;
        [
            a.line1.clone(),
            a.line2.clone(),
            format!("{} {} {}", a.postal_code, a.city, a.region)
                .trim()
                .to_string(),
            a.country.clone(),
        ]
        .into_iter()
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
    }
}

/// A package preset (Settings > Shipping).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PackagePreset {
    pub name: String,
    pub length_cm: rust_decimal::Decimal,
    pub width_cm: rust_decimal::Decimal,
    pub height_cm: rust_decimal::Decimal,
    /// The empty package's weight.
    pub weight_grams: u32,
}

/// Presets offered when the merchant has not set any.
pub fn default_presets() -> Vec<PackagePreset> {
    let d = |v: i64| rust_decimal::Decimal::new(v, 0);
    vec![
        PackagePreset {
            name: "Padded envelope".into(),
            length_cm: d(30),
            width_cm: d(23),
            height_cm: d(3),
            weight_grams: 40,
        },
        PackagePreset {
            name: "Small box".into(),
            length_cm: d(20),
            width_cm: d(15),
            height_cm: d(10),
            weight_grams: 150,
        },
        PackagePreset {
            name: "Medium box".into(),
            length_cm: d(30),
            width_cm: d(25),
            height_cm: d(15),
            weight_grams: 300,
        },
        PackagePreset {
            name: "Large box".into(),
            length_cm: d(40),
            width_cm: d(30),
            height_cm: d(25),
            weight_grams: 550,
        },
    ]
}

/// The on/off switches of every event and channel (Settings > Notifications; on by default).
#[derive(Debug, Clone, Default)]
pub struct Switches(HashSet<(String, &'static str)>);

impl Switches {
    /// Reads every switch from a snapshot of the settings.
    pub fn from_map(all: &BTreeMap<String, String>) -> Self {
        let mut off = HashSet::new();
        for e in EVENTS {
            for c in [Channel::Email, Channel::Sms] {
                let key = format!("notify.{e}.{}", c.as_str());
                if all.get(&key).map(String::as_str) == Some("off") {
                    off.insert((e.to_string(), c.as_str()));
                }
            }
        }
        Switches(off)
    }

    /// Whether this event may go out on this channel.
    pub fn on(&self, event: &str, channel: Channel) -> bool {
        !self.0.contains(&(event.to_string(), channel.as_str()))
    }
}

/// Checks the store's name (required) and e-mail (where the store's own notifications go;
/// required) as setup asks for them; returns them cleaned.
pub fn check_store_details(name: &str, email: &str) -> Result<(String, String), RuleError> {
    let name = crate::domain::rules::required_text("store_name", name, 100, false)?;
    if email.trim().is_empty() {
        return Err(RuleError::invalid(
            "store_email",
            "is required: the store's new-order notifications go to it",
        ));
    }
    let email = crate::domain::intake::check_email("store_email", email)?;
    Ok((name, email))
}

/// Checks a `key = value` change from the command line.
fn check_setting(key: &str, value: &str) -> Result<String, ServiceError> {
    let known = SETTABLE.contains(&key)
        || (key.starts_with("notify.") && (key.ends_with(".email") || key.ends_with(".sms")));
    if !known {
        return Err(RuleError::invalid(
            "key",
            format!("{key:?} is not a setting; known: {}", SETTABLE.join(", ")),
        )
        .into());
    }
    let value = crate::domain::rules::clean_text("value", value, 500, false)?;
    if key == "smtp.tls" && !["none", "starttls", "tls"].contains(&value.as_str()) {
        return Err(RuleError::invalid("value", "smtp.tls must be none, starttls or tls").into());
    }
    if key == "smtp.port" && value.parse::<u16>().is_err() {
        return Err(RuleError::invalid("value", "smtp.port must be a port number").into());
    }
    if key.starts_with("notify.") && value != "on" && value != "off" {
        return Err(RuleError::invalid("value", "notification switches are on or off").into());
    }
    Ok(value)
}

impl Service {
    /// Every setting, as stored.
    pub async fn settings_snapshot(&self) -> Result<BTreeMap<String, String>, ServiceError> {
        Ok(self.store.settings().await?)
    }

    /// Store settings with their defaults.
    pub async fn settings(&self) -> Result<StoreSettings, ServiceError> {
        Ok(StoreSettings::from_map(&self.settings_snapshot().await?))
    }

    /// The store's name (every page's header: one read, not the whole settings).
    pub async fn store_name(&self) -> Result<String, ServiceError> {
        Ok(self
            .store
            .setting("store.name")
            .await?
            .unwrap_or_else(|| "My Store".to_string()))
    }

    /// One setting as stored.
    pub async fn setting(&self, key: &str) -> Result<Option<String>, ServiceError> {
        Ok(self.store.setting(key).await?)
    }

    /// Changes one setting from the command line, checked against [`SETTABLE`].
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), ServiceError> {
        let value = check_setting(key, value)?;
        Ok(self.store.put_setting(key, &value).await?)
    }

    /// Saves settings a page has already checked field by field.
    pub async fn put_settings(&self, pairs: &[(&str, String)]) -> Result<(), ServiceError> {
        for (k, v) in pairs {
            self.store.put_setting(k, v).await?;
        }
        Ok(())
    }

    /// Whether the store has no e-mail address (its own notifications then have nowhere to go).
    pub async fn store_email_missing(&self) -> Result<bool, ServiceError> {
        Ok(self
            .store
            .setting("store.email")
            .await?
            .is_none_or(|e| e.trim().is_empty()))
    }

    /// Whether an SMTP server and an SMS gateway are configured.
    pub async fn transports_configured(&self) -> Result<(bool, bool), ServiceError> {
        let all = self.settings_snapshot().await?;
        let set = |k: &str| all.get(k).is_some_and(|v| !v.trim().is_empty());
        Ok((set(transport_keys::SMTP_HOST), set(transport_keys::SMS_URL)))
    }

    /// The package presets (Settings > Shipping), or sensible defaults.
    pub async fn package_presets(&self) -> Vec<PackagePreset> {
        match self.store.setting("shipping.presets").await {
            Ok(Some(json)) => serde_json::from_str(&json).unwrap_or_else(|e| {
                log::warn!("the stored package presets do not read ({e}); showing the defaults");
                default_presets()
            }),
            _ => default_presets(),
        }
    }

    /// Saves the package presets.
    pub async fn set_package_presets(&self, presets: &[PackagePreset]) -> Result<(), ServiceError> {
        let json =
            serde_json::to_string(presets).map_err(|e| ServiceError::BadRequest(e.to_string()))?;
        Ok(self.store.put_setting("shipping.presets", &json).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(check_setting("store.name", "Acme").is_ok());
        assert!(check_setting("store.nope", "x").is_err());
        assert!(check_setting("smtp.tls", "maybe").is_err());
        assert!(check_setting("smtp.port", "99999").is_err());
        assert!(check_setting("notify.order_placed.email", "off").is_ok());
        assert!(check_setting("notify.order_placed.email", "later").is_err());
    }

    #[test]
    fn switches_are_on_unless_turned_off() {
        let mut all = BTreeMap::new();
        all.insert("notify.order_placed.sms".to_string(), "off".to_string());
        let s = Switches::from_map(&all);
        assert!(!s.on("order_placed", Channel::Sms));
        assert!(s.on("order_placed", Channel::Email));
    }
}
