//! The form of a tenant API key, `vcak_<id>_<secret>`: the id (32 hex digits) names the row
//! so authentication reads one row by primary key, the secret (32 random bytes, base64url)
//! is checked against the SHA-256 kept in that row, in constant time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// What every tenant key starts with.
pub const PREFIX: &str = "vcak_";

/// Random bytes in a secret.
const SECRET_BYTES: usize = 32;

/// A new key: the whole key, shown once, and what is stored of it.
pub struct Minted {
    /// `vcak_<id>_<secret>`.
    pub key: String,
    /// SHA-256 of the secret part.
    pub secret_sha256: [u8; 32],
}

/// Makes a key for the row `id` with a fresh secret from the OS-seeded generator.
pub fn mint(id: Uuid) -> Minted {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    Minted {
        key: format!("{PREFIX}{}_{secret}", id.simple()),
        secret_sha256: hash(&secret),
    }
}

/// A presented key split into its row id and secret; `None` when it is not a tenant key
/// in this exact form.
pub fn parse(presented: &str) -> Option<(Uuid, &str)> {
    let rest = presented.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    // Only the form `mint` writes: 32 lower-case hex digits, so one key has one spelling.
    if id.len() != 32 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    if secret.is_empty() {
        return None;
    }
    Some((Uuid::parse_str(id).ok()?, secret))
}

/// SHA-256 of a secret.
pub fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether `secret` is the one whose hash is `stored`, in constant time.
pub fn secret_matches(secret: &str, stored: &[u8]) -> bool {
    stored.len() == 32 && bool::from(hash(secret).as_slice().ct_eq(stored))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_minted_key_parses_back_to_its_id_and_matches_its_hash() {
        let id = Uuid::new_v4();
        let m = mint(id);
        assert!(m.key.starts_with(&format!("vcak_{}_", id.simple())));
        let (parsed, secret) = parse(&m.key).unwrap();
        assert_eq!(parsed, id);
        assert_eq!(secret.len(), 43);
        assert!(secret_matches(secret, &m.secret_sha256));
        assert!(!secret_matches(&format!("{secret}x"), &m.secret_sha256));
        assert!(!secret_matches(secret, &m.secret_sha256[..31]));
        assert_ne!(mint(id).key, m.key, "every key has its own secret");
    }

    #[test]
    fn only_the_exact_form_parses() {
        let id = Uuid::new_v4();
        let simple = id.simple().to_string();
        for bad in [
            format!("vcak_{simple}_"),
            format!("vcak_{simple}"),
            format!("vcak_{}_abc", simple.to_uppercase()),
            format!("vcak_{}_abc", id.hyphenated()),
            format!("VCAK_{simple}_abc"),
            format!("vcak_{}_abc", &simple[..31]),
            "test-admin-token".to_string(),
        ] {
            assert!(parse(&bad).is_none(), "{bad}");
        }
    }
}
