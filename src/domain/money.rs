//! Money: exact decimal amounts, parsed strictly from the decimal strings the API and forms carry.

use rust_decimal::Decimal;
use std::str::FromStr;

/// The largest amount orderdeck accepts anywhere (a sanity bound against absurd input).
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// Most decimal places an amount may carry (minor units of every common currency fit).
pub const MAX_SCALE: u32 = 2;

/// Why a string is not an acceptable amount of money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("is not a decimal number like \"19.99\"")]
    NotANumber,
    #[error("has more than {MAX_SCALE} decimal places")]
    TooPrecise,
    #[error("must not be negative")]
    Negative,
    #[error("is larger than the maximum of {MAX_AMOUNT}")]
    TooLarge,
}

/// Parses a non-negative amount with at most two decimal places.
pub fn parse_amount(s: &str) -> Result<Decimal, MoneyError> {
    let t = s.trim();
    let valid_chars = !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '-' || c == '+')
        && t.chars().filter(|c| *c == '.').count() <= 1;
    if !valid_chars {
        return Err(MoneyError::NotANumber);
    }
    let d = Decimal::from_str(t).map_err(|_| MoneyError::NotANumber)?;
    check_amount(d)
}

/// Checks an already-parsed amount against the same rules as [`parse_amount`].
pub fn check_amount(d: Decimal) -> Result<Decimal, MoneyError> {
    if d.is_sign_negative() && !d.is_zero() {
        return Err(MoneyError::Negative);
    }
    if d.normalize().scale() > MAX_SCALE {
        return Err(MoneyError::TooPrecise);
    }
    if d > MAX_AMOUNT {
        return Err(MoneyError::TooLarge);
    }
    Ok(round(d.abs()))
}

/// Normalises an amount to two decimal places for display and storage.
pub fn round(d: Decimal) -> Decimal {
    let mut r = d.round_dp(MAX_SCALE);
    r.rescale(MAX_SCALE);
    r
}

/// Formats an amount as the API's decimal string (always two decimals: "19.90").
pub fn fmt(d: Decimal) -> String {
    round(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_amounts_to_two_decimals() {
        assert_eq!(fmt(parse_amount("19.9").unwrap()), "19.90");
        assert_eq!(fmt(parse_amount("0").unwrap()), "0.00");
        assert_eq!(fmt(parse_amount(" 12 ").unwrap()), "12.00");
    }

    #[test]
    fn refuses_bad_amounts() {
        assert_eq!(parse_amount("abc"), Err(MoneyError::NotANumber));
        assert_eq!(parse_amount("1e5"), Err(MoneyError::NotANumber));
        assert_eq!(parse_amount(""), Err(MoneyError::NotANumber));
        assert_eq!(parse_amount("1.2.3"), Err(MoneyError::NotANumber));
        assert_eq!(parse_amount("-1"), Err(MoneyError::Negative));
        assert_eq!(parse_amount("1.234"), Err(MoneyError::TooPrecise));
        assert_eq!(parse_amount("0.0000000001"), Err(MoneyError::TooPrecise));
        assert_eq!(parse_amount("99999999999999"), Err(MoneyError::TooLarge));
        assert_eq!(
            parse_amount("99999999999999999999999999999999999"),
            Err(MoneyError::NotANumber)
        );
    }

    #[test]
    fn trailing_zeros_beyond_two_places_are_fine() {
        assert_eq!(fmt(parse_amount("5.5000").unwrap()), "5.50");
    }
}
