//! The `X-VCA-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`,
//! keyed with the tool's (or webhook's) secret.
//!
//! [`sign`] makes the header value; [`verify`] is what a receiver does with it: parse `t` and
//! every `v1` (several are accepted, so a receiver can roll its secret over), reject a `t`
//! further than `tolerance` from its own clock in either direction (a replayed request), and
//! compare the MAC in constant time. Unknown `key=value` items are ignored, so a later scheme
//! (`v2=`) can be added beside `v1` without breaking receivers.
//!
//! ```
//! use std::time::Duration;
//! use vca_bridge::tools::signature::{sign, verify_at};
//!
//! let header = sign(b"s3cret", 1_767_225_600, br#"{"tool":"book_table"}"#);
//! assert!(header.starts_with("t=1767225600,v1="));
//! assert!(verify_at(b"s3cret", &header, br#"{"tool":"book_table"}"#, Duration::from_secs(300), 1_767_225_660));
//! assert!(!verify_at(b"s3cret", &header, br#"{"tool":"cancel"}"#, Duration::from_secs(300), 1_767_225_660));
//! ```
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The request header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-VCA-Signature";

type HmacSha256 = Hmac<Sha256>;

/// The MAC state after `"<t>."` and `body`. `None` never happens (HMAC takes keys of any
/// length), but is handled rather than unwrapped.
fn mac_of(secret: &[u8], t: u64, body: &[u8]) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(secret).ok()?;
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

/// The `X-VCA-Signature` value for `body` sent at `t` (unix seconds).
#[must_use]
pub fn sign(secret: &[u8], t: u64, body: &[u8]) -> String {
    let v1 = mac_of(secret, t, body)
        .map(|mac| hex::encode(mac.finalize().into_bytes()))
        .unwrap_or_default();
    format!("t={t},v1={v1}")
}

/// Seconds since the Unix epoch now (0 if the system clock is before 1970).
#[must_use]
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether `header` is a valid signature of `body` by `secret`, made within `tolerance` of
/// this machine's clock.
#[must_use]
pub fn verify(secret: &[u8], header: &str, body: &[u8], tolerance: Duration) -> bool {
    verify_at(secret, header, body, tolerance, unix_now())
}

/// [`verify`] against a given `now` (unix seconds), for tests and for receivers with their
/// own clock.
#[must_use]
pub fn verify_at(secret: &[u8], header: &str, body: &[u8], tolerance: Duration, now: u64) -> bool {
    let mut t = None;
    let mut candidates = Vec::new();
    for item in header.split(',') {
        let Some((key, value)) = item.trim().split_once('=') else {
            return false;
        };
        match key {
            "t" => {
                if t.is_some() {
                    return false;
                }
                match value.parse::<u64>() {
                    Ok(value) => t = Some(value),
                    Err(_) => return false,
                }
            }
            "v1" => match hex::decode(value) {
                Ok(bytes) => candidates.push(bytes),
                Err(_) => return false,
            },
            _ => {}
        }
    }
    let Some(t) = t else {
        return false;
    };
    if now.abs_diff(t) > tolerance.as_secs() {
        return false;
    }
    let Some(mac) = mac_of(secret, t, body) else {
        return false;
    };
    candidates
        .iter()
        .any(|candidate| mac.clone().verify_slice(candidate).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE_MINUTES: Duration = Duration::from_secs(300);

    #[test]
    fn matches_an_independent_hmac() {
        // python3: hmac.new(b"whsec_test", b"1700000000.{}", hashlib.sha256).hexdigest()
        assert_eq!(
            sign(b"whsec_test", 1_700_000_000, b"{}"),
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
    }

    #[test]
    fn verifies_its_own_signature_within_tolerance() {
        let header = sign(b"k", 1000, b"body");
        assert!(verify_at(b"k", &header, b"body", FIVE_MINUTES, 1000));
        assert!(verify_at(b"k", &header, b"body", FIVE_MINUTES, 1300));
        assert!(verify_at(b"k", &header, b"body", FIVE_MINUTES, 700));
        assert!(!verify_at(b"k", &header, b"body", FIVE_MINUTES, 1301));
        assert!(!verify_at(b"k", &header, b"body", FIVE_MINUTES, 699));
    }

    #[test]
    fn rejects_other_secrets_bodies_and_times() {
        let header = sign(b"k", 1000, b"body");
        assert!(!verify_at(b"other", &header, b"body", FIVE_MINUTES, 1000));
        assert!(!verify_at(b"k", &header, b"body ", FIVE_MINUTES, 1000));
        let moved = header.replace("t=1000", "t=1001");
        assert!(!verify_at(b"k", &moved, b"body", FIVE_MINUTES, 1000));
    }

    #[test]
    fn rejects_malformed_headers() {
        let good = sign(b"k", 1000, b"body");
        let v1 = good.split_once(",v1=").map(|(_, v)| v).unwrap_or_default();
        for header in [
            String::new(),
            "t=1000".to_owned(),
            format!("v1={v1}"),
            format!("t=abc,v1={v1}"),
            format!("t=1000,v1=zz{v1}"),
            format!("t=1000,t=1000,v1={v1}"),
            format!("t=1000;v1={v1}"),
            format!("t=1000,v1={}", &v1[..10]),
        ] {
            assert!(
                !verify_at(b"k", &header, b"body", FIVE_MINUTES, 1000),
                "{header}"
            );
        }
    }

    #[test]
    fn any_v1_may_match_and_unknown_items_are_ignored() {
        let good = sign(b"new", 1000, b"body");
        let old = sign(b"old", 1000, b"body");
        let old_v1 = old.split_once(",v1=").map(|(_, v)| v).unwrap_or_default();
        let header = format!("{good},v1={old_v1},v2=whatever");
        assert!(verify_at(b"new", &header, b"body", FIVE_MINUTES, 1000));
        assert!(verify_at(b"old", &header, b"body", FIVE_MINUTES, 1000));
        assert!(!verify_at(b"neither", &header, b"body", FIVE_MINUTES, 1000));
    }
}
