//! Percent-encoding of ARI path segments and query strings.
//!
//! Asterisk decodes `+` in a query as a space (FINDINGS.md 2: `callerId=+1555…` arrived as
//! `1555…`), so everything except RFC 3986 unreserved characters is percent-encoded:
//! `+` → `%2B`, `:` → `%3A`, `,` → `%2C`, `/` → `%2F`, `@` → `%40`, space → `%20`.
use std::fmt::Write as _;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Every byte but the RFC 3986 unreserved set (`A-Z a-z 0-9 - . _ ~`) is encoded.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one path segment or query component.
#[must_use]
pub fn encode_component(raw: &str) -> String {
    utf8_percent_encode(raw, STRICT).to_string()
}

/// Builds a query string (`?a=1&b=2`, or empty when there are no pairs) with every name and
/// value percent-encoded.
#[must_use]
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (index, (name, value)) in pairs.iter().enumerate() {
        out.push(if index == 0 { '?' } else { '&' });
        // Writing into a String cannot fail.
        let _ = write!(
            out,
            "{}={}",
            utf8_percent_encode(name, STRICT),
            utf8_percent_encode(value, STRICT)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_colon_comma_slash_at_are_encoded() {
        assert_eq!(encode_component("+15551234567"), "%2B15551234567");
        assert_eq!(encode_component("127.0.0.1:47104"), "127.0.0.1%3A47104");
        assert_eq!(encode_component("a.0,b.2"), "a.0%2Cb.2");
        assert_eq!(
            encode_component("Local/s@caller-sim/n"),
            "Local%2Fs%40caller-sim%2Fn"
        );
        assert_eq!(encode_component("a b"), "a%20b");
    }

    #[test]
    fn query_string_joins_pairs() {
        assert_eq!(query_string(&[]), "");
        assert_eq!(
            query_string(&[("type", "mixing"), ("name", "vca-1.0")]),
            "?type=mixing&name=vca-1.0"
        );
    }
}
