//! Decimals as the JSON API reads them: a JSON string (`"19.99"`) or a JSON number (`19.99`).
//! A number is read from its exact text, never through a float, so `0.1` is 0.1 and
//! `19.999999999999999999` keeps every digit (and is then refused for its precision, not
//! silently rounded). Use with `#[serde(deserialize_with = "…")]` on fields read from JSON only.
//!
//! The functions hand back the decimal's text; the rules that read it (money: two places, not
//! negative; dimensions: positive) stay where they are, so a bad value is refused there, on its
//! field (422). A number in exponent form (`1e2`) is written out (`100`); one out of a decimal's
//! range (`1e400`) fails here with [`OUT_OF_RANGE`] in the message.

use rust_decimal::Decimal;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// Part of the message of a number too large or too small for a decimal; the API answers 422.
pub const OUT_OF_RANGE: &str = "is out of range for a decimal number";

/// The decimal text of one raw JSON value: `None` for `null`; a string's contents; a number's
/// own text (exponent forms written out).
pub fn text_of(raw: &str) -> Result<Option<String>, String> {
    let raw = raw.trim();
    match raw.as_bytes().first() {
        None => Err("a decimal number is required".into()),
        Some(b'n') if raw == "null" => Ok(None),
        Some(b'"') => serde_json::from_str::<String>(raw)
            .map(Some)
            .map_err(|e| e.to_string()),
        Some(c) if c.is_ascii_digit() || *c == b'-' => {
            if raw.contains(['e', 'E']) {
                let d =
                    Decimal::from_scientific(raw).map_err(|_| format!("{OUT_OF_RANGE} ({raw})"))?;
                Ok(Some(d.normalize().to_string()))
            } else {
                Ok(Some(raw.to_string()))
            }
        }
        Some(_) => Err(format!(
            "expected a decimal number like 19.99 or \"19.99\", found {raw}"
        )),
    }
}

/// A required decimal field, as text.
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    opt_text(d)?.ok_or_else(|| D::Error::custom("a decimal number is required, found null"))
}

/// An optional decimal field (`null` or absent is `None`; give the field `#[serde(default)]`).
pub fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let raw = Box::<RawValue>::deserialize(d)?;
    text_of(raw.get()).map_err(D::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(deserialize_with = "text")]
        price: String,
        #[serde(default, deserialize_with = "opt_text")]
        tax: Option<String>,
    }

    fn read(json: &str) -> Result<Body, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn numbers_keep_their_exact_text() {
        let b = read(r#"{"price": 0.1, "tax": 19.999999999999999999}"#).unwrap();
        assert_eq!(b.price, "0.1");
        assert_eq!(b.tax.as_deref(), Some("19.999999999999999999"));
        assert_eq!(read(r#"{"price": 30}"#).unwrap().price, "30");
        assert_eq!(read(r#"{"price": -2.50}"#).unwrap().price, "-2.50");
        assert_eq!(read(r#"{"price": 1.5e2}"#).unwrap().price, "150");
        assert_eq!(read(r#"{"price": 25E-1}"#).unwrap().price, "2.5");
    }

    #[test]
    fn strings_and_nulls_read_as_before() {
        let b = read(r#"{"price": " 19.99 ", "tax": null}"#).unwrap();
        assert_eq!(b.price, " 19.99 ");
        assert_eq!(b.tax, None);
        assert_eq!(read(r#"{"price": "NaN"}"#).unwrap().price, "NaN");
        assert_eq!(read(r#"{"price": "1\u0030"}"#).unwrap().price, "10");
        assert_eq!(read(r#"{"price": "1"}"#).unwrap().tax, None);
    }

    #[test]
    fn other_values_are_refused_with_a_reason() {
        let e = read(r#"{"price": 1e400}"#).unwrap_err();
        assert!(e.contains(OUT_OF_RANGE), "{e}");
        let e = read(r#"{"price": true}"#).unwrap_err();
        assert!(e.contains("expected a decimal number"), "{e}");
        assert!(read(r#"{"price": [1]}"#).is_err());
        assert!(read(r#"{"price": null}"#).unwrap_err().contains("required"));
        assert!(read(r#"{"price": NaN}"#).is_err());
    }
}
