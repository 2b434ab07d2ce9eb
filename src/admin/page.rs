//! Cursor pagination shared by the list routes that page, newest first: the page size
//! (`limit`, 1-200, default 50) and the cursor, `<microseconds>_<id>` of the last row shown.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::ApiError;

/// The page size of `limit`: 1-200, default 50.
pub fn limit(raw: Option<&str>) -> Result<i64, ApiError> {
    match raw {
        None => Ok(50),
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if (1..=200).contains(&n) => Ok(n),
            _ => Err(ApiError::BadRequest(
                "limit must be a number from 1 to 200".into(),
            )),
        },
    }
}

/// The cursor after the row with this time and id.
pub fn encode_cursor(at: DateTime<Utc>, id: Uuid) -> String {
    format!("{}_{}", at.timestamp_micros(), id)
}

/// The time and id of a cursor [`encode_cursor`] made.
pub fn decode_cursor(raw: &str) -> Result<(DateTime<Utc>, Uuid), ApiError> {
    let bad = || ApiError::BadRequest("cursor is not one this API returned".into());
    let (micros, id) = raw.split_once('_').ok_or_else(bad)?;
    // Only the form `encode_cursor` writes (and the OpenAPI document states): at most 16
    // digits after an optional `-`, and a hyphenated lower-case id.
    let digits = micros.strip_prefix('-').unwrap_or(micros);
    let canonical_id = id.len() == 36 && !id.bytes().any(|b| b.is_ascii_uppercase());
    if digits.is_empty()
        || digits.len() > 16
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || !canonical_id
    {
        return Err(bad());
    }
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    let at = DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
    Ok((at, Uuid::parse_str(id).map_err(|_| bad())?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cursors_round_trip_and_limits_are_bounded() {
        let at = DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        let id = Uuid::new_v4();
        assert_eq!(decode_cursor(&encode_cursor(at, id)).unwrap(), (at, id));
        let upper = id.to_string().to_uppercase();
        let simple = id.simple().to_string();
        for bad in [
            "",
            "x_y",
            "12",
            &format!("x_{id}"),
            "12_not-a-uuid",
            &format!("+12_{id}"),
            &format!("12345678901234567_{id}"),
            &format!("12_{upper}"),
            &format!("12_{simple}"),
        ] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
        assert_eq!(limit(None).unwrap(), 50);
        assert_eq!(limit(Some("200")).unwrap(), 200);
        for bad in ["0", "201", "-1", "ten"] {
            assert!(limit(Some(bad)).is_err(), "{bad}");
        }
    }
}
