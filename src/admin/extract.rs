//! Extractors whose rejections are [`ApiError`]s, so a bad body or id gets our error
//! shape: a JSON body parsed with serde (400 with the parser's reason, 413 over the
//! limit), query parameters (400 with the reason; axum's own rejection is plain text,
//! found by `scripts/api-fuzz` with `?limit=1&limit=2`) and uuid path ids (an id that is not a uuid is simply not found).
//! A whole-valued number written with a fraction (`1867.0`) is an integer, as JSON Schema
//! and the OpenAPI document count it (found by `scripts/api-fuzz`).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::error::ApiError;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON request body. Content type is not required; the bytes must be JSON.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest("could not read the request body".into())
            }
        })?;
        let invalid =
            |e: serde_json::Error| ApiError::BadRequest(format!("invalid JSON body: {e}"));
        let mut value: serde_json::Value = serde_json::from_slice(&bytes).map_err(invalid)?;
        if holds_nul(&bytes) {
            return Err(ApiError::BadRequest(
                "invalid JSON body: text may not contain the NUL character (\\u0000)".into(),
            ));
        }
        whole_numbers_as_integers(&mut value);
        T::deserialize(value).map(ApiJson).map_err(invalid)
    }
}

/// Whether a JSON text that parsed holds a NUL character in a string or key: PostgreSQL
/// cannot store one in text or jsonb, so it would fail as an internal error. Only a body
/// with the escape `\u0000` is looked into (NUL cannot appear unescaped in valid JSON).
fn holds_nul(bytes: &[u8]) -> bool {
    fn any_nul(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().any(any_nul),
            serde_json::Value::Object(map) => {
                map.iter().any(|(k, v)| k.contains('\0') || any_nul(v))
            }
            _ => false,
        }
    }
    bytes.windows(6).any(|w| w == b"\\u0000")
        && serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|v| any_nul(&v))
}

/// Rewrites every number written with a fraction that is whole and exactly representable
/// (`1867.0`, `-3e2`) as the integer it is, so an integer field takes it; fractional
/// numbers stay as they are and a float field reads an integer just as well.
fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    /// Integers up to 2^53 are exact in an `f64`.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match value {
        serde_json::Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() <= EXACT
            {
                *value = serde_json::Value::from(f as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        serde_json::Value::Object(map) => map.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

/// Query parameters parsed with serde; a rejection is a 400 in our error shape.
pub struct ApiQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::BadRequest(format!("invalid query: {}", e.body_text())))
    }
}

/// Parses a path id; anything that is not a uuid cannot name a resource.
pub fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::NotFound("not found"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing (`scripts/fuzz admin`): `{"name": "\u0000"}` reached PostgreSQL,
    /// which refuses NUL in text, and came back as a 500.
    #[test]
    fn nul_in_any_string_or_key_is_found() {
        assert!(holds_nul(br#"{"name":"a\u0000b"}"#));
        assert!(holds_nul(br#"{"p":{"q":["x","\u0000"]}}"#));
        assert!(holds_nul(br#"{"\u0000":1}"#));
        // An escaped backslash followed by "u0000" is six ordinary characters.
        assert!(!holds_nul(br#"{"name":"\\u0000"}"#));
        assert!(!holds_nul(br#"{"name":"plain"}"#));
    }

    /// Found by `scripts/api-fuzz`: `{"max_concurrent_calls": 1867.0}` was refused with
    /// 400, though JSON Schema (and so the document) counts 1867.0 as an integer.
    #[test]
    fn whole_numbers_with_a_fraction_are_integers_and_fractions_stay() {
        let mut v = serde_json::json!({"a": 1867.0, "b": [-3e2, 2.5], "c": {"d": 1e300}, "e": 7});
        whole_numbers_as_integers(&mut v);
        assert_eq!(v["a"], serde_json::json!(1867));
        assert!(v["a"].is_i64());
        assert_eq!(v["b"], serde_json::json!([-300, 2.5]));
        assert!(v["c"]["d"].is_f64(), "too large to be exact: left alone");
        assert_eq!(v["e"], serde_json::json!(7));
        #[derive(serde::Deserialize)]
        struct Limits {
            max: i32,
            ratio: f64,
        }
        let mut v = serde_json::json!({"max": 12.0, "ratio": 3.0});
        whole_numbers_as_integers(&mut v);
        let limits: Limits = serde_json::from_value(v).unwrap();
        assert_eq!((limits.max, limits.ratio), (12, 3.0));
        let mut v = serde_json::json!({"max": 12.5, "ratio": 3.0});
        whole_numbers_as_integers(&mut v);
        assert!(serde_json::from_value::<Limits>(v).is_err());
    }
}
