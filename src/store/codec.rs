//! The only place bytes become domain types. Every record starts with its schema version;
//! bytes that do not decode are an error, never skipped.

use super::StoreError;
use serde::{de::DeserializeOwned, Serialize};

/// Current record format. Bump it (and add a migration in `decode`) when a stored type changes.
pub const SCHEMA_VERSION: u8 = 1;

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Encodes a record with its schema version.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![SCHEMA_VERSION];
    let body = bincode::serde::encode_to_vec(value, config())
        .map_err(|e| StoreError::Corrupt(format!("cannot encode record: {e}")))?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes a record, checking its schema version. `what` names the record in error messages.
pub fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    let (version, body) = bytes
        .split_first()
        .ok_or_else(|| StoreError::Corrupt(format!("{what}: empty record")))?;
    if *version != SCHEMA_VERSION {
        return Err(StoreError::Corrupt(format!(
            "{what}: record format {version} is not supported by this version of orderdeck (expects {SCHEMA_VERSION})"
        )));
    }
    let (value, used) = bincode::serde::decode_from_slice(body, config())
        .map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))?;
    if used != body.len() {
        return Err(StoreError::Corrupt(format!("{what}: trailing bytes")));
    }
    Ok(value)
}

/// A big-endian u64 value (counters, order numbers).
pub fn decode_u64(what: &str, bytes: &[u8]) -> Result<u64, StoreError> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what}: not an 8-byte number")))?;
    Ok(u64::from_be_bytes(arr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::intake::{NewOrderIds, OrderDraft};
    use crate::domain::{Actor, CustomerId, Order};

    fn sample() -> Order {
        let draft: OrderDraft = crate::sample::sample_order(true);
        let v = draft.validate().unwrap();
        v.build(
            &NewOrderIds {
                order_id: uuid::Uuid::now_v7(),
                number: 1001,
                customer_id: CustomerId(uuid::Uuid::now_v7()),
                item_ids: (0..v.items.len()).map(|_| uuid::Uuid::now_v7()).collect(),
                payment_id: uuid::Uuid::now_v7(),
            },
            "EUR",
            chrono::Utc::now(),
            &Actor::System,
        )
    }

    #[test]
    fn orders_round_trip_through_the_record_format() {
        let o = sample();
        let bytes = encode(&o).unwrap();
        assert_eq!(bytes[0], SCHEMA_VERSION);
        let back: Order = decode("order", &bytes).unwrap();
        assert_eq!(back, o);
    }

    #[test]
    fn damaged_or_foreign_records_are_errors_not_skipped() {
        let bytes = encode(&sample()).unwrap();
        let mut other_version = bytes.clone();
        other_version[0] = SCHEMA_VERSION + 1;
        assert!(matches!(
            decode::<Order>("order", &other_version),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            decode::<Order>("order", &bytes[..bytes.len() / 2]),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            decode::<Order>("order", &[]),
            Err(StoreError::Corrupt(_))
        ));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(
            decode::<Order>("order", &trailing),
            Err(StoreError::Corrupt(_))
        ));
    }
}
