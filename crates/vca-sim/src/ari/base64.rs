//! Standard base64 decoding for the HTTP Basic `Authorization` header.

/// Decodes standard base64 (padding optional); `None` on any invalid character.
pub(crate) fn decode(input: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in input.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn decodes_basic_credentials() {
        assert_eq!(
            super::decode("dmNhOnZjYS1zZWNyZXQ=").unwrap(),
            b"vca:vca-secret"
        );
        assert_eq!(super::decode("YQ==").unwrap(), b"a");
        assert!(super::decode("a b").is_none());
    }
}
